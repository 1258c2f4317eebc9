// Request bodies: strict JSON objects of string fields, nothing more.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/errors.hpp"
#include "testino/sms_provider.hpp"

namespace testino {

struct SendOtpRequest {
    std::string country_code;
    std::string mobile_number;
    std::string locale;           // optional: a BCP 47 tag, "" when the client sent none
    std::string accept_language;  // not from the body: the request's Accept-Language header
    // optional: sms, whatsapp or voice; none = the configured workflow's step, or sms
    std::optional<sdk::Channel> channel;
    std::string idempotency_key;  // not from the body: the Idempotency-Key header, "" if none
};

// The body of refresh and logout.
struct RefreshRequest {
    std::string refresh_token;
};

struct VerifyOtpRequest {
    std::string country_code;
    std::string mobile_number;
    std::string otp;
    std::string verification_id;  // optional: "" when the client sent none
};

// A verification_id: 16 random bytes in unpadded base64url.
inline constexpr std::size_t kVerificationIdLength = 22;

// Malformed JSON, an empty body or invalid UTF-8 → 400 INVALID_JSON. A body that is not an
// object, a missing, unknown or duplicated field, a value that is not a string, or a value
// over 64 bytes → 422 naming the field. `locale` is optional; when present it must be a
// well-formed BCP 47 tag (one without a template falls through to the next choice).
// `channel` is optional; when present it must be "sms", "whatsapp" or "voice".
Expected<SendOtpRequest> parse_send_otp(std::string_view body);
// As above, and `otp` must be exactly `otp_length` ASCII digits. `verification_id` is
// optional; when present it must look like one (22 base64url characters).
Expected<VerifyOtpRequest> parse_verify_otp(std::string_view body, int otp_length);
// {"refresh_token": "..."} for refresh and logout; the token's shape is the flow's to judge.
Expected<RefreshRequest> parse_refresh(std::string_view body);

}  // namespace testino
