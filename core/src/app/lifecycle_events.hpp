// What happened to each code, as events for the systems around the server (webhooks):
// otp.sent, otp.delivered, otp.failed, otp.verified, otp.expired, otp.max_attempts and
// otp.blocked. The flows publish them; a sink (app/webhook_outbox.hpp) files them for
// delivery. Publishing never waits and never fails a request: a sink that cannot keep an
// event logs and counts it.
#pragma once

#include <chrono>
#include <string>

namespace testino {

enum class EventType { sent, delivered, failed, verified, expired, max_attempts, blocked };

// "otp.sent", ...: the names config (webhooks.events) and the receivers use.
const char* to_string(EventType type);
bool parse_event_type(const std::string& name, EventType& type);
inline constexpr EventType kAllEventTypes[] = {
    EventType::sent,    EventType::delivered,    EventType::failed, EventType::verified,
    EventType::expired, EventType::max_attempts, EventType::blocked};

struct LifecycleEvent {
    EventType type = EventType::sent;
    std::string e164;                    // the number; the sink masks it unless config says otherwise
    std::string verification_id;         // of the send, when known
    std::string channel;                 // sms, whatsapp, voice, when known
    std::string provider;                // the SMS provider's plugin name, when known
    std::string message_id;              // the provider's id of the message, when known
    std::string reason;                  // failed / blocked: why (an error code, the provider's code)
    std::string request_id;              // of the request that caused it ("" for expiry, receipts)
    std::string traceparent;             // W3C traceparent of that request, for the outbound call
    std::chrono::seconds expires_in{0};  // otp.sent: how long the code lives
    std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

class EventSink {
public:
    virtual ~EventSink() = default;
    // Returns at once; called from any thread.
    virtual void publish(LifecycleEvent event) = 0;
};

// Drops every event: the sink when no webhook is configured.
class NoEventSink final : public EventSink {
public:
    void publish(LifecycleEvent) override {}
};

}  // namespace testino
