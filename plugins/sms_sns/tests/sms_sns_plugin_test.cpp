// The built sms_sns.so, loaded the way the server loads it.
#include <gtest/gtest.h>

#include <future>

#include "app/sms_dispatcher.hpp"
#include "fake_sns.hpp"
#include "plugin_doubles.hpp"
#include "testino/plugin.hpp"

namespace testino::plugins::sns {
namespace {

using test_support::MapConfigView;
using test_support::PluginLibrary;
using test_support::RecordingHost;

const test::FakeSnsKeys kKeys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                              "us-east-1"};

// The plugin's section, pointed at `fake`.
MapConfigView config_for(const test::FakeSns& fake, const PluginLibrary& plugin) {
    return MapConfigView({{"region", kKeys.region},
                          {"access_key_id", kKeys.access_key_id},
                          {"secret_access_key", kKeys.secret_access_key},
                          {"endpoint", fake.endpoint()}},
                         plugin.descriptor().config_keys);
}

TEST(SmsSnsPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, sdk::PluginKind::sms_provider);
    EXPECT_EQ(descriptor.name, "sns");
    EXPECT_EQ(descriptor.version, "1.0.0");
    EXPECT_NE(descriptor.description.find("sns:Publish"), std::string::npos);
    EXPECT_EQ(descriptor.config_keys.size(), 10u);
    EXPECT_EQ(descriptor.channels, std::vector<sdk::Channel>{sdk::Channel::sms})
        << "SNS Publish sends text only";
}

// SNS sends SMS only: a WhatsApp or voice send is refused by the server's dispatcher (the
// app answers 422) and never reaches the plugin, let alone SNS.
TEST(SmsSnsPluginTest, TheServerNeverAsksItForWhatsAppOrVoice) {
    test::FakeSns fake(kKeys);
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    const MapConfigView config = config_for(fake, plugin);
    RecordingHost host;
    std::shared_ptr<sdk::SmsProvider> provider = plugin.create<sdk::SmsProvider>(config, host);
    ASSERT_NE(provider, nullptr);
    EXPECT_EQ(provider->channels(), std::vector<sdk::Channel>{sdk::Channel::sms});

    SmsDispatcher dispatcher(SmsRouting::single(provider, "sns"), 1, 4, std::chrono::milliseconds(5000));
    auto send = [&](sdk::Channel channel) {
        std::promise<SendOutcome> done;
        EXPECT_TRUE(dispatcher.submit({"+447400123456", "code 123456", "123456", "req-ch", channel}, "44",
                                      [&](const SendOutcome& outcome) { done.set_value(outcome); }));
        return done.get_future().get();
    };
    for (const sdk::Channel channel : {sdk::Channel::whatsapp, sdk::Channel::voice}) {
        EXPECT_FALSE(dispatcher.supports("44", channel));
        const SendOutcome refused = send(channel);
        EXPECT_TRUE(refused.channel_unsupported) << sdk::to_string(channel);
        EXPECT_EQ(refused.attempts, 0);
        EXPECT_EQ(refused.result.status, sdk::SendStatus::invalid_recipient);
    }
    EXPECT_TRUE(fake.requests().empty()) << "no request reached SNS";
    EXPECT_EQ(host.records().size(), 0u) << "the plugin was never called";

    const SendOutcome sms = send(sdk::Channel::sms);
    EXPECT_EQ(sms.result.status, sdk::SendStatus::sent) << sms.result.detail;
    EXPECT_EQ(fake.requests().size(), 1u);
}

TEST(SmsSnsPluginTest, FactoryMakesAProviderThatSendsThroughSns) {
    test::FakeSns fake(kKeys);
    PluginLibrary plugin(SMS_SNS_PLUGIN_PATH);
    const MapConfigView config = config_for(fake, plugin);
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
