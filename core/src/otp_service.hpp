// The OTP rules: what a send and a verify do, independent of HTTP and of plugins' kinds.
#pragma once

#include <memory>
#include <string>

#include "config.hpp"
#include "errors.hpp"
#include "request_parsing.hpp"
#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"
#include "token.hpp"

namespace testino {

// A code that is stored and waits to be sent.
struct PendingSend {
    std::string e164;
    sdk::CodeDigest digest;
    sdk::SmsMessage message;
};

struct VerifiedLogin {
    std::string e164;
    IssuedToken token;
};

class OtpService {
public:
    OtpService(const OtpConfig& otp, const TokenConfig& token, std::shared_ptr<sdk::OtpStore> store);

    // Validates and normalises the number, makes a code and stores its digest (replacing
    // any earlier code). The caller sends `message` and then calls finish_send.
    Expected<PendingSend> begin_send(const SendOtpRequest& request, const std::string& request_id);

    // After the provider answered: nothing on success; otherwise the stored code is removed
    // (no usable code is left behind) and the error for the client is returned.
    std::optional<ApiError> finish_send(const PendingSend& pending, const sdk::SendResult& result);

    // Checks the code and, when right, consumes it and issues an access token.
    Expected<VerifiedLogin> verify(const VerifyOtpRequest& request);

    std::chrono::seconds expiry() const { return config_.expiry; }
    int code_length() const { return config_.length; }

private:
    std::string render_message(const std::string& code) const;

    OtpConfig config_;
    std::shared_ptr<sdk::OtpStore> store_;
    TokenIssuer tokens_;
};

}  // namespace testino
