// The built sms_sns.so, loaded the way the server loads it.
#include <gtest/gtest.h>

#include "fake_sns.hpp"
#include "plugin_doubles.hpp"
#include "testino/plugin.hpp"

namespace testino::plugins::sns {
namespace {

using test_support::MapConfigView;
using test_support::PluginLibrary;
using test_support::RecordingHost;

TEST(SmsSnsPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, sdk::PluginKind::sms_provider);
    EXPECT_EQ(descriptor.name, "sns");
    EXPECT_EQ(descriptor.version, "1.0.0");
    EXPECT_NE(descriptor.description.find("sns:Publish"), std::string::npos);
    EXPECT_EQ(descriptor.config_keys.size(), 10u);
}

TEST(SmsSnsPluginTest, FactoryMakesAProviderThatSendsThroughSns) {
    const test::FakeSnsKeys keys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                                 "us-east-1"};
    test::FakeSns fake(keys);
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    const MapConfigView config({{"region", keys.region},
                                {"access_key_id", keys.access_key_id},
                                {"secret_access_key", keys.secret_access_key},
                                {"endpoint", fake.endpoint()}},
                               plugin.descriptor().config_keys);
    RecordingHost host;
    auto provider = plugin.create<sdk::SmsProvider>(config, host);
    ASSERT_NE(provider, nullptr);
    EXPECT_TRUE(provider->may_block());

    const auto result = provider->send({"+447400123456", "code 123456", "123456", "req-9"},
                                       std::chrono::steady_clock::now() + std::chrono::seconds(5));
    EXPECT_EQ(result.status, sdk::SendStatus::sent) << result.detail;
    EXPECT_EQ(fake.requests().at(0).params.at("PhoneNumber"), "+447400123456");
    EXPECT_EQ(host.count("sms.sns.sent"), 1u);
}

TEST(SmsSnsPluginTest, FactoryRejectsAMalformedValueWithAConfigError) {
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    const MapConfigView config({{"region", "us-east-1"},
                                {"access_key_id", "AKIAIOSFODNN7EXAMPLE"},
                                {"secret_access_key", "secret"},
                                {"sms_type", "Urgent"}},
                               plugin.descriptor().config_keys);
    RecordingHost host;
    EXPECT_THROW(plugin.create<sdk::SmsProvider>(config, host), sdk::ConfigError);
}

}  // namespace
}  // namespace testino::plugins::sns
