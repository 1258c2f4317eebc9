// Access tokens: JWTs signed with the configured key (domain/signing_key.hpp), and the
// JWKS document that publishes the public keys.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "domain/errors.hpp"
#include "domain/signing_key.hpp"

namespace testino {

struct IssuedToken {
    std::string jwt;
    std::chrono::seconds expires_in;
};

struct TokenClaimsConfig {
    std::string issuer;
    std::string audience;  // "" = no aud claim
    std::chrono::seconds ttl{3600};
};

class TokenIssuer {
public:
    // `keys[signing_key]` signs; every asymmetric key is published in jwks().
    TokenIssuer(std::vector<std::shared_ptr<const SigningKey>> keys, std::size_t signing_key,
                TokenClaimsConfig claims);
    // For tests and earlier callers: one HS256 key.
    TokenIssuer(std::string secret, std::string issuer, std::chrono::seconds ttl);

    // Claims: sub = `subject`, iat, exp = iat + ttl, iss, aud (when configured), jti (128
    // random bits, hex). Header: alg, typ JWT, kid.
    Expected<IssuedToken> issue(const std::string& subject) const;
    // {"keys":[…]}: RFC 7517, built once.
    const std::string& jwks() const { return jwks_; }
    const SigningKey& signing_key() const { return *keys_[signing_]; }

private:
    std::vector<std::shared_ptr<const SigningKey>> keys_;
    std::size_t signing_ = 0;
    TokenClaimsConfig claims_;
    std::string jwks_;
};

}  // namespace testino
