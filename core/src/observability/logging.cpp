#include "observability/logging.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "observability/request_trace.hpp"

namespace testino {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<int> g_fd{1};

// A line is built in a buffer on the stack (a pool allocator over it): no allocation for
// lines under about a kilobyte, which is all of them on a request's path.
using LinePool = rapidjson::MemoryPoolAllocator<>;
using LineBuffer = rapidjson::GenericStringBuffer<rapidjson::UTF8<>, LinePool>;
using JsonWriter = rapidjson::Writer<LineBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, LinePool>;

struct Line {
    char storage[1536];
    LinePool pool{storage, sizeof storage};
    LineBuffer buffer{&pool, 768};
    JsonWriter writer{buffer, &pool};
};

// Per thread: the open LogBatch depth and the formatted second of the last timestamp
// (strftime cost more than the rest of a line). Trivially destructible, so a line logged
// while the thread's objects are being destroyed still finds it.
struct ThreadState {
    int batch_depth = 0;
    std::time_t second = -1;
    char second_text[24];
};
thread_local ThreadState t_state;

// The lines of an open batch. `t_pending_gone` tells a line logged after its destruction
// (a static destructor at exit) to write at once instead.
thread_local bool t_pending_gone = false;
struct Pending {
    std::string text;
    ~Pending() { t_pending_gone = true; }
};
thread_local Pending t_pending;

constexpr std::size_t kMaxPending = 16 * 1024;

void write_timestamp(JsonWriter& w) {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    ThreadState& t = t_state;
    if (seconds != t.second) {
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        if (std::strftime(t.second_text, sizeof t.second_text, "%Y-%m-%dT%H:%M:%S", &utc) == 0) {
            t.second_text[0] = '\0';
        }
        t.second = seconds;
    }
    char buf[32];
    const std::size_t n = std::strlen(t.second_text);
    std::memcpy(buf, t.second_text, n);
    const int millis = static_cast<int>(ms % 1000);
    buf[n] = '.';
    buf[n + 1] = static_cast<char>('0' + millis / 100);
    buf[n + 2] = static_cast<char>('0' + millis / 10 % 10);
    buf[n + 3] = static_cast<char>('0' + millis % 10);
    buf[n + 4] = 'Z';
    w.Key("ts");
    w.String(buf, static_cast<rapidjson::SizeType>(n + 5));
}

void begin_line(JsonWriter& w, LogLevel level, std::string_view event) {
    w.StartObject();
    write_timestamp(w);
    w.Key("level");
    w.String(to_string(level));
    w.Key("event");
    w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
}

void key(JsonWriter& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }

void write_all(const char* data, size_t left) {
    const int fd = g_fd.load(std::memory_order_relaxed);
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere to log to; never crash for it
        data += n;
        left -= static_cast<size_t>(n);
    }
}

void flush_pending() {
    std::string& pending = t_pending.text;
    write_all(pending.data(), pending.size());
    pending.clear();
}

// The line, ended and written: now, or with the open batch's other lines.
void emit(LineBuffer& buffer) {
    buffer.Put('\n');
    if (t_state.batch_depth == 0 || t_pending_gone) return write_all(buffer.GetString(), buffer.GetSize());
    t_pending.text.append(buffer.GetString(), buffer.GetSize());
    if (t_pending.text.size() >= kMaxPending) flush_pending();
}

// After a line's request_id: the trace id of that request, unless the line names its own.
void write_trace_id(JsonWriter& w, std::string_view request_id, bool line_has_trace_id) {
    if (line_has_trace_id) return;
    const std::string trace_id = trace_id_for(request_id);
    if (trace_id.empty()) return;
    key(w, "trace_id");
    w.String(trace_id.data(), static_cast<rapidjson::SizeType>(trace_id.size()));
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

LogBatch::LogBatch() { ++t_state.batch_depth; }

LogBatch::~LogBatch() {
    if (--t_state.batch_depth == 0) flush();
}

void LogBatch::flush() {
    if (!t_pending_gone && !t_pending.text.empty()) flush_pending();
}

void Logger::write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    write_fields(level, event, fields.begin(), fields.end());
}

void Logger::write(LogLevel level, std::string_view event, const std::vector<LogField>& fields) {
    write_fields(level, event, fields.data(), fields.data() + fields.size());
}

void Logger::write_fields(LogLevel level, std::string_view event, const LogField* begin,
                          const LogField* end) {
    if (!enabled(level)) return;
    Line line;
    JsonWriter& w = line.writer;
    begin_line(w, level, event);
    const bool has_trace_id = std::any_of(begin, end, [](const LogField& f) { return f.key == "trace_id"; });
    for (const LogField* field = begin; field != end; ++field) {
        const LogField& f = *field;
        key(w, f.key);
        switch (f.kind) {
            case LogField::Kind::string:
                w.String(f.text.data(), static_cast<rapidjson::SizeType>(f.text.size()));
                if (f.key == "request_id") write_trace_id(w, f.text, has_trace_id);
                break;
            case LogField::Kind::integer: w.Int64(f.integer); break;
            case LogField::Kind::real: w.Double(f.real); break;
            case LogField::Kind::boolean: w.Bool(f.integer != 0); break;
        }
    }
    w.EndObject();
    emit(line.buffer);
}

void Logger::write_plugin(LogLevel level, std::string_view plugin, std::string_view event,
                          const std::vector<sdk::LogField>& fields) {
    if (!enabled(level)) return;
    Line line;
    JsonWriter& w = line.writer;
    begin_line(w, level, event);
    key(w, "plugin");
    w.String(plugin.data(), static_cast<rapidjson::SizeType>(plugin.size()));
    const bool has_trace_id = std::any_of(fields.begin(), fields.end(),
                                          [](const sdk::LogField& f) { return f.first == "trace_id"; });
    for (const auto& [k, v] : fields) {
        if (k == "ts" || k == "level" || k == "event" || k == "plugin") continue;
        key(w, k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
        if (k == "request_id") write_trace_id(w, v, has_trace_id);
    }
    w.EndObject();
    emit(line.buffer);
}

}  // namespace testino
