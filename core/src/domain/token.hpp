// Access tokens: HS256 JWTs (jwt_hs256.hpp), signed with OpenSSL's HMAC.
#pragma once

#include <chrono>
#include <string>

#include "domain/errors.hpp"

namespace testino {

struct IssuedToken {
    std::string jwt;
    std::chrono::seconds expires_in;
};

class TokenIssuer {
public:
    TokenIssuer(std::string secret, std::string issuer, std::chrono::seconds ttl);
    // Claims: sub = `subject`, iat, exp = iat + ttl, iss, jti (128 random bits, hex).
    Expected<IssuedToken> issue(const std::string& subject) const;

private:
    std::string secret_;
    std::string issuer_;
    std::chrono::seconds ttl_;
};

}  // namespace testino
