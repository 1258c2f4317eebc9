// Configuration: one YAML file, overridden by a .env file, overridden by the environment.
//
// Every section is checked against a schema (the same sdk::ConfigKey lists plugins
// declare), so unknown keys, wrong types and out-of-range values stop start-up with a
// message naming the file and the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "domain/message_template.hpp"
#include "domain/signing_key.hpp"
#include "observability/logging.hpp"
#include "testino/config_view.hpp"
#include "testino/sms_provider.hpp"

namespace testino {

// Any reason the server cannot start; main prints it and exits 2.
class StartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The raw inputs: the parsed YAML document and the environment (process over .env).
class ConfigSource {
public:
    // Reads `path` and, when present, `dotenv_path`, and takes the process environment.
    static ConfigSource load(const std::string& path, const std::string& dotenv_path = ".env");
    // For tests: YAML text and an explicit environment.
    static ConfigSource from_string(const std::string& yaml, const std::string& file_label,
                                    std::map<std::string, std::string> env = {});

    const std::string& file() const { return file_; }
    // The node at a dotted path ("sms.twilio"); an undefined node when absent.
    YAML::Node node(const std::string& dotted_path) const;
    std::optional<std::string> env(const std::string& name) const;

private:
    std::string file_;
    YAML::Node root_;
    std::map<std::string, std::string> env_;
};

// One validated section, e.g. "server" or "sms.twilio". Also what plugins read.
class ConfigSection final : public sdk::ConfigView {
public:
    // Validates the section. With `allow_subsections`, keys outside the schema whose value
    // is a mapping are accepted and listed by subsections() (the plugins' own sections).
    // `structured_keys` are keys whose (structured) value the caller reads and checks itself.
    ConfigSection(const ConfigSource& source, std::string path, std::vector<sdk::ConfigKey> schema,
                  bool allow_subsections = false, std::vector<std::string> structured_keys = {});

    bool has(const std::string& key) const override;
    std::string get_string(const std::string& key) const override;
    std::int64_t get_int(const std::string& key) const override;
    bool get_bool(const std::string& key) const override;
    std::vector<std::string> get_list(const std::string& key) const override;
    std::string where(const std::string& key) const override;

    const std::string& path() const { return path_; }
    const std::vector<std::string>& subsections() const { return subsections_; }
    // "path.key: value   # origin" lines, secrets masked, for --check-config.
    void describe(std::ostream& out) const;

private:
    struct Value {
        bool set = false;
        std::string text;
        std::vector<std::string> list;
        std::string origin;  // "default", "file", "env NAME"
    };
    const Value& value(const std::string& key, sdk::ValueType type) const;

    std::string file_;
    std::string path_;
    std::vector<sdk::ConfigKey> schema_;
    std::map<std::string, Value> values_;
    std::vector<std::string> subsections_;
};

// server.tls (config/tls_config.cpp): HTTPS on the public listener. The admin listener
// stays plain HTTP.
struct TlsConfig {
    std::string cert_file;                        // PEM, the certificate then its chain; "" = plain HTTP
    std::string key_file;                         // PEM, unencrypted
    std::chrono::seconds hsts_max_age{31536000};  // Strict-Transport-Security; 0 = none
    bool enabled() const { return !cert_file.empty(); }
};

struct ServerConfig {
    std::string host;
    std::uint16_t port = 8080;
    int threads = 2;
    std::vector<std::string> cors_origins;
    bool cors_allow_credentials = false;  // Access-Control-Allow-Credentials for listed origins
    std::size_t max_body_bytes = 4096;
    std::chrono::milliseconds header_timeout{5000};
    std::chrono::milliseconds body_timeout{10000};
    std::chrono::milliseconds keepalive_timeout{60000};
    std::chrono::milliseconds shutdown_grace{10000};
    bool debug = false;
    bool metrics_enabled = true;  // GET /metrics on the admin listener
    // The admin listener (GET /metrics, GET /health with details); port 0 = none.
    std::string admin_host = "127.0.0.1";
    std::uint16_t admin_port = 9464;
    // Authorization: Bearer token of the admin routes that act (limits.fraud_guard.admin_api);
    // "" = none. A secret: never logged, masked by --check-config.
    std::string admin_token;
    bool docs_enabled = true;     // GET /docs, GET /redoc
    std::string docs_assets_dir;  // "" = <exe dir>/../share/testino/api-ui
    LogLevel log_level = LogLevel::info;
    TlsConfig tls;
};

struct OtpConfig {
    int length = 6;
    std::chrono::seconds expiry{300};
    int max_attempts = 5;
    std::string hmac_secret;  // derived from the token secret when not configured
    std::string
        message_template;      // the seed's key: the default locale's template, unless otp.templates has one
    MessageSettings messages;  // templates per locale, their choice, autofill (config/message_config.cpp)
    bool allow_weaker_than_nist = false;  // length < 6 or expiry > 600 s accepted
    bool allow_voip = false;              // VOIP numbers accepted
    bool require_verification_id = false;
    std::chrono::seconds resend_overlap{120};  // a replaced code stays valid this long
    // The channels a send without `channel` goes through, one per resend ("" = sms only),
    // and how long a step lasts before a resend moves on (app/channel_workflow.hpp).
    std::vector<sdk::Channel> channel_workflow;
    std::chrono::seconds channel_workflow_wait{60};
};

// Access tokens (JWTs) and refresh tokens (config/token_config.cpp).
struct TokenConfig {
    JwtAlgorithm algorithm = JwtAlgorithm::es256;
    std::string secret;  // HS256 only
    // Every key: the one that signs and those published beside it (rotation). One for HS256.
    std::vector<std::shared_ptr<const SigningKey>> keys;
    std::size_t signing_key = 0;  // index into keys
    bool key_generated = false;   // DEBUG without a key: a throwaway one
    bool secret_unused = false;   // token.secret is set but an asymmetric algorithm signs
    std::string issuer;
    std::string audience;  // the aud claim; "" = none
    std::chrono::seconds ttl{3600};
    std::chrono::seconds refresh_ttl{30 * 86400};      // 0 = no refresh tokens
    std::chrono::seconds refresh_max_age{90 * 86400};  // a sign-in's refresh tokens end this long after it
    std::chrono::seconds refresh_reuse_grace{0};       // a just-rotated token is "raced", not "reused"
    std::chrono::seconds jwks_max_age{300};            // Cache-Control of /.well-known/jwks.json
    // Where each key came from, for --check-config ("file keys/a.pem"); same order as keys.
    std::vector<std::string> key_origins;
};

struct SmsConfig {
    // Plugin names (or paths to a .so) in the order a send tries them.
    std::vector<std::string> providers;
    // Calling code without '+' -> its own ordered providers; other codes use `providers`.
    std::map<std::string, std::vector<std::string>> routes;
    int workers = 4;
    std::size_t queue_size = 256;
    std::chrono::milliseconds timeout{10000};
    // How long the server remembers which number a sent message went to, for its delivery
    // receipt (providers may report hours later).
    std::chrono::seconds receipt_ttl{86400};
};

struct StoreConfig {
    std::string backend;  // a plugin name or a path to a .so
};

// The header a trusted proxy names the client in; only that one is read, since a proxy
// that appends to one passes the other through from the client untouched.
enum class ClientAddressHeader { x_forwarded_for, forwarded };

// limits.fraud_guard (app/fraud_guard.hpp): blocks number prefixes whose codes are not verified.
struct FraudGuardConfig {
    bool enabled = false;
    int prefix_digits = 6;  // of the E.164 number without '+', calling code included
    std::chrono::seconds window{3600};
    int min_sends = 20;           // sends to a prefix in the window before its conversion counts
    double min_conversion = 0.2;  // verified / sent, 0-1
    std::chrono::seconds block{3600};
    bool shadow = false;                 // log and count what would be blocked, block nothing
    std::vector<std::string> safe_list;  // E.164 numbers or prefixes, digits only (no '+')
    bool admin_api = false;              // the admin listener's /fraud-guard routes (need server.admin_token)
};

// Abuse limits; a count of 0 switches that limit off.
struct LimitsConfig {
    std::chrono::seconds number_cooldown{30};
    int number_sends = 5;
    std::chrono::seconds number_send_window{3600};
    int number_failed_verifies = 10;      // per number and client address
    int number_failed_verifies_all = 50;  // per number, from every address together
    std::chrono::seconds number_verify_window{3600};
    int ip_sends = 20;
    int ip_verifies = 60;
    int ip_refreshes = 120;  // refreshes and logouts
    std::chrono::seconds ip_window{3600};
    std::vector<std::string> trusted_proxies;
    ClientAddressHeader client_address_header = ClientAddressHeader::x_forwarded_for;
    int ipv6_prefix_length = 64;                 // IPv6 clients are limited per network of this size
    std::vector<std::string> country_allowlist;  // calling codes, without '+'; empty = all
    int country_sends = 0;
    std::chrono::seconds country_window{3600};
    int budget_per_hour = 1000;
    int budget_per_day = 10000;
    int budget_lease = 10;  // budget units an instance takes at once (at most 1% of the budget); 1 = none
    FraudGuardConfig fraud_guard;
};

// A number that receives no SMS and verifies with a fixed code (store reviewers, frontend
// development). Rate limits still apply.
struct TestNumber {
    std::string e164;
    std::string code;
    std::int64_t expires_at = 0;  // Unix time the entry stops working; 0 = never
};

// webhooks (app/webhook_outbox.hpp): signed lifecycle events, delivered from an outbox in
// the store. No urls: off.
struct WebhookConfig {
    std::vector<std::string> urls;
    std::string secret;               // the key bytes of webhooks.secret ("whsec_" + base64)
    std::vector<std::string> events;  // "otp.sent", ...; empty = all
    bool mask_numbers = true;
    std::chrono::milliseconds timeout{5000};
    int max_attempts = 10;
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{600000};
    int workers = 2;
    std::chrono::milliseconds poll_interval{500};
    bool enabled() const { return !urls.empty(); }
};

struct AppConfig {
    std::string file;
    ServerConfig server;
    OtpConfig otp;
    TokenConfig token;
    SmsConfig sms;
    StoreConfig store;
    LimitsConfig limits;
    WebhookConfig webhooks;
    std::vector<TestNumber> test_numbers;
    std::filesystem::path plugin_dir;
    std::vector<ConfigSection> sections;  // server, otp, token, limits, sms, store, plugins, webhooks
    const ConfigSection& section(const std::string& path) const;
};

// Validates the core sections and builds the typed config. Plugin sections are checked
// later, against the plugins' own schemas. Throws StartupError.
AppConfig load_app_config(const ConfigSource& source, const std::filesystem::path& default_plugin_dir);

// Only plugins.dir, for --list-plugins: listing needs no valid rest of the config.
std::filesystem::path plugin_directory(const ConfigSource& source,
                                       const std::filesystem::path& default_plugin_dir);

// The closest of `candidates` to `word` (edit distance <= 2), or "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// Parses a .env file's text: KEY=VALUE lines, `export ` prefix, # comments, quotes.
std::map<std::string, std::string> parse_dotenv(const std::string& text, const std::string& file);

}  // namespace testino
