// The OTP flows end to end below HTTP: the real memory store plugin, loaded as the server
// loads it, and an SMS provider that records what it is asked to send.
#include "app/otp_flow.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <regex>
#include <thread>

#include "app/sms_dispatcher.hpp"
#include "plugin_doubles.hpp"
#include "plugins/plugin_loader.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;

// Answers at once (may_block false: the dispatcher runs it inline) with `status`, and
// keeps every message.
class RecordingProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage& message, std::chrono::steady_clock::time_point) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(message);
        return {status_, status_ == sdk::SendStatus::sent ? "" : "scripted failure",
                status_ == sdk::SendStatus::sent ? "m-1" : ""};
    }
    sdk::HealthReport health() override { return {healthy_.load(), ""}; }
    bool may_block() const override { return false; }

    void answer(sdk::SendStatus status) {
        std::lock_guard lock(mutex_);
        status_ = status;
    }
    void set_healthy(bool healthy) { healthy_ = healthy; }
    sdk::SmsMessage last() const {
        std::lock_guard lock(mutex_);
        return messages_.empty() ? sdk::SmsMessage{} : messages_.back();
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }

private:
    mutable std::mutex mutex_;
    sdk::SendStatus status_ = sdk::SendStatus::sent;
    std::vector<sdk::SmsMessage> messages_;
    std::atomic<bool> healthy_{true};
};

// A store that answers later, from a thread of its own, as the Redis store does: every
// operation runs on `inner` at once, but its completion waits in a queue until the store's
// thread delivers it (at once, or when the test releases the held ones).
class DeferredStore final : public sdk::OtpStore {
public:
    explicit DeferredStore(std::shared_ptr<sdk::OtpStore> inner) : inner_(std::move(inner)) {
        thread_ = std::thread([this] { run(); });
    }
    ~DeferredStore() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            held_ = false;
        }
        wake_.notify_all();
        thread_.join();
    }

    void put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                  int max_attempts, sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->put_code(key, digest, ttl, max_attempts, later(std::move(done)));
    }
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        inner_->verify_and_consume(key, candidate, later(std::move(done)));
    }
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->remove_code(key, digest, later(std::move(done)));
    }
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        inner_->hit_counter(key, window, amount, later(std::move(done)));
    }
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override {
        inner_->health(later(std::move(done)));
    }

    // While held, completions wait; release() lets them all go.
    void hold() {
        std::lock_guard lock(mutex_);
        held_ = true;
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            held_ = false;
        }
        wake_.notify_all();
    }
    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    std::thread::id thread_id() const { return thread_.get_id(); }

private:
    template <typename Result>
    sdk::StoreCompletion<Result> later(sdk::StoreCompletion<Result> done) {
        return [this, done = std::move(done)](Result result) {
            {
                std::lock_guard lock(mutex_);
                queue_.push_back([done, result] { done(result); });
            }
            wake_.notify_all();
        };
    }
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stopping_ || (!held_ && !queue_.empty()); });
            if (queue_.empty() && stopping_) return;
            auto next = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            next();  // no lock held: it may start the next operation
            lock.lock();
        }
    }

    std::shared_ptr<sdk::OtpStore> inner_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool held_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

// Waits for a flow's one answer (a flow on the memory store and an inline provider gives
// it before returning, but the test does not rely on that).
template <typename T, typename Start>
Expected<T> await_flow(Start start) {
    auto answer = std::make_shared<std::promise<Expected<T>>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto future = answer->get_future();
    start([answer, calls](Expected<T> result) {
        if (calls->fetch_add(1) == 0) {
            answer->set_value(std::move(result));
        } else {
            ADD_FAILURE() << "a flow answered twice";
        }
    });
    if (future.wait_for(10s) != std::future_status::ready) {
        ADD_FAILURE() << "the flow did not answer within 10 s";
        return make_error(ErrorCode::internal_error, "no answer");
    }
    return future.get();
}

class OtpFlowTest : public ::testing::Test {
protected:
    void SetUp() override { make_flow(300s, 5); }

    // Loaded once and never unloaded: LeakSanitizer (GCC 12) crashes while scanning the
    // thread-local storage of a library that was dlclose'd, so the suite does not reload it.
    static const LoadedPlugin& memory_plugin() {
        static const LoadedPlugin* plugin = new LoadedPlugin(
            PluginLoader(TESTINO_PLUGIN_DIR).load("memory", sdk::PluginKind::otp_store, "store.backend"));
        return *plugin;
    }

    // Every limit off: the OTP rules alone. The limit tests switch on what they test.
    static LimitsConfig no_limits() {
        LimitsConfig l;
        l.number_cooldown = std::chrono::seconds(0);
        l.number_sends = l.number_failed_verifies = l.ip_sends = l.ip_verifies = 0;
        l.country_sends = l.budget_per_hour = l.budget_per_day = 0;
        return l;
    }

    void make_flow(std::chrono::seconds expiry, int max_attempts, const LimitsConfig& limits = no_limits(),
                   std::vector<TestNumber> test_numbers = {},
                   std::shared_ptr<sdk::OtpStore> custom_store = nullptr) {
        flow.reset();
        dispatcher.reset();
        store = custom_store ? custom_store
                             : memory_plugin().create_otp_store(sdk::PluginContext{store_config, host});
        provider = std::make_shared<RecordingProvider>();
        dispatcher = std::make_unique<SmsDispatcher>(SmsRouting::single(provider, "recording"), 1, 8, 5000ms);
        OtpConfig otp;
        otp.expiry = expiry;
        otp.max_attempts = max_attempts;
        otp.hmac_secret = std::string(32, 'h');
        otp.message_template = "Your Testino code is {code}. It expires in {minutes} minutes.";
        TokenConfig token;
        token.secret = std::string(32, 't');
        token.issuer = "testino-auth";
        std::vector<PluginHealthSource> health{
            {sdk::PluginKind::sms_provider, "recording", "1.0.0",
             [p = provider](sdk::StoreCompletion<sdk::HealthReport> done) { done(p->health()); }},
            {sdk::PluginKind::otp_store, "memory", "1.0.0",
             [s = store](sdk::StoreCompletion<sdk::HealthReport> done) { s->health(std::move(done)); }}};
        flow = std::make_unique<OtpFlow>(otp, token, limits, std::move(test_numbers), store, *dispatcher,
                                         std::move(health));
    }

    Expected<SendAccepted> send_result(const std::string& number, const std::string& ip = "",
                                       const std::string& cc = "+1", const std::string& request_id = "r") {
        return await_flow<SendAccepted>([&](FlowDone<SendAccepted> done) {
            flow->send({cc, number}, {request_id, ip, ip}, std::move(done));
        });
    }

    // Sends a code and returns it, as the user would read it from the SMS.
    std::string send(const std::string& number = "2025550123") {
        const std::size_t before = provider->count();
        EXPECT_TRUE(send_result(number).ok());
        EXPECT_EQ(provider->count(), before + 1);
        std::smatch m;
        const std::string text = provider->last().text;
        EXPECT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})\\.")));
        EXPECT_EQ(provider->last().code, m[1].str());
        return m[1].str();
    }

    Expected<VerifiedLogin> verify(const std::string& code, const std::string& number = "2025550123",
                                   const std::string& ip = "") {
        return await_flow<VerifiedLogin>([&](FlowDone<VerifiedLogin> done) {
            flow->verify({"1", number, code}, {"r", ip, ip}, std::move(done));
        });
    }

    // The error code of a send, or "ok".
    std::string send_outcome(const std::string& number, const std::string& ip = "10.0.0.1",
                             const std::string& cc = "+1") {
        auto sent = send_result(number, ip, cc);
        return sent ? "ok" : error_info(sent.error().code).machine_code;
    }

    HealthSummary health() {
        auto answer = std::make_shared<std::promise<HealthSummary>>();
        auto future = answer->get_future();
        flow->health([answer](HealthSummary s) { answer->set_value(std::move(s)); });
        EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
        return future.get();
    }

    static std::string wrong(const std::string& code) {
        std::string w = code;
        w[0] = w[0] == '9' ? '0' : static_cast<char>(w[0] + 1);
        return w;
    }

    test_support::RecordingHost host;
    test_support::MapConfigView store_config{std::map<std::string, std::string>{
        {"max_codes", "1000"}, {"sweep_interval_ms", "1000"}, {"shards", "4"}, {"max_counters", "1000"}}};
    std::shared_ptr<sdk::OtpStore> store;
    std::shared_ptr<RecordingProvider> provider;
    std::unique_ptr<SmsDispatcher> dispatcher;
    std::unique_ptr<OtpFlow> flow;
};

TEST_F(OtpFlowTest, RightCodeVerifiesOnceAndIssuesAToken) {
    const std::string code = send();
    const auto login = verify(code);
    ASSERT_TRUE(login.ok()) << login.error().message;
    EXPECT_EQ(login->e164, "+12025550123");
    EXPECT_FALSE(login->token.jwt.empty());
    const auto again = verify(code);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::invalid_otp) << "single use";
}

TEST_F(OtpFlowTest, MessageFollowsTheTemplate) {
    const auto sent = send_result("202-555-0123", "", "+1", "req-7");
    ASSERT_TRUE(sent.ok());
    EXPECT_EQ(sent->expires_in, 300s);
    const sdk::SmsMessage message = provider->last();
    EXPECT_EQ(message.to, "+12025550123");
    EXPECT_EQ(message.request_id, "req-7");
    EXPECT_EQ(message.text, "Your Testino code is " + message.code + ". It expires in 5 minutes.");
}

TEST_F(OtpFlowTest, WrongCodesUseUpTheAttemptsThenTheCodeIsDead) {
    const std::string code = send();
    for (int i = 0; i < 5; ++i) {
        const auto r = verify(wrong(code));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::invalid_otp) << "attempt " << i;
    }
    const auto dead = verify(code);
    ASSERT_FALSE(dead.ok());
    EXPECT_EQ(dead.error().code, ErrorCode::too_many_attempts);
    EXPECT_GT(dead.error().retry_after.count(), 0);
    EXPECT_LE(dead.error().retry_after.count(), 300);
}

TEST_F(OtpFlowTest, NewSendReplacesTheOldCodeAndItsAttempts) {
    const std::string first = send();
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(verify(wrong(first)).ok());
    std::string second = send();
    for (int i = 0; i < 20 && second == first; ++i) second = send();
    ASSERT_NE(first, second);
    EXPECT_EQ(verify(first).error().code, ErrorCode::invalid_otp);
    EXPECT_TRUE(verify(second).ok()) << "attempts were reset by the new code";
}

TEST_F(OtpFlowTest, ExpiredAndUnknownLookTheSame) {
    make_flow(1s, 5);
    const std::string code = send();
    std::this_thread::sleep_for(1100ms);
    const auto expired = verify(code);
    const auto unknown = verify(code, "2025550199");
    ASSERT_FALSE(expired.ok());
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(expired.error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(error_body(expired.error()), error_body(unknown.error()));
}

TEST_F(OtpFlowTest, FailedSendLeavesNoUsableCode) {
    for (auto status :
         {sdk::SendStatus::invalid_recipient, sdk::SendStatus::misconfigured, sdk::SendStatus::unavailable}) {
        provider->answer(status);
        ASSERT_FALSE(send_result("2025550123").ok());
        EXPECT_EQ(verify(provider->last().code).error().code, ErrorCode::invalid_otp);
    }
    EXPECT_EQ(health().reports.back().detail, "0 pending codes");
}

TEST_F(OtpFlowTest, FailedSendMapsToTheDocumentedErrors) {
    provider->answer(sdk::SendStatus::invalid_recipient);
    const auto rejected = send_result("2025550123");
    ASSERT_FALSE(rejected.ok());
    EXPECT_EQ(rejected.error().code, ErrorCode::recipient_rejected);
    EXPECT_EQ(rejected.error().field, "mobile_number");
    provider->answer(sdk::SendStatus::misconfigured);
    EXPECT_EQ(send_result("2025550123").error().code, ErrorCode::sms_provider_error);
    provider->answer(sdk::SendStatus::unavailable);
    EXPECT_EQ(send_result("2025550123").error().code, ErrorCode::sms_provider_unavailable);
}

TEST_F(OtpFlowTest, InvalidNumberIsAValidationErrorAndStoresNothing) {
    const auto r = send_result("1234567890");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::validation_error);
    EXPECT_EQ(r.error().field, "mobile_number");
    EXPECT_EQ(provider->count(), 0u);
    EXPECT_EQ(health().reports.back().detail, "0 pending codes");
}

TEST_F(OtpFlowTest, HundredConcurrentWrongGuessesConsumeExactlyTheAllowedAttempts) {
    const std::string code = send();
    std::atomic<int> invalid{0}, exhausted{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
        threads.emplace_back([&] {
            const auto r = verify(wrong(code));
            if (r.ok())
                ++other;
            else if (r.error().code == ErrorCode::invalid_otp)
                ++invalid;
            else if (r.error().code == ErrorCode::too_many_attempts)
                ++exhausted;
            else
                ++other;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(exhausted.load(), 95);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(verify(code).error().code, ErrorCode::too_many_attempts) << "the right code is dead too";
}

TEST_F(OtpFlowTest, ConcurrentRightGuessesVerifyExactlyOnce) {
    const std::string code = send();
    std::atomic<int> verified{0}, rejected{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i) {
        threads.emplace_back([&] { verify(code).ok() ? ++verified : ++rejected; });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(verified.load(), 1);
    EXPECT_EQ(rejected.load(), 49);
}

// --- abuse limits --------------------------------------------------------------------

TEST_F(OtpFlowTest, ResendCooldownRefusesWithRetryAfter) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "ok");
    auto again = send_result("2025550123", "10.0.0.1");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::rate_limited);
    EXPECT_GT(again.error().retry_after.count(), 25);
    EXPECT_LE(again.error().retry_after.count(), 30);
    EXPECT_EQ(send_outcome("2025550124"), "ok") << "other numbers are not affected";
}

TEST_F(OtpFlowTest, PerNumberSendCap) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 3;
    make_flow(300s, 5, limits);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send_outcome("2025550123"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
}

TEST_F(OtpFlowTest, PerIpCapsForSendAndVerify) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 2;
    limits.ip_verifies = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550122", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.7"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.8"), "ok") << "another address has its own cap";
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::rate_limited);
}

TEST_F(OtpFlowTest, FailedVerifyCapAcrossCodes) {
    LimitsConfig limits = no_limits();
    limits.number_failed_verifies = 3;
    make_flow(300s, 5, limits);
    const std::string first = send();
    EXPECT_EQ(verify(wrong(first)).error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify(wrong(first)).error().code, ErrorCode::invalid_otp);
    const std::string second = send();  // a new code does not reset the number's failures
    EXPECT_EQ(verify(wrong(second)).error().code, ErrorCode::invalid_otp);
    const auto refused = verify(second);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::rate_limited) << "even the right code waits";
    EXPECT_GT(refused.error().retry_after.count(), 0);
}

TEST_F(OtpFlowTest, CountryAllowlistAndCountryCap) {
    LimitsConfig limits = no_limits();
    limits.country_allowlist = {"44"};
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "COUNTRY_NOT_ALLOWED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");

    limits = no_limits();
    limits.country_sends = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");
}

TEST_F(OtpFlowTest, GlobalBudgetTripsTheBreaker) {
    LimitsConfig limits = no_limits();
    limits.budget_per_hour = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.9.9.9"), "SEND_BUDGET_EXHAUSTED");
    EXPECT_EQ(error_info(ErrorCode::send_budget_exhausted).status, 503);
}

TEST_F(OtpFlowTest, FailedSmsRefundsTheUsersAllowance) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    limits.number_sends = 1;
    make_flow(300s, 5, limits);
    provider->answer(sdk::SendStatus::unavailable);
    EXPECT_EQ(send_outcome("2025550123"), "SMS_PROVIDER_UNAVAILABLE");
    provider->answer(sdk::SendStatus::sent);
    EXPECT_EQ(send_outcome("2025550123"), "ok") << "neither the cooldown nor the cap was spent";
}

TEST_F(OtpFlowTest, RefusalsLookTheSameWithOrWithoutAPendingCode) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 1;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.5"), "ok");
    auto with_code = send_result("2025550121", "10.0.0.5");
    auto without = send_result("2025550199", "10.0.0.5");
    ASSERT_FALSE(with_code.ok());
    ASSERT_FALSE(without.ok());
    EXPECT_EQ(error_body(with_code.error()), error_body(without.error()));
}

TEST_F(OtpFlowTest, TestNumbersUseTheirFixedCodeUntilTheyExpire) {
    TestNumber reviewer{"+12025550100", "424242", 0};
    TestNumber expired{"+12025550101", "111111", 1};  // expired in 1970
    make_flow(300s, 5, no_limits(), {reviewer, expired});
    ASSERT_TRUE(send_result("2025550100", "10.0.0.1").ok());
    EXPECT_EQ(provider->count(), 0u) << "no SMS to a test number";
    EXPECT_TRUE(verify("424242", "2025550100").ok());
    ASSERT_TRUE(send_result("2025550101", "10.0.0.1").ok());
    EXPECT_EQ(provider->count(), 1u) << "an expired test number is an ordinary number";
    EXPECT_NE(provider->last().code, "111111");
}

TEST_F(OtpFlowTest, TestNumbersAreStillRateLimited) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 1;
    make_flow(300s, 5, limits, {TestNumber{"+12025550100", "424242", 0}});
    EXPECT_EQ(send_outcome("2025550100"), "ok");
    EXPECT_EQ(send_outcome("2025550100"), "RATE_LIMITED");
}

// --- a store that completes on its own thread ---------------------------------------

TEST_F(OtpFlowTest, FlowsReturnAtOnceAndAnswerWhenTheStoreCompletesElsewhere) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    limits.number_sends = 5;
    limits.ip_sends = 5;
    limits.number_failed_verifies = 5;
    auto deferred = std::make_shared<DeferredStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 5, limits, {}, deferred);

    deferred->hold();
    std::promise<Expected<SendAccepted>> answer;
    auto answered = answer.get_future();
    std::thread::id answered_on;
    flow->send({"+1", "2025550123"}, {"r", "10.0.0.1", "10.0.0.1"}, [&](Expected<SendAccepted> result) {
        answered_on = std::this_thread::get_id();
        answer.set_value(std::move(result));
    });
    // send() returned with its first store call still waiting: nothing blocked.
    EXPECT_EQ(answered.wait_for(0ms), std::future_status::timeout);
    EXPECT_EQ(deferred->waiting(), 1u);
    deferred->release();
    ASSERT_EQ(answered.wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(answered.get().ok());
    EXPECT_EQ(answered_on, deferred->thread_id()) << "the answer comes from the store's thread";

    const std::string code = provider->last().code;
    EXPECT_EQ(verify(wrong(code)).error().code, ErrorCode::invalid_otp);
    EXPECT_TRUE(verify(code).ok());
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED") << "the cooldown was counted through the chain";
}

TEST_F(OtpFlowTest, ConcurrentFlowsOnADeferredStoreEachAnswerOnce) {
    auto deferred = std::make_shared<DeferredStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 5, no_limits(), {}, deferred);
    const std::string code = send();
    std::atomic<int> invalid{0}, exhausted{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 40; ++i) {
        threads.emplace_back([&] {
            const auto r = verify(wrong(code));
            if (!r.ok() && r.error().code == ErrorCode::invalid_otp)
                ++invalid;
            else if (!r.ok() && r.error().code == ErrorCode::too_many_attempts)
                ++exhausted;
            else
                ++other;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(exhausted.load(), 35);
    EXPECT_EQ(other.load(), 0);
}

// --- health ---------------------------------------------------------------------------

TEST_F(OtpFlowTest, HealthIsUnhealthyWhenTheOnlyProviderIsDown) {
    HealthSummary up = health();
    EXPECT_EQ(up.status, HealthSummary::Status::healthy);
    ASSERT_EQ(up.reports.size(), 2u);
    EXPECT_EQ(up.reports[1].detail, "0 pending codes");
    provider->set_healthy(false);
    EXPECT_EQ(health().status, HealthSummary::Status::unhealthy) << "a route with no provider up cannot send";
}

}  // namespace
}  // namespace testino
