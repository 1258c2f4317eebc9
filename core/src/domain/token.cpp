#include "domain/token.hpp"

#include <ctime>

#include "domain/jwt_hs256.hpp"
#include "domain/otp_crypto.hpp"

namespace testino {

TokenIssuer::TokenIssuer(std::string secret, std::string issuer, std::chrono::seconds ttl)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), ttl_(ttl) {}

Expected<IssuedToken> TokenIssuer::issue(const std::string& subject) const {
    const long long now = static_cast<long long>(std::time(nullptr));
    const std::string jti = random_hex(16);
    JwtClaims claims;
    claims.sub = subject;
    claims.iss = issuer_;
    claims.jti = jti;
    claims.iat = now;
    claims.exp = now + static_cast<long long>(ttl_.count());
    try {
        return IssuedToken{sign_hs256_jwt(secret_, claims), ttl_};
    } catch (const std::exception&) {
        return make_error(ErrorCode::internal_error, "token signing failed");
    }
}

}  // namespace testino
