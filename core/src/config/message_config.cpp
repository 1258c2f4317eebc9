// otp: the SMS text: templates per locale (otp.templates over the built-in ones, and
// otp.message_template, the seed's key), the locale defaults (otp.default_locale,
// otp.country_locales), {app}, the autofill lines and otp.max_segments.
#include <algorithm>

#include "config/app_config_parts.hpp"
#include "config/config_text.hpp"
#include "domain/locale.hpp"
#include "domain/message_template.hpp"
#include "domain/sms_segments.hpp"

namespace testino::config_detail {

// otp.message_template's default: the seed's text, which the built-in en renders the same.
const char* const kSeedTemplate = "Your Testino code is {code}. It expires in {minutes} minutes.";

namespace {

// The scalar entries of the mapping at `path` (absent or null: none), each with its key.
std::vector<std::pair<std::string, std::string>> string_map(const ConfigSource& source,
                                                            const std::string& path, const char* expected) {
    std::vector<std::pair<std::string, std::string>> out;
    const YAML::Node node = source.node(path);
    if (!node.IsDefined() || node.IsNull()) return out;
    const std::string at = source.file() + ": " + path;
    if (!node.IsMap())
        throw StartupError(at + ": expected a mapping of " + expected + ", got " + node_kind(node));
    for (const auto& entry : node) {
        if (!entry.first.IsScalar())
            throw StartupError(at + ": keys must be plain names, not " + node_kind(entry.first));
        const std::string key = entry.first.as<std::string>();
        if (!entry.second.IsScalar()) {
            throw StartupError(at + "." + key + ": expected a string, got " + node_kind(entry.second));
        }
        out.emplace_back(key, entry.second.as<std::string>());
    }
    return out;
}

std::string checked_locale(const std::string& tag, const std::string& where) {
    if (!is_well_formed_locale(tag)) {
        throw StartupError(where + ": \"" + tag +
                           "\" is not a well-formed BCP 47 language tag (like en, pt-BR, zh-Hans)");
    }
    return canonical_locale(tag);
}

void check_template(const std::string& text, const std::string& where) {
    const std::string problem = template_problem(text);
    if (!problem.empty()) throw StartupError(where + ": " + problem);
}

// otp.templates over the built-in ones; the default locale's template from otp.templates,
// else otp.message_template when it is set to other than its default, else the built-in.
std::map<std::string, std::string> load_templates(const ConfigSource& source, const ConfigSection& otp,
                                                  std::string& default_locale,
                                                  std::map<std::string, std::string>& origin) {
    std::map<std::string, std::string> templates = builtin_templates();
    for (const auto& entry : templates) origin[entry.first] = "the built-in template of " + entry.first;
    const std::string at = source.file() + ": otp.templates";
    std::map<std::string, std::string> given;
    for (const auto& [tag, text] : string_map(source, "otp.templates", "locale to template text")) {
        const std::string where = at + "." + tag;
        const std::string locale = checked_locale(tag, where);
        if (given.count(locale)) throw StartupError(where + ": locale " + locale + " has two templates");
        check_template(text, where);
        given[locale] = text;
        templates[locale] = text;
        origin[locale] = "otp.templates." + tag;
    }
    if (given.count(default_locale)) return templates;
    const std::string legacy = otp.get_string("message_template");
    check_template(legacy, otp.where("message_template"));
    const bool legacy_set = legacy != kSeedTemplate;
    std::vector<std::string> locales;
    for (const auto& entry : templates) locales.push_back(entry.first);
    const std::string found = lookup_locale(default_locale, locales);
    if (legacy_set || found.empty()) {
        templates[default_locale] = legacy;
        origin[default_locale] = "otp.message_template";
    } else {
        default_locale = found;  // "pt-BR" with a template for pt only: pt
    }
    return templates;
}

// otp.country_locales replaces the built-in map when given ({} switches country defaults off).
std::map<std::string, std::string> load_country_locales(const ConfigSource& source,
                                                        const std::vector<std::string>& locales) {
    const YAML::Node node = source.node("otp.country_locales");
    if (!node.IsDefined() || node.IsNull()) return builtin_country_locales();
    std::map<std::string, std::string> out;
    const std::string at = source.file() + ": otp.country_locales";
    for (const auto& [key, tag] : string_map(source, "otp.country_locales", "calling code to locale")) {
        const std::string where = at + "." + key;
        std::string code = key;
        if (!code.empty() && code.front() == '+') code.erase(0, 1);
        std::int64_t n = 0;
        if (!parse_int(code, n) || n < 1 || n > 999 || std::to_string(n) != code) {
            throw StartupError(where + ": \"" + key + "\" is not a calling code (like \"91\" or \"+55\")");
        }
        const std::string locale = checked_locale(tag, where);
        if (lookup_locale(locale, locales).empty()) {
            throw StartupError(where + ": no template for " + locale + " (add otp.templates." + locale + ")");
        }
        if (!out.emplace(code, locale).second)
            throw StartupError(where + ": calling code +" + code + " is listed twice");
    }
    return out;
}

void load_autofill(const ConfigSection& otp, Autofill& autofill) {
    autofill.webotp_domain = lower(trim(otp.get_string("webotp_domain")));
    if (!autofill.webotp_domain.empty() && !is_host_name(autofill.webotp_domain)) {
        throw StartupError(otp.where("webotp_domain") + ": \"" + otp.get_string("webotp_domain") +
                           "\" is not a host name (like app.example.com: no scheme, port or path)");
    }
    autofill.android_app_hash = trim(otp.get_string("android_app_hash"));
    if (!autofill.android_app_hash.empty() && !is_android_app_hash(autofill.android_app_hash)) {
        throw StartupError(otp.where("android_app_hash") +
                           ": an SMS Retriever app hash is exactly 11 characters of A-Z, a-z, 0-9, + and /");
    }
}

}  // namespace

void load_messages(const ConfigSource& source, AppConfig& config) {
    const ConfigSection& otp = config.section("otp");
    MessageSettings& m = config.otp.messages;
    m.default_locale = checked_locale(trim(otp.get_string("default_locale")), otp.where("default_locale"));
    std::map<std::string, std::string> origin;
    m.templates = load_templates(source, otp, m.default_locale, origin);
    std::vector<std::string> locales;
    for (const auto& entry : m.templates) locales.push_back(entry.first);
    m.country_locales = load_country_locales(source, locales);
    m.app_name = otp.get_string("app_name");
    if (m.app_name.find_first_of("{}") != std::string::npos) {
        throw StartupError(otp.where("app_name") + ": must not contain { or }");
    }
    load_autofill(otp, m.autofill);
    m.max_segments = static_cast<int>(otp.get_int("max_segments"));

    // The longest text a template can give: every code has otp.length digits, and {minutes}
    // and {seconds} are fixed by otp.expiry_seconds.
    const MessageCatalog catalog(m, "");
    const std::string code(static_cast<std::size_t>(config.otp.length), '0');
    for (const auto& entry : m.templates) {
        const SmsSegments cost =
            count_sms_segments(catalog.render(entry.first, code, config.otp.expiry.count()));
        if (cost.segments <= m.max_segments) continue;
        throw StartupError(source.file() + ": " + origin[entry.first] + ": " + std::to_string(cost.segments) +
                           " SMS segments (" + to_string(cost.encoding) + ", " + std::to_string(cost.units) +
                           " units, autofill lines included) exceed otp.max_segments (" +
                           std::to_string(m.max_segments) + "); shorten otp.templates." + entry.first +
                           " or raise otp.max_segments");
    }
}

}  // namespace testino::config_detail
