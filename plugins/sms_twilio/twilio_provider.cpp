#include "twilio_provider.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <utility>

#include "twilio_callbacks.hpp"

namespace testino::plugins::twilio {
namespace {

using sdk::LogLevel;
using sdk::SendStatus;

// Twilio's number errors that mean "this recipient cannot get this SMS": the caller's
// fault (HTTP 422 RECIPIENT_REJECTED, with a fixed message); the reason is for the logs.
struct RecipientError {
    int code;
    const char* detail;
};
constexpr RecipientError kRecipientErrors[] = {
    {21211, "the number is not a valid phone number"},
    {21614, "the number is not a mobile number that can receive SMS"},
    {21610, "the number has unsubscribed from SMS from this service (replied STOP)"},
    {21608, "this service is not allowed to send SMS to the number yet"},
    {21612, "the number cannot be reached by SMS from this service"},
    {21214, "the number cannot be reached by a call"},
    {63003, "the number has no WhatsApp account Twilio can reach"},
};

constexpr const char* kMayHaveSent = "; Twilio may have accepted the message";

// Twilio errors that mean the operator's setup is wrong (sender, account): every send fails.
constexpr int kSenderErrors[] = {
    21212,  // invalid 'From' number
    21606,  // 'From' is not an SMS-capable number of this account
    21210,  // a call's 'From' is not a verified caller ID or number of this account
    21215,  // the account's geo permissions do not allow calls to this country
    63007,  // no WhatsApp sender with this 'From' on the account
    21655,  // the ContentSid is not a template of the account
    21656,  // ContentVariables do not fit the template
};

std::string status_text(const http::Response& response, const TwilioError& error) {
    std::string text = "HTTP " + std::to_string(response.status);
    if (error.code != 0) text += ", Twilio error " + std::to_string(error.code) + ": " + error.message;
    return text;
}

}  // namespace

TwilioError parse_error(const std::string& body) {
    TwilioError error;
    rapidjson::Document document;
    document.Parse(body.c_str(), body.size());
    if (document.HasParseError() || !document.IsObject()) return error;
    const auto code = document.FindMember("code");
    if (code != document.MemberEnd() && code->value.IsInt()) error.code = code->value.GetInt();
    const auto message = document.FindMember("message");
    if (message != document.MemberEnd() && message->value.IsString()) {
        // Twilio's messages are short; cap them anyway, they go into log lines.
        error.message.assign(message->value.GetString(),
                             std::min<std::size_t>(message->value.GetStringLength(), 300));
    }
    const auto more_info = document.FindMember("more_info");
    if (more_info != document.MemberEnd() && more_info->value.IsString()) {
        error.more_info.assign(more_info->value.GetString(),
                               std::min<std::size_t>(more_info->value.GetStringLength(), 200));
    }
    return error;
}

bool retryable(const http::Response& response) {
    if (response.status == 0) return response.nothing_sent;
    return response.status == 429;
}

namespace {

Verdict no_answer_verdict(const http::Response& response) {
    Verdict verdict;
    if (response.nothing_sent) {
        verdict.status = SendStatus::unavailable;
        verdict.detail = "cannot reach Twilio: " + response.transport_error;
    } else {
        verdict.status = SendStatus::uncertain;
        verdict.detail =
            (response.timed_out ? "Twilio did not answer before the deadline ("
                                : "the connection to Twilio failed after the request was sent (") +
            response.transport_error + ")" + kMayHaveSent;
    }
    return verdict;
}

Verdict sent_verdict(const http::Response& response) {
    Verdict verdict;
    verdict.status = SendStatus::sent;
    rapidjson::Document document;
    document.Parse(response.body.c_str(), response.body.size());
    if (!document.HasParseError() && document.IsObject()) {
        const auto sid = document.FindMember("sid");
        if (sid != document.MemberEnd() && sid->value.IsString()) verdict.sid = sid->value.GetString();
    }
    return verdict;
}

// A Twilio error answer that names an ops fault: the credentials, the sender, the account.
bool ops_fault(const http::Response& response, Verdict& verdict) {
    const int code = verdict.error.code;
    const std::string answered = status_text(response, verdict.error);
    if (code == 20003 || response.status == 401) {
        verdict.auth_failed = true;
        verdict.detail = "Twilio rejected the credentials (" + answered +
                         "); check sms.twilio.account_sid and sms.twilio.auth_token";
    } else if (std::find(std::begin(kSenderErrors), std::end(kSenderErrors), code) !=
               std::end(kSenderErrors)) {
        verdict.detail = "Twilio rejected the sender (" + answered +
                         "); check sms.twilio.from, messaging_service_sid, voice_from, whatsapp_from or "
                         "whatsapp_content_sid";
    } else if (response.status == 403 || response.status == 404) {
        verdict.detail = "Twilio refused the account or URL (" + answered +
                         "); check sms.twilio.account_sid and sms.twilio.api_base_url";
    } else {
        return false;
    }
    verdict.status = SendStatus::misconfigured;
    return true;
}

}  // namespace

Verdict interpret(const http::Response& response) {
    if (response.status == 0) return no_answer_verdict(response);
    if (response.status >= 200 && response.status < 300) return sent_verdict(response);

    Verdict verdict;
    verdict.error = parse_error(response.body);
    if (response.status >= 500) {
        // Twilio (or a proxy in front of it) failed while handling the request, perhaps after
        // the message was created.
        verdict.status = SendStatus::uncertain;
        verdict.detail = "Twilio failed (" + status_text(response, verdict.error) + ")" + kMayHaveSent;
        return verdict;
    }
    for (const auto& recipient : kRecipientErrors) {
        if (verdict.error.code == recipient.code) {
            verdict.status = SendStatus::invalid_recipient;
            verdict.detail = "Twilio error " + std::to_string(recipient.code) + ": " + recipient.detail;
            return verdict;
        }
    }
    if (ops_fault(response, verdict)) return verdict;
    // 429 and every other refusal: Twilio created no message, so another attempt (here or at
    // another provider) cannot send it twice. 4xx codes we do not know (Twilio adds codes over
    // time) are permanent for this request, nobody's known fault.
    verdict.status = SendStatus::unavailable;
    verdict.detail = (response.status == 429 ? "Twilio is limiting this account's requests ("
                                             : "Twilio refused the message (") +
                     status_text(response, verdict.error) + ")";
    return verdict;
}

namespace {

void append_xml_escaped(std::string& out, const std::string& text) {
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
}

// Voices for the locales Testino ships templates for (issue 18): Google standard voices,
// which Twilio's <Say> offers for each of these languages. Keyed by primary language subtag.
struct MappedVoice {
    const char* subtag;
    SayVoice voice;
};
const MappedVoice kVoices[] = {
    {"en", {"en-US", "Google.en-US-Standard-C", "Your verification code is"}},
    {"es", {"es-ES", "Google.es-ES-Standard-A", "Su código de verificación es"}},
    {"fr", {"fr-FR", "Google.fr-FR-Standard-A", "Votre code de vérification est"}},
    {"pt", {"pt-BR", "Google.pt-BR-Standard-A", "Seu código de verificação é"}},
    {"hi", {"hi-IN", "Google.hi-IN-Standard-A", "आपका सत्यापन कोड है"}},
    {"ja", {"ja-JP", "Google.ja-JP-Standard-A", "認証コードは"}},
    {"ko", {"ko-KR", "Google.ko-KR-Standard-A", "인증 코드는"}},
    {"zh", {"cmn-CN", "Google.cmn-CN-Standard-A", "您的验证码是"}},
    {"ar", {"ar-XA", "Google.ar-XA-Standard-A", "رمز التحقق الخاص بك هو"}},
    {"vi", {"vi-VN", "Google.vi-VN-Standard-A", "Mã xác minh của bạn là"}},
};

}  // namespace

const SayVoice& say_voice_for(const std::string& locale) {
    std::string subtag;
    for (const char c : locale) {
        if (c == '-' || c == '_') break;
        subtag += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    for (const auto& mapped : kVoices) {
        if (subtag == mapped.subtag) return mapped.voice;
    }
    return kVoices[0].voice;
}

std::string voice_twiml(const std::string& code, const std::string& locale) {
    const SayVoice& voice = say_voice_for(locale);
    std::string digits;
    for (const char c : code) {
        if (!digits.empty()) digits += ", ";
        digits += c;
    }
    std::string say = "<Say language=\"";
    append_xml_escaped(say, voice.language);
    say += "\" voice=\"";
    append_xml_escaped(say, voice.voice);
    say += "\">";
    std::string twiml = "<Response>" + say;
    append_xml_escaped(twiml, voice.intro);
    twiml += "</Say>";
    for (int time = 0; time < 2; ++time) {
        if (time > 0) twiml += "<Pause length=\"1\"/>";
        twiml += say;
        append_xml_escaped(twiml, digits);
        twiml += ".</Say>";
    }
    return twiml + "</Response>";
}

std::string whatsapp_variables(const std::string& code) {
    std::string json = "{\"1\":\"";
    for (const char c : code) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            json += '\\';
            json += c;
        } else if (byte < 0x20) {
            static const char hex[] = "0123456789abcdef";
            json += "\\u00";
            json += hex[byte >> 4];
            json += hex[byte & 15];
        } else {
            json += c;
        }
    }
    return json + "\"}";
}

TwilioProvider::TwilioProvider(TwilioSettings settings, sdk::Host& host)
    : settings_(std::move(settings)),
      messages_url_(settings_.api_base_url + "/2010-04-01/Accounts/" + settings_.account_sid +
                    "/Messages.json"),
      calls_url_(settings_.api_base_url + "/2010-04-01/Accounts/" + settings_.account_sid + "/Calls.json"),
      channels_(channels_of(settings_)),
      host_(host),
      client_([this] {
          http::ClientOptions options;
          options.connect_timeout = settings_.connect_timeout;
          return options;
      }()) {}

http::Request TwilioProvider::request_for(const sdk::SmsMessage& message) const {
    http::Request request;
    request.basic_auth = std::make_pair(settings_.account_sid, settings_.auth_token);
    request.traceparent = message.traceparent;
    switch (message.channel) {
        case sdk::Channel::whatsapp:
            // An approved authentication template: WhatsApp fixes its text; the code is variable 1.
            request.url = messages_url_;
            request.body = http::form_encode({
                {"To", "whatsapp:" + message.to},
                {"From", "whatsapp:" + settings_.whatsapp_from},
                {"ContentSid", settings_.whatsapp_content_sid},
                {"ContentVariables", whatsapp_variables(message.code)},
            });
            add_status_callback(request);
            return request;
        case sdk::Channel::voice:
            request.url = calls_url_;
            request.body = http::form_encode({
                {"To", message.to},
                {"From", settings_.voice_from.empty() ? settings_.from : settings_.voice_from},
                {"Twiml", voice_twiml(message.code, message.locale)},
            });
            add_status_callback(request);
            return request;
        case sdk::Channel::sms: break;
    }
    request.url = messages_url_;
    request.body = http::form_encode({
        {"To", message.to},
        settings_.from.empty()
            ? std::make_pair(std::string("MessagingServiceSid"), settings_.messaging_service_sid)
            : std::make_pair(std::string("From"), settings_.from),
        {"Body", message.text},
    });
    add_status_callback(request);
    return request;
}

void TwilioProvider::add_status_callback(http::Request& request) const {
    if (settings_.status_callback_url.empty()) return;
    request.body += "&" + http::form_encode({{"StatusCallback", settings_.status_callback_url}});
}

sdk::CallbackResult TwilioProvider::handle_callback(const sdk::CallbackRequest& request) {
    try {
        if (!takes_callbacks()) return {404, {}, "twilio: sms.twilio.status_callback_url is not set"};
        return handle_status_callback(settings_.auth_token, settings_.status_callback_url, request);
    } catch (const std::exception& error) {
        return {400, {}, std::string("twilio: ") + error.what()};
    }
}

sdk::SendResult TwilioProvider::send(const sdk::SmsMessage& message,
                                     std::chrono::steady_clock::time_point deadline) {
    try {
        if (!supports(message.channel)) {
            // The server never asks (it reads channels()); refuse rather than send an SMS instead.
            return {SendStatus::misconfigured,
                    std::string("twilio: the ") + sdk::to_string(message.channel) +
                        " channel is not configured (sms.twilio)",
                    {}};
        }
        const http::Request request = request_for(message);

        int attempts = 1;
        const http::Response response = http::post_with_retries(
            client_, request, deadline, settings_.retry, &retryable,
            [&](int attempt, const http::Response& failed) {
                attempts = attempt + 1;
                const TwilioError error = parse_error(failed.body);
                host_.log(LogLevel::warn, "sms.twilio.retry",
                          {{"request_id", message.request_id},
                           {"attempt", std::to_string(attempt)},
                           {"http_status", std::to_string(failed.status)},
                           {"twilio_code", std::to_string(error.code)},
                           {"twilio_message", failed.status == 0 ? failed.transport_error : error.message}});
            });
        const Verdict verdict = interpret(response);
        log_outcome(message, response, verdict, attempts);
        if (verdict.status == SendStatus::sent) {
            set_health(true, "");
        } else if (verdict.status == SendStatus::misconfigured) {
            set_health(false, verdict.detail);
        }
        return {verdict.status, verdict.detail, verdict.sid};
    } catch (const std::exception& error) {
        // send() must not throw; only an allocation failure gets here, perhaps after the request.
        return {SendStatus::uncertain, std::string("twilio: ") + error.what(), {}};
    }
}

void TwilioProvider::log_outcome(const sdk::SmsMessage& message, const http::Response& response,
                                 const Verdict& verdict, int attempts) {
    // Never the Body (it holds the code) and never the auth token.
    std::vector<sdk::LogField> fields{{"request_id", message.request_id},
                                      {"channel", sdk::to_string(message.channel)}};
    if (verdict.status == SendStatus::sent) {
        fields.emplace_back("sid", verdict.sid);
        fields.emplace_back("attempts", std::to_string(attempts));
        host_.log(LogLevel::info, "sms.twilio.sent", fields);
        return;
    }
    fields.emplace_back("http_status", std::to_string(response.status));
    fields.emplace_back("twilio_code", std::to_string(verdict.error.code));
    fields.emplace_back("twilio_message", verdict.error.message);
    if (!verdict.error.more_info.empty()) fields.emplace_back("more_info", verdict.error.more_info);
    fields.emplace_back("attempts", std::to_string(attempts));
    fields.emplace_back("detail", verdict.detail);
    switch (verdict.status) {
        case SendStatus::invalid_recipient: host_.log(LogLevel::warn, "sms.twilio.rejected", fields); break;
        case SendStatus::misconfigured:
            host_.log(LogLevel::error,
                      verdict.auth_failed ? "sms.twilio.auth_failed" : "sms.twilio.misconfigured", fields);
            break;
        case SendStatus::uncertain: host_.log(LogLevel::error, "sms.twilio.uncertain", fields); break;
        default: host_.log(LogLevel::error, "sms.twilio.failed", fields); break;
    }
}

void TwilioProvider::set_health(bool healthy, std::string detail) {
    std::lock_guard lock(health_mutex_);
    health_ = {healthy, std::move(detail)};
}

sdk::HealthReport TwilioProvider::health() {
    std::lock_guard lock(health_mutex_);
    return health_;
}

}  // namespace testino::plugins::twilio
