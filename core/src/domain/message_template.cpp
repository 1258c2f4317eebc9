#include "domain/message_template.hpp"

#include <algorithm>
#include <cctype>

#include "domain/locale.hpp"

namespace testino {
namespace {

constexpr const char* kVariables[] = {"code", "minutes", "seconds", "app"};

bool known_variable(std::string_view name) {
    return std::find(std::begin(kVariables), std::end(kVariables), name) != std::end(kVariables);
}

// Calls `literal(text)` and `variable(name)` for the pieces of a well-formed template; returns
// the problem of a malformed one.
template <typename Literal, typename Variable>
std::string walk(std::string_view text, Literal literal, Variable variable) {
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t brace = text.find_first_of("{}", at);
        literal(text.substr(at, brace == std::string_view::npos ? std::string_view::npos : brace - at));
        if (brace == std::string_view::npos) break;
        const std::size_t close = text.find_first_of("{}", brace + 1);
        if (text[brace] == '}' || close == std::string_view::npos || text[close] == '{') {
            return "a lone \"" + std::string(1, text[brace]) + "\" at character " +
                   std::to_string(brace + 1) + " (variables are {code}, {minutes}, {seconds} and {app})";
        }
        const std::string_view name = text.substr(brace + 1, close - brace - 1);
        if (!known_variable(name)) {
            return "unknown variable {" + std::string(name) +
                   "} (variables are {code}, {minutes}, {seconds} and {app})";
        }
        variable(name);
        at = close + 1;
    }
    return "";
}

}  // namespace

std::string template_problem(std::string_view text) {
    bool has_code = false;
    std::string problem = walk(
        text, [](std::string_view) {}, [&](std::string_view name) { has_code = has_code || name == "code"; });
    if (!problem.empty()) return problem;
    if (!has_code) return "the template must contain {code}, or no code reaches the user";
    return "";
}

std::string render_template(std::string_view text, const MessageValues& values) {
    std::string out;
    out.reserve(text.size() + 32);
    walk(
        text, [&](std::string_view piece) { out += piece; },
        [&](std::string_view name) {
            if (name == "code") {
                out += values.code;
            } else if (name == "minutes") {
                out += std::to_string((values.seconds + 59) / 60);
            } else if (name == "seconds") {
                out += std::to_string(values.seconds);
            } else {
                out += values.app;
            }
        });
    return out;
}

std::string with_autofill(std::string text, const std::string& code, const Autofill& autofill) {
    if (!autofill.android_app_hash.empty()) text += "\n" + autofill.android_app_hash;
    if (!autofill.webotp_domain.empty()) text += "\n@" + autofill.webotp_domain + " #" + code;
    return text;
}

bool is_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t start = 0;
    std::string_view last;
    for (;;) {
        const std::size_t dot = host.find('.', start);
        const std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        const bool ok = std::all_of(label.begin(), label.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
        });
        if (!ok) return false;
        last = label;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // A last label of digits only is an IPv4 address, not a name.
    return !std::all_of(last.begin(), last.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

bool is_android_app_hash(std::string_view hash) {
    return hash.size() == 11 && std::all_of(hash.begin(), hash.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
           });
}

// Code first where the language allows it, so that a notification's first line shows it;
// one UCS-2 SMS (70 characters) each with a 6-digit code and the app name "Testino", before
// autofill lines. en is the seed's text, unchanged; en and fr are GSM-7, the others UCS-2.
// es and pt need letters GSM-7 lacks (ó); ar's "دقائق" (minutes) is the plural of 3 to 10.
const std::map<std::string, std::string>& builtin_templates() {
    static const std::map<std::string, std::string> templates = {
        {"en", "Your {app} code is {code}. It expires in {minutes} minutes."},
        {"hi", "{code} आपका {app} कोड है। यह {minutes} मिनट तक मान्य है।"},
        {"zh", "{code} 是您的 {app} 验证码，{minutes} 分钟内有效。"},
        {"zh-Hant", "{code} 是您的 {app} 驗證碼，{minutes} 分鐘內有效。"},
        {"es", "{code} es tu código de {app}. Expira en {minutes} minutos."},
        {"ar", "{code} هو رمز {app} الخاص بك. صالح لمدة {minutes} دقائق."},
        {"pt", "{code} é o seu código {app}. Expira em {minutes} minutos."},
        {"fr", "{code} est votre code {app}. Il expire dans {minutes} minutes."},
        {"ja", "{code} は{app}の認証コードです。{minutes}分間有効です。"},
        {"ko", "[{app}] 인증번호 {code}. {minutes}분 안에 입력해 주세요."},
        {"vi", "{code} là mã {app} của bạn. Mã có hiệu lực trong {minutes} phút."},
    };
    return templates;
}

const std::map<std::string, std::string>& builtin_country_locales() {
    static const std::map<std::string, std::string> locales = {
        {"91", "hi"}, {"86", "zh"}, {"886", "zh-Hant"}, {"852", "zh-Hant"}, {"853", "zh-Hant"},
        {"52", "es"}, {"34", "es"}, {"54", "es"},       {"57", "es"},       {"56", "es"},
        {"51", "es"}, {"55", "pt"}, {"351", "pt"},      {"33", "fr"},       {"81", "ja"},
        {"82", "ko"}, {"84", "vi"}, {"966", "ar"},      {"971", "ar"},      {"20", "ar"},
    };
    return locales;
}

// --- MessageCatalog ---------------------------------------------------------------------

MessageCatalog::MessageCatalog(MessageSettings settings, std::string fallback)
    : settings_(std::move(settings)), fallback_(std::move(fallback)) {
    for (const auto& entry : settings_.templates) locales_.push_back(entry.first);
}

std::string MessageCatalog::choose(const std::string& requested, const std::string& accept_language,
                                   const std::string& calling_code) const {
    if (!requested.empty()) {
        std::string found = lookup_locale(requested, locales_);
        if (!found.empty()) return found;
    }
    if (!accept_language.empty()) {
        for (const std::string& range : parse_accept_language(accept_language)) {
            std::string found = lookup_locale(range, locales_);
            if (!found.empty()) return found;
        }
    }
    const auto country = settings_.country_locales.find(calling_code);
    if (country != settings_.country_locales.end()) {
        std::string found = lookup_locale(country->second, locales_);
        if (!found.empty()) return found;
    }
    return settings_.default_locale;
}

const std::string& MessageCatalog::template_of(const std::string& locale) const {
    auto it = settings_.templates.find(locale);
    if (it == settings_.templates.end()) it = settings_.templates.find(settings_.default_locale);
    return it == settings_.templates.end() ? fallback_ : it->second;
}

std::string MessageCatalog::render(const std::string& locale, const std::string& code,
                                   long long expiry_seconds) const {
    const std::string text =
        render_template(template_of(locale), MessageValues{code, expiry_seconds, settings_.app_name});
    return with_autofill(text, code, settings_.autofill);
}

}  // namespace testino
