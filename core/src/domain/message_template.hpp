// The text of a code's SMS: templates per locale with {code}, {minutes}, {seconds} and {app},
// the locale a send picks, and the autofill lines that let browsers and Android apps take the
// code without the user typing it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace testino {

// What a template's variables stand for.
struct MessageValues {
    std::string code;
    long long seconds = 0;  // {seconds}; {minutes} is this rounded up
    std::string app;        // {app}
};

// Why `text` is not a usable template ("" when it is): an unknown variable, a lone brace, or
// no {code}.
std::string template_problem(std::string_view text);

// The template with its variables replaced. Assumes template_problem(text) is "".
std::string render_template(std::string_view text, const MessageValues& values);

// The optional autofill lines (otp.webotp_domain, otp.android_app_hash), "" = none.
struct Autofill {
    std::string webotp_domain;
    std::string android_app_hash;
};

// `text` with the autofill lines after it, each on its own line:
//   - Android's SMS Retriever needs the app's 11-character hash in the message ("Include an
//     11-character hash string that identifies your app", developers.google.com/identity/
//     sms-retriever/verify, whose example puts it on the last line);
//   - the origin-bound one-time code line `@<domain> #<code>` must be the message's last line
//     (WICG "Origin-bound one-time codes delivered via SMS" §3, wicg.github.io/sms-one-time-codes:
//     "Let line be the last line of message"; nothing may come before the @ on that line, and
//     exactly one space separates host and code). WebOTP in Chrome and Safari's
//     autocomplete=one-time-code read that format.
// With both, the hash comes first so that the WebOTP line stays last; no newline ends the
// text (a trailing newline would make the last line empty).
std::string with_autofill(std::string text, const std::string& code, const Autofill& autofill);

// A host name for otp.webotp_domain: dot-separated labels of letters, digits and inner
// hyphens (RFC 1123), at most 253 characters, not an IP address; no scheme, port or path.
bool is_host_name(std::string_view host);
// An Android SMS Retriever app hash: exactly 11 characters of base64 ([A-Za-z0-9+/]).
bool is_android_app_hash(std::string_view hash);

// The built-in templates (canonical locale -> text) and country defaults (calling code
// without '+' -> locale), which config can override.
const std::map<std::string, std::string>& builtin_templates();
const std::map<std::string, std::string>& builtin_country_locales();

// The message settings of otp: (config/message_config.cpp builds and checks them).
struct MessageSettings {
    std::map<std::string, std::string> templates;  // canonical locale -> template
    std::string default_locale = "en";
    std::map<std::string, std::string> country_locales;  // calling code -> canonical locale
    std::string app_name = "Testino";
    Autofill autofill;
    int max_segments = 2;
};

// Chooses each send's locale and renders its text.
class MessageCatalog {
public:
    // `fallback` is the text of any locale the settings have no template for (when they have
    // none at all, e.g. an OtpConfig made in a test: otp.message_template).
    MessageCatalog(MessageSettings settings, std::string fallback);

    // The locale of a send, from the first that names a locale with a template (RFC 4647
    // lookup): the request's `locale` field, its Accept-Language header, the country default
    // of `calling_code`, and finally the default locale.
    std::string choose(const std::string& requested, const std::string& accept_language,
                       const std::string& calling_code) const;
    // The SMS text in `locale` (a template's locale), autofill lines included.
    std::string render(const std::string& locale, const std::string& code, long long expiry_seconds) const;

    const MessageSettings& settings() const { return settings_; }

private:
    const std::string& template_of(const std::string& locale) const;

    MessageSettings settings_;
    std::string fallback_;
    std::vector<std::string> locales_;  // the templates' locales, for lookup
};

}  // namespace testino
