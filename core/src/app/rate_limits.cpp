#include "app/rate_limits.hpp"

#include <algorithm>
#include <atomic>

#include "app/budget_lease.hpp"
#include "observability/logging.hpp"

namespace testino {

ApiError store_error(const sdk::StoreResult& result) {
    if (result.status == sdk::StoreStatus::full) {
        ApiError e = make_error(ErrorCode::store_full, "The code store is full; try again in a minute");
        e.retry_after = std::chrono::seconds(60);
        return e;
    }
    return make_error(ErrorCode::store_unavailable, "The code store is unavailable; try again shortly");
}

struct RateLimits::Run {
    std::vector<LimitCheck> checks;
    std::size_t next = 0;
    std::string request_id;
    LimitVerdict verdict;
    Done done;
};

void RateLimits::charge(std::vector<LimitCheck> checks, const std::string& request_id, Done done) {
    auto run = std::make_shared<Run>();
    run->checks = std::move(checks);
    run->request_id = request_id;
    run->done = std::move(done);
    next(std::move(run));
}

void RateLimits::next(std::shared_ptr<Run> run) {
    if (run->next == run->checks.size()) {
        Done done = std::move(run->done);
        return done(std::move(run->verdict));
    }
    const LimitCheck& check = run->checks[run->next++];
    if (check.lease != nullptr) {
        return check.lease->take([this, run](UnitCharge charge) mutable { settle(std::move(run), charge); });
    }
    store_.hit_counter(check.key, check.window, 1,
                       [this, run, limit = check.limit](sdk::CounterResult counted) mutable {
                           settle(std::move(run), UnitCharge{counted.status, counted.count <= limit,
                                                             counted.reset_in, 0, std::move(counted.detail)});
                       });
}

void RateLimits::settle(std::shared_ptr<Run> run, const UnitCharge& charge) {
    const LimitCheck& check = run->checks[run->next - 1];
    if (charge.status != sdk::StoreStatus::ok) {
        log_error("store.counter_failed", {{"request_id", run->request_id}, {"detail", charge.detail}});
        run->verdict.refusal = store_error({charge.status, charge.detail});
        return run->done(std::move(run->verdict));
    }
    // A refused counter was still added to; a lease that refuses gave nothing.
    if (check.refundable && (charge.within_limit || check.lease == nullptr)) {
        run->verdict.charged.push_back({check.key, check.window, check.lease, charge.lease_window});
    }
    if (charge.within_limit) return next(std::move(run));
    metrics::global().rate_limit_refusal(check.which);
    if (check.log_refusal) {
        // The circuit breaker against SMS pumping tripped: ops must know at once.
        log_error("sms.budget_exhausted",
                  {{"request_id", run->request_id}, {"budget", check.key}, {"limit", check.limit}});
    }
    ApiError e = make_error(check.code, check.message);
    e.retry_after = std::max(charge.reset_in, std::chrono::seconds(1));
    run->verdict.refusal = std::move(e);
    run->done(std::move(run->verdict));
}

void RateLimits::refund(const std::vector<ChargedCounter>& charged, std::function<void()> done) {
    if (charged.empty()) return done();
    // All at once; `done` after the last answer.
    auto left = std::make_shared<std::atomic<std::size_t>>(charged.size());
    auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
    auto one_done = [left, shared_done] {
        if (left->fetch_sub(1) == 1) (*shared_done)();
    };
    for (const ChargedCounter& c : charged) {
        if (c.lease != nullptr) {
            c.lease->give_back(c.lease_window);
            one_done();
        } else {
            add(c.key, c.window, -1, one_done);
        }
    }
}

void RateLimits::read(const std::string& key, std::chrono::seconds window,
                      std::function<void(sdk::CounterResult)> done) {
    store_.hit_counter(key, window, 0, std::move(done));
}

void RateLimits::add(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     std::function<void()> done) {
    store_.hit_counter(key, window, amount, [done = std::move(done)](sdk::CounterResult result) {
        if (result.status != sdk::StoreStatus::ok) {
            log_warn("store.counter_failed", {{"detail", result.detail}});
        }
        done();
    });
}

}  // namespace testino
