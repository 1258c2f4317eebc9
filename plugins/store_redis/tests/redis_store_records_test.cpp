// Records and queues (plugin ABI 8) as Redis holds them (redis_scripts.hpp has the layout),
// the queue bound, a Redis out of memory, and the outbox surviving restarts: of the server
// (a new store on the same Redis) and of Redis itself (with its append-only file on).
// The contract's records tests run in redis_store_contract_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>

#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using test::RedisServer;
using test::RedisServerOptions;
using test_helpers::make_store;
using test_helpers::store_options;
using test_support::RecordingHost;

constexpr const char* kQueue = "webhooks:{outbox}";
constexpr const char* kDue = "testino:q:webhooks:{outbox}:due";
constexpr const char* kItems = "testino:q:webhooks:{outbox}:items";

TEST(RedisRecordsTest, ARecordIsOneStringWithTheTtlUnderThePrefix) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_TRUE(store->claim_record("idem:{ab12}", "first", 30s).created);
    EXPECT_EQ(redis.command({"TYPE", "testino:rec:idem:{ab12}"}), "string");
    EXPECT_EQ(redis.command({"GET", "testino:rec:idem:{ab12}"}), "first");
    const long ttl_ms = std::stol(redis.command({"PTTL", "testino:rec:idem:{ab12}"}));
    EXPECT_GT(ttl_ms, 25000);
    EXPECT_LE(ttl_ms, 30000);
    ASSERT_EQ(store->put_record("idem:{ab12}", "second", 90s).status, StoreStatus::ok);
    EXPECT_GT(std::stol(redis.command({"PTTL", "testino:rec:idem:{ab12}"})), 60000) << "put sets a new TTL";
    ASSERT_EQ(store->remove_record("idem:{ab12}").status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"EXISTS", "testino:rec:idem:{ab12}"}), "0");
}

TEST(RedisRecordsTest, AQueueIsAZsetOfDueTimesAndAHashOfPayloadsAndAttempts) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->enqueue(kQueue, {"e1", "{\"event\":1}", 0}, 60s).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"TYPE", kDue}), "zset");
    EXPECT_EQ(redis.command({"TYPE", kItems}), "hash");
    EXPECT_EQ(redis.command({"HGET", kItems, "p:e1"}), "{\"event\":1}");
    EXPECT_EQ(redis.command({"HGET", kItems, "a:e1"}), "0");
    const std::string time = redis.command({"TIME"});
    const long long now_ms = std::stoll(time.substr(0, time.find('\n'))) * 1000;
    const long long due = std::stoll(redis.command({"ZSCORE", kDue, "e1"}));
    EXPECT_GT(due, now_ms + 55000) << "due in a minute, on Redis's clock";
    EXPECT_LT(due, now_ms + 62000);
    EXPECT_EQ(redis.command({"PTTL", kDue}), "-1") << "items stay until acked";

    ASSERT_EQ(store->ack(kQueue, "e1").status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"EXISTS", kDue}), "0");
    EXPECT_EQ(redis.command({"EXISTS", kItems}), "0") << "nothing left behind";
}

TEST(RedisRecordsTest, AQueueNameWithoutAHashTagBecomesOneSoItsKeysShareASlot) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->enqueue("plain", {"e1", "p", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_EQ(store->enqueue("a{}b", {"e1", "p", 0}, 0ms).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"TYPE", "testino:q:{plain}:due"}), "zset");
    EXPECT_EQ(redis.command({"TYPE", "testino:q:{plain}:items"}), "hash");
    EXPECT_EQ(redis.command({"TYPE", "testino:q:{a{}b}:due"}), "zset") << "an empty {} is no hash tag";
    EXPECT_EQ(store->claim_due("plain", 5, 60s).items.size(), 1u);
}

TEST(RedisRecordsTest, AQueueHoldsAtMostMaxQueueItemsButReplacingCountsOnce) {
    RedisServer redis;
    RecordingHost host;
    RedisStoreOptions options = store_options(redis.url());
    options.max_queue_items = 3;
    auto store = make_store(std::move(options), host);
    for (const char* id : {"a", "b", "c"})
        ASSERT_EQ(store->enqueue(kQueue, {id, "p", 0}, 0ms).status, StoreStatus::ok);
    const auto refused = store->enqueue(kQueue, {"d", "p", 0}, 0ms);
    EXPECT_EQ(refused.status, StoreStatus::full) << refused.detail;
    EXPECT_NE(refused.detail.find("max_queue_items"), std::string::npos) << refused.detail;
    EXPECT_EQ(store->enqueue(kQueue, {"b", "new", 1}, 0ms).status, StoreStatus::ok) << "a replacement fits";
    EXPECT_EQ(store->enqueue("webhooks:{dead}", {"d", "p", 0}, 0ms).status, StoreStatus::ok)
        << "the bound is per queue";
    ASSERT_EQ(store->ack(kQueue, "a").status, StoreStatus::ok);
    EXPECT_EQ(store->enqueue(kQueue, {"d", "p", 0}, 0ms).status, StoreStatus::ok) << "room again";
    EXPECT_EQ(store->queue_length(kQueue).count, 3);
}

TEST(RedisRecordsTest, ARedisOutOfMemoryRefusesNewItemsAndRecordsButStillAcksAndReads) {
    RedisServer redis({"", true, {"--maxmemory", "100mb", "--maxmemory-policy", "noeviction"}});
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_TRUE(store->claim_record("idem:{held}", "v", 60s).created);
    ASSERT_EQ(store->enqueue(kQueue, {"e1", "p", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1"}), "OK");

    EXPECT_EQ(store->enqueue(kQueue, {"e2", "p", 0}, 0ms).status, StoreStatus::full);
    EXPECT_EQ(store->claim_record("idem:{new}", "v", 60s).status, StoreStatus::full);
    EXPECT_EQ(store->put_record("idem:{new}", "v", 60s).status, StoreStatus::full);
    const auto held = store->claim_record("idem:{held}", "other", 60s);
    EXPECT_EQ(held.status, StoreStatus::ok) << "a claim that finds the key writes nothing: " << held.detail;
    EXPECT_EQ(held.value, "v");
    EXPECT_EQ(store->queue_length(kQueue).count, 1);
    EXPECT_EQ(store->ack(kQueue, "e1").status, StoreStatus::ok) << "a deletion frees memory";
    EXPECT_EQ(store->queue_length(kQueue).count, 0);
}

TEST(RedisRecordsTest, EnqueuedItemsOutliveTheStoreThatFiledThem) {
    RedisServer redis;
    RecordingHost host;
    {
        auto first = make_store(redis.url(), host);
        ASSERT_EQ(first->enqueue(kQueue, {"e1", "one", 0}, 0ms).status, StoreStatus::ok);
        ASSERT_EQ(first->enqueue(kQueue, {"e2", "two", 0}, 0ms).status, StoreStatus::ok);
        ASSERT_EQ(first->claim_due(kQueue, 1, 0ms).items.size(), 1u) << "claimed once, never acked";
    }  // the server stops
    auto second = make_store(redis.url(), host);
    EXPECT_EQ(second->queue_length(kQueue).count, 2);
    auto batch = second->claim_due(kQueue, 10, 60s);
    ASSERT_EQ(batch.items.size(), 2u) << batch.detail;
    // The claim re-filed its item due now, after e2: order by id.
    std::sort(batch.items.begin(), batch.items.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    EXPECT_EQ(batch.items[0].id, "e1");
    EXPECT_EQ(batch.items[0].attempts, 2) << "the first store's claim counts";
    EXPECT_EQ(batch.items[1].payload, "two");
    EXPECT_EQ(batch.items[1].attempts, 1);
}

TEST(RedisRecordsTest, EnqueuedItemsSurviveARedisRestartWithPersistence) {
    // appendfsync always: every write is on disk before Redis answers, so a kill loses none.
    RedisServer redis({"", true, {"--appendonly", "yes", "--appendfsync", "always"}});
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->enqueue(kQueue, {"e1", "one", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_TRUE(store->claim_record("idem:{kept}", "v", 60s).created);

    redis.kill();
    redis.start();  // same port and dir: it replays its append-only file
    EXPECT_EQ(store->queue_length(kQueue).count, 1) << "the store reconnects and sees the item";
    const auto batch = store->claim_due(kQueue, 10, 60s);
    ASSERT_EQ(batch.items.size(), 1u) << batch.detail;
    EXPECT_EQ(batch.items[0].payload, "one");
    EXPECT_EQ(store->get_record("idem:{kept}").value, "v");
}

}  // namespace
}  // namespace testino::plugins
