#include "domain/phone_cache.hpp"

#include <algorithm>
#include <functional>

namespace testino {

PhoneVerdictCache::PhoneVerdictCache(std::size_t capacity, std::size_t shards)
    : shard_count_(std::max<std::size_t>(shards, 1)),
      per_shard_(std::max<std::size_t>(capacity / shard_count_, 1)),
      shards_(new Shard[shard_count_]) {}

PhoneVerdictCache::Shard& PhoneVerdictCache::shard_for(const std::string& key) const {
    return shards_[std::hash<std::string>{}(key) % shard_count_];
}

std::optional<PhoneVerdictCache::Entry> PhoneVerdictCache::find(const std::string& key) const {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    const auto it = shard.map.find(key);
    if (it == shard.map.end()) return std::nullopt;
    return it->second;
}

void PhoneVerdictCache::insert(const std::string& key, Entry entry) {
    Shard& shard = shard_for(key);
    std::lock_guard lock(shard.mutex);
    if (!shard.map.emplace(key, std::move(entry)).second) return;  // another thread was first
    if (shard.order.size() < per_shard_) {
        shard.order.push_back(key);
        return;
    }
    std::string& oldest = shard.order[shard.next];
    shard.map.erase(oldest);
    oldest = key;
    shard.next = (shard.next + 1) % per_shard_;
}

std::size_t PhoneVerdictCache::size() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
        std::lock_guard lock(shards_[i].mutex);
        total += shards_[i].map.size();
    }
    return total;
}

}  // namespace testino
