// otp's message keys: templates per locale, locale defaults, autofill, otp.max_segments.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_loading.hpp"

namespace testino {
namespace {

using config_test::error_of;
using config_test::load;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ConfigMessages, TheSeedConfigKeepsItsEnglishText) {
    const AppConfig c = load("");
    const MessageSettings& m = c.otp.messages;
    EXPECT_EQ(m.default_locale, "en");
    EXPECT_EQ(m.app_name, "Testino");
    EXPECT_EQ(m.max_segments, 2);
    EXPECT_EQ(m.templates.at("en"), "Your {app} code is {code}. It expires in {minutes} minutes.");
    EXPECT_EQ(MessageCatalog(m, "").render("en", "123456", 300),
              "Your Testino code is 123456. It expires in 5 minutes.");
    EXPECT_EQ(m.templates, builtin_templates());
    EXPECT_EQ(m.country_locales, builtin_country_locales());
    EXPECT_EQ(m.autofill.webotp_domain, "");
    EXPECT_EQ(m.autofill.android_app_hash, "");
}

TEST(ConfigMessages, MessageTemplateIsTheDefaultLocalesText) {
    const AppConfig c = load("otp: {message_template: \"Code {code} for {app}\"}\n");
    EXPECT_EQ(c.otp.messages.templates.at("en"), "Code {code} for {app}");
    EXPECT_EQ(c.otp.messages.templates.at("fr"), builtin_templates().at("fr")) << "other locales keep theirs";
    const AppConfig env = load("", {{"OTP_MESSAGE_TEMPLATE", "Env {code}"}, {"OTP_DEFAULT_LOCALE", "fr"}});
    EXPECT_EQ(env.otp.messages.default_locale, "fr");
    EXPECT_EQ(env.otp.messages.templates.at("fr"), "Env {code}");
    // otp.templates wins for its own locale.
    const AppConfig both =
        load("otp:\n  message_template: \"Legacy {code}\"\n  templates: {en: \"New {code}\"}\n");
    EXPECT_EQ(both.otp.messages.templates.at("en"), "New {code}");
    // A default locale only a broader template serves takes that one.
    EXPECT_EQ(load("otp: {default_locale: pt-br}\n").otp.messages.default_locale, "pt");
    const AppConfig de = load("otp: {default_locale: de}\n");
    EXPECT_EQ(de.otp.messages.templates.at("de"),
              "Your Testino code is {code}. It expires in {minutes} minutes.")
        << "no de: message_template";
}

TEST(ConfigMessages, TemplatesOverrideAndAddLocales) {
    const AppConfig c = load(
        "otp:\n  app_name: Testino Prep\n  templates:\n    fr: \"Code {app} : {code}\"\n    PT-br: \"{code} "
        "é seu código\"\n");
    EXPECT_EQ(c.otp.messages.templates.at("fr"), "Code {app} : {code}");
    EXPECT_EQ(c.otp.messages.templates.at("pt-BR"), "{code} é seu código") << "keys in canonical case";
    EXPECT_EQ(c.otp.messages.templates.at("pt"), builtin_templates().at("pt"));
    EXPECT_EQ(c.otp.messages.app_name, "Testino Prep");
}

TEST(ConfigMessages, BrokenTemplatesStopStartUpNamingTheKey) {
    EXPECT_TRUE(has(error_of("otp: {templates: {fr: \"Code {cod}\"}}\n"),
                    "test.yaml: otp.templates.fr: unknown variable {cod}"))
        << error_of("otp: {templates: {fr: \"Code {cod}\"}}\n");
    EXPECT_TRUE(has(error_of("otp: {templates: {fr: \"Code {code\"}}\n"), "otp.templates.fr: a lone \"{\""));
    EXPECT_TRUE(has(error_of("otp: {templates: {fr: \"Code\"}}\n"),
                    "otp.templates.fr: the template must contain {code}"));
    EXPECT_TRUE(has(error_of("otp: {message_template: \"Hi {cod}\"}\n"),
                    "otp.message_template: unknown variable {cod}"));
    EXPECT_TRUE(has(error_of("otp: {templates: {pt_BR: \"{code}\"}}\n"),
                    "otp.templates.pt_BR: \"pt_BR\" is not a well-formed BCP 47 language tag"));
    EXPECT_TRUE(has(error_of("otp: {templates: {fr: [a]}}\n"), "otp.templates.fr: expected a string"));
    EXPECT_TRUE(has(error_of("otp: {templates: [a]}\n"), "otp.templates: expected a mapping"));
    EXPECT_TRUE(
        has(error_of("otp: {templates: {pt-BR: \"{code}\", pt-br: \"{code}\"}}\n"), "has two templates"));
    EXPECT_TRUE(has(error_of("otp: {default_locale: \"en_US\"}\n"),
                    "otp.default_locale: \"en_US\" is not a well-formed"));
    EXPECT_TRUE(has(error_of("otp: {app_name: \"A{b}\"}\n"), "otp.app_name: must not contain { or }"));
}

TEST(ConfigMessages, CountryLocalesReplaceTheBuiltInMap) {
    const AppConfig c = load("otp: {country_locales: {\"+44\": fr, \"91\": en}}\n");
    EXPECT_EQ(c.otp.messages.country_locales,
              (std::map<std::string, std::string>{{"44", "fr"}, {"91", "en"}}));
    EXPECT_TRUE(load("otp: {country_locales: {}}\n").otp.messages.country_locales.empty())
        << "{} switches them off";
    EXPECT_EQ(load("otp: {country_locales: {\"55\": pt-BR}}\n").otp.messages.country_locales.at("55"),
              "pt-BR");
    EXPECT_TRUE(has(error_of("otp: {country_locales: {\"1000\": fr}}\n"),
                    "otp.country_locales.1000: \"1000\" is not a calling code"));
    EXPECT_TRUE(has(error_of("otp: {country_locales: {\"44\": de}}\n"),
                    "otp.country_locales.44: no template for de"));
    EXPECT_TRUE(has(error_of("otp: {country_locales: {\"44\": \"x y\"}}\n"),
                    "otp.country_locales.44: \"x y\" is not a well-formed"));
}

TEST(ConfigMessages, AutofillKeysAreChecked) {
    const AppConfig c = load("otp: {webotp_domain: App.Testino.Example, android_app_hash: FA+9qCX9VSu}\n");
    EXPECT_EQ(c.otp.messages.autofill.webotp_domain, "app.testino.example");
    EXPECT_EQ(c.otp.messages.autofill.android_app_hash, "FA+9qCX9VSu");
    EXPECT_EQ(
        MessageCatalog(c.otp.messages, "").render("en", "123456", 300),
        "Your Testino code is 123456. It expires in 5 minutes.\nFA+9qCX9VSu\n@app.testino.example #123456");
    for (const char* bad : {"https://app.example", "app.example:8443", "app.example/otp", "10.0.0.1"}) {
        EXPECT_TRUE(
            has(error_of(std::string("otp: {webotp_domain: \"") + bad + "\"}\n"), "otp.webotp_domain: \""))
            << bad;
    }
    EXPECT_TRUE(
        has(error_of("otp: {android_app_hash: short}\n"), "otp.android_app_hash: an SMS Retriever app hash"));
    EXPECT_EQ(load("", {{"OTP_WEBOTP_DOMAIN", "a.example"}}).otp.messages.autofill.webotp_domain,
              "a.example");
}

TEST(ConfigMessages, MaxSegmentsRefusesTemplatesThatCouldExceedIt) {
    EXPECT_EQ(error_of("otp: {webotp_domain: app.testino.example, android_app_hash: FA+9qCX9VSu}\n"), "")
        << "every built-in template meets the default of 2 with both autofill lines";
    const std::string one = error_of("otp: {max_segments: 1, webotp_domain: app.testino.example}\n");
    EXPECT_TRUE(has(one, "the built-in template of ")) << one;
    EXPECT_TRUE(has(one, "2 SMS segments (ucs2")) << one;
    EXPECT_TRUE(has(one, "exceed otp.max_segments (1)")) << one;
    EXPECT_EQ(error_of("otp: {max_segments: 1}\n"), "") << "without autofill each built-in is one SMS";
    // The worst case is a code of otp.length digits.
    const std::string text(150, 'a');
    EXPECT_EQ(error_of("otp: {max_segments: 1, length: 6, templates: {en: \"" + text + " {code}\"}}\n"), "")
        << "157 septets";
    const std::string ten =
        error_of("otp: {max_segments: 1, length: 10, templates: {en: \"" + text + " {code}\"}}\n");
    EXPECT_TRUE(has(ten, "test.yaml: otp.templates.en: 2 SMS segments (gsm7, 161 units")) << ten;
    EXPECT_TRUE(has(error_of("otp: {max_segments: 0}\n"), "otp.max_segments"));
}

}  // namespace
}  // namespace testino
