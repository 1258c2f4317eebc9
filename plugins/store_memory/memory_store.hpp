// The in-process OTP store: sharded hash maps, each under its own mutex, with a
// background sweeper for expired codes and a global bound on the number of codes.
// Nothing here waits for I/O, so every asynchronous operation completes inline, on the
// caller's thread, before it returns; the synchronous overloads are the same operations
// for code that holds a MemoryStore itself (its own tests).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "testino/otp_store.hpp"

namespace testino::plugins {

struct MemoryStoreOptions {
    std::size_t max_codes = 1000000;
    std::chrono::milliseconds sweep_interval{1000};
    std::size_t shards = 16;
    std::size_t max_counters = 1000000;  // rate-limit counters; the oldest are evicted beyond
};

class MemoryStore final : public sdk::OtpStore {
public:
    using Clock = std::chrono::steady_clock;
    // Tests inject a clock to move time without sleeping; the server uses the real one.
    using Now = std::function<Clock::time_point()>;

    explicit MemoryStore(const MemoryStoreOptions& options, Now now = &Clock::now);
    ~MemoryStore() override;  // stops and joins the sweeper

    MemoryStore(const MemoryStore&) = delete;
    MemoryStore& operator=(const MemoryStore&) = delete;

    // sdk::OtpStore: each calls `done` before it returns.
    void put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                  int max_attempts, sdk::StoreCompletion<sdk::StoreResult> done) override;
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override;
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override;
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override;
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override;

    // The same operations, answered as return values.
    sdk::StoreResult put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                              int max_attempts);
    sdk::VerifyResult verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate);
    sdk::StoreResult remove_code(const std::string& key, const sdk::CodeDigest& digest);
    sdk::CounterResult hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount);
    sdk::HealthReport health();

    // Counters held, expired ones not yet swept included.
    std::size_t counter_count() const;

    // Codes held, dead and not yet swept ones included.
    std::size_t size() const;
    // Removes every expired code now; returns how many. The sweeper calls this.
    std::size_t sweep_expired();

private:
    // Kept small: one of these per pending code (about 120 bytes with the map node).
    struct Entry {
        sdk::CodeDigest digest;
        std::int64_t expires_at;  // Clock ticks (time_since_epoch().count())
        std::uint16_t attempts_left;
    };
    struct Counter {
        std::int64_t value;
        std::int64_t expires_at;  // Clock ticks
    };
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Entry> codes;
        std::unordered_map<std::string, Counter> counters;
        // No code in this shard expires before this (a lower bound, exact after a sweep),
        // so sweeps skip shards with nothing to remove without scanning them.
        std::int64_t earliest_expiry = INT64_MAX;
    };

    Shard& shard_for(const std::string& key);
    std::int64_t now_ticks() const;
    std::size_t sweep_shard(Shard& shard, std::int64_t now);     // caller holds shard.mutex
    static void sweep_counters(Shard& shard, std::int64_t now);  // caller holds shard.mutex
    bool make_room();  // sweeps expired codes, oldest first, until one more code fits
    bool try_reserve_slot();
    void release_slots(std::size_t count);
    void run_sweeper();

    const std::size_t max_codes_;
    const std::size_t max_counters_per_shard_;
    const std::chrono::milliseconds sweep_interval_;
    const Now now_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::size_t> count_{0};

    std::mutex sweeper_mutex_;
    std::condition_variable sweeper_wake_;
    bool stopping_ = false;
    std::thread sweeper_;  // last: starts once everything above exists
};

}  // namespace testino::plugins
