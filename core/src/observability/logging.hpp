// Structured logs: one JSON object a line on stdout, each line whole in one write(2)
// (alone, or with the other lines of a LogBatch) so lines from many threads never
// interleave.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "testino/host.hpp"

namespace testino {

using sdk::LogLevel;

// One "key": value pair. Constructors per type (rather than a std::variant) so that a
// string literal never silently becomes a bool.
struct LogField {
    enum class Kind { string, integer, real, boolean };
    LogField(std::string_view k, std::string_view v) : key(k), kind(Kind::string), text(v) {}
    LogField(std::string_view k, const char* v) : key(k), kind(Kind::string), text(v) {}
    LogField(std::string_view k, const std::string& v) : key(k), kind(Kind::string), text(v) {}
    LogField(std::string_view k, bool v) : key(k), kind(Kind::boolean), integer(v) {}
    LogField(std::string_view k, int v) : key(k), kind(Kind::integer), integer(v) {}
    LogField(std::string_view k, long v) : key(k), kind(Kind::integer), integer(v) {}
    LogField(std::string_view k, long long v) : key(k), kind(Kind::integer), integer(v) {}
    LogField(std::string_view k, unsigned v) : key(k), kind(Kind::integer), integer(v) {}
    LogField(std::string_view k, unsigned long v)
        : key(k), kind(Kind::integer), integer(static_cast<std::int64_t>(v)) {}
    LogField(std::string_view k, double v) : key(k), kind(Kind::real), real(v) {}

    std::string_view key;
    Kind kind;
    std::string_view text;
    std::int64_t integer = 0;
    double real = 0;
};

class Logger {
public:
    static void set_level(LogLevel level);
    static bool enabled(LogLevel level);
    static void set_fd(int fd);  // default: 1 (stdout)
    static void write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
    // For lines whose fields depend on the case (some only for SMS, say).
    static void write(LogLevel level, std::string_view event, const std::vector<LogField>& fields);
    // For plugins: string fields only, and the plugin's name.
    static void write_plugin(LogLevel level, std::string_view plugin, std::string_view event,
                             const std::vector<sdk::LogField>& fields);

private:
    static void write_fields(LogLevel level, std::string_view event, const LogField* begin,
                             const LogField* end);
};

// Lines logged on this thread while a batch is open leave together, in one write(2), when
// the outermost batch closes (or once 16 KiB wait): a request's lines cost one system
// call. Lines stay whole and in order; only their moment of writing moves.
class LogBatch {
public:
    LogBatch();
    ~LogBatch();
    LogBatch(const LogBatch&) = delete;
    LogBatch& operator=(const LogBatch&) = delete;
    // Writes the lines this thread holds now (the batch stays open): before a reply
    // leaves, so a client that saw it finds its request's lines in the log.
    static void flush();
};

inline void log_debug(std::string_view event, std::initializer_list<LogField> f = {}) {
    if (Logger::enabled(LogLevel::debug)) Logger::write(LogLevel::debug, event, f);
}
inline void log_info(std::string_view event, std::initializer_list<LogField> f = {}) {
    Logger::write(LogLevel::info, event, f);
}
inline void log_warn(std::string_view event, std::initializer_list<LogField> f = {}) {
    Logger::write(LogLevel::warn, event, f);
}
inline void log_error(std::string_view event, std::initializer_list<LogField> f = {}) {
    Logger::write(LogLevel::error, event, f);
}

// The Host a plugin is handed: logs carry "plugin": <name>.
class PluginHost final : public sdk::Host {
public:
    explicit PluginHost(std::string plugin_name) : name_(std::move(plugin_name)) {}
    void log(sdk::LogLevel level, const std::string& event,
             const std::vector<sdk::LogField>& fields) override {
        Logger::write_plugin(level, name_, event, fields);
    }

private:
    std::string name_;
};

const char* to_string(LogLevel level);
bool parse_log_level(std::string_view text, LogLevel& out);

}  // namespace testino
