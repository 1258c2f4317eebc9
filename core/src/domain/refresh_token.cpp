#include "domain/refresh_token.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <stdexcept>

#include "domain/jwt_hs256.hpp"

namespace testino {
namespace {

std::string random_base64url(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return base64url(raw);
}

bool is_base64url(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
               c == '_';
    });
}

sdk::RefreshDigest sha256_of(std::string_view text) {
    sdk::RefreshDigest digest{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    return digest;
}

}  // namespace

std::string new_refresh_family() { return random_base64url(16); }

RefreshToken new_refresh_token(const std::string& family) {
    RefreshToken token;
    token.family = family;
    token.text = family + "." + random_base64url(32);
    token.digest = sha256_of(token.text);
    return token;
}

std::optional<RefreshToken> parse_refresh_token(std::string_view text) {
    if (text.size() != kRefreshTokenLength || text[kRefreshFamilyLength] != '.') return std::nullopt;
    const std::string_view family = text.substr(0, kRefreshFamilyLength);
    if (!is_base64url(family) || !is_base64url(text.substr(kRefreshFamilyLength + 1))) return std::nullopt;
    RefreshToken token;
    token.family = std::string(family);
    token.digest = sha256_of(text);
    return token;
}

}  // namespace testino
