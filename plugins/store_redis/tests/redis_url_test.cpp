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
                            "redis://x:hunter2@host/abc", "unix://:hunter2@/a.sock?db=q"}) {
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
