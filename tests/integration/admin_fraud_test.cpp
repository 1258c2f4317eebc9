// The fraud guard's admin API on the admin listener (limits.fraud_guard.admin_api):
// GET /fraud-guard/blocks and DELETE /fraud-guard/blocks/<prefix>, behind the bearer token
// server.admin_token. Start-up refuses the routes without a token or without the listener;
// the token never shows in a log or in --check-config.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kBlocks = "/fraud-guard/blocks";
constexpr const char* kAdminToken = "admin-token-0123456789abcdef-0123456789abcdef";
constexpr const char* kWrongToken = "wrong-token-0123456789abcdef-0123456789abcdef";
constexpr const char* kAuthenticate = "Bearer realm=\"testino-admin\"";
// The guard of the list/lift tests: three unverified sends to a prefix are enough to block it.
constexpr const char* kGuard =
    "{enabled: true, prefix_digits: 6, min_sends: 3, min_conversion: 0.5, window_seconds: 3600, "
    "block_seconds: 600, admin_api: true}";

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }

TestConfig with_admin_api(const std::string& guard = "{admin_api: true}") {
    TestConfig config;
    config.limits["fraud_guard"] = guard;
    config.server["admin_token"] = "\"" + std::string(kAdminToken) + "\"";
    return config;
}

// +44 7400 1234xx: prefix 447400.
std::string uk(int n) { return "74001234" + std::to_string(10 + n); }

// --- start-up ---------------------------------------------------------------------------

TEST(AdminFraudConfigTest, TheRoutesWithoutATokenStopStartUpNamingTheKeys) {
    TestConfig config;
    config.limits["fraud_guard"] = "{admin_api: true}";
    EXPECT_TRUE(fails_to_start(run(config.yaml()),
                               {"limits.fraud_guard.admin_api", "server.admin_token", "ADMIN_TOKEN"}));
    EXPECT_TRUE(fails_to_start(run(config.yaml(), {"--check-config"}),
                               {"limits.fraud_guard.admin_api", "server.admin_token"}));
}

TEST(AdminFraudConfigTest, TheRoutesWithoutTheAdminListenerStopStartUp) {
    TestConfig config = with_admin_api();
    config.server["admin_port"] = "0";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"limits.fraud_guard.admin_api", "server.admin_port"}));
}

TEST(AdminFraudConfigTest, AShortTokenStopsStartUpWithoutShowingIt) {
    TestConfig config = with_admin_api();
    config.server.erase("admin_token");
    const std::string short_token = "too-short-token-1234";
    const auto result = run(config.yaml(), {}, {{"ADMIN_TOKEN", short_token}});
    EXPECT_TRUE(fails_to_start(result, {"ADMIN_TOKEN", "32 bytes"}));
    EXPECT_EQ(result.stderr_text.find(short_token), std::string::npos) << result.stderr_text;
}

TEST(AdminFraudConfigTest, ATokenABearerHeaderCannotCarryStopsStartUp) {
    TestConfig config;
    config.server["admin_token"] = "\"admin token with spaces 0123456789abcdef\"";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"server.admin_token"}));
}

TEST(AdminFraudConfigTest, CheckConfigMasksTheToken) {
    const auto from_file = run(with_admin_api().yaml(), {"--check-config"});
    EXPECT_EQ(from_file.exit_code, 0) << from_file.stderr_text;
    EXPECT_NE(from_file.stdout_text.find("server.admin_token: \"***\""), std::string::npos)
        << from_file.stdout_text;
    TestConfig config = with_admin_api();
    config.server.erase("admin_token");
    const auto from_env = run(config.yaml(), {"--check-config"}, {{"ADMIN_TOKEN", kAdminToken}});
    EXPECT_EQ(from_env.exit_code, 0) << from_env.stderr_text;
    EXPECT_NE(from_env.stdout_text.find("server.admin_token: \"***\""), std::string::npos)
        << from_env.stdout_text;
    for (const auto* result : {&from_file, &from_env}) {
        EXPECT_EQ(result->stdout_text.find(kAdminToken), std::string::npos) << "token on stdout";
        EXPECT_EQ(result->stderr_text.find(kAdminToken), std::string::npos) << "token on stderr";
    }
}

// --- the routes, against a server whose token comes from the environment ---------------

class AdminFraudTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestConfig config = with_admin_api();
        config.server.erase("admin_token");
        server_ = start_server(config, {{"ADMIN_TOKEN", kAdminToken}}).release();
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(server_, nullptr) << "the suite's server did not start";
        ASSERT_NE(server_->admin_port(), 0);
        admin_ = std::make_unique<HttpClient>(server_->admin_port());
    }

    static inline ServerProcess* server_ = nullptr;
    std::unique_ptr<HttpClient> admin_;
};

TEST_F(AdminFraudTest, NoTokenIsRefusedWithAChallenge) {
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", kBlocks}, {"DELETE", std::string(kBlocks) + "/447400"}}) {
        const auto response = admin_->request(method, path);
        EXPECT_TRUE(is_api_error(response, 401, "UNAUTHORIZED")) << method << " " << path;
        EXPECT_EQ(response.header("WWW-Authenticate"), kAuthenticate) << method << " " << path;
        EXPECT_EQ(response.header("Cache-Control"), "no-store");
    }
}

TEST_F(AdminFraudTest, AWrongTokenIsRefusedTheSameWay) {
    const std::vector<std::string> wrong = {
        bearer(kWrongToken),
        bearer(std::string(kAdminToken) + "x"),              // longer
        bearer(std::string(kAdminToken).substr(0, 40)),      // a prefix of it
        bearer(""),                                          // no token
        "Authorization: Basic " + std::string(kAdminToken),  // another scheme
        "Authorization: " + std::string(kAdminToken),        // no scheme
    };
    for (const std::string& header : wrong) {
        const auto response = admin_->get(kBlocks, {header});
        EXPECT_TRUE(is_api_error(response, 401, "UNAUTHORIZED")) << header;
        EXPECT_EQ(response.header("WWW-Authenticate"), kAuthenticate) << header;
    }
    const auto lift = admin_->request("DELETE", std::string(kBlocks) + "/447400", "", {bearer(kWrongToken)});
    EXPECT_TRUE(is_api_error(lift, 401, "UNAUTHORIZED"));
}

TEST_F(AdminFraudTest, TheRightTokenListsTheBlocks) {
    for (const std::string& header :
         {bearer(kAdminToken), "Authorization: bearer " + std::string(kAdminToken)}) {
        const auto response = admin_->get(kBlocks, {header});
        ASSERT_EQ(response.status, 200) << response.body;
        EXPECT_EQ(response.header("Cache-Control"), "no-store");
        const auto body = parse_json(response.body);
        ASSERT_TRUE(body.IsObject() && body.HasMember("blocks") && body["blocks"].IsArray()) << response.body;
        for (const auto& block : body["blocks"].GetArray()) {
            EXPECT_TRUE(block["prefix"].IsString() && block["remaining_seconds"].IsInt64() &&
                        block["shadow"].IsBool())
                << response.body;
        }
    }
}

TEST_F(AdminFraudTest, LiftingAPrefixWithNoBlockIs404) {
    const auto response =
        admin_->request("DELETE", std::string(kBlocks) + "/449999", "", {bearer(kAdminToken)});
    EXPECT_TRUE(is_api_error(response, 404, "NOT_FOUND")) << response.body;
}

TEST_F(AdminFraudTest, APrefixThatIsNotDigitsIsAValidationError) {
    for (const std::string prefix : {"", "44x", "+447400", "4474001234567890", "44/00"}) {
        const auto response =
            admin_->request("DELETE", std::string(kBlocks) + "/" + prefix, "", {bearer(kAdminToken)});
        EXPECT_TRUE(is_api_error(response, 422, "VALIDATION_ERROR", std::string("prefix"))) << prefix;
    }
}

TEST_F(AdminFraudTest, AWrongMethodIs405) {
    const auto post =
        admin_->request("POST", kBlocks, "{}", {"Content-Type: application/json", bearer(kAdminToken)});
    EXPECT_TRUE(is_api_error(post, 405, "METHOD_NOT_ALLOWED"));
    EXPECT_EQ(post.header("Allow"), "GET");
    const auto get_one = admin_->get(std::string(kBlocks) + "/447400", {bearer(kAdminToken)});
    EXPECT_TRUE(is_api_error(get_one, 405, "METHOD_NOT_ALLOWED"));
    EXPECT_EQ(get_one.header("Allow"), "DELETE");
    EXPECT_TRUE(is_api_error(admin_->request("DELETE", kBlocks, "", {bearer(kAdminToken)}), 405,
                             "METHOD_NOT_ALLOWED"));
}

TEST_F(AdminFraudTest, ThePublicListenerDoesNotServeThem) {
    HttpClient client(server_->port());
    EXPECT_TRUE(is_api_error(client.get(kBlocks, {bearer(kAdminToken)}), 404, "NOT_FOUND"));
    EXPECT_TRUE(
        is_api_error(client.request("DELETE", std::string(kBlocks) + "/447400", "", {bearer(kAdminToken)}),
                     404, "NOT_FOUND"));
}

TEST_F(AdminFraudTest, TheTokenNeverShowsInTheLogs) {
    ASSERT_EQ(admin_->get(kBlocks, {bearer(kAdminToken), "X-Request-Id: token-probe-ok"}).status, 200);
    ASSERT_EQ(admin_->get(kBlocks, {bearer(kWrongToken), "X-Request-Id: token-probe-wrong"}).status, 401);
    admin_->request("DELETE", std::string(kBlocks) + "/447400", "", {bearer(kAdminToken)});
    // The failed attempt is logged, with who made it.
    const auto refused =
        wait_for_event_where(*server_, "admin.unauthorized", "request_id", "token-probe-wrong");
    ASSERT_TRUE(refused) << server_->stdout_text();
    EXPECT_EQ(json_string(parse_json(*refused), "client_ip"), "127.0.0.1");
    ASSERT_TRUE(wait_for_event_where(*server_, "http.access", "request_id", "token-probe-ok"));
    for (const std::string& secret : {std::string(kAdminToken), std::string(kWrongToken)}) {
        EXPECT_EQ(server_->stdout_text().find(secret), std::string::npos) << "a token on stdout";
        EXPECT_EQ(server_->stderr_text().find(secret), std::string::npos) << "a token on stderr";
    }
}

TEST(AdminFraudOffTest, WithoutAdminApiTheRoutesAre404LikeAnyUnknownPath) {
    TestConfig config;
    config.server["admin_token"] =
        "\"" + std::string(kAdminToken) + "\"";  // a token alone switches nothing on
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient admin(server->admin_port());
    EXPECT_TRUE(is_api_error(admin.get(kBlocks, {bearer(kAdminToken)}), 404, "NOT_FOUND"));
    EXPECT_TRUE(
        is_api_error(admin.request("DELETE", std::string(kBlocks) + "/447400", "", {bearer(kAdminToken)}),
                     404, "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(admin.get(kBlocks), 404, "NOT_FOUND"));
}

// --- list and lift against the real guard ------------------------------------------------

long send(HttpClient& client, const std::string& number) {
    return client.post_json(kSendOtp, send_body("+44", number)).status;
}

TEST(AdminFraudGuardTest, ABlockedPrefixIsListedAndLiftingItLetsSendsGoOutAgain) {
    auto server = start_server(with_admin_api(kGuard));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    HttpClient admin(server->admin_port());

    // Codes to +44 7400 1234xx that nobody verifies: the guard blocks the prefix.
    int refused_at = -1;
    for (int i = 0; i < 6 && refused_at < 0; ++i) {
        if (send(client, uk(i)) == 429) refused_at = i;
    }
    ASSERT_GE(refused_at, 2) << "min_sends (3) sends go out before the guard judges";
    ASSERT_LE(refused_at, 4) << "the prefix was never blocked";

    const auto listed = admin.get(kBlocks, {bearer(kAdminToken)});
    ASSERT_EQ(listed.status, 200) << listed.body;
    const auto body = parse_json(listed.body);
    ASSERT_TRUE(body.HasMember("blocks") && body["blocks"].IsArray()) << listed.body;
    ASSERT_EQ(body["blocks"].Size(), 1u) << listed.body;
    const auto& block = body["blocks"][0];
    EXPECT_EQ(json_string(block, "prefix"), "447400");
    EXPECT_GT(*json_int(block, "remaining_seconds"), 590);
    EXPECT_LE(*json_int(block, "remaining_seconds"), 600);
    EXPECT_FALSE(block["shadow"].GetBool());

    const auto lifted = admin.request("DELETE", std::string(kBlocks) + "/447400", "",
                                      {bearer(kAdminToken), "X-Request-Id: lift-447400"});
    ASSERT_EQ(lifted.status, 200) << lifted.body;
    EXPECT_EQ(lifted.body, "{\"lifted\":true,\"prefix\":\"447400\"}");
    const auto line = wait_for_event_where(*server, "admin.fraud_block_lifted", "request_id", "lift-447400");
    ASSERT_TRUE(line) << server->stdout_text();
    EXPECT_EQ(json_string(parse_json(*line), "prefix"), "447400");
    EXPECT_EQ(json_string(parse_json(*line), "client_ip"), "127.0.0.1");

    EXPECT_EQ(send(client, uk(7)), 200) << "the next send goes out";
    const auto after = parse_json(admin.get(kBlocks, {bearer(kAdminToken)}).body);
    ASSERT_TRUE(after.HasMember("blocks") && after["blocks"].IsArray());
    EXPECT_EQ(after["blocks"].Size(), 0u);
    EXPECT_TRUE(
        is_api_error(admin.request("DELETE", std::string(kBlocks) + "/447400", "", {bearer(kAdminToken)}),
                     404, "NOT_FOUND"))
        << "lifted once, nothing left to lift";
    EXPECT_EQ(server->stdout_text().find(kAdminToken), std::string::npos);
}

}  // namespace
}  // namespace testino::test
