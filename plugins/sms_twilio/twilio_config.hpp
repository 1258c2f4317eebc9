// The `twilio` SMS provider's settings: the keys of config section `sms.twilio`, and the
// checks a schema cannot express (SID and token shapes, one sender, a safe base URL).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "testino/config_view.hpp"
#include "testino/plugins/http_client.hpp"
#include "testino/sms_provider.hpp"

namespace testino::plugins::twilio {

struct TwilioSettings {
    std::string account_sid;            // AC + 32 hex
    std::string auth_token;             // 32 hex; a secret
    std::string from;                   // E.164 sender, or "" when messaging_service_sid is used
    std::string messaging_service_sid;  // MG + 32 hex, or "" when `from` is used
    // WhatsApp (both or neither): the WhatsApp sender, E.164 (sent as whatsapp:<number>), and
    // the approved authentication template (HX + 32 hex) that carries the code as variable 1.
    std::string whatsapp_from;
    std::string whatsapp_content_sid;
    // Voice: the caller ID of code calls, E.164; `from` when unset. No voice without either
    // (a Messaging Service cannot place calls).
    std::string voice_from;
    // Where Twilio posts status callbacks (delivery receipts): this server's
    // /api/v1/callbacks/twilio as Twilio reaches it; "" = none asked for.
    std::string status_callback_url;
    std::string api_base_url = "https://api.twilio.com";  // no trailing slash
    std::chrono::milliseconds connect_timeout{2000};
    http::RetryPolicy retry;
};

// The keys of `sms.twilio`, for the plugin descriptor.
std::vector<sdk::ConfigKey> config_keys();

// The channels these settings switch on: sms always, whatsapp with both WhatsApp keys, voice
// with a caller ID (voice_from, or from).
std::vector<sdk::Channel> channels_of(const TwilioSettings& settings);

// Reads and checks a validated section; throws sdk::ConfigError naming the key (through
// ConfigView::where) for a value of the wrong shape. Messages never quote the auth token.
TwilioSettings read_settings(const sdk::ConfigView& config);

}  // namespace testino::plugins::twilio
