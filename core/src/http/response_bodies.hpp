// The JSON bodies of the API's successful answers (errors: domain/errors.hpp).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "app/otp_flow.hpp"
#include "domain/token.hpp"

namespace testino {

// {"success":true,"message":"OTP sent successfully","expires_in":N,"verification_id":"..."}
std::string success_send_body(std::chrono::seconds expires_in, const std::string& verification_id);
// {"success":true,"message":"OTP verified successfully","access_token":...,"token_type","expires_in"}
std::string success_verify_body(const IssuedToken& token);
// Public GET /api/v1/health: {"status":"up"}, "degraded" or "down", and nothing that would
// tell a stranger which plugins, versions or hosts run here.
std::string health_status_body(const HealthSummary& summary);
// Admin GET /health: the status, version, uptime and one entry per plugin.
std::string health_body(const HealthSummary& summary, const std::vector<PluginHealthSource>& plugins,
                        std::chrono::seconds uptime);

}  // namespace testino
