// Loading a config from YAML text in the config tests, with a valid token secret unless the
// test's environment gives one.
#pragma once

#include <map>
#include <string>

#include "config/config.hpp"

namespace testino::config_test {

inline const std::string kSecret(40, 's');

inline AppConfig load(const std::string& yaml, std::map<std::string, std::string> env = {},
                      bool with_secret = true) {
    if (with_secret && !env.count("TOKEN_SECRET")) env["TOKEN_SECRET"] = kSecret;
    // A provider must be named; tests about other sections name the console one.
    const bool names_provider =
        yaml.find("provider") != std::string::npos || env.count("SMS_PROVIDER") || env.count("SMS_PROVIDERS");
    if (!names_provider) env["SMS_PROVIDER"] = "console";
    return load_app_config(ConfigSource::from_string(yaml, "test.yaml", env), "/plugins");
}

// The StartupError message of loading `yaml`, or "" when it loads.
inline std::string error_of(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    try {
        load(yaml, std::move(env));
    } catch (const StartupError& e) {
        return e.what();
    }
    return "";
}

}  // namespace testino::config_test
