#include "plugin_doubles.hpp"

#include <algorithm>
#include <charconv>

namespace testino::test_support {

std::optional<std::string> LogRecord::field(const std::string& name) const {
    for (const auto& [key, value] : fields) {
        if (key == name) return value;
    }
    return std::nullopt;
}

void RecordingHost::log(sdk::LogLevel level, const std::string& event,
                        const std::vector<sdk::LogField>& fields) {
    std::lock_guard lock(mutex_);
    records_.push_back(LogRecord{level, event, fields});
}

std::vector<LogRecord> RecordingHost::records() const {
    std::lock_guard lock(mutex_);
    return records_;
}

std::vector<LogRecord> RecordingHost::records_of(const std::string& event) const {
    std::lock_guard lock(mutex_);
    std::vector<LogRecord> matching;
    std::copy_if(records_.begin(), records_.end(), std::back_inserter(matching),
                 [&](const LogRecord& record) { return record.event == event; });
    return matching;
}

std::size_t RecordingHost::count(const std::string& event) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(
        records_.begin(), records_.end(), [&](const LogRecord& record) { return record.event == event; }));
}

void RecordingHost::clear() {
    std::lock_guard lock(mutex_);
    records_.clear();
}

MapConfigView::MapConfigView(std::map<std::string, std::string> values, std::vector<sdk::ConfigKey> schema)
    : values_(std::move(values)), schema_(std::move(schema)) {
    // Like the server: a value for a key the schema does not declare is an error.
    if (!schema_.empty()) {
        for (const auto& [key, value] : values_) require_declared(key);
    }
}

void MapConfigView::require_declared(const std::string& key) const {
    const bool declared = schema_.empty()
                              ? values_.count(key) > 0
                              : std::any_of(schema_.begin(), schema_.end(),
                                            [&](const sdk::ConfigKey& k) { return k.name == key; });
    if (!declared) throw sdk::ConfigError(where(key) + ": unknown key");
}

const std::string* MapConfigView::find(const std::string& key) const {
    require_declared(key);
    if (auto it = values_.find(key); it != values_.end()) return &it->second;
    for (const auto& declared : schema_) {
        if (declared.name == key && !declared.default_value.empty()) return &declared.default_value;
    }
    return nullptr;
}

const std::string& MapConfigView::text(const std::string& key) const {
    const std::string* value = find(key);
    if (value == nullptr) throw sdk::ConfigError(where(key) + ": not set");
    return *value;
}

bool MapConfigView::has(const std::string& key) const { return find(key) != nullptr; }

std::string MapConfigView::get_string(const std::string& key) const { return text(key); }

std::int64_t MapConfigView::get_int(const std::string& key) const {
    const std::string& value = text(key);
    std::int64_t parsed = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
    if (ec != std::errc() || ptr != end || value.empty()) {
        throw sdk::ConfigError(where(key) + ": not an integer: \"" + value + "\"");
    }
    return parsed;
}

bool MapConfigView::get_bool(const std::string& key) const {
    const std::string& value = text(key);
    if (value == "true") return true;
    if (value == "false") return false;
    throw sdk::ConfigError(where(key) + ": not a boolean: \"" + value + "\"");
}

std::vector<std::string> MapConfigView::get_list(const std::string& key) const {
    const std::string& value = text(key);
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= value.size() && !value.empty()) {
        std::size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string item = value.substr(start, comma - start);
        const auto first = item.find_first_not_of(' ');
        const auto last = item.find_last_not_of(' ');
        items.push_back(first == std::string::npos ? "" : item.substr(first, last - first + 1));
        start = comma + 1;
    }
    return items;
}

std::string MapConfigView::where(const std::string& key) const { return "test config: " + key; }

PluginLibrary::PluginLibrary(const std::filesystem::path& path)
    : library_(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local) {}

int PluginLibrary::abi_version() const { return library_.get<const int>(TESTINO_PLUGIN_ABI_SYMBOL); }

sdk::PluginDescriptor PluginLibrary::descriptor() const {
    return library_.get_alias<sdk::PluginDescriptor()>(TESTINO_PLUGIN_DESCRIPTOR_SYMBOL)();
}

const sdk::ConfigKey* find_key(const std::vector<sdk::ConfigKey>& keys, const std::string& name) {
    const auto it =
        std::find_if(keys.begin(), keys.end(), [&](const sdk::ConfigKey& key) { return key.name == name; });
    return it == keys.end() ? nullptr : &*it;
}

}  // namespace testino::test_support
