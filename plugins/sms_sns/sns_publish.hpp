// Building a signed SNS Publish request (AWS Query protocol, API version 2010-03-31) for one
// SMS: the form body, the endpoint it goes to, and the SigV4 headers. No I/O here.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "sigv4.hpp"

namespace testino::plugins::sns {

inline constexpr const char* kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";

// Where requests go, parsed from `sms.sns.endpoint` (default https://sns.{region}.amazonaws.com).
struct Endpoint {
    std::string url;        // "https://sns.us-east-1.amazonaws.com/" (always ends in "/")
    std::string host;       // the Host header: "sns.us-east-1.amazonaws.com", "127.0.0.1:4567"
    bool loopback = false;  // 127.0.0.0/8, ::1 or localhost
};

// Accepts http(s)://host[:port][/]; "{region}" in the text is replaced by `region`. Plain http
// is allowed only for loopback hosts (tests, local fakes): the body carries the OTP code.
// Throws std::invalid_argument with the reason.
Endpoint parse_endpoint(const std::string& text, const std::string& region);

struct PublishParams {
    std::string phone_number;  // E.164
    std::string message;
    std::string sms_type;   // "Transactional" | "Promotional"; "" = leave to the account default
    std::string sender_id;  // "" = none
    std::string max_price;  // "" = none; decimal USD, e.g. "0.50"
};

// The form body in botocore's order: Action, Version, PhoneNumber, Message, then one
// MessageAttributes.entry.N for each of SMSType, SenderID, MaxPrice that is set.
std::string publish_body(const PublishParams& params);

// application/x-www-form-urlencoded as botocore writes it: RFC 3986 unreserved bytes kept,
// space as '+', everything else %XX (upper-case).
std::string form_encode(const std::string& text);

struct SignedRequest {
    std::string url;
    std::vector<sigv4::Header> headers;  // Host, Content-Type, then the signer's (in order)
    std::string body;
    sigv4::Signature signature;
};

SignedRequest sign_publish(const Endpoint& endpoint, const std::string& region,
                           const sigv4::Credentials& credentials, const PublishParams& params,
                           std::chrono::system_clock::time_point now);

// The request as HTTP/1.1 text with LF line ends and a Content-Length header last: the
// layout of tests/data/sns/publish-sms.signed-request.http.
std::string render_http(const SignedRequest& request);

}  // namespace testino::plugins::sns
