// The real testino-server with `store.backend: postgres` against a private PostgreSQL: two
// instances sharing codes and attempts, a restart losing no code, Postgres down at start-up,
// killed under load and restarted, a newer schema refused, and the password never shown.
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "integration_common.hpp"
#include "postgres_server.hpp"

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;

TestConfig postgres_config(const std::string& dsn) {
    TestConfig config;
    config.store["backend"] = "postgres";
    if (!dsn.empty()) config.store_sections["postgres"]["dsn"] = "\"" + dsn + "\"";
    config.store_sections["postgres"]["query_timeout_ms"] = "300";
    config.store_sections["postgres"]["connect_timeout_ms"] = "300";
    return config;
}

bool wait_until_healthy(const ServerProcess& server) { return wait_until_store_healthy(server, 20s); }

class PgIntegrationTest : public ::testing::Test {
protected:
    void SetUp() override { TESTINO_REQUIRE_POSTGRES(); }
};

TEST_F(PgIntegrationTest, ACodeSentThroughOneServerVerifiesOnceThroughTheOther) {
    PostgresServer postgres;
    const TestConfig config = postgres_config(postgres.dsn());
    auto first = start_server(config);
    auto second = start_server(config);
    ASSERT_TRUE(first && second);
    HttpClient to_first(first->port());
    HttpClient to_second(second->port());
    EXPECT_EQ(store_health(*first).status, 200);
    EXPECT_EQ(store_health(*first).name, "postgres");

    const std::string code = send_and_read_console_code(*first, to_first, "+1", "2025550123", "+12025550123");
    ASSERT_EQ(code.size(), 6u);
    const auto verified = to_second.post_json(kVerifyOtp, verify_body("+1", "2025550123", code));
    EXPECT_EQ(verified.status, 200) << verified.body;
    EXPECT_TRUE(is_api_error(to_first.post_json(kVerifyOtp, verify_body("+1", "2025550123", code)), 400,
                             "INVALID_OTP"));
    // A sign-in refreshes through the other server.
    const std::string token = json_string(parse_json(verified.body), "refresh_token");
    const auto rotated =
        to_first.post_json("/api/v1/auth/refresh", R"({"refresh_token":")" + token + R"("})");
    EXPECT_EQ(rotated.status, 200) << rotated.body;
}

TEST_F(PgIntegrationTest, AServerRestartLosesNoPendingCode) {
    PostgresServer postgres;
    const TestConfig config = postgres_config(postgres.dsn());
    std::string code;
    {
        auto server = start_server(config);
        ASSERT_TRUE(server);
        HttpClient client(server->port());
        code = send_and_read_console_code(*server, client, "+44", "7400123456", "+447400123456");
        ASSERT_EQ(code.size(), 6u);
        server->send_signal(SIGTERM);
        ASSERT_EQ(server->wait_exit(10s), 0);
    }
    auto restarted = start_server(config);
    ASSERT_TRUE(restarted);
    HttpClient client(restarted->port());
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+44", "7400123456", code)).status, 200);
}

TEST_F(PgIntegrationTest, PostgresDownAtStartUpAnswers503FastThenServesWithoutARestart) {
    PostgresServer postgres(false);  // its port, nothing listening yet
    auto server = start_server(postgres_config(postgres.dsn()));
    ASSERT_TRUE(server) << "the server starts without Postgres";
    HttpClient client(server->port());
    const auto health = store_health(*server);
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.state, "down");
    EXPECT_NE(health.detail.find("127.0.0.1"), std::string::npos) << health.detail;

    // Answered within 2 s with a 300 ms query timeout.
    EXPECT_TRUE(store_unavailable_within(client, "2025550150", 2s));

    postgres.start();
    ASSERT_TRUE(wait_until_healthy(*server)) << store_health(*server).detail;
    EXPECT_TRUE(sends_and_verifies(*server, client, "2025550150"));
}

TEST_F(PgIntegrationTest, PostgresKilledUnderLoadThenRestarted) {
    PostgresServer postgres;
    auto server = start_server(postgres_config(postgres.dsn()));
    ASSERT_TRUE(server);
    StoreLoad load(server->port());
    EXPECT_TRUE(reaches(load.store_answered, 20));
    postgres.kill();
    EXPECT_TRUE(reaches(load.unavailable, 20));
    postgres.start();
    const int answered_before = load.store_answered.load();
    EXPECT_TRUE(reaches(load.store_answered, answered_before + 20, 20s))
        << "the server uses Postgres again by itself";
    load.stop();
    EXPECT_EQ(load.unexpected.load(), 0);
    EXPECT_EQ(load.slow.load(), 0) << "no request pair took over 3 s (query timeout 300 ms)";
    EXPECT_TRUE(wait_until_healthy(*server));
    server->send_signal(SIGTERM);
    EXPECT_EQ(server->wait_exit(10s), 0) << "clean shutdown after the faults";
}

TEST_F(PgIntegrationTest, AStatementWaitingOnALockHoldsNoReactorThread) {
    // One reactor thread, and every send's statements (its rate-limit counters, its code)
    // wait on table locks another session holds: a core that waited for Postgres on the reactor
    // would serve nothing else meanwhile and answer the sends one after another.
    PostgresServer postgres;
    TestConfig config = postgres_config(postgres.dsn());
    config.server["threads"] = "1";
    config.store_sections["postgres"]["query_timeout_ms"] = "1500";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_TRUE(wait_until_healthy(*server));

    PgSession locker(postgres.dsn());
    ASSERT_EQ(locker.query("BEGIN"), "");
    ASSERT_EQ(locker.query("LOCK TABLE testino_counters, testino_codes IN ACCESS EXCLUSIVE MODE"), "");
    constexpr int kSends = 4;  // fewer than the pool's connections: all four wait at once
    const StalledSends sends = sends_while_the_store_stalls(server->port(), "202555019", kSends);
    ASSERT_EQ(locker.query("COMMIT"), "");

    EXPECT_EQ(sends.document_status, 200);
    EXPECT_EQ(sends.store_unavailable, kSends);
    EXPECT_LT(sends.document_ms, sends.first_send_ms)
        << "GET /openapi.json waited for a send waiting for Postgres";
    EXPECT_LT(sends.last_send_ms, 2 * 1500) << "the sends were answered one after another, not together";
    EXPECT_TRUE(sends_and_verifies(*server, client, "2025550199")) << "served again once the lock is gone";
}

TEST_F(PgIntegrationTest, ANewerSchemaStopsStartUpNamingTheVersions) {
    PostgresServer postgres;
    ASSERT_EQ(
        postgres.query("CREATE TABLE testino_schema_version (version integer PRIMARY KEY, description text "
                       "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO "
                       "testino_schema_version (version, description) VALUES (42, 'future')"),
        "");
    const auto result = ServerProcess::run_to_exit(postgres_config(postgres.dsn()).spec());
    EXPECT_EQ(result.exit_code, 2) << result.stdout_text;
    EXPECT_NE(result.stderr_text.find("version 42, newer than this testino-server knows"), std::string::npos)
        << result.stderr_text;
    EXPECT_EQ(result.stderr_text.find(PostgresServer::kPassword), std::string::npos);
}

TEST_F(PgIntegrationTest, TheDsnFromTheEnvironmentNeverShowsItsPassword) {
    PostgresServer postgres;
    TestConfig config = postgres_config("");
    const std::map<std::string, std::string> env{{"POSTGRES_DSN", postgres.dsn_with_password("not-it-9f3e")}};
    auto server = start_server(config, env);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto health = store_health(*server);
    EXPECT_EQ(health.status, 503);
    EXPECT_NE(health.detail.find("password authentication failed"), std::string::npos) << health.detail;
    EXPECT_TRUE(
        is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550170")), 503, "STORE_UNAVAILABLE"));
    server->send_signal(SIGTERM);
    server->wait_exit(10s);
    EXPECT_EQ(server->stdout_text().find("not-it-9f3e"), std::string::npos);
    EXPECT_EQ(server->stderr_text().find("not-it-9f3e"), std::string::npos);

    ProcessSpec spec = config.spec(env);
    spec.args = {"--check-config"};
    const auto checked = ServerProcess::run_to_exit(spec);
    EXPECT_EQ(checked.exit_code, 0) << checked.stderr_text;
    EXPECT_EQ(checked.stdout_text.find("not-it-9f3e"), std::string::npos) << checked.stdout_text;
}

}  // namespace
}  // namespace testino::test
