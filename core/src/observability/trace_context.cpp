#include "observability/trace_context.hpp"

#include <algorithm>

#include "domain/otp_crypto.hpp"

namespace testino {
namespace {

constexpr std::size_t kVersion00Size = 55;  // "00-" 32 "-" 16 "-" 2

bool lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; });
}

// `bytes` random bytes as hex, never all zero (which the spec reserves for "invalid").
std::string random_id(std::size_t bytes) {
    std::string id;
    do {
        id = random_hex(bytes);  // OpenSSL RAND_bytes
    } while (all_zero(id));
    return id;
}

// Optional whitespace around a header value (RFC 9110 §5.5) is not part of it.
std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

std::string TraceContext::traceparent() const { return "00-" + trace_id + "-" + span_id + "-" + flags; }

std::optional<TraceContext> parse_traceparent(std::string_view header) {
    header = trim(header);
    if (header.size() < kVersion00Size) return std::nullopt;
    const std::string_view version = header.substr(0, 2);
    if (!lower_hex(version) || version == "ff") return std::nullopt;
    if (version == "00" && header.size() != kVersion00Size) return std::nullopt;
    // A later version may append fields, always after a '-' (§4.3).
    if (header.size() > kVersion00Size && header[kVersion00Size] != '-') return std::nullopt;
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    TraceContext trace;
    trace.trace_id = std::string(header.substr(3, 32));
    trace.parent_id = std::string(header.substr(36, 16));
    trace.flags = std::string(header.substr(53, 2));
    if (!lower_hex(trace.trace_id) || !lower_hex(trace.parent_id) || !lower_hex(trace.flags)) {
        return std::nullopt;
    }
    if (all_zero(trace.trace_id) || all_zero(trace.parent_id)) return std::nullopt;
    if (version != "00") {
        // We answer and propagate in version 00, whose only flag is "sampled".
        trace.flags = (std::stoi(trace.flags, nullptr, 16) & 0x01) != 0 ? "01" : "00";
    }
    return trace;
}

TraceContext trace_for_request(const std::string* traceparent_header) {
    std::optional<TraceContext> given;
    if (traceparent_header != nullptr) given = parse_traceparent(*traceparent_header);
    TraceContext trace;
    if (given) {
        trace = std::move(*given);
    } else {
        trace.trace_id = random_id(16);
        trace.flags = "01";
    }
    trace.span_id = random_id(8);
    return trace;
}

}  // namespace testino
