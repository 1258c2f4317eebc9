// The SMS routing of the core's config: sms.provider or sms.providers, and sms.routes.
#include <algorithm>

#include "config/app_config_parts.hpp"
#include "config/config_text.hpp"

namespace testino::config_detail {
namespace {

std::string provider_name(std::string name) {
    return name == "aws_sns" ? "sns" : name;  // the seed's SMS_PROVIDER value
}

// One ordered provider list: names, no repeats, not empty.
std::vector<std::string> provider_list(std::vector<std::string> names, const std::string& where) {
    if (names.empty()) throw StartupError(where + ": the list names no provider");
    std::vector<std::string> seen;
    for (std::string& name : names) {
        name = provider_name(trim(name));
        if (name.empty()) throw StartupError(where + ": an empty provider name");
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            throw StartupError(where + ": \"" + name + "\" is listed twice");
        }
        seen.push_back(name);
    }
    return names;
}

}  // namespace

void load_sms_routing(const ConfigSource& source, const ConfigSection& sms, SmsConfig& m) {
    const bool one = sms.has("provider");
    const bool several = sms.has("providers");
    if (one && several) {
        std::string other = sms.where("providers");
        const std::string file_prefix = source.file() + ": ";
        if (other.rfind(file_prefix, 0) == 0) other.erase(0, file_prefix.size());
        throw StartupError(sms.where("provider") + " and " + other +
                           " are both set; set one of them (providers: [a, b] lists the order to try)");
    }
    if (several) {
        m.providers = provider_list(sms.get_list("providers"), sms.where("providers"));
    } else if (one) {
        m.providers = {provider_name(sms.get_string("provider"))};
        if (m.providers.front().empty()) throw StartupError(sms.where("provider") + ": empty");
    } else {
        // No silent fallback to a development provider (the console one writes codes to the
        // log): an unset provider is an operator's mistake, and it is said so at start-up.
        throw StartupError(sms.where("provider") +
                           ": no SMS provider is configured; set sms.provider (or SMS_PROVIDER) to a "
                           "provider plugin such as twilio or sns (--list-plugins lists them); for "
                           "development, sms.provider: console writes codes to the log");
    }

    const std::string at = source.file() + ": sms.routes";
    const YAML::Node routes = source.node("sms.routes");
    if (!routes.IsDefined() || routes.IsNull()) return;
    if (!routes.IsMap()) {
        throw StartupError(at +
                           ": expected a mapping of calling code to providers, like "
                           "\"1\": [twilio, sns], got " +
                           node_kind(routes));
    }
    for (const auto& entry : routes) {
        if (!entry.first.IsScalar()) throw StartupError(at + ": keys must be calling codes");
        std::string code = entry.first.as<std::string>();
        const std::string where = at + "." + code;
        if (!code.empty() && code.front() == '+') code.erase(0, 1);
        std::int64_t n = 0;
        if (!parse_int(code, n) || n < 1 || n > 999 || std::to_string(n) != code) {
            throw StartupError(where + ": \"" + entry.first.as<std::string>() +
                               "\" is not a calling code (like \"1\" or \"+44\")");
        }
        std::vector<std::string> names;
        if (entry.second.IsScalar()) {
            names.push_back(entry.second.as<std::string>());
        } else if (entry.second.IsSequence()) {
            for (const auto& item : entry.second) {
                if (!item.IsScalar()) throw StartupError(where + ": expected a list of provider names");
                names.push_back(item.as<std::string>());
            }
        } else {
            throw StartupError(where + ": expected a provider name or a list of them, got " +
                               node_kind(entry.second));
        }
        if (!m.routes.emplace(code, provider_list(std::move(names), where)).second) {
            throw StartupError(where + ": calling code +" + code + " has two routes");
        }
    }
}

}  // namespace testino::config_detail
