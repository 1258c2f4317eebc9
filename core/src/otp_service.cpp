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

bool failed(const sdk::StoreResult& r) { return r.status != sdk::StoreStatus::ok; }
bool failed(const sdk::CounterResult& r) { return r.status != sdk::StoreStatus::ok; }
bool failed(const sdk::VerifyResult& r) { return r.outcome == sdk::VerifyOutcome::unavailable; }

// Runs one store call and records its duration and failure in the metrics.
template <typename Call>
auto timed(metrics::StoreOperation operation, Call&& call) {
    const auto start = std::chrono::steady_clock::now();
    auto result = call();
    metrics::global().store_operation(operation, std::chrono::steady_clock::now() - start, failed(result));
    return result;
}

sdk::CounterResult hit(sdk::OtpStore& store, const std::string& key, std::chrono::seconds window,
                       std::int64_t delta) {
    return timed(metrics::StoreOperation::hit_counter,
                 [&] { return store.hit_counter(key, window, delta); });
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
                                           std::chrono::seconds window, metrics::Limit which,
                                           ErrorCode code, const std::string& message,
                                           std::vector<ChargedCounter>* charged) {
    if (limit <= 0 || window.count() <= 0) return std::nullopt;
    const sdk::CounterResult counted = hit(*store_, key, window, 1);
    if (counted.status != sdk::StoreStatus::ok) {
        log_error("store.counter_failed", {{"detail", counted.detail}});
        return store_error({counted.status, counted.detail});
    }
    if (charged != nullptr) charged->push_back({key, window});
    if (counted.count <= limit) return std::nullopt;
    metrics::global().rate_limit_refusal(which);
    ApiError e = make_error(code, message);
    e.retry_after = std::max(counted.reset_in, std::chrono::seconds(1));
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
                            metrics::Limit::ip_sends, ErrorCode::rate_limited, too_many, nullptr)) {
            return *e;
        }
    }
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    PendingSend pending;
    pending.e164 = e164.value();

    const std::string cc = request.country_code.front() == '+' ? request.country_code.substr(1)
                                                              : request.country_code;
    pending.calling_code = cc;
    const auto& allow = limits_.country_allowlist;
    if (!allow.empty() && std::find(allow.begin(), allow.end(), cc) == allow.end()) {
        return make_error(ErrorCode::country_not_allowed,
                          "Codes cannot be sent to +" + cc + " numbers");
    }
    // Counters about one number carry it in braces, so a clustered store keeps them together.
    const std::string number_key = "num:{" + pending.e164 + "}:";
    if (auto e = charge(number_key + "cooldown", 1, limits_.number_cooldown,
                        metrics::Limit::number_cooldown, ErrorCode::rate_limited,
                        "A code was sent to this number moments ago; wait before asking again",
                        &pending.charged)) {
        return *e;
    }
    if (auto e = charge(number_key + "sends", limits_.number_sends, limits_.number_send_window,
                        metrics::Limit::number_sends, ErrorCode::rate_limited, too_many, &pending.charged)) {
        return *e;
    }
    if (auto e = charge("cc:" + cc + ":sends", limits_.country_sends, limits_.country_window,
                        metrics::Limit::country_sends, ErrorCode::rate_limited, too_many, &pending.charged)) {
        return *e;
    }
    for (const auto& [key, limit, window, which] :
         {std::tuple{"budget:hour", limits_.budget_per_hour, std::chrono::seconds(3600), metrics::Limit::budget_hour},
          std::tuple{"budget:day", limits_.budget_per_day, std::chrono::seconds(86400), metrics::Limit::budget_day}}) {
        if (auto e = charge(key, limit, window, which, ErrorCode::send_budget_exhausted,
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
    const sdk::StoreResult stored = timed(metrics::StoreOperation::put_code, [&] {
        return store_->put_code(pending.e164, pending.digest, config_.expiry, config_.max_attempts);
    });
    if (stored.status != sdk::StoreStatus::ok) {
        log_error("store.put_failed", {{"request_id", request_id}, {"detail", stored.detail}});
        refund(pending);
        return store_error(stored);
    }
    pending.message = sdk::SmsMessage{pending.e164, render_message(code), code, request_id};
    return pending;
}

void OtpService::refund(const PendingSend& pending) {
    for (const ChargedCounter& c : pending.charged) hit(*store_, c.key, c.window, -1);
}

std::optional<ApiError> OtpService::finish_send(const PendingSend& pending,
                                                const sdk::SendResult& result) {
    if (result.status == sdk::SendStatus::sent) return std::nullopt;
    refund(pending);  // an SMS that never went out costs the user none of their allowance
    const sdk::StoreResult removed = timed(metrics::StoreOperation::remove_code,
                                           [&] { return store_->remove_code(pending.e164, pending.digest); });
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
    auto& stats = metrics::global();
    if (!client_ip.empty()) {
        if (auto e = charge("ip:verify:" + client_ip, limits_.ip_verifies, limits_.ip_window,
                            metrics::Limit::ip_verifies, ErrorCode::rate_limited, too_many, nullptr)) {
            stats.verify_outcome(e->code == ErrorCode::rate_limited
                                     ? metrics::VerifyOutcome::rate_limited
                                     : metrics::VerifyOutcome::store_unavailable);
            return *e;
        }
    }
    Expected<std::string> e164 = normalize_phone(request.country_code, request.mobile_number);
    if (!e164) return e164.error();
    const std::string failed_key = "num:{" + e164.value() + "}:failed";
    if (limits_.number_failed_verifies > 0) {
        const sdk::CounterResult failures = hit(*store_, failed_key, limits_.number_verify_window, 0);
        if (failures.status != sdk::StoreStatus::ok) {
            stats.verify_outcome(metrics::VerifyOutcome::store_unavailable);
            return store_error({failures.status, failures.detail});
        }
        if (failures.count >= limits_.number_failed_verifies) {
            stats.rate_limit_refusal(metrics::Limit::number_failed_verifies);
            stats.verify_outcome(metrics::VerifyOutcome::rate_limited);
            ApiError e = make_error(ErrorCode::rate_limited, too_many);
            e.retry_after = failures.reset_in;
            return e;
        }
    }
    const sdk::CodeDigest candidate = digest_code(config_.hmac_secret, e164.value(), request.otp);
    const sdk::VerifyResult result = timed(metrics::StoreOperation::verify_and_consume, [&] {
        return store_->verify_and_consume(e164.value(), candidate);
    });
    if (limits_.number_failed_verifies > 0 && result.outcome != sdk::VerifyOutcome::verified &&
        result.outcome != sdk::VerifyOutcome::unavailable) {
        hit(*store_, failed_key, limits_.number_verify_window, 1);
    }
    switch (result.outcome) {
        case sdk::VerifyOutcome::verified: {
            Expected<IssuedToken> token = tokens_.issue(e164.value());
            if (!token) return token.error();
            stats.verify_outcome(metrics::VerifyOutcome::verified);
            return VerifiedLogin{e164.value(), token.value()};
        }
        case sdk::VerifyOutcome::mismatch:
        case sdk::VerifyOutcome::not_found:
            // Wrong, expired and unknown look the same: nothing tells a guesser which.
            stats.verify_outcome(metrics::VerifyOutcome::invalid);
            return make_error(ErrorCode::invalid_otp, "Invalid or expired OTP");
        case sdk::VerifyOutcome::attempts_exhausted: {
            stats.verify_outcome(metrics::VerifyOutcome::too_many_attempts);
            ApiError e = make_error(ErrorCode::too_many_attempts,
                                    "Too many wrong attempts; request a new code");
            e.retry_after = std::max(result.retry_after, std::chrono::seconds(1));
            return e;
        }
        case sdk::VerifyOutcome::unavailable:
            stats.verify_outcome(metrics::VerifyOutcome::store_unavailable);
            log_error("store.verify_failed", {{"detail", result.detail}});
            return store_error({sdk::StoreStatus::unavailable, result.detail});
    }
    return make_error(ErrorCode::internal_error, "unexpected store outcome");
}

}  // namespace testino
