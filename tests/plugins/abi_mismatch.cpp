// abi_mismatch.so: a plugin built for another SDK ABI (999; abi7_plugin.so: 7, the last ABI
// before delivery receipts, traceparent and store records and queues). Everything else is in order, so a
// loader that accepts it has skipped the ABI check. Written out by hand: TESTINO_SMS_PROVIDER_PLUGIN always
// exports the current version.
#include <memory>

#include "testino/plugin.hpp"

namespace {

// Never meant to run; if a loader creates it anyway, it refuses every message.
class NeverLoadedProvider final : public testino::sdk::SmsProvider {
public:
    testino::sdk::SendResult send(const testino::sdk::SmsMessage&,
                                  std::chrono::steady_clock::time_point) override {
        return {testino::sdk::SendStatus::misconfigured, "abi_mismatch must never be loaded", {}};
    }
    testino::sdk::HealthReport health() override { return {false, "abi_mismatch must never be loaded"}; }
};

}  // namespace

extern "C" BOOST_SYMBOL_EXPORT const int testino_plugin_abi_version;
#ifndef STAMPED_ABI
#define STAMPED_ABI 999
#define STAMPED_NAME "abi_mismatch"
#endif
extern "C" BOOST_SYMBOL_EXPORT const int testino_plugin_abi_version = STAMPED_ABI;

namespace abi_mismatch_exports {

testino::sdk::PluginDescriptor descriptor() {
    return {testino::sdk::PluginKind::sms_provider,
            STAMPED_NAME,
            "1.0.0",
            "test-only: exports an ABI version this server does not accept",
            {},
            {testino::sdk::Channel::sms}};
}

std::unique_ptr<testino::sdk::SmsProvider> create(const testino::sdk::PluginContext&) {
    return std::make_unique<NeverLoadedProvider>();
}

}  // namespace abi_mismatch_exports

BOOST_DLL_ALIAS(abi_mismatch_exports::descriptor, testino_plugin_descriptor)
BOOST_DLL_ALIAS(abi_mismatch_exports::create, testino_plugin_create)
