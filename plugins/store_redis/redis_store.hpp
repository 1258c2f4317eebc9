// The Redis OTP store: pending codes in Redis, shared by every server instance that points
// at the same Redis and database, and kept across server restarts.
//
// Key layout (one phone number's keys share a Redis Cluster hash slot through the `{...}`
// hash tag, so later per-number keys, e.g. send counters, can join the same scripts):
//   <key_prefix>{<e164>}:code   hash  d = HMAC-SHA256 digest (32 raw bytes),
//                                     a = attempts left;  PEXPIRE = the code's TTL
//   <key_prefix>count:<counter key>   string, the counter's value; PEXPIRE = its window
//                                     (the core's counter keys hold "{<e164>}" themselves)
// Each operation is one Lua script, run by SHA (EVALSHA) and loaded again after NOSCRIPT,
// so it is atomic across threads and server instances. Redis expires the keys itself.
//
// Asynchronous (plugin ABI 4): an operation only queues a request for the client's loop
// thread (redis_client.hpp), which calls `done` when Redis answered, or with `unavailable`
// when it failed or the deadline passed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis_client.hpp"
#include "testino/host.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

struct RedisStoreOptions {
    RedisClientOptions client;
    std::string key_prefix = "testino:";
};

class RedisStore final : public sdk::OtpStore {
public:
    // Never fails for an unreachable Redis or a refused password: the store starts,
    // reports unhealthy, and connects once Redis can be used. `host` logs state changes.
    // Waits (bounded) for a first PING, so that the start-up log says whether Redis is usable.
    RedisStore(RedisStoreOptions options, sdk::Host& host);
    // Answers every operation still queued or in flight `unavailable`, then returns.
    ~RedisStore() override;

    void put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                  int max_attempts, sdk::StoreCompletion<sdk::StoreResult> done) override;
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override;
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override;
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override;
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override;

    // The Redis key holding a phone number's code, and a counter's.
    std::string code_key(const std::string& key) const;
    std::string counter_key(const std::string& key) const;
    // How many times a script was (re)loaded into Redis after NOSCRIPT.
    std::size_t script_loads() const { return script_loads_.load(); }

private:
    // Runs `script` on `redis_key` with `args`; `finish` gets the outcome on the loop
    // thread, after the up/down state was logged.
    void run_script(const RedisScript& script, const std::string& redis_key,
                    const std::vector<std::string>& args, std::function<void(const RedisOutcome&)> finish);
    void observe(const RedisOutcome& outcome);  // logs changes of state
    void script_loaded(const RedisScript& script);
    std::string detail(const RedisFailure& failure) const;

    // Log a change of state once (not once per request): down with why, or up again.
    void note_up();
    void note_failure(const RedisFailure& failure);

    const RedisStoreOptions options_;
    const std::string endpoint_;  // for logs and health, without credentials
    sdk::Host& host_;
    const RedisScript put_script_;
    const RedisScript verify_script_;
    const RedisScript remove_script_;
    const RedisScript counter_script_;
    std::atomic<std::size_t> script_loads_{0};

    std::mutex state_mutex_;
    bool logged_state_known_ = false;
    bool logged_up_ = false;
    RedisFault logged_fault_ = RedisFault::unreachable;
    std::atomic<bool> up_logged_{false};  // logged_up_, readable without the mutex

    // Last: destroyed first, while everything its completions use still exists.
    std::unique_ptr<RedisClient> client_;
};

}  // namespace testino::plugins
