// The in-process OTP store: sharded tables of codes, of rate-limit counters and of
// refresh-token families (refresh_families.hpp), each shard
// under its own mutex, with a background sweeper for expired entries and a global bound on
// each table. Nothing live is ever evicted: a table with no room and nothing expired
// refuses (StoreStatus::full), found out without scanning (expiry_index.hpp). Nothing here
// waits for I/O, so every asynchronous operation completes inline, on the caller's thread,
// before it returns; the synchronous overloads are the same operations for code that holds
// a MemoryStore itself (its own tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "code_entry.hpp"
#include "expiry_index.hpp"
#include "records_queues.hpp"
#include "refresh_families.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

struct MemoryStoreOptions {
    std::size_t max_codes = 1000000;
    std::chrono::milliseconds sweep_interval{1000};
    std::size_t shards = 16;
    std::size_t max_counters = 1000000;          // rate-limit counters; beyond it new ones are refused
    std::size_t max_refresh_families = 1000000;  // signed-in sessions; beyond it new ones are refused
    std::size_t max_records = 1000000;           // idempotency keys and receipt lookups
    std::size_t max_queue_items = 100000;        // webhook deliveries waiting, all queues together
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

    // The same operations, answered as return values.
    sdk::StoreResult put_code(const std::string& key, const sdk::NewCode& code);
    sdk::VerifyResult verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                         const std::optional<sdk::FlowTag>& flow = std::nullopt);
    sdk::StoreResult remove_code(const std::string& key, const sdk::CodeDigest& digest);
    sdk::CounterResult hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount);
    sdk::StoreResult create_refresh(const std::string& family, const sdk::NewRefreshFamily& first);
    sdk::RefreshResult rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                      const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                                      std::chrono::seconds grace);
    sdk::RefreshResult revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented);
    sdk::HealthReport health();

    // Counters held, expired ones not yet reclaimed included.
    std::size_t counter_count() const;
    // Refresh-token families held, expired ones not yet reclaimed included.
    std::size_t refresh_family_count() const;
    // Keys with codes held, dead and not yet reclaimed ones included.
    std::size_t size() const;
    // Reclaims every expired code, counter and family now; returns how many codes. The sweeper calls
    // this; it visits only what expired.
    std::size_t sweep_expired();

private:
    struct Counter {
        std::int64_t value;
        std::int64_t expires_at;  // Clock ticks
        ExpiryHook hook;
    };
    struct Shard {
        Shard();
        mutable std::mutex mutex;
        ExpiringTable<CodeEntry> codes;
        ExpiringTable<Counter> counters;
        ExpiringTable<RefreshFamily> families;
    };
    template <typename Value>
    using TableOf = ExpiringTable<Value> Shard::*;

    Shard& shard_for(const std::string& key);
    std::int64_t now_ticks() const;
    // Runs `attempt(now)` under the shard's lock; it answers nullopt when it found `table`
    // full. Then the other shards reclaim what expired, and it runs once more.
    template <typename Value, typename Attempt>
    auto with_room(Shard& shard, TableOf<Value> table, TableBound& bound, Attempt&& attempt)
        -> decltype(attempt(std::int64_t{}));
    // A slot of `bound` for a new entry of `shard`'s `table` (the lock held): when full, the
    // shard's own expired entries are reclaimed first.
    template <typename Value>
    static bool take_slot(Shard& shard, TableOf<Value> table, TableBound& bound, std::int64_t now);
    // Reclaims expired entries of `table` in the shards that have some (known without
    // locking the others) until one slot is free; whether one is.
    template <typename Value>
    bool make_room(TableOf<Value> table, TableBound& bound, std::int64_t now);
    std::optional<sdk::StoreResult> try_put(Shard& shard, const std::string& key, const CodeToStore& code,
                                            std::int64_t now);
    std::optional<sdk::CounterResult> try_hit(Shard& shard, const std::string& key, std::int64_t window,
                                              std::int64_t amount, std::int64_t now);
    std::optional<sdk::StoreResult> try_create(Shard& shard, const std::string& family,
                                               const FamilyToStore& first, std::int64_t now);
    // Runs `step` on the live family under its shard's lock, and erases what it says to.
    template <typename Step>
    sdk::RefreshResult with_family(const std::string& family, Step&& step);
    void run_sweeper();

    TableBound codes_bound_;
    TableBound counters_bound_;
    TableBound families_bound_;
    const std::chrono::milliseconds sweep_interval_;
    const Now now_;
    std::vector<std::unique_ptr<Shard>> shards_;
    RecordsAndQueues records_;

    std::mutex sweeper_mutex_;
    std::condition_variable sweeper_wake_;
    bool stopping_ = false;
    std::thread sweeper_;  // last: starts once everything above exists
};

}  // namespace testino::plugins
