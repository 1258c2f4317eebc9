// The sweeper deletes expired rows in bounded batches, leaves live ones, and the thread runs
// it on its interval.
#include <gtest/gtest.h>

#include "pg_test_support.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace testino::plugins::pg_test {
namespace {

using test::PostgresServer;
using test_support::RecordingHost;

class PgSweeperTest : public ::testing::Test {
protected:
    void SetUp() override {
        TESTINO_REQUIRE_POSTGRES();
        postgres = std::make_unique<PostgresServer>();
    }
    // `count` counters ended a minute ago, named <prefix><i>.
    void insert_expired_counters(const std::string& prefix, int count) {
        ASSERT_EQ(postgres->query("INSERT INTO testino_counters (key, value, expires_at) SELECT '" + prefix +
                                  "' || i, 1, now() - interval '1 minute' FROM generate_series(1, " +
                                  std::to_string(count) + ") AS i"),
                  "");
    }
    std::string count(const std::string& table) { return postgres->query("SELECT count(*) FROM " + table); }

    std::unique_ptr<PostgresServer> postgres;
    RecordingHost host;
};

TEST_F(PgSweeperTest, APassDeletesAtMostItsBatchesOfExpiredRowsAndNoLiveOne) {
    auto options = store_options(postgres->dsn());
    options.sweep_batch = 3;
    options.sweep_max_batches = 2;
    auto store = make_store(options, host);
    insert_expired_counters("old:", 10);
    ASSERT_EQ(store->hit_counter("live:{+12025550300}", 60s, 1).status, sdk::StoreStatus::ok);
    ASSERT_EQ(store->put_code("+12025550300", digest_of(1), 60s, 3).status, sdk::StoreStatus::ok);
    ASSERT_EQ(store->put_code("+12025550301", digest_of(2), 0s, 3).status, sdk::StoreStatus::ok);  // ends now

    EXPECT_EQ(store->pg().sweep_once(), 6 + 1) << "two batches of 3 counters, and the ended code";
    EXPECT_EQ(count("testino_counters"), "5");
    EXPECT_EQ(store->pg().sweep_once(), 4);
    EXPECT_EQ(store->pg().sweep_once(), 0);
    EXPECT_EQ(count("testino_counters"), "1");
    EXPECT_EQ(count("testino_codes"), "1");
    EXPECT_EQ(store->verify_and_consume("+12025550300", digest_of(1)).outcome, sdk::VerifyOutcome::verified);
}

TEST_F(PgSweeperTest, TheSweeperThreadRunsOnItsInterval) {
    auto options = store_options(postgres->dsn());
    options.sweep_interval = 50ms;
    auto store = make_store(options, host);
    insert_expired_counters("old:", 20);
    EXPECT_TRUE(test::eventually([&] { return count("testino_counters") == "0"; }));
}

TEST_F(PgSweeperTest, ASweepWithPostgresDownFailsAndTheNextOneWorks) {
    auto store = make_store(store_options(postgres->dsn()), host);
    insert_expired_counters("old:", 2);
    postgres->kill();
    EXPECT_EQ(store->pg().sweep_once(), std::nullopt);
    postgres->start();
    EXPECT_TRUE(test::eventually([&] { return store->pg().sweep_once() == 2; }));
}

}  // namespace
}  // namespace testino::plugins::pg_test
