#include "plugin_under_test.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <stdexcept>

extern char** environ;

namespace testino::plugin_check {
namespace {

std::unique_ptr<PluginUnderTest> current;

std::map<std::string, std::string> process_environment() {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text = *entry;
        const auto equals = text.find('=');
        if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
    }
    return env;
}

const char* section_parent(sdk::PluginKind kind) {
    return kind == sdk::PluginKind::sms_provider ? "sms" : "store";
}

}  // namespace

PluginUnderTest::PluginUnderTest(Options options)
    : options_(std::move(options)), plugin_(load_plugin_file(options_.plugin)) {
    // The server's own reader and validator: a YAML document holding the plugin's section,
    // and the process environment, so the schema's environment variables work as they do
    // in the server.
    const std::string parent = section_parent(descriptor().kind);
    YAML::Node root;
    for (const auto& [key, value] : options_.settings) root[parent][descriptor().name][key] = value;
    source_ = std::make_unique<ConfigSource>(
        ConfigSource::from_string(YAML::Dump(root), "--set", process_environment()));
    section_ =
        std::make_unique<ConfigSection>(*source_, parent + "." + descriptor().name, descriptor().config_keys);
}

std::vector<std::string> PluginUnderTest::secret_values() const {
    std::vector<std::string> values;
    for (const auto& key : descriptor().config_keys) {
        if (key.secret && key.type == sdk::ValueType::string && section_->has(key.name)) {
            values.push_back(section_->get_string(key.name));
        }
    }
    return values;
}

std::shared_ptr<sdk::SmsProvider> PluginUnderTest::make_provider(sdk::Host& host) const {
    // The factory's real type follows the kind; calling it as the other one is undefined.
    if (descriptor().kind != sdk::PluginKind::sms_provider) {
        throw std::logic_error("the plugin is not an SMS provider");
    }
    return plugin_.create_sms_provider(sdk::PluginContext{*section_, host});
}

std::shared_ptr<sdk::OtpStore> PluginUnderTest::make_store(sdk::Host& host) const {
    if (descriptor().kind != sdk::PluginKind::otp_store) {
        throw std::logic_error("the plugin is not an OTP store");
    }
    return plugin_.create_otp_store(sdk::PluginContext{*section_, host});
}

const PluginUnderTest& plugin() {
    if (!current) std::abort();  // main sets it before any test runs
    return *current;
}

void set_plugin(std::unique_ptr<PluginUnderTest> plugin) { current = std::move(plugin); }

const char* to_string(sdk::SendStatus status) {
    switch (status) {
        case sdk::SendStatus::sent: return "sent";
        case sdk::SendStatus::invalid_recipient: return "invalid_recipient";
        case sdk::SendStatus::misconfigured: return "misconfigured";
        case sdk::SendStatus::unavailable: return "unavailable";
        case sdk::SendStatus::uncertain: return "uncertain";
    }
    return "not a SendStatus";
}

std::optional<sdk::SendStatus> parse_send_status(const std::string& text) {
    for (const auto status :
         {sdk::SendStatus::sent, sdk::SendStatus::invalid_recipient, sdk::SendStatus::misconfigured,
          sdk::SendStatus::unavailable, sdk::SendStatus::uncertain}) {
        if (text == to_string(status)) return status;
    }
    return std::nullopt;
}

}  // namespace testino::plugin_check
