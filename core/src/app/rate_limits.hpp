// Abuse limits as store counters: a list of checks charged one after another, stopping at
// the first refusal, so a request refused by one limit costs none of the later ones.
// Only enabled limits become checks: a limit that is off builds no key and costs no
// round trip. A limit may be charged through a lease instead (the global send budgets,
// budget_lease.hpp): one store call buys several units, spent in this process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/metered_store.hpp"
#include "domain/errors.hpp"
#include "observability/metrics.hpp"

namespace testino {

class BudgetLease;

// One limit: at most `limit` hits of `key` per `window`.
struct LimitCheck {
    std::string key;
    int limit = 0;
    std::chrono::seconds window{0};
    metrics::Limit which;
    ErrorCode code = ErrorCode::rate_limited;
    const char* message = "";
    bool refundable = true;        // given back when the SMS does not go out
    bool log_refusal = false;      // a refusal is an error in the log (the global budgets)
    BudgetLease* lease = nullptr;  // charged from this lease, not by a store call of its own
};

// What charging one unit of a limit came to: from its store counter, or from a lease.
struct UnitCharge {
    sdk::StoreStatus status = sdk::StoreStatus::ok;
    bool within_limit = false;
    std::chrono::seconds reset_in{1};  // until the limit's window ends: a refusal's Retry-After
    std::uint64_t lease_window = 0;    // a leased unit's window, for its refund
    std::string detail;                // the store's failure, for the log
};

// A counter a request was charged to, for the refund.
struct ChargedCounter {
    std::string key;
    std::chrono::seconds window;
    BudgetLease* lease = nullptr;  // a leased unit goes back to its lease, not to the store
    std::uint64_t lease_window = 0;
};

struct LimitVerdict {
    std::optional<ApiError> refusal;      // the first limit that refused, or the store's failure
    std::vector<ChargedCounter> charged;  // refundable counters charged before it
};

class RateLimits {
public:
    using Done = std::function<void(LimitVerdict)>;

    explicit RateLimits(MeteredStore& store) : store_(store) {}

    // Adds one to each check's counter in order; `done` gets the first refusal, if any.
    // A counter the store cannot reach refuses too (fail closed): STORE_UNAVAILABLE.
    void charge(std::vector<LimitCheck> checks, const std::string& request_id, Done done);

    // Takes one off each counter (a leased unit goes back to its lease), then calls `done`
    // (failures are logged, not returned).
    void refund(const std::vector<ChargedCounter>& charged, std::function<void()> done);

    // The counter's value now (amount 0), for a limit checked before it is charged.
    void read(const std::string& key, std::chrono::seconds window,
              std::function<void(sdk::CounterResult)> done);

    // Adds `amount` and calls `done` once the store has answered (failures are logged).
    void add(const std::string& key, std::chrono::seconds window, std::int64_t amount,
             std::function<void()> done);

private:
    struct Run;
    void next(std::shared_ptr<Run> run);
    void settle(std::shared_ptr<Run> run, const UnitCharge& charge);

    MeteredStore& store_;
};

// The error the client gets for a store failure.
ApiError store_error(const sdk::StoreResult& result);

}  // namespace testino
