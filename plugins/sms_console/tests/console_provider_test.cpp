// ConsoleProvider's logic with a recording host, and the built sms_console.so.
#include "console_provider.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "plugin_doubles.hpp"

namespace testino::plugins {
namespace {

using sdk::SendStatus;
using sdk::SmsMessage;
using test_support::MapConfigView;
using test_support::PluginLibrary;
using test_support::RecordingHost;

const auto kNoDeadline = std::chrono::steady_clock::time_point::max();

SmsMessage message_to(const std::string& to) {
    return {to, "Your Testino code is 123456. It expires in 5 minutes.", "123456", "req-1"};
}

TEST(ConsoleProviderTest, SendLogsTheMessageAndReportsSent) {
    RecordingHost host;
    ConsoleProvider provider(host);

    const auto result = provider.send(message_to("+12025550123"), kNoDeadline);

    EXPECT_EQ(result.status, SendStatus::sent);
    EXPECT_EQ(result.message_id, "console-1");
    const auto records = host.records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].level, sdk::LogLevel::info);
    EXPECT_EQ(records[0].event, "sms.console.message");
    EXPECT_EQ(records[0].field("to"), "+12025550123");
    EXPECT_EQ(records[0].field("text"), "Your Testino code is 123456. It expires in 5 minutes.");
    EXPECT_EQ(records[0].field("request_id"), "req-1");
    EXPECT_EQ(records[0].fields.size(), 3u) << "no other fields: the host adds ts and plugin";
}

TEST(ConsoleProviderTest, MessageIdsCountUp) {
    RecordingHost host;
    ConsoleProvider provider(host);
    EXPECT_EQ(provider.send(message_to("+12025550123"), kNoDeadline).message_id, "console-1");
    EXPECT_EQ(provider.send(message_to("+12025550124"), kNoDeadline).message_id, "console-2");
    EXPECT_EQ(host.count("sms.console.message"), 2u);
}

TEST(ConsoleProviderTest, ConcurrentSendsGetDistinctIdsAndAllAreLogged) {
    RecordingHost host;
    ConsoleProvider provider(host);
    constexpr int kThreads = 4;
    constexpr int kSendsPerThread = 50;
    std::vector<std::vector<std::string>> ids(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kSendsPerThread; ++i) {
                ids[t].push_back(provider.send(message_to("+12025550123"), kNoDeadline).message_id);
            }
        });
    }
    for (auto& thread : threads) thread.join();

    std::set<std::string> distinct;
    for (const auto& per_thread : ids) distinct.insert(per_thread.begin(), per_thread.end());
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kThreads * kSendsPerThread));
    EXPECT_EQ(host.count("sms.console.message"), static_cast<std::size_t>(kThreads * kSendsPerThread));
}

TEST(ConsoleProviderTest, AlwaysHealthy) {
    RecordingHost host;
    ConsoleProvider provider(host);
    EXPECT_TRUE(provider.health().healthy);
}

TEST(SmsConsolePluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    PluginLibrary plugin(SMS_CONSOLE_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, sdk::PluginKind::sms_provider);
    EXPECT_EQ(descriptor.name, "console");
    EXPECT_EQ(descriptor.version, "1.0.0");
    EXPECT_FALSE(descriptor.description.empty());
    EXPECT_TRUE(descriptor.config_keys.empty());
}

TEST(SmsConsolePluginTest, FactoryMakesAProviderThatLogsThroughTheHost) {
    PluginLibrary plugin(SMS_CONSOLE_PLUGIN_PATH);
    const MapConfigView config({}, plugin.descriptor().config_keys);
    RecordingHost host;
    auto provider = plugin.create<sdk::SmsProvider>(config, host);
    ASSERT_NE(provider, nullptr);

    // Created, it says it is for development only.
    ASSERT_EQ(host.count("sms.console_provider"), 1u);
    EXPECT_EQ(host.records_of("sms.console_provider")[0].level, sdk::LogLevel::warn);

    EXPECT_EQ(provider->send(message_to("+447400123456"), kNoDeadline).status, SendStatus::sent);
    ASSERT_EQ(host.count("sms.console.message"), 1u);
    EXPECT_EQ(host.records_of("sms.console.message")[0].field("to"), "+447400123456");
}

}  // namespace
}  // namespace testino::plugins
