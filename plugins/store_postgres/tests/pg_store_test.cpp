// The Postgres store on a private PostgreSQL server: one winner among concurrent verifies
// across two store instances, and the faults: Postgres down at start-up, killed and
// restarted, a statement held past its deadline, a full queue, shutdown with work queued.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "otp_store_contract.hpp"
#include "pg_migrations.hpp"
#include "pg_test_support.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace testino::contract {
// The suite runs in store_postgres_contract_tests, on one server for the whole suite.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OtpStoreContract);
}  // namespace testino::contract

namespace testino::plugins::pg_test {
namespace {

using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test::PgSession;
using test::PostgresServer;
using test_support::RecordingHost;

class PgStoreTest : public ::testing::Test {
protected:
    void SetUp() override { TESTINO_REQUIRE_POSTGRES(); }
    RecordingHost host;
};

TEST_F(PgStoreTest, ConcurrentRightGuessesThroughTwoStoresHaveExactlyOneWinner) {
    PostgresServer postgres;
    auto first = make_store(store_options(postgres.dsn(), 5000ms, 4), host);
    auto second = make_store(store_options(postgres.dsn(), 5000ms, 4), host);
    for (int round = 0; round < 5; ++round) {
        const std::string key = "+1202555010" + std::to_string(round);
        ASSERT_EQ(first->put_code(key, digest_of(7), 60s, 5).status, StoreStatus::ok);
        std::atomic<int> verified{0};
        std::atomic<int> not_found{0};
        std::atomic<int> other{0};
        contract::run_concurrently(16, [&](int i) {
            TestStore& store = i % 2 ? *first : *second;
            const auto outcome = store.verify_and_consume(key, digest_of(7)).outcome;
            (outcome == VerifyOutcome::verified    ? verified
             : outcome == VerifyOutcome::not_found ? not_found
                                                   : other)
                .fetch_add(1);
        });
        EXPECT_EQ(verified.load(), 1) << "round " << round;
        EXPECT_EQ(not_found.load(), 15) << "round " << round;
        EXPECT_EQ(other.load(), 0) << "round " << round;
    }
}

TEST_F(PgStoreTest, WrongGuessesThroughTwoStoresShareOneAttemptBudget) {
    PostgresServer postgres;
    auto first = make_store(store_options(postgres.dsn(), 5000ms, 4), host);
    auto second = make_store(store_options(postgres.dsn(), 5000ms, 4), host);
    const std::string key = "+12025550110";
    ASSERT_EQ(first->put_code(key, digest_of(7), 60s, 5).status, StoreStatus::ok);
    std::atomic<int> mismatch{0};
    std::atomic<int> exhausted{0};
    contract::run_concurrently(12, [&](int i) {
        TestStore& store = i % 2 ? *first : *second;
        const auto outcome = store.verify_and_consume(key, digest_of(9)).outcome;
        if (outcome == VerifyOutcome::mismatch) mismatch.fetch_add(1);
        if (outcome == VerifyOutcome::attempts_exhausted) exhausted.fetch_add(1);
    });
    EXPECT_EQ(mismatch.load(), 5);
    EXPECT_EQ(exhausted.load(), 7);
    EXPECT_EQ(postgres.query("SELECT attempts_left FROM testino_codes WHERE key = '" + key + "'"), "0");
}

TEST_F(PgStoreTest, DownAtStartUpAnswersFastThenMigratesAndServesOnceItIsUp) {
    PostgresServer postgres(false);  // its port; nothing listens yet
    auto store = make_store(store_options(postgres.dsn(), 300ms), host);
    EXPECT_EQ(host.count("store.postgres.unavailable"), 1u);

    const auto started = Clock::now();
    const auto put = store->put_code("+12025550120", digest_of(1), 60s, 5);
    EXPECT_EQ(put.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(put.detail, "127.0.0.1")) << put.detail;
    EXPECT_EQ(store->verify_and_consume("+12025550120", digest_of(1)).outcome, VerifyOutcome::unavailable);
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_LT(elapsed_ms(started), 1500) << "three operations, each failing within its 300 ms deadline";

    postgres.start();
    EXPECT_TRUE(test::eventually([&] { return store->health().healthy; })) << store->health().detail;
    EXPECT_EQ(store->put_code("+12025550120", digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->verify_and_consume("+12025550120", digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(postgres.query("SELECT max(version) FROM testino_schema_version"),
              std::to_string(pg_known_schema_version()));
    EXPECT_EQ(host.count("store.postgres.recovered"), 1u);
}

TEST_F(PgStoreTest, KilledMidRunFailsFastThenRecoversByItself) {
    PostgresServer postgres;
    auto store = make_store(store_options(postgres.dsn(), 300ms, 2), host);
    ASSERT_EQ(store->put_code("+12025550130", digest_of(1), 600s, 5).status, StoreStatus::ok);

    postgres.kill();
    for (int i = 0; i < 5; ++i) {
        const auto started = Clock::now();
        const auto result = store->hit_counter("count:{+12025550130}", 60s, 1);
        EXPECT_EQ(result.status, StoreStatus::unavailable);
        EXPECT_LT(elapsed_ms(started), 800) << "attempt " << i << ": " << result.detail;
    }
    EXPECT_FALSE(store->health().healthy);

    postgres.start();
    EXPECT_TRUE(test::eventually([&] { return store->health().healthy; })) << store->health().detail;
    // The code survived the crash: it was committed.
    EXPECT_EQ(store->verify_and_consume("+12025550130", digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(host.count("store.postgres.recovered"), 1u);
    for (const auto& record : host.records()) {
        for (const auto& field : record.fields)
            EXPECT_FALSE(contains(field.second, PostgresServer::kPassword));
    }
}

TEST_F(PgStoreTest, AStatementHeldPastItsDeadlineFailsFastAndTheServerCancelsIt) {
    PostgresServer postgres;
    auto store = make_store(store_options(postgres.dsn(), 400ms, 2), host);
    ASSERT_EQ(store->put_code("+12025550140", digest_of(1), 60s, 5).status, StoreStatus::ok);

    PgSession locker(postgres.dsn());
    ASSERT_EQ(locker.query("BEGIN"), "");
    ASSERT_EQ(locker.query("LOCK TABLE testino_codes IN ACCESS EXCLUSIVE MODE"), "");
    const auto started = Clock::now();
    const auto verify = store->verify_and_consume("+12025550140", digest_of(1));
    const long long took = elapsed_ms(started);
    EXPECT_EQ(verify.outcome, VerifyOutcome::unavailable);
    EXPECT_GE(took, 350) << "it waited for the lock";
    EXPECT_LT(took, 1000) << "it gave up at its 400 ms deadline";
    // statement_timeout (the same deadline) ends the waiting statement on the server too.
    EXPECT_TRUE(test::eventually([&] {
        return postgres.query(
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'testino' AND "
                   "wait_event_type = 'Lock'") == "0";
    }));
    ASSERT_EQ(locker.query("COMMIT"), "");
    EXPECT_EQ(store->verify_and_consume("+12025550140", digest_of(1)).outcome, VerifyOutcome::verified)
        << "the timed-out verify consumed nothing";
}

TEST_F(PgStoreTest, OperationsBeyondTheQueueFailAtOnceAndQueuedOnesAtTheirDeadline) {
    PostgresServer postgres;
    auto options = store_options(postgres.dsn(), 600ms, 1);
    options.pool.queue_capacity = 2;
    auto store = make_store(options, host);
    ASSERT_EQ(store->put_code("+12025550150", digest_of(1), 60s, 5).status, StoreStatus::ok);
    PgSession locker(postgres.dsn());
    ASSERT_EQ(locker.query("BEGIN"), "");
    ASSERT_EQ(locker.query("LOCK TABLE testino_codes IN ACCESS EXCLUSIVE MODE"), "");

    // One runs (and waits for the lock), two wait in the queue, the fourth finds it full.
    std::vector<std::thread> waiting;
    std::atomic<int> unavailable{0};
    for (int i = 0; i < 3; ++i) {
        waiting.emplace_back([&] {
            if (store->verify_and_consume("+12025550150", digest_of(9)).outcome ==
                VerifyOutcome::unavailable) {
                unavailable.fetch_add(1);
            }
        });
        std::this_thread::sleep_for(50ms);
    }
    const auto started = Clock::now();
    const auto refused = store->verify_and_consume("+12025550150", digest_of(9));
    EXPECT_EQ(refused.outcome, VerifyOutcome::unavailable);
    EXPECT_TRUE(contains(refused.detail, "queue is full")) << refused.detail;
    EXPECT_LT(elapsed_ms(started), 100);
    for (auto& thread : waiting) thread.join();
    EXPECT_EQ(unavailable.load(), 3) << "the running one and the queued ones all gave up at the deadline";
    ASSERT_EQ(locker.query("COMMIT"), "");
    EXPECT_EQ(store->verify_and_consume("+12025550150", digest_of(1)).outcome, VerifyOutcome::verified);
}

// A rotation that waited on the family's row lock judges the grace by the clock once it has
// the row: the concurrent rotation it waited for rotated after it was called, so a grace of
// 0 makes it a reuse (not "raced", as a clock read before the wait would say).
TEST_F(PgStoreTest, ARotationThatWaitedForTheRowReadsTheClockAfterTheWait) {
    PostgresServer postgres;
    auto store = make_store(store_options(postgres.dsn(), 3000ms), host);
    sdk::RefreshDigest first{};
    first.fill(0x11);
    sdk::RefreshDigest next{};
    next.fill(0x22);
    ASSERT_EQ(store->create_refresh("fam-clock", {first, "+12025550170", 60s, 3600s}).status,
              StoreStatus::ok);

    PgSession other(postgres.dsn());
    ASSERT_EQ(other.query("BEGIN"), "");
    ASSERT_EQ(other.query("SELECT 1 FROM testino_refresh_families WHERE family = 'fam-clock' FOR UPDATE"),
              "1");
    std::optional<sdk::RefreshResult> waited;
    std::thread rotating([&] { waited = store->rotate_refresh("fam-clock", first, next, 60s, 0s); });
    std::this_thread::sleep_for(200ms);  // the rotation waits for the row
    // Another instance rotates `first` away now, after the waiting call began.
    ASSERT_EQ(other.query("UPDATE testino_refresh_families SET history = history || current, current = "
                          "'\\x" +
                          std::string(64, '3') +
                          "', rotated_at = clock_timestamp() "
                          "WHERE family = 'fam-clock'"),
              "");
    ASSERT_EQ(other.query("COMMIT"), "");
    rotating.join();
    ASSERT_TRUE(waited);
    EXPECT_EQ(waited->outcome, sdk::RefreshOutcome::reused) << waited->detail;
}

TEST_F(PgStoreTest, DestroyingTheStoreAnswersEveryOperationExactlyOnce) {
    PostgresServer postgres;
    std::atomic<int> answered{0};
    {
        auto store = std::make_shared<PgStore>(store_options(postgres.dsn(), 2000ms, 1), host);
        PgSession locker(postgres.dsn());
        ASSERT_EQ(locker.query("BEGIN"), "");
        ASSERT_EQ(locker.query("LOCK TABLE testino_counters IN ACCESS EXCLUSIVE MODE"), "");
        for (int i = 0; i < 10; ++i) {
            store->hit_counter("count:{+12025550160}", 60s, 1,
                               [&](sdk::CounterResult) { answered.fetch_add(1); });
        }
        std::this_thread::sleep_for(100ms);
        const auto started = Clock::now();
        store.reset();
        EXPECT_LT(elapsed_ms(started), 2500) << "the running one ends by its deadline";
    }
    EXPECT_EQ(answered.load(), 10);
}

}  // namespace
}  // namespace testino::plugins::pg_test
