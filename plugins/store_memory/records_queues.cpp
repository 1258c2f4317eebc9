#include "records_queues.hpp"

#include <algorithm>
#include <vector>

namespace testino::plugins {
namespace {

using sdk::RecordResult;
using sdk::StoreResult;
using sdk::StoreStatus;

constexpr std::size_t kReclaimOnFull = 64;

}  // namespace

RecordsAndQueues::RecordsAndQueues(std::size_t max_records, std::size_t max_queue_items)
    : max_records_(std::max<std::size_t>(max_records, 1)),
      max_queue_items_(std::max<std::size_t>(max_queue_items, 1)) {}

RecordsAndQueues::Record* RecordsAndQueues::live(const std::string& key, std::int64_t now) {
    const auto it = records_.find(key);
    if (it == records_.end()) return nullptr;
    if (it->second.expires_at > now) return &it->second;
    erase(it);
    return nullptr;
}

void RecordsAndQueues::erase(std::unordered_map<std::string, Record>::iterator it) {
    records_by_expiry_.erase(it->second.by_expiry);
    records_.erase(it);
}

void RecordsAndQueues::store(const std::string& key, const std::string& value, std::int64_t expires_at) {
    const auto it = records_.find(key);
    if (it != records_.end()) {
        records_by_expiry_.erase(it->second.by_expiry);
        it->second.value = value;
        it->second.expires_at = expires_at;
        it->second.by_expiry = records_by_expiry_.emplace(expires_at, key);
        return;
    }
    records_.emplace(key, Record{value, expires_at, records_by_expiry_.emplace(expires_at, key)});
}

std::size_t RecordsAndQueues::reclaim(std::int64_t now, std::size_t max) {
    std::size_t removed = 0;
    while (removed < max && !records_by_expiry_.empty() && records_by_expiry_.begin()->first <= now) {
        erase(records_.find(records_by_expiry_.begin()->second));
        ++removed;
    }
    return removed;
}

RecordResult RecordsAndQueues::claim(const std::string& key, const std::string& value, std::int64_t ttl,
                                     std::int64_t now) {
    std::lock_guard lock(mutex_);
    if (const Record* held = live(key, now)) return {StoreStatus::ok, false, true, held->value, {}};
    if (records_.size() >= max_records_ && reclaim(now, kReclaimOnFull) == 0) {
        return {StoreStatus::full, false, false, {}, "memory store: max_records reached"};
    }
    store(key, value, now + ttl);
    return {StoreStatus::ok, true, true, value, {}};
}

StoreResult RecordsAndQueues::put(const std::string& key, const std::string& value, std::int64_t ttl,
                                  std::int64_t now) {
    std::lock_guard lock(mutex_);
    if (!live(key, now) && records_.size() >= max_records_ && reclaim(now, kReclaimOnFull) == 0) {
        return {StoreStatus::full, "memory store: max_records reached"};
    }
    store(key, value, now + ttl);
    return {StoreStatus::ok, {}};
}

RecordResult RecordsAndQueues::get(const std::string& key, std::int64_t now) {
    std::lock_guard lock(mutex_);
    if (const Record* held = live(key, now)) return {StoreStatus::ok, false, true, held->value, {}};
    return {StoreStatus::ok, false, false, {}, {}};
}

StoreResult RecordsAndQueues::remove(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = records_.find(key);
    if (it != records_.end()) erase(it);
    return {StoreStatus::ok, {}};
}

StoreResult RecordsAndQueues::enqueue(const std::string& queue, const sdk::QueueItem& item,
                                      std::int64_t due) {
    std::lock_guard lock(mutex_);
    Queue& q = queues_[queue];
    const auto it = q.items.find(item.id);
    if (it != q.items.end()) {
        q.due.erase(it->second.by_due);
        it->second.payload = item.payload;
        it->second.attempts = item.attempts;
        it->second.by_due = q.due.emplace(due, item.id);
        return {StoreStatus::ok, {}};
    }
    if (queue_items_ >= max_queue_items_) return {StoreStatus::full, "memory store: max_queue_items reached"};
    q.items.emplace(item.id, Entry{item.payload, item.attempts, q.due.emplace(due, item.id)});
    ++queue_items_;
    return {StoreStatus::ok, {}};
}

sdk::QueueBatch RecordsAndQueues::claim_due(const std::string& queue, int max, std::int64_t lease,
                                            std::int64_t now) {
    std::lock_guard lock(mutex_);
    sdk::QueueBatch batch;
    const auto found = queues_.find(queue);
    if (found == queues_.end()) return batch;
    Queue& q = found->second;
    // Taken first, re-filed after: a lease of 0 must not find the same item again.
    std::vector<std::string> ids;
    for (auto it = q.due.begin(); it != q.due.end() && it->first <= now && static_cast<int>(ids.size()) < max;
         ++it) {
        ids.push_back(it->second);
    }
    for (const std::string& id : ids) {
        Entry& entry = q.items.at(id);
        q.due.erase(entry.by_due);
        entry.by_due = q.due.emplace(now + lease, id);
        ++entry.attempts;
        batch.items.push_back({id, entry.payload, entry.attempts});
    }
    return batch;
}

StoreResult RecordsAndQueues::ack(const std::string& queue, const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto found = queues_.find(queue);
    if (found == queues_.end()) return {StoreStatus::ok, {}};
    Queue& q = found->second;
    const auto it = q.items.find(id);
    if (it == q.items.end()) return {StoreStatus::ok, {}};
    q.due.erase(it->second.by_due);
    q.items.erase(it);
    --queue_items_;
    if (q.items.empty()) queues_.erase(found);
    return {StoreStatus::ok, {}};
}

std::size_t RecordsAndQueues::queue_length(const std::string& queue) {
    std::lock_guard lock(mutex_);
    const auto found = queues_.find(queue);
    return found == queues_.end() ? 0 : found->second.items.size();
}

std::size_t RecordsAndQueues::sweep(std::int64_t now, std::size_t max) {
    std::lock_guard lock(mutex_);
    return reclaim(now, max);
}

std::size_t RecordsAndQueues::record_count() const {
    std::lock_guard lock(mutex_);
    return records_.size();
}

}  // namespace testino::plugins
