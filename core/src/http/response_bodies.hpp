// The JSON bodies of the API's successful answers (errors: domain/errors.hpp).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "app/otp_flow.hpp"
#include "domain/token.hpp"

namespace testino {

// {"success":true,"message":"OTP sent successfully","expires_in":N,"verification_id":"..."}
// send-otp's 200: the seed's fields, verification_id, the channel that carried the code and,
// with a channel workflow, next_channel and next_channel_in.
std::string success_send_body(const SendAccepted& sent);
// {"success":true,"message":"OTP verified successfully","access_token":...,"token_type","expires_in",
//  "refresh_token","refresh_expires_in"}: the refresh fields only when there is a refresh token.
std::string success_verify_body(const TokenPair& tokens);
// The same fields for POST /api/v1/auth/refresh, "message":"Tokens refreshed".
std::string success_refresh_body(const TokenPair& tokens);
// {"success":true,"message":"Signed out"}
std::string success_logout_body();
// Public GET /api/v1/health: {"status":"up"}, "degraded" or "down", and nothing that would
// tell a stranger which plugins, versions or hosts run here.
std::string health_status_body(const HealthSummary& summary);
// Admin GET /health: the status, version, uptime and one entry per plugin.
std::string health_body(const HealthSummary& summary, const std::vector<PluginHealthSource>& plugins,
                        std::chrono::seconds uptime);

}  // namespace testino
