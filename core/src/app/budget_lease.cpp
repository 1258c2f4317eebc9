#include "app/budget_lease.hpp"

#include <algorithm>

namespace testino {

int BudgetLease::effective_size(int configured, int limit) {
    return std::clamp(configured, 1, std::max(1, limit / 100));
}

BudgetLease::BudgetLease(MeteredStore& store, std::string key, int limit, std::chrono::seconds window,
                         int configured_size, Clock clock)
    : store_(store),
      key_(std::move(key)),
      limit_(limit),
      window_(window),
      size_(effective_size(configured_size, limit)),
      clock_(std::move(clock)) {}

void BudgetLease::take(Done done) {
    std::unique_lock lock(mutex_);
    const TimePoint now = clock_();
    drop_if_ended(now);
    if (units_ > 0) {
        --units_;
        const UnitCharge granted{sdk::StoreStatus::ok, true, std::chrono::seconds(0), window_id_, ""};
        lock.unlock();
        return done(granted);
    }
    if (exhausted_) {
        const UnitCharge refused = refusal(now);
        lock.unlock();
        return done(refused);
    }
    waiting_.push_back(std::move(done));
    if (fetching_) return;  // the lease on its way serves this caller too
    fetching_ = true;
    lock.unlock();
    fetch();
}

void BudgetLease::give_back(std::uint64_t lease_window) {
    std::lock_guard lock(mutex_);
    const TimePoint now = clock_();
    drop_if_ended(now);
    if (lease_window == window_id_ && now < ends_) ++units_;
}

void BudgetLease::fetch() {
    const TimePoint asked_at = clock_();
    store_.hit_counter(key_, window_, size_,
                       [this, asked_at](sdk::CounterResult result) { leased(result, asked_at); });
}

// The store's answer to a lease request: the units it granted serve the waiting callers in
// order; those left over are refused when the budget is spent, or wait for the next lease.
void BudgetLease::leased(const sdk::CounterResult& result, TimePoint asked_at) {
    std::vector<Done> granted;
    std::deque<Done> refused;
    UnitCharge grant{sdk::StoreStatus::ok, true, std::chrono::seconds(0), 0, ""};
    UnitCharge refusal{result.status, false, std::max(result.reset_in, std::chrono::seconds(1)), 0,
                       result.detail};
    bool again = false;
    {
        std::lock_guard lock(mutex_);
        if (result.status == sdk::StoreStatus::ok) {
            open_window(result, asked_at);
            grant.lease_window = window_id_;
            while (units_ > 0 && !waiting_.empty()) {
                --units_;
                granted.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
        }
        // A store failure fails every waiting caller closed, as one store call each would.
        if (result.status != sdk::StoreStatus::ok || exhausted_) refused.swap(waiting_);
        again = !waiting_.empty();
        fetching_ = again;
    }
    for (Done& done : granted) done(grant);
    for (Done& done : refused) done(refusal);
    if (again) fetch();
}

// Adds what the store granted to the lease, in the window the answer belongs to.
void BudgetLease::open_window(const sdk::CounterResult& result, TimePoint asked_at) {
    // The store counted the lease after `asked_at`, and rounds reset_in up to whole seconds:
    // its window ends after asked_at + reset_in - 1 s, so the lease ending there never spends
    // a unit past the window that counted it.
    const TimePoint ends = asked_at + result.reset_in - std::chrono::seconds(1);
    // Answers from one window agree on its end within a second or so; the next window ends at
    // least a whole window later.
    if (ends - ends_ > window_ / 2) {
        ++window_id_;
        units_ = 0;
        ends_ = ends;
    } else {
        ends_ = std::max(ends_, ends);
    }
    const std::int64_t before = result.count - size_;
    const std::int64_t granted = std::clamp<std::int64_t>(limit_ - before, 0, size_);
    units_ += granted;
    exhausted_ = granted < size_;
}

// A lease whose window has ended is dropped with whatever it had left.
void BudgetLease::drop_if_ended(TimePoint now) {
    if (now < ends_) return;
    units_ = 0;
    exhausted_ = false;
}

UnitCharge BudgetLease::refusal(TimePoint now) const {
    // Until the store's window ends: the lease's end, plus the second it ends early.
    const auto left = std::chrono::ceil<std::chrono::seconds>(ends_ - now) + std::chrono::seconds(1);
    return UnitCharge{sdk::StoreStatus::ok, false, std::max(left, std::chrono::seconds(1)), window_id_, ""};
}

// --- SendBudgets ------------------------------------------------------------------------

SendBudgets::SendBudgets(MeteredStore& store, const LimitsConfig& limits) {
    const char* message = "The service cannot send codes right now; try again later";
    const struct {
        const char* key;
        int limit;
        std::chrono::seconds window;
        metrics::Limit which;
    } budgets[] = {
        {"budget:hour", limits.budget_per_hour, std::chrono::hours(1), metrics::Limit::budget_hour},
        {"budget:day", limits.budget_per_day, std::chrono::hours(24), metrics::Limit::budget_day}};
    for (const auto& b : budgets) {
        if (b.limit <= 0) continue;
        Budget budget{
            {b.key, b.limit, b.window, b.which, ErrorCode::send_budget_exhausted, message, true, true},
            nullptr};
        // A lease of one would be a store call per send with refunds kept here: the plain
        // counter is that, with refunds that other instances can use.
        if (BudgetLease::effective_size(limits.budget_lease, b.limit) > 1) {
            budget.lease =
                std::make_unique<BudgetLease>(store, b.key, b.limit, b.window, limits.budget_lease);
            budget.check.lease = budget.lease.get();
        }
        budgets_.push_back(std::move(budget));
    }
}

SendBudgets::~SendBudgets() = default;

void SendBudgets::append_checks(std::vector<LimitCheck>& checks) const {
    for (const Budget& budget : budgets_) checks.push_back(budget.check);
}

}  // namespace testino
