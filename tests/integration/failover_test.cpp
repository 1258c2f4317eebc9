// SMS failover and per-country routing through the real server: two scriptable sink
// providers (test_sink, test_sink_b) for every rule, then the real Twilio and SNS plugins
// against their fakes for the README's example (Twilio for +1, SNS for the rest).
#include <chrono>

#include "integration_common.hpp"

#ifdef TESTINO_FAILOVER_WITH_REAL_PLUGINS
#include "fake_sns.hpp"
#include "fake_twilio.hpp"
#endif

namespace testino::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOutboxB = "outbox_b.jsonl";

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// sms.providers: [test_sink (answering `first_fails_with`), test_sink_b].
TestConfig two_sinks(const std::string& first_fails_with) {
    TestConfig config;
    config.use_test_sink();
    config.sms.erase("provider");
    config.sms["providers"] = "[" + quoted(test_plugin("sms_test_sink.so")) + ", " +
                              quoted(test_plugin("sms_test_sink_b.so")) + "]";
    config.sms_sections["test_sink"]["fail_with"] = quoted(first_fails_with);
    config.sms_sections["test_sink_b"]["outbox"] = quoted(std::string("@TMP@/") + kOutboxB);
    return config;
}

std::vector<rapidjson::Document> outbox_b(const ServerProcess& server) {
    std::vector<rapidjson::Document> entries;
    for (const auto& line : complete_lines(read_text_file(server.temp_file(kOutboxB)))) {
        if (!line.empty()) entries.push_back(parse_json(line));
    }
    return entries;
}

// The log lines of one event for one request id.
std::vector<rapidjson::Document> events(const ServerProcess& server, const std::string& event,
                                        const std::string& request_id) {
    std::vector<rapidjson::Document> found;
    for (const auto& line : server.log_lines()) {
        rapidjson::Document doc = parse_json(line);
        if (doc.HasParseError() || !doc.IsObject()) continue;
        if (json_string(doc, "event") == event && json_string(doc, "request_id") == request_id) {
            found.push_back(std::move(doc));
        }
    }
    return found;
}

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

struct FailoverCase {
    std::string first_fails_with;
};
void PrintTo(const FailoverCase& c, std::ostream* out) { *out << c.first_fails_with; }

class SinkFailoverTest : public ::testing::TestWithParam<FailoverCase> {};

TEST_P(SinkFailoverTest, TheNextProviderSendsAndItsCodeVerifies) {
    auto server = start_server(two_sinks(GetParam().first_fails_with));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550180"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const std::string request_id = sent.header("X-Request-Id");

    const auto first = outbox_entries(*server);
    const auto second = outbox_b(*server);
    ASSERT_EQ(first.size(), 1u) << "the first provider was tried";
    ASSERT_EQ(second.size(), 1u) << "the second provider sent it";
    EXPECT_EQ(json_string(second[0], "to"), "+12025550180");
    EXPECT_EQ(json_string(first[0], "code"), json_string(second[0], "code")) << "one code, two attempts";

    // Each attempt is logged, naming its provider.
    const auto failed = events(*server, "sms.attempt_failed", request_id);
    ASSERT_EQ(failed.size(), 1u) << server->stdout_text();
    EXPECT_EQ(json_string(failed[0], "provider"), "test_sink");
    EXPECT_EQ(json_string(failed[0], "next_provider"), "test_sink_b");
    EXPECT_EQ(json_string(failed[0], "outcome"), GetParam().first_fails_with);
    EXPECT_EQ(json_int(failed[0], "attempt"), 1);
    const auto delivered = events(*server, "sms.sent", request_id);
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(json_string(delivered[0], "provider"), "test_sink_b");
    EXPECT_EQ(json_int(delivered[0], "attempt"), 2);

    const auto metrics = HttpClient(server->admin_port()).get(kMetrics);
    EXPECT_TRUE(has_line(metrics.body, R"(testino_sms_sent_total{provider="test_sink_b",country="1"} 1)"))
        << metrics.body;
    EXPECT_TRUE(
        has_line(metrics.body, "testino_sms_failed_total{provider=\"test_sink\",country=\"1\",reason=\"" +
                                   GetParam().first_fails_with + "\"} 1"));
    EXPECT_TRUE(has_line(metrics.body, R"(testino_sms_failovers_total{provider="test_sink"} 1)"));

    const auto verified =
        client.post_json(kVerifyOtp, verify_body("+1", "2025550180", json_string(second[0], "code")));
    EXPECT_EQ(verified.status, 200) << verified.body;
}

INSTANTIATE_TEST_SUITE_P(OperatorFaults, SinkFailoverTest,
                         ::testing::Values(FailoverCase{"unavailable"}, FailoverCase{"misconfigured"}),
                         [](const ::testing::TestParamInfo<FailoverCase>& info) {
                             return info.param.first_fails_with;
                         });

TEST(SinkFailover, ARefusedNumberIsTheCallersFaultAndIsNotTriedElsewhere) {
    auto server = start_server(two_sinks("invalid_recipient"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550181"));
    EXPECT_TRUE(is_api_error(response, 422, "RECIPIENT_REJECTED", "mobile_number")) << response.body;
    EXPECT_EQ(outbox_entries(*server).size(), 1u);
    EXPECT_TRUE(outbox_b(*server).empty()) << "no second provider for a caller's fault";
    EXPECT_EQ(events(*server, "sms.rejected_recipient", response.header("X-Request-Id")).size(), 1u);
}

// The first provider may have sent it: a second provider would send a second SMS.
TEST(SinkFailover, AnUncertainSendIsNotTriedElsewhereAndItsCodeVerifies) {
    auto server = start_server(two_sinks("uncertain"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550189"));
    EXPECT_TRUE(is_api_error(response, 502, "SMS_DELIVERY_UNCERTAIN")) << response.body;
    EXPECT_TRUE(outbox_b(*server).empty()) << "no second provider after an uncertain send";
    const auto last = events(*server, "sms.delivery_uncertain", response.header("X-Request-Id"));
    ASSERT_EQ(last.size(), 1u) << server->stdout_text();
    EXPECT_EQ(json_string(last[0], "outcome"), "uncertain");
    EXPECT_EQ(json_string(last[0], "provider"), "test_sink");
    HttpClient admin(server->admin_port());
    const auto metrics = admin.get("/metrics");
    EXPECT_TRUE(has_line(
        metrics.body, R"(testino_sms_failed_total{provider="test_sink",country="1",reason="uncertain"} 1)"))
        << metrics.body;
    EXPECT_EQ(metrics.body.find("testino_sms_failovers_total{"), std::string::npos);
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u);
    const auto verified =
        client.post_json(kVerifyOtp, verify_body("+1", "2025550189", json_string(outbox[0], "code")));
    EXPECT_EQ(verified.status, 200) << "the code that may have arrived is kept: " << verified.body;
}

// A provider still running at its timeout may be sending: the same rule as an uncertain answer.
TEST(SinkFailover, AProviderStillRunningAtItsTimeoutIsNotTriedElsewhere) {
    TestConfig config = two_sinks("");
    config.sms["timeout_ms"] = "400";
    config.sms_sections["test_sink"]["delay_ms"] = "5000";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550182"));
    EXPECT_TRUE(is_api_error(response, 502, "SMS_DELIVERY_UNCERTAIN")) << response.body;
    EXPECT_EQ(outbox_entries(*server).size(), 1u);
    EXPECT_TRUE(outbox_b(*server).empty());
    EXPECT_TRUE(events(*server, "sms.attempt_failed", response.header("X-Request-Id")).empty());
    EXPECT_EQ(events(*server, "sms.delivery_uncertain", response.header("X-Request-Id")).size(), 1u);
}

TEST(SinkFailover, WhenEveryProviderFailsTheClientGets502AndNoCodeIsLeft) {
    TestConfig config = two_sinks("unavailable");
    config.sms_sections["test_sink_b"]["fail_with"] = quoted("unavailable");
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550183"));
    EXPECT_TRUE(is_api_error(response, 502, "SMS_PROVIDER_UNAVAILABLE")) << response.body;
    ASSERT_EQ(outbox_b(*server).size(), 1u);
    const auto last = events(*server, "sms.provider_unavailable", response.header("X-Request-Id"));
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(json_string(last[0], "provider"), "test_sink_b");
    EXPECT_EQ(json_int(last[0], "attempt"), 2);
    const std::string code = json_string(outbox_b(*server)[0], "code");
    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550183", code)), 400,
                             "INVALID_OTP"));
}

TEST(SinkRouting, ACallingCodeWithARouteUsesOnlyItsProviders) {
    TestConfig config = two_sinks("");
    config.sms["providers"] = "[" + quoted(test_plugin("sms_test_sink.so")) + "]";
    config.sms["routes"] = "{\"44\": [" + quoted(test_plugin("sms_test_sink_b.so")) + "]}";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+44", "7400123481")).status, 200);
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550184")).status, 200);
    const auto first = outbox_entries(*server);
    const auto second = outbox_b(*server);
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(json_string(first[0], "to"), "+12025550184");
    EXPECT_EQ(json_string(second[0], "to"), "+447400123481");
    EXPECT_TRUE(server->wait_for_log(
        [](const std::string& line) {
            return line.find("\"event\":\"sms.route\"") != std::string::npos &&
                   line.find("\"calling_code\":\"44\"") != std::string::npos &&
                   line.find("\"providers\":\"test_sink_b\"") != std::string::npos;
        },
        2s))
        << "start-up logs each route";
}

// The public health status; the admin listener's details must agree with it.
std::string health_status(const ServerProcess& server, long& status) {
    const auto response = HttpClient(server.port()).get(kHealth);
    status = response.status;
    const auto details = HttpClient(server.admin_port()).get(kAdminHealth);
    EXPECT_EQ(details.status, status);
    EXPECT_EQ(json_string(parse_json(details.body), "status"),
              json_string(parse_json(response.body), "status"));
    return json_string(parse_json(response.body), "status");
}

TEST(SinkRouting, HealthIsDegradedWhileARouteStillHasAProviderUp) {
    TestConfig config = two_sinks("");
    config.sms_sections["test_sink"]["healthy"] = "false";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    long status = 0;
    EXPECT_EQ(health_status(*server, status), "degraded");
    EXPECT_EQ(status, 200);
}

TEST(SinkRouting, HealthIsDownWhenARouteHasNoProviderUp) {
    TestConfig config = two_sinks("");
    config.sms_sections["test_sink_b"]["healthy"] = "false";
    config.sms["routes"] = "{\"44\": [" + quoted(test_plugin("sms_test_sink_b.so")) + "]}";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    long status = 0;
    EXPECT_EQ(health_status(*server, status), "down") << "+44 has nobody to send";
    EXPECT_EQ(status, 503);
}

TEST(SinkRouting, AnUnknownProviderInARouteStopsStartUpNamingTheRoute) {
    TestConfig config = two_sinks("");
    config.sms["routes"] = "{\"44\": [twillio]}";
    const ProcessResult result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("sms.routes.44"), std::string::npos) << result.stderr_text;
    EXPECT_NE(result.stderr_text.find("twillio"), std::string::npos) << result.stderr_text;
    EXPECT_NE(result.stderr_text.find("(did you mean \"twilio\"?)"), std::string::npos) << result.stderr_text;
}

TEST(SinkRouting, AnUnknownProviderInTheListNamesTheList) {
    TestConfig config = two_sinks("");
    config.sms["providers"] = "[twillio]";  // one name: still the providers list
    const ProcessResult result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("sms.providers: no sms_provider plugin named \"twillio\""),
              std::string::npos)
        << result.stderr_text;
}

TEST(SinkRouting, CheckConfigPrintsEveryRoute) {
    TestConfig config = two_sinks("");
    config.sms["routes"] = "{\"+44\": [" + quoted(test_plugin("sms_test_sink_b.so")) + ", " +
                           quoted(test_plugin("sms_test_sink.so")) + "]}";
    ProcessSpec spec = config.spec();
    spec.args.push_back("--check-config");
    const ProcessResult result = ServerProcess::run_to_exit(spec);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_NE(result.stdout_text.find("# sms route, every number: test_sink -> test_sink_b\n"),
              std::string::npos)
        << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("# sms route, +44: test_sink_b -> test_sink\n"), std::string::npos)
        << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("sms.test_sink_b.outbox:"), std::string::npos)
        << "each provider's section is validated and shown";
}

#ifdef TESTINO_FAILOVER_WITH_REAL_PLUGINS

namespace sns = testino::plugins::sns::test;

const sns::FakeSnsKeys kSnsKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "us-east-1"};

// The README's example: Twilio for +1 (SNS if Twilio fails), SNS for everyone else; with the
// resend cooldown on, so a refund (or its absence) shows.
TestConfig twilio_then_sns(const FakeTwilio& twilio, const sns::FakeSns& sns) {
    TestConfig config;
    config.limits["number_cooldown_seconds"] = "30";
    config.sms.erase("provider");
    config.sms["providers"] = "[sns]";
    config.sms["routes"] = "{\"1\": [twilio, sns]}";
    config.sms["timeout_ms"] = "1500";
    config.sms_sections["twilio"] = twilio_section(twilio);
    config.sms_sections["sns"] = sns::sns_section(sns, kSnsKeys);
    config.sms_sections["sns"]["max_attempts"] = "1";
    return config;
}

class RealProvidersFailoverTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = start_server(twilio_then_sns(twilio_, sns_));
        ASSERT_TRUE(server_);
        client_ = std::make_unique<HttpClient>(server_->port());
    }
    FakeTwilio twilio_;
    sns::FakeSns sns_{kSnsKeys};
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
};

TEST_F(RealProvidersFailoverTest, PlusOneGoesThroughTwilio) {
    ASSERT_EQ(client_->post_json(kSendOtp, send_body("+1", "2025550185")).status, 200);
    ASSERT_EQ(twilio_.messages().size(), 1u);
    EXPECT_EQ(twilio_.messages()[0].field("To"), "+12025550185");
    EXPECT_EQ(sns_.request_count(), 0u);
}

TEST_F(RealProvidersFailoverTest, OtherCountriesGoThroughSnsOnly) {
    ASSERT_EQ(client_->post_json(kSendOtp, send_body("+44", "7400123485")).status, 200);
    EXPECT_EQ(twilio_.request_count(), 0u);
    const auto published = sns_.requests();
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0].rejected_with, "");
    EXPECT_EQ(published[0].params.at("PhoneNumber"), "+447400123485");
}

// Twilio throttles every attempt: it documents a 429 as never processed, so SNS may send.
TEST_F(RealProvidersFailoverTest, TwilioThrottlingFailsOverToSnsAndTheCodeVerifies) {
    twilio_.answer_next(twilio_error(20429), 10);  // every retry too
    const auto sent = client_->post_json(kSendOtp, send_body("+1", "2025550186"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(twilio_.request_count(), 3u) << "Twilio's own retries come first";
    const auto published = sns_.requests();
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0].rejected_with, "") << "SNS's own signature check passed";
    EXPECT_EQ(published[0].params.at("PhoneNumber"), "+12025550186");
    const std::string code = code_in_text(published[0].params.at("Message"));
    const auto verified = client_->post_json(kVerifyOtp, verify_body("+1", "2025550186", code));
    EXPECT_EQ(verified.status, 200) << verified.body;
    const auto failed = events(*server_, "sms.attempt_failed", sent.header("X-Request-Id"));
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(json_string(failed[0], "provider"), "twilio");
    EXPECT_EQ(json_string(failed[0], "next_provider"), "sns");
    EXPECT_EQ(json_string(failed[0], "outcome"), "unavailable");
}

// A 500 after Twilio had the whole request: the SMS may be on its way. No second provider,
// no refund (the next send-otp meets the cooldown), and the code Twilio got still verifies.
TEST_F(RealProvidersFailoverTest, ATwilio500IsUncertainNotFailedOverAndItsCodeStillVerifies) {
    twilio_.answer_next(twilio_error(20500));
    const auto sent = client_->post_json(kSendOtp, send_body("+1", "2025550190"));
    EXPECT_TRUE(is_api_error(sent, 502, "SMS_DELIVERY_UNCERTAIN")) << sent.body;
    EXPECT_NE(json_string(parse_json(sent.body), "message").find("may still arrive"), std::string::npos);
    EXPECT_EQ(twilio_.request_count(), 1u) << "not retried at Twilio either";
    EXPECT_EQ(sns_.request_count(), 0u) << "an uncertain send never fails over";

    const auto again = client_->post_json(kSendOtp, send_body("+1", "2025550190"));
    EXPECT_TRUE(is_api_error(again, 429, "RATE_LIMITED")) << "the cooldown was not refunded: " << again.body;
    EXPECT_EQ(twilio_.request_count(), 1u);

    ASSERT_EQ(twilio_.messages().size(), 1u);
    const std::string code = code_in_text(twilio_.messages()[0].field("Body"));
    const auto verified = client_->post_json(kVerifyOtp, verify_body("+1", "2025550190", code));
    EXPECT_EQ(verified.status, 200) << verified.body;
    const auto logged = events(*server_, "sms.delivery_uncertain", sent.header("X-Request-Id"));
    ASSERT_EQ(logged.size(), 1u) << server_->stdout_text();
    EXPECT_EQ(json_string(logged[0], "provider"), "twilio");
    EXPECT_EQ(json_string(logged[0], "outcome"), "uncertain");
}

// Twilio's reason (the recipient replied STOP) is for the operator: in the log, not the body.
TEST_F(RealProvidersFailoverTest, AStopReplyIsLoggedButTheClientGetsAFixedMessage) {
    twilio_.answer_next(twilio_error(21610));  // "Attempt to send to unsubscribed recipient"
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550191"));
    EXPECT_TRUE(is_api_error(response, 422, "RECIPIENT_REJECTED", "mobile_number")) << response.body;
    EXPECT_EQ(json_string(parse_json(response.body), "message"), "This number cannot receive SMS from us");
    for (const char* leak : {"21610", "STOP", "unsubscribed", "Twilio"}) {
        EXPECT_EQ(response.body.find(leak), std::string::npos)
            << leak << " reached the client: " << response.body;
    }
    EXPECT_EQ(sns_.request_count(), 0u);
    const auto rejected = events(*server_, "sms.rejected_recipient", response.header("X-Request-Id"));
    ASSERT_EQ(rejected.size(), 1u) << server_->stdout_text();
    EXPECT_NE(json_string(rejected[0], "detail").find("replied STOP"), std::string::npos)
        << json_string(rejected[0], "detail");
    const auto plugin_line = events(*server_, "sms.twilio.rejected", response.header("X-Request-Id"));
    ASSERT_EQ(plugin_line.size(), 1u);
    EXPECT_EQ(json_string(plugin_line[0], "twilio_code"), "21610");
}

TEST_F(RealProvidersFailoverTest, ANumberTwilioCallsInvalidIsNotSentThroughSns) {
    twilio_.answer_next(twilio_error(21211));  // "Invalid 'To' Phone Number"
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550187"));
    EXPECT_TRUE(is_api_error(response, 422, "RECIPIENT_REJECTED", "mobile_number")) << response.body;
    EXPECT_EQ(sns_.request_count(), 0u) << "a caller's fault never fails over";
}

TEST_F(RealProvidersFailoverTest, BadTwilioCredentialsAreAnOpsFaultAndFailOver) {
    twilio_.answer_next(twilio_error(20003));  // authentication failed
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550188"));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(sns_.request_count(), 1u);
}

// Nothing reached Twilio (its port is closed): SNS sends, and its code verifies.
TEST(RealProvidersFailover, ARefusedTwilioConnectionFailsOverToSns) {
    FakeTwilio unused;
    sns::FakeSns sns(kSnsKeys);
    TestConfig config = twilio_then_sns(unused, sns);
    config.sms_sections["twilio"]["api_base_url"] =
        quoted("http://127.0.0.1:" + std::to_string(free_loopback_port()));
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550192"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(unused.request_count(), 0u);
    const auto published = sns.requests();
    ASSERT_EQ(published.size(), 1u);
    const std::string code = code_in_text(published[0].params.at("Message"));
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550192", code)).status, 200);
    const auto failed = events(*server, "sms.attempt_failed", sent.header("X-Request-Id"));
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(json_string(failed[0], "outcome"), "unavailable");
    EXPECT_NE(json_string(failed[0], "detail").find("cannot reach Twilio"), std::string::npos);
}

#endif  // TESTINO_FAILOVER_WITH_REAL_PLUGINS

}  // namespace
}  // namespace testino::test
