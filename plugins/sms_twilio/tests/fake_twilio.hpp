// A fake Twilio Messages and Calls API on 127.0.0.1 inside the test process. It checks each
// request as Twilio would (method, path, basic auth, content type, form fields: E.164 or
// whatsapp: addresses of one channel, a Body or a ContentSid with JSON ContentVariables; a
// call's To, From and Twiml or Url), answers Twilio's error JSON for a bad one, and otherwise
// answers what the test scripted (by default 201 with a message or call resource). Tests
// read back what it received.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_http_server.hpp"

namespace testino::test {

inline constexpr const char* kFakeAccountSid = "AC0123456789abcdef0123456789abcdef";
inline constexpr const char* kFakeAuthToken = "00112233445566778899aabbccddeeff";
inline constexpr const char* kFakeFrom = "+15005550006";
inline constexpr const char* kFakeServiceSid = "MGfedcba9876543210fedcba9876543210";
inline constexpr const char* kFakeWhatsAppFrom = "+14155238886";
inline constexpr const char* kFakeContentSid = "HX0123456789abcdef0123456789abcdef";
inline constexpr const char* kFakeVoiceFrom = "+15005550007";

// One answer: a Twilio error from the catalogue (twilio_error) or a success, after a delay.
struct TwilioAnswer {
    int http_status = 201;
    int code = 0;  // Twilio error code for an error answer
    std::string message;
    std::chrono::milliseconds delay{0};
};

// The error answers of tests/contract/NOTES.md, with Twilio's status and wording.
TwilioAnswer twilio_error(int code, std::chrono::milliseconds delay = std::chrono::milliseconds(0));

// A request that passed the fake's checks: its form fields.
struct TwilioMessage {
    std::string resource;                       // "Messages" or "Calls"
    std::map<std::string, std::string> fields;  // To, From / MessagingServiceSid, Body, ...
    std::string field(const std::string& name) const;
};

class FakeTwilio;

// The sms.twilio config section (YAML values) that points the plugin at `fake`, with short
// retry backoffs.
std::map<std::string, std::string> twilio_section(const FakeTwilio& fake);

// A status callback the fake posted, and what the receiver answered (0: no answer).
struct PostedCallback {
    std::string url;
    std::string body;
    long http_status = 0;
};

class FakeTwilio {
public:
    explicit FakeTwilio(std::string account_sid = kFakeAccountSid, std::string auth_token = kFakeAuthToken);
    ~FakeTwilio();

    // Like Twilio, a message or call created with a StatusCallback gets a signed POST to that
    // URL (after `delay`) with its final state: MessageStatus `message_status` (with ErrorCode
    // `error_code` when not ""), CallStatus `call_status`. "" posts none.
    void set_callbacks(std::string message_status, std::string call_status = "completed",
                       std::string error_code = {},
                       std::chrono::milliseconds delay = std::chrono::milliseconds(200));
    std::vector<PostedCallback> callbacks() const;  // posted so far, with the answers

    std::string base_url() const { return server_.base_url(); }

    // Answers for the next requests that pass the checks, in order; then 201s again.
    void answer_next(const TwilioAnswer& answer);
    void answer_next(const TwilioAnswer& answer, int times);

    std::vector<TwilioMessage> messages() const;  // requests that passed the checks
    std::vector<std::string> rejections() const;  // why each failed request was refused
    std::size_t request_count() const { return server_.request_count(); }
    std::vector<ReceivedRequest> requests() const { return server_.requests(); }

private:
    ScriptedReply handle(const ReceivedRequest& request);
    // The checks of each resource: "" when the request is one Twilio accepts, else the refusal.
    std::optional<ScriptedReply> check_message(const TwilioMessage& message);
    std::optional<ScriptedReply> check_call(const TwilioMessage& call);
    ScriptedReply reject(int http_status, int code, const std::string& why);
    // Posts the final state of `sid` (created from `message`) to its StatusCallback, later.
    void schedule_callback(const TwilioMessage& message, const std::string& sid);

    const std::string account_sid_;
    const std::string auth_token_;
    mutable std::mutex mutex_;
    std::deque<TwilioAnswer> script_;
    std::vector<TwilioMessage> messages_;
    std::vector<std::string> rejections_;
    int sid_counter_ = 0;
    std::string callback_message_status_ = "delivered";
    std::string callback_call_status_ = "completed";
    std::string callback_error_code_;
    std::chrono::milliseconds callback_delay_{200};
    std::vector<PostedCallback> callbacks_;
    std::vector<std::thread> callback_threads_;  // joined by the destructor
    FakeHttpServer server_;                      // last: it calls handle() until it is destroyed, first
};

}  // namespace testino::test
