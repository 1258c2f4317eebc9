// limits.fraud_guard: the thresholds of the guard against SMS pumping (app/fraud_guard.hpp).
#include <cctype>
#include <cstdlib>

#include "config/app_config_parts.hpp"
#include "config/config_text.hpp"

namespace testino::config_detail {
namespace {

using sdk::ConfigKey;
using sdk::ValueType;

// The fraud guard's keys take FRAUD_GUARD_<KEY> from the environment.
ConfigKey key(const std::string& name, ValueType type, std::string default_value, std::string description,
              std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) {
    std::string env = "FRAUD_GUARD_" + name;
    for (char& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return config_key(name, type, std::move(default_value), std::move(env), std::move(description), min, max);
}

double load_conversion(const ConfigSection& section) {
    const std::string text = trim(section.get_string("min_conversion"));
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(value >= 0.0 && value <= 1.0)) {
        throw StartupError(section.where("min_conversion") +
                           ": expected a share of verified codes from 0 to 1, like 0.2, got \"" + text +
                           "\"");
    }
    return value;
}

std::vector<std::string> load_safe_list(const ConfigSection& section) {
    std::vector<std::string> safe;
    for (std::string entry : section.get_list("safe_list")) {
        entry = trim(entry);
        if (!entry.empty() && entry.front() == '+') entry.erase(0, 1);
        if (entry.empty() || entry.size() > 15 ||
            entry.find_first_not_of("0123456789") != std::string::npos) {
            throw StartupError(section.where("safe_list") + ": \"" + entry +
                               "\" is not a number or prefix in E.164 digits, like \"+4474001\"");
        }
        safe.push_back(std::move(entry));
    }
    return safe;
}

}  // namespace

const std::vector<ConfigKey>& fraud_guard_schema() {
    static const std::vector<ConfigKey> keys = {
        key("enabled", ValueType::boolean, "false", "block number prefixes whose codes are rarely verified"),
        key("prefix_digits", ValueType::integer, "6",
            "digits of the E.164 number (calling code included, no '+') that make a prefix", 2, 15),
        key("window_seconds", ValueType::integer, "3600",
            "the sliding window sends and verifies are counted in", 60, 7 * 86400),
        key("min_sends", ValueType::integer, "20",
            "sends to a prefix in the window before its conversion counts", 1, 100000000),
        key("min_conversion", ValueType::string, "0.2",
            "a prefix whose verified / sent share in the window is below this is blocked (0-1)"),
        key("block_seconds", ValueType::integer, "3600", "how long a blocked prefix refuses new sends", 1,
            30 * 86400),
        key("shadow", ValueType::boolean, "false",
            "log and count the blocks the guard would place, and refuse nothing: to tune it on real traffic"),
        key("safe_list", ValueType::string_list, "",
            "numbers or prefixes (E.164, like \"+4474001\") never blocked"),
        key("admin_api", ValueType::boolean, "false",
            "serve GET and DELETE /fraud-guard/blocks on the admin listener (needs server.admin_token)"),
    };
    return keys;
}

void load_fraud_guard(AppConfig& config) {
    const ConfigSection& section = config.section("limits.fraud_guard");
    FraudGuardConfig& g = config.limits.fraud_guard;
    g.enabled = section.get_bool("enabled");
    g.prefix_digits = static_cast<int>(section.get_int("prefix_digits"));
    g.window = std::chrono::seconds(section.get_int("window_seconds"));
    g.min_sends = static_cast<int>(section.get_int("min_sends"));
    g.min_conversion = load_conversion(section);
    g.block = std::chrono::seconds(section.get_int("block_seconds"));
    g.shadow = section.get_bool("shadow");
    g.safe_list = load_safe_list(section);
    g.admin_api = section.get_bool("admin_api");
}

}  // namespace testino::config_detail
