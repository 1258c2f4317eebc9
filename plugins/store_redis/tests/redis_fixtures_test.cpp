// The Redis Cluster and Sentinel fixtures checked against what the real servers say: they
// come up whole, a slot moves with ASK then MOVED redirects, a killed primary's replica
// takes its slots, a Sentinel group fails over to the replica.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <string>

#include "redis_cluster.hpp"
#include "redis_cluster_routing.hpp"
#include "redis_sentinel.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using test::RedisCluster;
using test::RedisClusterOptions;
using test::RedisSentinelGroup;
using test::RedisSentinelOptions;
using test::RedisServer;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The redirect in a command's error reply ("ERR: MOVED 12 127.0.0.1:7000"), if any.
std::optional<ClusterRedirect> redirect_of(const std::string& reply) {
    if (reply.rfind("ERR: ", 0) != 0) return std::nullopt;
    return parse_cluster_redirect(reply.substr(5));
}

void expect_redirect(const std::string& reply, ClusterRedirect::Kind kind, int slot, int port) {
    const auto redirect = redirect_of(reply);
    ASSERT_TRUE(redirect) << reply;
    EXPECT_EQ(redirect->kind, kind) << reply;
    EXPECT_EQ(redirect->slot, slot) << reply;
    EXPECT_EQ(redirect->node, (ClusterNode{"127.0.0.1", port})) << reply;
}

TEST(RedisClusterFixture, ComesUpWithEverySlotCoveredByItsPrimaries) {
    RedisCluster cluster;
    std::string expected_seeds;
    for (int i = 0; i < cluster.size(); ++i) {
        RedisServer& node = cluster.primary(i);
        const std::string info = node.command({"CLUSTER", "INFO"});
        EXPECT_TRUE(has(info, "cluster_state:ok")) << info;
        EXPECT_TRUE(has(info, "cluster_slots_assigned:16384")) << info;
        EXPECT_TRUE(has(info, "cluster_slots_ok:16384")) << info;
        EXPECT_TRUE(has(info, "cluster_known_nodes:3")) << info;
        EXPECT_EQ(cluster.node_id(node), node.command({"CLUSTER", "MYID"}));
        EXPECT_EQ(cluster.owner_port(RedisCluster::first_slot(i)), node.port());
        EXPECT_EQ(cluster.owner_port(RedisCluster::last_slot(i), &cluster.primary(2 - i)), node.port());
        const std::string nodes_conf = test::read_text_file(node.dir() + "/nodes.conf");
        EXPECT_TRUE(has(nodes_conf, cluster.node_id(node) + " 127.0.0.1:" + std::to_string(node.port())))
            << "each node's cluster config file is in its own dir: " << nodes_conf;
        expected_seeds += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(node.port());
    }
    EXPECT_EQ(cluster.seeds(), expected_seeds);
    EXPECT_EQ(RedisCluster::last_slot(2), 16383);
    EXPECT_EQ(RedisCluster::first_slot(1), RedisCluster::last_slot(0) + 1);
    EXPECT_THROW(cluster.replica(0), std::out_of_range);
}

TEST(RedisClusterFixture, AMigratingSlotAnswersAskThenMovedOnceItIsMoved) {
    RedisCluster cluster;
    const std::string key = "testino:{+12025550100}:code";
    const std::string absent = "testino:{+12025550100}:fails";
    const int slot = cluster_key_slot(key);
    const int from = slot <= RedisCluster::last_slot(0) ? 0 : slot <= RedisCluster::last_slot(1) ? 1 : 2;
    const int to = (from + 1) % 3;
    const int other = (from + 2) % 3;
    RedisServer& source = cluster.primary(from);
    RedisServer& target = cluster.primary(to);
    ASSERT_EQ(source.command({"SET", key, "123456"}), "OK");

    cluster.begin_migration(slot, from, to);
    EXPECT_EQ(source.command({"GET", key}), "123456") << "a key still on the source is served there";
    expect_redirect(source.command({"GET", absent}), ClusterRedirect::Kind::ask, slot, target.port());
    expect_redirect(target.command({"GET", key}), ClusterRedirect::Kind::moved, slot, source.port());

    EXPECT_EQ(cluster.move_keys(slot), 1);
    expect_redirect(source.command({"GET", key}), ClusterRedirect::Kind::ask, slot, target.port());
    EXPECT_EQ(target.command({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "1");
    EXPECT_EQ(cluster.owner_port(slot, &source), source.port()) << "the slot is still the source's";

    cluster.finish_migration(slot);
    EXPECT_EQ(target.command({"GET", key}), "123456");
    expect_redirect(source.command({"GET", key}), ClusterRedirect::Kind::moved, slot, target.port());
    expect_redirect(cluster.primary(other).command({"GET", key}), ClusterRedirect::Kind::moved, slot,
                    target.port());
    for (RedisServer* node : cluster.nodes()) EXPECT_EQ(cluster.owner_port(slot, node), target.port());
    const int neighbour = slot == RedisCluster::first_slot(from) ? slot + 1 : slot - 1;
    EXPECT_EQ(cluster.owner_port(neighbour), source.port()) << "its neighbour stays";

    EXPECT_THROW(cluster.finish_migration(slot), std::logic_error) << "no migration is under way";
    EXPECT_THROW(cluster.begin_migration(slot, from, to), std::runtime_error)
        << "the source no longer owns the slot: its SETSLOT MIGRATING fails";
}

// Writes the key on its shard's primary and waits until the replica holds it too.
void write_and_replicate(RedisCluster& cluster, int shard, const std::string& key) {
    ASSERT_EQ(cluster.primary(shard).command({"SET", key, "654321"}), "OK");
    ASSERT_TRUE(test::eventually([&] { return cluster.replica(shard).command({"DBSIZE"}) == "1"; }));
}

void expect_replica_took_over(RedisCluster& cluster, int shard, const std::string& key) {
    RedisServer& promoted = cluster.replica(shard);
    EXPECT_TRUE(has(promoted.command({"INFO", "replication"}), "role:master"));
    for (RedisServer* node : cluster.nodes()) {
        if (!node->running()) continue;
        EXPECT_TRUE(has(node->command({"CLUSTER", "INFO"}), "cluster_state:ok")) << node->port();
        EXPECT_EQ(cluster.owner_port(RedisCluster::first_slot(shard), node), promoted.port());
        EXPECT_EQ(cluster.owner_port(RedisCluster::last_slot(shard), node), promoted.port());
    }
    EXPECT_EQ(promoted.command({"GET", key}), "654321") << "the replicated data is there";
    EXPECT_EQ(promoted.command({"SET", key, "1"}), "OK");
}

TEST(RedisClusterFixture, AKilledPrimarysReplicaIsPromotedAndTakesItsSlots) {
    RedisCluster cluster(RedisClusterOptions{3, true});
    EXPECT_TRUE(cluster.healthy());
    for (int i = 0; i < 3; ++i) {
        const std::string replication = cluster.replica(i).command({"INFO", "replication"});
        EXPECT_TRUE(has(replication, "role:slave")) << replication;
        EXPECT_TRUE(has(replication, "master_port:" + std::to_string(cluster.primary(i).port())))
            << replication;
    }
    const std::string key = "testino:{a}:code";  // slot 15495: shard 2
    ASSERT_EQ(cluster.owner_port(cluster_key_slot(key)), cluster.primary(2).port());
    write_and_replicate(cluster, 2, key);

    const auto killed = std::chrono::steady_clock::now();
    cluster.kill_primary(2);
    ASSERT_TRUE(cluster.wait_promoted(2, 20s)) << cluster.describe();
    const auto took = std::chrono::steady_clock::now() - killed;
    RecordProperty("failover_ms",
                   static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    expect_replica_took_over(cluster, 2, key);
    EXPECT_EQ(cluster.shard_primary(2).port(), cluster.replica(2).port());
}

TEST(RedisClusterFixture, AForcedFailoverPromotesTheReplicaAtOnce) {
    RedisCluster cluster(RedisClusterOptions{3, true});
    const std::string key = "testino:{b}:code";  // slot 3300: shard 0
    ASSERT_EQ(cluster.owner_port(cluster_key_slot(key)), cluster.primary(0).port());
    write_and_replicate(cluster, 0, key);

    cluster.force_failover(0);  // the primary is alive: it becomes the replica's replica
    ASSERT_TRUE(cluster.wait_promoted(0, 10s)) << cluster.describe();
    expect_replica_took_over(cluster, 0, key);
    EXPECT_TRUE(test::eventually([&] {
        return has(cluster.primary(0).command({"INFO", "replication"}), "role:slave");
    }));

    cluster.kill_primary(1);  // a dead primary: no need to wait for the failure to be noticed
    cluster.force_failover(1);
    EXPECT_TRUE(cluster.wait_promoted(1, 10s)) << cluster.describe();
}

// A command on a connection that does not authenticate: the sentinel must refuse it.
std::string unauthenticated(int port, const char* command) {
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0});
    if (!context || context->err) {
        if (context) redisFree(context);
        return "no connection";
    }
    auto* reply = static_cast<redisReply*>(redisCommand(context, command));
    std::string text = reply && reply->str ? std::string(reply->str, reply->len) : "";
    if (reply) freeReplyObject(reply);
    redisFree(context);
    return text;
}

void expect_failover(RedisSentinelGroup& group) {
    ASSERT_EQ(group.primary().command({"SET", "testino:{+1}:code", "111111"}), "OK");
    ASSERT_TRUE(test::eventually([&] {
        return group.replica().command({"GET", "testino:{+1}:code"}) == "111111";
    }));
    group.kill_primary();
    ASSERT_TRUE(group.wait_failover(20s)) << group.describe();
    EXPECT_EQ(group.current_primary_port(), group.replica().port());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(group.primary_port_of(group.sentinel(i)), group.replica().port());
    EXPECT_TRUE(has(group.replica().command({"INFO", "replication"}), "role:master"));
    EXPECT_EQ(group.replica().command({"GET", "testino:{+1}:code"}), "111111");
    EXPECT_EQ(group.replica().command({"SET", "testino:{+1}:code", "222222"}), "OK");
}

TEST(RedisSentinelFixture, ReportsThePrimaryAndFailsOverToTheReplicaWhenItIsKilled) {
    RedisSentinelGroup group;
    EXPECT_EQ(group.master_name(), "testino");
    EXPECT_EQ(group.current_primary_port(), group.primary().port());
    std::string expected;
    for (int i = 0; i < 3; ++i) {
        RedisServer& sentinel = group.sentinel(i);
        expected += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(sentinel.port());
        EXPECT_EQ(group.primary_port_of(sentinel), group.primary().port());
        const auto state = group.master_state(sentinel);
        EXPECT_EQ(state.at("flags"), "master");
        EXPECT_EQ(state.at("num-slaves"), "1");
        EXPECT_EQ(state.at("num-other-sentinels"), "2");
        EXPECT_EQ(state.at("quorum"), "2");
        EXPECT_TRUE(has(sentinel.command({"SENTINEL", "REPLICAS", "testino"}),
                        std::to_string(group.replica().port())));
    }
    EXPECT_EQ(group.sentinels(), expected);
    expect_failover(group);
}

TEST(RedisSentinelFixture, FailsOverWithPasswordsOnTheDataNodesAndTheSentinels) {
    RedisSentinelOptions options;
    options.password = "data-secret";
    options.sentinel_password = "sentinel-secret";
    RedisSentinelGroup group(options);
    EXPECT_TRUE(has(unauthenticated(group.sentinel(0).port(), "PING"), "NOAUTH"));
    EXPECT_TRUE(has(unauthenticated(group.primary().port(), "PING"), "NOAUTH"));
    EXPECT_EQ(group.current_primary_port(), group.primary().port());
    expect_failover(group);
}

}  // namespace
}  // namespace testino::plugins
