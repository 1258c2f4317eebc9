#include "app/lifecycle_events.hpp"

namespace testino {

const char* to_string(EventType type) {
    switch (type) {
        case EventType::sent: return "otp.sent";
        case EventType::delivered: return "otp.delivered";
        case EventType::failed: return "otp.failed";
        case EventType::verified: return "otp.verified";
        case EventType::expired: return "otp.expired";
        case EventType::max_attempts: return "otp.max_attempts";
        case EventType::blocked: return "otp.blocked";
    }
    return "otp.unknown";
}

bool parse_event_type(const std::string& name, EventType& type) {
    for (const EventType candidate : kAllEventTypes) {
        if (name == to_string(candidate)) {
            type = candidate;
            return true;
        }
    }
    return false;
}

}  // namespace testino
