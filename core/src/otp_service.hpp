// The OTP rules: what a send and a verify do, independent of HTTP and of plugins' kinds.
#pragma once

#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "config.hpp"
#include "errors.hpp"
#include "metrics.hpp"
#include "request_parsing.hpp"
#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"
#include "token.hpp"

namespace testino {

// A rate-limit counter a send was charged to, refunded when the SMS fails.
struct ChargedCounter {
    std::string key;
    std::chrono::seconds window;
};

// A code that is stored and waits to be sent.
struct PendingSend {
    std::string e164;
    std::string calling_code;  // as the request gave it, without '+': the metrics' country
    sdk::CodeDigest digest;
    sdk::SmsMessage message;
    bool test_number = false;  // no SMS: the code is the configured one
    std::vector<ChargedCounter> charged;
};

struct VerifiedLogin {
    std::string e164;
    IssuedToken token;
};

class OtpService {
public:
    OtpService(const OtpConfig& otp, const TokenConfig& token, const LimitsConfig& limits,
               std::vector<TestNumber> test_numbers, std::shared_ptr<sdk::OtpStore> store);

    // Validates and normalises the number, makes a code and stores its digest (replacing
    // any earlier code). The caller sends `message` and then calls finish_send.
    // Checks the abuse limits (per client address, number, country, global budget) first;
    // a refusal says nothing about whether the number has a pending code.
    Expected<PendingSend> begin_send(const SendOtpRequest& request, const std::string& request_id,
                                     const std::string& client_ip = "");

    // After the provider answered: nothing on success; otherwise the stored code is removed
    // (no usable code is left behind) and the error for the client is returned.
    std::optional<ApiError> finish_send(const PendingSend& pending, const sdk::SendResult& result);

    // Checks the code and, when right, consumes it and issues an access token.
    Expected<VerifiedLogin> verify(const VerifyOtpRequest& request, const std::string& client_ip = "");

    std::chrono::seconds expiry() const { return config_.expiry; }
    int code_length() const { return config_.length; }

private:
    std::string render_message(const std::string& code) const;
    // Adds one to `key`; an error when that passes `limit` (0 = no limit, nothing charged),
    // counted as a refusal by `which`.
    std::optional<ApiError> charge(const std::string& key, int limit, std::chrono::seconds window,
                                   metrics::Limit which, ErrorCode code, const std::string& message,
                                   std::vector<ChargedCounter>* charged);
    const TestNumber* test_number(const std::string& e164) const;
    void refund(const PendingSend& pending);

    OtpConfig config_;
    LimitsConfig limits_;
    std::vector<TestNumber> test_numbers_;
    std::shared_ptr<sdk::OtpStore> store_;
    TokenIssuer tokens_;
};

}  // namespace testino
