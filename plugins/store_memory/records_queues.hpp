// The memory store's records and queues (testino/otp_store.hpp, ABI 8): idempotency keys,
// receipt lookups and the webhook outbox of one server process. Each under one mutex: they
// carry a few operations a send, far fewer than codes and counters. Bounded like the other
// tables: a full table reclaims what expired (found through an index by expiry, without
// scanning), then refuses (StoreStatus::full). Nothing here survives a restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "testino/otp_store.hpp"

namespace testino::plugins {

class RecordsAndQueues {
public:
    // Times are ticks of the store's clock.
    RecordsAndQueues(std::size_t max_records, std::size_t max_queue_items);

    sdk::RecordResult claim(const std::string& key, const std::string& value, std::int64_t ttl,
                            std::int64_t now);
    sdk::StoreResult put(const std::string& key, const std::string& value, std::int64_t ttl,
                         std::int64_t now);
    sdk::RecordResult get(const std::string& key, std::int64_t now);
    sdk::StoreResult remove(const std::string& key);

    sdk::StoreResult enqueue(const std::string& queue, const sdk::QueueItem& item, std::int64_t due);
    sdk::QueueBatch claim_due(const std::string& queue, int max, std::int64_t lease, std::int64_t now);
    sdk::StoreResult ack(const std::string& queue, const std::string& id);
    std::size_t queue_length(const std::string& queue);

    // Removes up to `max` expired records; how many.
    std::size_t sweep(std::int64_t now, std::size_t max);
    std::size_t record_count() const;

private:
    struct Record {
        std::string value;
        std::int64_t expires_at;
        std::multimap<std::int64_t, std::string>::iterator by_expiry;
    };
    struct Entry {
        std::string payload;
        int attempts;
        std::multimap<std::int64_t, std::string>::iterator by_due;
    };
    struct Queue {
        std::unordered_map<std::string, Entry> items;
        std::multimap<std::int64_t, std::string> due;  // due time -> id
    };

    // A live record of `key`, or null (an expired one is erased).
    Record* live(const std::string& key, std::int64_t now);
    void store(const std::string& key, const std::string& value, std::int64_t expires_at);
    void erase(std::unordered_map<std::string, Record>::iterator it);
    std::size_t reclaim(std::int64_t now, std::size_t max);

    const std::size_t max_records_;
    const std::size_t max_queue_items_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Record> records_;
    std::multimap<std::int64_t, std::string> records_by_expiry_;
    std::map<std::string, Queue> queues_;
    std::size_t queue_items_ = 0;
};

}  // namespace testino::plugins
