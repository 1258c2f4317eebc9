// The plugin testino-plugin-check was pointed at: loaded as the server loads it, with the
// config section built from --set options and the environment, and fresh objects on demand.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin_doubles.hpp"
#include "plugins/plugin_loader.hpp"
#include "testino/plugin.hpp"

namespace testino::plugin_check {

struct Options {
    std::filesystem::path plugin;
    std::map<std::string, std::string> settings;   // --set key=value
    std::chrono::milliseconds send_timeout{5000};  // --timeout-ms: the deadline given to send()
    std::optional<sdk::SendStatus> expect_status;  // --expect-status: what a send must answer
};

class PluginUnderTest {
public:
    // Loads the plugin and validates its section; throws StartupError like the server.
    explicit PluginUnderTest(Options options);

    const Options& options() const { return options_; }
    const sdk::PluginDescriptor& descriptor() const { return plugin_.descriptor(); }
    // The section's dotted path, e.g. "sms.webhook".
    const std::string& section_path() const { return section_->path(); }
    const sdk::ConfigView& config() const { return *section_; }
    // Values of the secret keys that are set, to check they never leak.
    std::vector<std::string> secret_values() const;

    // A fresh object from the plugin's factory, logging to `host`.
    std::shared_ptr<sdk::SmsProvider> make_provider(sdk::Host& host) const;
    std::shared_ptr<sdk::OtpStore> make_store(sdk::Host& host) const;

private:
    Options options_;
    LoadedPlugin plugin_;
    std::unique_ptr<ConfigSource> source_;
    std::unique_ptr<ConfigSection> section_;
};

// The one plugin of this run (set by main before the tests run).
const PluginUnderTest& plugin();
void set_plugin(std::unique_ptr<PluginUnderTest> plugin);

// Names a SendStatus, for messages and --expect-status.
const char* to_string(sdk::SendStatus status);
std::optional<sdk::SendStatus> parse_send_status(const std::string& text);

}  // namespace testino::plugin_check
