// The `sns` SMS provider: one SNS Publish per code, signed with SigV4, over the shared
// libcurl client (TLS verified, connections reused), retried within the request's deadline
// only when SNS certainly did not publish it (throttling, a request that never left), and
// every AWS error mapped to what the caller or ops must do.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "sigv4.hpp"
#include "sns_publish.hpp"
#include "testino/host.hpp"
#include "testino/plugins/http_client.hpp"
#include "testino/sms_provider.hpp"

namespace testino::plugins::sns {

struct SnsSettings {
    std::string region;
    sigv4::Credentials credentials;
    Endpoint endpoint;
    std::string sms_type = "Transactional";
    std::string sender_id;  // "" = none
    std::string max_price;  // "" = none
    std::chrono::milliseconds connect_timeout{2000};
    http::RetryPolicy retry{3, std::chrono::milliseconds(200), std::chrono::milliseconds(2000)};
    // The signer's clock (X-Amz-Date); tests move it to provoke RequestExpired.
    std::function<std::chrono::system_clock::time_point()> clock = [] {
        return std::chrono::system_clock::now();
    };
};

// What one HTTP answer (or its absence) means.
enum class ReplyKind {
    sent,               // 200 with a MessageId
    invalid_recipient,  // the number: InvalidParameter & co. about PhoneNumber
    misconfigured,      // credentials, signature, clock, IAM, sender/price attributes
    retryable,          // certainly not published, and may work later: throttling, or a
                        // request that never left (refused connection, DNS, connect or TLS failure)
    failed,             // certainly not published: any other 4xx (SNS refused the request)
    uncertain,          // SNS may have published it: a 5xx, a 200 without a MessageId, or a
                        // timeout or dropped connection after the request went out
};

struct ClassifiedReply {
    ReplyKind kind = ReplyKind::failed;
    std::string message_id;  // for `sent`
    std::string aws_code;    // "" when there was no AWS error document
    std::string aws_message;
    std::string aws_request_id;
    std::string reason;  // one line for logs: "HTTP 403 SignatureDoesNotMatch", "timed out"
};

ClassifiedReply classify_reply(const http::Response& response);

// Advice for operators on an error code that is their fault; "" for other codes.
std::string ops_hint(const std::string& aws_code);

class SnsProvider final : public sdk::SmsProvider {
public:
    // `host` must outlive the provider (the server's does).
    SnsProvider(SnsSettings settings, sdk::Host& host);

    sdk::SendResult send(const sdk::SmsMessage& message,
                         std::chrono::steady_clock::time_point deadline) override;
    // Unhealthy after an ops fault (bad credentials, signature, clock, permission), until a
    // later send succeeds.
    sdk::HealthReport health() override;

private:
    sdk::SendResult finish(const sdk::SmsMessage& message, const ClassifiedReply& reply, int attempts);
    sdk::SendResult refused_by_setup(const sdk::SmsMessage& message, const ClassifiedReply& reply);
    // unavailable (certainly not published) or uncertain, after the last attempt.
    sdk::SendResult not_sent(const sdk::SmsMessage& message, const ClassifiedReply& reply, int attempts);
    // AWS's message with anything secret removed, cut to a log-friendly length.
    std::string scrub(std::string text) const;
    void set_health(bool healthy, std::string detail);

    SnsSettings settings_;
    sdk::Host& host_;
    http::Client client_;
    std::mutex health_mutex_;
    bool healthy_ = true;
    std::string health_detail_;
};

}  // namespace testino::plugins::sns
