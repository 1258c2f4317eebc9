#include "domain/token.hpp"

#include <jwt.h>

#include <cstdlib>
#include <ctime>
#include <memory>

#include "domain/otp_crypto.hpp"

namespace testino {

TokenIssuer::TokenIssuer(std::string secret, std::string issuer, std::chrono::seconds ttl)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), ttl_(ttl) {}

Expected<IssuedToken> TokenIssuer::issue(const std::string& subject) const {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) return make_error(ErrorCode::internal_error, "token creation failed");
    const std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
    const long now = static_cast<long>(std::time(nullptr));
    const std::string jti = random_hex(16);
    const bool ok =
        jwt_add_grant(jwt.get(), "sub", subject.c_str()) == 0 &&
        jwt_add_grant(jwt.get(), "iss", issuer_.c_str()) == 0 &&
        jwt_add_grant(jwt.get(), "jti", jti.c_str()) == 0 &&
        jwt_add_grant_int(jwt.get(), "iat", now) == 0 &&
        jwt_add_grant_int(jwt.get(), "exp", now + static_cast<long>(ttl_.count())) == 0 &&
        jwt_set_alg(jwt.get(), JWT_ALG_HS256,
                    reinterpret_cast<const unsigned char*>(secret_.data()),
                    static_cast<int>(secret_.size())) == 0;
    if (!ok) return make_error(ErrorCode::internal_error, "token creation failed");
    char* encoded = jwt_encode_str(jwt.get());
    if (encoded == nullptr) return make_error(ErrorCode::internal_error, "token signing failed");
    IssuedToken token{encoded, ttl_};
    std::free(encoded);
    return token;
}

}  // namespace testino
