// Testino plugin SDK: the SMS provider interface.
//
// Threading: send() is called from the server's SMS worker threads, several at once
// (or, when may_block() is false, from the HTTP threads); it may block, but must return
// by the deadline (set your HTTP client's timeouts from it). health() may be called at any time from any
// thread. Neither may throw: report failures through SendResult. A send that returns
// `unavailable` at or after its deadline is counted as `uncertain` (the server cannot tell a
// provider that stopped in time from one that was still sending); so is one that throws.
#pragma once

#include <algorithm>
#include <boost/config.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "testino/health.hpp"

namespace testino::sdk {

// How a code reaches the user (ABI 7). `sms` is a text message; `whatsapp` a WhatsApp
// message (usually an approved template that carries `code`); `voice` a phone call that says
// the code. A provider declares the channels it can send (PluginDescriptor::channels, and
// SmsProvider::channels() for what its config switched on); the server never calls send()
// with any other.
enum class Channel { sms = 0, whatsapp = 1, voice = 2 };

inline constexpr Channel kAllChannels[] = {Channel::sms, Channel::whatsapp, Channel::voice};

// "sms", "whatsapp", "voice": the names config, logs and the API use.
inline const char* to_string(Channel channel) {
    switch (channel) {
        case Channel::sms: return "sms";
        case Channel::whatsapp: return "whatsapp";
        case Channel::voice: return "voice";
    }
    return "unknown";
}

// The channel named `name` (exactly as to_string spells it); false for any other text.
inline bool parse_channel(std::string_view name, Channel& channel) {
    for (const Channel candidate : kAllChannels) {
        if (name == to_string(candidate)) {
            channel = candidate;
            return true;
        }
    }
    return false;
}

struct SmsMessage {
    SmsMessage() = default;
    // {to, text, code, request_id} as before ABI 7, optionally with a channel and a locale.
    SmsMessage(std::string to_, std::string text_, std::string code_, std::string request_id_,
               Channel channel_ = Channel::sms, std::string locale_ = {})
        : to(std::move(to_)),
          text(std::move(text_)),
          code(std::move(code_)),
          request_id(std::move(request_id_)),
          channel(channel_),
          locale(std::move(locale_)) {}

    std::string to;                  // E.164, e.g. "+12025550123"
    std::string text;                // the rendered message, ready to send (sms; a fallback text for others)
    std::string code;                // the OTP inside `text`, for providers that template it themselves
                                     // (WhatsApp templates, a voice call that reads it digit by digit)
    std::string request_id;          // the HTTP request's id, for log correlation
    Channel channel = Channel::sms;  // always one of the provider's channels()
    std::string locale;              // BCP 47 tag of `text` ("hi", "pt-BR"); "" = the default
    // ABI 8: the W3C `traceparent` of the request ("00-<trace-id>-<span-id>-<flags>"): send
    // it as that header on the provider's HTTP calls so that they join the request's trace.
    std::string traceparent;
};

// Delivery receipts (ABI 8). A provider that can tell whether a message reached the phone
// (Twilio's status callbacks) takes them at POST /api/v1/callbacks/<plugin name>: the
// server hands it each request there, and the provider checks that the provider's service
// sent it (a signature) and reads it.
struct CallbackRequest {
    std::string url;           // as the client asked for it: path and query ("/api/v1/callbacks/twilio?x=1")
    std::string content_type;  // e.g. "application/x-www-form-urlencoded"
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased

    // The first header named `name` (lowercase), or "".
    std::string header(std::string_view name) const {
        for (const auto& [key, value] : headers) {
            if (key == name) return value;
        }
        return {};
    }
};

enum class ReceiptStatus {
    delivered,  // the handset has it (for a call: it was answered)
    failed,     // it will not arrive (undelivered, failed, busy, no answer)
};

struct DeliveryReceipt {
    std::string message_id;  // SendResult::message_id of the send it is about
    ReceiptStatus status = ReceiptStatus::delivered;
    std::string reason;  // failed: the provider's code or word for why ("30003"), for logs and events
};

struct CallbackResult {
    // What to answer the caller: 200 (or 204) taken, 400 malformed, 403 not signed by the
    // service. The body is empty; the provider's service only reads the status.
    int http_status = 200;
    std::vector<DeliveryReceipt> receipts;  // final states only: "queued" or "sent" give none
    std::string detail;                     // for logs: why it was refused; never a secret
};

// A failed send is either certainly not accepted (invalid_recipient, misconfigured,
// unavailable: the server may try the next provider and forgets the code) or uncertain.
// Answer `unavailable` only when the provider cannot have acted on the request: it was never
// sent (refused connection, DNS failure, connect or TLS handshake failure or timeout), or the
// provider answered with a status it documents as "not processed" (e.g. 429). A 5xx answer, or
// a timeout or dropped connection after the request went out, is `uncertain`.
enum class SendStatus {
    sent,               // accepted by the provider
    invalid_recipient,  // the caller's fault: the number cannot receive this SMS (HTTP 422)
    misconfigured,      // the operator's fault: bad credentials, sender, account (HTTP 502)
    unavailable,        // certainly not accepted: the provider failed or refused it for now (HTTP 502)
    uncertain,          // the provider may have accepted the message (5xx, timeout or a dropped
                        // connection after the request went out): never tried elsewhere; the
                        // code stays valid; limits are not refunded (HTTP 502)
};

struct SendResult {
    SendStatus status = SendStatus::sent;
    std::string detail;      // for logs only (never shown to the client); no secrets, no codes
    std::string message_id;  // the provider's id for a sent message, if it gives one
};

class BOOST_SYMBOL_VISIBLE SmsProvider {
public:
    virtual ~SmsProvider() = default;
    virtual SendResult send(const SmsMessage& message, std::chrono::steady_clock::time_point deadline) = 0;
    virtual HealthReport health() = 0;

    // True when send() may block (network I/O): the server then calls it on its SMS worker
    // threads. A provider whose send() returns at once (it only logs, or hands the message
    // to a local queue) returns false and is called on the HTTP thread, which saves two
    // thread hand-offs per send.
    virtual bool may_block() const { return true; }

    // The channels this configured provider sends through: some or all of its descriptor's
    // `channels` (the descriptor says what the plugin can do before it is created; its config
    // may leave a channel off, e.g. WhatsApp without a sender). Read once, after the factory;
    // send() is only ever called with one of them. The default: SMS only.
    virtual std::vector<Channel> channels() const { return {Channel::sms}; }

    // ABI 8. Whether this configured provider takes delivery receipts (handle_callback).
    virtual bool takes_callbacks() const { return false; }
    // One request to POST /api/v1/callbacks/<plugin name>, called on an HTTP thread: answer
    // at once (no network). Must not throw. Refuse (403) anything the service did not sign.
    virtual CallbackResult handle_callback(const CallbackRequest& request) {
        (void)request;
        return {404, {}, "this provider takes no callbacks"};
    }

    bool supports(Channel channel) const {
        const std::vector<Channel> offered = channels();
        return std::find(offered.begin(), offered.end(), channel) != offered.end();
    }
};

}  // namespace testino::sdk
