// The admin listener: GET /metrics and GET /health (with the plugins' details) on their own
// port, by default on 127.0.0.1 only; the public listener serves neither.
#include "integration_common.hpp"

namespace testino::test {
namespace {

class AdminListenerTest : public SharedServerTest<AdminListenerTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.server["cors_origins"] = "[\"https://app.example.com\"]";
        return config;
    }
};

TEST_F(AdminListenerTest, ThePublicListenerServesNeitherMetricsNorDetails) {
    EXPECT_TRUE(is_api_error(client_->get(kMetrics), 404, "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(client_->get(kAdminHealth), 404, "NOT_FOUND"));
    const auto health = client_->get(kHealth);
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "{\"status\":\"up\"}");
}

TEST_F(AdminListenerTest, ItServesMetricsAndHealthDetails) {
    ASSERT_TRUE(admin_);
    const auto metrics = admin_->get(kMetrics);
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(metrics.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
    EXPECT_NE(metrics.body.find("testino_http_requests_total"), std::string::npos);
    const auto health = admin_->get(kAdminHealth);
    EXPECT_EQ(health.status, 200);
    const auto body = parse_json(health.body);
    EXPECT_EQ(json_string(body, "status"), "up");
    EXPECT_EQ(json_string(body, "version"), "0.1.0");
    ASSERT_TRUE(body.HasMember("plugins") && body["plugins"].IsArray()) << health.body;
    EXPECT_EQ(body["plugins"].Size(), 2u) << health.body;
    EXPECT_FALSE(health.header("X-Request-Id").empty());
}

TEST_F(AdminListenerTest, ItServesNothingElse) {
    ASSERT_TRUE(admin_);
    for (const char* path : {kHealth, kSendOtp, "/openapi.json", "/docs", "/"}) {
        EXPECT_TRUE(is_api_error(admin_->get(path), 404, "NOT_FOUND")) << path;
    }
    for (const char* path : {kMetrics, kAdminHealth}) {
        const auto post = admin_->request("POST", path, "{}", {"Content-Type: application/json"});
        EXPECT_TRUE(is_api_error(post, 405, "METHOD_NOT_ALLOWED")) << path;
        EXPECT_EQ(post.header("Allow"), "GET");
        EXPECT_TRUE(is_api_error(admin_->request("OPTIONS", path), 405, "METHOD_NOT_ALLOWED")) << path;
    }
}

// No browser calls it: no CORS, and no forwarding header is believed.
TEST_F(AdminListenerTest, ItAnswersNoCorsAndLogsItsRequestsAsAdmin) {
    ASSERT_TRUE(admin_);
    const auto response = admin_->get(
        kAdminHealth,
        {"Origin: https://app.example.com", "X-Request-Id: admin-probe-1", "X-Forwarded-For: 198.51.100.7"});
    EXPECT_EQ(response.status, 200);
    EXPECT_FALSE(response.headers.has("Access-Control-Allow-Origin"));
    const auto line = wait_for_event_where(*server_, "http.access", "request_id", "admin-probe-1");
    ASSERT_TRUE(line) << server_->stdout_text();
    EXPECT_EQ(json_string(parse_json(*line), "listener"), "admin");
    EXPECT_EQ(json_string(parse_json(*line), "client_ip"), "127.0.0.1");
}

TEST_F(AdminListenerTest, ItsRequestsAreCountedUnderTheirRoutes) {
    ASSERT_TRUE(admin_);
    ASSERT_EQ(admin_->get(kAdminHealth).status, 200);
    const auto metrics = admin_->get(kMetrics);
    EXPECT_NE(
        metrics.body.find("testino_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}"),
        std::string::npos)
        << metrics.body;
}

TEST(AdminListenerConfigTest, ItListensOn127001ByDefaultAndLogsWhere) {
    TestConfig config;
    config.server["host"] = "\"::1\"";  // the public listener elsewhere: the admin one stays put
    const int admin_port = free_loopback_port();
    config.server["admin_port"] = std::to_string(admin_port);
    auto server = start_server(config);
    ASSERT_TRUE(server);
    EXPECT_EQ(server->admin_port(), admin_port);
    const auto line = wait_for_event(*server, "server.listening", 1s);
    ASSERT_TRUE(line);
    EXPECT_EQ(json_string(parse_json(*line), "admin_host"), "127.0.0.1");
    EXPECT_EQ(HttpClient(admin_port).get(kAdminHealth).status, 200);
}

TEST(AdminListenerConfigTest, PortZeroSwitchesItOff) {
    TestConfig config;
    config.server["admin_port"] = "0";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    EXPECT_EQ(server->admin_port(), 0);
    const auto line = wait_for_event(*server, "server.listening", 1s);
    ASSERT_TRUE(line);
    EXPECT_EQ(json_int(parse_json(*line), "admin_port"), 0);
    EXPECT_TRUE(is_api_error(HttpClient(server->port()).get(kMetrics), 404, "NOT_FOUND"));
}

TEST(AdminListenerConfigTest, APortInUseStopsStartUpNamingTheKeys) {
    TestConfig config;
    auto first = start_server(config);
    ASSERT_TRUE(first);
    config.server["admin_port"] = std::to_string(first->admin_port());
    const ProcessResult result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("cannot listen on 127.0.0.1:" + std::to_string(first->admin_port()) +
                                      " (server.admin_host, server.admin_port)"),
              std::string::npos)
        << result.stderr_text;
}

TEST(AdminListenerConfigTest, AnIpv6LoopbackAddressWorks) {
    TestConfig config;
    config.server["admin_host"] = "\"::1\"";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    RawConnection connection(server->admin_port(), "::1");
    ASSERT_TRUE(connection.send("GET /health HTTP/1.1\r\nHost: [::1]\r\n\r\n"));
    const auto response = connection.read_response(5s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace testino::test
