// Issue 21 through the real server: nobody can lock out another person's number, codes are
// bound to the flow that asked for them, and the closed defaults refuse to start.
#include "integration_common.hpp"

namespace testino::test {
namespace {

using Headers = std::vector<std::string>;

// Requests arrive "from" an address: 127.0.0.1 is a trusted proxy in these servers.
Headers from(const std::string& address) { return {"X-Forwarded-For: " + address}; }

std::string verify_with_id(const std::string& number, const std::string& otp, const std::string& id) {
    return "{\"country_code\":\"+1\",\"mobile_number\":\"" + number + "\",\"otp\":\"" + otp +
           "\",\"verification_id\":\"" + id + "\"}";
}

TestConfig default_limits() {
    TestConfig config;
    config.limits.clear();  // the documented defaults
    config.limits["trusted_proxies"] = "[\"127.0.0.1\"]";
    return config;
}

TEST(SecurityTest, VerifiesForANumberWithNoCodeDoNotLockItsOwnerOut) {
    // The reproduction on the default limits: ten wrong verifies for a number that
    // has no pending code, then its owner asks for a code and enters it.
    auto server = start_server(default_limits());
    HttpClient client(server->port());
    for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(is_api_error(
            client.post_json(kVerifyOtp, verify_body("+1", "2025550123", "123456"), from("198.51.100.66")),
            400, "INVALID_OTP"))
            << i;
    }
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550123", "+12025550123");
    const HttpResponse login =
        client.post_json(kVerifyOtp, verify_body("+1", "2025550123", code), from("203.0.113.7"));
    EXPECT_EQ(login.status, 200) << login.body;
}

TEST(SecurityTest, AStrangersWrongGuessesDoNotLockTheOwnerOut) {
    TestConfig config = default_limits();
    config.otp["max_attempts"] = "20";  // so the number's own code outlives the stranger's cap
    auto server = start_server(config);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550123", "+12025550123");
    const std::string wrong = code == "000000" ? "111111" : "000000";
    for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(is_api_error(
            client.post_json(kVerifyOtp, verify_body("+1", "2025550123", wrong), from("198.51.100.66")), 400,
            "INVALID_OTP"));
    }
    const HttpResponse capped =
        client.post_json(kVerifyOtp, verify_body("+1", "2025550123", wrong), from("198.51.100.66"));
    EXPECT_TRUE(is_api_error(capped, 429, "RATE_LIMITED")) << "the stranger's address is capped";
    const HttpResponse owner =
        client.post_json(kVerifyOtp, verify_body("+1", "2025550123", code), from("203.0.113.7"));
    EXPECT_EQ(owner.status, 200) << owner.body;
}

TEST(SecurityTest, SendReturnsAVerificationIdThatVerifyCanBeMadeToRequire) {
    TestConfig config;
    config.otp["require_verification_id"] = "true";
    auto server = start_server(config);
    HttpClient client(server->port());
    const HttpResponse sent = client.post_json(kSendOtp, send_body("+1", "2025550123"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto body = parse_json(sent.body);
    const std::string id = json_string(body, "verification_id");
    EXPECT_EQ(id.size(), 22u) << sent.body;
    const auto code = console_code(*server, "+12025550123");
    ASSERT_TRUE(code);

    const HttpResponse missing = client.post_json(kVerifyOtp, verify_body("+1", "2025550123", *code));
    EXPECT_TRUE(is_api_error(missing, 422, "VALIDATION_ERROR"));
    EXPECT_EQ(json_string(parse_json(missing.body), "field"), "verification_id");
    const HttpResponse malformed = client.post_json(kVerifyOtp, verify_with_id("2025550123", *code, "short"));
    EXPECT_TRUE(is_api_error(malformed, 422, "VALIDATION_ERROR"));
    EXPECT_EQ(json_string(parse_json(malformed.body), "field"), "verification_id");
    const HttpResponse login = client.post_json(kVerifyOtp, verify_with_id("2025550123", *code, id));
    EXPECT_EQ(login.status, 200) << login.body;
}

TEST(SecurityTest, VoipNumbersAreRefusedByDefault) {
    auto server = start_server(TestConfig{});
    HttpClient client(server->port());
    const HttpResponse refused = client.post_json(kSendOtp, send_body("+44", "5612345678"));
    EXPECT_TRUE(is_api_error(refused, 422, "VALIDATION_ERROR"));
    EXPECT_NE(refused.body.find("VOIP"), std::string::npos) << refused.body;
    TestConfig allowing;
    allowing.otp["allow_voip_numbers"] = "true";
    auto open = start_server(allowing);
    HttpClient open_client(open->port());
    EXPECT_EQ(open_client.post_json(kSendOtp, send_body("+44", "5612345678")).status, 200);
}

TEST(SecurityTest, NoSmsProviderRefusesToStart) {
    TestConfig config;
    config.sms.erase("provider");
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"sms.provider: no SMS provider is configured"}));
    EXPECT_TRUE(fails_to_start(run(config.yaml(), {}, {{"DEBUG", "true"}}), {"sms.provider"}))
        << "not even in debug: the console provider is chosen by name or not at all";
}

TEST(SecurityTest, CodesWeakerThanNistNeedTheirOwnSwitch) {
    TestConfig config;
    config.otp["length"] = "5";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.length", "otp.allow_weaker_than_nist"}));
    config.otp["length"] = "6";
    config.otp["expiry_seconds"] = "900";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.expiry_seconds", "longer than 10 minutes"}));
    config.otp["allow_weaker_than_nist"] = "true";
    auto server = start_server(config);
    EXPECT_TRUE(wait_for_event(*server, "config.weaker_than_nist", 5s)) << "said at every start";
}

}  // namespace
}  // namespace testino::test
