// The real testino-server with `sms.provider: twilio` pointed at the fake Twilio: a code
// sent through Twilio verifies, and each Twilio failure reaches the client as its API error,
// with the code left unusable when Twilio certainly did not send it, and valid when it may have.
#include <regex>

#include "fake_twilio.hpp"
#include "integration_common.hpp"

namespace testino::test {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

TestConfig twilio_config(const FakeTwilio& fake) {
    TestConfig config;
    config.sms["provider"] = "twilio";
    config.sms["timeout_ms"] = "1500";
    config.sms_sections["twilio"] = twilio_section(fake);
    return config;
}

// The code in the Body of the latest message the fake accepted for a number.
std::string code_sent_to(const FakeTwilio& fake, const std::string& e164) {
    std::string code;
    for (const auto& message : fake.messages()) {
        if (message.field("To") == e164) code = code_in_text(message.field("Body"));
    }
    return code;
}

// The state the admin listener's health details report for the twilio plugin ("" if absent).
std::string twilio_health_state(const HttpResponse& health) {
    const auto doc = parse_json(health.body);
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("plugins")) return "";
    for (const auto& plugin : doc["plugins"].GetArray()) {
        if (json_string(plugin, "name") == "twilio") return json_string(plugin, "state");
    }
    return "";
}

// One fake Twilio and one server for the suite; tests use their own numbers.
class TwilioEndToEndTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        fake_ = new FakeTwilio();
        server_ = start_server(twilio_config(*fake_)).release();
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
        delete fake_;
        fake_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(server_, nullptr) << "the suite's server did not start";
        client_ = std::make_unique<HttpClient>(server_->port());
    }
    void TearDown() override {
        // Neither the code nor the token ever reaches the server's log.
        for (const auto& message : fake_->messages()) {
            const std::string code = code_in_text(message.field("Body"));
            EXPECT_EQ(server_->stdout_text().find(message.field("Body")), std::string::npos);
            EXPECT_EQ(server_->stdout_text().find("\"" + code + "\""), std::string::npos) << code;
        }
        EXPECT_EQ(server_->stdout_text().find(kFakeAuthToken), std::string::npos);
        EXPECT_EQ(server_->stderr_text().find(kFakeAuthToken), std::string::npos);
    }

    // send-otp, expecting the given failure, then proves the code Twilio was handed is dead.
    void expect_failed_send_leaves_no_code(const std::string& number, long status, const std::string& error,
                                           const std::optional<std::string>& field = std::nullopt) {
        const auto response = client_->post_json(kSendOtp, send_body("+1", number));
        EXPECT_TRUE(is_api_error(response, status, error, field)) << response.body;
        const std::string code = code_sent_to(*fake_, "+1" + number);
        ASSERT_FALSE(code.empty()) << "the fake should have received the message";
        EXPECT_TRUE(is_api_error(client_->post_json(kVerifyOtp, verify_body("+1", number, code)), 400,
                                 "INVALID_OTP"));
    }

    // send-otp, expecting SMS_DELIVERY_UNCERTAIN, then proves the code Twilio was handed works.
    void expect_uncertain_send_keeps_its_code(const std::string& number) {
        const auto response = client_->post_json(kSendOtp, send_body("+1", number));
        EXPECT_TRUE(is_api_error(response, 502, "SMS_DELIVERY_UNCERTAIN")) << response.body;
        const std::string code = code_sent_to(*fake_, "+1" + number);
        ASSERT_FALSE(code.empty()) << "the fake should have received the message";
        EXPECT_EQ(client_->post_json(kVerifyOtp, verify_body("+1", number, code)).status, 200);
    }

    static inline FakeTwilio* fake_ = nullptr;
    static inline ServerProcess* server_ = nullptr;
    std::unique_ptr<HttpClient> client_;
};

TEST_F(TwilioEndToEndTest, ACodeSentThroughTwilioVerifies) {
    const auto sent = client_->post_json(kSendOtp, send_body("+1", "2025550150"));
    ASSERT_EQ(sent.status, 200) << sent.body;

    const std::string code = code_sent_to(*fake_, "+12025550150");
    ASSERT_EQ(code.size(), 6u);
    const auto messages = fake_->messages();
    EXPECT_EQ(messages.back().field("From"), kFakeFrom);
    EXPECT_EQ(messages.back().field("Body"), "Your Testino code is " + code + ". It expires in 5 minutes.");
    const auto line = wait_for_event(*server_, "sms.twilio.sent", 5s);
    ASSERT_TRUE(line);
    EXPECT_TRUE(std::regex_search(*line, std::regex(R"("sid":"SM[0-9a-f]{32}")"))) << *line;

    const auto verified = client_->post_json(kVerifyOtp, verify_body("+1", "2025550150", code));
    ASSERT_EQ(verified.status, 200) << verified.body;
    EXPECT_FALSE(json_string(parse_json(verified.body), "access_token").empty());
}

TEST_F(TwilioEndToEndTest, AnInvalidNumberIs422RecipientRejectedWithTheReasonInTheLogOnly) {
    fake_->answer_next(twilio_error(21211));
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550151"));
    EXPECT_TRUE(is_api_error(response, 422, "RECIPIENT_REJECTED", "mobile_number"));
    EXPECT_EQ(json_string(parse_json(response.body), "message"), "This number cannot receive SMS from us");
    EXPECT_EQ(response.body.find("not a valid phone number"), std::string::npos) << response.body;
    const auto rejected = wait_for_event(*server_, "sms.rejected_recipient", 5s);
    ASSERT_TRUE(rejected);
    EXPECT_NE(rejected->find("not a valid phone number"), std::string::npos) << *rejected;
    EXPECT_TRUE(wait_for_event(*server_, "sms.twilio.rejected", 5s));

    fake_->answer_next(twilio_error(21610));
    expect_failed_send_leaves_no_code("2025550152", 422, "RECIPIENT_REJECTED", "mobile_number");
}

TEST_F(TwilioEndToEndTest, PersistentThrottlingIsRetriedThen502Unavailable) {
    const auto before = fake_->request_count();
    fake_->answer_next(twilio_error(20429), 3);
    expect_failed_send_leaves_no_code("2025550153", 502, "SMS_PROVIDER_UNAVAILABLE");
    EXPECT_EQ(fake_->request_count() - before, 3u) << "max_attempts (3) in all";
    EXPECT_TRUE(wait_for_event(*server_, "sms.twilio.retry", 5s));
}

TEST_F(TwilioEndToEndTest, ATwilioOutageIs502UncertainOnceAndItsCodeStillVerifies) {
    const auto before = fake_->request_count();
    fake_->answer_next(twilio_error(20503));
    expect_uncertain_send_keeps_its_code("2025550158");
    EXPECT_EQ(fake_->request_count() - before, 1u) << "a 503 may follow a send: not retried";
}

TEST_F(TwilioEndToEndTest, ASlowTwilioIs502UncertainAtTheDeadline) {
    fake_->answer_next({201, 0, "", 2500ms});
    expect_uncertain_send_keeps_its_code("2025550154");
}

TEST_F(TwilioEndToEndTest, RejectedCredentialsAre502ProviderErrorAndHealthDownUntilASendWorks) {
    fake_->answer_next(twilio_error(20003));
    expect_failed_send_leaves_no_code("2025550155", 502, "SMS_PROVIDER_ERROR");
    const auto line = wait_for_event(*server_, "sms.twilio.auth_failed", 5s);
    ASSERT_TRUE(line);
    EXPECT_NE(line->find(R"("level":"error")"), std::string::npos) << *line;
    EXPECT_NE(line->find(R"("twilio_code":"20003")"), std::string::npos) << *line;

    HttpClient admin(server_->admin_port());
    const auto unhealthy = admin.get(kAdminHealth);
    EXPECT_EQ(unhealthy.status, 503) << unhealthy.body;
    EXPECT_EQ(twilio_health_state(unhealthy), "down") << unhealthy.body;

    ASSERT_EQ(client_->post_json(kSendOtp, send_body("+1", "2025550156")).status, 200);
    const auto healthy = admin.get(kAdminHealth);
    EXPECT_EQ(healthy.status, 200) << healthy.body;
    EXPECT_EQ(twilio_health_state(healthy), "up") << healthy.body;
}

// The seed's environment variables beat the file; --check-config masks the token.
TEST(TwilioServerConfigTest, EnvironmentCredentialsOverrideTheFileAndTheTokenIsMasked) {
    FakeTwilio fake;
    TestConfig config = twilio_config(fake);
    config.sms_sections["twilio"]["account_sid"] = quoted("AC00000000000000000000000000000000");
    config.sms_sections["twilio"]["auth_token"] = quoted("ffffffffffffffffffffffffffffffff");
    config.sms_sections["twilio"]["from"] = quoted("+15005550001");
    const std::map<std::string, std::string> env{{"TWILIO_ACCOUNT_SID", kFakeAccountSid},
                                                 {"TWILIO_AUTH_TOKEN", kFakeAuthToken},
                                                 {"TWILIO_PHONE_NUMBER", kFakeFrom}};

    ProcessSpec check = config.spec(env);
    check.args.push_back("--check-config");
    const auto checked = ServerProcess::run_to_exit(check);
    EXPECT_EQ(checked.exit_code, 0) << checked.stderr_text;
    EXPECT_EQ(checked.stdout_text.find(kFakeAuthToken), std::string::npos) << checked.stdout_text;
    EXPECT_NE(checked.stdout_text.find("***"), std::string::npos) << checked.stdout_text;

    auto server = start_server(config, env);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550157")).status, 200);
    const auto messages = fake.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].field("From"), kFakeFrom);
    EXPECT_TRUE(fake.rejections().empty());
}

TEST(TwilioServerConfigTest, AMalformedAccountSidStopsStartUpNamingTheKey) {
    FakeTwilio fake;
    TestConfig config = twilio_config(fake);
    config.sms_sections["twilio"]["account_sid"] = quoted("AC-not-a-sid");
    const auto result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("sms.twilio.account_sid"), std::string::npos) << result.stderr_text;
    EXPECT_EQ(result.stderr_text.find(kFakeAuthToken), std::string::npos);
    EXPECT_EQ(fake.request_count(), 0u);
}

}  // namespace
}  // namespace testino::test
