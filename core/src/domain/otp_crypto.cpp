#include "domain/otp_crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace testino {
namespace {

void random_bytes(unsigned char* out, std::size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) {
        // The CSPRNG failing is not something to paper over with a weaker source.
        throw std::runtime_error("RAND_bytes failed");
    }
}

// One keyed HMAC context per thread and key, reset for each message: OpenSSL 3's one-shot
// HMAC() fetches the algorithm and sets the key on every call, which costs more than
// hashing a 20-byte message. The server uses one key, so the cache stays tiny.
class HmacContexts {
public:
    ~HmacContexts() {
        for (auto& entry : contexts_) EVP_MAC_CTX_free(entry.second);
        EVP_MAC_free(mac_);
    }

    EVP_MAC_CTX* get(std::string_view key) {
        for (auto& entry : contexts_) {
            if (entry.first == key) return entry.second;
        }
        if (mac_ == nullptr) mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        EVP_MAC_CTX* ctx = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                     OSSL_PARAM_construct_end()};
        if (ctx == nullptr ||
            EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
            EVP_MAC_CTX_free(ctx);
            throw std::runtime_error("HMAC-SHA256 setup failed");
        }
        if (contexts_.size() >= 8) {  // bounded: drop the oldest
            EVP_MAC_CTX_free(contexts_.front().second);
            contexts_.erase(contexts_.begin());
        }
        contexts_.emplace_back(std::string(key), ctx);
        return ctx;
    }

private:
    EVP_MAC* mac_ = nullptr;
    std::vector<std::pair<std::string, EVP_MAC_CTX*>> contexts_;
};

}  // namespace

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
    thread_local HmacContexts contexts;
    EVP_MAC_CTX* ctx = contexts.get(key);
    std::size_t length = 0;
    // init with no key restarts the MAC with the key already set.
    if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
        EVP_MAC_final(ctx, out, &length, 32) != 1 || length != 32) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
}

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

std::string generate_verification_id() {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[16];
    random_bytes(raw, sizeof raw);
    // 128 bits, 6 at a time: 21 full characters and one of the last 2 bits.
    std::string id;
    id.reserve(22);
    std::uint32_t bits = 0;
    int held = 0;
    for (const unsigned char byte : raw) {
        bits = (bits << 8) | byte;
        held += 8;
        while (held >= 6) {
            held -= 6;
            id.push_back(kAlphabet[(bits >> held) & 0x3f]);
        }
    }
    id.push_back(kAlphabet[(bits << (6 - held)) & 0x3f]);
    return id;
}

sdk::CodeDigest flow_tag(std::string_view key, std::string_view e164, std::string_view verification_id) {
    std::string message;
    message.reserve(5 + e164.size() + 1 + verification_id.size());
    message.append("flow:").append(e164).append(1, ':').append(verification_id);
    sdk::CodeDigest tag{};
    hmac_sha256(key, message, tag.data());
    return tag;
}

}  // namespace testino
