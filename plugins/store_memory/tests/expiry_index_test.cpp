// The expiry index and table under the memory store: buckets, swap-removal keeping every
// slot right, reclaiming only what surely expired, and the lock-free hint.
#include "expiry_index.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace testino::plugins {
namespace {

struct Value {
    int payload = 0;
    ExpiryHook hook;
};

constexpr std::int64_t kSecond = 1000;  // ticks per bucket in these tests

std::set<std::string> reclaim_all(ExpiringTable<Value>& table, std::int64_t now) {
    std::set<std::string> before;
    for (const char* key : {"a", "b", "c", "d", "e"}) {
        if (table.find(key) != table.end()) before.insert(key);
    }
    table.reclaim(now, 100);
    std::set<std::string> gone;
    for (const auto& key : before) {
        if (table.find(key) == table.end()) gone.insert(key);
    }
    return gone;
}

TEST(ExpiryIndexTest, ReclaimsOnlyEntriesWhoseSecondHasSurelyPassed) {
    ExpiringTable<Value> table(kSecond);
    table.insert("a", {}, 1500);  // bucket ends at 2000
    table.insert("b", {}, 2000);  // exactly on a bucket's end
    table.insert("c", {}, 2001);  // bucket ends at 3000
    EXPECT_FALSE(table.may_reclaim(1999));
    EXPECT_EQ(table.reclaim(1999, 100), 0u);
    EXPECT_TRUE(table.may_reclaim(2000));
    EXPECT_EQ(reclaim_all(table, 2999), (std::set<std::string>{"a", "b"}));
    EXPECT_EQ(table.size(), 1u);
    EXPECT_FALSE(table.may_reclaim(2999));
    EXPECT_EQ(reclaim_all(table, 3000), (std::set<std::string>{"c"}));
    EXPECT_FALSE(table.may_reclaim(INT64_MAX - 1)) << "an empty table has nothing to reclaim";
}

TEST(ExpiryIndexTest, RemovingFromTheMiddleOfABucketKeepsTheOthersFiled) {
    ExpiringTable<Value> table(kSecond);
    for (const char* key : {"a", "b", "c", "d"}) table.insert(key, {}, 1500);
    table.erase(table.find("b"), 1500);  // "d" moves into b's slot
    table.erase(table.find("a"), 1500);  // "c" moves into a's slot
    EXPECT_EQ(reclaim_all(table, 2000), (std::set<std::string>{"c", "d"}));
    EXPECT_EQ(table.size(), 0u);
    EXPECT_FALSE(table.may_reclaim(2000));
}

TEST(ExpiryIndexTest, RefilingMovesAnEntryToItsNewSecond) {
    ExpiringTable<Value> table(kSecond);
    table.insert("a", {}, 1500);
    table.insert("b", {}, 1500);
    table.refile(table.find("a"), 1500, 5500);
    EXPECT_EQ(reclaim_all(table, 2000), (std::set<std::string>{"b"}));
    EXPECT_FALSE(table.may_reclaim(5999));
    table.refile(table.find("a"), 5500, 1200);  // earlier too: the hint follows
    EXPECT_TRUE(table.may_reclaim(2000));
    EXPECT_EQ(reclaim_all(table, 2000), (std::set<std::string>{"a"}));
}

TEST(ExpiryIndexTest, AnEntryIsFoundInTheBucketOfTheExpiryItWasFiledUnder) {
    ExpiringTable<Value> table(kSecond);
    table.insert("a", {}, 1500);
    table.insert("b", {}, 2500);
    table.refile(table.find("a"), 1500, 1900);  // the same second: nothing moves
    table.erase(table.find("a"), 1900);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_FALSE(table.may_reclaim(2000)) << "a's bucket went with it";
    EXPECT_EQ(reclaim_all(table, 3000), (std::set<std::string>{"b"}));
}

TEST(ExpiryIndexTest, ReclaimStopsAtItsLimitAndResumes) {
    ExpiringTable<Value> table(kSecond);
    for (const char* key : {"a", "b", "c", "d", "e"}) table.insert(key, {}, 1000);
    EXPECT_EQ(table.reclaim(1000, 2), 2u);
    EXPECT_EQ(table.size(), 3u);
    EXPECT_TRUE(table.may_reclaim(1000));
    EXPECT_EQ(table.reclaim(1000, 10), 3u);
    EXPECT_EQ(table.size(), 0u);
}

TEST(TableBoundTest, TakesUpToItsMaxAndGetsSlotsBack) {
    TableBound bound(2);
    EXPECT_TRUE(bound.try_take());
    EXPECT_TRUE(bound.try_take());
    EXPECT_FALSE(bound.try_take());
    EXPECT_FALSE(bound.has_room());
    bound.give_back(1);
    EXPECT_TRUE(bound.has_room());
    EXPECT_EQ(bound.used(), 1u);
    EXPECT_EQ(TableBound(0).max(), 1u) << "a bound of 0 holds one";
}

}  // namespace
}  // namespace testino::plugins
