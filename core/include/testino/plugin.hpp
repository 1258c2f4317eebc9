// Testino plugin SDK: what every plugin exports, and the ABI version the loader checks.
//
// A plugin is a shared object built with the same compiler, standard library and
// flags as the server (C++ classes cross the boundary). It exports, through
// TESTINO_SMS_PROVIDER_PLUGIN or TESTINO_OTP_STORE_PLUGIN below:
//   - `testino_plugin_abi_version`: an int the loader reads before anything else;
//   - `testino_plugin_descriptor`: kind, name, version, description and config schema;
//   - `testino_plugin_create`: the factory for the plugin's one object.
// Bump kAbiVersion on any change to these headers that breaks a built plugin.
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include <memory>
#include <string>
#include <vector>

#include "testino/config_view.hpp"
#include "testino/host.hpp"
#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"

namespace testino::sdk {

// 2: SmsProvider::may_block(). 3: OtpStore::hit_counter(). 4: OtpStore is asynchronous
// (every operation takes a completion). 5: put_code takes a NewCode (flow binding, overlap
// with the code it replaces); verify_and_consume takes an optional flow tag;
// SmsProvider::SendStatus::uncertain. 6: OtpStore keeps refresh-token families
// (create_refresh, rotate_refresh, revoke_refresh). 7: channels: sdk::Channel,
// SmsMessage::channel and ::locale, PluginDescriptor::channels, SmsProvider::channels().
// 8: what happened to each code: SmsMessage::traceparent, SmsProvider::handle_callback()
// (delivery receipts); OtpStore records and queues (idempotent sends, the webhook outbox).
inline constexpr int kAbiVersion = 8;

enum class PluginKind { sms_provider = 1, otp_store = 2 };

inline const char* to_string(PluginKind kind) {
    return kind == PluginKind::sms_provider ? "sms_provider" : "otp_store";
}

// What a plugin says about itself; read by the loader before it creates anything.
struct PluginDescriptor {
    PluginKind kind;
    std::string name;         // the name config uses: `sms.provider: <name>`, `store.backend: <name>`
    std::string version;      // the plugin's own version, e.g. "1.0.0"
    std::string description;  // one line for --list-plugins
    std::vector<ConfigKey> config_keys;  // the keys of its section `sms.<name>` / `store.<name>`
    // SMS providers: every channel the plugin can send through, whatever its config (at
    // least one; SmsProvider::channels() says which ones a configured provider sends). It is
    // here so that the server, --list-plugins and the conformance kit know it before creating
    // anything (a misconfigured provider cannot be created). Empty for other kinds.
    std::vector<Channel> channels;
};

// Everything a factory is handed: its validated config section and the host's services.
struct PluginContext {
    const ConfigView& config;
    Host& host;
};

}  // namespace testino::sdk

// Names of the exported symbols; the loader uses the same strings.
#define TESTINO_PLUGIN_ABI_SYMBOL "testino_plugin_abi_version"
#define TESTINO_PLUGIN_DESCRIPTOR_SYMBOL "testino_plugin_descriptor"
#define TESTINO_PLUGIN_FACTORY_SYMBOL "testino_plugin_create"

#define TESTINO_DETAIL_EXPORT_PLUGIN(INTERFACE, DESCRIPTOR_FN, FACTORY_FN)                             \
    extern "C" BOOST_SYMBOL_EXPORT const int testino_plugin_abi_version;                               \
    extern "C" BOOST_SYMBOL_EXPORT const int testino_plugin_abi_version = ::testino::sdk::kAbiVersion; \
    namespace testino_plugin_exports {                                                                 \
    inline ::testino::sdk::PluginDescriptor descriptor() { return DESCRIPTOR_FN(); }                   \
    inline std::unique_ptr<INTERFACE> create(const ::testino::sdk::PluginContext& context) {           \
        return FACTORY_FN(context);                                                                    \
    }                                                                                                  \
    }                                                                                                  \
    BOOST_DLL_ALIAS(testino_plugin_exports::descriptor, testino_plugin_descriptor)                     \
    BOOST_DLL_ALIAS(testino_plugin_exports::create, testino_plugin_create)

// Export an SMS provider plugin.
//   DESCRIPTOR_FN: testino::sdk::PluginDescriptor ()            (kind must be sms_provider)
//   FACTORY_FN:    std::unique_ptr<testino::sdk::SmsProvider> (const testino::sdk::PluginContext&)
// The factory may throw testino::sdk::ConfigError for a value its schema cannot express.
#define TESTINO_SMS_PROVIDER_PLUGIN(DESCRIPTOR_FN, FACTORY_FN) \
    TESTINO_DETAIL_EXPORT_PLUGIN(::testino::sdk::SmsProvider, DESCRIPTOR_FN, FACTORY_FN)

// Export an OTP store plugin; as above with testino::sdk::OtpStore.
#define TESTINO_OTP_STORE_PLUGIN(DESCRIPTOR_FN, FACTORY_FN) \
    TESTINO_DETAIL_EXPORT_PLUGIN(::testino::sdk::OtpStore, DESCRIPTOR_FN, FACTORY_FN)
