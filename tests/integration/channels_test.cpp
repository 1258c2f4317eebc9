// Channels through the real server: send-otp's `channel` field, the configured workflow
// (otp.channel_workflow) moving to the next channel after the wait and within a request
// when a channel certainly failed, starting again after a verify, the reply's channel
// fields, the metrics per channel, and the start-up refusal of a channel nobody offers.
#include <chrono>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

std::string send_by(const std::string& number, const std::string& channel) {
    return R"({"country_code":"+1","mobile_number":")" + number + R"(","channel":")" + channel + "\"}";
}

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// The test sink offering `channels`, a workflow of `workflow` with a 1 s wait.
TestConfig sink_with(const std::string& channels, const std::string& workflow = "") {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["channels"] = channels;
    if (!workflow.empty()) {
        config.otp["channel_workflow"] = workflow;
        config.otp["channel_workflow_wait_seconds"] = "1";
    }
    return config;
}

// The outbox entries to `e164`, in order.
std::vector<std::string> channels_sent_to(const ServerProcess& server, const std::string& e164) {
    std::vector<std::string> channels;
    for (const auto& entry : outbox_entries(server)) {
        if (json_string(entry, "to") == e164) channels.push_back(json_string(entry, "channel"));
    }
    return channels;
}

// The code of the latest outbox entry to `e164`.
std::string last_code_to(const ServerProcess& server, const std::string& e164) {
    std::string code;
    for (const auto& entry : outbox_entries(server)) {
        if (json_string(entry, "to") == e164) code = json_string(entry, "code");
    }
    return code;
}

TEST(ChannelFieldTest, AnUnknownChannelIsA422NamingTheField) {
    auto server = start_server(sink_with("[sms]"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto answer = client.post_json(kSendOtp, send_by("2025550160", "telegram"));
    EXPECT_TRUE(is_api_error(answer, 422, "VALIDATION_ERROR", "channel"));
    EXPECT_NE(answer.body.find("\\\"sms\\\", \\\"whatsapp\\\" or \\\"voice\\\""), std::string::npos)
        << answer.body;
    EXPECT_TRUE(outbox_entries(*server).empty());
}

TEST(ChannelFieldTest, AChannelTheRouteDoesNotOfferIsA422AndCostsNoAllowance) {
    TestConfig config = sink_with("[sms]");
    config.limits["number_sends_per_window"] = "1";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto refused = client.post_json(kSendOtp, send_by("2025550161", "whatsapp"));
    ASSERT_TRUE(is_api_error(refused, 422, "VALIDATION_ERROR", "channel"));
    EXPECT_NE(refused.body.find("Codes cannot be sent by whatsapp to +1 numbers"), std::string::npos)
        << refused.body;
    EXPECT_TRUE(outbox_entries(*server).empty());
    // The refusal took none of the number's one send.
    const auto sent = client.post_json(kSendOtp, send_by("2025550161", "sms"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(json_string(parse_json(sent.body), "channel"), "sms");
}

TEST(ChannelFieldTest, AnExplicitChannelIsUsedAndItsCodeVerifies) {
    auto server = start_server(sink_with("[sms, whatsapp, voice]", "[whatsapp, sms]"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_by("2025550162", "voice"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto reply = parse_json(sent.body);
    EXPECT_EQ(json_string(reply, "channel"), "voice");
    EXPECT_FALSE(reply.HasMember("next_channel")) << "an explicit channel takes no step: " << sent.body;
    EXPECT_EQ(channels_sent_to(*server, "+12025550162"), (std::vector<std::string>{"voice"}));
    const std::string code = last_code_to(*server, "+12025550162");
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550162", code)).status, 200);
}

TEST(ChannelFieldTest, WithoutAWorkflowTheReplyNamesSmsAndNoNextChannel) {
    auto server = start_server(sink_with("[sms]"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550163"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto reply = parse_json(sent.body);
    EXPECT_EQ(json_string(reply, "channel"), "sms");
    EXPECT_FALSE(reply.HasMember("next_channel")) << sent.body;
    EXPECT_FALSE(reply.HasMember("next_channel_in")) << sent.body;
}

TEST(ChannelWorkflowTest, ResendsWithinTheWaitRepeatAndLaterOnesMoveOn) {
    auto server = start_server(sink_with("[sms, whatsapp, voice]", "[whatsapp, sms, voice]"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto first = client.post_json(kSendOtp, send_body("+1", "2025550164"));
    ASSERT_EQ(first.status, 200) << first.body;
    const auto reply = parse_json(first.body);
    EXPECT_EQ(json_string(reply, "channel"), "whatsapp");
    EXPECT_EQ(json_string(reply, "next_channel"), "sms");
    EXPECT_EQ(json_int(reply, "next_channel_in"), 1);

    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550164")).status, 200);
    std::this_thread::sleep_for(1100ms);
    const auto second = client.post_json(kSendOtp, send_body("+1", "2025550164"));
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(json_string(parse_json(second.body), "next_channel"), "voice");
    std::this_thread::sleep_for(1100ms);
    const auto third = client.post_json(kSendOtp, send_body("+1", "2025550164"));
    ASSERT_EQ(third.status, 200) << third.body;
    EXPECT_FALSE(parse_json(third.body).HasMember("next_channel")) << "the last step: " << third.body;
    EXPECT_EQ(channels_sent_to(*server, "+12025550164"),
              (std::vector<std::string>{"whatsapp", "whatsapp", "sms", "voice"}));
}

TEST(ChannelWorkflowTest, ACertainFailureMovesOnWithinTheRequest) {
    TestConfig config = sink_with("[sms, whatsapp, voice]", "[whatsapp, sms, voice]");
    config.sms_sections["test_sink"]["fail_with"] = quoted("invalid_recipient");
    config.sms_sections["test_sink"]["fail_channels"] = "[whatsapp]";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550165"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto reply = parse_json(sent.body);
    EXPECT_EQ(json_string(reply, "channel"), "sms");
    EXPECT_EQ(json_string(reply, "next_channel"), "voice");
    EXPECT_EQ(channels_sent_to(*server, "+12025550165"), (std::vector<std::string>{"whatsapp", "sms"}));
    const auto moved =
        wait_for_event_where(*server, "workflow.next_channel", "request_id", sent.header("X-Request-Id"));
    ASSERT_TRUE(moved);
    EXPECT_EQ(json_string(parse_json(*moved), "failed"), "whatsapp");
    EXPECT_EQ(json_string(parse_json(*moved), "next"), "sms");
    // The code the SMS carried verifies, and counts for sms.
    const std::string code = last_code_to(*server, "+12025550165");
    ASSERT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550165", code)).status, 200);
    ASSERT_NE(server->admin_port(), 0);
    const auto metrics = HttpClient(server->admin_port()).get(kMetrics).body;
    EXPECT_TRUE(has_line(metrics, R"(testino_channel_fallbacks_total{from="whatsapp",to="sms"} 1)"))
        << metrics;
    EXPECT_TRUE(has_line(metrics, R"(testino_codes_sent_total{channel="sms"} 1)")) << metrics;
    EXPECT_TRUE(has_line(metrics, R"(testino_codes_verified_total{channel="sms"} 1)")) << metrics;
}

TEST(ChannelWorkflowTest, EveryChannelFailingIsTheFailureAndLeavesNoCode) {
    TestConfig config = sink_with("[sms, whatsapp]", "[whatsapp, sms]");
    config.sms_sections["test_sink"]["fail_with"] = quoted("unavailable");
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550166"));
    EXPECT_TRUE(is_api_error(sent, 502, "SMS_PROVIDER_UNAVAILABLE")) << sent.body;
    EXPECT_EQ(channels_sent_to(*server, "+12025550166"), (std::vector<std::string>{"whatsapp", "sms"}));
    const std::string code = last_code_to(*server, "+12025550166");
    EXPECT_NE(client.post_json(kVerifyOtp, verify_body("+1", "2025550166", code)).status, 200);
}

TEST(ChannelWorkflowTest, AVerifiedCodeStartsTheWorkflowAgainAndCountsForItsChannel) {
    auto server = start_server(sink_with("[sms, whatsapp]", "[whatsapp, sms]"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550167")).status, 200);
    std::this_thread::sleep_for(1100ms);
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550167")).status, 200);
    // The WhatsApp code, still valid for the overlap, is the one the user typed.
    std::string whatsapp_code;
    for (const auto& entry : outbox_entries(*server)) {
        if (json_string(entry, "channel") == "whatsapp") whatsapp_code = json_string(entry, "code");
    }
    ASSERT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550167", whatsapp_code)).status, 200);
    const auto again = client.post_json(kSendOtp, send_body("+1", "2025550167"));
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json_string(parse_json(again.body), "channel"), "whatsapp") << "the workflow starts again";
    const auto metrics = HttpClient(server->admin_port()).get(kMetrics).body;
    EXPECT_TRUE(has_line(metrics, R"(testino_codes_sent_total{channel="whatsapp"} 2)")) << metrics;
    EXPECT_TRUE(has_line(metrics, R"(testino_codes_sent_total{channel="sms"} 1)")) << metrics;
    EXPECT_TRUE(has_line(metrics, R"(testino_codes_verified_total{channel="whatsapp"} 1)")) << metrics;
}

TEST(ChannelWorkflowTest, AWorkflowChannelNoProviderOffersStopsTheStart) {
    TestConfig config;
    config.otp["channel_workflow"] = "[whatsapp, sms]";
    const auto result = run(config.yaml());
    EXPECT_TRUE(fails_to_start(result, {"otp.channel_workflow", "no SMS provider offers whatsapp"}));
}

TEST(ChannelWorkflowTest, AnUnknownOrRepeatedWorkflowChannelStopsTheStart) {
    TestConfig config = sink_with("[sms]");
    config.otp["channel_workflow"] = "[sms, pigeon]";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.channel_workflow", "pigeon"}));
    config.otp["channel_workflow"] = "[sms, sms]";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.channel_workflow", "sms"}));
}

}  // namespace
}  // namespace testino::test
