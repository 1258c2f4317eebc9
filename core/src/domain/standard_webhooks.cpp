#include "domain/standard_webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace testino {

bool decode_webhook_secret(std::string_view secret, std::string& key) {
    constexpr std::string_view prefix = "whsec_";
    if (secret.substr(0, prefix.size()) != prefix) return false;
    const std::string_view text = secret.substr(prefix.size());
    if (text.empty() || text.size() % 4 != 0) return false;
    std::string bytes(text.size() / 4 * 3, '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return false;
    std::size_t size = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    if (text.back() == '=') --size;
    if (text[text.size() - 2] == '=') --size;
    bytes.resize(size);
    key = std::move(bytes);
    return true;
}

std::string webhook_signature(std::string_view key, std::string_view id, std::int64_t timestamp,
                              std::string_view body) {
    const std::string content = std::string(id) + "." + std::to_string(timestamp) + "." + std::string(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_size);
    std::string encoded(4 * ((mac_size + 2) / 3), '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac, static_cast<int>(mac_size));
    encoded.resize(static_cast<std::size_t>(n));
    return "v1," + encoded;
}

std::string mask_e164(std::string_view e164) {
    std::string masked(e164);
    // '+', three digits shown, then stars up to the last two.
    for (std::size_t i = 4; i + 2 < masked.size(); ++i) masked[i] = '*';
    return masked;
}

}  // namespace testino
