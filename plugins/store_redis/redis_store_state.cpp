// The Redis store's life and state: connecting at start-up, logging when Redis goes down or
// comes back, checking on every (re)connection that Redis will not evict the store's keys,
// and health.
#include <future>
#include <memory>
#include <utility>

#include "redis_results.hpp"
#include "redis_store.hpp"

namespace testino::plugins {

using redis_results::failed;
using redis_results::finish_with;

RedisStore::RedisStore(RedisStoreOptions options, sdk::Host& host)
    : options_(std::move(options)),
      endpoint_(options_.client.endpoint.describe()),
      host_(host),
      client_(std::make_unique<RedisClient>(options_.client,
                                            [this](const RedisScript& script) { script_loaded(script); })) {
    // Connect once now, so that the start-up log says whether Redis is usable and the
    // factory can refuse a Redis that may evict our keys. The server builds its store
    // before serving, so waiting here holds no reactor thread; the wait is bounded by the
    // request's own deadline (plus slack), and a Redis that does not answer leaves the store
    // to connect later, on demand, and to check then.
    auto answered = std::make_shared<std::promise<std::optional<EvictionCheck>>>();
    std::future<std::optional<EvictionCheck>> answer = answered->get_future();
    check_eviction([answered](const std::optional<EvictionCheck>& check) { answered->set_value(check); });
    if (answer.wait_for(options_.client.command_timeout + std::chrono::seconds(1)) !=
        std::future_status::ready) {
        return;
    }
    eviction_at_start_ = answer.get();
    if (eviction_at_start_) apply_eviction_check(*eviction_at_start_, true);
}

RedisStore::~RedisStore() { client_.reset(); }

void RedisStore::note_up() {
    if (up_logged_.load(std::memory_order_acquire)) return;  // the common case: no lock
    {
        std::lock_guard lock(state_mutex_);
        if (logged_state_known_ && logged_up_) return;
        host_.log(sdk::LogLevel::info,
                  logged_state_known_ ? "store.redis.recovered" : "store.redis.connected",
                  {{"redis", endpoint_}});
        logged_state_known_ = true;
        logged_up_ = true;
        up_logged_.store(true, std::memory_order_release);
    }
    // Redis may have come back another one (a restart with another config, a failover).
    check_eviction([this](const std::optional<EvictionCheck>& check) {
        if (check) apply_eviction_check(*check, false);
    });
}

void RedisStore::note_failure(const RedisFailure& failure) {
    std::lock_guard lock(state_mutex_);
    if (logged_state_known_ && !logged_up_ && logged_fault_ == failure.fault) return;
    // A refused password or database index is an operator's mistake: an error. An
    // unreachable Redis may be a restart: a warning.
    const bool config_fault =
        failure.fault == RedisFault::auth_failed || failure.fault == RedisFault::invalid_db;
    host_.log(config_fault ? sdk::LogLevel::error : sdk::LogLevel::warn, "store.redis.unavailable",
              {{"redis", endpoint_}, {"detail", failure.detail}});
    logged_state_known_ = true;
    logged_up_ = false;
    up_logged_.store(false, std::memory_order_release);
    logged_fault_ = failure.fault;
}

void RedisStore::observe(const RedisOutcome& outcome) {
    try {
        if (outcome.reply) {
            note_up();
        } else if (outcome.failure.fault != RedisFault::stopped) {  // shutting down is no Redis fault
            note_failure(outcome.failure);
        }
    } catch (...) {
        // Logging only.
    }
}

void RedisStore::script_loaded(const RedisScript& script) {
    script_loads_.fetch_add(1);
    host_.log(sdk::LogLevel::info, "store.redis.script_loaded", {{"script", script.name}});
}

void RedisStore::check_eviction(std::function<void(const std::optional<EvictionCheck>&)> done) {
    if (eviction_checking_.exchange(true)) return;
    RedisRequest request;
    request.name = "CONFIG GET";
    request.command = {"CONFIG", "GET", "maxmemory*"};
    request.done = [this, done = std::move(done)](const RedisOutcome& outcome) {
        std::optional<EvictionCheck> check;
        try {
            if (outcome.reply) {
                check = judge_eviction(*outcome.reply);
            } else if (outcome.failure.fault == RedisFault::reply_error) {
                // CONFIG renamed away, or refused by an ACL (NOPERM): Redis itself works.
                check = eviction_unchecked(outcome.failure.detail);
            }
        } catch (...) {
            check.reset();
        }
        if (check) {
            try {
                note_up();  // runs no second check: this one is still marked running
            } catch (...) {}
        } else {
            observe(outcome);
        }
        eviction_checking_.store(false);
        try {
            if (done) done(check);
        } catch (...) {
            // Logging and recording only.
        }
    };
    client_->submit(std::move(request));
}

void RedisStore::apply_eviction_check(const EvictionCheck& check, bool at_start) {
    using Verdict = EvictionCheck::Verdict;
    const bool unsafe = check.verdict == Verdict::unsafe && !options_.allow_eviction;
    try {
        const std::vector<sdk::LogField> fields{{"redis", endpoint_}, {"detail", check.detail}};
        if (check.verdict == Verdict::unchecked) {
            host_.log(sdk::LogLevel::warn, "store.redis.maxmemory_policy_unchecked", fields);
        } else if (check.verdict == Verdict::unsafe && options_.allow_eviction) {
            host_.log(sdk::LogLevel::warn, "store.redis.eviction_allowed", fields);
        } else if (unsafe && !at_start) {  // at start-up, the factory refuses to start instead
            host_.log(sdk::LogLevel::error, "store.redis.eviction_unsafe", fields);
        }
    } catch (...) {
        // Logging only.
    }
    std::lock_guard lock(state_mutex_);
    eviction_unsafe_ = unsafe ? check.detail : std::string();
}

void RedisStore::health(sdk::StoreCompletion<sdk::HealthReport> done) try {
    RedisRequest request;
    request.name = "PING";
    request.command = {"PING"};
    request.done = [this, done](const RedisOutcome& outcome) {
        observe(outcome);
        finish_with(done, [&]() -> sdk::HealthReport {
            if (!outcome.reply) return failed<sdk::HealthReport>(detail(outcome.failure));
            std::lock_guard lock(state_mutex_);
            if (!eviction_unsafe_.empty()) return {false, endpoint_ + ": " + eviction_unsafe_};
            return {true, endpoint_};
        });
    };
    client_->submit(std::move(request));
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<sdk::HealthReport>(std::string("redis store: ") + error.what()); });
}

}  // namespace testino::plugins
