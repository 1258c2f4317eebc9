// The Redis OTP store: pending codes in Redis, shared by every server instance that points
// at the same Redis and database, and kept across server restarts.
//
// Key layout (one phone number's keys share a Redis Cluster hash slot through the `{...}`
// hash tag, so later per-number keys, e.g. send counters, can join the same scripts):
//   <key_prefix>{<e164>}:code   hash: the number's current code, the code it replaced while
//                               that one's overlap lasts, their shared attempts
//                               (redis_scripts.hpp has the fields); PEXPIRE = the later end
//   <key_prefix>count:<counter key>   string, the counter's value; PEXPIRE = its window
//                                     (the core's counter keys hold "{<e164>}" themselves)
//   <key_prefix>refresh:{<family>}   hash: one refresh-token family (redis_scripts.hpp has
//                                    the fields); PEXPIRE = its current token's expiry. The
//                                    family id is the hash tag: a family is one slot
//   <key_prefix>rec:<record key>   string: one record (ABI 8); PEXPIRE = its ttl (the
//                                  core's record keys hold "{...}" themselves)
//   <key_prefix>q:<queue>:due      zset: a queue's item ids scored by due time (ms, Redis
//                                  TIME); no TTL, items stay until acked
//   <key_prefix>q:<queue>:items    hash: p:<id> -> payload, a:<id> -> attempts; no TTL.
//                                  Both keys share the queue name's hash tag (one slot)
// Each operation is one Lua script (redis_scripts.hpp; a record's put, get and remove and a
// queue's length are single commands), run by SHA (EVALSHA) and loaded
// again after NOSCRIPT, so it is atomic across threads and server instances. Redis expires
// the keys itself, so it must not evict them: the store checks maxmemory-policy whenever it
// connects (redis_eviction.hpp).
//
// Asynchronous (plugin ABI 4 and later): an operation only queues a request for the
// client's loop thread (redis_client.hpp), which calls `done` when Redis answered, or with
// `unavailable` when it failed or the deadline passed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "redis_client.hpp"
#include "redis_eviction.hpp"
#include "redis_scripts.hpp"
#include "testino/host.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

struct RedisStoreOptions {
    RedisClientOptions client;
    std::string key_prefix = "testino:";
    // Run although Redis may evict keys (maxmemory with a policy other than noeviction).
    bool allow_eviction = false;
    // A new code counts as stored once this many replicas have it (WAIT), at most
    // `wait_timeout` after the write; fewer in time: the send fails (unavailable). 0: as
    // soon as the primary has it (Redis replication is asynchronous: a failover right after
    // may lose it).
    int wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{100};
    // Items one queue may hold; an enqueue beyond: full.
    std::size_t max_queue_items = 100000;
};

class RedisStore final : public sdk::OtpStore {
public:
    // Never fails for an unreachable Redis or a refused password: the store starts,
    // reports unhealthy, and connects once Redis can be used. `host` logs state changes.
    // Waits (bounded) for a first answer to the eviction check, so that the start-up log
    // says whether Redis is usable, and eviction_at_start() whether it is safe.
    RedisStore(RedisStoreOptions options, sdk::Host& host);
    // Answers every operation still queued or in flight `unavailable`, then returns.
    ~RedisStore() override;

    void put_code(const std::string& key, const sdk::NewCode& code,
                  sdk::StoreCompletion<sdk::StoreResult> done) override;
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override;
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override;
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override;
    void create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                        sdk::StoreCompletion<sdk::StoreResult> done) override;
    void rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        const sdk::RefreshDigest& next, std::chrono::seconds ttl, std::chrono::seconds grace,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override;
    void revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override;
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override;

    // Records and queues (redis_store_records.cpp).
    bool keeps_records() const override { return true; }
    void claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                      sdk::StoreCompletion<sdk::RecordResult> done) override;
    void put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                    sdk::StoreCompletion<sdk::StoreResult> done) override;
    void get_record(const std::string& key, sdk::StoreCompletion<sdk::RecordResult> done) override;
    void remove_record(const std::string& key, sdk::StoreCompletion<sdk::StoreResult> done) override;
    void enqueue(const std::string& queue, const sdk::QueueItem& item, std::chrono::milliseconds delay,
                 sdk::StoreCompletion<sdk::StoreResult> done) override;
    void claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                   sdk::StoreCompletion<sdk::QueueBatch> done) override;
    void ack(const std::string& queue, const std::string& id,
             sdk::StoreCompletion<sdk::StoreResult> done) override;
    void queue_length(const std::string& queue, sdk::StoreCompletion<sdk::CounterResult> done) override;

    // The Redis key holding a phone number's code, a counter's, and a refresh family's.
    std::string code_key(const std::string& key) const;
    std::string counter_key(const std::string& key) const;
    std::string refresh_key(const std::string& family) const;
    // A record's key, and a queue's two keys {due, items} (one slot: the queue's hash tag).
    std::string record_key(const std::string& key) const;
    std::vector<std::string> queue_keys(const std::string& queue) const;
    // How many times a script was (re)loaded into Redis after NOSCRIPT.
    std::size_t script_loads() const { return script_loads_.load(); }
    // The eviction check the constructor waited for; nullopt when Redis did not answer.
    // The factory refuses to start on an unsafe one unless allow_eviction is set.
    const std::optional<EvictionCheck>& eviction_at_start() const { return eviction_at_start_; }

private:
    // Runs `script` on `redis_key` with `args`; `finish` gets the outcome on the loop
    // thread, after the up/down state was logged.
    // `replicate`: WAIT for options_.wait_replicas after it (the outcome is then WAIT's count).
    void run_script(const RedisScript& script, const std::string& redis_key,
                    const std::vector<std::string>& args, std::function<void(const RedisOutcome&)> finish,
                    bool replicate = false);
    // The same on several keys of one slot (the first picks the node in a cluster).
    void run_script(const RedisScript& script, const std::vector<std::string>& redis_keys,
                    const std::vector<std::string>& args, std::function<void(const RedisOutcome&)> finish,
                    bool replicate = false);
    // A plain command on `redis_key` (routed by it), e.g. GET.
    void run_command(const char* name, std::vector<std::string> command, const std::string& redis_key,
                     std::function<void(const RedisOutcome&)> finish);
    void observe(const RedisOutcome& outcome);  // logs changes of state
    void script_loaded(const RedisScript& script);
    std::string detail(const RedisFailure& failure) const;
    // A write's result: ok, full when Redis refused it for want of memory, else unavailable.
    sdk::StoreResult write_result(const RedisOutcome& outcome) const;
    // A put's result from WAIT's reply, when wait_replicas asks for it.
    sdk::StoreResult replicated(const redisReply& reply) const;

    // Log a change of state once (not once per request): down with why, or up again. Each
    // time the store is up after being down or unknown, it checks eviction again.
    void note_up();
    void note_failure(const RedisFailure& failure);

    // Asks Redis for maxmemory and its policy; `done` gets the verdict, or nullopt when
    // Redis could not be reached. Skipped while one is running.
    void check_eviction(std::function<void(const std::optional<EvictionCheck>&)> done);
    // Logs the verdict and, for one found after start-up, keeps the store's health down
    // while Redis may evict keys (at start-up the factory refuses to start instead).
    void apply_eviction_check(const EvictionCheck& check, bool at_start);
    // The check on these nodes (empty: wherever a key-less request goes), combined.
    struct EvictionFanOut;
    void check_eviction_on(const std::vector<RedisHostPort>& nodes,
                           std::function<void(const std::optional<EvictionCheck>&)> done);
    void eviction_answered(EvictionFanOut& fan_out, const std::string& where, const RedisOutcome& outcome);
    // The client found other primaries: log them, check them for eviction.
    void topology_changed();
    // Health once every node asked has answered; `failure` is the first one's failure.
    sdk::HealthReport health_report(const std::string& failure);

    const RedisStoreOptions options_;
    const std::string endpoint_;  // for logs and health, without credentials
    sdk::Host& host_;
    const RedisScripts scripts_;
    const RedisRecordScripts record_scripts_;
    std::atomic<std::size_t> script_loads_{0};

    std::mutex state_mutex_;
    bool logged_state_known_ = false;
    bool logged_up_ = false;
    RedisFault logged_fault_ = RedisFault::unreachable;
    std::atomic<bool> up_logged_{false};  // logged_up_, readable without the mutex
    std::string eviction_unsafe_;  // under state_mutex_: why health is down (an unsafe policy found later)
    std::atomic<bool> eviction_checking_{false};
    std::optional<EvictionCheck> eviction_at_start_;

    // Last: destroyed first, while everything its completions use still exists.
    std::unique_ptr<RedisClient> client_;
};

}  // namespace testino::plugins
