// The `twilio` SMS provider: POSTs each SMS and WhatsApp message to Twilio's Messages API
// (/2010-04-01/Accounts/{AccountSid}/Messages.json), each voice code to the Calls API
// (.../Calls.json, with TwiML that says the code), and maps Twilio's answer to a SendStatus.
#pragma once

#include <mutex>
#include <string>

#include "testino/host.hpp"
#include "testino/plugins/http_client.hpp"
#include "testino/sms_provider.hpp"
#include "twilio_config.hpp"

namespace testino::plugins::twilio {

// Twilio's error JSON: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
struct TwilioError {
    int code = 0;  // 0 when the body was not Twilio's error JSON
    std::string message;
    std::string more_info;
};
TwilioError parse_error(const std::string& body);

// What one finished exchange (after any retries) means for the caller.
struct Verdict {
    sdk::SendStatus status = sdk::SendStatus::uncertain;
    std::string detail;        // for the logs (the client never sees it)
    std::string sid;           // the message SID when sent
    TwilioError error;         // Twilio's error, when it sent one
    bool auth_failed = false;  // 20003 / HTTP 401
};
// No answer: unavailable when the request never left, else uncertain. 2xx: sent. A 5xx:
// uncertain (Twilio may have created the message). 4xx: what the error code says, else
// unavailable (Twilio refused it: no message was created).
Verdict interpret(const http::Response& response);

// Whether another attempt is safe and worth it: only when Twilio certainly did not act on
// this one. That is a request that never left (refused connection, DNS, connect or TLS
// failure), or HTTP 429, which Twilio documents as never processed and always safe to retry
// (https://www.twilio.com/docs/api/errors/20429). A 5xx, a timeout or a hang-up after the
// request went out may already have sent the SMS: never retried.
bool retryable(const http::Response& response);

// The TwiML of a voice code: the code digit by digit ("4, 8, 2, 9, 1, 3"), twice, with a
// pause between, in the voice for `locale` (BCP 47) where one is mapped, else en-US.
// Everything in it is XML-escaped.
std::string voice_twiml(const std::string& code, const std::string& locale);

// The <Say> language (and Twilio voice) for a BCP 47 locale: en-US when none is mapped.
struct SayVoice {
    const char* language;  // the <Say language="..."> value
    const char* voice;     // the <Say voice="..."> value
    const char* intro;     // "Your verification code is" in that language
};
const SayVoice& say_voice_for(const std::string& locale);

// ContentVariables for the WhatsApp authentication template: {"1":"<code>"}.
std::string whatsapp_variables(const std::string& code);

class TwilioProvider final : public sdk::SmsProvider {
public:
    // `host` must outlive the provider (the server's does).
    TwilioProvider(TwilioSettings settings, sdk::Host& host);

    sdk::SendResult send(const sdk::SmsMessage& message,
                         std::chrono::steady_clock::time_point deadline) override;
    // Unhealthy after Twilio rejected the credentials or the sender, until a send succeeds.
    sdk::HealthReport health() override;
    // sms; whatsapp with both WhatsApp keys; voice with a caller ID (channels_of).
    std::vector<sdk::Channel> channels() const override { return channels_; }
    // With status_callback_url: Twilio's status callbacks, checked with the auth token.
    bool takes_callbacks() const override { return !settings_.status_callback_url.empty(); }
    sdk::CallbackResult handle_callback(const sdk::CallbackRequest& request) override;

private:
    http::Request request_for(const sdk::SmsMessage& message) const;
    // StatusCallback=<status_callback_url>, when set: Twilio then reports each final state.
    void add_status_callback(http::Request& request) const;
    void log_outcome(const sdk::SmsMessage& message, const http::Response& response, const Verdict& verdict,
                     int attempts);
    void set_health(bool healthy, std::string detail);

    const TwilioSettings settings_;
    const std::string messages_url_;
    const std::string calls_url_;
    const std::vector<sdk::Channel> channels_;
    sdk::Host& host_;
    http::Client client_;

    std::mutex health_mutex_;
    sdk::HealthReport health_;
};

}  // namespace testino::plugins::twilio
