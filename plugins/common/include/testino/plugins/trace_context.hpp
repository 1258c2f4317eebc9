// W3C Trace Context for the plugins' outbound calls: each HTTP call is a child span of the
// server's span (SmsMessage::traceparent names it), so it gets a new span id of its own.
#pragma once

#include <string>

namespace testino::plugins {

// "00-<the same trace id>-<a new random span id>-<the same flags>" from a version-00
// traceparent; "" when `parent` is not one (then nothing should be sent).
std::string child_traceparent(const std::string& parent);

}  // namespace testino::plugins
