// The happy paths of the HTTP API against the real server with the console SMS plugin
// and the memory store: send, read the code from the log, verify, inspect the token.
#include <ctime>
#include <set>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr int kTokenTtl = 900;

class ApiFlowTest : public SharedServerTest<ApiFlowTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.token["ttl_seconds"] = std::to_string(kTokenTtl);
        return config;
    }

protected:
    std::string send_and_read_code(const std::string& cc, const std::string& number,
                                   const std::string& e164) {
        return send_and_read_console_code(*server_, *client_, cc, number, e164);
    }
};

TEST_F(ApiFlowTest, SendOtpAnswersSuccessWithExpiry) {
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550101"));
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("Content-Type").rfind("application/json", 0), 0u);
    const auto body = parse_json(response.body);
    ASSERT_TRUE(body.IsObject()) << response.body;
    ASSERT_TRUE(body.HasMember("success") && body["success"].IsBool());
    EXPECT_TRUE(body["success"].GetBool());
    EXPECT_EQ(json_string(body, "message"), "OTP sent successfully");
    EXPECT_EQ(json_int(body, "expires_in"), 300) << response.body;
}

TEST_F(ApiFlowTest, VerifyReturnsSignedTokenForTheNumber) {
    const std::string code = send_and_read_code("+1", "2025550123", "+12025550123");
    ASSERT_EQ(code.size(), 6u) << code;

    const auto response = client_->post_json(kVerifyOtp, verify_body("+1", "2025550123", code));
    ASSERT_EQ(response.status, 200) << response.body;
    const auto body = parse_json(response.body);
    ASSERT_TRUE(body.IsObject()) << response.body;
    EXPECT_TRUE(body.HasMember("success") && body["success"].IsBool() && body["success"].GetBool());
    EXPECT_EQ(json_string(body, "message"), "OTP verified successfully");
    EXPECT_EQ(json_string(body, "token_type"), "bearer");
    EXPECT_EQ(json_int(body, "expires_in"), kTokenTtl) << response.body;

    const auto jwt = decode_jwt(json_string(body, "access_token"), kTokenSecret);
    ASSERT_TRUE(jwt) << "access_token is not a JWT: " << response.body;
    EXPECT_EQ(json_string(jwt->header, "alg"), "HS256");
    EXPECT_TRUE(jwt->signature_valid) << "HS256 signature does not match token.secret";
    const auto& claims = jwt->payload;
    EXPECT_EQ(json_string(claims, "sub"), "+12025550123");
    EXPECT_EQ(json_string(claims, "iss"), "testino-auth");
    EXPECT_FALSE(json_string(claims, "jti").empty());
    const auto iat = json_int(claims, "iat");
    const auto exp = json_int(claims, "exp");
    ASSERT_TRUE(iat && exp) << "iat/exp missing or not integers";
    EXPECT_EQ(*exp - *iat, kTokenTtl);
    // iat is a Unix time in seconds (not ms), near now.
    EXPECT_NEAR(static_cast<double>(*iat), static_cast<double>(std::time(nullptr)), 300.0);
}

TEST_F(ApiFlowTest, TokensHaveDistinctIds) {
    std::set<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        const std::string code = send_and_read_code("+1", "2025550124", "+12025550124");
        const auto response = client_->post_json(kVerifyOtp, verify_body("+1", "2025550124", code));
        ASSERT_EQ(response.status, 200) << response.body;
        const auto jwt = decode_jwt(json_string(parse_json(response.body), "access_token"), kTokenSecret);
        ASSERT_TRUE(jwt);
        ids.insert(json_string(jwt->payload, "jti"));
    }
    EXPECT_EQ(ids.size(), 2u);
}

TEST_F(ApiFlowTest, VerifiedCodeCannotBeReused) {
    const std::string code = send_and_read_code("+1", "2025550125", "+12025550125");
    ASSERT_EQ(client_->post_json(kVerifyOtp, verify_body("+1", "2025550125", code)).status, 200);
    EXPECT_TRUE(is_api_error(client_->post_json(kVerifyOtp, verify_body("+1", "2025550125", code)), 400,
                             "INVALID_OTP"));
}

TEST_F(ApiFlowTest, AResendKeepsTheOldCodeValidForTheOverlapAndOneVerifyConsumesBoth) {
    // otp.resend_overlap_seconds (120 by default): a resend by someone else must not void the
    // code the owner is typing.
    const std::string first = send_and_read_code("+1", "2025550126", "+12025550126");
    const std::string second = send_and_read_code("+1", "2025550126", "+12025550126");
    EXPECT_EQ(client_->post_json(kVerifyOtp, verify_body("+1", "2025550126", first)).status, 200);
    EXPECT_TRUE(is_api_error(client_->post_json(kVerifyOtp, verify_body("+1", "2025550126", second)), 400,
                             "INVALID_OTP"))
        << "single use: the verify consumed both codes";
}

// Every spelling of one number reaches the same E.164 key: the SMS goes to it, and a code
// sent under one spelling verifies under another.
TEST_F(ApiFlowTest, NumberSpellingsNormaliseToOneE164) {
    struct Case {
        std::string send_cc, send_number, verify_cc, verify_number, e164;
    };
    const std::vector<Case> cases{
        {"1", "202-555-0143", "+1", "2025550143", "+12025550143"},
        {"+1", "(202) 555 0199", "1", "202-555-0199", "+12025550199"},
        {"+1", "2025550144", "1", "(202) 555-0144", "+12025550144"},
        {"+44", "7400123456", "44", "7400 123456", "+447400123456"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.send_cc + " " + c.send_number);
        const std::string code = send_and_read_code(c.send_cc, c.send_number, c.e164);
        ASSERT_FALSE(code.empty());
        const auto response = client_->post_json(kVerifyOtp, verify_body(c.verify_cc, c.verify_number, code));
        ASSERT_EQ(response.status, 200) << response.body;
        const auto jwt = decode_jwt(json_string(parse_json(response.body), "access_token"), kTokenSecret);
        ASSERT_TRUE(jwt);
        EXPECT_EQ(json_string(jwt->payload, "sub"), c.e164);
    }
}

TEST_F(ApiFlowTest, ConsoleMessageUsesTheTemplateAndTheRequestId) {
    const auto response = client_->post_json(kSendOtp, send_body("+1", "2025550127"));
    ASSERT_EQ(response.status, 200) << response.body;
    // The suite's server has logged other tests' messages too: pick this number's.
    const auto line = server_->wait_for_log(
        [](const std::string& l) {
            return is_log_event(l, "sms.console.message") &&
                   json_string(parse_json(l), "to") == "+12025550127";
        },
        5s);
    ASSERT_TRUE(line) << server_->stdout_text();
    const auto entry = parse_json(*line);
    const std::string code = code_in_text(json_string(entry, "text"));
    EXPECT_EQ(json_string(entry, "text"), "Your Testino code is " + code + ". It expires in 5 minutes.");
    EXPECT_EQ(json_string(entry, "plugin"), "console");
    EXPECT_EQ(json_string(entry, "request_id"), response.header("X-Request-Id"));
}

TEST_F(ApiFlowTest, AccessLogRecordsTheRequest) {
    const auto response = client_->get(kHealth);
    const std::string request_id = response.header("X-Request-Id");
    ASSERT_FALSE(request_id.empty());
    const auto line = server_->wait_for_log(
        [&](const std::string& l) {
            return is_log_event(l, "http.access") && json_string(parse_json(l), "request_id") == request_id;
        },
        5s);
    ASSERT_TRUE(line) << server_->stdout_text();
    const auto entry = parse_json(*line);
    EXPECT_EQ(json_string(entry, "method"), "GET");
    EXPECT_EQ(json_string(entry, "path"), kHealth);
    EXPECT_EQ(json_string(entry, "peer"), "127.0.0.1");
    EXPECT_EQ(json_int(entry, "status"), 200);
    EXPECT_TRUE(entry.HasMember("latency_ms") && entry["latency_ms"].IsNumber());
    EXPECT_FALSE(json_string(entry, "ts").empty());
    EXPECT_FALSE(json_string(entry, "level").empty());
}

// The public check: whether the server serves, and nothing a stranger could use (plugins,
// versions, hosts, counts).
TEST_F(ApiFlowTest, PublicHealthSaysOnlyTheStatus) {
    const auto response = client_->get(kHealth);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("Content-Type").rfind("application/json", 0), 0u);
    EXPECT_EQ(response.body, "{\"status\":\"up\"}");
}

TEST_F(ApiFlowTest, AdminHealthReportsBothPluginsUp) {
    ASSERT_TRUE(admin_);
    const auto response = admin_->get(kAdminHealth);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("Content-Type").rfind("application/json", 0), 0u);
    const auto body = parse_json(response.body);
    ASSERT_TRUE(body.IsObject()) << response.body;
    EXPECT_EQ(json_string(body, "status"), "up");
    EXPECT_EQ(json_string(body, "version"), "0.1.0");
    ASSERT_TRUE(body.HasMember("uptime_seconds") && body["uptime_seconds"].IsNumber());
    EXPECT_GE(body["uptime_seconds"].GetDouble(), 0.0);
    ASSERT_TRUE(body.HasMember("plugins") && body["plugins"].IsArray()) << response.body;
    std::map<std::string, std::string> names_by_kind;
    for (const auto& plugin : body["plugins"].GetArray()) {
        EXPECT_EQ(json_string(plugin, "state"), "up") << response.body;
        EXPECT_FALSE(json_string(plugin, "version").empty());
        EXPECT_TRUE(plugin.HasMember("detail") && plugin["detail"].IsString());
        names_by_kind[json_string(plugin, "kind")] = json_string(plugin, "name");
    }
    EXPECT_EQ(names_by_kind["sms_provider"], "console");
    EXPECT_EQ(names_by_kind["otp_store"], "memory");
}

TEST_F(ApiFlowTest, OpenApiDocumentDescribesTheThreeRoutes) {
    const auto response = client_->get("/openapi.json");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.header("Content-Type").rfind("application/json", 0), 0u);
    const auto doc = parse_json(response.body);
    ASSERT_FALSE(doc.HasParseError()) << response.body.substr(0, 200);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(json_string(doc, "openapi").rfind("3.", 0), 0u);
    ASSERT_TRUE(doc.HasMember("paths") && doc["paths"].IsObject());
    const auto& paths = doc["paths"];
    EXPECT_TRUE(paths.HasMember(kHealth) && paths[kHealth].HasMember("get"));
    EXPECT_TRUE(paths.HasMember(kSendOtp) && paths[kSendOtp].HasMember("post"));
    EXPECT_TRUE(paths.HasMember(kVerifyOtp) && paths[kVerifyOtp].HasMember("post"));
}

TEST_F(ApiFlowTest, EveryResponseCarriesItsOwnRequestId) {
    std::set<std::string> ids;
    const std::vector<HttpResponse> responses{
        client_->get(kHealth), client_->get("/openapi.json"), client_->get("/no/such/path"),
        client_->post_json(kSendOtp, send_body("+1", "2025550128")), client_->post_json(kVerifyOtp, "{")};
    for (const auto& response : responses) {
        const std::string id = response.header("X-Request-Id");
        EXPECT_FALSE(id.empty()) << response.status << " " << response.body;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), responses.size());
}

TEST_F(ApiFlowTest, AuthRoutesAreNotCacheable) {
    const auto sent = client_->post_json(kSendOtp, send_body("+1", "2025550129"));
    EXPECT_EQ(sent.status, 200);
    EXPECT_NE(sent.header("Cache-Control").find("no-store"), std::string::npos);
    const auto rejected = client_->post_json(kVerifyOtp, verify_body("+1", "2025550129", "000000"));
    EXPECT_NE(rejected.header("Cache-Control").find("no-store"), std::string::npos);
    const auto invalid = client_->post_json(kSendOtp, "{");
    EXPECT_NE(invalid.header("Cache-Control").find("no-store"), std::string::npos);
}

// A real client sends "application/json; charset=utf-8"; that is JSON.
TEST_F(ApiFlowTest, JsonContentTypeWithCharsetIsAccepted) {
    const auto response = client_->request("POST", kSendOtp, send_body("+1", "2025550130"),
                                           {"Content-Type: application/json; charset=utf-8"});
    EXPECT_EQ(response.status, 200) << response.body;
}

TEST(ApiFlowConfigTest, OtpLengthExpiryAndTemplateFollowConfig) {
    TestConfig config;
    config.otp["length"] = "8";
    config.otp["expiry_seconds"] = "120";
    config.otp["message_template"] = "\"Code {code}, valid {minutes} min\"";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550131"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(json_int(parse_json(sent.body), "expires_in"), 120) << sent.body;
    const auto line = wait_for_event(*server, "sms.console.message", 5s);
    ASSERT_TRUE(line);
    const std::string text = json_string(parse_json(*line), "text");
    const std::string code = code_in_text(text);
    EXPECT_EQ(code.size(), 8u) << text;
    EXPECT_EQ(text, "Code " + code + ", valid 2 min");

    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550131", "123456")), 422,
                             "VALIDATION_ERROR", "otp"));
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550131", code)).status, 200);
}

TEST(ApiFlowConfigTest, IssuerAndSecretFollowConfig) {
    const std::string secret = "another-secret-of-at-least-32-bytes-xyz";
    TestConfig config;
    config.token["secret"] = "\"" + secret + "\"";
    config.token["issuer"] = "custom-issuer";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550132", "+12025550132");
    const auto response = client.post_json(kVerifyOtp, verify_body("+1", "2025550132", code));
    ASSERT_EQ(response.status, 200) << response.body;
    const auto jwt = decode_jwt(json_string(parse_json(response.body), "access_token"), secret);
    ASSERT_TRUE(jwt);
    EXPECT_TRUE(jwt->signature_valid);
    EXPECT_EQ(json_string(jwt->payload, "iss"), "custom-issuer");
    EXPECT_EQ(json_int(parse_json(response.body), "expires_in"), 3600);
}

}  // namespace
}  // namespace testino::test
