// The memory store's refresh-token families beyond the contract: their own bound (a full
// table refuses, reclaiming only expired families), the grace and max_age on a fake clock,
// the history ring's length, and the sweeper.
#include <gtest/gtest.h>

#include "memory_store.hpp"
#include "memory_store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::RefreshOutcome;
using sdk::StoreStatus;
using test_helpers::FakeClock;

sdk::RefreshDigest token(unsigned seed) {
    sdk::RefreshDigest digest{};
    digest.fill(static_cast<std::uint8_t>(seed));
    digest[1] = static_cast<std::uint8_t>(seed >> 8);
    return digest;
}

sdk::NewRefreshFamily first(unsigned seed, std::chrono::seconds ttl = 60s,
                            std::chrono::seconds max_age = 1h) {
    return {token(seed), "+12025550123", ttl, max_age};
}

MemoryStoreOptions families_options(std::size_t max_families, std::size_t shards = 4) {
    MemoryStoreOptions options;
    options.shards = shards;
    options.max_refresh_families = max_families;
    options.sweep_interval = 1h;  // the sweeper stays out of the way
    return options;
}

TEST(MemoryStoreRefresh, AFullTableRefusesNewFamiliesAndKeepsTheLiveOnes) {
    MemoryStore store(families_options(3));
    for (const char* family : {"a", "b", "c"})
        ASSERT_EQ(store.create_refresh(family, first(1)).status, StoreStatus::ok);

    const auto refused = store.create_refresh("d", first(1));
    EXPECT_EQ(refused.status, StoreStatus::full);
    EXPECT_NE(refused.detail.find("store.memory.max_refresh_families"), std::string::npos) << refused.detail;
    EXPECT_EQ(store.refresh_family_count(), 3u);
    EXPECT_EQ(store.create_refresh("a", first(2)).status, StoreStatus::ok) << "replacing one takes no room";
    EXPECT_EQ(store.rotate_refresh("b", token(1), token(2), 60s, 0s).outcome, RefreshOutcome::rotated);
    EXPECT_EQ(store.size(), 0u) << "codes have a table of their own";
}

TEST(MemoryStoreRefresh, AFullTableMakesRoomFromExpiredFamiliesInAnyShard) {
    FakeClock clock;
    MemoryStore store(families_options(8, 8), clock.as_function());
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(store.create_refresh("f" + std::to_string(i), first(1, i == 5 ? 10s : 600s)).status,
                  StoreStatus::ok);
    }
    EXPECT_EQ(store.create_refresh("late", first(1)).status, StoreStatus::full);

    clock.advance(11s);
    EXPECT_EQ(store.create_refresh("late", first(1)).status, StoreStatus::ok)
        << "f5 expired: its slot is free";
    EXPECT_EQ(store.create_refresh("later", first(1)).status, StoreStatus::full);
    EXPECT_EQ(store.refresh_family_count(), 8u);
}

TEST(MemoryStoreRefresh, TheGraceEndsAndARotationRenewsTheTtlUpToTheMaxAge) {
    FakeClock clock;
    MemoryStore store(families_options(10), clock.as_function());
    ASSERT_EQ(store.create_refresh("f", first(1, 60s, 100s)).status, StoreStatus::ok);
    ASSERT_EQ(store.create_refresh("g", first(1, 60s, 100s)).status, StoreStatus::ok);
    ASSERT_EQ(store.rotate_refresh("f", token(1), token(2), 60s, 5s).outcome, RefreshOutcome::rotated);
    ASSERT_EQ(store.rotate_refresh("g", token(1), token(2), 60s, 5s).outcome, RefreshOutcome::rotated);
    clock.advance(4s);
    EXPECT_EQ(store.rotate_refresh("f", token(1), token(9), 60s, 5s).outcome, RefreshOutcome::raced);
    clock.advance(1s);
    EXPECT_EQ(store.rotate_refresh("g", token(1), token(9), 60s, 5s).outcome, RefreshOutcome::reused)
        << "5 s after the rotation the grace is over";

    clock.advance(49s);  // 54 s after sign-in: the first token's 60 s would be nearly over
    const auto renewed = store.rotate_refresh("f", token(2), token(3), 60s, 5s);
    EXPECT_EQ(renewed.outcome, RefreshOutcome::rotated);
    EXPECT_EQ(renewed.expires_in, 46s) << "capped at the family's end, 100 s after sign-in";
    clock.advance(45s);
    EXPECT_EQ(store.rotate_refresh("f", token(3), token(4), 60s, 5s).expires_in, 1s);
    clock.advance(1s);
    EXPECT_EQ(store.rotate_refresh("f", token(4), token(5), 60s, 5s).outcome, RefreshOutcome::not_found);
    EXPECT_EQ(store.refresh_family_count(), 0u) << "the ended family was reclaimed when found";
}

TEST(MemoryStoreRefresh, ATokenOlderThanTheHistoryIsForgottenNotRevoking) {
    MemoryStore store(families_options(10));
    ASSERT_EQ(store.create_refresh("f", first(0)).status, StoreStatus::ok);
    const auto rotations = static_cast<unsigned>(kRefreshHistory) + 1;
    for (unsigned i = 0; i < rotations; ++i) {
        ASSERT_EQ(store.rotate_refresh("f", token(i), token(i + 1), 60s, 0s).outcome,
                  RefreshOutcome::rotated);
    }

    EXPECT_EQ(store.rotate_refresh("f", token(0), token(99), 60s, 0s).outcome, RefreshOutcome::not_found)
        << "the ring kept the newest kRefreshHistoryMin";
    EXPECT_EQ(store.rotate_refresh("f", token(1), token(99), 60s, 0s).outcome, RefreshOutcome::reused);
}

TEST(MemoryStoreRefresh, ExpiredFamiliesAreSwept) {
    FakeClock clock;
    MemoryStore store(families_options(10), clock.as_function());
    ASSERT_EQ(store.create_refresh("short", first(1, 5s)).status, StoreStatus::ok);
    ASSERT_EQ(store.create_refresh("long", first(1, 600s)).status, StoreStatus::ok);
    ASSERT_EQ(store.create_refresh("dead at birth", first(1, 60s, 0s)).status, StoreStatus::ok);
    clock.advance(6s);

    store.sweep_expired();
    EXPECT_EQ(store.refresh_family_count(), 1u);
    EXPECT_EQ(store.rotate_refresh("long", token(1), token(2), 60s, 0s).outcome, RefreshOutcome::rotated);
}

TEST(MemoryStoreRefresh, RevokedAndReusedFamiliesGiveTheirSlotBack) {
    MemoryStore store(families_options(2));
    ASSERT_EQ(store.create_refresh("a", first(1)).status, StoreStatus::ok);
    ASSERT_EQ(store.create_refresh("b", first(1)).status, StoreStatus::ok);
    ASSERT_EQ(store.rotate_refresh("a", token(1), token(2), 60s, 0s).outcome, RefreshOutcome::rotated);

    EXPECT_EQ(store.rotate_refresh("a", token(1), token(3), 60s, 0s).outcome, RefreshOutcome::reused);
    EXPECT_EQ(store.revoke_refresh("b", token(1)).outcome, RefreshOutcome::revoked);
    EXPECT_EQ(store.refresh_family_count(), 0u);
    EXPECT_EQ(store.create_refresh("c", first(1)).status, StoreStatus::ok);
    EXPECT_EQ(store.create_refresh("d", first(1)).status, StoreStatus::ok);
}

}  // namespace
}  // namespace testino::plugins
