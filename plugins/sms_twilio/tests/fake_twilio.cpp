#include "fake_twilio.hpp"

#include <cstdio>
#include <regex>

#include "testino/plugins/http_client.hpp"
#include "twilio_callbacks.hpp"

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
        {21214, 400, "'To' phone number cannot be reached"},
        {21215, 400,
         "Account not authorized to call +1202555XXXX. Perhaps you need to enable some international "
         "permissions: twilio.com/console/voice/calls/geo-permissions/low-risk"},
        {21210, 400, "Caller phone number not verified, or not a Twilio number of this account"},
        {63003, 400, "Channel could not find To address"},
        {63007, 400, "Twilio could not find a Channel with the specified From address"},
        {21656, 400, "The ContentVariables Parameter is invalid."},
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

FakeTwilio::~FakeTwilio() {
    // A request still arriving may schedule one more: join until none is left.
    for (;;) {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            threads.swap(callback_threads_);
        }
        if (threads.empty()) return;
        for (auto& thread : threads) thread.join();
    }
}

void FakeTwilio::set_callbacks(std::string message_status, std::string call_status, std::string error_code,
                               std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    callback_message_status_ = std::move(message_status);
    callback_call_status_ = std::move(call_status);
    callback_error_code_ = std::move(error_code);
    callback_delay_ = delay;
}

std::vector<PostedCallback> FakeTwilio::callbacks() const {
    std::lock_guard lock(mutex_);
    return callbacks_;
}

// Called with mutex_ held. The fields Twilio's own callbacks carry (a subset), signed as
// Twilio signs them, after the create call has been answered.
void FakeTwilio::schedule_callback(const TwilioMessage& message, const std::string& sid) {
    const std::string url = message.field("StatusCallback");
    const bool call = message.resource == "Calls";
    const std::string status = call ? callback_call_status_ : callback_message_status_;
    if (url.empty() || status.empty()) return;
    plugins::twilio::FormFields fields = {{"AccountSid", account_sid_},
                                          {call ? "CallSid" : "MessageSid", sid},
                                          {call ? "CallStatus" : "MessageStatus", status},
                                          {"To", message.field("To")},
                                          {"From", message.field("From")},
                                          {"ApiVersion", "2010-04-01"}};
    if (!call && !callback_error_code_.empty()) fields.emplace_back("ErrorCode", callback_error_code_);
    plugins::http::Request request;
    request.url = url;
    request.body = plugins::http::form_encode(fields);
    request.headers.push_back("X-Twilio-Signature: " +
                              plugins::twilio::twilio_signature(auth_token_, url, fields));
    const auto delay = callback_delay_;
    callback_threads_.emplace_back([this, request, delay] {
        std::this_thread::sleep_for(delay);
        plugins::http::Client client(plugins::http::ClientOptions{});
        const auto response =
            client.post(request, std::chrono::steady_clock::now() + std::chrono::seconds(5));
        std::lock_guard lock(mutex_);
        callbacks_.push_back({request.url, request.body, response.status});
    });
}

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

ScriptedReply FakeTwilio::reject(int http_status, int code, const std::string& why) {
    rejections_.push_back(why);
    return error_reply(http_status, code, why);
}

namespace {

const std::regex& e164() {
    static const std::regex pattern(R"(^\+[1-9][0-9]{1,14}$)");
    return pattern;
}

// A JSON object of string values, as Twilio requires for ContentVariables.
bool is_flat_json_object(const std::string& text) {
    static const std::regex object(R"(^\{\s*("[^"\\]*"\s*:\s*"([^"\\]|\\.)*"\s*(,\s*|(?=\})))*\}$)");
    return std::regex_match(text, object);
}

}  // namespace

std::optional<ScriptedReply> FakeTwilio::check_message(const TwilioMessage& message) {
    static const std::regex service_sid(R"(^MG[0-9a-fA-F]{32}$)");
    static const std::regex content_sid(R"(^HX[0-9a-fA-F]{32}$)");
    const std::string to = message.field("To");
    const std::string from = message.field("From");
    const std::string service = message.field("MessagingServiceSid");
    if (to.empty()) return reject(400, 21604, "A 'To' phone number is required.");
    const bool whatsapp = to.rfind("whatsapp:", 0) == 0;
    const std::string to_number = whatsapp ? to.substr(9) : to;
    if (!std::regex_match(to_number, e164())) return reject(400, 21211, "Invalid 'To' Phone Number: " + to);
    if (from.empty() && service.empty()) return reject(400, 21603, "A 'From' phone number is required.");
    if (!from.empty()) {
        const bool from_whatsapp = from.rfind("whatsapp:", 0) == 0;
        if (!std::regex_match(from_whatsapp ? from.substr(9) : from, e164())) {
            return reject(400, 21212, "Invalid From Number (caller ID): " + from);
        }
        if (from_whatsapp != whatsapp) {
            return reject(400, 21910, "Invalid From and To pair. From and To should be of the same channel");
        }
    }
    if (!service.empty() && !std::regex_match(service, service_sid)) {
        return reject(400, 21701, "The Messaging Service Sid " + service + " is invalid.");
    }
    const std::string content = message.field("ContentSid");
    if (!content.empty()) {
        if (!std::regex_match(content, content_sid)) {
            return reject(400, 21655, "The ContentSid is Invalid: " + content);
        }
        const std::string variables = message.field("ContentVariables");
        if (!variables.empty() && !is_flat_json_object(variables)) {
            return reject(400, 21656, "The ContentVariables Parameter is invalid.");
        }
    } else if (message.field("Body").empty()) {
        return reject(400, 21602, "Message body is required.");
    }
    if (whatsapp && content.empty()) {
        // Outside a session WhatsApp only delivers approved templates.
        return reject(400, 63016,
                      "Failed to send freeform message because you are outside the allowed window. "
                      "Please use a Template.");
    }
    return std::nullopt;
}

std::optional<ScriptedReply> FakeTwilio::check_call(const TwilioMessage& call) {
    const std::string to = call.field("To");
    const std::string from = call.field("From");
    if (to.empty()) return reject(400, 21201, "No 'To' number is specified");
    if (!std::regex_match(to, e164())) return reject(400, 21211, "Invalid 'To' Phone Number: " + to);
    if (from.empty()) return reject(400, 21213, "Caller phone number is required");
    if (!std::regex_match(from, e164())) return reject(400, 21212, "Invalid 'From' Phone Number: " + from);
    const std::string twiml = call.field("Twiml");
    const std::string url = call.field("Url");
    if (twiml.empty() && url.empty() && call.field("ApplicationSid").empty()) {
        // 21200, the Calls resource's catch-all (21205 is an invalid Url, not a missing one).
        return reject(400, 21200, "Calls resource: the call needs a Url, Twiml or ApplicationSid");
    }
    if (!twiml.empty()) {
        const bool wrapped = twiml.rfind("<Response>", 0) == 0 && twiml.size() >= 21 &&
                             twiml.compare(twiml.size() - 11, 11, "</Response>") == 0;
        // A bare '&' or '<' inside text is not XML: Twilio refuses the TwiML (12100).
        static const std::regex bad_text(R"(&(?!(amp|lt|gt|quot|apos);)|<(?![/A-Za-z]))");
        if (!wrapped || std::regex_search(twiml, bad_text) || twiml.size() > 4000) {
            return reject(400, 12100, "Document parse failure");
        }
    }
    return std::nullopt;
}

ScriptedReply FakeTwilio::handle(const ReceivedRequest& request) {
    std::lock_guard lock(mutex_);

    // Twilio authenticates before it routes: a bad login is 401 whatever the path.
    const auto authorization = request.header("authorization");
    const auto credentials = authorization ? decode_basic_auth(*authorization) : std::nullopt;
    if (!credentials || credentials->first != account_sid_ || credentials->second != auth_token_) {
        rejections_.push_back("authentication failed");
        return error_reply(401, 20003, "Authenticate");
    }
    const std::string prefix = "/2010-04-01/Accounts/" + account_sid_ + "/";
    TwilioMessage message;
    if (request.path == prefix + "Messages.json") {
        message.resource = "Messages";
    } else if (request.path == prefix + "Calls.json") {
        message.resource = "Calls";
    } else {
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

    for (const auto& [name, value] : parse_form(request.body)) {
        if (message.fields.count(name) != 0) return reject(400, 21600, "Duplicate parameter " + name);
        message.fields[name] = value;
    }
    const bool call = message.resource == "Calls";
    if (auto refused = call ? check_call(message) : check_message(message)) return *refused;
    messages_.push_back(message);

    TwilioAnswer answer;
    if (!script_.empty()) {
        answer = script_.front();
        script_.pop_front();
    }
    if (answer.code != 0) {
        return error_reply(answer.http_status, answer.code, answer.message, answer.delay);
    }
    const std::string to = message.field("To");
    const std::string from = message.field("From");
    const std::string service = message.field("MessagingServiceSid");
    char sid[35];
    std::snprintf(sid, sizeof sid, "%s%032x", call ? "CA" : "SM", ++sid_counter_);
    schedule_callback(message, sid);
    if (call) {
        const std::string body =
            std::string("{\"sid\":\"") + sid + "\",\"account_sid\":\"" + account_sid_ + "\",\"to\":\"" + to +
            "\",\"from\":\"" + from +
            "\",\"status\":\"queued\",\"direction\":\"outbound-api\",\"uri\":\"/2010-04-01/"
            "Accounts/" +
            account_sid_ + "/Calls/" + sid + ".json\"}";
        return {answer.http_status, body, "application/json", answer.delay};
    }
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
