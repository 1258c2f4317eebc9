// Plugin glue for the `console` SMS provider: descriptor, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "console_provider.hpp"

namespace {

testino::sdk::PluginDescriptor console_provider_descriptor() {
    return {testino::sdk::PluginKind::sms_provider,
            "console",
            "1.0.0",
            "development provider: logs each SMS (code included) instead of sending it",
            {},
            {testino::sdk::Channel::sms}};
}

std::unique_ptr<testino::sdk::SmsProvider> create_console_provider(
    const testino::sdk::PluginContext& context) {
    // The plugin, not the core, knows it is for development: say so once, at start-up.
    context.host.log(testino::sdk::LogLevel::warn, "sms.console_provider",
                     {{"detail", "the console provider writes codes to the log: development only"}});
    return std::make_unique<testino::plugins::ConsoleProvider>(context.host);
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(console_provider_descriptor, create_console_provider)
