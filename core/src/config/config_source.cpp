// The config machinery: the YAML file, .env and environment, sections checked against a
// schema, and the messages that name the key at fault. The core's own schema and
// AppConfig are in app_config.cpp.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/config_text.hpp"

extern char** environ;

namespace testino {

namespace config_detail {

const char* node_kind(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Null: return "nothing";
        default: return "a scalar";
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    const auto end = s.find_last_not_of(" \t\r\n");
    return s.substr(begin, end - begin + 1);
}

bool parse_int(const std::string& text, std::int64_t& out) {
    const std::string t = trim(text);
    if (t.empty()) return false;
    const char* first = t.data();
    if (*first == '+') ++first;
    const auto [ptr, ec] = std::from_chars(first, t.data() + t.size(), out);
    return ec == std::errc() && ptr == t.data() + t.size();
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

}  // namespace config_detail

namespace {

using sdk::ConfigKey;
using sdk::ValueType;
using namespace config_detail;

const char* type_name(ValueType type) {
    switch (type) {
        case ValueType::string: return "a string";
        case ValueType::integer: return "an integer";
        case ValueType::boolean: return "a boolean (true or false)";
        case ValueType::string_list: return "a list of strings";
    }
    return "a value";
}

bool parse_bool(const std::string& text, bool& out) {
    const std::string t = lower(trim(text));
    if (t == "true" || t == "yes" || t == "on" || t == "1") return out = true, true;
    if (t == "false" || t == "no" || t == "off" || t == "0") return out = false, true;
    return false;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        item = trim(item);
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

std::vector<std::string> names_of(const std::vector<ConfigKey>& schema) {
    std::vector<std::string> names;
    for (const auto& k : schema) names.push_back(k.name);
    return names;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string read_file(const std::string& path, bool& found) {
    std::ifstream in(path, std::ios::binary);
    found = static_cast<bool>(in);
    std::ostringstream text;
    if (found) text << in.rdbuf();
    return text.str();
}

}  // namespace

// --- helpers shared with other units -------------------------------------------------

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(lower(word), lower(c));
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

std::map<std::string, std::string> parse_dotenv(const std::string& text, const std::string& file) {
    std::map<std::string, std::string> values;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
        const auto eq = line.find('=');
        const std::string name = eq == std::string::npos ? "" : trim(line.substr(0, eq));
        const bool valid_name = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '_';
        });
        if (!valid_name) {
            throw StartupError(file + ":" + std::to_string(number) + ": expected NAME=value, got \"" + line +
                               "\"");
        }
        std::string value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        } else if (const auto hash = value.find(" #"); hash != std::string::npos) {
            value = trim(value.substr(0, hash));
        }
        values[name] = value;
    }
    return values;
}

// --- ConfigSource ----------------------------------------------------------------------

ConfigSource ConfigSource::load(const std::string& path, const std::string& dotenv_path) {
    bool found = false;
    const std::string yaml = read_file(path, found);
    if (!found) {
        throw StartupError(path + ": cannot read the config file (pass another with --config PATH)");
    }
    std::map<std::string, std::string> env;
    const std::string dotenv = read_file(dotenv_path, found);
    if (found) env = parse_dotenv(dotenv, dotenv_path);
    for (char** e = environ; e && *e; ++e) {  // the real environment beats .env
        const std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    return from_string(yaml, path, std::move(env));
}

ConfigSource ConfigSource::from_string(const std::string& yaml, const std::string& file_label,
                                       std::map<std::string, std::string> env) {
    ConfigSource source;
    source.file_ = file_label;
    source.env_ = std::move(env);
    try {
        source.root_ = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        throw StartupError(file_label + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
    if (source.root_.IsNull()) source.root_ = YAML::Node(YAML::NodeType::Map);
    if (!source.root_.IsMap()) {
        throw StartupError(file_label + ": expected a mapping of sections at the top, got " +
                           node_kind(source.root_));
    }
    return source;
}

YAML::Node ConfigSource::node(const std::string& dotted_path) const {
    // reset() rebinds; operator= on a YAML::Node would overwrite the node it refers to.
    YAML::Node current;
    current.reset(root_);
    std::stringstream parts(dotted_path);
    std::string part;
    while (std::getline(parts, part, '.')) {
        if (!current.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        const YAML::Node& parent = current;  // const indexing never inserts
        YAML::Node child = parent[part];
        // A missing key gives an invalid node that throws on use: answer a plain undefined one.
        if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
        current.reset(child);
    }
    return current;
}

std::optional<std::string> ConfigSource::env(const std::string& name) const {
    const auto it = env_.find(name);
    if (it == env_.end()) return std::nullopt;
    return it->second;
}

// --- ConfigSection ---------------------------------------------------------------------

ConfigSection::ConfigSection(const ConfigSource& source, std::string path, std::vector<ConfigKey> schema,
                             bool allow_subsections, std::vector<std::string> structured_keys)
    : file_(source.file()), path_(std::move(path)), schema_(std::move(schema)) {
    const YAML::Node node = source.node(path_);
    const std::string at = file_ + ": " + path_;
    if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
        throw StartupError(at + ": expected a mapping of keys, got " + node_kind(node));
    }
    const std::vector<std::string> known = names_of(schema_);
    if (node.IsMap()) {
        for (const auto& entry : node) {
            if (!entry.first.IsScalar()) {
                throw StartupError(at + ": keys must be plain names, not " + node_kind(entry.first));
            }
            const std::string name = entry.first.as<std::string>();
            if (std::find(known.begin(), known.end(), name) != known.end()) continue;
            if (std::find(structured_keys.begin(), structured_keys.end(), name) != structured_keys.end()) {
                continue;  // the caller reads and checks it
            }
            if (allow_subsections && (entry.second.IsMap() || entry.second.IsNull())) {
                subsections_.push_back(name);
                continue;
            }
            const std::string suggestion = nearest(name, known);
            throw StartupError(at + "." + name + ": unknown key" +
                               (suggestion.empty() ? "" : " (did you mean \"" + suggestion + "\"?)") +
                               "; allowed keys: " + (known.empty() ? "none" : join(known)));
        }
    }
    for (const ConfigKey& k : schema_) {
        Value v;
        YAML::Node item(YAML::NodeType::Undefined);
        if (node.IsMap() && node[k.name].IsDefined()) item.reset(node[k.name]);
        const std::optional<std::string> from_env = k.env.empty() ? std::nullopt : source.env(k.env);
        const std::string where = from_env ? "environment variable " + k.env : at + "." + k.name;
        if (from_env) {
            v.set = true;
            v.text = *from_env;
            v.origin = "env " + k.env;
        } else if (item.IsDefined() && !item.IsNull()) {
            v.set = true;
            v.origin = "file";
            if (k.type == ValueType::string_list && item.IsSequence()) {
                for (const auto& element : item) {
                    if (!element.IsScalar()) {
                        throw StartupError(where + ": expected a list of strings");
                    }
                    v.list.push_back(element.as<std::string>());
                }
            } else if (item.IsScalar()) {
                v.text = item.as<std::string>();
            } else {
                throw StartupError(where + ": expected " + type_name(k.type) + ", got " + node_kind(item));
            }
        } else if (!k.default_value.empty()) {
            v.set = true;
            v.text = k.default_value;
            v.origin = "default";
        }
        if (k.required && !v.set) {
            throw StartupError(at + "." + k.name + ": required key is missing (" + k.description +
                               (k.env.empty() ? "" : "; or set " + k.env) + ")");
        }
        if (v.set) {
            switch (k.type) {
                case ValueType::string: break;
                case ValueType::string_list:
                    if (v.list.empty()) v.list = split_list(v.text);
                    break;
                case ValueType::integer: {
                    std::int64_t n = 0;
                    if (!parse_int(v.text, n)) {
                        throw StartupError(where + ": expected an integer, got \"" + v.text + "\"");
                    }
                    if (n < k.min || n > k.max) {
                        throw StartupError(where + ": " + std::to_string(n) + " is out of range [" +
                                           std::to_string(k.min) + ", " + std::to_string(k.max) + "]");
                    }
                    break;
                }
                case ValueType::boolean: {
                    bool b = false;
                    if (!parse_bool(v.text, b)) {
                        throw StartupError(where + ": expected true or false, got \"" + v.text + "\"");
                    }
                    break;
                }
            }
        }
        values_[k.name] = std::move(v);
    }
}

const ConfigSection::Value& ConfigSection::value(const std::string& key, ValueType type) const {
    const auto it = values_.find(key);
    if (it == values_.end()) {
        throw sdk::ConfigError(path_ + "." + key + ": not declared in the section's schema");
    }
    for (const auto& k : schema_) {
        if (k.name == key && k.type != type) {
            throw sdk::ConfigError(path_ + "." + key + ": declared as " + type_name(k.type) + ", read as " +
                                   type_name(type));
        }
    }
    return it->second;
}

bool ConfigSection::has(const std::string& key) const {
    const auto it = values_.find(key);
    return it != values_.end() && it->second.set;
}

std::string ConfigSection::get_string(const std::string& key) const {
    return value(key, ValueType::string).text;
}

std::int64_t ConfigSection::get_int(const std::string& key) const {
    std::int64_t n = 0;
    parse_int(value(key, ValueType::integer).text, n);  // validated in the constructor
    return n;
}

bool ConfigSection::get_bool(const std::string& key) const {
    bool b = false;
    parse_bool(value(key, ValueType::boolean).text, b);
    return b;
}

std::vector<std::string> ConfigSection::get_list(const std::string& key) const {
    return value(key, ValueType::string_list).list;
}

std::string ConfigSection::where(const std::string& key) const {
    const auto it = values_.find(key);
    if (it != values_.end() && it->second.origin.rfind("env ", 0) == 0) {
        return "environment variable " + it->second.origin.substr(4);
    }
    return file_ + ": " + path_ + "." + key;
}

void ConfigSection::describe(std::ostream& out) const {
    for (const ConfigKey& k : schema_) {
        const Value& v = values_.at(k.name);
        if (!v.set) {
            out << path_ << "." << k.name << ": (unset)\n";
            continue;
        }
        std::string shown;
        if (k.secret) {
            shown = "\"***\"";
        } else if (k.type == ValueType::string_list) {
            shown = "[";
            for (const auto& item : v.list) shown += (shown.size() > 1 ? ", \"" : "\"") + item + "\"";
            shown += "]";
        } else if (k.type == ValueType::string) {
            shown = "\"" + v.text + "\"";
        } else {
            shown = trim(v.text);
        }
        out << path_ << "." << k.name << ": " << shown << "  # " << v.origin << "\n";
    }
}

}  // namespace testino
