// RedisStore and Redis's memory settings, against real redis-servers started with them: a
// policy that may evict our keys is found at start-up and on a later first connection, a
// CONFIG Redis refuses is warned about, and a Redis out of memory (noeviction) makes the
// store full and refuses guesses instead of letting them go uncounted.
#include <gtest/gtest.h>

#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test::eventually;
using test::RedisServer;
using test::RedisServerOptions;
using test_helpers::contains;
using test_helpers::digest_of;
using test_helpers::make_store;
using test_helpers::store_options;
using test_support::RecordingHost;
using Verdict = EvictionCheck::Verdict;

constexpr const char* kNumber = "+12025550123";

RedisServerOptions with_memory(const std::string& maxmemory, const std::string& policy, bool start = true) {
    return {"", start, {"--maxmemory", maxmemory, "--maxmemory-policy", policy}};
}

TEST(RedisEvictionTest, APolicyThatMayEvictOurKeysIsFoundAtStartUp) {
    for (const char* policy : {"allkeys-lru", "volatile-ttl", "volatile-lru", "allkeys-random"}) {
        RedisServer redis(with_memory("100mb", policy));
        RecordingHost host;
        auto store = make_store(redis.url(), host);
        const auto& check = store->redis().eviction_at_start();
        ASSERT_TRUE(check.has_value()) << policy;
        EXPECT_EQ(check->verdict, Verdict::unsafe) << policy;
        EXPECT_TRUE(contains(check->detail, std::string("maxmemory-policy ") + policy)) << check->detail;
        EXPECT_TRUE(contains(check->detail, "noeviction")) << "the fix: " << check->detail;
        EXPECT_TRUE(contains(check->detail, "store.redis.allow_eviction")) << check->detail;
        const auto health = store->health();
        EXPECT_FALSE(health.healthy) << policy;
        EXPECT_TRUE(contains(health.detail, policy)) << health.detail;
    }
}

TEST(RedisEvictionTest, NoMaxmemoryOrNoevictionIsSafe) {
    for (const RedisServerOptions& options :
         {RedisServerOptions{}, with_memory("100mb", "noeviction"), with_memory("0", "allkeys-lru")}) {
        RedisServer redis(options);
        RecordingHost host;
        auto store = make_store(redis.url(), host);
        const auto& check = store->redis().eviction_at_start();
        ASSERT_TRUE(check.has_value());
        EXPECT_EQ(check->verdict, Verdict::safe) << check->detail;
        EXPECT_TRUE(store->health().healthy);
        EXPECT_EQ(host.count("store.redis.maxmemory_policy_unchecked"), 0u);
    }
}

TEST(RedisEvictionTest, AllowEvictionKeepsTheStoreHealthyWithAWarning) {
    RedisServer redis(with_memory("100mb", "allkeys-lru"));
    RecordingHost host;
    RedisStoreOptions options = store_options(redis.url());
    options.allow_eviction = true;
    auto store = make_store(std::move(options), host);
    EXPECT_EQ(store->redis().eviction_at_start()->verdict, Verdict::unsafe);
    EXPECT_EQ(host.count("store.redis.eviction_allowed"), 1u);
    EXPECT_TRUE(store->health().healthy);
    EXPECT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
}

TEST(RedisEvictionTest, ARefusedConfigCommandIsWarnedAboutAndTheStoreWorks) {
    RedisServer renamed(RedisServerOptions{"", true, {"--rename-command", "CONFIG", ""}});
    // A Redis 6+ ACL user without @admin gets NOPERM.
    RedisServer acl(
        RedisServerOptions{"", true, {"--user", "app", "on", ">app-secret", "~*", "&*", "+@all", "-@admin"}});
    for (const std::string& url :
         {renamed.url(), "redis://app:app-secret@127.0.0.1:" + std::to_string(acl.port()) + "/0"}) {
        RecordingHost host;
        auto store = make_store(url, host);
        const auto& check = store->redis().eviction_at_start();
        ASSERT_TRUE(check.has_value()) << url;
        EXPECT_EQ(check->verdict, Verdict::unchecked) << check->detail;
        const auto warnings = host.records_of("store.redis.maxmemory_policy_unchecked");
        ASSERT_EQ(warnings.size(), 1u) << url;
        EXPECT_EQ(warnings[0].level, sdk::LogLevel::warn);
        EXPECT_EQ(host.count("store.redis.unavailable"), 0u) << "a refused CONFIG is no Redis fault";
        EXPECT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
        EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::verified);
        EXPECT_TRUE(store->health().healthy);
    }
}

TEST(RedisEvictionTest, ARedisDownAtStartUpIsCheckedOnItsFirstConnection) {
    RedisServer redis(with_memory("100mb", "allkeys-lru", false));
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    EXPECT_FALSE(store->redis().eviction_at_start().has_value()) << "nothing answered";
    EXPECT_EQ(host.count("store.redis.eviction_unsafe"), 0u);

    redis.start();
    EXPECT_TRUE(eventually([&] {
        store->health();  // the store connects for work only
        return host.count("store.redis.eviction_unsafe") == 1;
    }));
    const auto errors = host.records_of("store.redis.eviction_unsafe");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].level, sdk::LogLevel::error);
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, "allkeys-lru")) << health.detail;
}

TEST(RedisEvictionTest, ARedisOutOfMemoryIsFullAndRefusesGuessesUncounted) {
    RedisServer redis(with_memory("100mb", "noeviction"));
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    ASSERT_EQ(store->hit_counter("rl:{+12025550123}:send", 60s, 1).count, 1);
    // Past maxmemory now: whatever Redis holds is more than 1 byte.
    ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1"}), "OK");
    ASSERT_EQ(redis.command({"SET", "x", "y"}).rfind("ERR: OOM", 0), 0u);

    const auto put = store->put_code("+12025550124", digest_of(1), 60s, 5);
    EXPECT_EQ(put.status, StoreStatus::full) << put.detail;
    EXPECT_EQ(store->hit_counter("rl:{+12025550124}:send", 60s, 1).status, StoreStatus::full);
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(9)).outcome, VerifyOutcome::unavailable)
        << "no write, no guess: a wrong code cannot be tried without using an attempt";
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::unavailable);
    EXPECT_EQ(store->hit_counter("rl:{+12025550123}:send", 60s, 0).count, 1) << "reads still work";

    ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "100mb"}), "OK");
    const auto right = store->verify_and_consume(kNumber, digest_of(1));
    EXPECT_EQ(right.outcome, VerifyOutcome::verified);
    EXPECT_EQ(right.attempts_left, 5) << "the refused guesses changed nothing";
}

TEST(RedisEvictionTest, ARedisOutOfMemoryRefusesNewFamiliesAndRotationsButStillRevokes) {
    RedisServer redis(with_memory("100mb", "noeviction"));
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->create_refresh("a", {digest_of(1), kNumber, 60s, 1h}).status, StoreStatus::ok);
    ASSERT_EQ(store->create_refresh("b", {digest_of(1), kNumber, 60s, 1h}).status, StoreStatus::ok);
    ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1"}), "OK");

    const auto created = store->create_refresh("c", {digest_of(1), kNumber, 60s, 1h});
    EXPECT_EQ(created.status, StoreStatus::full) << created.detail;
    const auto rotated = store->rotate_refresh("a", digest_of(1), digest_of(2), 60s, 0s);
    EXPECT_EQ(rotated.outcome, sdk::RefreshOutcome::unavailable) << rotated.detail;
    EXPECT_EQ(store->revoke_refresh("b", digest_of(1)).outcome, sdk::RefreshOutcome::revoked)
        << "a deletion frees memory: logout works on a full Redis";

    ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "100mb"}), "OK");
    EXPECT_EQ(store->rotate_refresh("a", digest_of(1), digest_of(2), 60s, 0s).outcome,
              sdk::RefreshOutcome::rotated)
        << "the refused rotation changed nothing";
}

}  // namespace
}  // namespace testino::plugins
