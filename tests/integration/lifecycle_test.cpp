// The process around the API: start-up failures, the CLI modes, where config comes from
// (env > .env > YAML > defaults), and graceful shutdown on SIGTERM/SIGINT.
#include <signal.h>

#include <future>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

TEST(StartupFailureTest, YamlSyntaxError) {
    EXPECT_TRUE(fails_to_start(run("server:\n  port: [0\n  host: 127.0.0.1\n"), {"config.yaml"}));
}

TEST(StartupFailureTest, MissingConfigFile) {
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.args = {"--config", "/nonexistent/testino.yaml"};
    EXPECT_TRUE(fails_to_start(ServerProcess::run_to_exit(spec), {"/nonexistent/testino.yaml"}));
}

TEST(StartupFailureTest, UnknownKeyIsNamedWithTheNearestOne) {
    TestConfig config;
    config.server["prot"] = "8080";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"config.yaml", "server.prot", "\"port\""}));
}

TEST(StartupFailureTest, UnknownTopLevelSection) {
    EXPECT_TRUE(fails_to_start(run(TestConfig().yaml() + "tokens:\n  secret: x\n"), {"tokens"}));
}

TEST(StartupFailureTest, WrongTypeIsNamed) {
    TestConfig config;
    config.server["port"] = "not-a-number";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"config.yaml", "server.port"}));
    TestConfig threads;
    threads.server["threads"] = "[1, 2]";
    EXPECT_TRUE(fails_to_start(run(threads.yaml()), {"server.threads"}));
}

TEST(StartupFailureTest, OutOfRangeValueIsNamed) {
    TestConfig config;
    config.otp["length"] = "3";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.length"}));
    TestConfig port;
    port.server["port"] = "70000";
    EXPECT_TRUE(fails_to_start(run(port.yaml()), {"server.port"}));
}

TEST(StartupFailureTest, MissingTokenSecretWithoutDebug) {
    TestConfig config;
    config.token.erase("secret");
    config.token["algorithm"] = "HS256";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"token.secret", "TOKEN_SECRET"}));
}

// With neither a secret nor a key the config is a new one, so ES256: the message says how to
// make a key.
TEST(StartupFailureTest, MissingSigningKeyWithoutDebug) {
    TestConfig config;
    config.token.erase("secret");
    EXPECT_TRUE(fails_to_start(run(config.yaml()),
                               {"no signing key for ES256", "TOKEN_PRIVATE_KEY_FILE", "openssl genpkey"}));
}

TEST(StartupFailureTest, ShortTokenSecret) {
    TestConfig config;
    config.token["secret"] = "\"too-short\"";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"token.secret"}));
}

TEST(StartupFailureTest, MissingPluginListsTheAvailableOnes) {
    TestConfig config;
    config.sms["provider"] = "no_such_provider";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"no_such_provider", "console"}));
}

TEST(StartupFailureTest, AbiMismatchIsRefused) {
    TestConfig config;
    const std::string path = test_plugin("abi_mismatch.so");
    config.sms["provider"] = "\"" + path + "\"";
    const auto result = run(config.yaml());
    EXPECT_TRUE(fails_to_start(result, {"abi_mismatch"}));
    EXPECT_NE(result.stderr_text.find("999"), std::string::npos) << result.stderr_text;
}

TEST(StartupFailureTest, LibraryThatIsNotAPluginIsRefused) {
    TestConfig config;
    const std::string path = test_plugin("not_a_plugin.so");
    config.sms["provider"] = "\"" + path + "\"";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"not_a_plugin"}));
}

TEST(StartupFailureTest, PluginOfTheWrongKindIsRefused) {
    TestConfig config;
    config.sms["provider"] = "memory";
    const auto result = run(config.yaml());
    EXPECT_TRUE(fails_to_start(result, {"memory", "otp_store"}));
}

TEST(StartupFailureTest, UnknownKeyInAPluginSectionIsNamed) {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["outbx"] = "\"x\"";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"sms.test_sink.outbx", "\"outbox\""}));
}

TEST(StartupFailureTest, MissingRequiredPluginKeyIsNamed) {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"].erase("outbox");
    config.sms_sections["test_sink"]["delay_ms"] = "0";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"sms.test_sink.outbox"}));
}

TEST(StartupFailureTest, BadEnvironmentValueIsNamed) {
    EXPECT_TRUE(fails_to_start(run(TestConfig().yaml(), {}, {{"OTP_LENGTH", "six"}}), {"OTP_LENGTH"}));
}

TEST(CliTest, CheckConfigPrintsTheEffectiveConfigWithSecretsMasked) {
    TestConfig config;
    config.otp["hmac_secret"] = "\"hmac-secret-value-that-must-stay-hidden\"";
    config.otp["max_attempts"] = "7";
    const auto result = run(config.yaml(), {"--check-config"});
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_NE(result.stdout_text.find("***"), std::string::npos) << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("max_attempts"), std::string::npos) << result.stdout_text;
    for (const std::string& secret :
         {std::string(kTokenSecret), std::string("hmac-secret-value-that-must-stay-hidden")}) {
        EXPECT_EQ(result.stdout_text.find(secret), std::string::npos) << "secret leaked on stdout";
        EXPECT_EQ(result.stderr_text.find(secret), std::string::npos) << "secret leaked on stderr";
    }
    EXPECT_EQ(result.stdout_text.find("server.listening"), std::string::npos);
}

TEST(CliTest, CheckConfigMasksASecretFromTheEnvironment) {
    const std::string secret = "environment-secret-0123456789-abcdefgh";
    TestConfig config;
    config.token.erase("secret");
    const auto result = run(config.yaml(), {"--check-config"}, {{"TOKEN_SECRET", secret}});
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_EQ(result.stdout_text.find(secret), std::string::npos);
    EXPECT_EQ(result.stderr_text.find(secret), std::string::npos);
}

TEST(CliTest, CheckConfigRejectsABadConfig) {
    TestConfig config;
    config.server["prot"] = "1";
    EXPECT_TRUE(fails_to_start(run(config.yaml(), {"--check-config"}), {"server.prot"}));
}

TEST(CliTest, ListPluginsShowsTheBundledPluginsWithAbiVersion) {
    const auto result = run(TestConfig().yaml(), {"--list-plugins"});
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    const std::string& out = result.stdout_text;
    for (const std::string expected : {"console", "memory", "sms_provider", "otp_store", "1.0.0"}) {
        EXPECT_NE(out.find(expected), std::string::npos) << "missing " << expected << " in:\n" << out;
    }
    EXPECT_NE(out.find(plugin_dir()), std::string::npos) << "plugin paths missing:\n" << out;
    // SMS providers show the channels their descriptor declares.
    EXPECT_NE(out.find("[channels: sms whatsapp voice]"), std::string::npos) << "twilio's channels:\n" << out;
    EXPECT_NE(out.find("instead of sending it [channels: sms]"), std::string::npos) << "console's:\n" << out;
    // The test-only plugins live in another dir and are not listed.
    EXPECT_EQ(out.find("test_sink"), std::string::npos) << out;
}

TEST(CliTest, VersionAndHelp) {
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.args = {"--version"};
    const auto version = ServerProcess::run_to_exit(spec);
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_NE(version.stdout_text.find("0.1.0"), std::string::npos) << version.stdout_text;
    spec.args = {"--help"};
    const auto help = ServerProcess::run_to_exit(spec);
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.stdout_text.find("--config"), std::string::npos) << help.stdout_text;
    spec.args = {"--no-such-option"};
    EXPECT_EQ(ServerProcess::run_to_exit(spec).exit_code, 2);
}

int expires_in_of_a_send(ServerProcess& server) {
    HttpClient client(server.port());
    const auto response = client.post_json(kSendOtp, send_body("+1", "2025550140"));
    EXPECT_EQ(response.status, 200) << response.body;
    return static_cast<int>(json_int(parse_json(response.body), "expires_in").value_or(-1));
}

TEST(ConfigSourcesTest, EnvironmentBeatsYaml) {
    TestConfig config;
    config.otp["expiry_seconds"] = "300";
    const int port = free_loopback_port();
    auto server = start_server(config, {{"OTP_EXPIRY_SECONDS", "120"}, {"PORT", std::to_string(port)}});
    ASSERT_TRUE(server);
    EXPECT_EQ(server->port(), port);
    EXPECT_EQ(expires_in_of_a_send(*server), 120);
}

TEST(ConfigSourcesTest, DotEnvBeatsYaml) {
    TestConfig config;
    config.otp["expiry_seconds"] = "300";
    auto server = start_server(config, {}, std::string("# comment\nOTP_EXPIRY_SECONDS=200\n"));
    ASSERT_TRUE(server);
    EXPECT_EQ(expires_in_of_a_send(*server), 200);
}

TEST(ConfigSourcesTest, EnvironmentBeatsDotEnv) {
    TestConfig config;
    auto server =
        start_server(config, {{"OTP_EXPIRY_SECONDS", "150"}}, std::string("OTP_EXPIRY_SECONDS=200\n"));
    ASSERT_TRUE(server);
    EXPECT_EQ(expires_in_of_a_send(*server), 150);
}

TEST(ConfigSourcesTest, DebugWithoutSecretStartsWithAWarning) {
    TestConfig config;
    config.token.erase("secret");
    auto server = start_server(config, {{"DEBUG", "true"}});
    ASSERT_TRUE(server);
    const auto warning = wait_for_event(*server, "config.token_key_generated", 1s);
    ASSERT_TRUE(warning) << server->stdout_text();
    EXPECT_EQ(json_string(parse_json(*warning), "level"), "warn");
    // The console plugin says, as itself, that it is for development.
    const auto console = wait_for_event(*server, "sms.console_provider", 1s);
    ASSERT_TRUE(console) << server->stdout_text();
    EXPECT_EQ(json_string(parse_json(*console), "plugin"), "console") << *console;
    // It still issues working tokens.
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550141", "+12025550141");
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550141", code)).status, 200);
}

// A server whose SMS provider takes 1.5 s per message, so a send is easy to catch in flight.
TestConfig slow_provider_config() {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["delay_ms"] = "1500";
    config.server["shutdown_grace_ms"] = "8000";
    return config;
}

// Starts a send-otp on its own connection, waits until it is inside the slow provider, then
// sends SIGTERM and waits for the drain to begin.
std::future<HttpResponse> sigterm_during_a_send(ServerProcess& server, const std::string& number) {
    const int port = server.port();
    auto in_flight = std::async(std::launch::async, [port, number] {
        HttpClient client(port, std::chrono::seconds(20));
        return client.post_json(kSendOtp, send_body("+1", number));
    });
    // The provider sleeps 1.5 s; 400 ms is ample for the request to get there.
    std::this_thread::sleep_for(400ms);
    server.send_signal(SIGTERM);
    EXPECT_TRUE(wait_for_event(server, "server.draining", 5s)) << server.stdout_text();
    return in_flight;
}

TEST(ShutdownTest, SigtermFinishesTheInFlightRequestAndExitsZero) {
    auto server = start_server(slow_provider_config());
    ASSERT_TRUE(server);
    auto in_flight = sigterm_during_a_send(*server, "2025550142");

    const auto response = in_flight.get();
    EXPECT_EQ(response.status, 200) << response.body << response.error;
    const auto exit_code = server->wait_exit(12s);
    ASSERT_TRUE(exit_code) << "still running after the grace period";
    EXPECT_EQ(*exit_code, 0) << server->stderr_text();
    EXPECT_TRUE(wait_for_event(*server, "server.stopped", 1s)) << server->stdout_text();
}

TEST(ShutdownTest, NewRequestsWhileDrainingAreRefused) {
    auto server = start_server(slow_provider_config());
    ASSERT_TRUE(server);
    // A keep-alive connection opened before the signal.
    RawConnection idle(server->port());
    ASSERT_TRUE(idle.send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    ASSERT_TRUE(idle.read_response(5s));
    auto in_flight = sigterm_during_a_send(*server, "2025550143");

    const std::string body = send_body("+1", "2025550144");
    ASSERT_TRUE(
        idle.send(std::string("POST ") + kSendOtp +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto refused = idle.read_response(5s);
    ASSERT_TRUE(refused) << "no answer while draining";
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(json_string(parse_json(refused->body), "error"), "SHUTTING_DOWN") << refused->body;
    std::string connection = refused->headers.get("Connection").value_or("");
    for (auto& c : connection) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(connection, "close");

    EXPECT_EQ(in_flight.get().status, 200);
    EXPECT_EQ(server->wait_exit(12s), 0);
}

// While draining, the admin listener still serves the metrics (the last scrape), and its
// health check says the server is going.
TEST(ShutdownTest, WhileDrainingTheAdminListenerServesMetricsAndRefusesHealth) {
    auto server = start_server(slow_provider_config());
    ASSERT_TRUE(server);
    auto in_flight = sigterm_during_a_send(*server, "2025550145");

    const auto metrics = HttpClient(server->admin_port()).get(kMetrics);
    EXPECT_EQ(metrics.status, 200) << metrics.body;
    EXPECT_NE(metrics.body.find("testino_http_requests_total"), std::string::npos);
    EXPECT_TRUE(is_api_error(HttpClient(server->admin_port()).get(kAdminHealth), 503, "SHUTTING_DOWN"));
    EXPECT_TRUE(is_api_error(HttpClient(server->port()).get(kHealth), 503, "SHUTTING_DOWN"));

    EXPECT_EQ(in_flight.get().status, 200);
    EXPECT_EQ(server->wait_exit(12s), 0);
}

TEST(ShutdownTest, SigintExitsZero) {
    auto server = start_server(TestConfig());
    ASSERT_TRUE(server);
    server->send_signal(SIGINT);
    EXPECT_EQ(server->wait_exit(10s), 0) << server->stderr_text();
    EXPECT_TRUE(wait_for_event(*server, "server.stopped", 1s));
}

TEST(ShutdownTest, IdleSigtermExitsZeroAndLogsBothPhases) {
    auto server = start_server(TestConfig());
    ASSERT_TRUE(server);
    server->send_signal(SIGTERM);
    EXPECT_EQ(server->wait_exit(10s), 0) << server->stderr_text();
    EXPECT_TRUE(wait_for_event(*server, "server.draining", 1s));
    EXPECT_TRUE(wait_for_event(*server, "server.stopped", 1s));
}

}  // namespace
}  // namespace testino::test
