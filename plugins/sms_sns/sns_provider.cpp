#include "sns_provider.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "sns_xml.hpp"

namespace testino::plugins::sns {
namespace {

using Clock = std::chrono::steady_clock;

// AWS says these about a parameter's value; about PhoneNumber that is the caller's number.
const std::set<std::string> kBadParameterCodes = {"InvalidParameter", "ParameterValueInvalid",
                                                  "InvalidParameterValue"};

// Credentials, signature, clock and permission problems: nothing the caller can fix.
const std::set<std::string> kOpsFaultCodes = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthorizationError",
    "RequestExpired",       "IncompleteSignature",   "MissingAuthenticationToken",
    "InvalidSecurity",      "ExpiredToken",          "ExpiredTokenException",
    "AccessDenied",         "AccessDeniedException", "UnrecognizedClientException",
    "OptInRequired",        "InvalidAccessKeyId",    "KMSAccessDenied",
    "KMSDisabled",          "KMSNotFound",           "KMSInvalidState",
    "KMSOptInRequired"};

// Throttling answers; botocore's _retry.json lists the same family. AWS documents a throttled
// request as denied ("The request was denied due to request throttling", Common Errors,
// https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html; "further API calls are
// throttled", https://repost.aws/knowledge-center/sns-throttling-exception-errors): it was not
// published, so another attempt cannot send the SMS twice.
const std::set<std::string> kThrottlingCodes = {
    "Throttling",           "ThrottlingException", "Throttled",
    "ThrottledException",   "RequestThrottled",    "TooManyRequestsException",
    "RequestLimitExceeded", "KMSThrottling"};

bool mentions_phone_number(const std::string& message) {
    return message.find("PhoneNumber") != std::string::npos ||
           message.find("phone number") != std::string::npos;
}

}  // namespace

ClassifiedReply classify_reply(const http::Response& response) {
    ClassifiedReply reply;
    if (response.status == 0) {
        // Only a request that never left is certainly unpublished; after that, silence or a
        // hang-up may follow a publish.
        reply.kind = response.nothing_sent ? ReplyKind::retryable : ReplyKind::uncertain;
        reply.reason = (response.timed_out ? "timed out: " : "no answer: ") + response.transport_error;
        if (!response.nothing_sent) reply.reason += " (after the request was sent)";
        return reply;
    }
    const std::string status = "HTTP " + std::to_string(response.status);
    if (response.status >= 200 && response.status < 300) {
        if (auto id = publish_message_id(response.body)) {
            reply.kind = ReplyKind::sent;
            reply.message_id = *id;
            reply.reason = status;
        } else {
            reply.kind = ReplyKind::uncertain;  // a success we cannot read is still a success
            reply.reason = status + " without a MessageId";
        }
        return reply;
    }
    const auto error = parse_error(response.body);
    if (error) {
        reply.aws_code = error->code;
        reply.aws_message = error->message;
        reply.aws_request_id = error->request_id;
    }
    reply.reason = status + (error ? " " + error->code : " without an AWS error document");
    if (response.status >= 500) {
        reply.kind = ReplyKind::uncertain;  // InternalError & co.: SNS failed, perhaps after publishing
    } else if (!error) {
        reply.kind = response.status == 429 ? ReplyKind::retryable : ReplyKind::failed;
    } else if (kThrottlingCodes.count(error->code) != 0) {
        reply.kind = ReplyKind::retryable;
    } else if (kBadParameterCodes.count(error->code) != 0) {
        // A bad number is the caller's; a bad SenderID or MaxPrice is the operator's.
        reply.kind =
            mentions_phone_number(error->message) ? ReplyKind::invalid_recipient : ReplyKind::misconfigured;
    } else if (kOpsFaultCodes.count(error->code) != 0) {
        reply.kind = ReplyKind::misconfigured;
    } else {
        reply.kind = ReplyKind::failed;
    }
    return reply;
}

std::string ops_hint(const std::string& aws_code) {
    if (aws_code == "SignatureDoesNotMatch" || aws_code == "IncompleteSignature") {
        return "check sms.sns.secret_access_key (AWS_SECRET_ACCESS_KEY) belongs to the access key id";
    }
    if (aws_code == "InvalidClientTokenId" || aws_code == "UnrecognizedClientException" ||
        aws_code == "InvalidAccessKeyId" || aws_code == "MissingAuthenticationToken") {
        return "AWS does not know sms.sns.access_key_id (AWS_ACCESS_KEY_ID), or a temporary key "
               "lacks its session_token (AWS_SESSION_TOKEN)";
    }
    if (aws_code == "ExpiredToken" || aws_code == "ExpiredTokenException") {
        return "the temporary credentials expired: refresh AWS_ACCESS_KEY_ID, "
               "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN";
    }
    if (aws_code == "AuthorizationError" || aws_code == "AccessDenied" ||
        aws_code == "AccessDeniedException") {
        return "the IAM identity needs permission sns:Publish (for direct SMS: Resource \"*\")";
    }
    if (aws_code == "RequestExpired") {
        return "this host's clock is more than 5 minutes off: fix NTP";
    }
    if (aws_code == "OptInRequired") return "the AWS account is not subscribed to SNS";
    if (kBadParameterCodes.count(aws_code) != 0) {
        return "SNS rejected a message attribute: check sms.sns.sender_id, sms_type, max_price";
    }
    return "";
}

SnsProvider::SnsProvider(SnsSettings settings, sdk::Host& host)
    : settings_(std::move(settings)),
      host_(host),
      client_(http::ClientOptions{settings_.connect_timeout, true, "testino-auth/0.1 sms_sns"}) {}

sdk::SendResult SnsProvider::send(const sdk::SmsMessage& message, Clock::time_point deadline) {
    try {
        const PublishParams params{message.to, message.text, settings_.sms_type, settings_.sender_id,
                                   settings_.max_price};
        const SignedRequest signed_request = sign_publish(settings_.endpoint, settings_.region,
                                                          settings_.credentials, params, settings_.clock());
        http::Request request;
        request.url = signed_request.url;
        request.body = signed_request.body;
        request.content_type = kFormContentType;
        request.traceparent = message.traceparent;  // not signed: SigV4 signs only the headers it lists
        for (const auto& header : signed_request.headers) {
            if (header.name != "Content-Type") request.headers.push_back(header.name + ": " + header.value);
        }

        int attempts = 1;
        const auto response = http::post_with_retries(
            client_, request, deadline, settings_.retry,
            [](const http::Response& answer) { return classify_reply(answer).kind == ReplyKind::retryable; },
            [&](int attempt, const http::Response& answer) {
                attempts = attempt + 1;
                host_.log(sdk::LogLevel::warn, "sms.sns.retry",
                          {{"request_id", message.request_id},
                           {"attempt", std::to_string(attempt)},
                           {"reason", scrub(classify_reply(answer).reason)}});
            });
        return finish(message, classify_reply(response), attempts);
    } catch (const std::exception& error) {
        // send() must not throw: OpenSSL or allocation failures end here, perhaps after a request.
        return {sdk::SendStatus::uncertain, std::string("sns: ") + error.what(), {}};
    }
}

sdk::SendResult SnsProvider::finish(const sdk::SmsMessage& message, const ClassifiedReply& reply,
                                    int attempts) {
    switch (reply.kind) {
        case ReplyKind::sent:
            set_health(true, "");
            host_.log(sdk::LogLevel::info, "sms.sns.sent",
                      {{"request_id", message.request_id},
                       {"message_id", reply.message_id},
                       {"attempts", std::to_string(attempts)}});
            return {sdk::SendStatus::sent, {}, reply.message_id};
        case ReplyKind::invalid_recipient: {
            const std::string aws_message = scrub(reply.aws_message);
            host_.log(sdk::LogLevel::warn, "sms.sns.rejected_recipient",
                      {{"request_id", message.request_id},
                       {"aws_code", reply.aws_code},
                       {"aws_message", aws_message},
                       {"aws_request_id", reply.aws_request_id}});
            return {sdk::SendStatus::invalid_recipient,
                    "Amazon SNS refused the phone number: " + reply.aws_code + ": " + aws_message,
                    {}};
        }
        case ReplyKind::misconfigured: return refused_by_setup(message, reply);
        case ReplyKind::retryable:
        case ReplyKind::failed:
        case ReplyKind::uncertain: break;
    }
    return not_sent(message, reply, attempts);
}

sdk::SendResult SnsProvider::refused_by_setup(const sdk::SmsMessage& message, const ClassifiedReply& reply) {
    const std::string hint = ops_hint(reply.aws_code);
    set_health(false, "last send failed with " + reply.aws_code + ": " + hint);
    host_.log(sdk::LogLevel::error, "sms.sns.misconfigured",
              {{"request_id", message.request_id},
               {"aws_code", reply.aws_code},
               {"reason", reply.reason},
               {"hint", hint},
               {"aws_message", scrub(reply.aws_message)},
               {"aws_request_id", reply.aws_request_id}});
    return {sdk::SendStatus::misconfigured,
            "Amazon SNS refused the request: " + reply.aws_code + " (" + hint + ")",
            {}};
}

sdk::SendResult SnsProvider::not_sent(const sdk::SmsMessage& message, const ClassifiedReply& reply,
                                      int attempts) {
    const bool uncertain = reply.kind == ReplyKind::uncertain;
    const std::string reason = scrub(reply.reason);
    host_.log(sdk::LogLevel::error, uncertain ? "sms.sns.uncertain" : "sms.sns.unavailable",
              {{"request_id", message.request_id},
               {"reason", reason},
               {"attempts", std::to_string(attempts)},
               {"aws_message", scrub(reply.aws_message)},
               {"aws_request_id", reply.aws_request_id}});
    const std::string tries = std::to_string(attempts) + (attempts == 1 ? " attempt: " : " attempts: ");
    if (uncertain) {
        return {sdk::SendStatus::uncertain,
                "Amazon SNS may have published the SMS (after " + tries + reason + ")",
                {}};
    }
    return {sdk::SendStatus::unavailable, "Amazon SNS unavailable after " + tries + reason, {}};
}

sdk::HealthReport SnsProvider::health() {
    std::lock_guard lock(health_mutex_);
    return {healthy_, health_detail_};
}

void SnsProvider::set_health(bool healthy, std::string detail) {
    std::lock_guard lock(health_mutex_);
    healthy_ = healthy;
    health_detail_ = std::move(detail);
}

std::string SnsProvider::scrub(std::string text) const {
    // AWS's SignatureDoesNotMatch message may quote the canonical request, which holds the
    // session token; nothing after that point is useful in a log.
    const std::size_t canonical = text.find("The Canonical String");
    if (canonical != std::string::npos) text.erase(canonical);
    for (const std::string* secret :
         {&settings_.credentials.secret_access_key, &settings_.credentials.session_token}) {
        if (secret->empty()) continue;
        for (std::size_t at = text.find(*secret); at != std::string::npos; at = text.find(*secret)) {
            text.replace(at, secret->size(), "***");
        }
    }
    constexpr std::size_t kMaxLength = 300;
    if (text.size() > kMaxLength) text = text.substr(0, kMaxLength) + "...";
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

}  // namespace testino::plugins::sns
