// Redis Cluster routing: slot hashing on the specification's reference value and against a
// real cluster-enabled redis-server's CLUSTER KEYSLOT, redirect parsing, the slot map.
#include "redis_cluster_routing.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "redis_cluster.hpp"
#include "redis_server.hpp"

namespace testino::plugins {
namespace {

using test::RedisServer;
using test::RedisServerOptions;

TEST(ClusterSlot, Crc16MatchesTheSpecificationsReferenceValue) {
    // Redis Cluster specification, appendix A: the CRC16 of "123456789" is 0x31C3.
    EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
    EXPECT_EQ(crc16_xmodem(""), 0x0000);
    EXPECT_EQ(cluster_key_slot("123456789"), 0x31C3 % kClusterSlots);
}

TEST(ClusterSlot, AHashTagPicksWhatIsHashed) {
    // The specification's examples ("Hash tags").
    EXPECT_EQ(cluster_key_slot("{user1000}.following"), cluster_key_slot("{user1000}.followers"));
    EXPECT_EQ(cluster_key_slot("{user1000}.following"), cluster_key_slot("user1000"));
    EXPECT_EQ(cluster_key_slot("foo{}{bar}"), crc16_xmodem("foo{}{bar}") % kClusterSlots)
        << "an empty tag: the whole key is hashed";
    EXPECT_EQ(cluster_key_slot("foo{{bar}}zap"), cluster_key_slot("{bar")) << "the tag is \"{bar\"";
    EXPECT_EQ(cluster_key_slot("foo{bar}{zap}"), cluster_key_slot("bar")) << "only the first tag counts";
    EXPECT_EQ(cluster_key_slot("foo{bar"), crc16_xmodem("foo{bar") % kClusterSlots) << "no '}': no tag";
}

// The server's own answer for every kind of key the store uses, and some awkward ones.
TEST(ClusterSlot, EveryKeyGetsTheSlotARealClusterNodeGivesIt) {
    // A one-primary cluster: the fixture keeps the port low enough for the cluster bus
    // (port + 10000), which a plain RedisServer with --cluster-enabled does not.
    test::RedisCluster cluster(test::RedisClusterOptions{1});
    RedisServer& redis = cluster.primary(0);
    std::vector<std::string> keys = {"",
                                     "a",
                                     "{",
                                     "}",
                                     "{}",
                                     "}{",
                                     "{a}",
                                     "a{b}c{d}",
                                     "\xff\x01{\x80}",
                                     "testino:{+12025550123}:code",
                                     "testino:{+12025550123}:fails",
                                     "testino:count:ip:10.0.0.1",
                                     "testino:count:budget:hour"};
    for (int i = 0; i < 200; ++i)
        keys.push_back("testino:{+4479" + std::to_string(11000000 + i * 7919) + "}");
    for (const std::string& key : keys) {
        EXPECT_EQ(std::to_string(cluster_key_slot(key)), redis.command({"CLUSTER", "KEYSLOT", key}))
            << "key \"" << key << "\"";
    }
}

TEST(ClusterRedirect, MovedAndAskNameTheSlotAndTheNode) {
    const auto moved = parse_cluster_redirect("MOVED 3999 127.0.0.1:6381");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->kind, ClusterRedirect::Kind::moved);
    EXPECT_EQ(moved->slot, 3999);
    EXPECT_EQ(moved->node, (ClusterNode{"127.0.0.1", 6381}));

    const auto ask = parse_cluster_redirect("-ASK 16383 ::1:7002");
    ASSERT_TRUE(ask);
    EXPECT_EQ(ask->kind, ClusterRedirect::Kind::ask);
    EXPECT_EQ(ask->slot, 16383);
    EXPECT_EQ(ask->node, (ClusterNode{"::1", 7002})) << "an IPv6 host: the port follows the last ':'";

    const auto same_host = parse_cluster_redirect("MOVED 1 :7003");
    ASSERT_TRUE(same_host);
    EXPECT_EQ(same_host->node, (ClusterNode{"", 7003})) << "no host: the node that answered";
}

TEST(ClusterRedirect, OtherErrorsAndMalformedOnesAreNoRedirect) {
    for (const char* text :
         {"ERR unknown command", "MOVED", "MOVED 12", "MOVED x 127.0.0.1:1", "MOVED 16384 127.0.0.1:1",
          "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0", "MOVED 1 127.0.0.1:65536", "MOVED 1 127.0.0.1:80 extra",
          "ASKING 1 h:1", "TRYAGAIN Multiple keys request during rehashing of slot", "CLUSTERDOWN"}) {
        EXPECT_FALSE(parse_cluster_redirect(text)) << text;
    }
}

TEST(ClusterSlotMap, SlotsGoToTheirOwnerAndAMovedReassignsOne) {
    SlotMap map;
    EXPECT_EQ(map.owner(0), nullptr);
    map.assign(0, 5460, {"127.0.0.1", 7000});
    map.assign(5461, 10922, {"127.0.0.1", 7001});
    map.assign(10923, 16383, {"127.0.0.1", 7002});
    EXPECT_EQ(map.covered(), kClusterSlots);
    EXPECT_EQ(*map.owner(5460), (ClusterNode{"127.0.0.1", 7000}));
    EXPECT_EQ(*map.owner(5461), (ClusterNode{"127.0.0.1", 7001}));
    EXPECT_EQ(*map.owner(16383), (ClusterNode{"127.0.0.1", 7002}));

    map.assign(5460, 5460, {"127.0.0.1", 7001});  // after "MOVED 5460 127.0.0.1:7001"
    EXPECT_EQ(*map.owner(5460), (ClusterNode{"127.0.0.1", 7001}));
    EXPECT_EQ(*map.owner(5459), (ClusterNode{"127.0.0.1", 7000}));
    EXPECT_EQ(map.nodes().size(), 3u);

    map.assign(10, 5, {"127.0.0.1", 7003});  // reversed: ignored
    map.assign(0, kClusterSlots, {"h", 1});  // past the last slot: ignored
    EXPECT_EQ(map.nodes().size(), 3u);
    EXPECT_EQ(map.owner(kClusterSlots), nullptr);

    map.clear();
    EXPECT_EQ(map.covered(), 0u);
    EXPECT_TRUE(map.nodes().empty());
}

// CLUSTER SLOTS from a real node, read into a SlotMap.
std::optional<SlotMap> read_slot_map(int port) {
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0});
    if (!context || context->err) {
        if (context) redisFree(context);
        return std::nullopt;
    }
    auto* reply = static_cast<redisReply*>(redisCommand(context, "CLUSTER SLOTS"));
    std::optional<SlotMap> map;
    if (reply) map = slot_map_from_cluster_slots(*reply, "127.0.0.1");
    if (reply) freeReplyObject(reply);
    redisFree(context);
    return map;
}

TEST(ClusterSlotMap, ARealClustersSlotsAreReadAndItsRedirectsAgreeWithThem) {
    test::RedisCluster cluster;
    const std::optional<SlotMap> map = read_slot_map(cluster.primary(1).port());
    ASSERT_TRUE(map);
    EXPECT_EQ(map->covered(), kClusterSlots);
    ASSERT_EQ(map->nodes().size(), 3u);
    for (int i = 0; i < 3; ++i) {
        const ClusterNode expected{"127.0.0.1", cluster.primary(i).port()};
        EXPECT_EQ(*map->owner(static_cast<std::uint16_t>(test::RedisCluster::first_slot(i))), expected);
        EXPECT_EQ(*map->owner(static_cast<std::uint16_t>(test::RedisCluster::last_slot(i))), expected);
    }
    // Each key is accepted by the node the map names, and every other node redirects to it.
    for (int n = 0; n < 30; ++n) {
        const std::string key = "testino:{+4479" + std::to_string(11000000 + n * 104729) + "}:code";
        const ClusterNode* owner = map->owner(cluster_key_slot(key));
        ASSERT_NE(owner, nullptr);
        for (int i = 0; i < 3; ++i) {
            const std::string answer = cluster.primary(i).command({"SET", key, "1"});
            if (cluster.primary(i).port() == owner->port) {
                EXPECT_EQ(answer, "OK") << key;
                continue;
            }
            ASSERT_EQ(answer.rfind("ERR: ", 0), 0u) << answer;
            const auto redirect = parse_cluster_redirect(answer.substr(5));
            ASSERT_TRUE(redirect) << answer;
            EXPECT_EQ(redirect->kind, ClusterRedirect::Kind::moved);
            EXPECT_EQ(redirect->slot, cluster_key_slot(key));
            EXPECT_EQ(redirect->node.port, owner->port) << answer;
        }
    }
}

TEST(ClusterSlotMap, AReplyOfAnotherShapeIsNoMap) {
    redisReply integer{};
    integer.type = REDIS_REPLY_INTEGER;
    EXPECT_FALSE(slot_map_from_cluster_slots(integer, "h"));
    redisReply empty{};
    empty.type = REDIS_REPLY_ARRAY;
    const auto none = slot_map_from_cluster_slots(empty, "h");
    ASSERT_TRUE(none) << "a cluster with no slots assigned answers an empty array";
    EXPECT_EQ(none->covered(), 0u);
}

}  // namespace
}  // namespace testino::plugins
