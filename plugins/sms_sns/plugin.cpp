// Plugin glue for the `sns` SMS provider: descriptor, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "sns_config.hpp"
#include "sns_provider.hpp"

namespace {

testino::sdk::PluginDescriptor sns_provider_descriptor() {
    return {testino::sdk::PluginKind::sms_provider,
            "sns",
            "1.0.0",
            "Amazon SNS: sends each code with SNS Publish (SigV4-signed; needs sns:Publish)",
            testino::plugins::sns::config_keys(),
            {testino::sdk::Channel::sms}};  // SNS Publish sends text messages only
}

std::unique_ptr<testino::sdk::SmsProvider> create_sns_provider(const testino::sdk::PluginContext& context) {
    return std::make_unique<testino::plugins::sns::SnsProvider>(
        testino::plugins::sns::settings_from_config(context.config), context.host);
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(sns_provider_descriptor, create_sns_provider)
