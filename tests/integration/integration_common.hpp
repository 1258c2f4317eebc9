// Shared pieces of the integration tests: a config builder with loopback/port-0 defaults,
// request bodies, and checks for the API's JSON replies, logs and tokens.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
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

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns
// whether it held. For waiting on background effects without asserting on time.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));
// eventually(counter >= at_least)
bool reaches(const std::atomic<int>& counter, int at_least,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Calls `start` until it does not throw std::runtime_error, at most three times, picking
// `port` again before each retry: a port that was free may be taken before a test server
// (Redis, Postgres) binds it.
void start_on_a_free_port(int& port, const std::function<void()>& start);

// The OTP store's entry in the admin listener's health details, and the response's status.
struct StoreHealth {
    long status = 0;
    std::string name;   // the store plugin's
    std::string state;  // "up" or "down"
    std::string detail;
};
StoreHealth store_health(const ServerProcess& server);
bool wait_until_store_healthy(const ServerProcess& server,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A send-otp and a verify-otp for +1 `number` both answer 503 STORE_UNAVAILABLE, the two
// within `limit` (a store that is down answers fast instead of holding requests).
::testing::AssertionResult store_unavailable_within(HttpClient& client, const std::string& number,
                                                    std::chrono::milliseconds limit);
// A code sent to +1 `number` (read from the console provider's log) verifies: 200.
::testing::AssertionResult sends_and_verifies(ServerProcess& server, HttpClient& client,
                                              const std::string& number);

// While the store stalls (every call waits out its deadline): `count` send-otps at once to
// +1 <number_prefix><i>, and 400 ms later a GET /openapi.json, which needs no store. A core
// that waited for the store on a reactor thread would answer the document only after the
// sends, and the sends one after another.
struct StalledSends {
    int store_unavailable = 0;                                       // sends answered 503 STORE_UNAVAILABLE
    long long first_send_ms = 0, last_send_ms = 0, document_ms = 0;  // since the sends began
    long document_status = 0;
};
StalledSends sends_while_the_store_stalls(int port, const std::string& number_prefix, int count);

// Load on a server whose store is to fail and recover: `clients` threads, each sending a code
// to its own number and guessing it wrong, until stop(). Every answer but 503 needs the store
// (codes, attempts, rate-limit counters): 200, 400 INVALID_OTP, 429 TOO_MANY_ATTEMPTS or
// RATE_LIMITED count as store_answered; 503 STORE_UNAVAILABLE as unavailable; anything else
// (no answer, a 500) is a test failure and counts as unexpected. A send and guess pair
// taking over `slow_after` counts as slow.
class StoreLoad {
public:
    StoreLoad(int port, int clients = 4, std::chrono::milliseconds slow_after = std::chrono::seconds(3));
    ~StoreLoad();  // stop()
    void stop();

    std::atomic<int> store_answered{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> unexpected{0};
    std::atomic<int> slow{0};

private:
    void run(int port, int client, std::chrono::milliseconds slow_after);
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> threads_;
};

}  // namespace testino::test
