#include "memory_store.hpp"

#include <algorithm>
#include <new>
#include <utility>

namespace testino::plugins {

namespace {

using sdk::RefreshOutcome;
using sdk::RefreshResult;
using sdk::StoreResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;

// Longer TTLs are clamped so expiry arithmetic on clock ticks cannot overflow.
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365 * 10);
constexpr std::int64_t kTicksPerSecond =
    std::chrono::duration_cast<MemoryStore::Clock::duration>(std::chrono::seconds(1)).count();
// Entries reclaimed at most per shard visit on a request's path; the sweeper takes the rest.
constexpr std::size_t kReclaimBatch = 64;
// Entries the sweeper reclaims per lock of a shard, so requests never wait long for it.
constexpr std::size_t kSweepBatch = 1024;

std::int64_t ticks_of(std::chrono::seconds duration, std::chrono::seconds at_least) {
    return std::chrono::duration_cast<MemoryStore::Clock::duration>(std::clamp(duration, at_least, kMaxTtl))
        .count();
}

std::string unavailable_detail(const std::exception& error) {
    return std::string("memory store: ") + error.what();
}

}  // namespace

MemoryStore::Shard::Shard() : codes(kTicksPerSecond), counters(kTicksPerSecond), families(kTicksPerSecond) {}

MemoryStore::MemoryStore(const MemoryStoreOptions& options, Now now)
    : codes_bound_(options.max_codes),
      counters_bound_(options.max_counters),
      families_bound_(options.max_refresh_families),
      sweep_interval_(std::max(options.sweep_interval, std::chrono::milliseconds(1))),
      now_(std::move(now)),
      records_(options.max_records, options.max_queue_items) {
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

template <typename Value, typename Attempt>
auto MemoryStore::with_room(Shard& shard, TableOf<Value> table, TableBound& bound, Attempt&& attempt)
    -> decltype(attempt(std::int64_t{})) {
    for (int round = 0;; ++round) {
        {
            std::lock_guard lock(shard.mutex);
            if (auto result = attempt(now_ticks())) return result;
        }
        // Without this shard's lock: making room takes other shards' locks.
        if (round == 1 || !make_room(table, bound, now_ticks())) return std::nullopt;
    }
}

template <typename Value>
bool MemoryStore::take_slot(Shard& shard, TableOf<Value> table, TableBound& bound, std::int64_t now) {
    if (bound.try_take()) return true;
    const std::size_t reclaimed = (shard.*table).reclaim(now, kReclaimBatch);
    bound.give_back(reclaimed);
    return reclaimed > 0 && bound.try_take();
}

template <typename Value>
bool MemoryStore::make_room(TableOf<Value> table, TableBound& bound, std::int64_t now) {
    // Shards with nothing expired are passed over on a lock-free hint, so a full table
    // with nothing to reclaim refuses after one load per shard, scanning nothing.
    for (auto& shard : shards_) {
        if (bound.has_room()) return true;
        if (!((*shard).*table).may_reclaim(now)) continue;
        std::lock_guard lock(shard->mutex);
        bound.give_back(((*shard).*table).reclaim(now, kReclaimBatch));
    }
    return bound.has_room();
}

// --- codes -------------------------------------------------------------------------------

std::optional<StoreResult> MemoryStore::try_put(Shard& shard, const std::string& key, const CodeToStore& code,
                                                std::int64_t now) {
    auto& codes = shard.codes;
    if (auto it = codes.find(key); it != codes.end()) {
        const std::int64_t filed_at = it->second.expires_at();
        replace_code(it->second, code, now);  // an expired entry's slot is reused
        codes.refile(it, filed_at, it->second.expires_at());
        return StoreResult{};
    }
    if (!take_slot(shard, &Shard::codes, codes_bound_, now)) return std::nullopt;
    try {
        CodeEntry entry = first_code(code, now);
        const std::int64_t expires_at = entry.expires_at();
        codes.insert(key, std::move(entry), expires_at);
    } catch (const std::bad_alloc&) {
        codes_bound_.give_back(1);
        throw;
    }
    return StoreResult{};
}

StoreResult MemoryStore::put_code(const std::string& key, const sdk::NewCode& code) try {
    const CodeToStore to_store{code.digest, code.flow, ticks_of(code.ttl, std::chrono::seconds(0)),
                               ticks_of(code.overlap, std::chrono::seconds(0)),
                               static_cast<std::uint16_t>(std::clamp(code.max_attempts, 0, 0xFFFF))};
    Shard& shard = shard_for(key);
    const auto stored = with_room(shard, &Shard::codes, codes_bound_,
                                  [&](std::int64_t now) { return try_put(shard, key, to_store, now); });
    if (stored) return *stored;
    return {StoreStatus::full, "memory store full: " + std::to_string(codes_bound_.max()) +
                                   " numbers have a live code, none expired (store.memory.max_codes)"};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, unavailable_detail(error)};
}

VerifyResult MemoryStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                             const std::optional<sdk::FlowTag>& flow) try {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.codes.find(key);
    if (it == shard.codes.end()) return {VerifyOutcome::not_found, 0, {}, {}};
    const std::int64_t filed_at = it->second.expires_at();
    const VerifyStep step = verify_code(it->second, candidate, flow, now_ticks());
    if (step.erase) {
        shard.codes.erase(it, filed_at);
        codes_bound_.give_back(1);
    } else if (it->second.expires_at() != filed_at) {
        shard.codes.refile(it, filed_at, it->second.expires_at());
    }
    return step.result;
} catch (const std::exception& error) {
    return {VerifyOutcome::unavailable, 0, {}, unavailable_detail(error)};
}

StoreResult MemoryStore::remove_code(const std::string& key, const sdk::CodeDigest& digest) try {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.codes.find(key);
    if (it == shard.codes.end()) return {};
    const std::int64_t filed_at = it->second.expires_at();
    if (plugins::remove_code(it->second, digest, now_ticks())) {
        shard.codes.erase(it, filed_at);
        codes_bound_.give_back(1);
    } else if (it->second.expires_at() != filed_at) {
        shard.codes.refile(it, filed_at, it->second.expires_at());
    }
    return {};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, unavailable_detail(error)};
}

// --- counters ----------------------------------------------------------------------------

std::optional<sdk::CounterResult> MemoryStore::try_hit(Shard& shard, const std::string& key,
                                                       std::int64_t window, std::int64_t amount,
                                                       std::int64_t now) {
    auto& counters = shard.counters;
    auto it = counters.find(key);
    if (it != counters.end() && now >= it->second.expires_at) {
        counters.erase(it, it->second.expires_at);  // a counter's expiry never changes
        counters_bound_.give_back(1);
        it = counters.end();
    }
    if (it == counters.end()) {
        const auto whole_window = std::chrono::ceil<std::chrono::seconds>(Clock::duration(window));
        if (amount <= 0)
            return sdk::CounterResult{StoreStatus::ok, 0, whole_window, ""};  // reads create nothing
        // A live counter is never evicted: whoever fills the table (many source addresses)
        // must not be able to reset the limits of others. Full means refused (fail closed).
        if (!take_slot(shard, &Shard::counters, counters_bound_, now)) return std::nullopt;
        try {
            it = counters.insert(key, Counter{0, now + window, {}}, now + window);
        } catch (const std::bad_alloc&) {
            counters_bound_.give_back(1);
            throw;
        }
    }
    it->second.value = std::max<std::int64_t>(it->second.value + amount, 0);
    const auto reset_in =
        std::chrono::ceil<std::chrono::seconds>(Clock::duration(it->second.expires_at - now));
    return sdk::CounterResult{StoreStatus::ok, it->second.value, std::max(reset_in, std::chrono::seconds(1)),
                              ""};
}

sdk::CounterResult MemoryStore::hit_counter(const std::string& key, std::chrono::seconds window,
                                            std::int64_t amount) try {
    const std::int64_t length = ticks_of(window, std::chrono::seconds(1));
    Shard& shard = shard_for(key);
    const auto counted = with_room(shard, &Shard::counters, counters_bound_, [&](std::int64_t now) {
        return try_hit(shard, key, length, amount, now);
    });
    if (counted) return *counted;
    return {StoreStatus::full,
            0,
            {},
            "memory store full: " + std::to_string(counters_bound_.max()) +
                " rate-limit counters in their window, none expired (store.memory.max_counters)"};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, 0, {}, unavailable_detail(error)};
}

// --- refresh-token families --------------------------------------------------------------

std::optional<StoreResult> MemoryStore::try_create(Shard& shard, const std::string& family,
                                                   const FamilyToStore& first, std::int64_t now) {
    auto& families = shard.families;
    RefreshFamily entry = first_token(first, now);
    if (auto it = families.find(family); it != families.end()) {
        // Replaced in place (an expired one's slot is reused); the index still holds its hook.
        const std::int64_t filed_at = it->second.expires_at;
        entry.hook = it->second.hook;
        it->second = std::move(entry);
        families.refile(it, filed_at, it->second.expires_at);
        return StoreResult{};
    }
    // Like a counter, a live family is never evicted: that would sign someone out.
    if (!take_slot(shard, &Shard::families, families_bound_, now)) return std::nullopt;
    try {
        const std::int64_t expires_at = entry.expires_at;
        families.insert(family, std::move(entry), expires_at);
    } catch (const std::bad_alloc&) {
        families_bound_.give_back(1);
        throw;
    }
    return StoreResult{};
}

template <typename Step>
RefreshResult MemoryStore::with_family(const std::string& family, Step&& step) {
    Shard& shard = shard_for(family);
    std::lock_guard lock(shard.mutex);
    auto it = shard.families.find(family);
    if (it == shard.families.end()) return {RefreshOutcome::not_found, {}, {}, {}};
    const std::int64_t now = now_ticks();
    const std::int64_t filed_at = it->second.expires_at;
    RefreshStep done =
        now >= filed_at ? RefreshStep{{RefreshOutcome::not_found, {}, {}, {}}, true} : step(it->second, now);
    if (done.erase) {
        shard.families.erase(it, filed_at);
        families_bound_.give_back(1);
    } else if (it->second.expires_at != filed_at) {
        shard.families.refile(it, filed_at, it->second.expires_at);
    }
    return std::move(done.result);
}

StoreResult MemoryStore::create_refresh(const std::string& family, const sdk::NewRefreshFamily& first) try {
    const FamilyToStore to_store{first.digest, first.subject, ticks_of(first.ttl, std::chrono::seconds(0)),
                                 ticks_of(first.max_age, std::chrono::seconds(0))};
    Shard& shard = shard_for(family);
    const auto stored = with_room(shard, &Shard::families, families_bound_,
                                  [&](std::int64_t now) { return try_create(shard, family, to_store, now); });
    if (stored) return *stored;
    return {StoreStatus::full,
            "memory store full: " + std::to_string(families_bound_.max()) +
                " refresh-token families live, none expired (store.memory.max_refresh_families)"};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, unavailable_detail(error)};
}

RefreshResult MemoryStore::rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                          const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                                          std::chrono::seconds grace) try {
    const std::int64_t ttl_ticks = ticks_of(ttl, std::chrono::seconds(0));
    const std::int64_t grace_ticks = ticks_of(grace, std::chrono::seconds(0));
    return with_family(family, [&](RefreshFamily& entry, std::int64_t now) {
        return rotate_family(entry, presented, next, ttl_ticks, grace_ticks, now);
    });
} catch (const std::exception& error) {
    return {RefreshOutcome::unavailable, {}, {}, unavailable_detail(error)};
}

RefreshResult MemoryStore::revoke_refresh(const std::string& family,
                                          const sdk::RefreshDigest& presented) try {
    return with_family(family,
                       [&](RefreshFamily& entry, std::int64_t) { return revoke_family(entry, presented); });
} catch (const std::exception& error) {
    return {RefreshOutcome::unavailable, {}, {}, unavailable_detail(error)};
}

// --- the asynchronous interface, health, sweeping ----------------------------------------

void MemoryStore::put_code(const std::string& key, const sdk::NewCode& code,
                           sdk::StoreCompletion<StoreResult> done) {
    done(put_code(key, code));
}

void MemoryStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                     const std::optional<sdk::FlowTag>& flow,
                                     sdk::StoreCompletion<VerifyResult> done) {
    done(verify_and_consume(key, candidate, flow));
}

void MemoryStore::remove_code(const std::string& key, const sdk::CodeDigest& digest,
                              sdk::StoreCompletion<StoreResult> done) {
    done(remove_code(key, digest));
}

void MemoryStore::hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                              sdk::StoreCompletion<sdk::CounterResult> done) {
    done(hit_counter(key, window, amount));
}

void MemoryStore::create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                                 sdk::StoreCompletion<StoreResult> done) {
    done(create_refresh(family, first));
}

void MemoryStore::rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                 const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                                 std::chrono::seconds grace, sdk::StoreCompletion<RefreshResult> done) {
    done(rotate_refresh(family, presented, next, ttl, grace));
}

void MemoryStore::revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                 sdk::StoreCompletion<RefreshResult> done) {
    done(revoke_refresh(family, presented));
}

void MemoryStore::health(sdk::StoreCompletion<sdk::HealthReport> done) { done(health()); }

sdk::HealthReport MemoryStore::health() { return {true, std::to_string(size()) + " pending codes"}; }

std::size_t MemoryStore::size() const { return codes_bound_.used(); }

std::size_t MemoryStore::counter_count() const { return counters_bound_.used(); }

std::size_t MemoryStore::refresh_family_count() const { return families_bound_.used(); }

// --- records and queues: each completes inline, like the rest ---------------------------

void MemoryStore::claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                               sdk::StoreCompletion<sdk::RecordResult> done) {
    done(records_.claim(key, value, ticks_of(ttl, std::chrono::seconds(1)), now_ticks()));
}

void MemoryStore::put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                             sdk::StoreCompletion<StoreResult> done) {
    done(records_.put(key, value, ticks_of(ttl, std::chrono::seconds(1)), now_ticks()));
}

void MemoryStore::get_record(const std::string& key, sdk::StoreCompletion<sdk::RecordResult> done) {
    done(records_.get(key, now_ticks()));
}

void MemoryStore::remove_record(const std::string& key, sdk::StoreCompletion<StoreResult> done) {
    done(records_.remove(key));
}

void MemoryStore::enqueue(const std::string& queue, const sdk::QueueItem& item,
                          std::chrono::milliseconds delay, sdk::StoreCompletion<StoreResult> done) {
    const auto capped = std::clamp(delay, std::chrono::milliseconds(0),
                                   std::chrono::duration_cast<std::chrono::milliseconds>(kMaxTtl));
    done(records_.enqueue(queue, item,
                          now_ticks() + std::chrono::duration_cast<Clock::duration>(capped).count()));
}

void MemoryStore::claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                            sdk::StoreCompletion<sdk::QueueBatch> done) {
    const auto capped = std::clamp(lease, std::chrono::milliseconds(0),
                                   std::chrono::duration_cast<std::chrono::milliseconds>(kMaxTtl));
    done(records_.claim_due(queue, max, std::chrono::duration_cast<Clock::duration>(capped).count(),
                            now_ticks()));
}

void MemoryStore::ack(const std::string& queue, const std::string& id,
                      sdk::StoreCompletion<StoreResult> done) {
    done(records_.ack(queue, id));
}

void MemoryStore::queue_length(const std::string& queue, sdk::StoreCompletion<sdk::CounterResult> done) {
    done({StoreStatus::ok,
          static_cast<std::int64_t>(records_.queue_length(queue)),
          std::chrono::seconds(0),
          {}});
}

std::size_t MemoryStore::sweep_expired() {
    const std::int64_t now = now_ticks();
    while (records_.sweep(now, kSweepBatch) == kSweepBatch) {}
    std::size_t codes_removed = 0;
    for (auto& shard : shards_) {
        for (bool more = true; more;) {
            std::lock_guard lock(shard->mutex);
            const std::size_t codes = shard->codes.reclaim(now, kSweepBatch);
            const std::size_t counters = shard->counters.reclaim(now, kSweepBatch);
            const std::size_t families = shard->families.reclaim(now, kSweepBatch);
            codes_bound_.give_back(codes);
            counters_bound_.give_back(counters);
            families_bound_.give_back(families);
            codes_removed += codes;
            more = codes == kSweepBatch || counters == kSweepBatch || families == kSweepBatch;
        }
    }
    return codes_removed;
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
