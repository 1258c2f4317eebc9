// Twilio's status callbacks (delivery receipts): the X-Twilio-Signature check and what each
// MessageStatus / CallStatus means. Twilio signs a callback as
//   base64(HMAC-SHA1(auth token, URL + for each POST parameter sorted by name: name + value))
// where URL is the full URL it requested
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "testino/sms_provider.hpp"

namespace testino::plugins::twilio {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded into its fields ('+' is a space, %XX a byte), in order;
// nullopt for a bad %-escape.
std::optional<FormFields> form_decode(const std::string& body);

// The signature Twilio sends for a POST of `fields` to `url`.
std::string twilio_signature(const std::string& auth_token, const std::string& url, FormFields fields);

// Whether `signature` is that signature; compared in constant time.
bool signature_matches(const std::string& auth_token, const std::string& url, const FormFields& fields,
                       const std::string& signature);

// The receipt a (verified) callback's fields carry: MessageStatus delivered/read, or CallStatus
// completed, is delivered; undelivered/failed (reason: ErrorCode), or busy/no-answer/failed/
// canceled (reason: the status), is failed; any other state (queued, sent, ringing, ...) none.
// Sets `malformed` when the fields name no message or call.
std::optional<sdk::DeliveryReceipt> receipt_of(const FormFields& fields, bool& malformed);

// The whole callback: 400 for a body that is not a form, 403 unsigned or wrongly signed,
// else 200 with its receipt if any. `callback_url` is the configured status_callback_url.
sdk::CallbackResult handle_status_callback(const std::string& auth_token, const std::string& callback_url,
                                           const sdk::CallbackRequest& request);

}  // namespace testino::plugins::twilio
