// The Redis store's ABI 5 hash (redis_scripts.hpp) as Redis holds it, and a rolling upgrade:
// codes an ABI 4 server wrote keep verifying here, and an ABI 4 server still verifies the
// codes this layout writes. ABI 4's scripts are played by hand (its layout: d, a, PEXPIRE).
// Then the ABI 6 hash of a refresh-token family.
#include <gtest/gtest.h>

#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test::RedisServer;
using test_helpers::bytes;
using test_helpers::digest_of;
using test_helpers::make_store;
using test_support::RecordingHost;

constexpr const char* kNumber = "+12025550123";
constexpr const char* kKey = "testino:{+12025550123}:code";

// The verify script of the ABI 4 store, as it was released.
constexpr const char* kAbi4VerifyScript = R"lua(
local code = redis.call('HMGET', KEYS[1], 'd', 'a')
if not code[1] then return {0, 0, 0} end
local left = tonumber(code[2]) or 0
if left <= 0 then return {3, 0, redis.call('PTTL', KEYS[1])} end
if code[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1, left, 0}
end
left = left - 1
redis.call('HSET', KEYS[1], 'a', left)
return {2, left, 0}
)lua";

sdk::FlowTag flow_of(std::uint8_t seed) {
    sdk::FlowTag flow{};
    flow.fill(seed);
    return flow;
}

// What an ABI 4 server's put did: the digest and attempts, the TTL on the key.
void abi4_put(const RedisServer& redis, const sdk::CodeDigest& digest, int attempts, long ttl_ms) {
    ASSERT_EQ(
        redis.command({"HSET", kKey, "d", bytes(digest), "a", std::to_string(attempts)}).rfind("ERR", 0),
        std::string::npos);
    ASSERT_EQ(redis.command({"PEXPIRE", kKey, std::to_string(ttl_ms)}), "1");
}

long long redis_now_ms(const RedisServer& redis) {
    const std::string time = redis.command({"TIME"});
    return std::stoll(time.substr(0, time.find('\n'))) * 1000;
}

TEST(RedisLayoutTest, AReplacedCodeIsKeptInTheSameHashAndTheKeyLivesUntilTheLaterEnd) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, {digest_of(1), flow_of(1), 300s, 5, 0s}).status, StoreStatus::ok);
    ASSERT_EQ(store->verify_and_consume(kNumber, digest_of(9)).attempts_left, 4);
    ASSERT_EQ(store->put_code(kNumber, {digest_of(2), flow_of(2), 10s, 5, 60s}).status, StoreStatus::ok);

    EXPECT_EQ(redis.command({"HKEYS", kKey}), "d\nn\nf\nx\na\np\nq\ny\nz\nb");
    EXPECT_EQ(redis.command({"HGET", kKey, "p"}), bytes(digest_of(1)));
    EXPECT_EQ(redis.command({"HGET", kKey, "q"}), bytes(flow_of(1)));
    EXPECT_EQ(redis.command({"HGET", kKey, "b"}), "4") << "the attempts it had, for a restore";
    EXPECT_EQ(redis.command({"HGET", kKey, "a"}), "5") << "reset for both codes";
    const long long now = redis_now_ms(redis);
    EXPECT_GT(std::stoll(redis.command({"HGET", kKey, "y"})), now + 50000) << "the overlap's end";
    EXPECT_GT(std::stoll(redis.command({"HGET", kKey, "z"})), now + 280000) << "its own expiry";
    const long ttl_ms = std::stol(redis.command({"PTTL", kKey}));
    EXPECT_GT(ttl_ms, 50000) << "the overlap outlives the new code's 10 s";
    EXPECT_LE(ttl_ms, 60000);

    ASSERT_EQ(store->remove_code(kNumber, digest_of(2)).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"HKEYS", kKey}), "d\nn\nf\nx\na") << "restored: no previous code";
    EXPECT_GT(std::stol(redis.command({"PTTL", kKey})), 280000) << "with its own expiry";
}

TEST(RedisLayoutTest, ACodeAnAbi4ServerWroteVerifiesInAnyFlowWithItsTtl) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    abi4_put(redis, digest_of(1), 5, 60000);

    const auto wrong = store->verify_and_consume(kNumber, digest_of(9), flow_of(3));
    EXPECT_EQ(wrong.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(wrong.attempts_left, 4);
    const long ttl_ms = std::stol(redis.command({"PTTL", kKey}));
    EXPECT_GT(ttl_ms, 50000);
    EXPECT_LE(ttl_ms, 60000) << "converted on its first write, keeping its TTL";
    EXPECT_EQ(redis.command({"HGET", kKey, "n"}), bytes(digest_of(1)));
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1), flow_of(3)).outcome, VerifyOutcome::verified)
        << "an ABI 4 code has no flow tag: it verifies in any flow";
}

TEST(RedisLayoutTest, AnAbi4PutOverThisLayoutIsTheCurrentCodeAndTheStaleFieldsAreIgnored) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, {digest_of(1), flow_of(1), 300s, 5, 0s}).status, StoreStatus::ok);
    ASSERT_EQ(store->put_code(kNumber, {digest_of(2), flow_of(2), 300s, 5, 60s}).status, StoreStatus::ok);
    abi4_put(redis, digest_of(3), 5, 60000);  // an old server sent a newer code meanwhile

    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::mismatch)
        << "the stale previous code is not kept";
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(2)).outcome, VerifyOutcome::mismatch)
        << "nor the code the old server replaced";
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(3), flow_of(2)).outcome, VerifyOutcome::verified);
}

TEST(RedisLayoutTest, AnAbi4ServerStillVerifiesTheCurrentCodeOfThisLayout) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, {digest_of(1), flow_of(1), 300s, 5, 0s}).status, StoreStatus::ok);
    auto abi4_verify = [&](std::uint8_t seed) {
        return redis.command({"EVAL", kAbi4VerifyScript, "1", kKey, bytes(digest_of(seed))});
    };

    EXPECT_EQ(abi4_verify(9), "2\n4\n0") << "a wrong guess, counted in the shared attempts";
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(9)).attempts_left, 3);
    EXPECT_EQ(abi4_verify(1), "1\n3\n0");
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST(RedisLayoutTest, ARefreshFamilyIsOneHashUnderItsOwnHashTagWithTheTokensExpiry) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    constexpr const char* kFamily = "testino:refresh:{Fam_1-x}";
    ASSERT_EQ(store->create_refresh("Fam_1-x", {digest_of(1), kNumber, 60s, 100s}).status, StoreStatus::ok);

    EXPECT_EQ(redis.command({"HKEYS", kFamily}), "s\nc\ne\nr\np");
    EXPECT_EQ(redis.command({"HGET", kFamily, "s"}), kNumber);
    EXPECT_EQ(redis.command({"HGET", kFamily, "c"}), bytes(digest_of(1))) << "the digest, 32 raw bytes";
    const long long now = redis_now_ms(redis);
    EXPECT_GT(std::stoll(redis.command({"HGET", kFamily, "e"})), now + 90000) << "sign-in + max_age";
    EXPECT_LE(std::stol(redis.command({"PTTL", kFamily})), 60000) << "the token's ttl";

    ASSERT_EQ(store->rotate_refresh("Fam_1-x", digest_of(1), digest_of(2), 600s, 0s).outcome,
              sdk::RefreshOutcome::rotated);
    EXPECT_EQ(redis.command({"HGET", kFamily, "c"}), bytes(digest_of(2)));
    EXPECT_EQ(redis.command({"HGET", kFamily, "p"}), bytes(digest_of(1)));
    EXPECT_GE(std::stoll(redis.command({"HGET", kFamily, "r"})), now);
    const long ttl_ms = std::stol(redis.command({"PTTL", kFamily}));
    EXPECT_GT(ttl_ms, 90000);
    EXPECT_LE(ttl_ms, 100000) << "600 s asked for, but the family ends 100 s after sign-in";
}

TEST(RedisLayoutTest, ARefreshFamilyKeepsTheNewestRotatedAwayDigestsOnly) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    constexpr const char* kFamily = "testino:refresh:{f}";
    ASSERT_EQ(store->create_refresh("f", {digest_of(0), kNumber, 60s, 1h}).status, StoreStatus::ok);
    const int rotations = sdk::kRefreshHistoryMin + 4;
    for (int i = 0; i < rotations; ++i) {
        ASSERT_EQ(store
                      ->rotate_refresh("f", digest_of(static_cast<std::uint8_t>(i)),
                                       digest_of(static_cast<std::uint8_t>(i + 1)), 60s, 0s)
                      .outcome,
                  sdk::RefreshOutcome::rotated);
    }

    const std::string history = redis.command({"HGET", kFamily, "p"});
    ASSERT_EQ(history.size(), static_cast<std::size_t>(sdk::kRefreshHistoryMin) * 32);
    EXPECT_EQ(history.substr(0, 32), bytes(digest_of(4))) << "oldest first";
    EXPECT_EQ(history.substr(history.size() - 32),
              bytes(digest_of(static_cast<std::uint8_t>(rotations - 1))));
    EXPECT_EQ(store->rotate_refresh("f", digest_of(3), digest_of(99), 60s, 0s).outcome,
              sdk::RefreshOutcome::not_found)
        << "forgotten: refused without revoking";
    EXPECT_EQ(store->revoke_refresh("f", digest_of(4)).outcome, sdk::RefreshOutcome::revoked);
    EXPECT_EQ(redis.command({"EXISTS", kFamily}), "0");
}

}  // namespace
}  // namespace testino::plugins
