// Shared pieces of the integration tests: a config builder with loopback/port-0 defaults,
// request bodies, and checks for the API's JSON replies, logs and tokens.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "server_process.hpp"

namespace testino::test {

using namespace std::chrono_literals;

inline constexpr const char* kTokenSecret = "integration-test-secret-0123456789abcdef";
inline constexpr const char* kSendOtp = "/api/v1/auth/send-otp";
inline constexpr const char* kVerifyOtp = "/api/v1/auth/verify-otp";
inline constexpr const char* kHealth = "/api/v1/health";
// The admin listener's paths (ServerProcess::admin_port()).
inline constexpr const char* kAdminHealth = "/health";
inline constexpr const char* kMetrics = "/metrics";

std::string server_binary();
std::string plugin_dir();
std::string test_plugin(const std::string& file_name);  // absolute path in the test-plugin dir

// A server config; values are emitted verbatim as YAML scalars (quote strings yourself
// when they need it). Each section is a key → value map, so no key is written twice.
struct TestConfig {
    TestConfig();

    std::map<std::string, std::string> server;
    std::map<std::string, std::string> otp;
    std::map<std::string, std::string> token;
    std::map<std::string, std::string> limits;
    std::map<std::string, std::string> sms;
    std::map<std::string, std::string> store;
    std::map<std::string, std::string> plugins;
    // Nested plugin sections, e.g. sms_sections["test_sink"]["outbox"] = "\"@TMP@/outbox\"".
    std::map<std::string, std::map<std::string, std::string>> sms_sections;
    std::map<std::string, std::map<std::string, std::string>> store_sections;

    // Appended verbatim (e.g. a test_numbers list).
    std::string extra_yaml;

    // Uses tests/plugins' sms_test_sink with its outbox at <tmp>/outbox.jsonl.
    TestConfig& use_test_sink();

    std::string yaml() const;
    // The process to run. Unless server["admin_port"] is set, the admin listener gets a port
    // that is free now (a new one each call).
    ProcessSpec spec(std::map<std::string, std::string> env = {}) const;
};

inline constexpr const char* kOutboxFile = "outbox.jsonl";

// Starts a server; a start-up failure fails the calling test with the server's output. An
// admin port someone else took meanwhile is picked again.
std::unique_ptr<ServerProcess> start_server(const TestConfig& config,
                                            std::map<std::string, std::string> env = {},
                                            std::optional<std::string> dotenv = std::nullopt);

// Runs the server on `yaml` (with `args`, `env`) until it exits.
ProcessResult run(const std::string& yaml, std::vector<std::string> args = {},
                  std::map<std::string, std::string> env = {});

// A start-up failure: exit 2, nothing listening, and a one-line story on stderr that
// names the config file and contains every given fragment.
::testing::AssertionResult fails_to_start(const ProcessResult& result,
                                          const std::vector<std::string>& fragments);

// A fixture whose test suite shares one server (tests keep apart by using their own phone
// numbers); Derived provides `static TestConfig suite_config()`. Each test gets a client.
template <typename Derived>
class SharedServerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = start_server(Derived::suite_config()).release(); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(server_, nullptr) << "the suite's server did not start";
        client_ = std::make_unique<HttpClient>(server_->port());
        if (server_->admin_port() != 0) admin_ = std::make_unique<HttpClient>(server_->admin_port());
    }

    static inline ServerProcess* server_ = nullptr;
    std::unique_ptr<HttpClient> client_;
    std::unique_ptr<HttpClient> admin_;  // to the admin listener, unless the suite switched it off
};

// Waits for a log line with the given event.
std::optional<std::string> wait_for_event(ServerProcess& server, const std::string& event,
                                          std::chrono::milliseconds timeout);
// Waits for a log line with the given event whose string `field` is `value`.
std::optional<std::string> wait_for_event_where(ServerProcess& server, const std::string& event,
                                                const char* field, const std::string& value,
                                                std::chrono::milliseconds timeout = 5s);

std::string send_body(const std::string& country_code, const std::string& mobile_number);
std::string verify_body(const std::string& country_code, const std::string& mobile_number,
                        const std::string& otp);

// Parses a body that must be JSON; a parse error leaves doc.HasParseError() for the caller.
rapidjson::Document parse_json(const std::string& text);
std::string json_string(const rapidjson::Value& object, const char* member);  // "" if absent
std::optional<long long> json_int(const rapidjson::Value& object, const char* member);

// The exact error shape: status, JSON content type, X-Request-Id, success false, the error
// code, a non-empty message, and for 422 a string `field` (equal to `field` when given).
::testing::AssertionResult is_api_error(const HttpResponse& response, long status, const std::string& code,
                                        const std::optional<std::string>& field = std::nullopt);

// The latest console SMS to a number, waiting until at least `nth` exist (1-based).
std::optional<std::string> console_code(ServerProcess& server, const std::string& e164, std::size_t nth = 1);
std::size_t console_message_count(ServerProcess& server, const std::string& e164);
// The first run of digits in an SMS text.
std::string code_in_text(const std::string& text);

// POSTs send-otp, expects 200, and returns the code the console plugin logged ("" on failure,
// with the reason recorded as a test failure).
std::string send_and_read_console_code(ServerProcess& server, HttpClient& client,
                                       const std::string& country_code, const std::string& mobile_number,
                                       const std::string& e164);

// The JSON lines the sms_test_sink appended to its outbox.
std::vector<rapidjson::Document> outbox_entries(const ServerProcess& server);

struct DecodedJwt {
    rapidjson::Document header;
    rapidjson::Document payload;
    bool signature_valid = false;  // HS256 over header.payload with the given secret
};
std::optional<DecodedJwt> decode_jwt(const std::string& token, const std::string& secret);

// A port that was free a moment ago (bound to port 0 on loopback, then closed).
int free_loopback_port();

}  // namespace testino::test
