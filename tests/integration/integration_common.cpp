#include "integration_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace testino::test {
namespace {

void emit_section(std::ostringstream& out, const std::string& name,
                  const std::map<std::string, std::string>& keys,
                  const std::map<std::string, std::map<std::string, std::string>>& nested = {}) {
    if (keys.empty() && nested.empty()) return;
    out << name << ":\n";
    for (const auto& [key, value] : keys) out << "  " << key << ": " << value << "\n";
    for (const auto& [section, section_keys] : nested) {
        if (section_keys.empty()) {
            out << "  " << section << ": {}\n";
            continue;
        }
        out << "  " << section << ":\n";
        for (const auto& [key, value] : section_keys) out << "    " << key << ": " << value << "\n";
    }
}

std::string json_quote(const std::string& text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    return buffer.GetString();
}

std::optional<std::string> base64url_decode(const std::string& in) {
    std::string out;
    int bits = 0;
    unsigned value = 0;
    for (const char c : in) {
        int digit;
        if (c >= 'A' && c <= 'Z')
            digit = c - 'A';
        else if (c >= 'a' && c <= 'z')
            digit = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            digit = c - '0' + 52;
        else if (c == '-')
            digit = 62;
        else if (c == '_')
            digit = 63;
        else
            return std::nullopt;  // JWTs use unpadded base64url only
        value = (value << 6) | static_cast<unsigned>(digit);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((value >> bits) & 0xFF));
        }
    }
    return out;
}

std::string base64url_encode(const unsigned char* data, std::size_t size) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    unsigned value = 0;
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        value = (value << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(value >> bits) & 0x3F]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(value << (6 - bits)) & 0x3F]);
    return out;
}

// What the server says when it cannot bind its admin listener.
constexpr const char* kAdminBindFailure = "(server.admin_host, server.admin_port)";

bool is_console_message_to(const std::string& line, const std::string& e164) {
    if (!is_log_event(line, "sms.console.message")) return false;
    return json_string(parse_json(line), "to") == e164;
}

}  // namespace

std::string server_binary() { return TESTINO_SERVER_BINARY; }
std::string plugin_dir() { return TESTINO_PLUGIN_DIR; }
std::string test_plugin(const std::string& file_name) {
    return std::string(TESTINO_TEST_PLUGIN_DIR) + "/" + file_name;
}

ProcessResult run(const std::string& yaml, std::vector<std::string> args,
                  std::map<std::string, std::string> env) {
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.config_yaml = yaml;
    spec.args = std::move(args);
    spec.env = std::move(env);
    return ServerProcess::run_to_exit(spec);
}

::testing::AssertionResult fails_to_start(const ProcessResult& result,
                                          const std::vector<std::string>& fragments) {
    auto failure = [&](const std::string& what) {
        return ::testing::AssertionFailure()
               << what << "\n  exit: " << result.exit_code << (result.timed_out ? " (timed out)" : "")
               << "\n  stderr: " << result.stderr_text << "\n  stdout: " << result.stdout_text;
    };
    if (result.exit_code != 2) return failure("exit code is not 2");
    if (result.stderr_text.rfind("testino-server: ", 0) != 0) {
        return failure("stderr does not start with \"testino-server: \"");
    }
    for (const auto& fragment : fragments) {
        if (result.stderr_text.find(fragment) == std::string::npos) {
            return failure("stderr does not mention \"" + fragment + "\"");
        }
    }
    if (result.stdout_text.find("server.listening") != std::string::npos) {
        return failure("it logged server.listening");
    }
    return ::testing::AssertionSuccess();
}

TestConfig::TestConfig()
    // The docs pages are off unless a test (docs_pages_test.cpp, tests/browser) turns them on
    // with its own docs_assets_dir: other servers neither read the files nor warn of them.
    : server{{"host", "127.0.0.1"},
             {"port", "0"},
             {"threads", "2"},
             {"shutdown_grace_ms", "5000"},
             {"docs_enabled", "false"}},
      token{{"secret", json_quote(kTokenSecret)}},
      // Every request of a test comes from 127.0.0.1 and many reuse a number: the abuse
      // limits are off unless a test (limits_test.cpp) switches one on.
      limits{{"number_cooldown_seconds", "0"},
             {"number_sends_per_window", "0"},
             {"number_failed_verifies_per_window", "0"},
             {"number_failed_verifies_all_addresses_per_window", "0"},
             {"ip_sends_per_window", "0"},
             {"ip_verifies_per_window", "0"},
             {"ip_refreshes_per_window", "0"},
             {"budget_sends_per_hour", "0"},
             {"budget_sends_per_day", "0"}},
      sms{{"provider", "console"}},
      store{{"backend", "memory"}},
      plugins{{"dir", json_quote(plugin_dir())}} {}

TestConfig& TestConfig::use_test_sink() {
    sms["provider"] = json_quote(test_plugin("sms_test_sink.so"));
    sms_sections["test_sink"]["outbox"] = json_quote(std::string("@TMP@/") + kOutboxFile);
    return *this;
}

std::string TestConfig::yaml() const {
    std::ostringstream out;
    emit_section(out, "server", server);
    emit_section(out, "otp", otp);
    emit_section(out, "token", token);
    emit_section(out, "limits", limits);
    emit_section(out, "sms", sms, sms_sections);
    emit_section(out, "store", store, store_sections);
    emit_section(out, "plugins", plugins);
    out << extra_yaml;
    return out.str();
}

ProcessSpec TestConfig::spec(std::map<std::string, std::string> env) const {
    TestConfig config = *this;
    // Each server its own admin listener on a free port: the default (9464) may be held by
    // another server on this machine.
    if (!config.server.count("admin_port"))
        config.server["admin_port"] = std::to_string(free_loopback_port());
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.config_yaml = config.yaml();
    spec.env = std::move(env);
    return spec;
}

std::unique_ptr<ServerProcess> start_server(const TestConfig& config, std::map<std::string, std::string> env,
                                            std::optional<std::string> dotenv) {
    for (int attempt = 1;; ++attempt) {
        ProcessSpec spec = config.spec(env);
        spec.dotenv = dotenv;
        try {
            return std::make_unique<ServerProcess>(spec);
        } catch (const std::exception& e) {
            // Another process took the admin port spec() picked before the server bound it.
            const bool admin_port_taken = !config.server.count("admin_port") &&
                                          std::string(e.what()).find(kAdminBindFailure) != std::string::npos;
            if (admin_port_taken && attempt < 3) continue;
            ADD_FAILURE() << "server did not start: " << e.what() << "\n--- config ---\n"
                          << *spec.config_yaml;
            return nullptr;
        }
    }
}

std::optional<std::string> wait_for_event(ServerProcess& server, const std::string& event,
                                          std::chrono::milliseconds timeout) {
    return server.wait_for_log([&](const std::string& line) { return is_log_event(line, event); }, timeout);
}

std::optional<std::string> wait_for_event_where(ServerProcess& server, const std::string& event,
                                                const char* field, const std::string& value,
                                                std::chrono::milliseconds timeout) {
    return server.wait_for_log(
        [&](const std::string& line) {
            return is_log_event(line, event) && json_string(parse_json(line), field) == value;
        },
        timeout);
}

std::string send_body(const std::string& country_code, const std::string& mobile_number) {
    return "{\"country_code\":" + json_quote(country_code) +
           ",\"mobile_number\":" + json_quote(mobile_number) + "}";
}

std::string verify_body(const std::string& country_code, const std::string& mobile_number,
                        const std::string& otp) {
    return "{\"country_code\":" + json_quote(country_code) +
           ",\"mobile_number\":" + json_quote(mobile_number) + ",\"otp\":" + json_quote(otp) + "}";
}

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    return doc;
}

std::string json_string(const rapidjson::Value& object, const char* member) {
    if (!object.IsObject()) return "";
    const auto found = object.FindMember(member);
    if (found == object.MemberEnd() || !found->value.IsString()) return "";
    return found->value.GetString();
}

std::optional<long long> json_int(const rapidjson::Value& object, const char* member) {
    if (!object.IsObject()) return std::nullopt;
    const auto found = object.FindMember(member);
    if (found == object.MemberEnd() || !found->value.IsInt64()) return std::nullopt;
    return found->value.GetInt64();
}

::testing::AssertionResult is_api_error(const HttpResponse& response, long status, const std::string& code,
                                        const std::optional<std::string>& field) {
    auto failure = [&](const std::string& what) {
        return ::testing::AssertionFailure()
               << what << "\n  expected: " << status << " " << code
               << (field ? " field=" + *field : std::string()) << "\n  got: " << response.status << " "
               << response.body << (response.error.empty() ? "" : " [" + response.error + "]");
    };
    if (response.status != status) return failure("wrong status");
    if (response.header("Content-Type").rfind("application/json", 0) != 0) {
        return failure("Content-Type is \"" + response.header("Content-Type") + "\"");
    }
    if (response.header("X-Request-Id").empty()) return failure("no X-Request-Id");
    const auto doc = parse_json(response.body);
    if (doc.HasParseError() || !doc.IsObject()) return failure("body is not a JSON object");
    if (!doc.HasMember("success") || !doc["success"].IsBool() || doc["success"].GetBool()) {
        return failure("success is not false");
    }
    if (json_string(doc, "error") != code) return failure("wrong error code");
    if (json_string(doc, "message").empty()) return failure("message missing or empty");
    if (status == 422) {
        if (!doc.HasMember("field") || !doc["field"].IsString()) return failure("422 without field");
        if (field && json_string(doc, "field") != *field) return failure("wrong field");
    }
    return ::testing::AssertionSuccess();
}

std::size_t console_message_count(ServerProcess& server, const std::string& e164) {
    std::size_t count = 0;
    for (const auto& line : server.log_lines()) count += is_console_message_to(line, e164) ? 1 : 0;
    return count;
}

std::optional<std::string> console_code(ServerProcess& server, const std::string& e164, std::size_t nth) {
    const auto line = server.wait_for_log_count(
        [&](const std::string& l) { return is_console_message_to(l, e164); }, nth, 5s);
    if (!line) return std::nullopt;
    return code_in_text(json_string(parse_json(*line), "text"));
}

std::string code_in_text(const std::string& text) {
    static const std::regex digits("[0-9]+");
    std::smatch match;
    return std::regex_search(text, match, digits) ? match.str() : "";
}

std::string send_and_read_console_code(ServerProcess& server, HttpClient& client,
                                       const std::string& country_code, const std::string& mobile_number,
                                       const std::string& e164) {
    const std::size_t before = console_message_count(server, e164);
    const auto response = client.post_json(kSendOtp, send_body(country_code, mobile_number));
    if (response.status != 200) {
        ADD_FAILURE() << "send-otp answered " << response.status << " " << response.body;
        return "";
    }
    const auto code = console_code(server, e164, before + 1);
    if (!code || code->empty()) {
        ADD_FAILURE() << "no console SMS to " << e164 << " in the log:\n" << server.stdout_text();
        return "";
    }
    return *code;
}

std::vector<rapidjson::Document> outbox_entries(const ServerProcess& server) {
    std::vector<rapidjson::Document> entries;
    for (const auto& line : complete_lines(read_text_file(server.temp_file(kOutboxFile)))) {
        if (!line.empty()) entries.push_back(parse_json(line));
    }
    return entries;
}

std::optional<DecodedJwt> decode_jwt(const std::string& token, const std::string& secret) {
    const auto first = token.find('.');
    const auto second = token.find('.', first == std::string::npos ? first : first + 1);
    if (first == std::string::npos || second == std::string::npos) return std::nullopt;
    const auto header = base64url_decode(token.substr(0, first));
    const auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
    if (!header || !payload) return std::nullopt;
    DecodedJwt jwt;
    jwt.header = parse_json(*header);
    jwt.payload = parse_json(*payload);
    if (jwt.header.HasParseError() || jwt.payload.HasParseError()) return std::nullopt;

    const std::string signing_input = token.substr(0, second);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_size);
    jwt.signature_valid = base64url_encode(mac, mac_size) == token.substr(second + 1);
    return jwt;
}

int free_loopback_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        close(fd);
        throw std::runtime_error("bind to a free port failed");
    }
    close(fd);
    return ntohs(address.sin_port);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= give_up) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

bool reaches(const std::atomic<int>& counter, int at_least, std::chrono::milliseconds timeout) {
    return eventually([&] { return counter.load() >= at_least; }, timeout);
}

void start_on_a_free_port(int& port, const std::function<void()>& start) {
    for (int attempt = 0;; ++attempt) {
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 2) throw;
            port = free_loopback_port();
        }
    }
}

StoreHealth store_health(const ServerProcess& server) {
    const auto response = HttpClient(server.admin_port()).get(kAdminHealth);
    StoreHealth health{response.status, "", "", ""};
    const auto body = parse_json(response.body);
    if (body.HasParseError() || !body.IsObject() || !body.HasMember("plugins") ||
        !body["plugins"].IsArray()) {
        return health;
    }
    for (const auto& plugin : body["plugins"].GetArray()) {
        if (json_string(plugin, "kind") == "otp_store") {
            health.name = json_string(plugin, "name");
            health.state = json_string(plugin, "state");
            health.detail = json_string(plugin, "detail");
        }
    }
    return health;
}

bool wait_until_store_healthy(const ServerProcess& server, std::chrono::milliseconds timeout) {
    return eventually([&] { return store_health(server).status == 200; }, timeout);
}

StoreLoad::StoreLoad(int port, int clients, std::chrono::milliseconds slow_after) {
    for (int client = 0; client < clients; ++client) {
        threads_.emplace_back([this, port, client, slow_after] { run(port, client, slow_after); });
    }
}

StoreLoad::~StoreLoad() { stop(); }

void StoreLoad::stop() {
    stopping_.store(true);
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

void StoreLoad::run(int port, int client, std::chrono::milliseconds slow_after) {
    HttpClient http(port);
    const std::string number = "20255501" + std::to_string(60 + client);
    while (!stopping_.load()) {
        const auto started = std::chrono::steady_clock::now();
        const auto sent = http.post_json(kSendOtp, send_body("+1", number));
        const auto guessed = http.post_json(kVerifyOtp, verify_body("+1", number, "000000"));
        if (std::chrono::steady_clock::now() - started > slow_after) slow.fetch_add(1);
        for (const auto* response : {&sent, &guessed}) {
            if (is_api_error(*response, 503, "STORE_UNAVAILABLE")) {
                unavailable.fetch_add(1);
            } else if (response->status == 200 || is_api_error(*response, 400, "INVALID_OTP") ||
                       is_api_error(*response, 429, "TOO_MANY_ATTEMPTS") ||
                       is_api_error(*response, 429, "RATE_LIMITED")) {
                store_answered.fetch_add(1);
            } else {
                unexpected.fetch_add(1);
                ADD_FAILURE() << response->status << " " << response->body << response->error;
            }
        }
    }
}

::testing::AssertionResult store_unavailable_within(HttpClient& client, const std::string& number,
                                                    std::chrono::milliseconds limit) {
    const auto started = std::chrono::steady_clock::now();
    const auto sent = client.post_json(kSendOtp, send_body("+1", number));
    const auto verified = client.post_json(kVerifyOtp, verify_body("+1", number, "123456"));
    const auto took = std::chrono::steady_clock::now() - started;
    for (const auto* response : {&sent, &verified}) {
        if (!is_api_error(*response, 503, "STORE_UNAVAILABLE")) {
            return ::testing::AssertionFailure() << "not 503 STORE_UNAVAILABLE: " << response->status << " "
                                                 << response->body << response->error;
        }
    }
    if (took > limit) {
        return ::testing::AssertionFailure()
               << "answered in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
               << " ms, over " << limit.count() << " ms";
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult sends_and_verifies(ServerProcess& server, HttpClient& client,
                                              const std::string& number) {
    const std::string code = send_and_read_console_code(server, client, "+1", number, "+1" + number);
    if (code.size() != 6) return ::testing::AssertionFailure() << "no code was sent: '" << code << "'";
    const auto verified = client.post_json(kVerifyOtp, verify_body("+1", number, code));
    if (verified.status != 200) {
        return ::testing::AssertionFailure() << "verify-otp: " << verified.status << " " << verified.body;
    }
    return ::testing::AssertionSuccess();
}

StalledSends sends_while_the_store_stalls(int port, const std::string& number_prefix, int count) {
    const auto start = std::chrono::steady_clock::now();
    const auto since_start = [start] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
            .count();
    };
    std::atomic<int> store_unavailable{0};
    std::atomic<long long> first_send_ms{1'000'000};
    std::atomic<long long> last_send_ms{0};
    std::vector<std::thread> sends;
    for (int i = 0; i < count; ++i) {
        sends.emplace_back([&, i] {
            HttpClient own(port);
            const auto response = own.post_json(kSendOtp, send_body("+1", number_prefix + std::to_string(i)));
            const long long ms = since_start();
            if (is_api_error(response, 503, "STORE_UNAVAILABLE")) ++store_unavailable;
            last_send_ms = std::max(last_send_ms.load(), ms);
            first_send_ms = std::min(first_send_ms.load(), ms);
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the sends reach the server
    StalledSends result;
    result.document_status = HttpClient(port).get("/openapi.json").status;
    result.document_ms = since_start();
    for (auto& send : sends) send.join();
    result.store_unavailable = store_unavailable.load();
    result.first_send_ms = first_send_ms.load();
    result.last_send_ms = last_send_ms.load();
    return result;
}

}  // namespace testino::test
