// The abuse limits over HTTP: each limit, trusted proxies, the country allowlist, the
// budget breaker, test numbers and the same-body rule, on the memory store.
#include "integration_common.hpp"

namespace testino::test {
namespace {

using Headers = std::vector<std::string>;  // "Name: value"

HttpResponse send(HttpClient& client, const std::string& number, const Headers& headers = {},
                  const std::string& cc = "+1") {
    return client.post_json(kSendOtp, send_body(cc, number), headers);
}

// Every limit off, then the ones a test names on.
TestConfig with_limits(std::map<std::string, std::string> limits) {
    TestConfig config;
    for (auto& [key, value] : limits) config.limits[key] = value;
    return config;
}

TEST(LimitsTest, ResendCooldownAnswers429WithRetryAfter) {
    auto server = start_server(with_limits({{"number_cooldown_seconds", "30"}}));
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550123").status, 200);
    const HttpResponse again = send(client, "2025550123");
    EXPECT_TRUE(is_api_error(again, 429, "RATE_LIMITED"));
    const int retry = std::stoi(again.header("Retry-After"));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 30);
    EXPECT_EQ(send(client, "2025550124").status, 200);
}

TEST(LimitsTest, PerNumberSendCapAndFailedVerifyCap) {
    auto server = start_server(
        with_limits({{"number_sends_per_window", "2"}, {"number_failed_verifies_per_window", "2"}}));
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550123", "+12025550123");
    EXPECT_EQ(send(client, "2025550123").status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550123"), 429, "RATE_LIMITED"));
    for (int i = 0; i < 2; ++i) {
        EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550123", "000000")), 400,
                                 "INVALID_OTP"));
    }
    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550123", "000000")), 429,
                             "RATE_LIMITED"));
    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550123", code)), 429,
                             "RATE_LIMITED"))
        << "once the number's failures are spent, even a right code waits";
}

TEST(LimitsTest, PerIpCapsCountTheSocketPeerAndIgnoreSpoofedForwardedFor) {
    auto server = start_server(with_limits({{"ip_sends_per_window", "2"}}));
    HttpClient client(server->port());
    // 127.0.0.1 is no trusted proxy here: whatever X-Forwarded-For says, the peer is counted.
    EXPECT_EQ(send(client, "2025550121", {"X-Forwarded-For: 203.0.113.1"}).status, 200);
    EXPECT_EQ(send(client, "2025550122", {"X-Forwarded-For: 203.0.113.2"}).status, 200);
    EXPECT_TRUE(
        is_api_error(send(client, "2025550123", {"X-Forwarded-For: 203.0.113.3"}), 429, "RATE_LIMITED"));
}

TEST(LimitsTest, TrustedProxyForwardedForIsReadFromTheRight) {
    auto server = start_server(
        with_limits({{"ip_sends_per_window", "1"}, {"trusted_proxies", "[\"127.0.0.1\", \"10.0.0.0/8\"]"}}));
    HttpClient client(server->port());
    // The client is the first untrusted hop from the right: 198.51.100.7, not the spoofed 1.2.3.4.
    const Headers chain{"X-Forwarded-For: 1.2.3.4, 198.51.100.7, 10.1.2.3"};
    EXPECT_EQ(send(client, "2025550121", chain).status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550122", {"X-Forwarded-For: 9.9.9.9, 198.51.100.7"}), 429,
                             "RATE_LIMITED"))
        << "the same client behind the proxy, whatever it prepends";
    EXPECT_EQ(send(client, "2025550123", {"X-Forwarded-For: 198.51.100.8"}).status, 200)
        << "another client has its own cap";
    EXPECT_TRUE(server->wait_for_log(
        [](const std::string& line) {
            return line.find("\"client_ip\":\"198.51.100.8\"") != std::string::npos;
        },
        5s));
}

TEST(LimitsTest, CountryAllowlistRefusesOtherCountriesWith403) {
    auto server = start_server(with_limits({{"country_allowlist", "[\"44\"]"}}));
    HttpClient client(server->port());
    EXPECT_TRUE(is_api_error(send(client, "2025550123"), 403, "COUNTRY_NOT_ALLOWED"));
    EXPECT_EQ(send(client, "7400123456", {}, "+44").status, 200);
}

TEST(LimitsTest, PerCountryCap) {
    auto server = start_server(with_limits({{"country_sends_per_window", "1"}}));
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550121").status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550122"), 429, "RATE_LIMITED"));
    EXPECT_EQ(send(client, "7400123456", {}, "+44").status, 200);
}

TEST(LimitsTest, BudgetBreakerAnswers503AndLogsAnError) {
    auto server = start_server(with_limits({{"budget_sends_per_hour", "2"}}));
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550121").status, 200);
    EXPECT_EQ(send(client, "2025550122").status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550123"), 503, "SEND_BUDGET_EXHAUSTED"));
    EXPECT_TRUE(wait_for_event(*server, "sms.budget_exhausted", 5s));
}

TEST(LimitsTest, RefusalBodiesDoNotRevealPendingCodes) {
    auto server = start_server(with_limits({{"ip_sends_per_window", "1"}}));
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550121").status, 200);
    const HttpResponse with_code = send(client, "2025550121");
    const HttpResponse without = send(client, "2025550199");
    EXPECT_EQ(with_code.status, without.status);
    EXPECT_EQ(with_code.body, without.body);
}

TEST(LimitsTest, TestNumbersSendNoSmsVerifyTheirFixedCodeAndAreStillLimited) {
    TestConfig config = with_limits({{"number_sends_per_window", "2"}});
    config.extra_yaml =
        "test_numbers:\n  - {number: \"+1 202 555 0100\", code: \"424242\", expires: \"2099-12-31\"}\n";
    auto server = start_server(config);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550100").status, 200);
    EXPECT_TRUE(wait_for_event(*server, "sms.skipped_test_number", 5s));
    // Said at every start, with only the number's last digits.
    const auto warning = wait_for_event(*server, "config.test_number_active", 5s);
    ASSERT_TRUE(warning) << server->stdout_text();
    EXPECT_NE(warning->find("\"level\":\"warn\""), std::string::npos) << *warning;
    EXPECT_NE(warning->find("\"number_ending\":\"0100\""), std::string::npos) << *warning;
    EXPECT_NE(warning->find("\"expires\":\"2099-12-31\""), std::string::npos) << *warning;
    EXPECT_EQ(warning->find("2025550100"), std::string::npos) << "not the whole number: " << *warning;
    EXPECT_EQ(console_message_count(*server, "+12025550100"), 0u) << "no SMS for a test number";
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550100", "424242")).status, 200);
    EXPECT_EQ(send(client, "2025550100").status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550100"), 429, "RATE_LIMITED"));
}

TEST(LimitsTest, ExpiredTestNumberIsAnOrdinaryNumber) {
    TestConfig config;
    config.extra_yaml =
        "test_numbers:\n  - {number: \"+12025550100\", code: \"424242\", expires: \"2020-01-01\"}\n";
    auto server = start_server(config);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550100").status, 200);
    EXPECT_TRUE(console_code(*server, "+12025550100").has_value()) << "an SMS went out";
    EXPECT_TRUE(wait_for_event(*server, "config.test_number_expired", 5s)) << "ops are told to remove it";
}

TEST(LimitsTest, DefaultsAreOn) {
    TestConfig config;
    config.limits.clear();  // the documented defaults: cooldown 30 s
    auto server = start_server(config);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550123").status, 200);
    EXPECT_TRUE(is_api_error(send(client, "2025550123"), 429, "RATE_LIMITED"));
}

}  // namespace
}  // namespace testino::test
