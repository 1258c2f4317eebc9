#include "twilio_provider.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <utility>

namespace testino::plugins::twilio {
namespace {

using sdk::LogLevel;
using sdk::SendStatus;

// Twilio's number errors that mean "this recipient cannot get this SMS": the caller's
// fault (HTTP 422 RECIPIENT_REJECTED), with a detail the client may read.
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
};

// Twilio errors that mean the operator's setup is wrong (sender, account): every send fails.
constexpr int kSenderErrors[] = {
    21212,  // invalid 'From' number
    21606,  // 'From' is not an SMS-capable number of this account
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
    if (response.status == 0) return !response.timed_out;
    return response.status == 429 || response.status >= 500;
}

Verdict interpret(const http::Response& response) {
    Verdict verdict;
    if (response.status == 0) {
        verdict.status = SendStatus::unavailable;
        verdict.detail = response.timed_out
                             ? "Twilio did not answer before the deadline (" + response.transport_error + ")"
                             : "cannot reach Twilio: " + response.transport_error;
        return verdict;
    }
    if (response.status >= 200 && response.status < 300) {
        verdict.status = SendStatus::sent;
        rapidjson::Document document;
        document.Parse(response.body.c_str(), response.body.size());
        if (!document.HasParseError() && document.IsObject()) {
            const auto sid = document.FindMember("sid");
            if (sid != document.MemberEnd() && sid->value.IsString()) verdict.sid = sid->value.GetString();
        }
        return verdict;
    }

    verdict.error = parse_error(response.body);
    const int code = verdict.error.code;
    for (const auto& recipient : kRecipientErrors) {
        if (code == recipient.code) {
            verdict.status = SendStatus::invalid_recipient;
            verdict.detail = recipient.detail;
            return verdict;
        }
    }
    if (code == 20003 || response.status == 401) {
        verdict.status = SendStatus::misconfigured;
        verdict.auth_failed = true;
        verdict.detail = "Twilio rejected the credentials (" + status_text(response, verdict.error) +
                         "); check sms.twilio.account_sid and sms.twilio.auth_token";
        return verdict;
    }
    if (std::find(std::begin(kSenderErrors), std::end(kSenderErrors), code) != std::end(kSenderErrors)) {
        verdict.status = SendStatus::misconfigured;
        verdict.detail = "Twilio rejected the sender (" + status_text(response, verdict.error) +
                         "); check sms.twilio.from or sms.twilio.messaging_service_sid";
        return verdict;
    }
    if (response.status == 403 || response.status == 404) {
        verdict.status = SendStatus::misconfigured;
        verdict.detail = "Twilio refused the account or URL (" + status_text(response, verdict.error) +
                         "); check sms.twilio.account_sid and sms.twilio.api_base_url";
        return verdict;
    }
    verdict.status = SendStatus::unavailable;
    if (retryable(response)) {
        verdict.detail = "Twilio is busy or failing (" + status_text(response, verdict.error) + ")";
        return verdict;
    }
    // 4xx errors we do not know (Twilio refines its codes over time): permanent for this
    // request, nobody's known fault.
    verdict.detail = "Twilio refused the message (" + status_text(response, verdict.error) + ")";
    return verdict;
}

TwilioProvider::TwilioProvider(TwilioSettings settings, sdk::Host& host)
    : settings_(std::move(settings)),
      messages_url_(settings_.api_base_url + "/2010-04-01/Accounts/" + settings_.account_sid +
                    "/Messages.json"),
      host_(host),
      client_([this] {
          http::ClientOptions options;
          options.connect_timeout = settings_.connect_timeout;
          return options;
      }()) {}

sdk::SendResult TwilioProvider::send(const sdk::SmsMessage& message,
                                     std::chrono::steady_clock::time_point deadline) {
    try {
        http::Request request;
        request.url = messages_url_;
        request.body = http::form_encode({
            {"To", message.to},
            settings_.from.empty()
                ? std::make_pair(std::string("MessagingServiceSid"), settings_.messaging_service_sid)
                : std::make_pair(std::string("From"), settings_.from),
            {"Body", message.text},
        });
        request.basic_auth = std::make_pair(settings_.account_sid, settings_.auth_token);

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
        // send() must not throw; only an allocation failure gets here.
        return {SendStatus::unavailable, std::string("twilio: ") + error.what(), {}};
    }
}

void TwilioProvider::log_outcome(const sdk::SmsMessage& message, const http::Response& response,
                                 const Verdict& verdict, int attempts) {
    // Never the Body (it holds the code) and never the auth token.
    std::vector<sdk::LogField> fields{{"request_id", message.request_id}};
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
