// The test-only plugins export what the loader looks for (and not_a_plugin does not),
// and sms_test_sink behaves as integration tests script it to.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugin_doubles.hpp"

namespace {

using namespace std::chrono_literals;
using testino::sdk::ConfigError;
using testino::sdk::SendStatus;
using testino::sdk::SmsMessage;
using testino::sdk::SmsProvider;
using testino::test_support::MapConfigView;
using testino::test_support::PluginLibrary;
using testino::test_support::RecordingHost;

const auto kNoDeadline = std::chrono::steady_clock::time_point::max();

std::vector<std::string> read_lines(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(TestPluginExportsTest, SmsTestSinkExportsCurrentAbiAndDescriptor) {
    boost::dll::shared_library library(SMS_TEST_SINK_PATH, boost::dll::load_mode::rtld_now);
    EXPECT_EQ(library.get<const int>(TESTINO_PLUGIN_ABI_SYMBOL), testino::sdk::kAbiVersion);
    const auto descriptor =
        library.get_alias<testino::sdk::PluginDescriptor()>(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL)();
    EXPECT_EQ(descriptor.kind, testino::sdk::PluginKind::sms_provider);
    EXPECT_EQ(descriptor.name, "test_sink");
    std::vector<std::string> keys;
    for (const auto& key : descriptor.config_keys) keys.push_back(key.name);
    EXPECT_EQ(keys, (std::vector<std::string>{"outbox", "delay_ms", "fail_with", "fail_channels", "channels",
                                              "healthy", "fail_while_exists"}));
    EXPECT_TRUE(descriptor.config_keys[0].required);
    EXPECT_TRUE(library.has(TESTINO_PLUGIN_FACTORY_SYMBOL));
}

TEST(TestPluginExportsTest, AbiMismatchExportsVersion999AndADescriptor) {
    boost::dll::shared_library library(ABI_MISMATCH_PATH, boost::dll::load_mode::rtld_now);
    EXPECT_EQ(library.get<const int>(TESTINO_PLUGIN_ABI_SYMBOL), 999);
    const auto descriptor =
        library.get_alias<testino::sdk::PluginDescriptor()>(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL)();
    EXPECT_EQ(descriptor.name, "abi_mismatch");
    EXPECT_TRUE(library.has(TESTINO_PLUGIN_FACTORY_SYMBOL));
}

TEST(TestPluginExportsTest, NotAPluginLoadsButHasNoPluginSymbols) {
    boost::dll::shared_library library(NOT_A_PLUGIN_PATH, boost::dll::load_mode::rtld_now);
    EXPECT_TRUE(library.has("testino_not_a_plugin_marker"));
    EXPECT_FALSE(library.has(TESTINO_PLUGIN_ABI_SYMBOL));
    EXPECT_FALSE(library.has(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL));
    EXPECT_FALSE(library.has(TESTINO_PLUGIN_FACTORY_SYMBOL));
}

class SmsTestSinkTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        outbox_ =
            std::filesystem::path(::testing::TempDir()) / ("sink-" + std::string(test->name()) + ".jsonl");
        std::filesystem::remove(outbox_);
    }
    void TearDown() override { std::filesystem::remove(outbox_); }

    std::unique_ptr<SmsProvider> make(std::map<std::string, std::string> values) {
        values.emplace("outbox", outbox_.string());
        const MapConfigView config(values, plugin_.descriptor().config_keys);
        return plugin_.create<SmsProvider>(config, host_);
    }

    PluginLibrary plugin_{SMS_TEST_SINK_PATH};  // first: outlives what it creates
    RecordingHost host_;
    std::filesystem::path outbox_;
};

TEST_F(SmsTestSinkTest, AppendsOneJsonLinePerSendAndReportsSent) {
    auto sink = make({});
    EXPECT_TRUE(std::filesystem::exists(outbox_)) << "created by the factory";

    const SmsMessage first{"+12025550123", "Your code is \"123456\".\nBye", "123456", "r1"};
    EXPECT_EQ(sink->send(first, kNoDeadline).status, SendStatus::sent);
    EXPECT_EQ(
        sink->send({"+447400123456", "x", "000111", "r2", testino::sdk::Channel::sms, "pt-BR"}, kNoDeadline)
            .status,
        SendStatus::sent);

    EXPECT_EQ(
        read_lines(outbox_),
        (std::vector<std::string>{
            R"({"to":"+12025550123","text":"Your code is \"123456\".\nBye","code":"123456","request_id":"r1","channel":"sms","locale":""})",
            R"({"to":"+447400123456","text":"x","code":"000111","request_id":"r2","channel":"sms","locale":"pt-BR"})"}));
    EXPECT_TRUE(sink->health().healthy);
}

TEST_F(SmsTestSinkTest, FailsAsToldButStillRecordsTheMessage) {
    const std::pair<const char*, SendStatus> cases[] = {{"invalid_recipient", SendStatus::invalid_recipient},
                                                        {"misconfigured", SendStatus::misconfigured},
                                                        {"unavailable", SendStatus::unavailable},
                                                        {"uncertain", SendStatus::uncertain}};
    for (const auto& [fail_with, status] : cases) {
        auto sink = make({{"fail_with", fail_with}});
        const auto result = sink->send({"+12025550123", "t", "123456", "r"}, kNoDeadline);
        EXPECT_EQ(result.status, status) << fail_with;
        EXPECT_FALSE(result.detail.empty()) << fail_with;
    }
    EXPECT_EQ(read_lines(outbox_).size(), 4u);
}

TEST_F(SmsTestSinkTest, OffersTheConfiguredChannelsAndFailsOnlyThoseTold) {
    using testino::sdk::Channel;
    EXPECT_EQ(make({})->channels(), (std::vector<Channel>{Channel::sms})) << "sms by default";
    auto sink = make(
        {{"channels", "whatsapp,sms"}, {"fail_with", "invalid_recipient"}, {"fail_channels", "whatsapp"}});
    EXPECT_EQ(sink->channels(), (std::vector<Channel>{Channel::whatsapp, Channel::sms}));
    EXPECT_EQ(sink->send({"+12025550123", "t", "123456", "r", Channel::whatsapp}, kNoDeadline).status,
              SendStatus::invalid_recipient);
    EXPECT_EQ(sink->send({"+12025550123", "t", "123456", "r", Channel::sms}, kNoDeadline).status,
              SendStatus::sent);
    EXPECT_THROW(make({{"channels", "sms,pigeon"}}), ConfigError);
    EXPECT_THROW(make({{"fail_channels", "fax"}}), ConfigError);
}

TEST_F(SmsTestSinkTest, FailsOnlyWhileTheSwitchFileExists) {
    const auto switch_file = std::filesystem::path(outbox_).replace_extension(".down");
    std::filesystem::remove(switch_file);
    auto sink = make({{"fail_with", "unavailable"}, {"fail_while_exists", switch_file.string()}});
    const SmsMessage message{"+12025550123", "t", "123456", "r"};
    EXPECT_EQ(sink->send(message, kNoDeadline).status, SendStatus::sent);
    std::ofstream(switch_file).put('x');
    EXPECT_EQ(sink->send(message, kNoDeadline).status, SendStatus::unavailable);
    std::filesystem::remove(switch_file);
    EXPECT_EQ(sink->send(message, kNoDeadline).status, SendStatus::sent);
}

TEST_F(SmsTestSinkTest, RejectsAnUnknownFailWith) {
    EXPECT_THROW(make({{"fail_with", "explode"}}), ConfigError);
}

TEST_F(SmsTestSinkTest, ReportsUnhealthyWhenTold) {
    EXPECT_FALSE(make({{"healthy", "false"}})->health().healthy);
}

TEST_F(SmsTestSinkTest, DelayIsCappedByTheDeadline) {
    // A one-minute delay against a 50 ms deadline: uncapped, this test would time out.
    auto sink = make({{"delay_ms", "60000"}});
    const auto result =
        sink->send({"+12025550123", "t", "123456", "r"}, std::chrono::steady_clock::now() + 50ms);
    EXPECT_EQ(result.status, SendStatus::uncertain) << "the message is in the outbox already";
}

TEST_F(SmsTestSinkTest, ShortDelayStillSends) {
    auto sink = make({{"delay_ms", "20"}});
    EXPECT_EQ(sink->send({"+12025550123", "t", "123456", "r"}, kNoDeadline).status, SendStatus::sent);
}

}  // namespace
