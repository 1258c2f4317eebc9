#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <system_error>

#include "config/config.hpp"

namespace testino {
namespace {

namespace dll = boost::dll;
using sdk::PluginKind;

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer (GCC 12) crashes in its exit-time tracer ("Tracer caught signal 11") while
// scanning the thread-local storage of a library that was dlclose'd. Sanitizer builds keep
// every plugin mapped until exit; release builds unload what they only looked at.
constexpr int kKeepLoaded = RTLD_NODELETE;
#else
constexpr int kKeepLoaded = 0;
#endif

bool looks_like_path(const std::string& value) {
    return value.find('/') != std::string::npos ||
           (value.size() > 3 && value.compare(value.size() - 3, 3, ".so") == 0);
}

std::string available(const std::vector<LoadedPlugin>& plugins) {
    std::string names;
    for (const auto& p : plugins) names += (names.empty() ? "" : ", ") + p.descriptor().name;
    return names.empty() ? "none" : names;
}

template <typename Interface>
std::shared_ptr<Interface> create(const std::shared_ptr<dll::shared_library>& library,
                                  const sdk::PluginDescriptor& descriptor,
                                  const sdk::PluginContext& context) {
    using Factory = std::unique_ptr<Interface>(const sdk::PluginContext&);
    std::unique_ptr<Interface> object;
    try {
        object = library->get_alias<Factory>(TESTINO_PLUGIN_FACTORY_SYMBOL)(context);
    } catch (const std::exception& e) {
        throw StartupError("plugin \"" + descriptor.name + "\" refused its configuration: " + e.what());
    }
    if (!object) throw StartupError("plugin \"" + descriptor.name + "\" created nothing");
    // The deleter owns a reference to the library: the object's code stays mapped until
    // the object is gone, whatever order the owners are destroyed in.
    return std::shared_ptr<Interface>(object.release(), [library](Interface* p) { delete p; });
}

std::string channel_list(const std::vector<sdk::Channel>& channels) {
    std::string names;
    for (const sdk::Channel c : channels)
        names += (names.empty() ? "" : ", ") + std::string(sdk::to_string(c));
    return names.empty() ? "none" : names;
}

bool contains(const std::vector<sdk::Channel>& channels, sdk::Channel channel) {
    return std::find(channels.begin(), channels.end(), channel) != channels.end();
}

// An SMS provider's descriptor names at least one channel, each once, each one the SDK knows.
void check_declared_channels(const std::filesystem::path& path, const sdk::PluginDescriptor& descriptor) {
    if (descriptor.kind != PluginKind::sms_provider) return;
    if (descriptor.channels.empty()) {
        throw StartupError(path.string() + ": plugin \"" + descriptor.name +
                           "\" declares no channels (PluginDescriptor::channels; SMS providers list "
                           "at least sdk::Channel::sms)");
    }
    std::vector<sdk::Channel> seen;
    for (const sdk::Channel channel : descriptor.channels) {
        const bool known = std::find(std::begin(sdk::kAllChannels), std::end(sdk::kAllChannels), channel) !=
                           std::end(sdk::kAllChannels);
        if (!known || contains(seen, channel)) {
            throw StartupError(
                path.string() + ": plugin \"" + descriptor.name + "\" declares " +
                (known ? "the channel " + std::string(sdk::to_string(channel)) + " twice"
                       : "an unknown channel (" + std::to_string(static_cast<int>(channel)) + ")"));
        }
        seen.push_back(channel);
    }
}

}  // namespace

std::shared_ptr<sdk::SmsProvider> LoadedPlugin::create_sms_provider(const sdk::PluginContext& context) const {
    auto provider = create<sdk::SmsProvider>(library_, descriptor_, context);
    // The server routes by channels(): it must only offer what the descriptor declares.
    const std::vector<sdk::Channel> offered = provider->channels();
    if (offered.empty()) {
        throw StartupError("plugin \"" + descriptor_.name + "\" sends through no channel with this config");
    }
    for (const sdk::Channel channel : offered) {
        if (!contains(descriptor_.channels, channel)) {
            throw StartupError("plugin \"" + descriptor_.name + "\" offers the channel " +
                               sdk::to_string(channel) + ", which its descriptor does not declare (" +
                               channel_list(descriptor_.channels) + ")");
        }
    }
    return provider;
}

std::shared_ptr<sdk::OtpStore> LoadedPlugin::create_otp_store(const sdk::PluginContext& context) const {
    return create<sdk::OtpStore>(library_, descriptor_, context);
}

LoadedPlugin load_plugin_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw StartupError(path.string() + ": no such plugin file");
    }
    LoadedPlugin plugin;
    plugin.path_ = path;
    try {
        // rtld_local: two plugins may bundle the same symbols without clashing.
        plugin.library_ = std::make_shared<dll::shared_library>(
            path, static_cast<dll::load_mode::type>(dll::load_mode::rtld_now | dll::load_mode::rtld_local |
                                                    kKeepLoaded));
    } catch (const std::exception& e) {
        throw StartupError(path.string() + ": cannot be loaded: " + e.what());
    }
    if (!plugin.library_->has(TESTINO_PLUGIN_ABI_SYMBOL) ||
        !plugin.library_->has(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL) ||
        !plugin.library_->has(TESTINO_PLUGIN_FACTORY_SYMBOL)) {
        throw StartupError(path.string() +
                           ": not a Testino plugin (it does not export " TESTINO_PLUGIN_ABI_SYMBOL
                           "; build it with TESTINO_SMS_PROVIDER_PLUGIN or TESTINO_OTP_STORE_PLUGIN)");
    }
    const int abi = plugin.library_->get<const int>(TESTINO_PLUGIN_ABI_SYMBOL);
    if (abi != sdk::kAbiVersion) {
        throw StartupError(path.string() + ": built for plugin ABI " + std::to_string(abi) +
                           ", but this server speaks ABI " + std::to_string(sdk::kAbiVersion) +
                           "; rebuild the plugin against this server's SDK");
    }
    plugin.descriptor_ =
        plugin.library_->get_alias<sdk::PluginDescriptor()>(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL)();
    check_declared_channels(path, plugin.descriptor_);
    return plugin;
}

PluginLoader::PluginLoader(std::filesystem::path directory) : directory_(std::move(directory)) {}

std::vector<PluginLoader::Scanned> PluginLoader::scan() const {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
        if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<Scanned> scanned;
    for (const auto& file : files) {
        Scanned item;
        item.path = file;
        try {
            item.plugin = load_plugin_file(file);
        } catch (const StartupError& e) {
            item.problem = e.what();
        }
        scanned.push_back(std::move(item));
    }
    return scanned;
}

std::vector<PluginListing> PluginLoader::list() const {
    std::vector<PluginListing> listings;
    for (const Scanned& item : scan()) {
        PluginListing listing;
        listing.path = item.path;
        listing.usable = item.plugin.has_value();
        if (item.plugin) {
            listing.abi_version = sdk::kAbiVersion;
            listing.descriptor = item.plugin->descriptor();
        }
        listing.problem = item.problem;
        listings.push_back(std::move(listing));
    }
    return listings;
}

std::vector<LoadedPlugin> PluginLoader::all_of_kind(PluginKind kind) const {
    std::vector<LoadedPlugin> plugins;
    for (Scanned& item : scan()) {
        if (item.plugin && item.plugin->descriptor().kind == kind) plugins.push_back(std::move(*item.plugin));
    }
    return plugins;
}

LoadedPlugin PluginLoader::load(const std::string& name_or_path, PluginKind kind,
                                const std::string& setting) const {
    const std::string kind_name = sdk::to_string(kind);
    if (looks_like_path(name_or_path)) {
        LoadedPlugin plugin;
        try {
            plugin = load_plugin_file(name_or_path);
        } catch (const StartupError& e) {
            throw StartupError(setting + ": " + e.what());
        }
        if (plugin.descriptor().kind != kind) {
            throw StartupError(setting + ": " + name_or_path + " is an " +
                               sdk::to_string(plugin.descriptor().kind) + " plugin, not an " + kind_name +
                               " plugin");
        }
        return plugin;
    }
    // One scan of the directory: the plugins of this kind, and the one of another kind that
    // has the name, if any (for a better message).
    std::vector<LoadedPlugin> candidates;
    const LoadedPlugin* other_kind = nullptr;
    const std::vector<Scanned> scanned = scan();
    for (const Scanned& item : scanned) {
        if (!item.plugin) continue;
        if (item.plugin->descriptor().kind == kind) {
            if (item.plugin->descriptor().name == name_or_path) return *item.plugin;
            candidates.push_back(*item.plugin);
        } else if (item.plugin->descriptor().name == name_or_path) {
            other_kind = &*item.plugin;
        }
    }
    if (other_kind != nullptr) {
        throw StartupError(setting + ": \"" + name_or_path + "\" is an " +
                           sdk::to_string(other_kind->descriptor().kind) + " plugin, not an " + kind_name +
                           " plugin; available " + kind_name + " plugins: " + available(candidates));
    }
    std::vector<std::string> names;
    for (const auto& p : candidates) names.push_back(p.descriptor().name);
    const std::string suggestion = nearest(name_or_path, names);
    throw StartupError(setting + ": no " + kind_name + " plugin named \"" + name_or_path + "\" in " +
                       directory_.string() +
                       (suggestion.empty() ? "" : " (did you mean \"" + suggestion + "\"?)") +
                       "; available: " + available(candidates));
}

}  // namespace testino
