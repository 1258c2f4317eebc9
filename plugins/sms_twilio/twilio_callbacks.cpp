#include "twilio_callbacks.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

namespace testino::plugins::twilio {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%') {
            const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
            const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (high < 0 || low < 0) return std::nullopt;
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string field(const FormFields& fields, const std::string& name) {
    for (const auto& [key, value] : fields) {
        if (key == name) return value;
    }
    return {};
}

bool is_form(const std::string& content_type) {
    std::string type = content_type.substr(0, content_type.find(';'));
    type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return type == "application/x-www-form-urlencoded";
}

}  // namespace

std::optional<FormFields> form_decode(const std::string& body) {
    FormFields fields;
    std::size_t start = 0;
    while (start < body.size()) {
        const std::size_t end = std::min(body.find('&', start), body.size());
        const std::string pair = body.substr(start, end - start);
        start = end + 1;
        if (pair.empty()) continue;
        const std::size_t equals = pair.find('=');
        auto name = percent_decode(pair.substr(0, equals));
        auto value = percent_decode(equals == std::string::npos ? std::string() : pair.substr(equals + 1));
        if (!name || !value) return std::nullopt;
        fields.emplace_back(std::move(*name), std::move(*value));
    }
    return fields;
}

std::string twilio_signature(const std::string& auth_token, const std::string& url, FormFields fields) {
    // Sorted by name; a repeated name keeps its values in order (stable).
    std::stable_sort(fields.begin(), fields.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string data = url;
    for (const auto& [name, value] : fields) data += name + value;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
    std::string out(4 * ((size + 2) / 3), '\0');
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(std::max(written, 0)));
    return out;
}

bool signature_matches(const std::string& auth_token, const std::string& url, const FormFields& fields,
                       const std::string& signature) {
    const std::string expected = twilio_signature(auth_token, url, fields);
    return !signature.empty() && signature.size() == expected.size() &&
           CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

std::optional<sdk::DeliveryReceipt> receipt_of(const FormFields& fields, bool& malformed) {
    malformed = false;
    const std::string message_sid = field(fields, "MessageSid");
    const std::string call_sid = field(fields, "CallSid");
    if (!message_sid.empty()) {
        const std::string status = field(fields, "MessageStatus");
        if (status == "delivered" || status == "read") {
            return sdk::DeliveryReceipt{message_sid, sdk::ReceiptStatus::delivered, {}};
        }
        if (status == "undelivered" || status == "failed") {
            const std::string code = field(fields, "ErrorCode");
            return sdk::DeliveryReceipt{message_sid, sdk::ReceiptStatus::failed,
                                        code.empty() ? status : code};
        }
        malformed = status.empty();
        return std::nullopt;  // queued, accepted, sending, sent, scheduled: not final
    }
    if (!call_sid.empty()) {
        const std::string status = field(fields, "CallStatus");
        if (status == "completed") return sdk::DeliveryReceipt{call_sid, sdk::ReceiptStatus::delivered, {}};
        if (status == "busy" || status == "no-answer" || status == "failed" || status == "canceled") {
            return sdk::DeliveryReceipt{call_sid, sdk::ReceiptStatus::failed, status};
        }
        malformed = status.empty();
        return std::nullopt;  // queued, initiated, ringing, in-progress
    }
    malformed = true;
    return std::nullopt;
}

sdk::CallbackResult handle_status_callback(const std::string& auth_token, const std::string& callback_url,
                                           const sdk::CallbackRequest& request) {
    if (!is_form(request.content_type)) {
        return {400, {}, "twilio: a status callback is application/x-www-form-urlencoded"};
    }
    const std::optional<FormFields> fields = form_decode(request.body);
    if (!fields) return {400, {}, "twilio: the form body has a bad %-escape"};
    // Twilio signs the URL it requested: the one we gave it, plus a query it was asked for.
    std::string url = callback_url;
    const std::size_t query = request.url.find('?');
    if (callback_url.find('?') == std::string::npos && query != std::string::npos) {
        url += request.url.substr(query);
    }
    const std::string signature = request.header("x-twilio-signature");
    if (signature.empty()) return {403, {}, "twilio: no X-Twilio-Signature"};
    if (!signature_matches(auth_token, url, *fields, signature)) {
        return {403,
                {},
                "twilio: X-Twilio-Signature does not match (check sms.twilio.status_callback_url "
                "is the exact URL Twilio calls, and the auth token)"};
    }
    bool malformed = false;
    const std::optional<sdk::DeliveryReceipt> receipt = receipt_of(*fields, malformed);
    if (malformed)
        return {400, {}, "twilio: the callback names no MessageSid/MessageStatus or CallSid/CallStatus"};
    sdk::CallbackResult result;
    if (receipt) result.receipts.push_back(*receipt);
    return result;
}

}  // namespace testino::plugins::twilio
