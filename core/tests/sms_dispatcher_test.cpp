#include "app/sms_dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "log_capture.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;

// A provider that blocks every send until released, and counts calls and threads.
class GatedProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage& message, std::chrono::steady_clock::time_point) override {
        std::unique_lock<std::mutex> lock(mutex_);
        ++started_;
        started_cv_.notify_all();
        open_cv_.wait(lock, [this] { return open_; });
        return {sdk::SendStatus::sent, "", "id-" + message.to};
    }
    sdk::HealthReport health() override { return {}; }
    void open() {
        std::lock_guard<std::mutex> lock(mutex_);
        open_ = true;
        open_cv_.notify_all();
    }
    void wait_started(int n) {
        std::unique_lock<std::mutex> lock(mutex_);
        started_cv_.wait(lock, [&] { return started_ >= n; });
    }

private:
    std::mutex mutex_;
    std::condition_variable open_cv_, started_cv_;
    bool open_ = false;
    int started_ = 0;
};

sdk::SmsMessage message(const std::string& to) { return {to, "text", "123456", "r"}; }

TEST(SmsDispatcher, RunsSendsOnWorkersAndReportsResults) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 2, 8, 5000ms);
    std::promise<sdk::SendResult> done;
    const auto caller = std::this_thread::get_id();
    std::thread::id worker;
    ASSERT_TRUE(dispatcher.submit(message("+1"), "1", [&](const SendOutcome& o) {
        worker = std::this_thread::get_id();
        done.set_value(o.result);
    }));
    provider->open();
    const auto result = done.get_future().get();
    EXPECT_EQ(result.message_id, "id-+1");
    EXPECT_NE(worker, caller);
}

// What providers bill: the send's segments and encoding in sms.sent, and per country in
// testino_sms_segments_total.
TEST(SmsDispatcher, LogsAndCountsTheSegmentsOfASentText) {
    auto provider = std::make_shared<GatedProvider>();
    provider->open();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 1, 8, 5000ms);
    const LogCapture capture;
    std::promise<void> done;
    // 71 UCS-2 units: two segments.
    std::string text = "123456 आपका कोड";
    while (text.size() < 71 * 3) text += "है";
    ASSERT_TRUE(dispatcher.submit({"+998901234567", text, "123456", "r-seg"}, "998",
                                  [&](const SendOutcome&) { done.set_value(); }));
    done.get_future().get();
    dispatcher.stop();
    std::string sent;
    for (const std::string& line : capture.lines()) {
        if (line.find("\"sms.sent\"") != std::string::npos) sent = line;
    }
    EXPECT_NE(sent.find("\"segments\":2"), std::string::npos) << sent;
    EXPECT_NE(sent.find("\"encoding\":\"ucs2\""), std::string::npos) << sent;
    EXPECT_NE(metrics::global().exposition().find("testino_sms_segments_total{country=\"998\"} 2\n"),
              std::string::npos);
}

TEST(SmsDispatcher, FullQueueRefusesWithoutCallingBack) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 1, 2, 5000ms);
    std::atomic<int> completions{0};
    auto count = [&](const SendOutcome&) { ++completions; };
    ASSERT_TRUE(dispatcher.submit(message("+1"), "1", count));
    provider->wait_started(1);  // the worker holds one; two more fill the queue
    ASSERT_TRUE(dispatcher.submit(message("+2"), "1", count));
    ASSERT_TRUE(dispatcher.submit(message("+3"), "1", count));
    EXPECT_FALSE(dispatcher.submit(message("+4"), "1", count));
    provider->open();
    dispatcher.stop();
    EXPECT_EQ(completions.load(), 3);
}

TEST(SmsDispatcher, SendsThatWaitedPastTheDeadlineAreNotSent) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 1, 4, 100ms);
    std::promise<sdk::SendResult> late;
    ASSERT_TRUE(dispatcher.submit(message("+1"), "1", [](const SendOutcome&) {}));
    provider->wait_started(1);
    ASSERT_TRUE(
        dispatcher.submit(message("+2"), "1", [&](const SendOutcome& o) { late.set_value(o.result); }));
    std::this_thread::sleep_for(200ms);
    provider->open();
    const auto result = late.get_future().get();
    EXPECT_EQ(result.status, sdk::SendStatus::unavailable);
    EXPECT_NE(result.detail.find("timed out"), std::string::npos);
}

TEST(SmsDispatcher, StopAnswersQueuedSendsAndRefusesNewOnes) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 1, 4, 5000ms);
    std::promise<sdk::SendResult> queued;
    ASSERT_TRUE(dispatcher.submit(message("+1"), "1", [](const SendOutcome&) {}));
    provider->wait_started(1);
    ASSERT_TRUE(
        dispatcher.submit(message("+2"), "1", [&](const SendOutcome& o) { queued.set_value(o.result); }));
    std::thread stopper([&] { dispatcher.stop(); });
    const auto result = queued.get_future().get();  // answered before the running one ends
    EXPECT_EQ(result.status, sdk::SendStatus::unavailable);
    provider->open();
    stopper.join();
    EXPECT_FALSE(dispatcher.submit(message("+3"), "1", [](const SendOutcome&) {}));
}

}  // namespace
}  // namespace testino

namespace testino {
namespace {

class ThrowingProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage&, std::chrono::steady_clock::time_point) override {
        throw std::runtime_error("boom");
    }
    sdk::HealthReport health() override { return {}; }
};

// It may have thrown after its request went out: uncertain, so not tried elsewhere.
TEST(SmsDispatcher, AProviderThatThrowsIsReportedUncertainNotFatal) {
    SmsDispatcher dispatcher(SmsRouting::single(std::make_shared<ThrowingProvider>(), "throwing"), 1, 4,
                             std::chrono::milliseconds(5000));
    std::promise<sdk::SendResult> done;
    ASSERT_TRUE(dispatcher.submit({"+1", "t", "1", "r"}, "1",
                                  [&](const SendOutcome& o) { done.set_value(o.result); }));
    const auto result = done.get_future().get();
    EXPECT_EQ(result.status, sdk::SendStatus::uncertain);
    EXPECT_NE(result.detail.find("boom"), std::string::npos);
}

}  // namespace
}  // namespace testino

namespace testino {
namespace {

class NonBlockingProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage&, std::chrono::steady_clock::time_point) override {
        thread = std::this_thread::get_id();
        return {sdk::SendStatus::sent, "", "inline"};
    }
    sdk::HealthReport health() override { return {}; }
    bool may_block() const override { return false; }
    std::thread::id thread;
};

TEST(SmsDispatcher, ANonBlockingProviderIsCalledOnTheSubmittingThread) {
    auto provider = std::make_shared<NonBlockingProvider>();
    SmsDispatcher dispatcher(SmsRouting::single(provider, "gated"), 2, 1, std::chrono::milliseconds(5000));
    int completions = 0;
    for (int i = 0; i < 3; ++i) {  // more than the queue holds: nothing is queued
        ASSERT_TRUE(dispatcher.submit({"+1", "t", "1", "r"}, "1", [&](const SendOutcome& o) {
            EXPECT_EQ(o.result.message_id, "inline");
            ++completions;
        }));
    }
    EXPECT_EQ(completions, 3) << "each completion ran before submit returned";
    EXPECT_EQ(provider->thread, std::this_thread::get_id());
    dispatcher.stop();
    EXPECT_FALSE(dispatcher.submit({"+1", "t", "1", "r"}, "1", [](const SendOutcome&) {}));
}

}  // namespace
}  // namespace testino

// Routing and failover.
namespace testino {
namespace {

using namespace std::chrono_literals;

// Answers every send with a fixed status, and records the calls and their deadlines.
class ScriptedProvider final : public sdk::SmsProvider {
public:
    explicit ScriptedProvider(sdk::SendStatus answer, bool blocking = true)
        : answer_(answer), blocking_(blocking) {}
    sdk::SendResult send(const sdk::SmsMessage& message,
                         std::chrono::steady_clock::time_point deadline) override {
        std::lock_guard<std::mutex> lock(mutex_);
        calls.push_back(message.to);
        deadlines.push_back(deadline);
        call_channels.push_back(message.channel);
        if (answer_ == sdk::SendStatus::sent) return {answer_, "", "msg-" + message.to};
        return {answer_, "scripted failure", ""};
    }
    sdk::HealthReport health() override { return {}; }
    bool may_block() const override { return blocking_; }
    std::vector<sdk::Channel> channels() const override { return offered; }

    std::size_t call_count() {
        std::lock_guard<std::mutex> lock(mutex_);
        return calls.size();
    }
    std::vector<std::string> calls;
    std::vector<std::chrono::steady_clock::time_point> deadlines;
    std::vector<sdk::Channel> call_channels;
    std::vector<sdk::Channel> offered{sdk::Channel::sms};  // set before the dispatcher reads it

private:
    const sdk::SendStatus answer_;
    const bool blocking_;
    std::mutex mutex_;
};

SendOutcome send_and_wait(SmsDispatcher& dispatcher, const std::string& to, const std::string& code) {
    std::promise<SendOutcome> done;
    EXPECT_TRUE(dispatcher.submit({to, "t", "123456", "req"}, code,
                                  [&](const SendOutcome& o) { done.set_value(o); }));
    return done.get_future().get();
}

SmsRouting two(std::shared_ptr<sdk::SmsProvider> first, std::shared_ptr<sdk::SmsProvider> second) {
    SmsRouting routing;
    routing.channels = {{"first", std::move(first)}, {"second", std::move(second)}};
    routing.default_route = {0, 1};
    return routing;
}

struct FailoverCase {
    sdk::SendStatus first_answer;
    bool fails_over;
};

class SmsFailover : public ::testing::TestWithParam<FailoverCase> {};

TEST_P(SmsFailover, OnlyTheOperatorsFaultsGoOnToTheNextProvider) {
    auto first = std::make_shared<ScriptedProvider>(GetParam().first_answer);
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher dispatcher(two(first, second), 2, 8, 5000ms);
    const std::uint64_t failovers_before = metrics::global().sms_failovers("first");
    const SendOutcome outcome = send_and_wait(dispatcher, "+12025550100", "1");
    EXPECT_EQ(first->call_count(), 1u);
    if (GetParam().fails_over) {
        EXPECT_EQ(second->call_count(), 1u);
        EXPECT_EQ(outcome.result.status, sdk::SendStatus::sent);
        EXPECT_EQ(outcome.result.message_id, "msg-+12025550100");
        EXPECT_EQ(outcome.provider, "second");
        EXPECT_EQ(outcome.attempts, 2);
        EXPECT_EQ(metrics::global().sms_failovers("first"), failovers_before + 1);
    } else {
        EXPECT_EQ(second->call_count(), 0u) << "a caller's fault must not be retried elsewhere";
        EXPECT_EQ(outcome.result.status, GetParam().first_answer);
        EXPECT_EQ(outcome.provider, "first");
        EXPECT_EQ(outcome.attempts, 1);
        EXPECT_EQ(metrics::global().sms_failovers("first"), failovers_before);
    }
}

INSTANTIATE_TEST_SUITE_P(Answers, SmsFailover,
                         ::testing::Values(FailoverCase{sdk::SendStatus::unavailable, true},
                                           FailoverCase{sdk::SendStatus::misconfigured, true},
                                           FailoverCase{sdk::SendStatus::invalid_recipient, false},
                                           FailoverCase{sdk::SendStatus::uncertain, false},
                                           FailoverCase{sdk::SendStatus::sent, false}));

// Answers `unavailable`, but only after its deadline has passed (as a provider that does not
// know the new rule would after a timeout).
class OverrunningProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage&, std::chrono::steady_clock::time_point deadline) override {
        std::this_thread::sleep_until(deadline + 20ms);
        return {sdk::SendStatus::unavailable, "timed out", ""};
    }
    sdk::HealthReport health() override { return {}; }
};

TEST(SmsFailover, AProviderStillRunningAtItsDeadlineIsUncertainAndNotTriedElsewhere) {
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher dispatcher(two(std::make_shared<OverrunningProvider>(), second), 1, 8, 50ms);
    const std::uint64_t failovers_before = metrics::global().sms_failovers("first");
    const SendOutcome outcome = send_and_wait(dispatcher, "+12025550105", "1");
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::uncertain);
    EXPECT_NE(outcome.result.detail.find("still running at its deadline"), std::string::npos)
        << outcome.result.detail;
    EXPECT_EQ(outcome.provider, "first");
    EXPECT_EQ(second->call_count(), 0u) << "the first SMS may be on its way";
    EXPECT_EQ(metrics::global().sms_failovers("first"), failovers_before);
}

TEST(SmsFailover, WhenEveryProviderFailsTheLastAnswerIsTheOutcome) {
    auto first = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable);
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::misconfigured);
    SmsDispatcher dispatcher(two(first, second), 1, 8, 5000ms);
    const SendOutcome outcome = send_and_wait(dispatcher, "+12025550101", "1");
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::misconfigured);
    EXPECT_EQ(outcome.provider, "second");
    EXPECT_EQ(outcome.attempts, 2);
}

TEST(SmsFailover, EachAttemptGetsItsOwnTimeout) {
    auto first = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable);
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher dispatcher(two(first, second), 1, 8, 5000ms);
    const auto before = std::chrono::steady_clock::now();
    send_and_wait(dispatcher, "+12025550102", "1");
    ASSERT_EQ(first->deadlines.size(), 1u);
    ASSERT_EQ(second->deadlines.size(), 1u);
    EXPECT_LE(first->deadlines[0], before + 5000ms + 1s);
    EXPECT_GE(second->deadlines[0], first->deadlines[0]) << "the second attempt starts a new timeout";
    EXPECT_GE(second->deadlines[0], before + 5000ms);
}

TEST(SmsRouting, ACallingCodeWithARouteUsesItsProvidersInItsOrder) {
    auto first = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsRouting routing = two(first, second);
    routing.routes["44"] = {1};
    SmsDispatcher dispatcher(std::move(routing), 1, 8, 5000ms);
    EXPECT_EQ(send_and_wait(dispatcher, "+447700900100", "44").provider, "second");
    EXPECT_EQ(send_and_wait(dispatcher, "+12025550103", "1").provider, "first");
    EXPECT_EQ(send_and_wait(dispatcher, "+33612345678", "33").provider, "first");
    EXPECT_EQ(first->calls, (std::vector<std::string>{"+12025550103", "+33612345678"}));
    EXPECT_EQ(second->calls, (std::vector<std::string>{"+447700900100"}));
    EXPECT_EQ(dispatcher.first_provider("44"), "second");
    EXPECT_EQ(dispatcher.first_provider("7"), "first");
}

TEST(SmsRouting, ARouteWithOneProviderDoesNotFailOverToTheDefaultRoute) {
    auto first = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    auto second = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable);
    SmsRouting routing = two(first, second);
    routing.routes["44"] = {1};
    SmsDispatcher dispatcher(std::move(routing), 1, 8, 5000ms);
    const SendOutcome outcome = send_and_wait(dispatcher, "+447700900101", "44");
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::unavailable);
    EXPECT_EQ(first->call_count(), 0u);
}

TEST(SmsRouting, ARouteRunsInlineOnlyWhenNoneOfItsProvidersBlocks) {
    auto quick = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable, false);
    auto slow = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent, true);
    SmsRouting routing = two(quick, slow);
    routing.routes["44"] = {0};
    SmsDispatcher dispatcher(std::move(routing), 1, 8, 5000ms);
    bool ran_inline = false;
    ASSERT_TRUE(dispatcher.submit({"+447700900102", "t", "1", "r"}, "44",
                                  [&](const SendOutcome&) { ran_inline = true; }));
    EXPECT_TRUE(ran_inline) << "a route of non-blocking providers completes inside submit";
    const auto caller = std::this_thread::get_id();
    std::promise<std::thread::id> where;
    ASSERT_TRUE(dispatcher.submit({"+12025550104", "t", "1", "r"}, "1", [&](const SendOutcome& o) {
        EXPECT_EQ(o.provider, "second");
        where.set_value(std::this_thread::get_id());
    }));
    EXPECT_NE(where.get_future().get(), caller) << "a route that may block runs on a worker";
}

TEST(SmsRouting, EveryRouteServedNeedsOneProviderUpOnEachRoute) {
    auto a = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    auto b = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsRouting routing = two(a, b);
    routing.routes["44"] = {1};
    SmsDispatcher dispatcher(std::move(routing), 1, 8, 5000ms);
    EXPECT_TRUE(dispatcher.every_route_served({true, true}));
    EXPECT_FALSE(dispatcher.every_route_served({true, false})) << "+44 has only the second";
    EXPECT_TRUE(dispatcher.every_route_served({false, true})) << "the default route fails over";
    EXPECT_FALSE(dispatcher.every_route_served({false, false}));
}

TEST(SmsRouting, ARouteNamingNoProviderIsRefused) {
    SmsRouting routing = SmsRouting::single(std::make_shared<ScriptedProvider>(sdk::SendStatus::sent), "a");
    routing.routes["44"] = {3};
    EXPECT_THROW(SmsDispatcher(std::move(routing), 1, 8, 5000ms), std::invalid_argument);
    SmsRouting empty = SmsRouting::single(std::make_shared<ScriptedProvider>(sdk::SendStatus::sent), "a");
    empty.routes["44"] = {};
    EXPECT_THROW(SmsDispatcher(std::move(empty), 1, 8, 5000ms), std::invalid_argument);
}

SendOutcome send_through(SmsDispatcher& dispatcher, sdk::Channel channel, const std::string& code = "1") {
    sdk::SmsMessage sms{"+12025550110", "t", "123456", "req"};
    sms.channel = channel;
    std::promise<SendOutcome> done;
    EXPECT_TRUE(dispatcher.submit(sms, code, [&](const SendOutcome& o) { done.set_value(o); }));
    return done.get_future().get();
}

TEST(SmsChannels, AProviderIsNeverCalledWithAChannelItDoesNotOffer) {
    auto sms_only = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher dispatcher(SmsRouting::single(sms_only, "sms_only"), 1, 8, 5000ms);
    EXPECT_TRUE(dispatcher.supports("1", sdk::Channel::sms));
    EXPECT_FALSE(dispatcher.supports("1", sdk::Channel::voice));
    const SendOutcome outcome = send_through(dispatcher, sdk::Channel::voice);
    EXPECT_TRUE(outcome.channel_unsupported);
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::invalid_recipient);
    EXPECT_NE(outcome.result.detail.find("no provider on this route sends voice"), std::string::npos)
        << outcome.result.detail;
    EXPECT_EQ(outcome.attempts, 0);
    EXPECT_EQ(outcome.provider, "");
    EXPECT_EQ(sms_only->call_count(), 0u);
    EXPECT_FALSE(send_through(dispatcher, sdk::Channel::sms).channel_unsupported);
    EXPECT_EQ(sms_only->call_channels, std::vector<sdk::Channel>{sdk::Channel::sms});
}

TEST(SmsChannels, TheRouteGoesStraightToTheFirstProviderThatOffersTheChannel) {
    auto sms_only = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    auto with_voice = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    with_voice->offered = {sdk::Channel::sms, sdk::Channel::voice};
    SmsDispatcher dispatcher(two(sms_only, with_voice), 1, 8, 5000ms);
    const SendOutcome outcome = send_through(dispatcher, sdk::Channel::voice);
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::sent);
    EXPECT_EQ(outcome.provider, "second");
    EXPECT_EQ(outcome.attempts, 1) << "the provider without voice is not an attempt";
    EXPECT_EQ(sms_only->call_count(), 0u);
    EXPECT_EQ(with_voice->call_channels, std::vector<sdk::Channel>{sdk::Channel::voice});
}

TEST(SmsChannels, FailoverSkipsProvidersWithoutTheChannel) {
    auto first = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable);
    auto middle = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);  // SMS only
    auto last = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    first->offered = {sdk::Channel::sms, sdk::Channel::whatsapp};
    last->offered = {sdk::Channel::whatsapp, sdk::Channel::sms};
    SmsRouting routing;
    routing.channels = {{"first", first}, {"middle", middle}, {"last", last}};
    routing.default_route = {0, 1, 2};
    SmsDispatcher dispatcher(std::move(routing), 1, 8, 5000ms);
    const SendOutcome outcome = send_through(dispatcher, sdk::Channel::whatsapp);
    EXPECT_EQ(outcome.result.status, sdk::SendStatus::sent);
    EXPECT_EQ(outcome.provider, "last");
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(middle->call_count(), 0u);
    // And when the only other provider with the channel is gone, the failure is the outcome.
    auto lone = std::make_shared<ScriptedProvider>(sdk::SendStatus::unavailable);
    lone->offered = {sdk::Channel::sms, sdk::Channel::whatsapp};
    auto plain = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher two_providers(two(lone, plain), 1, 8, 5000ms);
    const SendOutcome failed = send_through(two_providers, sdk::Channel::whatsapp);
    EXPECT_EQ(failed.result.status, sdk::SendStatus::unavailable);
    EXPECT_EQ(failed.provider, "first");
    EXPECT_FALSE(failed.channel_unsupported);
    EXPECT_EQ(plain->call_count(), 0u);
}

TEST(SmsChannels, ARouteWithoutAnSmsProviderIsRefused) {
    auto whatsapp_only = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    whatsapp_only->offered = {sdk::Channel::whatsapp};
    EXPECT_THROW(SmsDispatcher(SmsRouting::single(whatsapp_only, "wa"), 1, 8, 5000ms), std::invalid_argument);
    auto sms = std::make_shared<ScriptedProvider>(sdk::SendStatus::sent);
    SmsDispatcher mixed(two(whatsapp_only, sms), 1, 8, 5000ms);
    EXPECT_EQ(send_through(mixed, sdk::Channel::sms).provider, "second");
    EXPECT_EQ(send_through(mixed, sdk::Channel::whatsapp).provider, "first");
}

TEST(SdkChannel, NamesRoundTrip) {
    for (const sdk::Channel channel : sdk::kAllChannels) {
        sdk::Channel parsed = sdk::Channel::sms;
        EXPECT_TRUE(sdk::parse_channel(sdk::to_string(channel), parsed));
        EXPECT_EQ(parsed, channel);
    }
    sdk::Channel parsed = sdk::Channel::voice;
    EXPECT_FALSE(sdk::parse_channel("SMS", parsed));
    EXPECT_FALSE(sdk::parse_channel("", parsed));
    EXPECT_EQ(parsed, sdk::Channel::voice);
    const sdk::SmsMessage plain{"+12025550123", "t", "1", "r"};
    EXPECT_EQ(plain.channel, sdk::Channel::sms);
    EXPECT_EQ(plain.locale, "");
}

}  // namespace
}  // namespace testino
