// A request's trace, known to the logger while the request is in progress: every line with
// that request's `request_id` also gets its `trace_id`, written by the Logger, so neither
// the flows nor the plugins have to carry the trace into each log call.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "observability/trace_context.hpp"

namespace testino {

// Registered from construction to destruction. Shared (RequestContext, RequestInfo, the
// jobs that copy it), so the lines of work that outlives the reply (a queued send, a
// channel workflow's next step) still find it.
class RequestTrace {
public:
    RequestTrace(std::string request_id, TraceContext context);
    ~RequestTrace();
    RequestTrace(const RequestTrace&) = delete;
    RequestTrace& operator=(const RequestTrace&) = delete;

    const TraceContext& context() const { return context_; }
    // "00-<trace id>-<this server's span id>-<flags>": for SMS providers and webhooks.
    const std::string& traceparent() const { return traceparent_; }

private:
    std::string request_id_;
    TraceContext context_;
    std::string traceparent_;
};

// The trace id of the request in progress with this id; "" when none is.
std::string trace_id_for(std::string_view request_id);

}  // namespace testino
