#include "domain/phone_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace testino {
namespace {

using Verdict = PhoneVerdictCache::Verdict;

TEST(PhoneVerdictCache, ReturnsWhatWasInserted) {
    PhoneVerdictCache cache(64, 4);
    EXPECT_FALSE(cache.find("1:2025550123"));
    cache.insert("1:2025550123", {Verdict::valid, "+12025550123"});
    cache.insert("44:2079460000", {Verdict::cannot_receive, {}});
    const auto valid = cache.find("1:2025550123");
    ASSERT_TRUE(valid);
    EXPECT_EQ(valid->verdict, Verdict::valid);
    EXPECT_EQ(valid->e164, "+12025550123");
    EXPECT_EQ(cache.find("44:2079460000")->verdict, Verdict::cannot_receive);
    EXPECT_EQ(cache.size(), 2u);
}

TEST(PhoneVerdictCache, StaysWithinItsCapacityAndDropsTheOldest) {
    PhoneVerdictCache cache(32, 1);  // one shard: FIFO order is exact
    for (int i = 0; i < 100; ++i) cache.insert("1:" + std::to_string(i), {Verdict::valid, std::to_string(i)});
    EXPECT_EQ(cache.size(), 32u);
    EXPECT_FALSE(cache.find("1:0"));
    EXPECT_FALSE(cache.find("1:67"));
    ASSERT_TRUE(cache.find("1:68"));
    EXPECT_EQ(cache.find("1:99")->e164, "99");
}

TEST(PhoneVerdictCache, ShardedCapacityIsBounded) {
    PhoneVerdictCache cache(256, 16);
    for (int i = 0; i < 10000; ++i) cache.insert(std::to_string(i), {Verdict::not_a_number, {}});
    EXPECT_LE(cache.size(), 256u);
}

TEST(PhoneVerdictCache, ASecondInsertOfAKeyKeepsTheFirst) {
    PhoneVerdictCache cache(8, 1);
    cache.insert("k", {Verdict::valid, "first"});
    cache.insert("k", {Verdict::valid, "second"});
    EXPECT_EQ(cache.find("k")->e164, "first");
    EXPECT_EQ(cache.size(), 1u);
}

TEST(PhoneVerdictCache, ManyThreadsAtOnce) {
    PhoneVerdictCache cache(512, 8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&cache, t] {
            for (int i = 0; i < 5000; ++i) {
                const std::string key = std::to_string((i * 7 + t) % 2000);
                if (const auto hit = cache.find(key)) {
                    EXPECT_EQ(hit->e164, key);
                } else {
                    cache.insert(key, {Verdict::valid, key});
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(cache.size(), 512u);
}

}  // namespace
}  // namespace testino
