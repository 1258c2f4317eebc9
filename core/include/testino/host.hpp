// Testino plugin SDK: services the server offers a plugin.
#pragma once

#include <boost/config.hpp>
#include <string>
#include <utility>
#include <vector>

namespace testino::sdk {

enum class LogLevel { debug, info, warn, error };

// One log field; values are written as JSON strings. Never put a secret or an OTP code
// in a field (the console SMS provider, a development tool, is the one exception).
using LogField = std::pair<std::string, std::string>;

class BOOST_SYMBOL_VISIBLE Host {
public:
    virtual ~Host() = default;
    // Writes one JSON line: {"ts":..., "level":..., "event": event, "plugin": <name>, fields...}.
    // Thread-safe.
    virtual void log(LogLevel level, const std::string& event, const std::vector<LogField>& fields = {}) = 0;
};

}  // namespace testino::sdk
