// Typed API errors and the one table that maps each to an HTTP status and a machine code.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace testino {

enum class ErrorCode {
    invalid_json,
    bad_request,
    validation_error,
    invalid_otp,
    too_many_attempts,
    recipient_rejected,
    payload_too_large,
    unsupported_media_type,
    not_found,
    method_not_allowed,
    cors_origin_not_allowed,
    sms_provider_error,
    sms_provider_unavailable,
    sms_delivery_uncertain,
    service_busy,
    store_unavailable,
    store_full,
    shutting_down,
    rate_limited,
    country_not_allowed,
    send_budget_exhausted,
    invalid_refresh_token,
    refresh_token_reused,
    refresh_token_raced,
    request_in_progress,  // an Idempotency-Key whose first request has not finished
    callback_rejected,    // a delivery-receipt callback the provider's service did not sign
    callback_malformed,   // a delivery-receipt callback the provider could not read
    unauthorized,         // the admin listener's routes that need server.admin_token
    internal_error,
};

struct ErrorInfo {
    ErrorCode code;
    int status;
    const char* machine_code;  // the "error" field of the body
};

// Every code with its status, in declaration order (also checked against openapi.json).
const std::vector<ErrorInfo>& all_errors();
const ErrorInfo& error_info(ErrorCode code);

struct ApiError {
    ErrorCode code = ErrorCode::internal_error;
    std::string message;                  // safe to show a client
    std::string field;                    // for validation errors: the field at fault
    std::chrono::seconds retry_after{0};  // > 0: sent as Retry-After
    std::vector<std::string> allow;       // for 405: the Allow header

    int status() const { return error_info(code).status; }
};

inline ApiError validation_error(std::string field, std::string message) {
    ApiError e;
    e.code = ErrorCode::validation_error;
    e.field = std::move(field);
    e.message = std::move(message);
    return e;
}

inline ApiError make_error(ErrorCode code, std::string message) {
    ApiError e;
    e.code = code;
    e.message = std::move(message);
    return e;
}

// {"success":false,"error":"CODE","message":"...","field":"..."}
std::string error_body(const ApiError& error);

// A value or the ApiError that prevented it; request-path code returns these, never throws.
template <typename T>
class Expected {
public:
    Expected(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
    Expected(ApiError error) : v_(std::move(error)) {}  // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const ApiError& error() const { return std::get<1>(v_); }

private:
    std::variant<T, ApiError> v_;
};

}  // namespace testino
