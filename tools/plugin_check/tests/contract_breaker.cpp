// contract_breaker.so: an SMS provider that breaks the contract testino-plugin-check holds
// plugins to, one rule per check, so the kit's own test can see each check fail.
#include <stdexcept>

#include "testino/plugin.hpp"

namespace {

using testino::sdk::ConfigKey;

class ContractBreaker final : public testino::sdk::SmsProvider {
public:
    explicit ContractBreaker(std::string secret) : secret_(std::move(secret)) {}

    // Throws, where a provider must report failures through SendResult.
    testino::sdk::SendResult send(const testino::sdk::SmsMessage&,
                                  std::chrono::steady_clock::time_point) override {
        throw std::runtime_error("contract_breaker: send() throws");
    }
    // Puts its secret in the health detail.
    testino::sdk::HealthReport health() override { return {true, "token " + secret_}; }

private:
    std::string secret_;
};

testino::sdk::PluginDescriptor contract_breaker_descriptor() {
    ConfigKey token;
    token.name = "token";
    token.description = "a secret with a default: every installation would share it";
    token.secret = true;
    token.default_value = "shared-secret-value";
    ConfigKey duplicate;
    duplicate.name = "token";
    duplicate.description = "the same name again";
    duplicate.default_value = token.default_value;
    return {testino::sdk::PluginKind::sms_provider,
            "contract_breaker",
            "1.0",
            "test-only provider that breaks the plugin contract on purpose",
            {token, duplicate},
            {testino::sdk::Channel::sms}};
}

std::unique_ptr<testino::sdk::SmsProvider> create_contract_breaker(
    const testino::sdk::PluginContext& context) {
    return std::make_unique<ContractBreaker>(context.config.get_string("token"));
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(contract_breaker_descriptor, create_contract_breaker)
