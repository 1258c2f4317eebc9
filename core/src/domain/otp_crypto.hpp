// The cryptography of codes, on OpenSSL: CSPRNG codes, HMAC digests, derived keys.
#pragma once

#include <string>
#include <string_view>

#include "testino/otp_store.hpp"

namespace testino {

// HMAC-SHA256(key, data) into `out` (32 bytes), on a keyed context cached per thread.
void hmac_sha256(std::string_view key, std::string_view data, unsigned char* out);

// `length` decimal digits, uniform (rejection sampling, no modulo bias), from RAND_bytes.
std::string generate_code(int length);

// HMAC-SHA256(key, e164 ":" code): what the store keeps instead of the code. Binding the
// number means a digest is useless for any other number.
sdk::CodeDigest digest_code(std::string_view key, std::string_view e164, std::string_view code);

// 16 random bytes as unpadded base64url (22 characters): the opaque id send-otp returns,
// which binds a code to the client flow that asked for it (ASVS 2.7.3).
std::string generate_verification_id();

// HMAC-SHA256(key, "flow:" e164 ":" id): what the store keeps of a verification id.
sdk::CodeDigest flow_tag(std::string_view key, std::string_view e164, std::string_view verification_id);

// HMAC-SHA256(secret, label) as hex: a key for one purpose derived from another secret.
std::string derive_key(std::string_view secret, std::string_view label);

// `n` bytes as lower-case hex.
std::string to_hex(const unsigned char* data, std::size_t n);

// `bytes` random bytes from RAND_bytes, as lower-case hex.
std::string random_hex(std::size_t bytes);

}  // namespace testino
