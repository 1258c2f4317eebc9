#include "observability/logging.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace testino {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<int> g_fd{1};

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_timestamp(JsonWriter& w) {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        now.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[32];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    w.Key("ts");
    w.String(buf);
}

void begin_line(JsonWriter& w, LogLevel level, std::string_view event) {
    w.StartObject();
    write_timestamp(w);
    w.Key("level");
    w.String(to_string(level));
    w.Key("event");
    w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
}

void key(JsonWriter& w, std::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void emit(rapidjson::StringBuffer& buffer) {
    buffer.Put('\n');
    const char* data = buffer.GetString();
    size_t left = buffer.GetSize();
    const int fd = g_fd.load(std::memory_order_relaxed);
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere to log to; never crash for it
        data += n;
        left -= static_cast<size_t>(n);
    }
}

}  // namespace

const char* to_string(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "info";
}

bool parse_log_level(std::string_view text, LogLevel& out) {
    for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
        if (text == to_string(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

void Logger::set_level(LogLevel level) { g_level = static_cast<int>(level); }
bool Logger::enabled(LogLevel level) {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}
void Logger::set_fd(int fd) { g_fd = fd; }

void Logger::write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    if (!enabled(level)) return;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_line(w, level, event);
    for (const LogField& f : fields) {
        key(w, f.key);
        switch (f.kind) {
            case LogField::Kind::string:
                w.String(f.text.data(), static_cast<rapidjson::SizeType>(f.text.size()));
                break;
            case LogField::Kind::integer: w.Int64(f.integer); break;
            case LogField::Kind::real: w.Double(f.real); break;
            case LogField::Kind::boolean: w.Bool(f.integer != 0); break;
        }
    }
    w.EndObject();
    emit(buffer);
}

void Logger::write_plugin(LogLevel level, std::string_view plugin, std::string_view event,
                          const std::vector<sdk::LogField>& fields) {
    if (!enabled(level)) return;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    begin_line(w, level, event);
    key(w, "plugin");
    w.String(plugin.data(), static_cast<rapidjson::SizeType>(plugin.size()));
    for (const auto& [k, v] : fields) {
        if (k == "ts" || k == "level" || k == "event" || k == "plugin") continue;
        key(w, k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndObject();
    emit(buffer);
}

}  // namespace testino
