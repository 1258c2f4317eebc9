// Unit tests of MemoryStore's own behaviour (the shared contract is in
// memory_store_contract_test.cpp). A fake clock moves time without sleeping.
#include "memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::CodeDigest;
using sdk::StoreStatus;
using sdk::VerifyOutcome;

class FakeClock {
public:
    MemoryStore::Clock::time_point now() const {
        return MemoryStore::Clock::time_point(MemoryStore::Clock::duration(ticks_.load()));
    }
    void advance(MemoryStore::Clock::duration by) { ticks_.fetch_add(by.count()); }
    MemoryStore::Now as_function() {
        return [this] { return now(); };
    }

private:
    // Far from zero, so "expires at 0" bugs cannot pass by accident.
    std::atomic<MemoryStore::Clock::rep> ticks_{
        std::chrono::duration_cast<MemoryStore::Clock::duration>(1000h).count()};
};

CodeDigest digest_of(std::uint8_t seed) {
    CodeDigest digest{};
    digest.fill(seed);
    return digest;
}

MemoryStoreOptions options(std::size_t max_codes = 1000, std::size_t shards = 4,
                           std::chrono::milliseconds sweep_interval = 1h) {
    MemoryStoreOptions result;
    result.max_codes = max_codes;
    result.shards = shards;
    result.sweep_interval = sweep_interval;  // 1 h: the sweeper stays out of the way
    return result;
}

TEST(MemoryStoreTest, CodeIsValidJustBeforeItsTtlAndGoneAtIt) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    ASSERT_EQ(store.put_code("+12025550123", digest_of(1), 300s, 5).status, StoreStatus::ok);
    ASSERT_EQ(store.put_code("+12025550124", digest_of(1), 300s, 5).status, StoreStatus::ok);

    clock.advance(300s - 1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest_of(1)).outcome, VerifyOutcome::verified);
    clock.advance(1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550124", digest_of(1)).outcome, VerifyOutcome::not_found);
    EXPECT_EQ(store.size(), 0u) << "an expired code found by verify is deleted";
}

TEST(MemoryStoreTest, DeadCodeReportsSecondsUntilItExpires) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    ASSERT_EQ(store.put_code("+12025550123", digest_of(1), 300s, 1).status, StoreStatus::ok);
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
    ASSERT_EQ(store.put_code("+12025550123", digest_of(1), 60s, 0).status, StoreStatus::ok);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest_of(1)).outcome,
              VerifyOutcome::attempts_exhausted);
}

TEST(MemoryStoreTest, SweepRemovesOnlyExpiredCodes) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 10s, 5);
    store.put_code("+12025550002", digest_of(1), 20s, 5);
    store.put_code("+12025550003", digest_of(1), 30s, 5);
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
    store.put_code("+12025550001", digest_of(1), 10s, 5);
    store.put_code("+12025550002", digest_of(1), 60s, 5);
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
        store->put_code("+12025550123", digest_of(1), 60s, 5);
        store.reset();
    }
    SUCCEED();
}

TEST(MemoryStoreTest, FullStoreRefusesANewKey) {
    FakeClock clock;
    MemoryStore store(options(3), clock.as_function());
    for (const char* key : {"+12025550001", "+12025550002", "+12025550003"}) {
        ASSERT_EQ(store.put_code(key, digest_of(1), 60s, 5).status, StoreStatus::ok);
    }

    const auto refused = store.put_code("+12025550004", digest_of(1), 60s, 5);
    EXPECT_EQ(refused.status, StoreStatus::full);
    EXPECT_FALSE(refused.detail.empty());
    EXPECT_EQ(store.size(), 3u);
    EXPECT_EQ(store.verify_and_consume("+12025550004", digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST(MemoryStoreTest, FullStoreStillReplacesAnExistingKeysCode) {
    FakeClock clock;
    MemoryStore store(options(2), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 60s, 5);
    store.put_code("+12025550002", digest_of(1), 60s, 5);

    EXPECT_EQ(store.put_code("+12025550001", digest_of(2), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 2u);
    EXPECT_EQ(store.verify_and_consume("+12025550001", digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, FullStoreEvictsExpiredCodesToMakeRoom) {
    FakeClock clock;
    MemoryStore store(options(3, 1), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 10s, 5);
    store.put_code("+12025550002", digest_of(1), 20s, 5);
    store.put_code("+12025550003", digest_of(1), 100s, 5);
    clock.advance(30s);

    EXPECT_EQ(store.put_code("+12025550004", digest_of(1), 60s, 5).status, StoreStatus::ok);
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
        store.put_code("+1202555000" + std::to_string(i), digest_of(1), ttl, 5);
    }
    EXPECT_EQ(store.put_code("+12025550100", digest_of(1), 60s, 5).status, StoreStatus::full);

    clock.advance(11s);
    EXPECT_EQ(store.put_code("+12025550100", digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store.put_code("+12025550101", digest_of(1), 60s, 5).status, StoreStatus::full);
}

TEST(MemoryStoreTest, DeadCodesCountUntilTheyExpire) {
    FakeClock clock;
    MemoryStore store(options(1), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 60s, 1);
    store.verify_and_consume("+12025550001", digest_of(2));  // now dead

    EXPECT_EQ(store.put_code("+12025550002", digest_of(1), 60s, 5).status, StoreStatus::full);
    clock.advance(60s);
    EXPECT_EQ(store.put_code("+12025550002", digest_of(1), 60s, 5).status, StoreStatus::ok);
}

TEST(MemoryStoreTest, VerifiedAndRemovedCodesFreeTheirRoom) {
    FakeClock clock;
    MemoryStore store(options(1), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 60s, 5);
    ASSERT_EQ(store.verify_and_consume("+12025550001", digest_of(1)).outcome, VerifyOutcome::verified);
    ASSERT_EQ(store.put_code("+12025550002", digest_of(1), 60s, 5).status, StoreStatus::ok);

    ASSERT_EQ(store.remove_code("+12025550002", digest_of(1)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.put_code("+12025550003", digest_of(1), 60s, 5).status, StoreStatus::ok);
}

TEST(MemoryStoreTest, RemoveCodeKeepsACodeWithAnotherDigest) {
    FakeClock clock;
    MemoryStore store(options(), clock.as_function());
    store.put_code("+12025550001", digest_of(1), 60s, 5);
    // The SMS for the first code failed, but a second code was sent meanwhile.
    store.put_code("+12025550001", digest_of(2), 60s, 5);

    EXPECT_EQ(store.remove_code("+12025550001", digest_of(1)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.verify_and_consume("+12025550001", digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST(MemoryStoreTest, HealthCountsPendingCodes) {
    MemoryStore store(options());
    EXPECT_TRUE(store.health().healthy);
    EXPECT_EQ(store.health().detail, "0 pending codes");
    store.put_code("+12025550001", digest_of(1), 60s, 5);
    store.put_code("+12025550002", digest_of(1), 60s, 5);
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
                const auto status = store.put_code(key, digest_of(1), 60s, 5).status;
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

TEST(MemoryStoreCounters, AreBoundedByEvictingTheOldest) {
    MemoryStoreOptions options;
    options.shards = 1;
    options.max_counters = 3;
    MemoryStore store(options);
    using namespace std::chrono_literals;
    store.hit_counter("old", 10s, 1);
    store.hit_counter("mid", 20s, 1);
    store.hit_counter("new", 30s, 1);
    store.hit_counter("newest", 40s, 1);
    EXPECT_EQ(store.counter_count(), 3u);
    EXPECT_EQ(store.hit_counter("old", 10s, 0).count, 0) << "the one nearest its end went";
    EXPECT_EQ(store.hit_counter("newest", 40s, 0).count, 1);
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
