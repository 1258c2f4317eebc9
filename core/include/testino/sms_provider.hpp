// Testino plugin SDK: the SMS provider interface.
//
// Threading: send() is called from the server's SMS worker threads, several at once
// (or, when may_block() is false, from the HTTP threads); it may block, but must return
// by the deadline (set your HTTP client's timeouts from it). health() may be called at any time from any
// thread. Neither may throw: report failures through SendResult. A send that returns
// `unavailable` at or after its deadline is counted as `uncertain` (the server cannot tell a
// provider that stopped in time from one that was still sending); so is one that throws.
#pragma once

#include <boost/config.hpp>
#include <chrono>
#include <string>

#include "testino/health.hpp"

namespace testino::sdk {

struct SmsMessage {
    std::string to;          // E.164, e.g. "+12025550123"
    std::string text;        // the rendered message, ready to send
    std::string code;        // the OTP inside `text`, for providers that template it themselves
    std::string request_id;  // the HTTP request's id, for log correlation
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
};

}  // namespace testino::sdk
