#include "observability/request_trace.hpp"

#include <mutex>
#include <unordered_map>

namespace testino {
namespace {

// Request ids may be client-chosen (X-Request-Id) and so repeat: concurrent requests with
// the same id share one entry, the latest trace id winning, until the last one ends.
struct Entry {
    std::string trace_id;
    int holders = 0;
};

struct Registry {
    std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
};

Registry& registry() {
    static Registry* instance = new Registry;  // never destroyed: lines may be logged at exit
    return *instance;
}

}  // namespace

RequestTrace::RequestTrace(std::string request_id, TraceContext context)
    : request_id_(std::move(request_id)), context_(std::move(context)), traceparent_(context_.traceparent()) {
    if (request_id_.empty()) return;
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    Entry& entry = r.entries[request_id_];
    entry.trace_id = context_.trace_id;
    ++entry.holders;
}

RequestTrace::~RequestTrace() {
    if (request_id_.empty()) return;
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.entries.find(request_id_);
    if (it != r.entries.end() && --it->second.holders <= 0) r.entries.erase(it);
}

std::string trace_id_for(std::string_view request_id) {
    if (request_id.empty()) return {};
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.entries.find(std::string(request_id));
    return it == r.entries.end() ? std::string() : it->second.trace_id;
}

}  // namespace testino
