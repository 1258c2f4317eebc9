// The valid sms.twilio section the Twilio tests start from, and its settings.
#pragma once

#include <map>
#include <string>

#include "fake_twilio.hpp"
#include "plugin_doubles.hpp"
#include "twilio_config.hpp"

namespace testino::plugins::twilio {

// Values for the fake's credentials and sender, with short retry pauses.
inline std::map<std::string, std::string> valid_values(
    const std::string& base_url = "https://api.twilio.com") {
    return {{"account_sid", test::kFakeAccountSid},
            {"auth_token", test::kFakeAuthToken},
            {"from", test::kFakeFrom},
            {"api_base_url", base_url},
            {"retry_backoff_ms", "5"},
            {"retry_max_backoff_ms", "20"}};
}

inline TwilioSettings settings_from(const std::map<std::string, std::string>& values) {
    return read_settings(test_support::MapConfigView(values, config_keys()));
}

// The ConfigError read_settings throws for these values ("" when it throws none).
inline std::string config_error(const std::map<std::string, std::string>& values) {
    try {
        settings_from(values);
    } catch (const sdk::ConfigError& error) {
        return error.what();
    }
    return "";
}

}  // namespace testino::plugins::twilio
