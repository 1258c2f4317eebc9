// Refresh tokens: "<family>.<secret>", both unpadded base64url of random bytes (16 and 32).
// The family names one sign-in and its chain of rotations (the store keeps it under that
// id); the secret makes each token unguessable. Only SHA-256 of the whole token is stored:
// 256 random bits need no key or slow hash to be safe at rest.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "testino/otp_store.hpp"

namespace testino {

inline constexpr std::size_t kRefreshFamilyLength = 22;                            // 16 bytes
inline constexpr std::size_t kRefreshTokenLength = kRefreshFamilyLength + 1 + 43;  // + 32 bytes

struct RefreshToken {
    std::string family;
    sdk::RefreshDigest digest{};
    std::string text;  // what the client holds; empty for a parsed token (never kept)
};

std::string new_refresh_family();
// A fresh token of `family`.
RefreshToken new_refresh_token(const std::string& family);
// The family and digest of a token the client sent; nullopt when it is not shaped like one.
std::optional<RefreshToken> parse_refresh_token(std::string_view text);

}  // namespace testino
