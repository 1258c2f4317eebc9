// SMS provider failures through the scriptable sms_test_sink plugin: each failure maps to
// its error; a send that certainly failed leaves no usable code behind and costs no
// allowance, while an uncertain one keeps both; the provider's reason stays in the log.
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

struct FailureCase {
    std::string fail_with;
    long status;
    std::string error;
    std::optional<std::string> field;
};

// Keeps test names and failure output readable (gtest would dump the bytes).
void PrintTo(const FailureCase& c, std::ostream* out) { *out << c.fail_with << " -> " << c.error; }

class ProviderFailureTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(ProviderFailureTest, FailedSendMapsToItsErrorAndLeavesNoCode) {
    const auto& c = GetParam();
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["fail_with"] = c.fail_with;
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550170"));
    EXPECT_TRUE(is_api_error(response, c.status, c.error, c.field));
    // The sink's detail ("test_sink: ... as told") is the provider's reason: log only.
    EXPECT_EQ(response.body.find("as told"), std::string::npos) << response.body;
    EXPECT_NE(server->stdout_text().find("as told\""), std::string::npos) << server->stdout_text();

    // The sink records what it was asked to send even when it then fails; that code must
    // not verify, because the failed send deleted it.
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u) << "the sink's outbox should hold the attempted message";
    const std::string code = json_string(outbox[0], "code");
    ASSERT_FALSE(code.empty());
    EXPECT_EQ(json_string(outbox[0], "to"), "+12025550170");
    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550170", code)), 400,
                             "INVALID_OTP"));
}

INSTANTIATE_TEST_SUITE_P(
    SinkFailures, ProviderFailureTest,
    ::testing::Values(FailureCase{"invalid_recipient", 422, "RECIPIENT_REJECTED", "mobile_number"},
                      FailureCase{"misconfigured", 502, "SMS_PROVIDER_ERROR", std::nullopt},
                      FailureCase{"unavailable", 502, "SMS_PROVIDER_UNAVAILABLE", std::nullopt}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.fail_with; });

// The provider may have sent the SMS: 502 SMS_DELIVERY_UNCERTAIN, the code stays valid, and
// the limits stay charged, so asking again at once is refused by the cooldown.
TEST(ProviderUncertainTest, AnUncertainSendKeepsItsCodeAndIsNotRefunded) {
    TestConfig config;
    config.use_test_sink();
    config.limits["number_cooldown_seconds"] = "30";
    config.sms_sections["test_sink"]["fail_with"] = "uncertain";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550173"));
    EXPECT_TRUE(is_api_error(response, 502, "SMS_DELIVERY_UNCERTAIN")) << response.body;
    EXPECT_EQ(json_string(parse_json(response.body), "message"),
              "The SMS provider did not confirm the send; the code may still arrive. Wait a minute before "
              "asking for another");
    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550173")), 429, "RATE_LIMITED"));
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u) << "the refused resend reached no provider";
    const std::string code = json_string(outbox[0], "code");
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550173", code)).status, 200);
}

// A provider still running at sms.timeout_ms may be sending: uncertain, and its code works.
TEST(ProviderTimeoutTest, ProviderPastTheDeadlineIsUncertain) {
    TestConfig config;
    config.use_test_sink();
    config.sms["timeout_ms"] = "300";
    config.sms_sections["test_sink"]["delay_ms"] = "3000";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550171")), 502,
                             "SMS_DELIVERY_UNCERTAIN"));
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u);
    EXPECT_EQ(
        client.post_json(kVerifyOtp, verify_body("+1", "2025550171", json_string(outbox[0], "code"))).status,
        200);
}

TEST(ProviderHealthTest, UnhealthyProviderMakesHealthDown) {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["healthy"] = "false";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    const auto public_health = HttpClient(server->port()).get(kHealth);
    EXPECT_EQ(public_health.status, 503) << public_health.body;
    EXPECT_EQ(public_health.body, "{\"status\":\"down\"}") << "the public check names no plugin";
    const auto response = HttpClient(server->admin_port()).get(kAdminHealth);
    EXPECT_EQ(response.status, 503) << response.body;
    const auto body = parse_json(response.body);
    ASSERT_TRUE(body.IsObject()) << response.body;
    EXPECT_EQ(json_string(body, "status"), "down");
    ASSERT_TRUE(body.HasMember("plugins") && body["plugins"].IsArray());
    bool saw_sink = false, saw_store = false;
    for (const auto& plugin : body["plugins"].GetArray()) {
        if (json_string(plugin, "name") == "test_sink") {
            saw_sink = true;
            EXPECT_EQ(json_string(plugin, "kind"), "sms_provider");
            EXPECT_EQ(json_string(plugin, "state"), "down");
        } else if (json_string(plugin, "name") == "memory") {
            saw_store = true;
            EXPECT_EQ(json_string(plugin, "state"), "up");
        }
    }
    EXPECT_TRUE(saw_sink && saw_store) << response.body;
}

// The same binary with a different sms.provider: no rebuild, no code change.
TEST(ProviderSwapTest, ProviderIsChosenByConfigOnly) {
    {
        TestConfig console;
        auto server = start_server(console);
        ASSERT_TRUE(server);
        HttpClient client(server->port());
        const std::string code =
            send_and_read_console_code(*server, client, "+1", "2025550172", "+12025550172");
        EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550172", code)).status, 200);
    }
    TestConfig sink;
    sink.use_test_sink();
    auto server = start_server(sink);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550172"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u);
    EXPECT_EQ(json_string(outbox[0], "to"), "+12025550172");
    EXPECT_EQ(json_string(outbox[0], "request_id"), sent.header("X-Request-Id"));
    const std::string code = json_string(outbox[0], "code");
    EXPECT_EQ(code_in_text(json_string(outbox[0], "text")), code);
    EXPECT_EQ(console_message_count(*server, "+12025550172"), 0u) << "console plugin still in use";
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550172", code)).status, 200);

    const auto health = parse_json(HttpClient(server->admin_port()).get(kAdminHealth).body);
    bool saw_sink = false;
    if (health.IsObject() && health.HasMember("plugins") && health["plugins"].IsArray()) {
        for (const auto& plugin : health["plugins"].GetArray()) {
            saw_sink = saw_sink || json_string(plugin, "name") == "test_sink";
        }
    }
    EXPECT_TRUE(saw_sink) << "health does not list the test_sink provider";
}

// A full SMS queue answers 503 SERVICE_BUSY with Retry-After instead of queueing forever.
TEST(ProviderQueueTest, FullQueueIsServiceBusy) {
    TestConfig config;
    config.use_test_sink();
    config.sms["workers"] = "1";
    config.sms["queue_size"] = "1";
    config.sms_sections["test_sink"]["delay_ms"] = "1500";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    constexpr int kRequests = 6;
    std::vector<HttpResponse> responses(kRequests);
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i) {
        threads.emplace_back([&, i] {
            HttpClient client(server->port(), std::chrono::seconds(30));
            responses[i] = client.post_json(kSendOtp, send_body("+1", "20255501" + std::to_string(80 + i)));
        });
    }
    for (auto& thread : threads) thread.join();
    int ok = 0, busy = 0;
    for (const auto& response : responses) {
        if (response.status == 200) {
            ++ok;
        } else {
            EXPECT_TRUE(is_api_error(response, 503, "SERVICE_BUSY"));
            EXPECT_FALSE(response.header("Retry-After").empty());
            ++busy;
        }
    }
    // One in the worker and one queued can succeed; six at once cannot all fit.
    EXPECT_GE(ok, 1);
    EXPECT_GE(busy, 1);
}

}  // namespace
}  // namespace testino::test
