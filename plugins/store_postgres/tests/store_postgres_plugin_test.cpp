// The built store_postgres.so: its exports, its config schema, and stores made by its
// factory, loaded the way the server loads it; and the DSN's description without password.
#include <gtest/gtest.h>

#include "blocking_store.hpp"
#include "pg_dsn.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace {

using testino::sdk::ConfigError;
using testino::sdk::OtpStore;
using testino::sdk::StoreStatus;
using testino::sdk::VerifyOutcome;
using testino::test_support::find_key;
using testino::test_support::MapConfigView;
using testino::test_support::PluginLibrary;
using testino::test_support::RecordingHost;

// The factory's ConfigError message for a config, or "" if it did not throw.
std::string config_error(const std::map<std::string, std::string>& values) {
    return PluginLibrary(STORE_POSTGRES_PLUGIN_PATH).config_error<OtpStore>(values);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(StorePostgresPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(STORE_POSTGRES_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), testino::sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, testino::sdk::PluginKind::otp_store);
    EXPECT_EQ(descriptor.name, "postgres");
    EXPECT_FALSE(descriptor.description.empty());
}

TEST(StorePostgresPluginTest, TheDsnIsASecretFromTheEnvironmentWithoutADefault) {
    const auto keys = PluginLibrary(STORE_POSTGRES_PLUGIN_PATH).descriptor().config_keys;
    const auto* dsn = find_key(keys, "dsn");
    ASSERT_NE(dsn, nullptr);
    EXPECT_TRUE(dsn->secret);
    EXPECT_TRUE(dsn->required);
    EXPECT_TRUE(dsn->default_value.empty());
    EXPECT_EQ(dsn->env, "POSTGRES_DSN");
    for (const char* name : {"sslmode", "pool_size", "queue_size", "connect_timeout_ms", "query_timeout_ms",
                             "migrate_timeout_ms", "sweep_interval_ms", "sweep_batch_size",
                             "sweep_max_batches", "max_queue_items"}) {
        EXPECT_NE(find_key(keys, name), nullptr) << name;
    }
}

TEST(StorePostgresPluginTest, AMalformedDsnIsAConfigErrorThatNeverRepeatsIt) {
    const std::string message = config_error({{"dsn", "postgresql://u:hunter2@host:notaport/db?bogus=1"}});
    EXPECT_TRUE(contains(message, "dsn")) << message;
    EXPECT_FALSE(contains(message, "hunter2")) << message;
    EXPECT_TRUE(contains(config_error({{"dsn", "host=h password=hunter2 nonsense"}}), "dsn"));
}

TEST(StorePostgresPluginTest, AnUnknownSslmodeIsAConfigErrorNamingTheModes) {
    const std::string message = config_error({{"dsn", "host=127.0.0.1 port=1"}, {"sslmode", "always"}});
    EXPECT_TRUE(contains(message, "sslmode")) << message;
    EXPECT_TRUE(contains(message, "verify-full")) << message;
}

TEST(StorePostgresPluginTest, DescribingTheDsnLeavesThePasswordOut) {
    using testino::plugins::describe_dsn;
    EXPECT_EQ(describe_dsn("postgresql://app:hunter2@db.example:6543/otp?sslmode=require"),
              "app@db.example:6543/otp");
    EXPECT_EQ(describe_dsn("host=10.0.0.5 user=app password=hunter2 dbname=otp"), "app@10.0.0.5:5432/otp");
    EXPECT_EQ(describe_dsn("postgresql:///otp?host=/run/postgresql"), "/run/postgresql:5432/otp");
}

TEST(StorePostgresPluginTest, TheFactoryMakesAWorkingStoreAndSslmodePassesThrough) {
    TESTINO_REQUIRE_POSTGRES();
    testino::test::PostgresServer postgres;
    PluginLibrary plugin(STORE_POSTGRES_PLUGIN_PATH);
    RecordingHost host;
    {
        // The test server has no TLS: sslmode disable connects, require is refused.
        const MapConfigView config(
            {{"dsn", postgres.dsn()}, {"sslmode", "disable"}, {"sweep_interval_ms", "0"}},
            plugin.descriptor().config_keys);
        testino::contract::BlockingStore store(plugin.create<OtpStore>(config, host));
        testino::sdk::CodeDigest digest{};
        digest[0] = 1;
        EXPECT_EQ(store.put_code("+12025550400", digest, std::chrono::seconds(60), 3).status,
                  StoreStatus::ok);
        EXPECT_EQ(store.verify_and_consume("+12025550400", digest).outcome, VerifyOutcome::verified);
    }
    const MapConfigView config({{"dsn", postgres.dsn()}, {"sslmode", "require"}},
                               plugin.descriptor().config_keys);
    testino::contract::BlockingStore store(plugin.create<OtpStore>(config, host));
    const auto health = store.health();
    EXPECT_FALSE(health.healthy);
    EXPECT_TRUE(contains(health.detail, "SSL")) << health.detail;
    EXPECT_FALSE(contains(health.detail, testino::test::PostgresServer::kPassword)) << health.detail;
}

}  // namespace
