// The webhooks section: where lifecycle events go, the Standard Webhooks signing secret,
// which events, and how hard delivery tries. Checked at start-up: a URL that is not
// absolute http(s), a secret that is not "whsec_" + base64 of 24 to 64 bytes, or an
// unknown event name stops the server, naming the key (never the secret).
#include <algorithm>

#include "app/lifecycle_events.hpp"
#include "config/app_config_parts.hpp"
#include "domain/standard_webhooks.hpp"

namespace testino::config_detail {
namespace {

using sdk::ConfigKey;
using sdk::ValueType;

void check_url(const ConfigSection& section, const std::string& url) {
    const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    const std::size_t host = url.find("://") + 3;
    const bool has_host = scheme && url.size() > host && url[host] != '/' && url[host] != '?';
    const bool clean =
        std::none_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
    if (!scheme || !has_host || !clean) {
        throw StartupError(section.where("urls") + ": \"" + url +
                           "\" is not an absolute http:// or https:// URL (no spaces)");
    }
}

std::string load_secret(const ConfigSection& section) {
    const std::string text = section.get_string("secret");
    const std::string how = "; generate one with: echo whsec_$(openssl rand -base64 32)";
    if (text.empty()) {
        throw StartupError(
            section.where("secret") +
            ": required with webhooks.urls (env WEBHOOK_SECRET): the Standard Webhooks signing "
            "secret receivers verify with" +
            how);
    }
    std::string key;
    if (!decode_webhook_secret(text, key) || key.size() < 24 || key.size() > 64) {
        throw StartupError(section.where("secret") +
                           ": must be \"whsec_\" followed by the base64 of 24 to 64 " + "random bytes" + how);
    }
    return key;
}

}  // namespace

const std::vector<ConfigKey>& webhooks_schema() {
    static const std::vector<ConfigKey> schema = [] {
        std::vector<ConfigKey> keys{
            config_key("urls", ValueType::string_list, "", "WEBHOOK_URLS",
                       "receivers of the lifecycle events (absolute http(s) URLs); none: webhooks off"),
            config_key("secret", ValueType::string, "", "WEBHOOK_SECRET",
                       "Standard Webhooks signing secret, whsec_ + base64 of 24-64 random bytes"),
            config_key("events", ValueType::string_list, "", "WEBHOOK_EVENTS",
                       "the events to send (otp.sent, otp.delivered, otp.failed, otp.verified, otp.expired, "
                       "otp.max_attempts, otp.blocked); empty: all"),
            config_key("mask_numbers", ValueType::boolean, "true", "",
                       "send phone numbers masked (+447*******56); false: whole"),
            config_key("timeout_ms", ValueType::integer, "5000", "", "per delivery attempt", 100, 60000),
            config_key("max_attempts", ValueType::integer, "10", "",
                       "attempts before an event goes to the dead letters", 1, 100),
            config_key("backoff_initial_ms", ValueType::integer, "1000", "",
                       "wait before the first retry; doubles each retry, with jitter", 10, 3600000),
            config_key("backoff_max_ms", ValueType::integer, "600000", "", "longest wait between attempts",
                       10, 86400000),
            config_key("workers", ValueType::integer, "2", "", "deliveries in flight at once", 1, 64),
            config_key("poll_interval_ms", ValueType::integer, "500", "",
                       "how often the outbox is read for events due (new local events go at once)", 10,
                       60000)};
        keys[1].secret = true;
        return keys;
    }();
    return schema;
}

void load_webhooks(AppConfig& config) {
    const ConfigSection& section = config.section("webhooks");
    WebhookConfig& w = config.webhooks;
    w.urls = section.get_list("urls");
    for (const std::string& url : w.urls) check_url(section, url);
    w.events = section.get_list("events");
    for (const std::string& name : w.events) {
        EventType type;
        if (!parse_event_type(name, type)) {
            throw StartupError(section.where("events") + ": \"" + name +
                               "\" is not an event; use otp.sent, otp.delivered, otp.failed, otp.verified, "
                               "otp.expired, otp.max_attempts or otp.blocked");
        }
    }
    w.mask_numbers = section.get_bool("mask_numbers");
    w.timeout = std::chrono::milliseconds(section.get_int("timeout_ms"));
    w.max_attempts = static_cast<int>(section.get_int("max_attempts"));
    w.backoff_initial = std::chrono::milliseconds(section.get_int("backoff_initial_ms"));
    w.backoff_max = std::chrono::milliseconds(section.get_int("backoff_max_ms"));
    w.workers = static_cast<int>(section.get_int("workers"));
    w.poll_interval = std::chrono::milliseconds(section.get_int("poll_interval_ms"));
    if (w.backoff_max < w.backoff_initial) {
        throw StartupError(section.where("backoff_max_ms") +
                           ": must be at least webhooks.backoff_initial_ms");
    }
    if (!w.urls.empty()) w.secret = load_secret(section);
}

}  // namespace testino::config_detail
