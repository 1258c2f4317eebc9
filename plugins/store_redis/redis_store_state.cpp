// The Redis store's life and state: connecting at start-up, logging when Redis goes down or
// comes back, checking on every (re)connection that Redis will not evict the store's keys,
// and health.
#include <algorithm>
#include <atomic>
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
      client_(std::make_unique<RedisClient>(
          options_.client, RedisClientHooks{[this](const RedisScript& script) { script_loaded(script); },
                                            [this] { topology_changed(); }})) {
    // Connect once now, so that the start-up log says whether Redis is usable and the
    // factory can refuse a Redis that may evict our keys. The server builds its store
    // before serving, so waiting here holds no reactor thread; the wait is bounded by the
    // request's own deadline (plus slack), and a Redis that does not answer leaves the store
    // to connect later, on demand, and to check then.
    auto answered = std::make_shared<std::promise<std::optional<EvictionCheck>>>();
    std::future<std::optional<EvictionCheck>> answer = answered->get_future();
    check_eviction([answered](const std::optional<EvictionCheck>& check) { answered->set_value(check); });
    // A cluster's slot map is read first: two round trips.
    if (answer.wait_for(2 * options_.client.command_timeout + std::chrono::seconds(1)) !=
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

namespace {

// The verdict of one node, from its answer to CONFIG GET maxmemory*; nullopt when it could
// not be reached.
std::optional<EvictionCheck> eviction_verdict(const RedisOutcome& outcome) {
    try {
        if (outcome.reply) return judge_eviction(*outcome.reply);
        // CONFIG renamed away, or refused by an ACL (NOPERM): Redis itself works.
        if (outcome.failure.fault == RedisFault::reply_error)
            return eviction_unchecked(outcome.failure.detail);
    } catch (...) {}
    return std::nullopt;
}

int severity(EvictionCheck::Verdict verdict) {
    switch (verdict) {
        case EvictionCheck::Verdict::unsafe: return 2;
        case EvictionCheck::Verdict::unchecked: return 1;
        default: return 0;
    }
}

}  // namespace

// The answers of every primary asked, combined: the worst verdict, named by its node when
// there are several; nullopt when one could not be reached.
struct RedisStore::EvictionFanOut {
    std::mutex mutex;
    std::size_t left = 0;
    bool several = false;
    bool unreachable = false;
    RedisOutcome failure;  // the first unreachable one's (reply not kept)
    std::optional<EvictionCheck> worst;
    std::function<void(const std::optional<EvictionCheck>&)> done;
};

void RedisStore::check_eviction(std::function<void(const std::optional<EvictionCheck>&)> done) {
    if (eviction_checking_.exchange(true)) return;
    const RedisTopologyView topology = client_->topology();
    const bool cluster = options_.client.endpoint.topology == RedisEndpoint::Topology::cluster;
    if (cluster && !topology.known) {
        // The slot map is not read yet: a first request reads it, then every primary is asked.
        RedisRequest request;
        request.name = "PING";
        request.command = {"PING"};
        request.done = [this, done = std::move(done)](const RedisOutcome& outcome) mutable {
            if (!outcome.reply) {
                observe(outcome);
                eviction_checking_.store(false);
                if (done) done(std::nullopt);
                return;
            }
            check_eviction_on(client_->topology().primaries, std::move(done));
        };
        client_->submit(std::move(request));
        return;
    }
    check_eviction_on(cluster ? topology.primaries : std::vector<RedisHostPort>{}, std::move(done));
}

void RedisStore::check_eviction_on(const std::vector<RedisHostPort>& nodes,
                                   std::function<void(const std::optional<EvictionCheck>&)> done) {
    auto fan_out = std::make_shared<EvictionFanOut>();
    fan_out->left = std::max<std::size_t>(1, nodes.size());
    fan_out->several = nodes.size() > 1;
    fan_out->done = std::move(done);
    for (std::size_t i = 0; i < fan_out->left; ++i) {
        RedisRequest request;
        request.name = "CONFIG GET";
        request.command = {"CONFIG", "GET", "maxmemory*"};
        std::string where;
        if (!nodes.empty()) {
            request.node = nodes[i];
            where = nodes[i].describe() + ": ";
        }
        request.done = [this, fan_out, where](const RedisOutcome& outcome) {
            eviction_answered(*fan_out, where, outcome);
        };
        client_->submit(std::move(request));
    }
}

void RedisStore::eviction_answered(EvictionFanOut& fan_out, const std::string& where,
                                   const RedisOutcome& outcome) {
    std::optional<EvictionCheck> check = eviction_verdict(outcome);
    {
        std::lock_guard lock(fan_out.mutex);
        if (!check) {
            if (!fan_out.unreachable) fan_out.failure = {nullptr, outcome.failure};
            fan_out.unreachable = true;
        } else if (!fan_out.worst || severity(check->verdict) > severity(fan_out.worst->verdict)) {
            if (fan_out.several) check->detail = where + check->detail;
            fan_out.worst = std::move(check);
        }
        if (--fan_out.left > 0) return;
    }
    // The last answer: no other thread touches fan_out now.
    std::optional<EvictionCheck> verdict = fan_out.unreachable ? std::nullopt : fan_out.worst;
    try {
        if (verdict) {
            note_up();  // runs no second check: this one is still marked running
        } else {
            observe(fan_out.failure);
        }
    } catch (...) {}
    eviction_checking_.store(false);
    try {
        if (fan_out.done) fan_out.done(verdict);
    } catch (...) {
        // Logging and recording only.
    }
}

void RedisStore::topology_changed() {
    try {
        const RedisTopologyView topology = client_->topology();
        const std::string primaries = describe_nodes(topology.primaries);
        host_.log(sdk::LogLevel::info, "store.redis.topology",
                  {{"redis", endpoint_}, {"primaries", primaries}});
    } catch (...) {
        // Logging only.
    }
    // A new primary may be configured otherwise (a promoted replica, a new shard).
    check_eviction([this](const std::optional<EvictionCheck>& check) {
        if (check) apply_eviction_check(*check, false);
    });
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
    const RedisTopologyView topology = client_->topology();
    const bool cluster = options_.client.endpoint.topology == RedisEndpoint::Topology::cluster;
    // A cluster is healthy when every primary answers and every slot has one.
    const std::size_t asked =
        cluster && topology.known ? std::max<std::size_t>(1, topology.primaries.size()) : 1;
    auto left = std::make_shared<std::atomic<std::size_t>>(asked);
    auto failure = std::make_shared<std::pair<std::mutex, std::string>>();
    for (std::size_t i = 0; i < asked; ++i) {
        RedisRequest request;
        request.name = "PING";
        request.command = {"PING"};
        if (cluster && i < topology.primaries.size()) request.node = topology.primaries[i];
        request.done = [this, done, left, failure](const RedisOutcome& outcome) {
            observe(outcome);
            if (!outcome.reply) {
                std::lock_guard lock(failure->first);
                if (failure->second.empty()) failure->second = detail(outcome.failure);
            }
            if (left->fetch_sub(1) != 1) return;
            finish_with(done, [&]() -> sdk::HealthReport { return health_report(failure->second); });
        };
        client_->submit(std::move(request));
    }
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<sdk::HealthReport>(std::string("redis store: ") + error.what()); });
}

sdk::HealthReport RedisStore::health_report(const std::string& failure) {
    if (!failure.empty()) return failed<sdk::HealthReport>(failure);
    const RedisTopologyView topology = client_->topology();
    std::string where = endpoint_;
    switch (options_.client.endpoint.topology) {
        case RedisEndpoint::Topology::sentinel:
            if (!topology.primaries.empty()) {
                where += ": primary " + topology.primaries[0].describe();
            }
            break;
        case RedisEndpoint::Topology::cluster: {
            where += ": " + std::to_string(topology.primaries.size()) + " primaries (" +
                     describe_nodes(topology.primaries, " ") + "), " + std::to_string(topology.slots_served) +
                     " of " + std::to_string(kClusterSlots) + " slots served";
            if (topology.slots_served < kClusterSlots) return {false, where};
            break;
        }
        default: break;
    }
    std::lock_guard lock(state_mutex_);
    if (!eviction_unsafe_.empty()) return {false, where + ": " + eviction_unsafe_};
    return {true, where};
}

}  // namespace testino::plugins
