// The parts of the core's config that have a structure of their own (the SMS routing, the
// test numbers), read by load_app_config. Internal to core/src/config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "domain/phone.hpp"

namespace testino::config_detail {

// One key of a core section's schema.
inline sdk::ConfigKey config_key(std::string name, sdk::ValueType type, std::string default_value,
                                 std::string env, std::string description, std::int64_t min = INT64_MIN,
                                 std::int64_t max = INT64_MAX) {
    sdk::ConfigKey k;
    k.name = std::move(name);
    k.type = type;
    k.default_value = std::move(default_value);
    k.env = std::move(env);
    k.description = std::move(description);
    k.min = min;
    k.max = max;
    return k;
}

// sms.provider or sms.providers (the default route), and sms.routes (per calling code).
void load_sms_routing(const ConfigSource& source, const ConfigSection& sms, SmsConfig& sms_config);

// server.admin_token (when set: at least 32 bytes, what a Bearer header carries), and the
// admin API's needs once everything is loaded: limits.fraud_guard.admin_api wants an admin
// token and an admin listener (server.admin_port not 0).
void check_admin_token(const ConfigSection& server, const std::string& token);
void check_admin_api(const AppConfig& config);

// The test_numbers list: each entry needs a code of `otp_length` digits and an expiry date.
std::vector<TestNumber> load_test_numbers(const ConfigSource& source, int otp_length, NumberPolicy policy);

// The token section's schema, and the token config with its keys loaded and checked.
// Also completes otp.hmac_secret, which HS256 derives from its secret.
const std::vector<sdk::ConfigKey>& token_schema();
void load_token(const ConfigSource& source, AppConfig& config);

// limits.fraud_guard: its schema, and FraudGuardConfig from its validated section.
const std::vector<sdk::ConfigKey>& fraud_guard_schema();
void load_fraud_guard(AppConfig& config);

// webhooks: its schema, and WebhookConfig from its validated section (urls, the secret's
// format, event names).
const std::vector<sdk::ConfigKey>& webhooks_schema();
void load_webhooks(AppConfig& config);

// server.tls: its schema, and TlsConfig with both files checked by OpenSSL (readable, the
// certificate parses, the key is unencrypted and matches it).
const std::vector<sdk::ConfigKey>& tls_schema();
void load_tls(AppConfig& config);

// otp's message keys (config/message_config.cpp): templates per locale, the locale
// defaults, {app}, the autofill lines; each template is held to otp.max_segments.
void load_messages(const ConfigSource& source, AppConfig& config);
// otp.message_template's default, the seed's English text.
extern const char* const kSeedTemplate;

}  // namespace testino::config_detail
