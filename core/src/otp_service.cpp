#include "otp_service.hpp"

#include <algorithm>
#include <ctime>
#include <tuple>

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

OtpService::OtpService(const OtpConfig& otp, const TokenConfig& token, const LimitsConfig& limits,
                       std::vector<TestNumber> test_numbers, std::shared_ptr<sdk::OtpStore> store)
    : config_(otp),
      limits_(limits),
      test_numbers_(std::move(test_numbers)),
      store_(std::move(store)),
      tokens_(token.secret, token.issuer, token.ttl) {}

const TestNumber* OtpService::test_number(const std::string& e164) const {
    for (const TestNumber& t : test_numbers_) {
        if (t.e164 == e164 && (t.expires_at == 0 || std::time(nullptr) < t.expires_at)) return &t;
    }
    return nullptr;
}

std::optional<ApiError> OtpService::charge(const std::string& key, int limit,
                                           std::chrono::seconds window, ErrorCode code,
                                           const std::string& message,
                                           std::vector<ChargedCounter>* charged) {
    if (limit <= 0 || window.count() <= 0) return std::nullopt;
    const sdk::CounterResult hit = store_->hit_counter(key, window, 1);
    if (hit.status != sdk::StoreStatus::ok) {
        log_error("store.counter_failed", {{"detail", hit.detail}});
        return store_error({hit.status, hit.detail});
    }
    if (charged != nullptr) charged->push_back({key, window});
    if (hit.count <= limit) return std::nullopt;
    ApiError e = make_error(code, message);
    e.retry_after = std::max(hit.reset_in, std::chrono::seconds(1));
    return e;
}

std::string OtpService::render_message(const std::string& code) const {
    std::string text = config_.message_template;
    const auto seconds = config_.expiry.count();
    replace_all(text, "{code}", code);
    replace_all(text, "{minutes}", std::to_string((seconds + 59) / 60));
    replace_all(text, "{seconds}", std::to_string(seconds));
    return text;
}

Expected<PendingSend> OtpService::begin_send(const SendOtpRequest& request,
                                             const std::string& request_id,
                                             const std::string& client_ip) {
    const std::string too_many = "Too many codes requested; try again later";
    if (!client_ip.empty()) {
        if (auto e = charge("ip:send:" + client_ip, limits_.ip_sends, limits_.ip_window,
                            ErrorCode::rate_limited, too_many, nullptr)) {
            return *e;
        }
    }
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    PendingSend pending;
    pending.e164 = e164.value();

    const std::string cc = request.country_code.front() == '+' ? request.country_code.substr(1)
                                                              : request.country_code;
    const auto& allow = limits_.country_allowlist;
    if (!allow.empty() && std::find(allow.begin(), allow.end(), cc) == allow.end()) {
        return make_error(ErrorCode::country_not_allowed,
                          "Codes cannot be sent to +" + cc + " numbers");
    }
    // Counters about one number carry it in braces, so a clustered store keeps them together.
    const std::string number_key = "num:{" + pending.e164 + "}:";
    if (auto e = charge(number_key + "cooldown", 1, limits_.number_cooldown, ErrorCode::rate_limited,
                        "A code was sent to this number moments ago; wait before asking again",
                        &pending.charged)) {
        return *e;
    }
    if (auto e = charge(number_key + "sends", limits_.number_sends, limits_.number_send_window,
                        ErrorCode::rate_limited, too_many, &pending.charged)) {
        return *e;
    }
    if (auto e = charge("cc:" + cc + ":sends", limits_.country_sends, limits_.country_window,
                        ErrorCode::rate_limited, too_many, &pending.charged)) {
        return *e;
    }
    for (const auto& [key, limit, window] :
         {std::tuple{"budget:hour", limits_.budget_per_hour, std::chrono::seconds(3600)},
          std::tuple{"budget:day", limits_.budget_per_day, std::chrono::seconds(86400)}}) {
        if (auto e = charge(key, limit, window, ErrorCode::send_budget_exhausted,
                            "The service cannot send codes right now; try again later",
                            &pending.charged)) {
            // The circuit breaker against SMS pumping tripped: ops must know at once.
            log_error("sms.budget_exhausted", {{"request_id", request_id}, {"budget", key},
                                               {"limit", limit}});
            return *e;
        }
    }

    const TestNumber* fixed = test_number(pending.e164);
    const std::string code = fixed ? fixed->code : generate_code(config_.length);
    pending.test_number = fixed != nullptr;
    pending.digest = digest_code(config_.hmac_secret, pending.e164, code);
    const sdk::StoreResult stored =
        store_->put_code(pending.e164, pending.digest, config_.expiry, config_.max_attempts);
    if (stored.status != sdk::StoreStatus::ok) {
        log_error("store.put_failed", {{"request_id", request_id}, {"detail", stored.detail}});
        refund(pending);
        return store_error(stored);
    }
    pending.message = sdk::SmsMessage{pending.e164, render_message(code), code, request_id};
    return pending;
}

void OtpService::refund(const PendingSend& pending) {
    for (const ChargedCounter& c : pending.charged) store_->hit_counter(c.key, c.window, -1);
}

std::optional<ApiError> OtpService::finish_send(const PendingSend& pending,
                                                const sdk::SendResult& result) {
    if (result.status == sdk::SendStatus::sent) return std::nullopt;
    refund(pending);  // an SMS that never went out costs the user none of their allowance
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

Expected<VerifiedLogin> OtpService::verify(const VerifyOtpRequest& request,
                                           const std::string& client_ip) {
    const std::string too_many = "Too many verification attempts; try again later";
    if (!client_ip.empty()) {
        if (auto e = charge("ip:verify:" + client_ip, limits_.ip_verifies, limits_.ip_window,
                            ErrorCode::rate_limited, too_many, nullptr)) {
            return *e;
        }
    }
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    const std::string failed_key = "num:{" + e164.value() + "}:failed";
    if (limits_.number_failed_verifies > 0) {
        const sdk::CounterResult failed = store_->hit_counter(failed_key, limits_.number_verify_window, 0);
        if (failed.status != sdk::StoreStatus::ok) return store_error({failed.status, failed.detail});
        if (failed.count >= limits_.number_failed_verifies) {
            ApiError e = make_error(ErrorCode::rate_limited, too_many);
            e.retry_after = failed.reset_in;
            return e;
        }
    }
    const sdk::CodeDigest candidate = digest_code(config_.hmac_secret, e164.value(), request.otp);
    const sdk::VerifyResult result = store_->verify_and_consume(e164.value(), candidate);
    if (limits_.number_failed_verifies > 0 && result.outcome != sdk::VerifyOutcome::verified &&
        result.outcome != sdk::VerifyOutcome::unavailable) {
        store_->hit_counter(failed_key, limits_.number_verify_window, 1);
    }
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
