// Plugin glue for the `twilio` SMS provider: descriptor, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "twilio_config.hpp"
#include "twilio_provider.hpp"

namespace {

testino::sdk::PluginDescriptor twilio_provider_descriptor() {
    using testino::sdk::Channel;
    return {testino::sdk::PluginKind::sms_provider,
            "twilio",
            "1.1.0",
            "sends each code through Twilio: SMS and WhatsApp (Messages API), voice calls (Calls API); "
            "HTTPS, basic auth, retries within the deadline",
            testino::plugins::twilio::config_keys(),
            // What the plugin can do; channels() says what the config switched on.
            {Channel::sms, Channel::whatsapp, Channel::voice}};
}

std::unique_ptr<testino::sdk::SmsProvider> create_twilio_provider(
    const testino::sdk::PluginContext& context) {
    return std::make_unique<testino::plugins::twilio::TwilioProvider>(
        testino::plugins::twilio::read_settings(context.config), context.host);
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(twilio_provider_descriptor, create_twilio_provider)
