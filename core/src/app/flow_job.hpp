// What every flow of the application layer is made of: a job that answers exactly once,
// continuations that turn an exception into the request's INTERNAL_ERROR, and the
// per-client-address limit each flow starts with. Internal to core/src/app.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/rate_limits.hpp"
#include "domain/errors.hpp"
#include "observability/logging.hpp"
#include "observability/request_trace.hpp"

namespace testino {

template <typename T>
using FlowDone = std::function<void(Expected<T>)>;

// What a flow knows of the request around it.
struct RequestInfo {
    std::string request_id;
    std::string client_ip;   // for logs
    std::string client_key;  // what per-address limits count (IPv6: the network); "" = unknown, none apply
    // Held for the whole flow, so its log lines carry the trace id (see RequestTrace).
    std::shared_ptr<const RequestTrace> trace;
};

// What the flow's outbound calls (SMS providers, webhooks) send as `traceparent`: the
// request's trace, this server's span as their parent. "" without a trace.
inline std::string traceparent_of(const RequestInfo& info) {
    return info.trace ? info.trace->traceparent() : std::string();
}

namespace flow_detail {

inline bool enabled(int limit, std::chrono::seconds window) { return limit > 0 && window.count() > 0; }

// The per-client-address limit of a flow ("send", "verify"): never refunded.
inline std::vector<LimitCheck> per_address(const RequestInfo& info, const char* flow, int limit,
                                           std::chrono::seconds window, metrics::Limit which,
                                           const char* message) {
    if (info.client_key.empty() || !enabled(limit, window)) return {};
    return {LimitCheck{std::string("ip:") + flow + ":" + info.client_key, limit, window, which,
                       ErrorCode::rate_limited, message, false}};
}

template <typename Job, typename Request, typename Done>
std::shared_ptr<Job> start_job(const Request& request, RequestInfo info, Done done) {
    auto job = std::make_shared<Job>();
    job->info = std::move(info);
    job->done = std::move(done);
    job->request = request;
    return job;
}

// A flow's state from its start to its one answer. `answer` passes on the first result
// only, so a step that fails after another already answered cannot answer twice.
template <typename T>
struct FlowJob {
    RequestInfo info;
    FlowDone<T> done;
    std::atomic<bool> answered{false};

    void answer(Expected<T> result) {
        if (!answered.exchange(true)) done(std::move(result));
    }
};

// A step's continuation that turns an exception (a bug, or out of memory) into the
// request's INTERNAL_ERROR, on whatever thread the step completes.
template <typename Job, typename Step>
auto guarded(const std::shared_ptr<Job>& job, Step step) {
    return [job, step = std::move(step)](auto result) mutable {
        try {
            step(std::move(result));
        } catch (const std::exception& e) {
            log_error("flow.internal_error", {{"request_id", job->info.request_id}, {"detail", e.what()}});
            job->answer(make_error(ErrorCode::internal_error,
                                   "Internal server error (request id " + job->info.request_id + ")"));
        }
    };
}

}  // namespace flow_detail
}  // namespace testino
