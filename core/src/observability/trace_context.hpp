// W3C Trace Context (Level 1 `traceparent`, Level 2 `traceresponse`): the trace a request
// belongs to, continued from the caller's header or started here, and the span id this
// server uses for its part of it. No spans are recorded or exported: the ids exist so that
// our log lines, our replies and our outbound calls can be joined with a tracing backend.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace testino {

struct TraceContext {
    std::string trace_id;   // 32 lowercase hex digits, never all zero
    std::string parent_id;  // the caller's span id (16 hex digits); "" when the trace started here
    std::string span_id;    // this server's span id (16 hex digits), new for every request
    std::string flags;      // 2 lowercase hex digits ("01": sampled)

    // "00-<trace_id>-<span_id>-<flags>": the traceparent of what this server calls, and the
    // value of its traceresponse header.
    std::string traceparent() const;
};

// A `traceparent` header as the spec (§4.3) says to read it: lowercase hex only; version 00
// exactly 55 characters; version ff invalid; a higher version read leniently (its first four
// fields, more allowed after a '-'); an all-zero trace id or parent id invalid. The result
// has trace_id, parent_id and flags; span_id is empty.
std::optional<TraceContext> parse_traceparent(std::string_view header);

// The trace of a request with this `traceparent` header (nullptr: none): continued when it
// is valid, else started with a random trace id and flags 01; a new random span id either way.
TraceContext trace_for_request(const std::string* traceparent_header);

}  // namespace testino
