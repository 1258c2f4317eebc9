// The send-budget lease (app/budget_lease.hpp): store calls per send, the limit under racing
// threads and instances, partial grants, refunds, the window's end, callers waiting for a
// lease in flight, and store failures, on a counter store the tests script.
#include "app/budget_lease.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

constexpr const char* kKey = "budget:hour";

// Counters only, in a map; can fail, hold its answers until released, and end a window.
class CounterStore final : public sdk::OtpStore {
public:
    void put_code(const std::string&, const sdk::NewCode&,
                  sdk::StoreCompletion<sdk::StoreResult> done) override {
        done({sdk::StoreStatus::unavailable, "counters only"});
    }
    void verify_and_consume(const std::string&, const sdk::CodeDigest&, const std::optional<sdk::FlowTag>&,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        done({sdk::VerifyOutcome::unavailable, 0, 0s, "counters only"});
    }
    void remove_code(const std::string&, const sdk::CodeDigest&,
                     sdk::StoreCompletion<sdk::StoreResult> done) override {
        done({sdk::StoreStatus::unavailable, "counters only"});
    }
    void hit_counter(const std::string& key, std::chrono::seconds, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        sdk::CounterResult result;
        {
            std::lock_guard lock(mutex_);
            ++calls_;
            if (failure_ != sdk::StoreStatus::ok) {
                result = {failure_, 0, 1s, "scripted failure"};
            } else {
                result = {sdk::StoreStatus::ok, counts_[key] += amount, reset_in_, ""};
            }
            if (held_) {
                held_answers_.push_back([done, result] { done(result); });
                return;
            }
        }
        done(result);
    }
    void create_refresh(const std::string&, const sdk::NewRefreshFamily&,
                        sdk::StoreCompletion<sdk::StoreResult> done) override {
        done({sdk::StoreStatus::unavailable, "counters only"});
    }
    void rotate_refresh(const std::string&, const sdk::RefreshDigest&, const sdk::RefreshDigest&,
                        std::chrono::seconds, std::chrono::seconds,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        done({sdk::RefreshOutcome::unavailable, {}, 0s, "counters only"});
    }
    void revoke_refresh(const std::string&, const sdk::RefreshDigest&,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        done({sdk::RefreshOutcome::unavailable, {}, 0s, "counters only"});
    }
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override { done({true, ""}); }

    void hold() {
        std::lock_guard lock(mutex_);
        held_ = true;
    }
    // Answers what was held, on this thread, and answers at once from then on.
    void release() {
        std::vector<std::function<void()>> answers;
        {
            std::lock_guard lock(mutex_);
            held_ = false;
            answers.swap(held_answers_);
        }
        for (auto& answer : answers) answer();
    }
    void fail(sdk::StoreStatus status) {
        std::lock_guard lock(mutex_);
        failure_ = status;
    }
    void end_window(const std::string& key) {
        std::lock_guard lock(mutex_);
        counts_.erase(key);
    }
    int calls() const {
        std::lock_guard lock(mutex_);
        return calls_;
    }
    std::int64_t count(const std::string& key) const {
        std::lock_guard lock(mutex_);
        const auto it = counts_.find(key);
        return it == counts_.end() ? 0 : it->second;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::int64_t> counts_;
    std::chrono::seconds reset_in_ = 3600s;
    sdk::StoreStatus failure_ = sdk::StoreStatus::ok;
    bool held_ = false;
    std::vector<std::function<void()>> held_answers_;
    int calls_ = 0;
};

// A clock the test moves.
struct ManualClock {
    std::shared_ptr<std::atomic<std::int64_t>> seconds = std::make_shared<std::atomic<std::int64_t>>(1000000);
    BudgetLease::Clock clock() const {
        return [s = seconds] { return TimePoint(std::chrono::seconds(s->load())); };
    }
    void advance(std::chrono::seconds by) { *seconds += by.count(); }
};

// Every answer a lease gave, in order.
struct Answers {
    std::mutex mutex;
    std::vector<UnitCharge> list;

    BudgetLease::Done record() {
        return [this](UnitCharge charge) {
            std::lock_guard lock(mutex);
            list.push_back(std::move(charge));
        };
    }
    std::size_t size() {
        std::lock_guard lock(mutex);
        return list.size();
    }
    int granted() {
        std::lock_guard lock(mutex);
        int n = 0;
        for (const auto& c : list) n += c.status == sdk::StoreStatus::ok && c.within_limit;
        return n;
    }
};

// A lease's answer to one take (on the memory-speed store it comes before take returns).
UnitCharge take_one(BudgetLease& lease) {
    std::promise<UnitCharge> answer;
    auto future = answer.get_future();
    lease.take([&answer](UnitCharge charge) { answer.set_value(std::move(charge)); });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
}

class BudgetLeaseTest : public ::testing::Test {
public:
    std::unique_ptr<BudgetLease> make_lease(int limit, int size) {
        return std::make_unique<BudgetLease>(metered, kKey, limit, 3600s, size, clock.clock());
    }

    std::shared_ptr<CounterStore> store = std::make_shared<CounterStore>();
    MeteredStore metered{store};
    ManualClock clock;
};

TEST_F(BudgetLeaseTest, TheLeaseIsClampedToOnePercentOfTheBudget) {
    EXPECT_EQ(BudgetLease::effective_size(10, 1000), 10);
    EXPECT_EQ(BudgetLease::effective_size(10, 10000), 10);
    EXPECT_EQ(BudgetLease::effective_size(50, 1000), 10) << "at most limit / 100";
    EXPECT_EQ(BudgetLease::effective_size(10, 500), 5);
    EXPECT_EQ(BudgetLease::effective_size(10, 200), 2);
    EXPECT_EQ(BudgetLease::effective_size(10, 199), 1) << "small budgets: one send at a time";
    EXPECT_EQ(BudgetLease::effective_size(10, 2), 1);
    EXPECT_EQ(BudgetLease::effective_size(1, 100000), 1);
    EXPECT_EQ(BudgetLease::effective_size(0, 100000), 1);
}

TEST_F(BudgetLeaseTest, OneStoreCallBuysLeaseSizeSends) {
    auto lease = make_lease(1000, 10);
    ASSERT_EQ(lease->size(), 10);
    for (int i = 0; i < 25; ++i) {
        const UnitCharge c = take_one(*lease);
        ASSERT_EQ(c.status, sdk::StoreStatus::ok);
        ASSERT_TRUE(c.within_limit) << "send " << i;
        EXPECT_EQ(store->calls(), i / 10 + 1) << "send " << i;
    }
    EXPECT_EQ(store->calls(), 3);
    EXPECT_EQ(store->count(kKey), 30) << "the store counts whole leases";
}

TEST_F(BudgetLeaseTest, APartialGrantAtTheBudgetsEndThenRefusalsWithoutTheStore) {
    auto lease = make_lease(1005, 10);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(take_one(*lease).within_limit) << i;
    EXPECT_EQ(store->calls(), 100);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(take_one(*lease).within_limit) << "what was left: " << i;
    EXPECT_EQ(store->calls(), 101);
    EXPECT_EQ(store->count(kKey), 1010) << "asked for 10, given the 5 left";

    const UnitCharge refused = take_one(*lease);
    EXPECT_EQ(refused.status, sdk::StoreStatus::ok);
    EXPECT_FALSE(refused.within_limit);
    EXPECT_EQ(refused.reset_in, 3600s) << "until the store's window ends";
    clock.advance(600s);
    const UnitCharge later = take_one(*lease);
    EXPECT_FALSE(later.within_limit);
    EXPECT_EQ(later.reset_in, 3000s);
    EXPECT_EQ(store->calls(), 101) << "a spent budget refuses without asking the store again";
}

TEST_F(BudgetLeaseTest, AnExhaustedStoreRefusesAtOnceWithItsResetIn) {
    auto lease = make_lease(1000, 10);
    auto other = make_lease(1000, 10);  // another instance, which spent the whole budget
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(take_one(*other).within_limit);
    const UnitCharge refused = take_one(*lease);
    EXPECT_FALSE(refused.within_limit);
    EXPECT_EQ(refused.reset_in, 3600s);
}

TEST_F(BudgetLeaseTest, ARefundedUnitIsSpentAgainWithoutTheStore) {
    auto lease = make_lease(1000, 10);
    std::vector<UnitCharge> taken;
    for (int i = 0; i < 10; ++i) taken.push_back(take_one(*lease));
    EXPECT_EQ(store->calls(), 1);
    lease->give_back(taken.back().lease_window);  // its SMS did not go out
    EXPECT_TRUE(take_one(*lease).within_limit);
    EXPECT_EQ(store->calls(), 1) << "the refunded unit served the next send";
    EXPECT_EQ(store->count(kKey), 10) << "a refund does not go to the store";
    EXPECT_TRUE(take_one(*lease).within_limit);
    EXPECT_EQ(store->calls(), 2);
}

TEST_F(BudgetLeaseTest, TheWindowsEndDropsTheLeaseAndItsRefunds) {
    auto lease = make_lease(1000, 10);
    const UnitCharge first = take_one(*lease);
    for (int i = 0; i < 2; ++i) take_one(*lease);
    EXPECT_EQ(store->calls(), 1);

    clock.advance(3600s);
    store->end_window(kKey);
    const UnitCharge next = take_one(*lease);
    EXPECT_TRUE(next.within_limit);
    EXPECT_EQ(store->calls(), 2) << "the 7 units left of the last window were dropped";
    EXPECT_EQ(store->count(kKey), 10);
    EXPECT_NE(next.lease_window, first.lease_window);

    lease->give_back(first.lease_window);  // an SMS of the old window failed late
    for (int i = 0; i < 9; ++i) EXPECT_TRUE(take_one(*lease).within_limit);
    EXPECT_EQ(store->calls(), 2);
    take_one(*lease);
    EXPECT_EQ(store->calls(), 3) << "the old window's refund was not added to the new lease";
}

TEST_F(BudgetLeaseTest, ALeaseEndsASecondBeforeTheWindowTheStoreReported) {
    auto lease = make_lease(1000, 10);
    take_one(*lease);
    clock.advance(3598s);
    take_one(*lease);
    EXPECT_EQ(store->calls(), 1);
    clock.advance(1s);  // reset_in is rounded up: the store's window may end any moment now
    take_one(*lease);
    EXPECT_EQ(store->calls(), 2);
}

TEST_F(BudgetLeaseTest, CallersDuringALeaseInFlightWaitForItAndMakeOneStoreCall) {
    auto lease = make_lease(1000, 10);
    store->hold();
    Answers answers;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 3; ++i) lease->take(answers.record());
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(store->calls(), 1) << "one lease request for all nine callers";
    EXPECT_EQ(answers.size(), 0u);
    store->release();
    EXPECT_EQ(answers.granted(), 9);
    EXPECT_EQ(store->calls(), 1);
}

TEST_F(BudgetLeaseTest, MoreWaitingCallersThanALeaseHoldsTakeTheNextLeaseToo) {
    auto lease = make_lease(1000, 10);
    store->hold();
    Answers answers;
    for (int i = 0; i < 15; ++i) lease->take(answers.record());
    EXPECT_EQ(store->calls(), 1);
    store->release();
    EXPECT_EQ(answers.granted(), 15);
    EXPECT_EQ(store->calls(), 2);
    EXPECT_EQ(store->count(kKey), 20);
}

TEST_F(BudgetLeaseTest, AStoreFailureFailsEveryWaitingCallerClosed) {
    auto lease = make_lease(1000, 10);
    store->fail(sdk::StoreStatus::unavailable);
    store->hold();
    Answers answers;
    for (int i = 0; i < 3; ++i) lease->take(answers.record());
    store->release();
    ASSERT_EQ(answers.size(), 3u);
    for (const UnitCharge& c : answers.list) {
        EXPECT_EQ(c.status, sdk::StoreStatus::unavailable);
        EXPECT_FALSE(c.within_limit);
        EXPECT_EQ(c.detail, "scripted failure");
    }
    EXPECT_EQ(store->calls(), 1);

    store->fail(sdk::StoreStatus::full);
    EXPECT_EQ(take_one(*lease).status, sdk::StoreStatus::full);
    store->fail(sdk::StoreStatus::ok);
    EXPECT_TRUE(take_one(*lease).within_limit) << "the next send asks the store again";
}

// Takes `per_thread` units on each of `threads` threads, spread over `leases`.
int race(const std::vector<BudgetLease*>& leases, int threads, int per_thread) {
    std::atomic<int> granted{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                if (take_one(*leases[(t + i) % leases.size()]).within_limit) ++granted;
            }
        });
    }
    for (auto& worker : workers) worker.join();
    return granted.load();
}

// The store answers from a thread of its own, as Redis does.
TEST_F(BudgetLeaseTest, RacingThreadsNeverExceedTheLimitAndSpendAllOfIt) {
    auto deferred = std::make_shared<flow_test::DeferredStore>(store);
    MeteredStore through(deferred);
    BudgetLease lease(through, kKey, 1000, 3600s, 10, clock.clock());
    EXPECT_EQ(race({&lease}, 4, 400), 1000);
    EXPECT_EQ(store->calls(), 101) << "one call per lease, and one that found the budget spent";
}

TEST_F(BudgetLeaseTest, InstancesRacingNeverExceedTheBudgetAndLoseLessThanALeaseEach) {
    auto deferred = std::make_shared<flow_test::DeferredStore>(store);
    MeteredStore through(deferred);
    BudgetLease a(through, kKey, 1000, 3600s, 10, clock.clock());
    BudgetLease b(through, kKey, 1000, 3600s, 10, clock.clock());
    BudgetLease c(through, kKey, 1000, 3600s, 10, clock.clock());
    const int granted = race({&a, &b, &c}, 4, 400);
    EXPECT_LE(granted, 1000);
    EXPECT_GE(granted, 1000 - 3 * 9) << "at most L-1 unspent per instance";
}

// The lease behind RateLimits: the budget's refusal, its store failure, and its refund.
class LeasedLimitTest : public BudgetLeaseTest {
public:
    LimitCheck check(BudgetLease* lease, int limit) {
        return LimitCheck{
            kKey, limit, 3600s, metrics::Limit::budget_hour, ErrorCode::send_budget_exhausted, "spent",
            true, true,  lease};
    }
    LimitVerdict charge(LimitCheck c) {
        std::promise<LimitVerdict> verdict;
        auto future = verdict.get_future();
        limits.charge({std::move(c)}, "r-1", [&verdict](LimitVerdict v) { verdict.set_value(std::move(v)); });
        EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
        return future.get();
    }
    RateLimits limits{metered};
};

TEST_F(LeasedLimitTest, ASpentBudgetIsSendBudgetExhaustedWithRetryAfter) {
    auto lease = make_lease(1000, 10);
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(charge(check(lease.get(), 1000)).refusal) << i;
    const LimitVerdict refused = charge(check(lease.get(), 1000));
    ASSERT_TRUE(refused.refusal);
    EXPECT_EQ(refused.refusal->code, ErrorCode::send_budget_exhausted);
    EXPECT_EQ(refused.refusal->retry_after, 3600s);
    EXPECT_TRUE(refused.charged.empty()) << "a refusing lease gave nothing to refund";
}

TEST_F(LeasedLimitTest, AStoreFailureIsStoreUnavailableOrStoreFull) {
    auto lease = make_lease(1000, 10);
    store->fail(sdk::StoreStatus::unavailable);
    const LimitVerdict down = charge(check(lease.get(), 1000));
    ASSERT_TRUE(down.refusal);
    EXPECT_EQ(down.refusal->code, ErrorCode::store_unavailable);
    store->fail(sdk::StoreStatus::full);
    const LimitVerdict full = charge(check(lease.get(), 1000));
    ASSERT_TRUE(full.refusal);
    EXPECT_EQ(full.refusal->code, ErrorCode::store_full);
}

TEST_F(LeasedLimitTest, ARefundGoesBackToTheLeaseNotToTheStore) {
    auto lease = make_lease(1000, 10);
    std::vector<ChargedCounter> charged;
    for (int i = 0; i < 10; ++i) {
        LimitVerdict v = charge(check(lease.get(), 1000));
        ASSERT_EQ(v.charged.size(), 1u);
        EXPECT_EQ(v.charged.front().lease, lease.get());
        charged = v.charged;
    }
    bool refunded = false;
    limits.refund(charged, [&refunded] { refunded = true; });
    EXPECT_TRUE(refunded);
    EXPECT_EQ(store->calls(), 1);
    EXPECT_FALSE(charge(check(lease.get(), 1000)).refusal);
    EXPECT_EQ(store->calls(), 1) << "the refunded unit was spent again";
    EXPECT_EQ(store->count(kKey), 10);
}

}  // namespace
}  // namespace testino
