// HTTP behaviour a production client depends on, spoken on raw sockets where curl would
// hide it: keep-alive, Connection: close, HTTP/1.0, CORS, malformed requests, slow headers.
#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kAllowedOrigin = "https://app.example.com";
constexpr const char* kOtherOrigin = "https://evil.example.net";

std::string raw_get(const std::string& path, const std::string& version = "HTTP/1.1",
                    const std::string& extra_headers = "") {
    return "GET " + path + " " + version + "\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
}

bool says_close(const RawResponse& response) {
    const std::string value = response.headers.get("Connection").value_or("");
    std::string lower;
    for (char c : value) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return lower.find("close") != std::string::npos;
}

class HttpBehaviourTest : public SharedServerTest<HttpBehaviourTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.server["cors_origins"] = std::string("[\"") + kAllowedOrigin + "\"]";
        config.server["header_timeout_ms"] = "1000";
        return config;
    }
};

TEST_F(HttpBehaviourTest, Http11KeepsTheConnectionOpenByDefault) {
    RawConnection connection(server_->port());
    for (int i = 0; i < 2; ++i) {
        SCOPED_TRACE("request " + std::to_string(i + 1));
        ASSERT_TRUE(connection.send(raw_get(kHealth)));
        const auto response = connection.read_response(5s);
        ASSERT_TRUE(response) << "no response on the kept-alive connection";
        EXPECT_EQ(response->status, 200);
        EXPECT_FALSE(says_close(*response))
            << "Connection: " << response->headers.get("Connection").value_or("");
    }
    EXPECT_FALSE(connection.peer_closed_within(300ms));
}

TEST_F(HttpBehaviourTest, KeepAliveWorksForPostsToo) {
    RawConnection connection(server_->port());
    const std::string body = send_body("+1", "2025550190");
    const std::string request = std::string("POST ") + kSendOtp +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(connection.send(request));
        const auto response = connection.read_response(5s);
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 200) << response->body;
        EXPECT_FALSE(says_close(*response));
    }
}

TEST_F(HttpBehaviourTest, ConnectionCloseIsHonoured) {
    RawConnection connection(server_->port());
    ASSERT_TRUE(connection.send(raw_get(kHealth, "HTTP/1.1", "Connection: close\r\n")));
    const auto response = connection.read_response(5s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(says_close(*response));
    EXPECT_TRUE(connection.peer_closed_within(3s));
}

TEST_F(HttpBehaviourTest, Http10WithoutKeepAliveIsClosed) {
    RawConnection connection(server_->port());
    ASSERT_TRUE(connection.send("GET /api/v1/health HTTP/1.0\r\n\r\n"));
    const auto response = connection.read_response(5s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(connection.peer_closed_within(3s));
}

TEST_F(HttpBehaviourTest, MalformedRequestLineIsBadRequest) {
    for (const std::string garbage :
         {"GARBAGE\r\n\r\n", "GET /api/v1/health HTTP/9.9x\r\n\r\n", "GET\r\nHost: x\r\n\r\n"}) {
        SCOPED_TRACE(garbage);
        RawConnection connection(server_->port());
        ASSERT_TRUE(connection.send(garbage));
        const auto response = connection.read_response(5s);
        ASSERT_TRUE(response) << "no answer to a malformed request";
        EXPECT_EQ(response->status, 400);
        const auto body = parse_json(response->body);
        EXPECT_EQ(json_string(body, "error"), "BAD_REQUEST") << response->body;
    }
    EXPECT_EQ(client_->get(kHealth).status, 200);
}

TEST_F(HttpBehaviourTest, SlowHeadersAreCutOffWithoutBlockingOthers) {
    RawConnection slow(server_->port());
    ASSERT_TRUE(slow.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));  // never finished
    EXPECT_EQ(client_->get(kHealth).status, 200) << "a stalled client blocked another connection";
    // header_timeout_ms is 1000; the bound here is generous, not a speed requirement.
    EXPECT_TRUE(slow.peer_closed_within(6s)) << "the slow-header connection was never closed";
    EXPECT_EQ(client_->get(kHealth).status, 200);
}

TEST_F(HttpBehaviourTest, AllowedOriginGetsCorsHeaders) {
    for (const auto& response :
         {client_->get(kHealth, {std::string("Origin: ") + kAllowedOrigin}),
          client_->post_json(kSendOtp, send_body("+1", "2025550191"),
                             {std::string("Origin: ") + kAllowedOrigin}),
          client_->post_json(kVerifyOtp, "{", {std::string("Origin: ") + kAllowedOrigin})}) {
        SCOPED_TRACE(response.body);
        EXPECT_EQ(response.header("Access-Control-Allow-Origin"), kAllowedOrigin);
        EXPECT_FALSE(response.headers.has("Access-Control-Allow-Credentials"))
            << "credentials only with server.cors_allow_credentials";
        EXPECT_NE(response.header("Vary").find("Origin"), std::string::npos);
    }
}

TEST_F(HttpBehaviourTest, PreflightFromAllowedOriginIsNoContent) {
    const auto response =
        client_->request("OPTIONS", kSendOtp, "",
                         {std::string("Origin: ") + kAllowedOrigin, "Access-Control-Request-Method: POST",
                          "Access-Control-Request-Headers: content-type"});
    EXPECT_EQ(response.status, 204) << response.body;
    EXPECT_EQ(response.header("Access-Control-Allow-Origin"), kAllowedOrigin);
    EXPECT_NE(response.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    std::string headers = response.header("Access-Control-Allow-Headers");
    for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_NE(headers.find("content-type"), std::string::npos) << headers;
    EXPECT_FALSE(response.header("Access-Control-Max-Age").empty());
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Credentials")) << "off by default";
    EXPECT_TRUE(response.body.empty());
}

TEST_F(HttpBehaviourTest, PreflightFromOtherOriginIsForbidden) {
    const auto response =
        client_->request("OPTIONS", kSendOtp, "",
                         {std::string("Origin: ") + kOtherOrigin, "Access-Control-Request-Method: POST"});
    EXPECT_TRUE(is_api_error(response, 403, "CORS_ORIGIN_NOT_ALLOWED"));
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Origin"));
}

TEST_F(HttpBehaviourTest, OtherOriginOnASimpleRequestGetsNoCorsHeaders) {
    const auto response = client_->get(kHealth, {std::string("Origin: ") + kOtherOrigin});
    EXPECT_EQ(response.status, 200);
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Origin"));
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Credentials"));
}

// Origins match exactly: no prefix, suffix or scheme games.
TEST_F(HttpBehaviourTest, OriginsMatchExactly) {
    for (const std::string& origin :
         {std::string(kAllowedOrigin) + ".evil.net", std::string("http://app.example.com"),
          std::string(kAllowedOrigin) + ":8443"}) {
        SCOPED_TRACE(origin);
        EXPECT_FALSE(client_->get(kHealth, {"Origin: " + origin}).headers.has("Access-Control-Allow-Origin"));
    }
}

TEST(HttpCorsWildcardTest, WildcardAllowsAnyOriginWithoutCredentials) {
    TestConfig config;
    config.server["cors_origins"] = "[\"*\"]";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto response = client.get(kHealth, {std::string("Origin: ") + kOtherOrigin});
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "*");
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Credentials"));
    const auto preflight =
        client.request("OPTIONS", kVerifyOtp, "",
                       {std::string("Origin: ") + kOtherOrigin, "Access-Control-Request-Method: POST"});
    EXPECT_EQ(preflight.status, 204);
}

TEST(HttpCorsCredentialsTest, CredentialsAreAllowedWhenConfiguredForListedOriginsOnly) {
    TestConfig config;
    config.server["cors_origins"] = std::string("[\"") + kAllowedOrigin + "\", \"*\"]";
    config.server["cors_allow_credentials"] = "true";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto listed = client.get(kHealth, {std::string("Origin: ") + kAllowedOrigin});
    EXPECT_EQ(listed.header("Access-Control-Allow-Origin"), kAllowedOrigin);
    EXPECT_EQ(listed.header("Access-Control-Allow-Credentials"), "true");
    const auto preflight =
        client.request("OPTIONS", kSendOtp, "",
                       {std::string("Origin: ") + kAllowedOrigin, "Access-Control-Request-Method: POST"});
    EXPECT_EQ(preflight.status, 204);
    EXPECT_EQ(preflight.header("Access-Control-Allow-Credentials"), "true");
    const auto other = client.get(kHealth, {std::string("Origin: ") + kOtherOrigin});
    EXPECT_EQ(other.header("Access-Control-Allow-Origin"), "*");
    EXPECT_FALSE(other.headers.has("Access-Control-Allow-Credentials")) << "never with the wildcard";
}

TEST(HttpCorsEnvTest, AllowedOriginsComeFromTheEnvironment) {
    TestConfig config;
    auto server =
        start_server(config, {{"ALLOWED_ORIGINS", std::string("https://a.example,") + kAllowedOrigin}});
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(
        client.get(kHealth, {std::string("Origin: ") + kAllowedOrigin}).header("Access-Control-Allow-Origin"),
        kAllowedOrigin);
    EXPECT_EQ(client.get(kHealth, {"Origin: https://a.example"}).header("Access-Control-Allow-Origin"),
              "https://a.example");
}

}  // namespace
}  // namespace testino::test
