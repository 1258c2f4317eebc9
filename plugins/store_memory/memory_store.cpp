#include "memory_store.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <new>
#include <utility>

namespace testino::plugins {

namespace {

using sdk::StoreResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;

// Longer TTLs are clamped so expiry arithmetic on clock ticks cannot overflow.
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365 * 10);

bool same_digest(const sdk::CodeDigest& a, const sdk::CodeDigest& b) {
    // Constant time: how many leading bytes match must not show in the timing.
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

MemoryStore::MemoryStore(const MemoryStoreOptions& options, Now now)
    : max_codes_(std::max<std::size_t>(options.max_codes, 1)),
      max_counters_per_shard_(
          std::max<std::size_t>(options.max_counters / std::max<std::size_t>(options.shards, 1), 1)),
      sweep_interval_(std::max(options.sweep_interval, std::chrono::milliseconds(1))),
      now_(std::move(now)) {
    const std::size_t shard_count = std::max<std::size_t>(options.shards, 1);
    shards_.reserve(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<Shard>());
    sweeper_ = std::thread(&MemoryStore::run_sweeper, this);
}

MemoryStore::~MemoryStore() {
    {
        std::lock_guard lock(sweeper_mutex_);
        stopping_ = true;
    }
    sweeper_wake_.notify_all();
    sweeper_.join();
}

MemoryStore::Shard& MemoryStore::shard_for(const std::string& key) {
    return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

std::int64_t MemoryStore::now_ticks() const { return now_().time_since_epoch().count(); }

bool MemoryStore::try_reserve_slot() {
    std::size_t current = count_.load(std::memory_order_relaxed);
    while (current < max_codes_) {
        if (count_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

void MemoryStore::release_slots(std::size_t count) {
    if (count > 0) count_.fetch_sub(count, std::memory_order_relaxed);
}

StoreResult MemoryStore::put_code(const std::string& key, const sdk::CodeDigest& digest,
                                  std::chrono::seconds ttl, int max_attempts) try {
    ttl = std::clamp(ttl, std::chrono::seconds(0), kMaxTtl);
    const auto attempts = static_cast<std::uint16_t>(std::clamp(max_attempts, 0, 0xFFFF));
    Shard& shard = shard_for(key);

    // Two rounds: if the store is full, sweep expired codes (without holding this shard's
    // lock, since sweeping takes every shard's lock in turn) and try once more.
    for (int round = 0; round < 2; ++round) {
        {
            std::lock_guard lock(shard.mutex);
            const std::int64_t expires_at =
                now_ticks() + std::chrono::duration_cast<Clock::duration>(ttl).count();
            const Entry entry{digest, expires_at, attempts};
            shard.earliest_expiry = std::min(shard.earliest_expiry, expires_at);
            if (auto it = shard.codes.find(key); it != shard.codes.end()) {
                it->second = entry;  // a new code replaces the old one and its attempts
                return {};
            }
            if (try_reserve_slot()) {
                try {
                    shard.codes.emplace(key, entry);
                } catch (const std::bad_alloc&) {
                    release_slots(1);
                    throw;
                }
                return {};
            }
        }
        if (round == 0) make_room();
    }
    return {StoreStatus::full,
            "memory store full: " + std::to_string(max_codes_) + " codes pending, none expired"};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, std::string("memory store: ") + error.what()};
}

VerifyResult MemoryStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate) try {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.codes.find(key);
    if (it == shard.codes.end()) return {VerifyOutcome::not_found, 0, {}, {}};

    Entry& entry = it->second;
    const std::int64_t now = now_ticks();
    if (now >= entry.expires_at) {
        shard.codes.erase(it);
        release_slots(1);
        return {VerifyOutcome::not_found, 0, {}, {}};
    }
    if (entry.attempts_left == 0) {
        // Dead until it expires, so that a new guess cannot succeed before then.
        const auto remaining =
            std::chrono::ceil<std::chrono::seconds>(Clock::duration(entry.expires_at - now));
        return {VerifyOutcome::attempts_exhausted, 0, std::max(remaining, std::chrono::seconds(1)), {}};
    }
    if (same_digest(entry.digest, candidate)) {
        const int attempts_left = entry.attempts_left;
        shard.codes.erase(it);
        release_slots(1);
        return {VerifyOutcome::verified, attempts_left, {}, {}};
    }
    --entry.attempts_left;
    return {VerifyOutcome::mismatch, entry.attempts_left, {}, {}};
} catch (const std::exception& error) {
    return {VerifyOutcome::unavailable, 0, {}, std::string("memory store: ") + error.what()};
}

StoreResult MemoryStore::remove_code(const std::string& key, const sdk::CodeDigest& digest) try {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.codes.find(key);
    if (it != shard.codes.end() &&
        (same_digest(it->second.digest, digest) || now_ticks() >= it->second.expires_at)) {
        shard.codes.erase(it);
        release_slots(1);
    }
    return {};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, std::string("memory store: ") + error.what()};
}

void MemoryStore::put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                           int max_attempts, sdk::StoreCompletion<StoreResult> done) {
    done(put_code(key, digest, ttl, max_attempts));
}

void MemoryStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                     sdk::StoreCompletion<VerifyResult> done) {
    done(verify_and_consume(key, candidate));
}

void MemoryStore::remove_code(const std::string& key, const sdk::CodeDigest& digest,
                              sdk::StoreCompletion<StoreResult> done) {
    done(remove_code(key, digest));
}

void MemoryStore::hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                              sdk::StoreCompletion<sdk::CounterResult> done) {
    done(hit_counter(key, window, amount));
}

void MemoryStore::health(sdk::StoreCompletion<sdk::HealthReport> done) { done(health()); }

sdk::HealthReport MemoryStore::health() { return {true, std::to_string(size()) + " pending codes"}; }

std::size_t MemoryStore::size() const { return count_.load(std::memory_order_relaxed); }

std::size_t MemoryStore::sweep_shard(Shard& shard, std::int64_t now) {
    if (shard.earliest_expiry > now) return 0;
    std::size_t removed = 0;
    std::int64_t earliest = INT64_MAX;
    for (auto it = shard.codes.begin(); it != shard.codes.end();) {
        if (now >= it->second.expires_at) {
            it = shard.codes.erase(it);
            ++removed;
        } else {
            earliest = std::min(earliest, it->second.expires_at);
            ++it;
        }
    }
    shard.earliest_expiry = earliest;
    release_slots(removed);
    return removed;
}

std::size_t MemoryStore::sweep_expired() {
    const std::int64_t now = now_ticks();
    std::size_t removed = 0;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        removed += sweep_shard(*shard, now);
        sweep_counters(*shard, now);
    }
    return removed;
}

void MemoryStore::sweep_counters(Shard& shard, std::int64_t now) {
    for (auto it = shard.counters.begin(); it != shard.counters.end();) {
        it = now >= it->second.expires_at ? shard.counters.erase(it) : std::next(it);
    }
}

sdk::CounterResult MemoryStore::hit_counter(const std::string& key, std::chrono::seconds window,
                                            std::int64_t amount) {
    Shard& shard = shard_for(key);
    const std::int64_t now = now_ticks();
    std::lock_guard lock(shard.mutex);
    auto it = shard.counters.find(key);
    if (it != shard.counters.end() && now >= it->second.expires_at) {
        shard.counters.erase(it);
        it = shard.counters.end();
    }
    if (it == shard.counters.end()) {
        if (amount <= 0) return {sdk::StoreStatus::ok, 0, window, ""};  // reads create nothing
        if (shard.counters.size() >= max_counters_per_shard_) {
            sweep_counters(shard, now);
            // Still full: evict the counter closest to its end. Refusing instead would let
            // whoever fills the table (many source addresses) switch every limit off or on.
            if (shard.counters.size() >= max_counters_per_shard_) {
                auto oldest = std::min_element(
                    shard.counters.begin(), shard.counters.end(),
                    [](const auto& a, const auto& b) { return a.second.expires_at < b.second.expires_at; });
                shard.counters.erase(oldest);
            }
        }
        const std::int64_t length = std::chrono::duration_cast<Clock::duration>(window).count();
        it = shard.counters.emplace(key, Counter{0, now + length}).first;
    }
    it->second.value = std::max<std::int64_t>(it->second.value + amount, 0);
    const auto left = Clock::duration(it->second.expires_at - now);
    const auto reset_in = std::chrono::ceil<std::chrono::seconds>(left);
    return {sdk::StoreStatus::ok, it->second.value, std::max(reset_in, std::chrono::seconds(1)), ""};
}

std::size_t MemoryStore::counter_count() const {
    std::size_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        total += shard->counters.size();
    }
    return total;
}

bool MemoryStore::make_room() {
    const std::int64_t now = now_ticks();
    // Shards holding the oldest expired codes go first; stop as soon as a code fits.
    std::vector<std::pair<std::int64_t, Shard*>> candidates;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        if (shard->earliest_expiry <= now) candidates.emplace_back(shard->earliest_expiry, shard.get());
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [earliest, shard] : candidates) {
        std::lock_guard lock(shard->mutex);
        sweep_shard(*shard, now);
        if (size() < max_codes_) return true;
    }
    return size() < max_codes_;
}

void MemoryStore::run_sweeper() {
    std::unique_lock lock(sweeper_mutex_);
    while (!sweeper_wake_.wait_for(lock, sweep_interval_, [this] { return stopping_; })) {
        lock.unlock();
        sweep_expired();
        lock.lock();
    }
}

}  // namespace testino::plugins
