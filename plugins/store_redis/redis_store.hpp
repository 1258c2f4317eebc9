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
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "redis_pool.hpp"
#include "testino/host.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

struct RedisStoreOptions {
    RedisPoolOptions pool;
    std::string key_prefix = "testino:";
};

class RedisStore final : public sdk::OtpStore {
public:
    // Never fails for an unreachable Redis or a refused password: the store starts,
    // reports unhealthy, and connects once Redis can be used. `host` logs state changes.
    RedisStore(RedisStoreOptions options, sdk::Host& host);

    // Interim (blocking) until the store runs on hiredis's asynchronous API.
    void put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                  int max_attempts, sdk::StoreCompletion<sdk::StoreResult> done) override {
        done(put_code(key, digest, ttl, max_attempts));
    }
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        done(verify_and_consume(key, candidate));
    }
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override {
        done(remove_code(key, digest));
    }
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        done(hit_counter(key, window, amount));
    }
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override { done(health()); }

    sdk::StoreResult put_code(const std::string& key, const sdk::CodeDigest& digest,
                              std::chrono::seconds ttl, int max_attempts);
    sdk::VerifyResult verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate);
    sdk::StoreResult remove_code(const std::string& key, const sdk::CodeDigest& digest);
    sdk::CounterResult hit_counter(const std::string& key, std::chrono::seconds window,
                                   std::int64_t amount);
    sdk::HealthReport health();

    // The Redis key holding a phone number's code, and a counter's.
    std::string code_key(const std::string& key) const;
    std::string counter_key(const std::string& key) const;
    // How many times a script was (re)loaded into Redis after NOSCRIPT.
    std::size_t script_loads() const { return script_loads_.load(); }

    struct Script {
        const char* name;
        std::string body;
        std::string sha1;  // hex, as EVALSHA wants it
    };

private:
    // Runs `run(lease, failure)` on a pooled connection and turns an error reply into a
    // failure. A reused connection found closed by the server (Redis restarted) is retried
    // once on a fresh one. Logs changes between up and down. nullptr: `failure` says why.
    template <typename Exchange>
    RedisReplyPtr exchange(const char* what, Exchange&& run, RedisFailure& failure);
    // Runs a script on a pooled connection: EVALSHA, and on NOSCRIPT SCRIPT LOAD then
    // EVALSHA again.
    RedisReplyPtr run_script(const Script& script, const std::string& redis_key,
                             const std::vector<std::string>& args, RedisFailure& failure);
    RedisReplyPtr run_script_on(RedisLease& lease, const Script& script,
                                const std::vector<std::string>& command, RedisFailure& failure);

    // Log a change of state once (not once per request): down with why, or up again.
    void note_up();
    void note_failure(const RedisFailure& failure);

    const RedisStoreOptions options_;
    const std::string endpoint_;  // for logs and health, without credentials
    sdk::Host& host_;
    RedisPool pool_;
    const Script put_script_;
    const Script verify_script_;
    const Script remove_script_;
    const Script counter_script_;
    std::atomic<std::size_t> script_loads_{0};

    std::mutex state_mutex_;
    bool logged_state_known_ = false;
    bool logged_up_ = false;
    RedisFault logged_fault_ = RedisFault::unreachable;
    std::atomic<bool> up_logged_{false};  // logged_up_, readable without the mutex
};

}  // namespace testino::plugins
