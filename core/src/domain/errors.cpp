#include "domain/errors.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace testino {

const std::vector<ErrorInfo>& all_errors() {
    static const std::vector<ErrorInfo> table = {
        {ErrorCode::invalid_json, 400, "INVALID_JSON"},
        {ErrorCode::bad_request, 400, "BAD_REQUEST"},
        {ErrorCode::validation_error, 422, "VALIDATION_ERROR"},
        {ErrorCode::invalid_otp, 400, "INVALID_OTP"},
        {ErrorCode::too_many_attempts, 429, "TOO_MANY_ATTEMPTS"},
        {ErrorCode::recipient_rejected, 422, "RECIPIENT_REJECTED"},
        {ErrorCode::payload_too_large, 413, "PAYLOAD_TOO_LARGE"},
        {ErrorCode::unsupported_media_type, 415, "UNSUPPORTED_MEDIA_TYPE"},
        {ErrorCode::not_found, 404, "NOT_FOUND"},
        {ErrorCode::method_not_allowed, 405, "METHOD_NOT_ALLOWED"},
        {ErrorCode::cors_origin_not_allowed, 403, "CORS_ORIGIN_NOT_ALLOWED"},
        {ErrorCode::sms_provider_error, 502, "SMS_PROVIDER_ERROR"},
        {ErrorCode::sms_provider_unavailable, 502, "SMS_PROVIDER_UNAVAILABLE"},
        {ErrorCode::sms_delivery_uncertain, 502, "SMS_DELIVERY_UNCERTAIN"},
        {ErrorCode::service_busy, 503, "SERVICE_BUSY"},
        {ErrorCode::store_unavailable, 503, "STORE_UNAVAILABLE"},
        {ErrorCode::store_full, 503, "STORE_FULL"},
        {ErrorCode::shutting_down, 503, "SHUTTING_DOWN"},
        {ErrorCode::rate_limited, 429, "RATE_LIMITED"},
        {ErrorCode::country_not_allowed, 403, "COUNTRY_NOT_ALLOWED"},
        {ErrorCode::send_budget_exhausted, 503, "SEND_BUDGET_EXHAUSTED"},
        {ErrorCode::invalid_refresh_token, 401, "INVALID_REFRESH_TOKEN"},
        {ErrorCode::refresh_token_reused, 401, "REFRESH_TOKEN_REUSED"},
        {ErrorCode::refresh_token_raced, 409, "REFRESH_TOKEN_RACED"},
        {ErrorCode::request_in_progress, 409, "REQUEST_IN_PROGRESS"},
        {ErrorCode::callback_rejected, 403, "CALLBACK_REJECTED"},
        {ErrorCode::callback_malformed, 400, "CALLBACK_MALFORMED"},
        {ErrorCode::unauthorized, 401, "UNAUTHORIZED"},
        {ErrorCode::internal_error, 500, "INTERNAL_ERROR"},
    };
    return table;
}

const ErrorInfo& error_info(ErrorCode code) {
    // The table is in enum order; the unit test holds it there.
    return all_errors()[static_cast<size_t>(code)];
}

std::string error_body(const ApiError& error) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(false);
    w.Key("error");
    w.String(error_info(error.code).machine_code);
    w.Key("message");
    w.String(error.message.c_str(), static_cast<rapidjson::SizeType>(error.message.size()));
    if (!error.field.empty()) {
        w.Key("field");
        w.String(error.field.c_str(), static_cast<rapidjson::SizeType>(error.field.size()));
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace testino
