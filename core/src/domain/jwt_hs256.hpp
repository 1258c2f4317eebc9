// JWS compact serialization (RFC 7515) of the server's JWTs (RFC 7519); the file keeps its
// first name (other code includes it), though it now serves every algorithm. The server
// only ever signs one header and a handful of claims, so this builds them directly:
// RapidJSON for the JSON, base64url, and (HS256) the per-thread cached HMAC context of
// otp_crypto. libjwt built the same token through jansson and a fresh OpenSSL HMAC each
// time, several times the cost. The asymmetric algorithms are signing_key.hpp's; tokens
// are verified by any standard JWT library (the tests use libjwt, PyJWT and OpenSSL's
// EVP_DigestVerify).
#pragma once

#include <cstddef>
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
void append_base64url(std::string& out, const unsigned char* data, std::size_t n);

// base64url of the JWS header {"alg":alg,"typ":"JWT"} or, with a kid,
// {"alg":alg,"typ":"JWT","kid":kid}: computed once per key, it never changes.
std::string encoded_jws_header(std::string_view alg, std::string_view kid);

// The JWS signing input, encoded_header "." base64url(claims JSON), with room reserved
// for "." and a base64url signature of `signature_bytes` bytes.
std::string jws_signing_input(std::string_view encoded_header, const JwtClaims& claims,
                              std::size_t signature_bytes);

// Appends "." base64url(signature): the signing input becomes the compact JWS.
void append_jws_signature(std::string& signing_input, const unsigned char* signature, std::size_t n);

// header.claims.signature, signed HS256 with `key`, under a header from encoded_jws_header.
std::string sign_hs256_jws(std::string_view encoded_header, std::string_view key, const JwtClaims& claims);

// header.claims.signature, header {"alg":"HS256","typ":"JWT"}.
std::string sign_hs256_jwt(std::string_view key, const JwtClaims& claims);

}  // namespace testino
