#include "fake_twilio.hpp"

#include <cstdio>
#include <regex>

namespace testino::test {
namespace {

std::string error_json(int http_status, int code, const std::string& message) {
    std::string escaped;
    for (const char c : message) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
    }
    return "{\"code\":" + std::to_string(code) + ",\"message\":\"" + escaped +
           "\",\"more_info\":\"https://www.twilio.com/docs/errors/" + std::to_string(code) +
           "\",\"status\":" + std::to_string(http_status) + "}";
}

ScriptedReply error_reply(int http_status, int code, const std::string& message,
                          std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    return {http_status, error_json(http_status, code, message), "application/json", delay};
}

}  // namespace

TwilioAnswer twilio_error(int code, std::chrono::milliseconds delay) {
    struct Entry {
        int code;
        int http_status;
        const char* message;
    };
    static const Entry kCatalogue[] = {
        {21211, 400, "Invalid 'To' Phone Number: +1202555XXXX"},
        {21608, 400,
         "The number +1202555XXXX is unverified. Trial accounts cannot send messages to unverified numbers; "
         "verify +1202555XXXX at twilio.com/user/account/phone-numbers/verified, or purchase a Twilio number "
         "to send messages to unverified numbers"},
        {21610, 400, "Attempt to send to unsubscribed recipient"},
        {21612, 400,
         "The 'To' phone number: +1202555XXXX, is not currently reachable using the 'From' phone number: "
         "+15005550006 via SMS."},
        {21614, 400, "'To' number +1202555XXXX is not a valid mobile number"},
        {21606, 400,
         "The 'From' phone number provided (+15005550006) is not a valid message-capable Twilio phone number "
         "for this destination."},
        {20003, 401, "Authenticate"},
        {20429, 429, "Too Many Requests"},
        {20500, 500, "An internal server error has occurred"},
        {20503, 503, "Service is unavailable. Please try again"},
    };
    for (const auto& entry : kCatalogue) {
        if (entry.code == code) return {entry.http_status, entry.code, entry.message, delay};
    }
    return {400, code, "Error " + std::to_string(code), delay};
}

std::map<std::string, std::string> twilio_section(const FakeTwilio& fake) {
    auto quoted = [](const std::string& text) { return "\"" + text + "\""; };
    return {{"account_sid", quoted(kFakeAccountSid)},
            {"auth_token", quoted(kFakeAuthToken)},
            {"from", quoted(kFakeFrom)},
            {"api_base_url", quoted(fake.base_url())},
            {"retry_backoff_ms", "5"},
            {"retry_max_backoff_ms", "20"}};
}

std::string TwilioMessage::field(const std::string& name) const {
    const auto found = fields.find(name);
    return found == fields.end() ? std::string() : found->second;
}

FakeTwilio::FakeTwilio(std::string account_sid, std::string auth_token)
    : account_sid_(std::move(account_sid)),
      auth_token_(std::move(auth_token)),
      server_([this](const ReceivedRequest& request) { return handle(request); }) {}

void FakeTwilio::answer_next(const TwilioAnswer& answer) { answer_next(answer, 1); }

void FakeTwilio::answer_next(const TwilioAnswer& answer, int times) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < times; ++i) script_.push_back(answer);
}

std::vector<TwilioMessage> FakeTwilio::messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
}

std::vector<std::string> FakeTwilio::rejections() const {
    std::lock_guard lock(mutex_);
    return rejections_;
}

ScriptedReply FakeTwilio::handle(const ReceivedRequest& request) {
    std::lock_guard lock(mutex_);
    auto reject = [this](int http_status, int code, const std::string& why) {
        rejections_.push_back(why);
        return error_reply(http_status, code, why);
    };

    // Twilio authenticates before it routes: a bad login is 401 whatever the path.
    const auto authorization = request.header("authorization");
    const auto credentials = authorization ? decode_basic_auth(*authorization) : std::nullopt;
    if (!credentials || credentials->first != account_sid_ || credentials->second != auth_token_) {
        rejections_.push_back("authentication failed");
        return error_reply(401, 20003, "Authenticate");
    }
    const std::string path = "/2010-04-01/Accounts/" + account_sid_ + "/Messages.json";
    if (request.path != path) {
        return reject(404, 20404, "The requested resource " + request.path + " was not found");
    }
    if (request.method != "POST") {
        return reject(405, 20004, "Method not allowed: " + request.method);
    }
    const std::string content_type = request.header("content-type").value_or("");
    if (content_type.rfind("application/x-www-form-urlencoded", 0) != 0) {
        return reject(400, 21604,
                      "A 'To' phone number is required. (content type \"" + content_type +
                          "\" is not application/x-www-form-urlencoded)");
    }

    TwilioMessage message;
    for (const auto& [name, value] : parse_form(request.body)) {
        if (message.fields.count(name) != 0) return reject(400, 21600, "Duplicate parameter " + name);
        message.fields[name] = value;
    }
    static const std::regex e164(R"(^\+[1-9][0-9]{1,14}$)");
    static const std::regex service_sid(R"(^MG[0-9a-fA-F]{32}$)");
    const std::string to = message.field("To");
    const std::string from = message.field("From");
    const std::string service = message.field("MessagingServiceSid");
    if (to.empty()) return reject(400, 21604, "A 'To' phone number is required.");
    if (!std::regex_match(to, e164)) return reject(400, 21211, "Invalid 'To' Phone Number: " + to);
    if (from.empty() && service.empty()) return reject(400, 21603, "A 'From' phone number is required.");
    if (!from.empty() && !std::regex_match(from, e164)) {
        return reject(400, 21212, "Invalid From Number (caller ID): " + from);
    }
    if (!service.empty() && !std::regex_match(service, service_sid)) {
        return reject(400, 21701, "The Messaging Service Sid " + service + " is invalid.");
    }
    if (message.field("Body").empty()) return reject(400, 21602, "Message body is required.");
    messages_.push_back(message);

    TwilioAnswer answer;
    if (!script_.empty()) {
        answer = script_.front();
        script_.pop_front();
    }
    if (answer.code != 0) {
        return error_reply(answer.http_status, answer.code, answer.message, answer.delay);
    }
    char sid[35];
    std::snprintf(sid, sizeof sid, "SM%032x", ++sid_counter_);
    const std::string body =
        std::string("{\"sid\":\"") + sid + "\",\"account_sid\":\"" + account_sid_ + "\",\"to\":\"" + to +
        "\",\"from\":" + (from.empty() ? "null" : "\"" + from + "\"") +
        ",\"messaging_service_sid\":" + (service.empty() ? "null" : "\"" + service + "\"") +
        ",\"status\":\"" + (service.empty() ? "queued" : "accepted") +
        "\",\"direction\":\"outbound-api\",\"num_segments\":\"1\",\"error_code\":null,"
        "\"error_message\":null,\"price\":null,\"uri\":\"/2010-04-01/Accounts/" +
        account_sid_ + "/Messages/" + sid + ".json\"}";
    return {answer.http_status, body, "application/json", answer.delay};
}

}  // namespace testino::test
