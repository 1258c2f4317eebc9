#include "sns_config.hpp"

#include <cctype>
#include <regex>
#include <stdexcept>

namespace testino::plugins::sns {
namespace {

using sdk::ConfigError;

std::string optional_string(const sdk::ConfigView& config, const char* key) {
    return config.has(key) ? config.get_string(key) : std::string();
}

// Values are not echoed: a malformed secret must not reach the log either.
void require(bool ok, const sdk::ConfigView& config, const char* key, const std::string& rule) {
    if (!ok) throw ConfigError(config.where(key) + ": " + rule);
}

bool all_of(const std::string& text, int (*allowed)(int)) {
    for (const char c : text) {
        if (allowed(static_cast<unsigned char>(c)) == 0) return false;
    }
    return true;
}

int is_graph_char(int c) { return std::isgraph(c); }
int is_alnum_char(int c) { return std::isalnum(c); }

}  // namespace

std::vector<sdk::ConfigKey> config_keys() {
    return {
        sdk::mark_required(sdk::string_key("region", "", "AWS region, e.g. us-east-1", "AWS_REGION")),
        sdk::mark_required(sdk::string_key("access_key_id", "",
                                           "AWS access key id of an identity allowed sns:Publish",
                                           "AWS_ACCESS_KEY_ID")),
        sdk::mark_required(sdk::mark_secret(
            sdk::string_key("secret_access_key", "", "its secret access key", "AWS_SECRET_ACCESS_KEY"))),
        sdk::mark_secret(sdk::string_key("session_token", "", "session token, for temporary credentials only",
                                         "AWS_SESSION_TOKEN")),
        sdk::string_key("sender_id", "",
                        "alphanumeric sender ID (1-11 characters, where the country supports it)"),
        sdk::string_key("sms_type", "Transactional", "Transactional or Promotional"),
        sdk::string_key("max_price", "", "maximum USD price per SMS, e.g. 0.50"),
        sdk::string_key("endpoint", kDefaultEndpoint,
                        "SNS endpoint URL; {region} is replaced (http only for loopback test fakes)"),
        sdk::integer_key("connect_timeout_ms", "2000", 1, 60000, "TCP+TLS connect timeout per attempt"),
        sdk::integer_key("max_attempts", "3", 1, 10,
                         "attempts per SMS on throttling, 5xx or connection failures, within sms.timeout_ms"),
    };
}

SnsSettings settings_from_config(const sdk::ConfigView& config) {
    SnsSettings settings;
    settings.region = config.get_string("region");
    require(std::regex_match(settings.region, std::regex("[a-z]{2}(-[a-z]+)+-[0-9]+")), config, "region",
            "must be an AWS region name such as us-east-1");

    settings.credentials.access_key_id = config.get_string("access_key_id");
    require(!settings.credentials.access_key_id.empty() && settings.credentials.access_key_id.size() <= 128 &&
                all_of(settings.credentials.access_key_id, is_alnum_char),
            config, "access_key_id", "must be 1-128 letters and digits (e.g. AKIA...)");
    settings.credentials.secret_access_key = config.get_string("secret_access_key");
    require(!settings.credentials.secret_access_key.empty() &&
                all_of(settings.credentials.secret_access_key, is_graph_char),
            config, "secret_access_key",
            "must be non-empty without spaces or line breaks (check for a pasted newline)");
    settings.credentials.session_token = optional_string(config, "session_token");
    require(all_of(settings.credentials.session_token, is_graph_char), config, "session_token",
            "must not contain spaces or line breaks");

    settings.sender_id = optional_string(config, "sender_id");
    require(settings.sender_id.empty() ||
                std::regex_match(settings.sender_id, std::regex("(?=.*[A-Za-z])[A-Za-z0-9]{1,11}")),
            config, "sender_id", "must be 1-11 letters and digits with at least one letter");
    settings.sms_type = config.get_string("sms_type");
    require(settings.sms_type == "Transactional" || settings.sms_type == "Promotional", config, "sms_type",
            "must be Transactional or Promotional");
    settings.max_price = optional_string(config, "max_price");
    require(settings.max_price.empty() ||
                std::regex_match(settings.max_price, std::regex("[0-9]{1,5}(\\.[0-9]{1,5})?")),
            config, "max_price", "must be a decimal USD amount such as 0.50");

    try {
        settings.endpoint = parse_endpoint(config.get_string("endpoint"), settings.region);
    } catch (const std::invalid_argument& error) {
        throw ConfigError(config.where("endpoint") + ": " + error.what());
    }
    settings.connect_timeout = std::chrono::milliseconds(config.get_int("connect_timeout_ms"));
    settings.retry.max_attempts = static_cast<int>(config.get_int("max_attempts"));
    return settings;
}

}  // namespace testino::plugins::sns
