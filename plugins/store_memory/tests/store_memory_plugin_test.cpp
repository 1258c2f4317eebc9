// The built store_memory.so: its exports, its config schema, and a store made by its
// factory, loaded the way the server loads it.
#include <gtest/gtest.h>

#include <algorithm>

#include "blocking_store.hpp"
#include "plugin_doubles.hpp"

namespace {

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

TEST(StoreMemoryPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(STORE_MEMORY_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), testino::sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, testino::sdk::PluginKind::otp_store);
    EXPECT_EQ(descriptor.name, "memory");
    EXPECT_EQ(descriptor.version, "1.0.0");
    EXPECT_FALSE(descriptor.description.empty());
}

TEST(StoreMemoryPluginTest, DeclaresItsConfigKeys) {
    const auto keys = PluginLibrary(STORE_MEMORY_PLUGIN_PATH).descriptor().config_keys;
    ASSERT_EQ(keys.size(), 7u);

    const ConfigKey* max_codes = find_key(keys, "max_codes");
    ASSERT_NE(max_codes, nullptr);
    EXPECT_EQ(max_codes->type, ValueType::integer);
    EXPECT_EQ(max_codes->default_value, "1000000");
    EXPECT_EQ(max_codes->env, "STORE_MEMORY_MAX_CODES");
    EXPECT_EQ(max_codes->min, 1);

    const ConfigKey* counters = find_key(keys, "max_counters");
    ASSERT_NE(counters, nullptr);
    EXPECT_EQ(counters->default_value, "1000000");

    const ConfigKey* families = find_key(keys, "max_refresh_families");
    ASSERT_NE(families, nullptr);
    EXPECT_EQ(families->type, ValueType::integer);
    EXPECT_EQ(families->default_value, "1000000");
    EXPECT_EQ(families->min, 1);

    for (const char* name : {"max_records", "max_queue_items"}) {
        const ConfigKey* bound = find_key(keys, name);
        ASSERT_NE(bound, nullptr) << name;
        EXPECT_EQ(bound->type, ValueType::integer) << name;
        EXPECT_EQ(bound->min, 1) << name;
    }
    EXPECT_EQ(find_key(keys, "max_queue_items")->default_value, "100000");

    const ConfigKey* sweep = find_key(keys, "sweep_interval_ms");
    ASSERT_NE(sweep, nullptr);
    EXPECT_EQ(sweep->type, ValueType::integer);
    EXPECT_EQ(sweep->default_value, "1000");
    EXPECT_EQ(sweep->min, 10);

    const ConfigKey* shards = find_key(keys, "shards");
    ASSERT_NE(shards, nullptr);
    EXPECT_EQ(shards->default_value, "16");
    EXPECT_EQ(shards->min, 1);
    EXPECT_EQ(shards->max, 1024);
}

TEST(StoreMemoryPluginTest, FactoryMakesAWorkingStoreWithDefaults) {
    PluginLibrary plugin(STORE_MEMORY_PLUGIN_PATH);
    const MapConfigView config({}, plugin.descriptor().config_keys);
    RecordingHost host;
    auto made = plugin.create<OtpStore>(config, host);
    ASSERT_NE(made, nullptr);
    testino::contract::BlockingStore blocking(std::move(made));
    auto* store = &blocking;

    testino::sdk::CodeDigest digest{};
    digest.fill(7);
    ASSERT_EQ(store->put_code("+12025550123", digest, 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->health().detail, "1 pending codes");
    EXPECT_EQ(store->verify_and_consume("+12025550123", digest).outcome, VerifyOutcome::verified);
}

TEST(StoreMemoryPluginTest, FactoryHonoursMaxCodes) {
    PluginLibrary plugin(STORE_MEMORY_PLUGIN_PATH);
    const MapConfigView config({{"max_codes", "1"}, {"shards", "2"}, {"sweep_interval_ms", "10"}},
                               plugin.descriptor().config_keys);
    RecordingHost host;
    testino::contract::BlockingStore blocking(plugin.create<OtpStore>(config, host));
    auto* store = &blocking;

    testino::sdk::CodeDigest digest{};
    EXPECT_EQ(store->put_code("+12025550123", digest, 60s, 5).status, StoreStatus::ok);
    EXPECT_EQ(store->put_code("+12025550124", digest, 60s, 5).status, StoreStatus::full);
}

}  // namespace
