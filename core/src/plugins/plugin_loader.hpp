// Loads plugins with Boost.DLL: checks the ABI version, reads the descriptor, creates the
// plugin's object. Objects hold their library, so no object outlives the code it runs.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "testino/plugin.hpp"

namespace testino {

class LoadedPlugin;
// Loads one file; throws StartupError explaining why it is not a usable plugin.
LoadedPlugin load_plugin_file(const std::filesystem::path& path);

// A plugin file found in the plugin directory (or named by path), loaded and checked.
class LoadedPlugin {
public:
    const sdk::PluginDescriptor& descriptor() const { return descriptor_; }
    const std::filesystem::path& path() const { return path_; }

    // Calls the factory. The returned object keeps the library loaded until it is destroyed.
    // Throws StartupError (with the plugin's message) when the factory throws.
    std::shared_ptr<sdk::SmsProvider> create_sms_provider(const sdk::PluginContext& context) const;
    std::shared_ptr<sdk::OtpStore> create_otp_store(const sdk::PluginContext& context) const;

private:
    friend LoadedPlugin load_plugin_file(const std::filesystem::path& path);
    std::shared_ptr<boost::dll::shared_library> library_;
    std::filesystem::path path_;
    sdk::PluginDescriptor descriptor_;
};

// One line of --list-plugins: a usable plugin, or a file that is not one and why.
struct PluginListing {
    std::filesystem::path path;
    bool usable = false;
    int abi_version = 0;
    sdk::PluginDescriptor descriptor;
    std::string problem;
};

class PluginLoader {
public:
    explicit PluginLoader(std::filesystem::path directory);

    // Every *.so in the directory, sorted by file name.
    std::vector<PluginListing> list() const;

    // Loads a plugin of `kind` by name (searched in the directory) or by path (a value with
    // a '/' or ending in ".so"). `setting` names the config key for error messages. Throws
    // StartupError: missing, not a plugin, ABI mismatch, wrong kind; the message lists the
    // plugins of that kind that are available.
    LoadedPlugin load(const std::string& name_or_path, sdk::PluginKind kind,
                      const std::string& setting) const;

    // Usable plugins of one kind in the directory.
    std::vector<LoadedPlugin> all_of_kind(sdk::PluginKind kind) const;

    const std::filesystem::path& directory() const { return directory_; }

private:
    // Every *.so in the directory, each loaded once: the plugin, or why it is not one.
    struct Scanned {
        std::filesystem::path path;
        std::optional<LoadedPlugin> plugin;
        std::string problem;
    };
    std::vector<Scanned> scan() const;

    std::filesystem::path directory_;
};

}  // namespace testino
