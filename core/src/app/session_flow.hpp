// Sign-ins after a verified code: the access token, and the refresh-token family that
// keeps the sign-in alive (refresh rotates its token; reuse of a rotated token revokes the
// family, RFC 9700 section 4.14.2; logout revokes it). Families live in the OTP store,
// which sees only each token's SHA-256 (domain/refresh_token.hpp).
#pragma once

#include <chrono>
#include <string>

#include "app/flow_job.hpp"
#include "app/metered_store.hpp"
#include "app/rate_limits.hpp"
#include "config/config.hpp"
#include "domain/token.hpp"
#include "http/request_parsing.hpp"

namespace testino {

struct TokenPair {
    IssuedToken access;
    std::string refresh_token;  // "" when refresh tokens are off or none could be stored
    std::chrono::seconds refresh_expires_in{0};
};

struct SignedOut {};

class SessionFlow {
public:
    SessionFlow(const TokenConfig& token, const LimitsConfig& limits, MeteredStore& store,
                RateLimits& rate_limits);

    // A new sign-in of `subject`: its access token and the first token of a new refresh
    // family. When the store cannot keep the family, the sign-in still gets its access token
    // (the code is already consumed): the reply has no refresh token and the log says why.
    void start(const std::string& subject, const std::string& request_id, FlowDone<TokenPair> done);
    // A new pair for a live refresh token; the token is rotated (single use).
    void refresh(const RefreshRequest& request, RequestInfo info, FlowDone<TokenPair> done);
    // Revokes the sign-in the token belongs to. Like token revocation (RFC 7009 section 2.2),
    // an unknown or already revoked token is no error: the client is signed out either way.
    void logout(const RefreshRequest& request, RequestInfo info, FlowDone<SignedOut> done);

    const std::string& jwks() const { return tokens_.jwks(); }
    std::chrono::seconds jwks_max_age() const { return config_.jwks_max_age; }
    bool refresh_enabled() const { return config_.refresh_ttl.count() > 0; }

private:
    struct RefreshJob;
    struct LogoutJob;
    void rotate(std::shared_ptr<RefreshJob> job);
    void finish_refresh(std::shared_ptr<RefreshJob> job, const sdk::RefreshResult& result);
    std::vector<LimitCheck> address_checks(const RequestInfo& info) const;

    TokenConfig config_;
    LimitsConfig limits_;
    TokenIssuer tokens_;
    MeteredStore& store_;
    RateLimits& rate_limits_;
};

}  // namespace testino
