// Standard Webhooks (https://www.standardwebhooks.com, spec v1): how a delivery is signed,
// so a receiver can check it with any of the spec's libraries. The secret is written
// "whsec_" + base64 of the key; the signature header is "v1," + base64(HMAC-SHA256(key,
// "<webhook-id>.<webhook-timestamp>.<body>")).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace testino {

// The key of a "whsec_<base64>" secret; false when it is not one (no prefix, not base64).
bool decode_webhook_secret(std::string_view secret, std::string& key);

// The webhook-signature header's value for one attempt.
std::string webhook_signature(std::string_view key, std::string_view id, std::int64_t timestamp,
                              std::string_view body);

// "+447400123456" → "+447*******56": the calling code's first digits and the last two stay, so
// a receiver can tell numbers apart in a log without holding them.
std::string mask_e164(std::string_view e164);

}  // namespace testino
