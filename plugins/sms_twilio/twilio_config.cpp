#include "twilio_config.hpp"

#include <regex>

namespace testino::plugins::twilio {
namespace {

using sdk::ConfigError;

// A string key that may be absent; an empty value counts as absent.
std::string optional_string(const sdk::ConfigView& config, const std::string& key) {
    return config.has(key) ? config.get_string(key) : std::string();
}

void require_match(const sdk::ConfigView& config, const std::string& key, const std::string& value,
                   const std::regex& pattern, const std::string& expected, bool quote_value) {
    if (std::regex_match(value, pattern)) return;
    std::string message = config.where(key) + ": " + expected;
    message += quote_value ? ", not \"" + value + "\"" : " (the value is not shown: it is a secret)";
    throw ConfigError(message);
}

// https:// anywhere; plain http:// only to a loopback host (the tests' fakes), so the
// credentials never cross a network in clear text.
void check_base_url(const sdk::ConfigView& config, const std::string& url) {
    static const std::regex shape(R"(^(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$)");
    std::smatch parts;
    if (!std::regex_match(url, parts, shape)) {
        throw ConfigError(config.where("api_base_url") +
                          ": must be a base URL such as https://api.twilio.com (scheme, host and "
                          "optional port; no path, query or user info), not \"" +
                          url + "\"");
    }
    if (parts[1] == "http") {
        static const std::regex loopback(R"(^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$)");
        if (!std::regex_match(parts[2].str(), loopback)) {
            throw ConfigError(config.where("api_base_url") +
                              ": plain http:// is allowed for loopback test servers only; use "
                              "https:// (\"" +
                              url + "\")");
        }
    }
}

// An absolute http(s) URL Twilio can call: scheme, host, optional port, path and query.
void check_callback_url(const sdk::ConfigView& config, const std::string& url) {
    static const std::regex shape(
        R"(^https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[^\s#]*)?$)");
    if (std::regex_match(url, shape)) return;
    throw ConfigError(config.where("status_callback_url") +
                      ": must be an absolute http(s) URL such as "
                      "https://auth.example.com/api/v1/callbacks/twilio (no user info, no fragment), not \"" +
                      url + "\"");
}

}  // namespace

std::vector<sdk::ConfigKey> config_keys() {
    return {
        sdk::mark_required(sdk::string_key("account_sid", "", "Twilio Account SID (AC + 32 hex digits)",
                                           "TWILIO_ACCOUNT_SID")),
        sdk::mark_required(sdk::mark_secret(sdk::string_key(
            "auth_token", "", "Twilio auth token (32 hex digits); never logged", "TWILIO_AUTH_TOKEN"))),
        sdk::string_key("from", "",
                        "sender number in E.164 (+15005550006); set this or messaging_service_sid",
                        "TWILIO_PHONE_NUMBER"),
        sdk::string_key("messaging_service_sid", "",
                        "Messaging Service SID (MG + 32 hex digits); set this or from",
                        "TWILIO_MESSAGING_SERVICE_SID"),
        sdk::string_key("whatsapp_from", "",
                        "WhatsApp sender in E.164 (sent as whatsapp:+...); with whatsapp_content_sid, "
                        "switches the whatsapp channel on",
                        "TWILIO_WHATSAPP_FROM"),
        sdk::string_key("whatsapp_content_sid", "",
                        "Content SID (HX + 32 hex digits) of the approved WhatsApp authentication "
                        "template; the code is its variable 1",
                        "TWILIO_WHATSAPP_CONTENT_SID"),
        sdk::string_key("voice_from", "",
                        "caller ID of voice calls in E.164; default: from (voice is off with only a "
                        "Messaging Service)",
                        "TWILIO_VOICE_FROM"),
        sdk::string_key("status_callback_url", "",
                        "this server's POST /api/v1/callbacks/twilio as Twilio reaches it (absolute "
                        "http(s) URL); when set, every message and call asks Twilio for status callbacks, "
                        "checked with the auth token, and each final one becomes otp.delivered / otp.failed",
                        "TWILIO_STATUS_CALLBACK_URL"),
        sdk::string_key("api_base_url", "https://api.twilio.com",
                        "Twilio API base URL; http:// only for loopback test servers"),
        sdk::integer_key(
            "connect_timeout_ms", "2000", 1, 60000,
            "TCP + TLS connect timeout per attempt (the total is the request's deadline, sms.timeout_ms)"),
        sdk::integer_key(
            "max_attempts", "3", 1, 10,
            "attempts in all for 429 and 5xx answers and unreachable hosts, within the deadline"),
        sdk::integer_key("retry_backoff_ms", "200", 0, 10000,
                         "pause before the first retry; doubles per retry, with jitter"),
        sdk::integer_key("retry_max_backoff_ms", "2000", 0, 60000, "the longest pause between attempts"),
    };
}

std::vector<sdk::Channel> channels_of(const TwilioSettings& settings) {
    std::vector<sdk::Channel> channels{sdk::Channel::sms};
    if (!settings.whatsapp_from.empty() && !settings.whatsapp_content_sid.empty()) {
        channels.push_back(sdk::Channel::whatsapp);
    }
    if (!settings.voice_from.empty() || !settings.from.empty()) channels.push_back(sdk::Channel::voice);
    return channels;
}

TwilioSettings read_settings(const sdk::ConfigView& config) {
    TwilioSettings settings;
    settings.account_sid = config.get_string("account_sid");
    settings.auth_token = config.get_string("auth_token");
    settings.from = optional_string(config, "from");
    settings.messaging_service_sid = optional_string(config, "messaging_service_sid");
    settings.api_base_url = config.get_string("api_base_url");
    while (!settings.api_base_url.empty() && settings.api_base_url.back() == '/') {
        settings.api_base_url.pop_back();
    }

    static const std::regex account_sid(R"(^AC[0-9a-fA-F]{32}$)");
    static const std::regex hex32(R"(^[0-9a-fA-F]{32}$)");
    static const std::regex service_sid(R"(^MG[0-9a-fA-F]{32}$)");
    static const std::regex e164(R"(^\+[1-9][0-9]{1,14}$)");
    require_match(config, "account_sid", settings.account_sid, account_sid,
                  "must be a Twilio Account SID: AC followed by 32 hex digits", true);
    require_match(config, "auth_token", settings.auth_token, hex32,
                  "must be a Twilio auth token: 32 hex digits", false);

    if (settings.from.empty() == settings.messaging_service_sid.empty()) {
        throw ConfigError(config.where(settings.from.empty() ? "from" : "messaging_service_sid") +
                          ": set exactly one of sms.twilio.from (a sender number) and "
                          "sms.twilio.messaging_service_sid" +
                          (settings.from.empty() ? " (neither is set)" : " (both are set)"));
    }
    if (!settings.from.empty()) {
        require_match(config, "from", settings.from, e164,
                      "must be a phone number in E.164 form such as +15005550006", true);
    } else {
        require_match(config, "messaging_service_sid", settings.messaging_service_sid, service_sid,
                      "must be a Messaging Service SID: MG followed by 32 hex digits", true);
    }
    check_base_url(config, settings.api_base_url);
    settings.status_callback_url = optional_string(config, "status_callback_url");
    if (!settings.status_callback_url.empty()) check_callback_url(config, settings.status_callback_url);

    settings.whatsapp_from = optional_string(config, "whatsapp_from");
    settings.whatsapp_content_sid = optional_string(config, "whatsapp_content_sid");
    if (settings.whatsapp_from.empty() != settings.whatsapp_content_sid.empty()) {
        const bool sender = settings.whatsapp_from.empty();
        throw ConfigError(config.where(sender ? "whatsapp_from" : "whatsapp_content_sid") +
                          ": WhatsApp needs both sms.twilio.whatsapp_from and "
                          "sms.twilio.whatsapp_content_sid (" +
                          (sender ? "whatsapp_content_sid" : "whatsapp_from") + " is set alone)");
    }
    if (!settings.whatsapp_from.empty()) {
        static const std::regex content_sid(R"(^HX[0-9a-fA-F]{32}$)");
        require_match(config, "whatsapp_from", settings.whatsapp_from, e164,
                      "must be the WhatsApp sender's number in E.164 form such as +14155238886 (without "
                      "the whatsapp: prefix)",
                      true);
        require_match(config, "whatsapp_content_sid", settings.whatsapp_content_sid, content_sid,
                      "must be a Content SID: HX followed by 32 hex digits", true);
    }
    settings.voice_from = optional_string(config, "voice_from");
    if (!settings.voice_from.empty()) {
        require_match(config, "voice_from", settings.voice_from, e164,
                      "must be a phone number in E.164 form such as +15005550006", true);
    } else {
        settings.voice_from = settings.from;
    }

    settings.connect_timeout = std::chrono::milliseconds(config.get_int("connect_timeout_ms"));
    settings.retry.max_attempts = static_cast<int>(config.get_int("max_attempts"));
    settings.retry.base_backoff = std::chrono::milliseconds(config.get_int("retry_backoff_ms"));
    settings.retry.max_backoff = std::chrono::milliseconds(config.get_int("retry_max_backoff_ms"));
    return settings;
}

}  // namespace testino::plugins::twilio
