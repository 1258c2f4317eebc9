// Testino plugin SDK: the config schema a plugin declares and the view it reads values from.
//
// A plugin lists the keys of its own section (for example `sms.twilio`). The server
// validates that section against the list before the factory runs: unknown keys,
// missing required keys and values of the wrong type stop start-up with an error that
// names the file and the key. Environment variables named in the schema override the file.
// The factory then reads typed values through ConfigView and never sees YAML.
#pragma once

#include <boost/config.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace testino::sdk {

enum class ValueType { string, integer, boolean, string_list };

struct ConfigKey {
    std::string name;  // key inside the plugin's section, e.g. "auth_token"
    ValueType type = ValueType::string;
    std::string default_value;     // as YAML text ("300", "true", "a,b"); empty + !required = unset
    bool required = false;         // must be set by the file or the environment
    bool secret = false;           // never logged, masked in --check-config
    std::string env;               // environment variable that overrides it ("" = none)
    std::string description;       // one line for docs and --check-config
    std::int64_t min = INT64_MIN;  // bounds for integers, inclusive
    std::int64_t max = INT64_MAX;
};

// Shorthand for an integer key with a default and inclusive bounds; set `env`, `required`
// or `secret` on the result where they apply.
inline ConfigKey integer_key(std::string name, std::string default_value, std::int64_t min, std::int64_t max,
                             std::string description) {
    ConfigKey key;
    key.name = std::move(name);
    key.type = ValueType::integer;
    key.default_value = std::move(default_value);
    key.min = min;
    key.max = max;
    key.description = std::move(description);
    return key;
}

// Shorthand for a string key; `env` names the environment variable that overrides it.
inline ConfigKey string_key(std::string name, std::string default_value, std::string description,
                            std::string env = "") {
    ConfigKey key;
    key.name = std::move(name);
    key.type = ValueType::string;
    key.default_value = std::move(default_value);
    key.description = std::move(description);
    key.env = std::move(env);
    return key;
}

// The key, required to be set (by the file or the environment).
inline ConfigKey mark_required(ConfigKey key) {
    key.required = true;
    return key;
}

// The key, holding a secret: never logged, masked by --check-config.
inline ConfigKey mark_secret(ConfigKey key) {
    key.secret = true;
    return key;
}

// Typed, validated values of one section. Every getter throws ConfigError for a key
// the schema did not declare (a plugin bug, caught at start-up).
class BOOST_SYMBOL_VISIBLE ConfigView {
public:
    virtual ~ConfigView() = default;
    virtual bool has(const std::string& key) const = 0;  // set by file, env or default
    virtual std::string get_string(const std::string& key) const = 0;
    virtual std::int64_t get_int(const std::string& key) const = 0;
    virtual bool get_bool(const std::string& key) const = 0;
    virtual std::vector<std::string> get_list(const std::string& key) const = 0;
    // Where a value lives, for error messages: "config/default.yaml: sms.twilio.from".
    virtual std::string where(const std::string& key) const = 0;
};

// Thrown by a factory for a value its schema cannot check (a malformed URL, say);
// start-up stops with the message.
class BOOST_SYMBOL_VISIBLE ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace testino::sdk
