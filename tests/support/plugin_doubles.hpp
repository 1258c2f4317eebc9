// Test doubles for plugin code: a Host that records what a plugin logs, and a ConfigView
// over a plain map of YAML-style texts, so plugin logic is tested without the server.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "testino/config_view.hpp"
#include "testino/host.hpp"
#include "testino/plugin.hpp"

namespace testino::test_support {

struct LogRecord {
    sdk::LogLevel level = sdk::LogLevel::info;
    std::string event;
    std::vector<sdk::LogField> fields;

    // The value of the first field named `name`, if any.
    std::optional<std::string> field(const std::string& name) const;
};

// Keeps every log call in order. Thread-safe: plugins log from worker threads.
class RecordingHost final : public sdk::Host {
public:
    void log(sdk::LogLevel level, const std::string& event,
             const std::vector<sdk::LogField>& fields = {}) override;

    std::vector<LogRecord> records() const;  // a snapshot
    std::vector<LogRecord> records_of(const std::string& event) const;
    std::size_t count(const std::string& event) const;
    void clear();

private:
    mutable std::mutex mutex_;
    std::vector<LogRecord> records_;
};

// A ConfigView over `values` (key → text as YAML would hold it: "300", "true", "a,b").
// With a schema, its keys are the declared ones and its defaults fill unset keys, as the
// server does; without one, the keys of `values` are the declared ones. Reading an
// undeclared key throws ConfigError, like the server's view; so does a text the typed
// getter cannot parse.
class MapConfigView final : public sdk::ConfigView {
public:
    explicit MapConfigView(std::map<std::string, std::string> values = {},
                           std::vector<sdk::ConfigKey> schema = {});

    bool has(const std::string& key) const override;
    std::string get_string(const std::string& key) const override;
    std::int64_t get_int(const std::string& key) const override;
    bool get_bool(const std::string& key) const override;
    std::vector<std::string> get_list(const std::string& key) const override;
    std::string where(const std::string& key) const override;

private:
    const std::string* find(const std::string& key) const;  // nullptr: declared but unset
    const std::string& text(const std::string& key) const;  // throws when undeclared or unset
    void require_declared(const std::string& key) const;

    std::map<std::string, std::string> values_;
    std::vector<sdk::ConfigKey> schema_;
};

// The key of that name in a plugin's schema, or nullptr.
const sdk::ConfigKey* find_key(const std::vector<sdk::ConfigKey>& keys, const std::string& name);

// A plugin .so opened the way the server opens it, for tests of a built plugin's exports.
// Objects it creates must be destroyed before this (and so the library) goes away.
class PluginLibrary {
public:
    explicit PluginLibrary(const std::filesystem::path& path);

    int abi_version() const;
    sdk::PluginDescriptor descriptor() const;
    template <typename Interface>
    std::unique_ptr<Interface> create(const sdk::ConfigView& config, sdk::Host& host) const {
        auto& factory = library_.get_alias<std::unique_ptr<Interface>(const sdk::PluginContext&)>(
            TESTINO_PLUGIN_FACTORY_SYMBOL);
        return factory(sdk::PluginContext{config, host});
    }
    const boost::dll::shared_library& library() const { return library_; }

    // The ConfigError message the factory throws for `values` (its schema's defaults for the
    // rest), or "" when it makes the plugin; the plugin is destroyed at once.
    template <typename Interface>
    std::string config_error(const std::map<std::string, std::string>& values) const;

private:
    boost::dll::shared_library library_;
};

template <typename Interface>
std::string PluginLibrary::config_error(const std::map<std::string, std::string>& values) const {
    const MapConfigView config(values, descriptor().config_keys);
    RecordingHost host;
    try {
        create<Interface>(config, host).reset();
    } catch (const sdk::ConfigError& error) {
        return error.what();
    }
    return "";
}

}  // namespace testino::test_support
