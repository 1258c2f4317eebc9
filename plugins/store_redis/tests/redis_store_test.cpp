// RedisStore against a real, private redis-server: the key layout, script reloading,
// credentials and database index, and Redis faults (down, frozen, killed, restarted).
// The shared store contract is in redis_store_contract_test.cpp.
#include "redis_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test::eventually;
using test::reaches;
using test::RedisServer;
using test::RedisServerOptions;
using test_helpers::bytes;
using test_helpers::contains;
using test_helpers::digest_of;
using test_helpers::make_store;
using test_helpers::store_options;
using test_helpers::Tally;
using test_support::RecordingHost;
using Clock = std::chrono::steady_clock;

constexpr const char* kNumber = "+12025550123";

TEST(RedisStoreTest, KeepsOnlyTheDigestUnderAHashTaggedKeyWithARedisTtl) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 300s, 5).status, StoreStatus::ok);

    const std::string key = "testino:{+12025550123}:code";
    EXPECT_EQ(store->redis().code_key(kNumber), key);
    EXPECT_EQ(redis.command({"KEYS", "*"}), key) << "one key, nothing else";
    EXPECT_EQ(redis.command({"HKEYS", key}), "d\nn\nf\nx\na") << "no previous code";
    EXPECT_EQ(redis.command({"HGET", key, "d"}), bytes(digest_of(1)));
    EXPECT_EQ(redis.command({"HGET", key, "n"}), bytes(digest_of(1))) << "marks the ABI 5 layout";
    EXPECT_EQ(redis.command({"HGET", key, "f"}), std::string(32, '\0')) << "the flow tag: none given, zeros";
    EXPECT_EQ(redis.command({"HGET", key, "a"}), "5");
    const std::string time = redis.command({"TIME"});  // seconds, then microseconds
    const long long now_ms = std::stoll(time.substr(0, time.find('\n'))) * 1000;
    const long long expiry_ms = std::stoll(redis.command({"HGET", key, "x"}));
    EXPECT_GT(expiry_ms, now_ms + 290000) << "x: the code's expiry on Redis's clock";
    EXPECT_LE(expiry_ms, now_ms + 301000);
    const long ttl_ms = std::stol(redis.command({"PTTL", key}));
    EXPECT_GT(ttl_ms, 290000);
    EXPECT_LE(ttl_ms, 300000);
    // The Cluster hash tag: the code and the number's counters share one slot.
    EXPECT_EQ(redis.command({"CLUSTER", "KEYSLOT", key}),
              redis.command({"CLUSTER", "KEYSLOT", store->redis().counter_key("rl:{+12025550123}:send")}));

    ASSERT_EQ(store->verify_and_consume(kNumber, digest_of(2)).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(redis.command({"HGET", key, "a"}), "4");
    EXPECT_GT(std::stol(redis.command({"PTTL", key})), 0) << "a wrong guess keeps the TTL";
    ASSERT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(redis.command({"EXISTS", key}), "0");
}

TEST(RedisStoreTest, KeyPrefixIsConfigurable) {
    RedisServer redis;
    RecordingHost host;
    RedisStoreOptions options = store_options(redis.url());
    options.key_prefix = "staging:otp:";
    auto store = make_store(std::move(options), host);
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"KEYS", "*"}), "staging:otp:{+12025550123}:code");
}

TEST(RedisStoreTest, CounterIsOneKeyWithTheWindowAsTtl) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->hit_counter("rl:{+12025550123}:send", 600s, 2).count, 2);
    EXPECT_EQ(redis.command({"GET", "testino:count:rl:{+12025550123}:send"}), "2");
    const long ttl_ms = std::stol(redis.command({"PTTL", "testino:count:rl:{+12025550123}:send"}));
    EXPECT_GT(ttl_ms, 590000);
    EXPECT_LE(ttl_ms, 600000);
}

TEST(RedisStoreTest, ReloadsItsScriptsAfterScriptFlush) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    const std::size_t loads = store->redis().script_loads();
    EXPECT_EQ(loads, 1u) << "a fresh Redis has no scripts: the put script was loaded once";
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->redis().script_loads(), loads) << "then it runs by SHA";

    ASSERT_EQ(redis.command({"SCRIPT", "FLUSH"}), "OK");
    EXPECT_EQ(store->put_code(kNumber, digest_of(2), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(2)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(store->redis().script_loads(), loads + 2) << "put and verify were loaded again";
    EXPECT_GE(host.count("store.redis.script_loaded"), 3u);
}

TEST(RedisStoreTest, PasswordAndDatabaseIndexAreUsed) {
    RedisServer redis(RedisServerOptions{"p4ss-word"});
    RecordingHost host;
    auto store = make_store(redis.url(3), host);
    EXPECT_TRUE(store->health().healthy) << store->health().detail;
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"DBSIZE"}, 3), "1");
    EXPECT_EQ(redis.command({"DBSIZE"}, 0), "0");

    // The ACL form with the default user works too.
    auto acl_store =
        make_store("redis://default:p4ss-word@127.0.0.1:" + std::to_string(redis.port()) + "/3", host);
    EXPECT_EQ(acl_store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::verified);
}

TEST(RedisStoreTest, WrongPasswordIsReportedAsAuthenticationFailedWithoutThePassword) {
    RedisServer redis(RedisServerOptions{"right-password"});
    RecordingHost host;
    auto store = make_store(redis.url_with_password("wrong-password"), host);

    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, "authentication failed")) << health.detail;
    EXPECT_FALSE(contains(health.detail, "wrong-password")) << health.detail;
    EXPECT_FALSE(contains(health.detail, "right-password")) << health.detail;
    const auto put = store->put_code(kNumber, digest_of(1), 60s, 5);
    EXPECT_EQ(put.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(put.detail, "authentication failed")) << put.detail;
    std::this_thread::sleep_for(150ms);  // past the reconnect backoff: a real second attempt
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::unavailable);

    // One error in the log, however many requests failed.
    const auto logged = host.records_of("store.redis.unavailable");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].level, sdk::LogLevel::error);
    EXPECT_TRUE(contains(logged[0].field("detail").value_or(""), "authentication failed"));
    for (const auto& record : host.records()) {
        for (const auto& [name, value] : record.fields) {
            EXPECT_FALSE(contains(value, "wrong-password")) << record.event << " " << name;
        }
    }
}

TEST(RedisStoreTest, MissingPasswordIsReportedAsAuthenticationFailed) {
    RedisServer redis(RedisServerOptions{"needed"});
    RecordingHost host;
    auto store = make_store(redis.url_with_password(""), host);
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, "authentication failed")) << health.detail;
}

TEST(RedisStoreTest, WrongDatabaseIndexIsReportedAsInvalidDbIndex) {
    RedisServer redis;  // 16 databases: 0..15
    RecordingHost host;
    auto store = make_store(redis.url(16), host);
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, "invalid DB index 16")) << health.detail;
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::unavailable);
    ASSERT_EQ(host.count("store.redis.unavailable"), 1u);
    EXPECT_EQ(host.records_of("store.redis.unavailable")[0].level, sdk::LogLevel::error);
}

TEST(RedisStoreTest, UnixSocket) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store("unix://" + redis.socket_path() + "?db=2", host);
    EXPECT_TRUE(store->health().healthy) << store->health().detail;
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(redis.command({"DBSIZE"}, 2), "1");
}

TEST(RedisStoreTest, RedisDownAtStartAnswersUnavailableQuicklyAndRecoversAlone) {
    RedisServer redis(RedisServerOptions{"", false});
    RecordingHost host;
    auto store = make_store(redis.url(), host, 300ms);  // the constructor must not throw

    const auto started = Clock::now();
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, redis.url())) << "names the endpoint: " << health.detail;
    EXPECT_TRUE(contains(health.detail, "refused")) << health.detail;
    EXPECT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::unavailable);
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::unavailable);
    EXPECT_EQ(store->remove_code(kNumber, digest_of(1)).status, StoreStatus::unavailable);
    EXPECT_EQ(store->hit_counter("c:{" + std::string(kNumber) + "}", 60s, 1).status,
              StoreStatus::unavailable);
    EXPECT_LT(Clock::now() - started, 2s) << "a dead Redis is answered at once, not waited for";
    EXPECT_EQ(host.count("store.redis.unavailable"), 1u);

    redis.start();
    eventually([&] { return store->health().healthy; });
    EXPECT_TRUE(store->health().healthy) << store->health().detail;
    EXPECT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(host.count("store.redis.recovered"), 1u);
}

TEST(RedisStoreTest, FrozenRedisIsAnsweredWithinTheCommandTimeout) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host, 300ms, 2);
    ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);

    redis.freeze();
    // More callers than connections: the commands pipelined behind the first one, on the
    // same frozen connection, must not wait for ever either.
    std::vector<std::thread> threads;
    std::atomic<int> unavailable{0};
    std::atomic<int> slow{0};
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&] {
            const auto started = Clock::now();
            const auto result = store->verify_and_consume(kNumber, digest_of(9));
            if (result.outcome == VerifyOutcome::unavailable &&
                contains(result.detail, "no answer within the command timeout (300 ms)")) {
                unavailable.fetch_add(1);
            }
            if (Clock::now() - started > 2s) slow.fetch_add(1);
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(unavailable.load(), 6);
    EXPECT_EQ(slow.load(), 0) << "answered within 2 s with a 300 ms command timeout";
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);

    redis.thaw();
    eventually([&] { return store->health().healthy; });
    EXPECT_TRUE(store->health().healthy) << store->health().detail;
    // The frozen guesses may have run when Redis resumed (the client gave up, Redis did
    // not): the code is intact or lost some attempts, never verified by a wrong guess.
    const auto after = store->verify_and_consume(kNumber, digest_of(1));
    EXPECT_TRUE(after.outcome == VerifyOutcome::verified ||
                after.outcome == VerifyOutcome::attempts_exhausted)
        << static_cast<int>(after.outcome);
}

TEST(RedisStoreTest, RestartedRedisIsUsedAgainWithoutAFailedRequest) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    for (int i = 0; i < 4; ++i)
        ASSERT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::ok);

    redis.kill();
    redis.start();  // same port, empty
    // The connections are dead; the loop sees them closed (or the first request finds out
    // and is sent once more), and the store reconnects without failing a request.
    EXPECT_EQ(store->put_code(kNumber, digest_of(2), 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->verify_and_consume(kNumber, digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST(RedisStoreTest, RedisKilledUnderLoadFailsFastLeaksNothingAndRecovers) {
    RedisServer redis;
    RecordingHost host;
    constexpr std::size_t kPool = 4;
    auto store = make_store(redis.url(), host, 300ms, kPool);

    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> wrong{0};
    std::atomic<int> slow{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            const std::string number = "+1202555010" + std::to_string(t);
            while (!stop.load()) {
                const auto started = Clock::now();
                const auto put = store->put_code(number, digest_of(1), 60s, 5).status;
                const auto verify = store->verify_and_consume(number, digest_of(1)).outcome;
                if (Clock::now() - started > 2s) slow.fetch_add(1);
                if (put == StoreStatus::ok && verify == VerifyOutcome::verified) {
                    ok.fetch_add(1);
                } else if (put == StoreStatus::unavailable || verify == VerifyOutcome::unavailable) {
                    unavailable.fetch_add(1);
                } else {
                    wrong.fetch_add(1);  // e.g. verified by a put that never happened
                }
            }
        });
    }
    EXPECT_TRUE(reaches(ok, 50));
    redis.kill();
    EXPECT_TRUE(reaches(unavailable, 20)) << "requests fail while Redis is dead";
    redis.start();
    const int ok_before_restart = ok.load();
    EXPECT_TRUE(reaches(ok, ok_before_restart + 50)) << "and succeed again without a restart";
    stop.store(true);
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(slow.load(), 0) << "no request waited past 2 s (command timeout 300 ms)";
    // The store holds at most kPool connections; the admin connection counts one more.
    EXPECT_LE(redis.connected_clients(), static_cast<int>(kPool) + 1);
    store.reset();
    EXPECT_EQ(redis.connected_clients(), 1) << "the store closed every connection";
}

}  // namespace
}  // namespace testino::plugins
