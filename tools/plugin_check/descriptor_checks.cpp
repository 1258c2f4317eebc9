// What every plugin's descriptor must be, whatever its kind: the server relies on these
// when it builds config sections, prints --check-config and --list-plugins.
#include <gtest/gtest.h>

#include <charconv>
#include <regex>
#include <set>
#include <string>

#include "plugin_under_test.hpp"

namespace testino::plugin_check {
namespace {

using sdk::ConfigKey;
using sdk::ValueType;

bool is_config_name(const std::string& name) { return std::regex_match(name, std::regex("[a-z][a-z0-9_]*")); }

bool parses_as_integer(const std::string& text, std::int64_t& value) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    return error == std::errc() && stop == end;
}

TEST(PluginDescriptor, NameIsUsableInConfig) {
    const std::string& name = plugin().descriptor().name;
    EXPECT_TRUE(is_config_name(name))
        << "name \"" << name << "\" must be lower-case letters, digits and '_', starting with a "
        << "letter: it is a YAML key (" << plugin().section_path() << ") and a config value";
}

TEST(PluginDescriptor, HasASemanticVersionAndADescription) {
    const auto& descriptor = plugin().descriptor();
    EXPECT_TRUE(
        std::regex_match(descriptor.version, std::regex(R"([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?)")))
        << "version \"" << descriptor.version << "\" is not MAJOR.MINOR.PATCH";
    EXPECT_FALSE(descriptor.description.empty()) << "--list-plugins shows the description";
}

TEST(PluginDescriptor, ConfigKeysHaveUniqueWellFormedNamesAndEnvironmentVariables) {
    std::set<std::string> names;
    std::set<std::string> env_names;
    for (const ConfigKey& key : plugin().descriptor().config_keys) {
        EXPECT_TRUE(is_config_name(key.name)) << "config key \"" << key.name << "\"";
        EXPECT_TRUE(names.insert(key.name).second) << "config key \"" << key.name << "\" is declared twice";
        if (!key.env.empty()) {
            EXPECT_TRUE(std::regex_match(key.env, std::regex("[A-Z][A-Z0-9_]*")))
                << key.name << ": environment variable \"" << key.env << "\"";
            EXPECT_TRUE(env_names.insert(key.env).second)
                << key.name << ": environment variable " << key.env << " is used twice";
        }
        EXPECT_FALSE(key.description.empty())
            << "config key \"" << key.name << "\" has no description (--check-config shows it)";
    }
}

TEST(PluginDescriptor, SecretKeysHaveNoDefault) {
    for (const ConfigKey& key : plugin().descriptor().config_keys) {
        if (!key.secret) continue;
        EXPECT_TRUE(key.default_value.empty())
            << "secret key \"" << key.name << "\" has a default: every installation would share it";
    }
}

TEST(PluginDescriptor, DefaultsAndBoundsFitTheirTypes) {
    for (const ConfigKey& key : plugin().descriptor().config_keys) {
        EXPECT_LE(key.min, key.max) << "config key \"" << key.name << "\": min above max";
        if (key.required) {
            EXPECT_TRUE(key.default_value.empty())
                << "config key \"" << key.name << "\" is required and has a default";
        }
        if (key.default_value.empty()) continue;
        if (key.type == ValueType::integer) {
            std::int64_t value = 0;
            ASSERT_TRUE(parses_as_integer(key.default_value, value))
                << "config key \"" << key.name << "\": default \"" << key.default_value
                << "\" is not an integer";
            EXPECT_GE(value, key.min) << "config key \"" << key.name << "\": default below min";
            EXPECT_LE(value, key.max) << "config key \"" << key.name << "\": default above max";
        } else if (key.type == ValueType::boolean) {
            EXPECT_TRUE(key.default_value == "true" || key.default_value == "false")
                << "config key \"" << key.name << "\": default \"" << key.default_value
                << "\" is not true or false";
        }
    }
}

// SMS providers list each channel they can send once, and at least one (the loader refuses
// the plugin otherwise; this says so by name). A provider without sms is allowed (a
// WhatsApp-only plugin), but the server will not make it the only provider of a route.
TEST(PluginDescriptor, DeclaresItsChannels) {
    const auto& descriptor = plugin().descriptor();
    if (descriptor.kind != sdk::PluginKind::sms_provider) {
        EXPECT_TRUE(descriptor.channels.empty()) << "only SMS providers declare channels";
        return;
    }
    ASSERT_FALSE(descriptor.channels.empty()) << "an SMS provider declares at least one channel";
    std::set<int> seen;
    std::string names;
    for (const sdk::Channel channel : descriptor.channels) {
        sdk::Channel known = sdk::Channel::sms;
        EXPECT_TRUE(sdk::parse_channel(sdk::to_string(channel), known) && known == channel)
            << "unknown channel " << static_cast<int>(channel);
        EXPECT_TRUE(seen.insert(static_cast<int>(channel)).second)
            << "channel " << sdk::to_string(channel) << " is declared twice";
        names += (names.empty() ? "" : ", ") + std::string(sdk::to_string(channel));
    }
    std::cout << "  channels: " << names << "\n";
    if (seen.count(static_cast<int>(sdk::Channel::sms)) == 0) {
        std::cout << "  note: no sms channel: a route needs another provider that sends SMS\n";
    }
}

}  // namespace
}  // namespace testino::plugin_check
