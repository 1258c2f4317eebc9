// The fraud guard through the real server: a prefix whose codes are never verified is
// blocked with the 429 every limit gives, once logged; verified traffic, the safe list and
// test numbers are never blocked; shadow mode only logs and counts.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kGuard =
    "{enabled: true, prefix_digits: 6, window_seconds: 3600, min_sends: 4, min_conversion: 0.5, "
    "block_seconds: 600, safe_list: [\"+4474009\"]}";

TestConfig guarded(const std::string& guard = kGuard) {
    TestConfig config;
    config.limits["fraud_guard"] = guard;
    return config;
}

// "7400123" + two digits: +44 7400 123xx, prefix 447400.
std::string uk(int n) { return "74001234" + std::to_string(10 + n).substr(0, 2); }

long send(HttpClient& client, const std::string& number, HttpResponse* out = nullptr) {
    HttpResponse r = client.post_json(kSendOtp, send_body("+44", number));
    if (out) *out = r;
    return r.status;
}

std::size_t count_events(ServerProcess& server, const std::string& event) {
    std::size_t n = 0;
    for (const std::string& line : server.log_lines()) {
        if (line.find("\"event\":\"" + event + "\"") != std::string::npos) ++n;
    }
    return n;
}

TEST(FraudGuardTest, APrefixNobodyVerifiesIsBlockedLikeAnyLimitAndLoggedOnce) {
    auto server = start_server(guarded());
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send(client, uk(i)), 200) << i;
    HttpResponse refused;
    EXPECT_EQ(send(client, uk(3), &refused), 429) << "the fourth unverified send tips the prefix";
    EXPECT_TRUE(is_api_error(refused, 429, "RATE_LIMITED"));
    const int retry_after = std::stoi(refused.header("Retry-After"));
    EXPECT_GT(retry_after, 590);
    EXPECT_LE(retry_after, 600);
    for (int i = 4; i < 8; ++i) EXPECT_EQ(send(client, uk(i)), 429) << i;

    // The body is the one the per-number and per-address send caps give: a client cannot
    // tell the guard from them.
    TestConfig capped;
    capped.limits["number_sends_per_window"] = "1";
    auto other = start_server(capped);
    ASSERT_TRUE(other);
    HttpClient other_client(other->port());
    HttpResponse limited;
    send(other_client, "7400555501");
    ASSERT_EQ(send(other_client, "7400555501", &limited), 429);
    EXPECT_EQ(refused.body, limited.body);

    // Other prefixes still get codes; the block is logged once, counted, and no SMS went out.
    EXPECT_EQ(send(client, "7911123456"), 200);
    ASSERT_TRUE(wait_for_event(*server, "fraud_guard.blocked", 5s));
    EXPECT_EQ(count_events(*server, "fraud_guard.blocked"), 1u);
    EXPECT_NE(wait_for_event(*server, "fraud_guard.blocked", 1s)->find("\"prefix\":\"+447400\""),
              std::string::npos);
    EXPECT_EQ(console_message_count(*server, "+44" + uk(3)), 0u);
    HttpClient admin(server->admin_port());
    const std::string metrics = admin.get(kMetrics).body;
    EXPECT_NE(metrics.find(R"(testino_fraud_guard_blocks_total{country="44",mode="block"} 1)"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find(R"(testino_fraud_guard_refusals_total{country="44"} 5)"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find(R"(testino_rate_limit_refusals_total{limit="fraud_guard"} 5)"), std::string::npos);
    EXPECT_NE(metrics.find("testino_fraud_guard_conversion{country=\"44\"}"), std::string::npos);
}

TEST(FraudGuardTest, APrefixWhoseCodesAreVerifiedIsNeverBlocked) {
    auto server = start_server(guarded());
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (int i = 0; i < 12; ++i) {
        const std::string number = uk(i);
        const std::string code = send_and_read_console_code(*server, client, "+44", number, "+44" + number);
        ASSERT_EQ(code.size(), 6u) << i;
        if (i % 3 != 2) {  // two in three verified: above min_conversion 0.5
            EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+44", number, code)).status, 200) << i;
        }
    }
    EXPECT_EQ(count_events(*server, "fraud_guard.blocked"), 0u);
}

TEST(FraudGuardTest, TheSafeListAndTestNumbersAreNeverBlocked) {
    TestConfig config = guarded();
    config.extra_yaml =
        "test_numbers:\n  - {number: \"+447400999999\", code: \"123456\", expires: 2099-12-31}\n";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(send(client, "74009000" + std::to_string(10 + i)), 200) << "safe list +4474009, " << i;
    }
    for (int i = 0; i < 5; ++i) EXPECT_EQ(send(client, uk(i)), i < 3 ? 200 : 429) << i;
    EXPECT_EQ(send(client, "7400999999"), 200) << "a test number of the blocked prefix";
}

TEST(FraudGuardTest, ShadowModeLogsAndCountsButRefusesNothing) {
    auto server =
        start_server(guarded("{enabled: true, prefix_digits: 6, min_sends: 4, min_conversion: 0.5, "
                             "block_seconds: 600, shadow: true}"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (int i = 0; i < 8; ++i) EXPECT_EQ(send(client, uk(i)), 200) << i;
    ASSERT_TRUE(wait_for_event(*server, "fraud_guard.would_block", 5s));
    EXPECT_EQ(count_events(*server, "fraud_guard.would_block"), 1u);
    EXPECT_EQ(count_events(*server, "fraud_guard.blocked"), 0u);
    HttpClient admin(server->admin_port());
    EXPECT_NE(
        admin.get(kMetrics).body.find(R"(testino_fraud_guard_blocks_total{country="44",mode="shadow"} 1)"),
        std::string::npos);
}

// Refused attempts count as unverified sends: when a block ends during the attack, the first
// send finds the prefix still failing and blocks it again, instead of min_sends more going out.
TEST(FraudGuardTest, ABlockThatEndsWhileTheAttackGoesOnIsPlacedAgainAtOnce) {
    auto server = start_server(
        guarded("{enabled: true, prefix_digits: 6, min_sends: 4, min_conversion: 0.5, block_seconds: 1}"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send(client, uk(i)), 200) << i;
    for (int i = 3; i < 6; ++i) EXPECT_EQ(send(client, uk(i)), 429) << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_EQ(send(client, uk(6)), 429) << "the block ended, the attack did not";
    EXPECT_EQ(count_events(*server, "fraud_guard.blocked"), 2u);
}

TEST(FraudGuardTest, BadThresholdsStopStartUp) {
    EXPECT_TRUE(fails_to_start(run(guarded("{enabled: true, min_conversion: 1.5}").yaml()),
                               {"limits.fraud_guard.min_conversion", "from 0 to 1"}));
    EXPECT_TRUE(fails_to_start(run(guarded("{enabled: true, min_conversion: lots}").yaml()),
                               {"limits.fraud_guard.min_conversion"}));
    EXPECT_TRUE(fails_to_start(run(guarded("{enabled: true, safe_list: [\"+44 74\"]}").yaml()),
                               {"limits.fraud_guard.safe_list", "E.164"}));
    EXPECT_TRUE(fails_to_start(run(guarded("{enabled: true, min_send: 3}").yaml()),
                               {"limits.fraud_guard.min_send", "did you mean \"min_sends\""}));
}

}  // namespace
}  // namespace testino::test
