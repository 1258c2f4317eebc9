// A minimal HS256 JWT signer (RFC 7519 / RFC 7515 compact form). The server only ever
// signs one header and a handful of claims, so this builds them directly: RapidJSON for
// the claims, base64url, and the per-thread cached HMAC context of otp_crypto. libjwt
// built the same token through jansson and a fresh OpenSSL HMAC each time, several times
// the cost. Tokens are verified by any standard JWT library (the tests use libjwt and
// PyJWT).
#pragma once

#include <string>
#include <string_view>

namespace testino {

struct JwtClaims {
    std::string_view sub;
    std::string_view iss;
    std::string_view jti;
    std::string_view aud;  // omitted when empty
    long long iat = 0;
    long long exp = 0;
};

// base64url without padding (RFC 4648 §5), as JWS requires.
std::string base64url(std::string_view data);

// header.claims.signature, header {"alg":"HS256","typ":"JWT"}.
std::string sign_hs256_jwt(std::string_view key, const JwtClaims& claims);

}  // namespace testino
