// Records and queues across two store instances on one database (as two servers share it),
// the per-queue bound, and the sweeper on expired records.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "otp_store_contract.hpp"
#include "pg_test_support.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace testino::plugins::pg_test {
namespace {

using sdk::StoreStatus;
using test::PostgresServer;
using test_support::RecordingHost;

class PgRecordsTest : public ::testing::Test {
protected:
    void SetUp() override {
        TESTINO_REQUIRE_POSTGRES();
        postgres = std::make_unique<PostgresServer>();
    }
    std::unique_ptr<PostgresServer> postgres;
    RecordingHost host;
};

TEST_F(PgRecordsTest, ClaimsOfDueItemsThroughTwoStoresNeverShareAnItem) {
    auto first = make_store(store_options(postgres->dsn(), 5000ms, 4), host);
    auto second = make_store(store_options(postgres->dsn(), 5000ms, 4), host);
    const std::string queue = "{outbox}";
    constexpr int kItems = 200;
    for (int i = 0; i < kItems; ++i) {
        ASSERT_EQ(first->enqueue(queue, {"item-" + std::to_string(i), "payload", 0}, 0ms).status,
                  StoreStatus::ok);
    }
    std::mutex mutex;
    std::vector<std::string> claimed;
    std::atomic<int> failures{0};
    // Each claimer keeps claiming until the queue has nothing due; leases outlast the test.
    contract::run_concurrently(8, [&](int i) {
        TestStore& store = i % 2 ? *first : *second;
        for (;;) {
            const auto batch = store.claim_due(queue, 7, 60000ms);
            if (batch.status != StoreStatus::ok) {
                failures.fetch_add(1);
                return;
            }
            if (batch.items.empty()) return;
            std::lock_guard<std::mutex> lock(mutex);
            for (const auto& item : batch.items) {
                EXPECT_EQ(item.attempts, 1) << item.id;
                claimed.push_back(item.id);
            }
        }
    });
    EXPECT_EQ(failures.load(), 0);
    const std::set<std::string> distinct(claimed.begin(), claimed.end());
    EXPECT_EQ(claimed.size(), distinct.size()) << "an item was handed out twice";
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kItems)) << "every due item was claimed";
    EXPECT_EQ(second->queue_length(queue).count, kItems) << "claimed items stay until acked";
}

TEST_F(PgRecordsTest, OfConcurrentClaimsThroughTwoStoresExactlyOneCreates) {
    auto first = make_store(store_options(postgres->dsn(), 5000ms, 4), host);
    auto second = make_store(store_options(postgres->dsn(), 5000ms, 4), host);
    for (int round = 0; round < 5; ++round) {
        const std::string key = "idem:{k" + std::to_string(round) + "}";
        std::atomic<int> created{0};
        std::mutex mutex;
        std::set<std::string> seen;
        contract::run_concurrently(16, [&](int i) {
            TestStore& store = i % 2 ? *first : *second;
            const auto result = store.claim_record(key, "v" + std::to_string(i), 60s);
            EXPECT_EQ(result.status, StoreStatus::ok);
            EXPECT_TRUE(result.found);
            if (result.created) created.fetch_add(1);
            std::lock_guard<std::mutex> lock(mutex);
            seen.insert(result.value);
        });
        EXPECT_EQ(created.load(), 1) << "round " << round;
        EXPECT_EQ(seen.size(), 1u) << "every claim saw the one winner's value, round " << round;
    }
}

TEST_F(PgRecordsTest, AFullQueueRefusesNewItemsButReplacesOldOnes) {
    auto options = store_options(postgres->dsn());
    options.max_queue_items = 3;
    auto store = make_store(options, host);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(store->enqueue("{q}", {"id" + std::to_string(i), "p", 0}, 0ms).status, StoreStatus::ok);
    }
    const auto refused = store->enqueue("{q}", {"id3", "p", 0}, 0ms);
    EXPECT_EQ(refused.status, StoreStatus::full);
    EXPECT_TRUE(contains(refused.detail, "max_queue_items")) << refused.detail;
    EXPECT_EQ(store->enqueue("{q}", {"id1", "new", 0}, 0ms).status, StoreStatus::ok) << "a replacement";
    EXPECT_EQ(store->enqueue("{other}", {"id3", "p", 0}, 0ms).status, StoreStatus::ok) << "per queue";
    EXPECT_EQ(store->queue_length("{q}").count, 3);
    ASSERT_EQ(store->ack("{q}", "id0").status, StoreStatus::ok);
    EXPECT_EQ(store->enqueue("{q}", {"id3", "p", 0}, 0ms).status, StoreStatus::ok) << "room again";
}

TEST_F(PgRecordsTest, TheSweeperDeletesExpiredRecordsOnly) {
    auto store = make_store(store_options(postgres->dsn()), host);
    ASSERT_EQ(store->put_record("live", "v", 60s).status, StoreStatus::ok);
    ASSERT_EQ(postgres->query("INSERT INTO testino_records (key, value, expires_at) SELECT 'old' || i, 'v', "
                              "now() - interval '1 minute' FROM generate_series(1, 5) AS i"),
              "");
    const auto swept = store->pg().sweep_once();
    ASSERT_TRUE(swept);
    EXPECT_EQ(*swept, 5);
    EXPECT_EQ(postgres->query("SELECT string_agg(key, ',') FROM testino_records"), "live");
}

}  // namespace
}  // namespace testino::plugins::pg_test
