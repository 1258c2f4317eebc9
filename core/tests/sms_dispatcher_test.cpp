#include "sms_dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

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
    SmsDispatcher dispatcher(provider, 2, 8, 5000ms);
    std::promise<sdk::SendResult> done;
    const auto caller = std::this_thread::get_id();
    std::thread::id worker;
    ASSERT_TRUE(dispatcher.submit(message("+1"), [&](const sdk::SendResult& r) {
        worker = std::this_thread::get_id();
        done.set_value(r);
    }));
    provider->open();
    const auto result = done.get_future().get();
    EXPECT_EQ(result.message_id, "id-+1");
    EXPECT_NE(worker, caller);
}

TEST(SmsDispatcher, FullQueueRefusesWithoutCallingBack) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(provider, 1, 2, 5000ms);
    std::atomic<int> completions{0};
    auto count = [&](const sdk::SendResult&) { ++completions; };
    ASSERT_TRUE(dispatcher.submit(message("+1"), count));
    provider->wait_started(1);  // the worker holds one; two more fill the queue
    ASSERT_TRUE(dispatcher.submit(message("+2"), count));
    ASSERT_TRUE(dispatcher.submit(message("+3"), count));
    EXPECT_FALSE(dispatcher.submit(message("+4"), count));
    provider->open();
    dispatcher.stop();
    EXPECT_EQ(completions.load(), 3);
}

TEST(SmsDispatcher, SendsThatWaitedPastTheDeadlineAreNotSent) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(provider, 1, 4, 100ms);
    std::promise<sdk::SendResult> late;
    ASSERT_TRUE(dispatcher.submit(message("+1"), [](const sdk::SendResult&) {}));
    provider->wait_started(1);
    ASSERT_TRUE(dispatcher.submit(message("+2"), [&](const sdk::SendResult& r) { late.set_value(r); }));
    std::this_thread::sleep_for(200ms);
    provider->open();
    const auto result = late.get_future().get();
    EXPECT_EQ(result.status, sdk::SendStatus::unavailable);
    EXPECT_NE(result.detail.find("timed out"), std::string::npos);
}

TEST(SmsDispatcher, StopAnswersQueuedSendsAndRefusesNewOnes) {
    auto provider = std::make_shared<GatedProvider>();
    SmsDispatcher dispatcher(provider, 1, 4, 5000ms);
    std::promise<sdk::SendResult> queued;
    ASSERT_TRUE(dispatcher.submit(message("+1"), [](const sdk::SendResult&) {}));
    provider->wait_started(1);
    ASSERT_TRUE(dispatcher.submit(message("+2"), [&](const sdk::SendResult& r) { queued.set_value(r); }));
    std::thread stopper([&] { dispatcher.stop(); });
    const auto result = queued.get_future().get();  // answered before the running one ends
    EXPECT_EQ(result.status, sdk::SendStatus::unavailable);
    provider->open();
    stopper.join();
    EXPECT_FALSE(dispatcher.submit(message("+3"), [](const sdk::SendResult&) {}));
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

TEST(SmsDispatcher, AProviderThatThrowsIsReportedUnavailableNotFatal) {
    SmsDispatcher dispatcher(std::make_shared<ThrowingProvider>(), 1, 4, std::chrono::milliseconds(5000));
    std::promise<sdk::SendResult> done;
    ASSERT_TRUE(dispatcher.submit({"+1", "t", "1", "r"}, [&](const sdk::SendResult& r) { done.set_value(r); }));
    const auto result = done.get_future().get();
    EXPECT_EQ(result.status, sdk::SendStatus::unavailable);
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
    SmsDispatcher dispatcher(provider, 2, 1, std::chrono::milliseconds(5000));
    int completions = 0;
    for (int i = 0; i < 3; ++i) {  // more than the queue holds: nothing is queued
        ASSERT_TRUE(dispatcher.submit({"+1", "t", "1", "r"}, [&](const sdk::SendResult& r) {
            EXPECT_EQ(r.message_id, "inline");
            ++completions;
        }));
    }
    EXPECT_EQ(completions, 3) << "each completion ran before submit returned";
    EXPECT_EQ(provider->thread, std::this_thread::get_id());
    dispatcher.stop();
    EXPECT_FALSE(dispatcher.submit({"+1", "t", "1", "r"}, [](const sdk::SendResult&) {}));
}

}  // namespace
}  // namespace testino
