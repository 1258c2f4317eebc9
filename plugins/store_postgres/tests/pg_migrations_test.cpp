// The schema migrations on a private PostgreSQL server: applied once, idempotent, safe when
// instances start together, and a clear refusal of a schema newer than this binary knows.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "pg_migrations.hpp"
#include "pg_test_support.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace testino::plugins::pg_test {
namespace {

using test::PostgresServer;
using test_support::RecordingHost;

class PgMigrationsTest : public ::testing::Test {
protected:
    void SetUp() override {
        TESTINO_REQUIRE_POSTGRES();
        postgres = std::make_unique<PostgresServer>();
    }
    std::string versions(const std::string& db) {
        return postgres->query(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM testino_schema_version", db);
    }
    std::unique_ptr<PostgresServer> postgres;
    RecordingHost host;
};

TEST_F(PgMigrationsTest, AFreshDatabaseIsMigratedOnceAndAgainIsANoOp) {
    const std::string db = postgres->create_database();
    {
        auto store = make_store(store_options(postgres->dsn(db)), host);
        EXPECT_EQ(host.count("store.postgres.migrated"), 1u);
        const auto migrated = host.records_of("store.postgres.migrated").at(0);
        EXPECT_EQ(migrated.field("from"), "0");
        EXPECT_EQ(migrated.field("to"), std::to_string(pg_known_schema_version()));
    }
    auto again = make_store(store_options(postgres->dsn(db)), host);
    EXPECT_EQ(host.count("store.postgres.migrated"), 1u) << "nothing left to apply";
    EXPECT_EQ(versions(db), "1,2");
    EXPECT_EQ(again->put_code("+12025550200", digest_of(1), 60s, 3).status, sdk::StoreStatus::ok);
}

TEST_F(PgMigrationsTest, InstancesStartingTogetherApplyEachMigrationOnce) {
    const std::string db = postgres->create_database();
    std::vector<std::unique_ptr<TestStore>> stores(4);
    std::vector<std::thread> starting;
    for (auto& store : stores) {
        starting.emplace_back([&] { store = make_store(store_options(postgres->dsn(db)), host); });
    }
    for (auto& thread : starting) thread.join();
    EXPECT_EQ(host.count("store.postgres.migrated"), 1u)
        << "the others waited for the lock, then found it done";
    EXPECT_EQ(versions(db), "1,2");
    for (auto& store : stores) EXPECT_TRUE(store->health().healthy);
}

TEST_F(PgMigrationsTest, OnlyThePendingMigrationsApplyInOrder) {
    const std::string db = postgres->create_database();
    PgConnection connection(postgres->dsn(db), "");
    ASSERT_FALSE(connection.connect(PgClock::now() + 5s));
    std::vector<PgMigration> migrations = pg_migrations();
    auto first = apply_migrations(connection, PgClock::now() + 10s, migrations);
    ASSERT_FALSE(first.failure) << first.failure->detail;
    migrations.push_back({3, "a test column", "ALTER TABLE testino_codes ADD COLUMN test_note text"});
    auto second = apply_migrations(connection, PgClock::now() + 10s, migrations);
    ASSERT_FALSE(second.failure) << second.failure->detail;
    EXPECT_EQ(second.from, 2);
    EXPECT_EQ(second.to, 3);
    EXPECT_EQ(versions(db), "1,2,3");
    // A failing migration changes nothing and records nothing.
    migrations.push_back(
        {4, "broken", "ALTER TABLE testino_codes ADD COLUMN x text; SELECT no_such_function()"});
    auto third = apply_migrations(connection, PgClock::now() + 10s, migrations);
    ASSERT_TRUE(third.failure);
    EXPECT_EQ(third.failure->fault, PgFault::query_error);
    EXPECT_TRUE(contains(third.failure->detail, "migration 4 (broken)")) << third.failure->detail;
    EXPECT_EQ(versions(db), "1,2,3");
    EXPECT_EQ(postgres->query("SELECT count(*) FROM information_schema.columns WHERE column_name = 'x'", db),
              "0");
    // The lock was released: another session can take it at once.
    EXPECT_EQ(postgres->query("SELECT pg_try_advisory_lock(" + std::to_string(kPgMigrationLock) + ")", db),
              "t");
}

TEST_F(PgMigrationsTest, ASchemaNewerThanTheBinaryStopsStartUpWithAClearError) {
    const std::string db = postgres->create_database();
    { auto store = make_store(store_options(postgres->dsn(db)), host); }
    postgres->query(
        "INSERT INTO testino_schema_version (version, description) VALUES (99, 'from the future')", db);
    try {
        auto store = make_store(store_options(postgres->dsn(db)), host);
        FAIL() << "started on a newer schema";
    } catch (const PgStartError& error) {
        const std::string message = error.what();
        EXPECT_TRUE(contains(message, "version 99, newer than this testino-server knows (2)")) << message;
        EXPECT_TRUE(contains(message, "testino@127.0.0.1:")) << message;
        EXPECT_FALSE(contains(message, PostgresServer::kPassword)) << message;
    }
    EXPECT_EQ(host.count("store.postgres.schema_refused"), 1u);
}

TEST_F(PgMigrationsTest, ANewerSchemaFoundAfterStartUpFailsEveryOperationAndHealth) {
    const std::string db = postgres->create_database();
    { auto store = make_store(store_options(postgres->dsn(db)), host); }
    postgres->query(
        "INSERT INTO testino_schema_version (version, description) VALUES (99, 'from the future')", db);
    postgres->kill();
    auto store = make_store(store_options(postgres->dsn(db)), host);  // down: starts, as with Redis
    postgres->start();
    EXPECT_TRUE(test::eventually([&] {
        return contains(store->health().detail, "newer than this testino-server knows");
    })) << store->health().detail;
    EXPECT_FALSE(store->health().healthy);
    const auto put = store->put_code("+12025550210", digest_of(1), 60s, 3);
    EXPECT_EQ(put.status, sdk::StoreStatus::unavailable);
    EXPECT_TRUE(contains(put.detail, "newer")) << put.detail;
    EXPECT_EQ(postgres->query("SELECT count(*) FROM testino_codes", db), "0");
}

}  // namespace
}  // namespace testino::plugins::pg_test
