#include "otp_service.hpp"

#include "logging.hpp"
#include "otp_crypto.hpp"
#include "phone.hpp"

namespace testino {
namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

ApiError store_error(const sdk::StoreResult& result) {
    if (result.status == sdk::StoreStatus::full) {
        ApiError e = make_error(ErrorCode::store_full,
                                "Too many codes are pending; try again in a minute");
        e.retry_after = std::chrono::seconds(60);
        return e;
    }
    return make_error(ErrorCode::store_unavailable,
                      "The code store is unavailable; try again shortly");
}

}  // namespace

OtpService::OtpService(const OtpConfig& otp, const TokenConfig& token,
                       std::shared_ptr<sdk::OtpStore> store)
    : config_(otp), store_(std::move(store)), tokens_(token.secret, token.issuer, token.ttl) {}

std::string OtpService::render_message(const std::string& code) const {
    std::string text = config_.message_template;
    const auto seconds = config_.expiry.count();
    replace_all(text, "{code}", code);
    replace_all(text, "{minutes}", std::to_string((seconds + 59) / 60));
    replace_all(text, "{seconds}", std::to_string(seconds));
    return text;
}

Expected<PendingSend> OtpService::begin_send(const SendOtpRequest& request,
                                             const std::string& request_id) {
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    const std::string code = generate_code(config_.length);
    PendingSend pending;
    pending.e164 = e164.value();
    pending.digest = digest_code(config_.hmac_secret, pending.e164, code);
    const sdk::StoreResult stored =
        store_->put_code(pending.e164, pending.digest, config_.expiry, config_.max_attempts);
    if (stored.status != sdk::StoreStatus::ok) {
        log_error("store.put_failed", {{"request_id", request_id}, {"detail", stored.detail}});
        return store_error(stored);
    }
    pending.message = sdk::SmsMessage{pending.e164, render_message(code), code, request_id};
    return pending;
}

std::optional<ApiError> OtpService::finish_send(const PendingSend& pending,
                                                const sdk::SendResult& result) {
    if (result.status == sdk::SendStatus::sent) return std::nullopt;
    const sdk::StoreResult removed = store_->remove_code(pending.e164, pending.digest);
    if (removed.status != sdk::StoreStatus::ok) {
        log_error("store.remove_failed",
                  {{"request_id", pending.message.request_id}, {"detail", removed.detail}});
    }
    switch (result.status) {
        case sdk::SendStatus::invalid_recipient: {
            ApiError e = validation_error("mobile_number", "This number cannot receive the SMS" +
                                                               (result.detail.empty() ? std::string()
                                                                                      : ": " + result.detail));
            e.code = ErrorCode::recipient_rejected;
            return e;
        }
        case sdk::SendStatus::misconfigured:
            return make_error(ErrorCode::sms_provider_error,
                              "The SMS could not be sent; the service is misconfigured");
        default:
            return make_error(ErrorCode::sms_provider_unavailable,
                              "The SMS provider is unavailable; try again shortly");
    }
}

Expected<VerifiedLogin> OtpService::verify(const VerifyOtpRequest& request) {
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    const sdk::CodeDigest candidate = digest_code(config_.hmac_secret, e164.value(), request.otp);
    const sdk::VerifyResult result = store_->verify_and_consume(e164.value(), candidate);
    switch (result.outcome) {
        case sdk::VerifyOutcome::verified: {
            Expected<IssuedToken> token = tokens_.issue(e164.value());
            if (!token) return token.error();
            return VerifiedLogin{e164.value(), token.value()};
        }
        case sdk::VerifyOutcome::mismatch:
        case sdk::VerifyOutcome::not_found:
            // Wrong, expired and unknown look the same: nothing tells a guesser which.
            return make_error(ErrorCode::invalid_otp, "Invalid or expired OTP");
        case sdk::VerifyOutcome::attempts_exhausted: {
            ApiError e = make_error(ErrorCode::too_many_attempts,
                                    "Too many wrong attempts; request a new code");
            e.retry_after = std::max(result.retry_after, std::chrono::seconds(1));
            return e;
        }
        case sdk::VerifyOutcome::unavailable:
            log_error("store.verify_failed", {{"detail", result.detail}});
            return store_error({sdk::StoreStatus::unavailable, result.detail});
    }
    return make_error(ErrorCode::internal_error, "unexpected store outcome");
}

}  // namespace testino
