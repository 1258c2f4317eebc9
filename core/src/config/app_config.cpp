// The core's own config: the schema of its sections (server, otp, token, limits, sms,
// store, plugins), test numbers, and AppConfig built from a ConfigSource.
#include <algorithm>
#include <cctype>

#include "config/app_config_parts.hpp"
#include "config/config.hpp"
#include "config/config_text.hpp"
#include "domain/otp_crypto.hpp"
#include "domain/phone.hpp"
#include "http/client_ip.hpp"

namespace testino {
namespace {

using namespace config_detail;
using sdk::ConfigKey;
using sdk::ValueType;

const std::vector<ConfigKey>& server_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("host", ValueType::string, "0.0.0.0", "HOST", "address to listen on"),
        config_key("port", ValueType::integer, "8080", "PORT", "TCP port; 0 picks a free one", 0, 65535),
        config_key("threads", ValueType::integer, "2", "SERVER_THREADS", "HTTP reactor threads", 1, 64),
        config_key("cors_origins", ValueType::string_list, "", "ALLOWED_ORIGINS",
                   "origins allowed by CORS, exact match; \"*\" allows any without credentials"),
        config_key("cors_allow_credentials", ValueType::boolean, "false", "CORS_ALLOW_CREDENTIALS",
                   "send Access-Control-Allow-Credentials: true to the origins listed in cors_origins"),
        config_key("max_body_bytes", ValueType::integer, "4096", "SERVER_MAX_BODY_BYTES",
                   "largest request body accepted", 64, 1 << 20),
        config_key("header_timeout_ms", ValueType::integer, "5000", "SERVER_HEADER_TIMEOUT_MS",
                   "time allowed to receive a request's headers", 100, 3600000),
        config_key("body_timeout_ms", ValueType::integer, "10000", "SERVER_BODY_TIMEOUT_MS",
                   "time allowed to receive a whole request", 100, 3600000),
        config_key("keepalive_timeout_ms", ValueType::integer, "60000", "SERVER_KEEPALIVE_TIMEOUT_MS",
                   "idle time before a kept-alive connection is closed", 100, 3600000),
        config_key("shutdown_grace_ms", ValueType::integer, "10000", "SERVER_SHUTDOWN_GRACE_MS",
                   "time to finish in-flight requests after SIGTERM", 0, 600000),
        config_key("debug", ValueType::boolean, "false", "DEBUG",
                   "development mode: a missing token secret is generated"),
        config_key("log_level", ValueType::string, "info", "LOG_LEVEL", "debug, info, warn or error"),
        config_key("metrics_enabled", ValueType::boolean, "true", "METRICS_ENABLED",
                   "serve GET /metrics (Prometheus text format) on the admin listener"),
        config_key(
            "admin_host", ValueType::string, "127.0.0.1", "ADMIN_HOST",
            "address of the admin listener (GET /metrics, GET /health with plugin details, and "
            "with limits.fraud_guard.admin_api the /fraud-guard routes, which need server.admin_token); "
            "keep it private"),
        config_key("admin_port", ValueType::integer, "9464", "ADMIN_PORT",
                   "TCP port of the admin listener; 0 switches it off", 0, 65535),
        sdk::mark_secret(
            config_key("admin_token", ValueType::string, "", "ADMIN_TOKEN",
                       "bearer token of the admin listener's /fraud-guard routes, at least 32 bytes; "
                       "required by limits.fraud_guard.admin_api")),
        config_key("docs_enabled", ValueType::boolean, "true", "DOCS_ENABLED",
                   "serve the API docs pages GET /docs (Swagger UI) and GET /redoc"),
        config_key("docs_assets_dir", ValueType::string, "", "DOCS_ASSETS_DIR",
                   "folder holding the npm packages swagger-ui-dist/ and redoc/ (a node_modules); "
                   "default <exe dir>/../share/testino/api-ui"),
    };
    return keys;
}

const std::vector<ConfigKey>& otp_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("length", ValueType::integer, "6", "OTP_LENGTH",
                   "digits in a code; below 6 needs allow_weaker_than_nist", 4, 10),
        config_key("expiry_seconds", ValueType::integer, "300", "OTP_EXPIRY_SECONDS",
                   "how long a code is valid; above 600 needs allow_weaker_than_nist", 1, 86400),
        config_key(
            "allow_weaker_than_nist", ValueType::boolean, "false", "OTP_ALLOW_WEAKER_THAN_NIST",
            "accept codes shorter than 6 digits or valid longer than 10 minutes (NIST SP 800-63B 5.1.3)"),
        config_key("allow_voip_numbers", ValueType::boolean, "false", "OTP_ALLOW_VOIP_NUMBERS",
                   "send codes to VOIP numbers, which NIST SP 800-63B 5.1.3.3 refuses"),
        config_key("require_verification_id", ValueType::boolean, "false", "OTP_REQUIRE_VERIFICATION_ID",
                   "verify-otp must carry the verification_id its send-otp returned"),
        config_key("resend_overlap_seconds", ValueType::integer, "120", "OTP_RESEND_OVERLAP_SECONDS",
                   "how long a code stays valid after a new one was sent to the same number", 0, 600),
        config_key("max_attempts", ValueType::integer, "5", "OTP_MAX_ATTEMPTS",
                   "wrong guesses allowed per code", 1, 1000),
        sdk::mark_secret(
            config_key("hmac_secret", ValueType::string, "", "OTP_HMAC_SECRET",
                       "key for the stored HMAC of codes, at least 32 bytes; required unless token.algorithm "
                       "is HS256, whose token.secret it is then derived from")),
        config_key("message_template", ValueType::string, kSeedTemplate, "OTP_MESSAGE_TEMPLATE",
                   "SMS text of otp.default_locale when otp.templates has none for it; {code}, {minutes}, "
                   "{seconds} and {app} are replaced"),
        config_key("default_locale", ValueType::string, "en", "OTP_DEFAULT_LOCALE",
                   "BCP 47 locale of a send that names none that has a template"),
        config_key("app_name", ValueType::string, "Testino", "OTP_APP_NAME", "what {app} in a template says"),
        config_key("webotp_domain", ValueType::string, "", "OTP_WEBOTP_DOMAIN",
                   "host name of the site that reads codes (WebOTP, autocomplete=one-time-code): adds the "
                   "last line @<domain> #<code>; \"\" = none"),
        config_key("android_app_hash", ValueType::string, "", "OTP_ANDROID_APP_HASH",
                   "11-character app hash of Android's SMS Retriever, added on its own line; \"\" = none"),
        config_key("max_segments", ValueType::integer, "2", "OTP_MAX_SEGMENTS",
                   "SMS segments a message may cost at most, autofill lines included; checked at start-up", 1,
                   10),
        config_key("channel_workflow", ValueType::string_list, "", "OTP_CHANNEL_WORKFLOW",
                   "channels a send-otp without \"channel\" goes through, one step per resend, e.g. "
                   "[whatsapp, sms, voice]; each of sms, whatsapp, voice at most once; \"\" = sms only"),
        config_key("channel_workflow_wait_seconds", ValueType::integer, "60",
                   "OTP_CHANNEL_WORKFLOW_WAIT_SECONDS",
                   "how long a workflow step lasts: a resend sooner repeats its channel, a later one moves "
                   "to the next",
                   1, 3600),
    };
    return keys;
}

ConfigKey limit(const std::string& name, const std::string& default_value, const std::string& description) {
    std::string env = "LIMIT_" + name;
    std::transform(env.begin(), env.end(), env.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return config_key(name, ValueType::integer, default_value, env, description, 0, 100000000);
}

const std::vector<ConfigKey>& limits_schema() {
    static const std::vector<ConfigKey> keys = {
        limit("number_cooldown_seconds", "30", "least time between two sends to one number"),
        limit("number_sends_per_window", "5", "sends to one number per number_send_window_seconds"),
        limit("number_send_window_seconds", "3600", "window of number_sends_per_window"),
        limit("number_failed_verifies_per_window", "10",
              "failed verifies for one number from one client address, across codes, per "
              "number_verify_window_seconds"),
        limit("number_failed_verifies_all_addresses_per_window", "50",
              "failed verifies for one number from all addresses together (distributed guessing); "
              "at least otp.max_attempts x number_sends_per_window, so that strangers cannot lock "
              "the owner out"),
        limit("number_verify_window_seconds", "3600", "window of both failed-verify limits"),
        limit("ip_sends_per_window", "20", "sends from one client address per ip_window_seconds"),
        limit("ip_verifies_per_window", "60", "verifies from one client address per ip_window_seconds"),
        limit("ip_refreshes_per_window", "120",
              "refreshes and logouts from one client address per ip_window_seconds"),
        limit("ip_window_seconds", "3600", "window of the per-address limits"),
        config_key("trusted_proxies", ValueType::string_list, "", "TRUSTED_PROXIES",
                   "proxies (addresses or CIDR networks) whose client_address_header is believed"),
        config_key("client_address_header", ValueType::string, "x-forwarded-for",
                   "LIMIT_CLIENT_ADDRESS_HEADER",
                   "the header trusted proxies name the client in: x-forwarded-for or forwarded (RFC 7239); "
                   "only that one is read"),
        config_key("ipv6_prefix_length", ValueType::integer, "64", "LIMIT_IPV6_PREFIX_LENGTH",
                   "IPv6 clients share the per-address limits of their network of this prefix length", 1,
                   128),
        config_key("country_allowlist", ValueType::string_list, "", "COUNTRY_ALLOWLIST",
                   "calling codes SMS may go to (\"1\", \"44\"); empty allows all"),
        limit("country_sends_per_window", "0", "sends to one calling code per country_window_seconds"),
        limit("country_window_seconds", "3600", "window of country_sends_per_window"),
        limit("budget_sends_per_hour", "1000", "sends from this deployment per hour, then 503"),
        limit("budget_sends_per_day", "10000", "sends from this deployment per day, then 503"),
        config_key("budget_lease", ValueType::integer, "10", "LIMIT_BUDGET_LEASE",
                   "budget units each server instance takes from the shared counters at once and spends "
                   "itself (one store call per lease, not per send), at most 1% of the budget; units "
                   "unspent when the window ends are lost; 1 charges the store for every send",
                   1, 1000000),
    };
    return keys;
}

const std::vector<ConfigKey>& sms_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("provider", ValueType::string, "", "SMS_PROVIDER",
                   "the one SMS provider plugin: a name (console, twilio, sns) or a path to a .so; "
                   "this or providers is required"),
        config_key("providers", ValueType::string_list, "", "SMS_PROVIDERS",
                   "SMS providers in the order they are tried; the next one takes a send the one "
                   "before could not make (timeout, outage, misconfiguration)"),
        config_key("workers", ValueType::integer, "4", "SMS_WORKERS", "threads that call the provider", 1,
                   256),
        config_key("queue_size", ValueType::integer, "256", "SMS_QUEUE_SIZE",
                   "sends waiting for a worker before SERVICE_BUSY", 1, 1000000),
        config_key("timeout_ms", ValueType::integer, "10000", "SMS_TIMEOUT_MS",
                   "deadline for one send, queueing included", 100, 120000),
        config_key("receipt_ttl_seconds", ValueType::integer, "86400", "SMS_RECEIPT_TTL_SECONDS",
                   "how long a sent message's delivery receipt can still be matched to its number "
                   "(providers report late, after the code expired)",
                   60, 2592000),
    };
    return keys;
}

const std::vector<ConfigKey>& store_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("backend", ValueType::string, "memory", "STORE_BACKEND",
                   "OTP store plugin: a name (memory, redis) or a path to a .so"),
    };
    return keys;
}

const std::vector<ConfigKey>& plugins_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("dir", ValueType::string, "", "TESTINO_PLUGIN_DIR",
                   "where plugins are found; default <exe dir>/../lib/testino/plugins"),
    };
    return keys;
}

}  // namespace

// --- AppConfig -------------------------------------------------------------------------

const ConfigSection& AppConfig::section(const std::string& path) const {
    for (const auto& s : sections) {
        if (s.path() == path) return s;
    }
    throw StartupError("no config section " + path);
}

namespace {

void load_client_address(const ConfigSection& limits, LimitsConfig& l);

// NIST SP 800-63B 5.1.3: a code of at least 20 bits (6 digits) valid for at most 10 minutes.
void check_nist_strength(const ConfigSection& otp, const OtpConfig& o) {
    if (o.allow_weaker_than_nist) return;
    const char* fix =
        "; NIST SP 800-63B 5.1.3 asks for this, or set otp.allow_weaker_than_nist: true to accept it";
    if (o.length < 6) {
        throw StartupError(otp.where("length") + ": " + std::to_string(o.length) +
                           " digits is weaker than 6 (20 bits)" + fix);
    }
    if (o.expiry > std::chrono::seconds(600)) {
        throw StartupError(otp.where("expiry_seconds") + ": " + std::to_string(o.expiry.count()) +
                           " seconds is longer than 10 minutes" + fix);
    }
}

// otp.channel_workflow: known channels, each once. Whether a provider offers them is
// checked when the providers are loaded (app/startup.cpp).
void load_channel_workflow(const ConfigSection& otp, OtpConfig& o) {
    for (const std::string& name : otp.get_list("channel_workflow")) {
        sdk::Channel channel{};
        if (!sdk::parse_channel(name, channel)) {
            throw StartupError(otp.where("channel_workflow") + ": \"" + name +
                               "\" is not a channel; use sms, whatsapp or voice");
        }
        if (std::find(o.channel_workflow.begin(), o.channel_workflow.end(), channel) !=
            o.channel_workflow.end()) {
            throw StartupError(otp.where("channel_workflow") + ": " + name +
                               " appears twice; each channel is one step");
        }
        o.channel_workflow.push_back(channel);
    }
    o.channel_workflow_wait = std::chrono::seconds(otp.get_int("channel_workflow_wait_seconds"));
}

void load_otp(AppConfig& config) {
    const ConfigSection& otp = config.section("otp");
    OtpConfig& o = config.otp;
    o.length = static_cast<int>(otp.get_int("length"));
    o.expiry = std::chrono::seconds(otp.get_int("expiry_seconds"));
    o.max_attempts = static_cast<int>(otp.get_int("max_attempts"));
    o.hmac_secret = otp.get_string("hmac_secret");
    o.message_template = otp.get_string("message_template");
    o.allow_weaker_than_nist = otp.get_bool("allow_weaker_than_nist");
    o.allow_voip = otp.get_bool("allow_voip_numbers");
    o.require_verification_id = otp.get_bool("require_verification_id");
    o.resend_overlap = std::chrono::seconds(otp.get_int("resend_overlap_seconds"));
    check_nist_strength(otp, o);
    load_channel_workflow(otp, o);
    if (!o.hmac_secret.empty() && o.hmac_secret.size() < 32) {
        throw StartupError(otp.where("hmac_secret") + ": must be at least 32 bytes long");
    }
}

void load_limits(AppConfig& config) {
    const ConfigSection& limits = config.section("limits");
    LimitsConfig& l = config.limits;
    auto seconds = [&](const char* name) { return std::chrono::seconds(limits.get_int(name)); };
    auto count = [&](const char* name) { return static_cast<int>(limits.get_int(name)); };
    l.number_cooldown = seconds("number_cooldown_seconds");
    l.number_sends = count("number_sends_per_window");
    l.number_send_window = seconds("number_send_window_seconds");
    l.number_failed_verifies = count("number_failed_verifies_per_window");
    l.number_failed_verifies_all = count("number_failed_verifies_all_addresses_per_window");
    l.number_verify_window = seconds("number_verify_window_seconds");
    l.ip_sends = count("ip_sends_per_window");
    l.ip_verifies = count("ip_verifies_per_window");
    l.ip_refreshes = count("ip_refreshes_per_window");
    l.ip_window = seconds("ip_window_seconds");
    l.trusted_proxies = limits.get_list("trusted_proxies");
    for (const std::string& proxy : l.trusted_proxies) {
        if (!Network::parse(proxy)) {
            throw StartupError(limits.where("trusted_proxies") + ": \"" + proxy +
                               "\" is not an IP address or CIDR network");
        }
    }
    load_client_address(limits, l);
    for (std::string cc : limits.get_list("country_allowlist")) {
        if (!cc.empty() && cc.front() == '+') cc.erase(0, 1);
        std::int64_t n = 0;
        if (!parse_int(cc, n) || n < 1 || n > 999) {
            throw StartupError(limits.where("country_allowlist") + ": \"" + cc +
                               "\" is not a calling code (like \"1\" or \"+44\")");
        }
        l.country_allowlist.push_back(std::to_string(n));
    }
    l.country_sends = count("country_sends_per_window");
    l.country_window = seconds("country_window_seconds");
    l.budget_per_hour = count("budget_sends_per_hour");
    l.budget_per_day = count("budget_sends_per_day");
    l.budget_lease = count("budget_lease");
    for (const char* window : {"number_send_window_seconds", "number_verify_window_seconds",
                               "ip_window_seconds", "country_window_seconds"}) {
        if (limits.get_int(window) < 1) {
            throw StartupError(limits.where(window) + ": a window must be at least 1 second");
        }
    }
}

// server.cors_allow_credentials and the admin listener.
void load_server_exposure(const ConfigSection& server, ServerConfig& s) {
    s.cors_allow_credentials = server.get_bool("cors_allow_credentials");
    s.admin_host = server.get_string("admin_host");
    s.admin_port = static_cast<std::uint16_t>(server.get_int("admin_port"));
    // An address, not a name: what it exposes must be plain from the config. A wildcard is
    // taken when written here (HttpServer warns), never by default.
    if (!IpAddress::parse(s.admin_host)) {
        throw StartupError(server.where("admin_host") + ": expected an IP address such as 127.0.0.1 (or " +
                           "a private address; 0.0.0.0 exposes it everywhere), got \"" + s.admin_host + "\"");
    }
    if (s.admin_port != 0 && s.admin_port == s.port) {
        throw StartupError(server.where("admin_port") + ": must differ from server.port (" +
                           std::to_string(s.port) + "), or be 0 to switch the admin listener off");
    }
    s.admin_token = server.get_string("admin_token");
    check_admin_token(server, s.admin_token);
}

// limits.client_address_header and limits.ipv6_prefix_length.
void load_client_address(const ConfigSection& limits, LimitsConfig& l) {
    const std::string header = lower(trim(limits.get_string("client_address_header")));
    if (header == "x-forwarded-for") {
        l.client_address_header = ClientAddressHeader::x_forwarded_for;
    } else if (header == "forwarded") {
        l.client_address_header = ClientAddressHeader::forwarded;
    } else {
        throw StartupError(limits.where("client_address_header") +
                           ": expected x-forwarded-for or forwarded (RFC 7239), got \"" +
                           limits.get_string("client_address_header") + "\"");
    }
    l.ipv6_prefix_length = static_cast<int>(limits.get_int("ipv6_prefix_length"));
}

}  // namespace

AppConfig load_app_config(const ConfigSource& source, const std::filesystem::path& default_plugin_dir) {
    const std::vector<std::string> sections = {"server", "otp",     "token",        "limits",  "sms",
                                               "store",  "plugins", "test_numbers", "webhooks"};
    for (const auto& entry : source.node("")) {
        if (!entry.first.IsScalar()) {
            throw StartupError(source.file() + ": section names must be plain names, not " +
                               node_kind(entry.first));
        }
        const std::string name = entry.first.as<std::string>();
        if (std::find(sections.begin(), sections.end(), name) == sections.end()) {
            const std::string suggestion = nearest(name, sections);
            throw StartupError(source.file() + ": " + name + ": unknown section" +
                               (suggestion.empty() ? "" : " (did you mean \"" + suggestion + "\"?)") +
                               "; allowed sections: " + join(sections));
        }
    }

    AppConfig config;
    config.file = source.file();
    config.sections.emplace_back(source, "server", server_schema(), false, std::vector<std::string>{"tls"});
    config.sections.emplace_back(source, "server.tls", tls_schema());
    config.sections.emplace_back(source, "otp", otp_schema(), false,
                                 std::vector<std::string>{"templates", "country_locales"});
    config.sections.emplace_back(source, "token", token_schema(), false, std::vector<std::string>{"keys"});
    config.sections.emplace_back(source, "limits", limits_schema(), false,
                                 std::vector<std::string>{"fraud_guard"});
    config.sections.emplace_back(source, "limits.fraud_guard", fraud_guard_schema());
    config.sections.emplace_back(source, "sms", sms_schema(), true, std::vector<std::string>{"routes"});
    config.sections.emplace_back(source, "store", store_schema(), true);
    config.sections.emplace_back(source, "plugins", plugins_schema());
    config.sections.emplace_back(source, "webhooks", webhooks_schema());

    const ConfigSection& server = config.section("server");
    ServerConfig& s = config.server;
    s.host = server.get_string("host");
    s.port = static_cast<std::uint16_t>(server.get_int("port"));
    s.threads = static_cast<int>(server.get_int("threads"));
    s.cors_origins = server.get_list("cors_origins");
    s.max_body_bytes = static_cast<std::size_t>(server.get_int("max_body_bytes"));
    s.header_timeout = std::chrono::milliseconds(server.get_int("header_timeout_ms"));
    s.body_timeout = std::chrono::milliseconds(server.get_int("body_timeout_ms"));
    s.keepalive_timeout = std::chrono::milliseconds(server.get_int("keepalive_timeout_ms"));
    s.shutdown_grace = std::chrono::milliseconds(server.get_int("shutdown_grace_ms"));
    s.debug = server.get_bool("debug");
    s.metrics_enabled = server.get_bool("metrics_enabled");
    s.docs_enabled = server.get_bool("docs_enabled");
    s.docs_assets_dir = server.get_string("docs_assets_dir");
    load_server_exposure(server, s);
    load_tls(config);
    if (!parse_log_level(lower(server.get_string("log_level")), s.log_level)) {
        throw StartupError(server.where("log_level") + ": expected debug, info, warn or error, got \"" +
                           server.get_string("log_level") + "\"");
    }

    load_otp(config);
    load_messages(source, config);
    load_token(source, config);
    load_limits(config);
    load_fraud_guard(config);
    load_webhooks(config);

    config.test_numbers = load_test_numbers(source, config.otp.length, NumberPolicy{config.otp.allow_voip});

    const ConfigSection& sms = config.section("sms");
    SmsConfig& m = config.sms;
    load_sms_routing(source, sms, m);
    m.workers = static_cast<int>(sms.get_int("workers"));
    m.queue_size = static_cast<std::size_t>(sms.get_int("queue_size"));
    m.timeout = std::chrono::milliseconds(sms.get_int("timeout_ms"));
    m.receipt_ttl = std::chrono::seconds(sms.get_int("receipt_ttl_seconds"));

    config.store.backend = config.section("store").get_string("backend");

    config.plugin_dir = plugin_directory(source, default_plugin_dir);
    check_admin_api(config);
    return config;
}

std::filesystem::path plugin_directory(const ConfigSource& source,
                                       const std::filesystem::path& default_plugin_dir) {
    const std::string dir = ConfigSection(source, "plugins", plugins_schema()).get_string("dir");
    return dir.empty() ? default_plugin_dir : std::filesystem::path(dir);
}

}  // namespace testino
