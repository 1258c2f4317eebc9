#include "domain/token.hpp"

#include <ctime>

#include "domain/otp_crypto.hpp"

namespace testino {

TokenIssuer::TokenIssuer(std::vector<std::shared_ptr<const SigningKey>> keys, std::size_t signing_key,
                         TokenClaimsConfig claims)
    : keys_(std::move(keys)), signing_(signing_key), claims_(std::move(claims)) {
    std::vector<const SigningKey*> published;
    for (const auto& key : keys_) published.push_back(key.get());
    jwks_ = jwks_document(published);
}

TokenIssuer::TokenIssuer(std::string secret, std::string issuer, std::chrono::seconds ttl)
    : TokenIssuer({std::make_shared<const SigningKey>(SigningKey::from_secret("", std::move(secret)))}, 0,
                  TokenClaimsConfig{std::move(issuer), "", ttl}) {}

Expected<IssuedToken> TokenIssuer::issue(const std::string& subject) const {
    const long long now = static_cast<long long>(std::time(nullptr));
    const std::string jti = random_hex(16);
    JwtClaims claims;
    claims.sub = subject;
    claims.iss = claims_.issuer;
    claims.aud = claims_.audience;
    claims.jti = jti;
    claims.iat = now;
    claims.exp = now + static_cast<long long>(claims_.ttl.count());
    try {
        return IssuedToken{keys_[signing_]->sign_jwt(claims), claims_.ttl};
    } catch (const std::exception&) {
        return make_error(ErrorCode::internal_error, "token signing failed");
    }
}

}  // namespace testino
