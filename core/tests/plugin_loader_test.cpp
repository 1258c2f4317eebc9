#include "plugins/plugin_loader.hpp"

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "plugin_doubles.hpp"

namespace testino {
namespace {

using sdk::PluginKind;

const std::filesystem::path kPlugins = TESTINO_PLUGIN_DIR;
const std::filesystem::path kTestPlugins = TESTINO_TEST_PLUGIN_DIR;

std::string load_error(const PluginLoader& loader, const std::string& name, PluginKind kind) {
    try {
        loader.load(name, kind, "sms.provider");
    } catch (const StartupError& e) {
        return e.what();
    }
    return "";
}

TEST(PluginLoader, ListsTheBuiltPlugins) {
    const auto listings = PluginLoader(kPlugins).list();
    bool console = false, memory = false;
    for (const auto& p : listings) {
        ASSERT_TRUE(p.usable) << p.path << ": " << p.problem;
        EXPECT_EQ(p.abi_version, sdk::kAbiVersion);
        console =
            console || (p.descriptor.name == "console" && p.descriptor.kind == PluginKind::sms_provider);
        memory = memory || (p.descriptor.name == "memory" && p.descriptor.kind == PluginKind::otp_store);
    }
    EXPECT_TRUE(console);
    EXPECT_TRUE(memory);
}

TEST(PluginLoader, ListsBrokenFilesWithTheReason) {
    bool abi = false, not_plugin = false;
    for (const auto& p : PluginLoader(kTestPlugins).list()) {
        if (p.path.filename() == "abi_mismatch.so") {
            abi = !p.usable && p.problem.find("built for plugin ABI 999") != std::string::npos;
        }
        if (p.path.filename() == "not_a_plugin.so") {
            not_plugin = !p.usable && p.problem.find("not a Testino plugin") != std::string::npos;
        }
    }
    EXPECT_TRUE(abi);
    EXPECT_TRUE(not_plugin);
}

TEST(PluginLoader, APluginBuiltForAbi7IsRefusedNamingBothVersions) {
    // ABI 8 grew SmsMessage (traceparent) and the vtables of SmsProvider (callbacks) and
    // OtpStore (records and queues): a plugin built for 7 would be called past their ends.
    ASSERT_EQ(sdk::kAbiVersion, 8);
    const std::string e = load_error(PluginLoader(kPlugins), (kTestPlugins / "abi7_plugin.so").string(),
                                     PluginKind::sms_provider);
    EXPECT_NE(e.find("built for plugin ABI 7, but this server speaks ABI 8"), std::string::npos) << e;
}

TEST(PluginLoader, EveryBuiltSmsProviderDeclaresItsChannels) {
    for (const auto& p : PluginLoader(kPlugins).list()) {
        if (p.descriptor.kind != PluginKind::sms_provider) {
            EXPECT_TRUE(p.descriptor.channels.empty()) << p.descriptor.name;
            continue;
        }
        // Ours all send SMS (the twilio test checks its whole list).
        EXPECT_FALSE(p.descriptor.channels.empty()) << p.descriptor.name;
        EXPECT_EQ(p.descriptor.channels.front(), sdk::Channel::sms) << p.descriptor.name;
    }
}

TEST(PluginLoader, LoadsByNameAndByPath) {
    const PluginLoader loader(kPlugins);
    EXPECT_EQ(loader.load("console", PluginKind::sms_provider, "x").descriptor().name, "console");
    const auto by_path =
        loader.load((kTestPlugins / "sms_test_sink.so").string(), PluginKind::sms_provider, "x");
    EXPECT_EQ(by_path.descriptor().name, "test_sink");
}

TEST(PluginLoader, MissingPluginListsWhatIsAvailable) {
    const std::string e = load_error(PluginLoader(kPlugins), "twillio", PluginKind::sms_provider);
    EXPECT_NE(e.find("no sms_provider plugin named \"twillio\""), std::string::npos) << e;
    EXPECT_NE(e.find("available: console"), std::string::npos) << e;
}

TEST(PluginLoader, WrongKindIsNamed) {
    const std::string e = load_error(PluginLoader(kPlugins), "memory", PluginKind::sms_provider);
    EXPECT_NE(e.find("\"memory\" is an otp_store plugin, not an sms_provider plugin"), std::string::npos)
        << e;
}

TEST(PluginLoader, AbiMismatchNotAPluginAndMissingFileAreRefused) {
    const PluginLoader loader(kPlugins);
    EXPECT_NE(
        load_error(loader, (kTestPlugins / "abi_mismatch.so").string(), PluginKind::sms_provider)
            .find("built for plugin ABI 999, but this server speaks ABI " + std::to_string(sdk::kAbiVersion)),
        std::string::npos);
    EXPECT_NE(load_error(loader, (kTestPlugins / "not_a_plugin.so").string(), PluginKind::sms_provider)
                  .find("not a Testino plugin"),
              std::string::npos);
    EXPECT_NE(load_error(loader, "/nonexistent/x.so", PluginKind::sms_provider).find("no such plugin file"),
              std::string::npos);
}

TEST(PluginLoader, ObjectsKeepTheirLibraryLoaded) {
    test_support::RecordingHost host;
    test_support::MapConfigView config;
    std::shared_ptr<sdk::SmsProvider> provider;
    {
        // The loader and the LoadedPlugin go away; the object must still run its code.
        const PluginLoader loader(kPlugins);
        provider = loader.load("console", PluginKind::sms_provider, "x")
                       .create_sms_provider(sdk::PluginContext{config, host});
    }
    const auto result = provider->send({"+12025550123", "text", "123456", "r1"},
                                       std::chrono::steady_clock::now() + std::chrono::seconds(1));
    EXPECT_EQ(result.status, sdk::SendStatus::sent);
    EXPECT_TRUE(provider->health().healthy);
    provider.reset();  // unloads here; must not crash
    EXPECT_EQ(host.count("sms.console.message"), 1u);
}

TEST(PluginLoader, FactoryConfigErrorsBecomeStartupErrors) {
    test_support::RecordingHost host;
    // The sink requires `outbox`; its factory refuses a view without it.
    test_support::MapConfigView config(std::map<std::string, std::string>{{"delay_ms", "0"}});
    const auto plugin =
        PluginLoader(kTestPlugins)
            .load((kTestPlugins / "sms_test_sink.so").string(), PluginKind::sms_provider, "x");
    EXPECT_THROW(plugin.create_sms_provider(sdk::PluginContext{config, host}), StartupError);
}

}  // namespace
}  // namespace testino
