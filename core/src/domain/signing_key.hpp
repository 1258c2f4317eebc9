// Token signing keys: the algorithms token.algorithm takes, one loaded and checked key
// (OpenSSL 3 EVP), its public JWK (RFC 7517) for GET /.well-known/jwks.json, and JWS
// compact signing (RFC 7515) of the server's access tokens.
//
// The checks follow RFC 8725 and NIST SP 800-57: ES256 takes only a P-256 key, EdDSA only
// Ed25519, RS256 an RSA key of at least 2048 bits, HS256 a secret of at least 32 bytes. A
// key of another type or size is refused with a message that says what was found and what
// is needed. The private key never leaves this object and is never printed.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/jwt_hs256.hpp"

namespace testino {

enum class JwtAlgorithm { hs256, es256, eddsa, rs256 };

// "HS256", "ES256", "EdDSA", "RS256" (the JWS "alg" values, exact case); nullopt otherwise.
std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name);
const char* to_string(JwtAlgorithm algorithm);  // the JWS "alg" value
bool is_asymmetric(JwtAlgorithm algorithm);

// A key that cannot be used: not PEM, not a private key, wrong type or too weak. The
// message names the problem, never the key's bytes; the caller prefixes where it came from.
class KeyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class SigningKey {
public:
    // A PEM private key (PKCS#8 "PRIVATE KEY", or "EC PRIVATE KEY" / "RSA PRIVATE KEY") for
    // an asymmetric algorithm. An empty `kid` becomes the key's RFC 7638 thumbprint. The
    // first private key block is used; others (a certificate, "EC PARAMETERS") are skipped.
    // An encrypted key is refused: there is no passphrase, and OpenSSL never prompts.
    static SigningKey from_pem(JwtAlgorithm algorithm, std::string kid, std::string_view pem);
    // An HS256 secret (>= 32 bytes). An empty `kid` becomes a value derived from the secret
    // that reveals nothing of it.
    static SigningKey from_secret(std::string kid, std::string secret);
    // A fresh random key (development mode without a configured key).
    static SigningKey generate(JwtAlgorithm algorithm, std::string kid);

    // A moved-from key may only be destroyed or assigned to.
    SigningKey(SigningKey&&) noexcept;
    SigningKey& operator=(SigningKey&&) noexcept;
    ~SigningKey();

    const std::string& kid() const;
    JwtAlgorithm algorithm() const;
    // The public key as one JWK JSON object: kty, crv/x/y (EC, OKP) or n/e (RSA), plus
    // kid, alg and "use":"sig". Empty for HS256: a symmetric key is never published.
    std::string public_jwk() const;
    // RFC 7638 JWK thumbprint (base64url SHA-256); empty for HS256.
    std::string thumbprint() const;
    // "header.claims.signature", header {"alg":…,"typ":"JWT","kid":…}. Thread-safe.
    // Throws KeyError if OpenSSL fails (it does not for a key that loaded).
    std::string sign_jwt(const JwtClaims& claims) const;
    // The base64url JWS signature of `signing_input` (base64url header "." base64url
    // payload), as sign_jwt appends it: ES256 as the 64-byte r||s of RFC 7518 section 3.4,
    // not DER. For other headers and payloads, e.g. the RFC 8037 test vector. Thread-safe.
    std::string signature(std::string_view signing_input) const;

private:
    struct Impl;
    explicit SigningKey(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// {"keys":[jwk, …]} of every asymmetric key given (RFC 7517 section 5).
std::string jwks_document(const std::vector<const SigningKey*>& keys);

// RFC 7638 thumbprint of a JWK given as its required members (name, string value), e.g.
// {{"kty","RSA"},{"n",…},{"e","AQAB"}}: base64url SHA-256 of them as JSON, sorted by
// name, without whitespace. SigningKey::thumbprint() is this of its public key.
std::string jwk_thumbprint(std::vector<std::pair<std::string, std::string>> required_members);

}  // namespace testino
