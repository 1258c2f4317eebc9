// The global send budgets without a hot key. Every send of every server instance is charged
// to the deployment's budget counters ("budget:hour", "budget:day"); on a clustered store
// each is one key on one node. A BudgetLease takes L units from its counter with one store
// call and spends them in this process, going back to the store only when they are used up:
// ~1/L store calls per send instead of 1.
//
// Accuracy: a unit is spent only after the store counted it within the limit, so the
// deployment never sends more than the budget. Units leased but unspent when the window ends
// are lost (up to L-1 per instance and budget, more only by refunds nobody reused, and a
// whole lease of an instance that stopped), so the budget may be under-used by up to
// instances x (L-1) per window. L is clamped to max(1, limit / 100): L-1 stays under 1% of
// the budget per instance.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/metered_store.hpp"
#include "app/rate_limits.hpp"
#include "config/config.hpp"

namespace testino {

class BudgetLease {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using Done = std::function<void(UnitCharge)>;

    // The lease size used for `limit`: `configured` clamped to [1, max(1, limit / 100)].
    static int effective_size(int configured, int limit);

    // A lease of effective_size(configured_size, limit) units of the counter `key`.
    BudgetLease(MeteredStore& store, std::string key, int limit, std::chrono::seconds window,
                int configured_size, Clock clock = std::chrono::steady_clock::now);
    BudgetLease(const BudgetLease&) = delete;
    BudgetLease& operator=(const BudgetLease&) = delete;

    // Takes one unit: from the lease when it has one, otherwise from a new lease (one store
    // call, which callers arriving meanwhile wait for). `done` runs on the caller's thread
    // or the store's, with no lock held. Once the store has no more to give, refuses without
    // asking it again until the window ends.
    void take(Done done);

    // A unit whose SMS did not go out goes back to the lease it came from, unless that
    // lease's window has ended (then it is dropped, as the store's window dropped it).
    void give_back(std::uint64_t lease_window);

    int size() const { return size_; }

private:
    using TimePoint = std::chrono::steady_clock::time_point;

    void fetch();
    void leased(const sdk::CounterResult& result, TimePoint asked_at);
    void open_window(const sdk::CounterResult& result, TimePoint asked_at);
    void drop_if_ended(TimePoint now);
    UnitCharge refusal(TimePoint now) const;

    MeteredStore& store_;
    const std::string key_;
    const int limit_;
    const std::chrono::seconds window_;
    const int size_;
    const Clock clock_;

    std::mutex mutex_;
    std::int64_t units_ = 0;       // left in the lease
    TimePoint ends_{};             // the lease ends here, no later than the store's window
    std::uint64_t window_id_ = 0;  // which store window the lease belongs to
    bool exhausted_ = false;       // the store gave less than asked: the budget is spent
    bool fetching_ = false;        // a lease request is in flight
    std::deque<Done> waiting_;     // callers waiting for it
};

// The deployment's send budgets (per hour, per day) as the last of send-otp's limit checks,
// each charged through a lease when its budget allows one (effective size > 1), else by one
// store call per send as the other limits are.
class SendBudgets {
public:
    SendBudgets(MeteredStore& store, const LimitsConfig& limits);
    ~SendBudgets();
    SendBudgets(const SendBudgets&) = delete;
    SendBudgets& operator=(const SendBudgets&) = delete;

    // Appends the enabled budgets' checks to `checks`.
    void append_checks(std::vector<LimitCheck>& checks) const;

private:
    struct Budget {
        LimitCheck check;
        std::unique_ptr<BudgetLease> lease;
    };
    std::vector<Budget> budgets_;
};

}  // namespace testino
