// HTTPS on the public listener (server.tls): the handshake and a request with a certificate
// the test makes with the openssl CLI, TLS 1.0 and 1.1 refused by the server, HSTS, the admin
// listener still plain HTTP, the start-up checks of the files, and what SIGHUP does (the
// certificate is not reloaded: Pistache 0.0.5 cannot). Also the documented limitation that one
// silent TCP connection stalls every new handshake, so that the README is told if it changes.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace testino::test {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// A self-signed P-256 certificate for 127.0.0.1 (and localhost) in <dir>/<name>.crt and
// <dir>/<name>.key.
void make_certificate(const TempDir& dir, const std::string& name) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
        " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
        " -keyout " +
        dir.file(name + ".key") + " -out " + dir.file(name + ".crt") + " 2>" + dir.file(name + ".log");
    ASSERT_EQ(std::system(command.c_str()), 0) << read_text_file(dir.file(name + ".log"));
}

// What `openssl s_client` says of a handshake with 127.0.0.1:<port> (stdout and stderr).
std::string s_client(int port, const std::string& options) {
    const std::string command = "timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                                " " + options + " </dev/null 2>&1";
    std::string output;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
        ::pclose(pipe);
    }
    return output;
}

// A server on <dir>/server.crt and server.key; `more_keys` (", key: value") go into server.tls.
TestConfig tls_config(const TempDir& dir, const std::string& more_keys = "") {
    TestConfig config;
    config.server["tls"] = "{cert_file: " + quoted(dir.file("server.crt")) +
                           ", key_file: " + quoted(dir.file("server.key")) + more_keys + "}";
    return config;
}

class HttpsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        certs_ = new TempDir();
        make_certificate(*certs_, "server");
        server_ = start_server(tls_config(*certs_)).release();
    }
    static void TearDownTestSuite() {
        delete server_;
        delete certs_;
        server_ = nullptr;
        certs_ = nullptr;
    }
    void SetUp() override { ASSERT_NE(server_, nullptr) << "the suite's server did not start"; }

    std::unique_ptr<HttpClient> https_client(std::chrono::milliseconds timeout = 10s) const {
        auto client = std::make_unique<HttpClient>(server_->port(), timeout);
        client->use_https(certs_->file("server.crt"));
        return client;
    }
    std::string ca_option() const {
        return "-CAfile " + certs_->file("server.crt") + " -verify_return_error";
    }

    static inline TempDir* certs_ = nullptr;
    static inline ServerProcess* server_ = nullptr;
};

TEST_F(HttpsTest, HealthAnswersOverAVerifiedHandshake) {
    const auto response = https_client()->get(kHealth);
    EXPECT_EQ(response.status, 200) << response.error;
    EXPECT_EQ(response.body, "{\"status\":\"up\"}");
    EXPECT_TRUE(wait_for_event(*server_, "tls.limitations", 1s))
        << "the start-up warning points to the README";
    const auto listening = wait_for_event(*server_, "server.listening", 1s);
    ASSERT_TRUE(listening);
    EXPECT_TRUE(parse_json(*listening)["tls"].GetBool());
}

TEST_F(HttpsTest, PlainHttpOnThePublicPortGetsNoAnswer) {
    HttpClient plain(server_->port(), 3s);
    const auto response = plain.get(kHealth);
    EXPECT_EQ(response.status, 0) << "an HTTP request is no ClientHello: " << response.body;
}

TEST_F(HttpsTest, PublicRepliesCarryHsts) {
    const auto client = https_client();
    EXPECT_EQ(client->get(kHealth).header("Strict-Transport-Security"), "max-age=31536000");
    const auto error = client->get("/no/such/path");
    EXPECT_TRUE(is_api_error(error, 404, "NOT_FOUND"));
    EXPECT_EQ(error.header("Strict-Transport-Security"), "max-age=31536000");
}

TEST_F(HttpsTest, TheAdminListenerStaysPlainHttpWithoutHsts) {
    HttpClient admin(server_->admin_port());
    const auto health = admin.get(kAdminHealth);
    EXPECT_EQ(health.status, 200) << health.error;
    EXPECT_FALSE(health.headers.has("Strict-Transport-Security"));
    EXPECT_EQ(admin.get(kMetrics).status, 200);
}

TEST_F(HttpsTest, Tls12AndTls13AreAccepted) {
    EXPECT_NE(s_client(server_->port(), ca_option() + " -tls1_2").find("New, TLSv1.2, Cipher is"),
              std::string::npos);
    EXPECT_NE(s_client(server_->port(), ca_option() + " -tls1_3").find("New, TLSv1.3, Cipher is"),
              std::string::npos);
}

// The client is set to security level 0, so that it does offer TLS 1.0 and 1.1 (Debian's
// default level would refuse them on the client's side, and prove nothing). The refusal must
// be the server's protocol_version alert (70), which only the TLS 1.2 minimum sends: without
// it the server's security level still fails these handshakes, later, with internal_error (80).
TEST_F(HttpsTest, Tls10AndTls11AreRefusedByTheServer) {
    for (const char* version : {"-tls1", "-tls1_1"}) {
        const std::string output =
            s_client(server_->port(), ca_option() + " -cipher DEFAULT@SECLEVEL=0 " + version);
        EXPECT_NE(output.find("alert protocol version"), std::string::npos) << version << ":\n" << output;
        EXPECT_EQ(output.find("Cipher is ECDHE"), std::string::npos) << version << ":\n" << output;
    }
}

// Without TCP_NODELAY the reply's second TLS record waited for the client's delayed ACK:
// at least 40 ms (Linux's least delayed-ACK time) on every new connection's first request,
// on top of the handshake: the median of five under 40 ms shows it gone, and keeps a busy
// machine's hiccups out.
TEST_F(HttpsTest, ANewConnectionsFirstReplyIsNotHeldBackByNagle) {
    std::vector<std::chrono::steady_clock::duration> times;
    for (int i = 0; i < 5; ++i) {
        const auto client = https_client();  // its own connection and handshake
        const auto started = std::chrono::steady_clock::now();
        EXPECT_EQ(client->get(kHealth).status, 200);
        times.push_back(std::chrono::steady_clock::now() - started);
    }
    std::sort(times.begin(), times.end());
    EXPECT_LT(times[2], 40ms) << "median of handshake and first request";
}

// README, "HTTPS": Pistache 0.0.5 runs SSL_accept, blocking, on its one accepting thread, so
// a client that sends nothing holds every new handshake; Debian's libpistache0 0.0.5+ds-3
// (the fix of pistache issue 1104) gives each of the handshake's reads and writes 10 s, not
// configurable, then drops that client. Should the wait stop, Pistache fixed the queueing;
// should the request fail, the bound is gone: update the README and the start-up warning.
TEST_F(HttpsTest, ASilentConnectionHoldsNewHandshakesForUpToTenSeconds) {
    RawConnection silent(server_->port());  // connects, never sends a ClientHello
    std::this_thread::sleep_for(200ms);     // accepted: its SSL_accept is waiting
    const auto started = std::chrono::steady_clock::now();
    const auto response = https_client(20s)->get(kHealth);
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(response.status, 200) << response.error;
    EXPECT_GE(waited, 7s) << "no wait: handshakes no longer queue behind a silent client";
    EXPECT_LT(waited, 14s);
    EXPECT_TRUE(silent.peer_closed_within(1s)) << "the silent connection was not dropped";
    HttpClient admin(server_->admin_port(), 2s);
    EXPECT_EQ(admin.get(kAdminHealth).status, 200) << "the admin listener has its own thread";
}

TEST(HttpsReloadTest, SighupKeepsServingTheOldCertificateAndSaysARestartIsNeeded) {
    TempDir certs;
    make_certificate(certs, "server");
    ASSERT_EQ(std::system(("cp " + certs.file("server.crt") + " " + certs.file("old.crt")).c_str()), 0);
    auto server = start_server(tls_config(certs));
    ASSERT_TRUE(server);
    make_certificate(certs, "server");  // a new pair in the configured files
    server->send_signal(SIGHUP);
    const auto warning = wait_for_event(*server, "tls.reload_unsupported", 5s);
    ASSERT_TRUE(warning) << server->stdout_text();
    EXPECT_NE(json_string(parse_json(*warning), "detail").find("README"), std::string::npos);
    EXPECT_TRUE(server->running());

    HttpClient old_ca(server->port());
    old_ca.use_https(certs.file("old.crt"));
    EXPECT_EQ(old_ca.get(kHealth).status, 200) << "the old certificate is still served";
    HttpClient new_ca(server->port());
    new_ca.use_https(certs.file("server.crt"));
    const auto refused = new_ca.get(kHealth);
    EXPECT_EQ(refused.status, 0) << "the new certificate is not: a restart serves it";
    EXPECT_FALSE(refused.error.empty());
    server->send_signal(SIGTERM);
    EXPECT_EQ(server->wait_exit(10s), 0);
}

TEST(HttpsReloadTest, SighupWithoutTlsIsLoggedAndChangesNothing) {
    auto server = start_server(TestConfig());
    ASSERT_TRUE(server);
    server->send_signal(SIGHUP);
    EXPECT_TRUE(wait_for_event(*server, "server.sighup_ignored", 5s)) << server->stdout_text();
    HttpClient client(server->port());
    const auto health = client.get(kHealth);
    EXPECT_EQ(health.status, 200);
    EXPECT_FALSE(health.headers.has("Strict-Transport-Security")) << "plain HTTP never sends HSTS";
}

TEST(HttpsConfigTest, HstsMaxAgeIsConfigurableAndZeroSwitchesItOff) {
    TempDir certs;
    make_certificate(certs, "server");
    for (const auto& [age, expected] :
         {std::pair<const char*, const char*>{"600", "max-age=600"}, {"0", ""}}) {
        auto server = start_server(tls_config(certs, std::string(", hsts_max_age_seconds: ") + age));
        ASSERT_TRUE(server);
        HttpClient client(server->port());
        client.use_https(certs.file("server.crt"));
        const auto health = client.get(kHealth);
        EXPECT_EQ(health.status, 200) << health.error;
        EXPECT_EQ(health.header("Strict-Transport-Security"), expected) << age;
    }
}

TEST(HttpsConfigTest, BothFilesOrNeither) {
    TempDir certs;
    make_certificate(certs, "server");
    TestConfig only_cert;
    only_cert.server["tls"] = "{cert_file: " + quoted(certs.file("server.crt")) + "}";
    EXPECT_TRUE(
        fails_to_start(run(only_cert.yaml()), {"server.tls.cert_file is set", "server.tls.key_file"}));
    EXPECT_TRUE(fails_to_start(run(TestConfig().yaml(), {}, {{"TLS_KEY_FILE", certs.file("server.key")}}),
                               {"TLS_KEY_FILE is set", "server.tls.cert_file"}));
}

TEST(HttpsConfigTest, UnreadableOrBrokenFilesNameTheFile) {
    TempDir certs;
    make_certificate(certs, "server");
    certs.write("garbage.crt", "not a certificate\n");
    TestConfig missing_key;
    missing_key.server["tls"] = "{cert_file: " + quoted(certs.file("server.crt")) +
                                ", key_file: " + quoted(certs.file("absent.key")) + "}";
    EXPECT_TRUE(fails_to_start(run(missing_key.yaml()), {"server.tls.key_file", certs.file("absent.key"),
                                                         "No such file or directory"}));
    TestConfig broken_cert;
    broken_cert.server["tls"] = "{cert_file: " + quoted(certs.file("garbage.crt")) +
                                ", key_file: " + quoted(certs.file("server.key")) + "}";
    EXPECT_TRUE(
        fails_to_start(run(broken_cert.yaml()), {"server.tls.cert_file", "holds no PEM certificate"}));
}

TEST(HttpsConfigTest, AKeyOfAnotherCertificateIsRefusedWithoutShowingIt) {
    TempDir certs;
    make_certificate(certs, "server");
    make_certificate(certs, "other");
    TestConfig config;
    config.server["tls"] = "{cert_file: " + quoted(certs.file("server.crt")) +
                           ", key_file: " + quoted(certs.file("other.key")) + "}";
    const ProcessResult result = run(config.yaml());
    EXPECT_TRUE(fails_to_start(result, {"server.tls.key_file", "does not belong to the certificate"}));
    // Not one line of the key's base64 in the output.
    for (const std::string& line : complete_lines(read_text_file(certs.file("other.key")))) {
        if (line.rfind("-----", 0) == 0) continue;
        EXPECT_EQ(result.stderr_text.find(line), std::string::npos);
        EXPECT_EQ(result.stdout_text.find(line), std::string::npos);
    }
}

TEST(HttpsConfigTest, AnEncryptedKeyIsRefusedInsteadOfPromptingForItsPassphrase) {
    TempDir certs;
    make_certificate(certs, "server");
    const std::string command = "openssl pkey -in " + certs.file("server.key") +
                                " -aes256 -passout pass:secret -out " + certs.file("encrypted.key");
    ASSERT_EQ(std::system(command.c_str()), 0);
    TestConfig config;
    config.server["tls"] = "{cert_file: " + quoted(certs.file("server.crt")) +
                           ", key_file: " + quoted(certs.file("encrypted.key")) + "}";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"server.tls.key_file", "passphrase"}));
}

}  // namespace
}  // namespace testino::test
