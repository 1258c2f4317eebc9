// Unit tests of MemoryStore's own behaviour (the shared contract is in
// memory_store_contract_test.cpp). A fake clock moves time without sleeping.
#include "memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "memory_store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::CodeDigest;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test_helpers::code;
using test_helpers::digest_of;
using test_helpers::FakeClock;
using test_helpers::options;

TEST(MemoryStoreTest, CodeIsValidJustBeforeItsTtlAndGoneAtIt) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    ASSERT_EQ(store.put_code("+12025550123", code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
    ASSERT_EQ(store.put_code("+12025550124", code(digest_of(1), 300s, 5)).status, StoreStatus::ok);

    clock.advance(300s - 1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest_of(1)).outcome, VerifyOutcome::verified);
    clock.advance(1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550124", digest_of(1)).outcome, VerifyOutcome::not_found);
    EXPECT_EQ(store.size(), 0u) << "an expired code found by verify is deleted";
}

TEST(MemoryStoreTest, DeadCodeReportsSecondsUntilItExpires) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    ASSERT_EQ(store.put_code("+12025550123", code(digest_of(1), 300s, 1)).status, StoreStatus::ok);
    ASSERT_EQ(store.verify_and_consume("+12025550123", digest_of(2)).outcome, VerifyOutcome::mismatch);

    clock.advance(100s);
    auto result = store.verify_and_consume("+12025550123", digest_of(1));
    EXPECT_EQ(result.outcome, VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(result.retry_after, 200s);

    clock.advance(199s + 500ms);  // half a second left: rounded up, never 0
    result = store.verify_and_consume("+12025550123", digest_of(1));
    EXPECT_EQ(result.outcome, VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(result.retry_after, 1s);

    clock.advance(500ms);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST(MemoryStoreTest, ZeroMaxAttemptsStoresADeadCode) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    ASSERT_EQ(store.put_code("+12025550123", code(digest_of(1), 60s, 0)).status, StoreStatus::ok);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest_of(1)).outcome,
              VerifyOutcome::attempts_exhausted);
}

TEST(MemoryStoreTest, SweepRemovesOnlyExpiredCodes) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 10s, 5));
    store.put_code("+12025550002", code(digest_of(1), 20s, 5));
    store.put_code("+12025550003", code(digest_of(1), 30s, 5));
    ASSERT_EQ(store.size(), 3u);

    clock.advance(20s);
    EXPECT_EQ(store.sweep_expired(), 2u);
    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.sweep_expired(), 0u);
    EXPECT_EQ(store.verify_and_consume("+12025550003", digest_of(1)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, BackgroundSweeperRemovesExpiredCodes) {
    FakeClock clock;
    MemoryStore store(options(1000, 4, 10ms), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 10s, 5));
    store.put_code("+12025550002", code(digest_of(1), 60s, 5));
    clock.advance(30s);

    // Wait for the sweeper (every 10 ms) with a generous bound; no timing is asserted.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (store.size() != 1u && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.health().detail, "1 pending codes");
}

TEST(MemoryStoreTest, DestructorStopsTheSweeperWithoutWaitingForItsInterval) {
    // With a one-hour interval a sleeping sweeper would hang this test (ctest times out).
    for (int i = 0; i < 3; ++i) {
        auto store = std::make_unique<MemoryStore>(options(10, 1, 1h));
        store->put_code("+12025550123", code(digest_of(1), 60s, 5));
        store.reset();
    }
    SUCCEED();
}

TEST(MemoryStoreTest, FullStoreRefusesANewKey) {
    FakeClock clock;
    MemoryStore store(options(3), clock.as_function());
    for (const char* key : {"+12025550001", "+12025550002", "+12025550003"}) {
        ASSERT_EQ(store.put_code(key, code(digest_of(1), 60s, 5)).status, StoreStatus::ok);
    }

    const auto refused = store.put_code("+12025550004", code(digest_of(1), 60s, 5));
    EXPECT_EQ(refused.status, StoreStatus::full);
    EXPECT_FALSE(refused.detail.empty());
    EXPECT_EQ(store.size(), 3u);
    EXPECT_EQ(store.verify_and_consume("+12025550004", digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST(MemoryStoreTest, FullStoreStillReplacesAnExistingKeysCode) {
    FakeClock clock;
    MemoryStore store(options(2), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 60s, 5));
    store.put_code("+12025550002", code(digest_of(1), 60s, 5));

    EXPECT_EQ(store.put_code("+12025550001", code(digest_of(2), 60s, 5)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 2u);
    EXPECT_EQ(store.verify_and_consume("+12025550001", digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, FullStoreEvictsExpiredCodesToMakeRoom) {
    FakeClock clock;
    MemoryStore store(options(3, 1), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 10s, 5));
    store.put_code("+12025550002", code(digest_of(1), 20s, 5));
    store.put_code("+12025550003", code(digest_of(1), 100s, 5));
    clock.advance(30s);

    EXPECT_EQ(store.put_code("+12025550004", code(digest_of(1), 60s, 5)).status, StoreStatus::ok);
    EXPECT_LE(store.size(), 3u);
    // The live code survived the eviction.
    EXPECT_EQ(store.verify_and_consume("+12025550003", digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(store.verify_and_consume("+12025550004", digest_of(1)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, EvictionAcrossShardsFreesRoomWhereverCodesExpired) {
    FakeClock clock;
    MemoryStore store(options(8, 8), clock.as_function());
    for (int i = 0; i < 8; ++i) {
        const auto ttl = i == 5 ? 10s : 600s;  // one expiring code, in some shard
        store.put_code("+1202555000" + std::to_string(i), code(digest_of(1), ttl, 5));
    }
    EXPECT_EQ(store.put_code("+12025550100", code(digest_of(1), 60s, 5)).status, StoreStatus::full);

    clock.advance(11s);
    EXPECT_EQ(store.put_code("+12025550100", code(digest_of(1), 60s, 5)).status, StoreStatus::ok);
    EXPECT_EQ(store.put_code("+12025550101", code(digest_of(1), 60s, 5)).status, StoreStatus::full);
}

TEST(MemoryStoreTest, DeadCodesCountUntilTheyExpire) {
    FakeClock clock;
    MemoryStore store(options(1), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 60s, 1));
    store.verify_and_consume("+12025550001", digest_of(2));  // now dead

    EXPECT_EQ(store.put_code("+12025550002", code(digest_of(1), 60s, 5)).status, StoreStatus::full);
    clock.advance(60s);
    EXPECT_EQ(store.put_code("+12025550002", code(digest_of(1), 60s, 5)).status, StoreStatus::ok);
}

TEST(MemoryStoreTest, VerifiedAndRemovedCodesFreeTheirRoom) {
    FakeClock clock;
    MemoryStore store(options(1), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 60s, 5));
    ASSERT_EQ(store.verify_and_consume("+12025550001", digest_of(1)).outcome, VerifyOutcome::verified);
    ASSERT_EQ(store.put_code("+12025550002", code(digest_of(1), 60s, 5)).status, StoreStatus::ok);

    ASSERT_EQ(store.remove_code("+12025550002", digest_of(1)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.put_code("+12025550003", code(digest_of(1), 60s, 5)).status, StoreStatus::ok);
}

TEST(MemoryStoreTest, RemoveCodeKeepsACodeWithAnotherDigest) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    store.put_code("+12025550001", code(digest_of(1), 60s, 5));
    // The SMS for the first code failed, but a second code was sent meanwhile.
    store.put_code("+12025550001", code(digest_of(2), 60s, 5));

    EXPECT_EQ(store.remove_code("+12025550001", digest_of(1)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.verify_and_consume("+12025550001", digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, HealthCountsPendingCodes) {
    MemoryStore store(options());
    EXPECT_TRUE(store.health().healthy);
    EXPECT_EQ(store.health().detail, "0 pending codes");
    store.put_code("+12025550001", code(digest_of(1), 60s, 5));
    store.put_code("+12025550002", code(digest_of(1), 60s, 5));
    EXPECT_EQ(store.health().detail, "2 pending codes");
}

TEST(MemoryStoreTest, ConcurrentNewKeysNeverExceedTheBound) {
    MemoryStore store(options(100, 4));
    std::atomic<int> stored{0};
    std::atomic<int> full{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                const auto key = "+1202" + std::to_string(t) + std::to_string(1000000 + i);
                const auto status = store.put_code(key, code(digest_of(1), 60s, 5)).status;
                (status == StoreStatus::ok ? stored : full).fetch_add(1);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(stored.load(), 100);
    EXPECT_EQ(full.load(), 300);
    EXPECT_EQ(store.size(), 100u);
}

}  // namespace
}  // namespace testino::plugins

namespace testino::plugins {
namespace {

TEST(MemoryStoreCounters, ALiveCounterIsNeverEvictedAFullTableRefusesNewOnes) {
    MemoryStoreOptions options;
    options.shards = 4;
    options.max_counters = 3;
    MemoryStore store(options);
    using namespace std::chrono_literals;
    store.hit_counter("old", 10s, 1);
    store.hit_counter("mid", 20s, 1);
    store.hit_counter("new", 30s, 1);

    const auto refused = store.hit_counter("newest", 40s, 1);
    EXPECT_EQ(refused.status, StoreStatus::full);
    EXPECT_NE(refused.detail.find("store.memory.max_counters"), std::string::npos) << refused.detail;
    EXPECT_EQ(store.counter_count(), 3u);
    EXPECT_EQ(store.hit_counter("old", 10s, 0).count, 1) << "the one nearest its end stayed";
    EXPECT_EQ(store.hit_counter("old", 10s, 1).count, 2) << "existing counters still count";
    EXPECT_EQ(store.hit_counter("newest", 40s, 0).status, StoreStatus::ok) << "a read creates nothing";
    EXPECT_EQ(store.hit_counter("newest", 40s, -1).status, StoreStatus::ok) << "nor does a refund";
}

TEST(MemoryStoreCounters, AFullTableMakesRoomFromExpiredCountersInAnyShard) {
    FakeClock clock;
    MemoryStoreOptions options;
    options.shards = 8;
    options.max_counters = 8;
    options.sweep_interval = std::chrono::hours(1);
    MemoryStore store(options, clock.as_function());
    using namespace std::chrono_literals;
    for (int i = 0; i < 8; ++i) store.hit_counter("c" + std::to_string(i), i == 5 ? 10s : 600s, 1);
    EXPECT_EQ(store.hit_counter("late", 60s, 1).status, StoreStatus::full);

    clock.advance(11s);
    EXPECT_EQ(store.hit_counter("late", 60s, 1).count, 1) << "c5's window ended: its slot is free";
    EXPECT_EQ(store.hit_counter("later", 60s, 1).status, StoreStatus::full);
    EXPECT_EQ(store.counter_count(), 8u);
}

TEST(MemoryStoreCounters, AWindowThatEndedStartsAfreshAndFreesNoExtraRoom) {
    FakeClock clock;
    MemoryStoreOptions options;
    options.shards = 1;
    options.max_counters = 1;
    MemoryStore store(options, clock.as_function());
    using namespace std::chrono_literals;
    EXPECT_EQ(store.hit_counter("a", 10s, 3).count, 3);
    clock.advance(10s);
    const auto fresh = store.hit_counter("a", 10s, 1);
    EXPECT_EQ(fresh.count, 1);
    EXPECT_EQ(fresh.reset_in, 10s);
    EXPECT_EQ(store.counter_count(), 1u);
    EXPECT_EQ(store.hit_counter("b", 10s, 1).status, StoreStatus::full);
}

TEST(MemoryStoreCounters, ExpiredCountersAreSwept) {
    auto now = std::chrono::steady_clock::now();
    MemoryStoreOptions options;
    options.sweep_interval = std::chrono::hours(1);
    MemoryStore store(options, [&] { return now; });
    store.hit_counter("a", std::chrono::seconds(5), 1);
    now += std::chrono::seconds(6);
    store.sweep_expired();
    EXPECT_EQ(store.counter_count(), 0u);
}

}  // namespace
}  // namespace testino::plugins
