#include "otp_crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace testino {
namespace {

void random_bytes(unsigned char* out, std::size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) {
        // The CSPRNG failing is not something to paper over with a weaker source.
        throw std::runtime_error("RAND_bytes failed");
    }
}

std::string to_hex(const unsigned char* data, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        hex[2 * i] = digits[data[i] >> 4];
        hex[2 * i + 1] = digits[data[i] & 0xf];
    }
    return hex;
}

void hmac_sha256(std::string_view key, std::string_view data, unsigned char* out) {
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length) ||
        length != 32) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
}

}  // namespace

std::string generate_code(int length) {
    if (length < 1 || length > 18) throw std::invalid_argument("code length out of range");
    std::uint64_t range = 1;
    for (int i = 0; i < length; ++i) range *= 10;
    // Draws at or above the largest multiple of `range` would favour small codes: redraw.
    const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
    std::uint64_t draw = 0;
    do {
        random_bytes(reinterpret_cast<unsigned char*>(&draw), sizeof draw);
    } while (draw >= limit);
    std::string code(static_cast<std::size_t>(length), '0');
    std::uint64_t value = draw % range;
    for (int i = length - 1; i >= 0; --i, value /= 10) {
        code[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    }
    return code;
}

sdk::CodeDigest digest_code(std::string_view key, std::string_view e164, std::string_view code) {
    std::string message;
    message.reserve(e164.size() + 1 + code.size());
    message.append(e164).append(1, ':').append(code);
    sdk::CodeDigest digest{};
    hmac_sha256(key, message, digest.data());
    return digest;
}

std::string derive_key(std::string_view secret, std::string_view label) {
    unsigned char out[32];
    hmac_sha256(secret, label, out);
    return to_hex(out, sizeof out);
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> buffer(bytes);
    random_bytes(buffer.data(), bytes);
    return to_hex(buffer.data(), bytes);
}

}  // namespace testino
