// store.redis.url parsing: every accepted form, and garbage refused without echoing a
// password.
#include "redis_url.hpp"

#include <gtest/gtest.h>

namespace testino::plugins {
namespace {

using Transport = RedisEndpoint::Transport;

TEST(RedisUrlTest, HostPortAndDatabase) {
    const auto endpoint = parse_redis_url("redis://cache.internal:6380/3");
    EXPECT_EQ(endpoint.transport, Transport::tcp);
    EXPECT_EQ(endpoint.host, "cache.internal");
    EXPECT_EQ(endpoint.port, 6380);
    EXPECT_EQ(endpoint.db, 3);
    EXPECT_EQ(endpoint.password, "");
    EXPECT_EQ(endpoint.describe(), "redis://cache.internal:6380/3");
}

TEST(RedisUrlTest, PortAndDatabaseDefault) {
    for (const char* url : {"redis://10.0.0.5", "redis://10.0.0.5/", "redis://10.0.0.5:6379/0"}) {
        const auto endpoint = parse_redis_url(url);
        EXPECT_EQ(endpoint.host, "10.0.0.5") << url;
        EXPECT_EQ(endpoint.port, 6379) << url;
        EXPECT_EQ(endpoint.db, 0) << url;
    }
}

TEST(RedisUrlTest, PasswordAndUserAreReadAndNeverDescribed) {
    const auto plain = parse_redis_url("redis://:s3cret@127.0.0.1:6379/1");
    EXPECT_EQ(plain.username, "");
    EXPECT_EQ(plain.password, "s3cret");
    EXPECT_EQ(plain.describe(), "redis://127.0.0.1:6379/1");

    const auto acl = parse_redis_url("redis://app:p%40ss%2Fw:rd@127.0.0.1");
    EXPECT_EQ(acl.username, "app");
    EXPECT_EQ(acl.password, "p@ss/w:rd");
    EXPECT_EQ(acl.describe().find("p@ss"), std::string::npos);

    // An unencoded '@' or '/' in the password still parses: userinfo ends at the last '@'.
    const auto raw = parse_redis_url("redis://:a@b/c@127.0.0.1:7000/2");
    EXPECT_EQ(raw.password, "a@b/c");
    EXPECT_EQ(raw.port, 7000);
    EXPECT_EQ(raw.db, 2);
}

TEST(RedisUrlTest, Ipv6Address) {
    const auto endpoint = parse_redis_url("redis://[::1]:6390/4");
    EXPECT_EQ(endpoint.host, "::1");
    EXPECT_EQ(endpoint.port, 6390);
    EXPECT_EQ(endpoint.db, 4);
    EXPECT_EQ(endpoint.describe(), "redis://[::1]:6390/4");
}

TEST(RedisUrlTest, UnixSocket) {
    const auto plain = parse_redis_url("unix:///run/redis/redis.sock");
    EXPECT_EQ(plain.transport, Transport::unix_socket);
    EXPECT_EQ(plain.socket_path, "/run/redis/redis.sock");
    EXPECT_EQ(plain.db, 0);
    EXPECT_EQ(plain.describe(), "unix:///run/redis/redis.sock?db=0");

    const auto full = parse_redis_url("unix://:pw@/run/redis/redis.sock?db=5");
    EXPECT_EQ(full.password, "pw");
    EXPECT_EQ(full.socket_path, "/run/redis/redis.sock");
    EXPECT_EQ(full.db, 5);
}

TEST(RedisUrlTest, AClusterIsItsSeedNodes) {
    const auto cluster = parse_redis_url("redis-cluster://app:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002");
    EXPECT_EQ(cluster.topology, RedisEndpoint::Topology::cluster);
    ASSERT_EQ(cluster.seeds.size(), 3u);
    EXPECT_EQ(cluster.seeds[0], (RedisHostPort{"10.0.0.1", 7000}));
    EXPECT_EQ(cluster.seeds[1], (RedisHostPort{"10.0.0.2", 6379})) << "port 6379 by default";
    EXPECT_EQ(cluster.seeds[2], (RedisHostPort{"::1", 7002}));
    EXPECT_EQ(cluster.username, "app");
    EXPECT_EQ(cluster.password, "pw");
    EXPECT_EQ(cluster.db, 0);
    EXPECT_EQ(cluster.describe(), "redis-cluster://10.0.0.1:7000,10.0.0.2:6379,[::1]:7002");
    EXPECT_EQ(parse_redis_url("redis-cluster://h:1/0").seeds.size(), 1u) << "db 0 may be written";
}

TEST(RedisUrlTest, SentinelsNameTheirMaster) {
    const auto sentinel = parse_redis_url("redis-sentinel://:pw@10.0.0.1,10.0.0.2:26380/otp-primary/2");
    EXPECT_EQ(sentinel.topology, RedisEndpoint::Topology::sentinel);
    ASSERT_EQ(sentinel.seeds.size(), 2u);
    EXPECT_EQ(sentinel.seeds[0], (RedisHostPort{"10.0.0.1", 26379})) << "port 26379 by default";
    EXPECT_EQ(sentinel.seeds[1], (RedisHostPort{"10.0.0.2", 26380}));
    EXPECT_EQ(sentinel.master_name, "otp-primary");
    EXPECT_EQ(sentinel.password, "pw") << "the data nodes' password";
    EXPECT_EQ(sentinel.db, 2);
    EXPECT_EQ(sentinel.describe(), "redis-sentinel://10.0.0.1:26379,10.0.0.2:26380/otp-primary/2");
    EXPECT_EQ(parse_redis_url("redis-sentinel://h/m").db, 0);
}

TEST(RedisUrlTest, GarbageIsRefused) {
    for (const char* url : {
             "",
             "127.0.0.1:6379",
             "http://127.0.0.1:6379",
             "redis://",
             "redis://:6379",
             "redis://host:",
             "redis://host:0",
             "redis://host:65536",
             "redis://host:63a9",
             "redis://host:+6379",
             "redis://host/x",
             "redis://host/-1",
             "redis://host/1/2",
             "redis://host/99999999999",
             "redis://host?db=1",
             "redis://host#frag",
             "redis://ho st",
             "redis://host name:6379",
             "redis://-host",
             "redis://[::1",
             "redis://[zz]:1",
             "redis://[::1]x",
             "redis://user@host",
             "redis://user:@host",
             "redis://:%zz@host",
             "redis://:%4@host",
             "unix://relative/path.sock",
             "unix://",
             "unix:///dir/",
             "unix:///a.sock?database=1",
             "unix:///a.sock?db=1&x=2",
             "unix:///a.sock?db=x",
             "unix://:pw@relative",
             "redis://a:1,b:2",
             "redis-cluster://",
             "redis-cluster://a:1,",
             "redis-cluster://a:1,,b:2",
             "redis-cluster://a:1,a:1",
             "redis-cluster://a:1/3",
             "redis-cluster://a:1?x=1",
             "redis-cluster://a:99999",
             "redis-sentinel://a:1",
             "redis-sentinel://a:1/",
             "redis-sentinel://a:1/m/x",
             "redis-sentinel://a:1/m y",
             "redis-sentinel://a:1/m/1/2",
         }) {
        EXPECT_THROW(parse_redis_url(url), RedisUrlError) << url;
    }
}

TEST(RedisUrlTest, TlsIsRefusedWithTheReason) {
    try {
        parse_redis_url("rediss://:pw@127.0.0.1:6380/0");
        FAIL() << "rediss:// accepted";
    } catch (const RedisUrlError& error) {
        EXPECT_NE(std::string(error.what()).find("TLS"), std::string::npos) << error.what();
    }
}

TEST(RedisUrlTest, ErrorsNeverRepeatThePassword) {
    for (const char* url : {"redis://:hunter2@host:99999", "redis://:hunter2@/0",
                            "redis://x:hunter2@host/abc", "unix://:hunter2@/a.sock?db=q",
                            "redis-cluster://:hunter2@a:1,a:1", "redis-sentinel://:hunter2@a/"}) {
        try {
            parse_redis_url(url);
            ADD_FAILURE() << "accepted: " << url;
        } catch (const RedisUrlError& error) {
            EXPECT_EQ(std::string(error.what()).find("hunter2"), std::string::npos) << error.what();
        }
    }
}

}  // namespace
}  // namespace testino::plugins
