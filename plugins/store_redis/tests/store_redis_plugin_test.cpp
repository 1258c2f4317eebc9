// The built store_redis.so: its exports, its config schema, and stores made by its
// factory, loaded the way the server loads it.
#include <gtest/gtest.h>

#include <algorithm>

#include "blocking_store.hpp"
#include "plugin_doubles.hpp"
#include "redis_server.hpp"

namespace {

using testino::sdk::ConfigError;
using testino::sdk::ConfigKey;
using testino::sdk::OtpStore;
using testino::sdk::StoreStatus;
using testino::sdk::ValueType;
using testino::sdk::VerifyOutcome;
using testino::test_support::find_key;
using testino::test_support::MapConfigView;
using testino::test_support::PluginLibrary;
using testino::test_support::RecordingHost;
using namespace std::chrono_literals;

// The factory's ConfigError message for a config, or "" if it did not throw.
std::string config_error(const std::map<std::string, std::string>& values) {
    return PluginLibrary(STORE_REDIS_PLUGIN_PATH).config_error<OtpStore>(values);
}

TEST(StoreRedisPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(STORE_REDIS_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), testino::sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, testino::sdk::PluginKind::otp_store);
    EXPECT_EQ(descriptor.name, "redis");
    EXPECT_EQ(descriptor.version, "1.0.0");
    EXPECT_FALSE(descriptor.description.empty());
}

TEST(StoreRedisPluginTest, DeclaresItsConfigKeys) {
    const auto keys = PluginLibrary(STORE_REDIS_PLUGIN_PATH).descriptor().config_keys;
    ASSERT_EQ(keys.size(), 11u);

    const ConfigKey* url = find_key(keys, "url");
    ASSERT_NE(url, nullptr);
    EXPECT_EQ(url->type, ValueType::string);
    EXPECT_EQ(url->default_value, "redis://127.0.0.1:6379/0");
    EXPECT_EQ(url->env, "REDIS_URL");
    EXPECT_TRUE(url->secret) << "the URL may carry the password";

    const ConfigKey* sentinel_password = find_key(keys, "sentinel_password");
    ASSERT_NE(sentinel_password, nullptr);
    EXPECT_EQ(sentinel_password->env, "REDIS_SENTINEL_PASSWORD");
    EXPECT_TRUE(sentinel_password->secret);
    ASSERT_NE(find_key(keys, "sentinel_username"), nullptr);

    const ConfigKey* prefix = find_key(keys, "key_prefix");
    ASSERT_NE(prefix, nullptr);
    EXPECT_EQ(prefix->default_value, "testino:");

    for (const auto& [name, default_value] : {std::pair{"pool_size", "2"},
                                              {"connect_timeout_ms", "500"},
                                              {"command_timeout_ms", "500"},
                                              {"max_queue_items", "100000"}}) {
        const ConfigKey* key = find_key(keys, name);
        ASSERT_NE(key, nullptr) << name;
        EXPECT_EQ(key->type, ValueType::integer) << name;
        EXPECT_EQ(key->default_value, default_value) << name;
        EXPECT_EQ(key->min, 1) << name;
    }

    const ConfigKey* allow_eviction = find_key(keys, "allow_eviction");
    ASSERT_NE(allow_eviction, nullptr);
    EXPECT_EQ(allow_eviction->type, ValueType::boolean);
    EXPECT_EQ(allow_eviction->default_value, "false") << "by default a Redis that may evict is refused";
}

TEST(StoreRedisPluginTest, FactoryMakesAWorkingStore) {
    testino::test::RedisServer redis;
    PluginLibrary plugin(STORE_REDIS_PLUGIN_PATH);
    const MapConfigView config({{"url", redis.url()}, {"pool_size", "2"}}, plugin.descriptor().config_keys);
    RecordingHost host;
    std::shared_ptr<OtpStore> created = plugin.create<OtpStore>(config, host);
    ASSERT_NE(created, nullptr);
    EXPECT_EQ(host.count("store.redis.connected"), 1u) << "the factory's store checked Redis at once";
    testino::contract::BlockingStore store(created);

    testino::sdk::CodeDigest digest{};
    digest.fill(7);
    ASSERT_EQ(store.put_code("+12025550123", digest, 60s, 5).status, StoreStatus::ok);
    EXPECT_TRUE(store.health().healthy);
    EXPECT_EQ(store.verify_and_consume("+12025550123", digest).outcome, VerifyOutcome::verified);
}

TEST(StoreRedisPluginTest, FactorySucceedsWhenRedisIsDown) {
    testino::test::RedisServer redis({"", false});  // a free port, nothing listening
    PluginLibrary plugin(STORE_REDIS_PLUGIN_PATH);
    const MapConfigView config({{"url", redis.url()}}, plugin.descriptor().config_keys);
    RecordingHost host;
    std::shared_ptr<OtpStore> created = plugin.create<OtpStore>(config, host);
    ASSERT_NE(created, nullptr);
    EXPECT_EQ(host.count("store.redis.unavailable"), 1u) << "the factory's store checked Redis at once";
    testino::contract::BlockingStore store(created);
    EXPECT_FALSE(store.health().healthy);
    EXPECT_EQ(host.count("store.redis.unavailable"), 1u) << "logged once, not per request";
}

TEST(StoreRedisPluginTest, ARedisThatMayEvictIsAConfigErrorNamingThePolicyAndTheFix) {
    testino::test::RedisServer redis(
        {"", true, {"--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"}});
    const std::string error = config_error({{"url", redis.url()}});
    for (const char* part :
         {"maxmemory-policy allkeys-lru", "noeviction", "store.redis.allow_eviction: true"}) {
        EXPECT_NE(error.find(part), std::string::npos) << part << " in: " << error;
    }
    EXPECT_NE(error.find(redis.url()), std::string::npos) << "names the Redis: " << error;
    EXPECT_EQ(config_error({{"url", redis.url()}, {"allow_eviction", "true"}}), "") << "unless ops accept it";
}

TEST(StoreRedisPluginTest, BadUrlIsAConfigErrorNamingTheKeyNotThePassword) {
    const std::string error = config_error({{"url", "redis://:topsecret@host:70000/0"}});
    EXPECT_NE(error.find("test config: url"), std::string::npos) << error;  // config.where("url")
    EXPECT_NE(error.find("port"), std::string::npos) << error;
    EXPECT_EQ(error.find("topsecret"), std::string::npos) << error;
}

TEST(StoreRedisPluginTest, TlsUrlIsAConfigError) {
    const std::string error = config_error({{"url", "rediss://127.0.0.1:6380/0"}});
    EXPECT_NE(error.find("TLS"), std::string::npos) << error;
}

TEST(StoreRedisPluginTest, KeyPrefixWithBracesIsAConfigError) {
    const std::string error = config_error({{"key_prefix", "app{1}:"}});
    EXPECT_NE(error.find("key_prefix"), std::string::npos) << error;
}

}  // namespace
