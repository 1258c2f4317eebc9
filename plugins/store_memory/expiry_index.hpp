// The memory store's tables (codes, counters): each shard's entries with an index of when
// they expire, so that expired entries are found without scanning, and the bound on how
// many entries a table may hold.
//
// ExpiryIndex files each entry in a bucket per second of expiry (the bucket of an expiry is
// the second it ends in, rounded up), so every entry of a bucket whose second has passed is
// surely expired. Adding, moving and removing an entry are O(1) plus O(log b) for the b
// buckets in use (at most one per second of the longest TTL): each entry remembers its
// slot in its bucket, and a removal moves the bucket's last entry into the slot. The bucket
// is not stored (it follows from the expiry the entry was filed under, which the caller
// passes back): 4 bytes a pending code instead of 16, which the memory bound needs.
// Reclaiming visits only expired entries. The caller holds the lock of the table's shard.
// Entries are still checked against their exact expiry when looked up; the index only says
// what can be reclaimed, at most a second late.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace testino::plugins {

// Where an entry is filed in its bucket; part of each entry (`hook` in the table's value
// type).
struct ExpiryHook {
    std::uint32_t slot = 0;
};

// Node is a table's value_type, std::pair<const Key, Value>, with `Value::hook`; nodes of
// std::unordered_map keep their address until erased, so the index holds pointers to them.
template <typename Node>
class ExpiryIndex {
public:
    explicit ExpiryIndex(std::int64_t ticks_per_bucket)
        : ticks_per_bucket_(std::max<std::int64_t>(ticks_per_bucket, 1)) {}

    void add(Node& node, std::int64_t expires_at) {
        const std::int64_t bucket = bucket_of(expires_at);
        std::vector<Node*>& entries = buckets_[bucket];
        try {
            entries.push_back(&node);
        } catch (...) {
            if (entries.empty()) buckets_.erase(bucket);  // no empty bucket is ever left behind
            throw;
        }
        node.second.hook.slot = static_cast<std::uint32_t>(entries.size() - 1);
    }

    // `filed_at`: the expiry the entry was last added or moved with.
    void remove(Node& node, std::int64_t filed_at) {
        const auto it = buckets_.find(bucket_of(filed_at));
        if (it == buckets_.end()) return;
        std::vector<Node*>& entries = it->second;
        const std::uint32_t slot = node.second.hook.slot;
        if (slot >= entries.size() || entries[slot] != &node) return;
        entries[slot] = entries.back();
        entries[slot]->second.hook.slot = slot;
        entries.pop_back();
        if (entries.empty()) buckets_.erase(it);
    }

    // After the entry's expiry changed from `filed_at` to `expires_at`.
    void move(Node& node, std::int64_t filed_at, std::int64_t expires_at) {
        if (bucket_of(expires_at) == bucket_of(filed_at)) return;
        remove(node, filed_at);
        add(node, expires_at);
    }

    // The first time at which some entry can be reclaimed (INT64_MAX when there is none).
    std::int64_t first_reclaimable_at() const {
        return buckets_.empty() ? INT64_MAX : buckets_.begin()->first * ticks_per_bucket_;
    }
    // The time from which an entry expiring at `expires_at` can be reclaimed.
    std::int64_t reclaimable_at(std::int64_t expires_at) const {
        return bucket_of(expires_at) * ticks_per_bucket_;
    }

    // Takes up to `limit` entries out of buckets that ended by `now`, oldest first, and
    // hands each to `reclaim` (which erases it from the table). Returns how many.
    template <typename Reclaim>
    std::size_t take_expired(std::int64_t now, std::size_t limit, Reclaim&& reclaim) {
        std::size_t taken = 0;
        while (taken < limit && !buckets_.empty() && buckets_.begin()->first * ticks_per_bucket_ <= now) {
            std::vector<Node*>& entries = buckets_.begin()->second;
            Node* node = entries.back();
            entries.pop_back();
            if (entries.empty()) buckets_.erase(buckets_.begin());
            reclaim(*node);
            ++taken;
        }
        return taken;
    }

private:
    std::int64_t bucket_of(std::int64_t expires_at) const {
        // Rounded up, so that a bucket's end is at or after every expiry in it.
        const std::int64_t whole = expires_at / ticks_per_bucket_;
        return expires_at % ticks_per_bucket_ > 0 ? whole + 1 : whole;
    }

    const std::int64_t ticks_per_bucket_;
    std::map<std::int64_t, std::vector<Node*>> buckets_;
};

// How many entries a table (all its shards together) may hold, and how many it holds.
class TableBound {
public:
    explicit TableBound(std::size_t max) : max_(std::max<std::size_t>(max, 1)) {}

    bool try_take() {
        std::size_t current = used_.load(std::memory_order_relaxed);
        while (current < max_) {
            if (used_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) return true;
        }
        return false;
    }
    void give_back(std::size_t count) {
        if (count > 0) used_.fetch_sub(count, std::memory_order_relaxed);
    }
    bool has_room() const { return used_.load(std::memory_order_relaxed) < max_; }
    std::size_t used() const { return used_.load(std::memory_order_relaxed); }
    std::size_t max() const { return max_; }

private:
    const std::size_t max_;
    std::atomic<std::size_t> used_{0};
};

// One shard's part of a table: the entries by key, and their ExpiryIndex kept in step.
// Everything but may_reclaim() is called with the shard's lock held.
template <typename Value>
class ExpiringTable {
public:
    using Map = std::unordered_map<std::string, Value>;
    using iterator = typename Map::iterator;

    explicit ExpiringTable(std::int64_t ticks_per_bucket) : index_(ticks_per_bucket) {}

    iterator find(const std::string& key) { return entries_.find(key); }
    iterator end() { return entries_.end(); }
    std::size_t size() const { return entries_.size(); }

    // `key` must be absent.
    iterator insert(const std::string& key, Value value, std::int64_t expires_at) {
        const iterator it = entries_.emplace(key, std::move(value)).first;
        try {
            index_.add(*it, expires_at);
        } catch (...) {
            entries_.erase(it);
            throw;
        }
        publish();
        return it;
    }
    // After the entry's expiry changed from `filed_at` (what it was inserted or last refiled
    // with) to `expires_at`.
    void refile(iterator it, std::int64_t filed_at, std::int64_t expires_at) {
        index_.move(*it, filed_at, expires_at);
        publish();
    }
    void erase(iterator it, std::int64_t filed_at) {
        index_.remove(*it, filed_at);
        entries_.erase(it);
        publish();
    }
    // Erases up to `limit` entries whose expiry bucket ended by `now`; returns how many.
    std::size_t reclaim(std::int64_t now, std::size_t limit) {
        const std::size_t reclaimed = index_.take_expired(
            now, limit, [this](auto& node) { entries_.erase(entries_.find(node.first)); });
        if (reclaimed > 0) publish();
        return reclaimed;
    }
    // Whether some entry can be reclaimed at `now`; any thread, without the lock (a hint).
    bool may_reclaim(std::int64_t now) const {
        return reclaimable_at_.load(std::memory_order_relaxed) <= now;
    }

private:
    void publish() { reclaimable_at_.store(index_.first_reclaimable_at(), std::memory_order_relaxed); }

    Map entries_;
    ExpiryIndex<typename Map::value_type> index_;
    std::atomic<std::int64_t> reclaimable_at_{INT64_MAX};
};

}  // namespace testino::plugins
