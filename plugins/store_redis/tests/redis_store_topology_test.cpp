// RedisStore on the other topologies' mistakes and limits, against real servers: a
// cluster node behind redis://, a plain Redis behind redis-cluster://, sentinels that do
// not know the master, and WAIT for a replica.
#include <gtest/gtest.h>

#include "plugin_doubles.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using test::RedisCluster;
using test::RedisServer;
using test::RedisServerOptions;
using test_helpers::contains;
using test_helpers::digest_of;
using test_helpers::make_store;
using test_helpers::store_options;
using test_support::RecordingHost;

TEST(RedisStoreTopologyTest, ARedisUrlToOneClusterNodeSaysToListTheCluster) {
    RedisCluster cluster;
    RecordingHost host;
    auto store = make_store(cluster.primary(0).url(), host);
    // Some number whose slot another node owns.
    std::string key;
    for (int n = 0; key.empty(); ++n) {
        const std::string candidate = "+1202555" + std::to_string(1000 + n);
        if (cluster.owner_port(cluster_key_slot(store->redis().code_key(candidate))) !=
            cluster.primary(0).port()) {
            key = candidate;
        }
    }
    const auto result = store->put_code(key, digest_of(1), 60s, 5);
    EXPECT_EQ(result.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(result.detail, "MOVED")) << result.detail;
    EXPECT_TRUE(contains(result.detail, "redis-cluster://")) << result.detail;
}

// A store on `url` answers a put `unavailable` before its 500 ms deadline, saying `why`;
// its health says it too.
void fails_fast_saying(const std::string& url, const std::string& why) {
    RecordingHost host;
    auto store = make_store(url, host);
    const auto started = std::chrono::steady_clock::now();
    const auto result = store->put_code("+12025550100", digest_of(1), 60s, 5);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 450ms) << "not at the 500 ms deadline";
    EXPECT_EQ(result.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(result.detail, why)) << result.detail;
    const auto health = store->health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, why)) << health.detail;
}

TEST(RedisStoreTopologyTest, AClusterUrlToAPlainRedisFailsFastNamingWhy) {
    RedisServer redis;
    fails_fast_saying("redis-cluster://127.0.0.1:" + std::to_string(redis.port()),
                      "cluster support disabled");
}

TEST(RedisStoreTopologyTest, ClusterSeedsThatAreAllDownFailFast) {
    RedisServer redis(RedisServerOptions{"", false});  // a free port, nothing listening
    fails_fast_saying("redis-cluster://127.0.0.1:" + std::to_string(redis.port()), "refused");
}

TEST(RedisStoreTopologyTest, SentinelsThatDoNotKnowTheMasterSaySo) {
    // A lone sentinel monitoring another name.
    RedisServer data;
    RedisServerOptions lone;
    lone.program = "redis-sentinel";
    lone.config = "sentinel monitor other 127.0.0.1 " + std::to_string(data.port()) + " 1\n";
    RedisServer sentinel(lone);
    RecordingHost host;
    auto store =
        make_store("redis-sentinel://127.0.0.1:" + std::to_string(sentinel.port()) + "/testino", host);
    const auto result = store->put_code("+12025550100", digest_of(1), 60s, 5);
    EXPECT_EQ(result.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(result.detail, "no master named 'testino'")) << result.detail;
}

TEST(RedisStoreTopologyTest, WaitReplicasStoresOnceAReplicaHasTheCodeAndFailsWhenNoneTakesIt) {
    RedisServer primary(RedisServerOptions{"", true, {"--repl-diskless-sync-delay", "0"}});
    RedisServer replica(
        RedisServerOptions{"", true, {"--replicaof", "127.0.0.1", std::to_string(primary.port())}});
    ASSERT_TRUE(test::eventually([&] {
        return contains(primary.command({"INFO", "replication"}), "state=online");
    })) << "the replica has its first copy";
    RecordingHost host;
    RedisStoreOptions options = store_options(primary.url());
    options.wait_replicas = 1;
    options.wait_timeout = 100ms;
    auto store = make_store(std::move(options), host);
    // "online" comes when the copy is sent; the replica acknowledges once it has loaded it.
    sdk::StoreResult stored;
    EXPECT_TRUE(test::eventually(
        [&] {
            stored = store->put_code("+12025550100", digest_of(1), 60s, 5);
            return stored.status == StoreStatus::ok;
        },
        5s))
        << stored.detail;
    EXPECT_EQ(replica.command({"EXISTS", store->redis().code_key("+12025550100")}), "1")
        << "on the replica already";

    replica.freeze();
    const auto result = store->put_code("+12025550101", digest_of(2), 60s, 5);
    replica.thaw();
    EXPECT_EQ(result.status, StoreStatus::unavailable);
    EXPECT_TRUE(contains(result.detail, "reached 0 of 1 replicas within 100 ms")) << result.detail;
}

}  // namespace
}  // namespace testino::plugins
