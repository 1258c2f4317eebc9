#include "domain/message_template.hpp"

#include <gtest/gtest.h>

#include "domain/locale.hpp"
#include "domain/sms_segments.hpp"

namespace testino {
namespace {

TEST(TemplateCheck, KnowsItsFourVariables) {
    EXPECT_EQ(template_problem("{code} {minutes} {seconds} {app}"), "");
    EXPECT_EQ(template_problem("Code {code}"), "");
    EXPECT_NE(template_problem("Code {cod}").find("unknown variable {cod}"), std::string::npos);
    EXPECT_NE(template_problem("Code {code} {Code}").find("unknown variable {Code}"), std::string::npos);
    EXPECT_NE(template_problem("Code {code").find("a lone \"{\""), std::string::npos);
    EXPECT_NE(template_problem("Code code}").find("a lone \"}\""), std::string::npos);
    EXPECT_NE(template_problem("Code {{code}}").find("a lone"), std::string::npos);
    EXPECT_NE(template_problem("{minutes} minutes").find("must contain {code}"), std::string::npos);
    EXPECT_NE(template_problem("").find("must contain {code}"), std::string::npos);
}

TEST(TemplateRender, ReplacesEveryVariable) {
    const MessageValues values{"123456", 300, "Testino"};
    EXPECT_EQ(render_template("Your {app} code is {code}. It expires in {minutes} minutes.", values),
              "Your Testino code is 123456. It expires in 5 minutes.");
    EXPECT_EQ(render_template("{code}/{code} {seconds}s", values), "123456/123456 300s");
    EXPECT_EQ(render_template("{minutes}", MessageValues{"1", 61, ""}), "2") << "minutes round up";
}

TEST(TemplateAutofill, WebOtpIsTheLastLineExactly) {
    EXPECT_EQ(with_autofill("Your code is 123456.", "123456", Autofill{"app.testino.example", ""}),
              "Your code is 123456.\n@app.testino.example #123456");
    EXPECT_EQ(with_autofill("Your code is 123456.", "123456", Autofill{"", "FA+9qCX9VSu"}),
              "Your code is 123456.\nFA+9qCX9VSu");
    EXPECT_EQ(with_autofill("Your code is 123456.", "123456", Autofill{"app.testino.example", "FA+9qCX9VSu"}),
              "Your code is 123456.\nFA+9qCX9VSu\n@app.testino.example #123456");
    EXPECT_EQ(with_autofill("Text", "1", Autofill{}), "Text");
}

TEST(TemplateAutofill, ChecksDomainsAndHashes) {
    EXPECT_TRUE(is_host_name("app.testino.example"));
    EXPECT_TRUE(is_host_name("localhost"));
    EXPECT_TRUE(is_host_name("xn--bcher-kva.example"));
    for (const char* bad :
         {"", "https://app.example", "app.example:443", "app.example/path", "-a.example", "a-.example",
          "a..example", "app.example.", "192.168.0.1", "a b.example", "@a.example"}) {
        EXPECT_FALSE(is_host_name(bad)) << bad;
    }
    EXPECT_TRUE(is_android_app_hash("FA+9qCX9VSu"));
    EXPECT_TRUE(is_android_app_hash("abc/DEF0123"));
    EXPECT_FALSE(is_android_app_hash("FA+9qCX9VS"));
    EXPECT_FALSE(is_android_app_hash("FA+9qCX9VSuX"));
    EXPECT_FALSE(is_android_app_hash("FA-9qCX9VSu")) << "base64, not base64url";
}

TEST(TemplateBuiltins, AreValidShortAndOneUcs2SmsEach) {
    for (const auto& [locale, text] : builtin_templates()) {
        EXPECT_EQ(template_problem(text), "") << locale;
        EXPECT_TRUE(is_well_formed_locale(locale)) << locale;
        const std::string sms = render_template(text, MessageValues{"123456", 300, "Testino"});
        const SmsSegments cost = count_sms_segments(sms);
        EXPECT_EQ(cost.segments, 1) << locale << ": " << sms;
        EXPECT_LE(cost.units, 70u) << locale;
        // Both autofill lines at once stay within the default otp.max_segments (2).
        const std::string filled =
            with_autofill(sms, "123456", Autofill{"app.testino.example", "FA+9qCX9VSu"});
        EXPECT_LE(count_sms_segments(filled).segments, 2) << locale;
    }
    EXPECT_EQ(builtin_templates().at("en"), "Your {app} code is {code}. It expires in {minutes} minutes.");
    for (const char* locale : {"en", "hi", "zh", "es", "ar", "pt", "fr", "ja", "ko", "vi"}) {
        EXPECT_EQ(builtin_templates().count(locale), 1u) << locale;
    }
    EXPECT_EQ(
        count_sms_segments(render_template(builtin_templates().at("fr"), {"1", 300, "Testino"})).encoding,
        SmsEncoding::gsm7);
    for (const auto& [code, locale] : builtin_country_locales()) {
        EXPECT_EQ(builtin_templates().count(locale), 1u) << code;
    }
}

TEST(LocaleTags, WellFormedBcp47) {
    for (const char* good : {"en", "pt-BR", "zh-Hans", "zh-Hans-CN", "es-419", "sr-Latn-RS", "de-CH-1996",
                             "en-US-u-ca-gregory", "x-private", "en-x-testino", "HI", "zh-yue-HK", "fil"}) {
        EXPECT_TRUE(is_well_formed_locale(good)) << good;
    }
    for (const char* bad : {"", "e", "englishlanguage", "pt_BR", "pt-", "-pt", "en--US", "12", "en-US-u",
                            "en-a-b", "x", "en-x", "zh-Hans-CN-toolongsubtag", "é", "en US", "i-klingon"}) {
        EXPECT_FALSE(is_well_formed_locale(bad)) << bad;
    }
    EXPECT_EQ(canonical_locale("PT-br"), "pt-BR");
    EXPECT_EQ(canonical_locale("zh-hans-cn"), "zh-Hans-CN");
    EXPECT_EQ(canonical_locale("en-US-u-ca-gregory"), "en-US-u-ca-gregory");
    EXPECT_EQ(canonical_locale("es-419"), "es-419");
}

TEST(LocaleAcceptLanguage, OrdersByQualityThenPosition) {
    using V = std::vector<std::string>;
    EXPECT_EQ(parse_accept_language("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
              (V{"fr-CH", "fr", "en", "de"}));
    EXPECT_EQ(parse_accept_language("en;q=0.1, ja, ko;q=0.5"), (V{"ja", "ko", "en"}));
    EXPECT_EQ(parse_accept_language("da, en-gb;q=0.8, en;q=0.7"), (V{"da", "en-GB", "en"}));
    EXPECT_EQ(parse_accept_language("pt-BR;q=0, es"), (V{"es"})) << "q=0 means not acceptable";
    EXPECT_EQ(parse_accept_language(" ,  hi ;  q=1.000 ,, "), (V{"hi"}));
    EXPECT_EQ(parse_accept_language("*"), V{});
    EXPECT_EQ(parse_accept_language(""), V{});
}

TEST(LocaleAcceptLanguage, SkipsMalformedElementsOnly) {
    using V = std::vector<std::string>;
    EXPECT_EQ(parse_accept_language("en;q=2, fr;q=0.5"), (V{"fr"}));
    EXPECT_EQ(parse_accept_language("en;q=1.5, de;q=0.1234, fr;q=abc, es;x=1, vi"), (V{"vi"}));
    EXPECT_EQ(parse_accept_language("en_US, ko"), (V{"ko"}));
    EXPECT_EQ(parse_accept_language("verylonglanguage, ar"), (V{"ar"}));
    EXPECT_EQ(parse_accept_language("\xff\xfe, ja"), (V{"ja"}));
    std::string many;
    for (int i = 0; i < 40; ++i) many += "en,";
    EXPECT_EQ(parse_accept_language(many + "fr").size(), 32u) << "only 32 elements are read";
}

TEST(LocaleLookup, DropsSubtagsFromTheEnd) {
    const std::vector<std::string> available = {"en", "pt", "zh", "zh-Hant", "es"};
    EXPECT_EQ(lookup_locale("pt-BR", available), "pt");
    EXPECT_EQ(lookup_locale("PT-br", available), "pt");
    EXPECT_EQ(lookup_locale("zh-Hans-CN", available), "zh");
    EXPECT_EQ(lookup_locale("zh-Hant-TW", available), "zh-Hant");
    EXPECT_EQ(lookup_locale("zh-TW", available), "zh-Hant");
    EXPECT_EQ(lookup_locale("zh-HK", available), "zh-Hant");
    EXPECT_EQ(lookup_locale("es-419", available), "es");
    EXPECT_EQ(lookup_locale("en-a-bbb-x-a-ccc", available), "en");
    EXPECT_EQ(lookup_locale("de-DE", available), "");
    EXPECT_EQ(lookup_locale("", available), "");
}

MessageSettings settings() {
    MessageSettings s;
    s.templates = builtin_templates();
    s.country_locales = builtin_country_locales();
    return s;
}

TEST(LocaleChoice, FieldThenHeaderThenCountryThenDefault) {
    const MessageCatalog catalog(settings(), "unused {code}");
    EXPECT_EQ(catalog.choose("fr", "ja", "91"), "fr");
    EXPECT_EQ(catalog.choose("de", "ja", "91"), "ja")
        << "a well-formed locale without a template falls through";
    EXPECT_EQ(catalog.choose("", "de-DE, pt-BR;q=0.8", "91"), "pt");
    EXPECT_EQ(catalog.choose("", "de-DE, *;q=0.5", "91"), "hi") << "* is ignored";
    EXPECT_EQ(catalog.choose("", "", "55"), "pt");
    EXPECT_EQ(catalog.choose("", "", "44"), "en");
    EXPECT_EQ(catalog.choose("", "", "886"), "zh-Hant");
}

TEST(LocaleChoice, RendersTheChosenTemplateWithAutofill) {
    MessageSettings s = settings();
    s.autofill = Autofill{"app.testino.example", ""};
    s.app_name = "Testino Prep";
    const MessageCatalog catalog(s, "unused {code}");
    EXPECT_EQ(catalog.render("en", "123456", 300),
              "Your Testino Prep code is 123456. It expires in 5 minutes.\n@app.testino.example #123456");
    EXPECT_EQ(catalog.render("fr", "042000", 600),
              "042000 est votre code Testino Prep. Il expire dans 10 minutes.\n@app.testino.example #042000");
    EXPECT_EQ(catalog.render("xx", "1", 60).rfind("Your Testino Prep code is 1.", 0), 0u)
        << "unknown: default";
    const MessageCatalog bare(MessageSettings{}, "Code {code}");
    EXPECT_EQ(bare.choose("fr", "ja", "33"), "en");
    EXPECT_EQ(bare.render("en", "123456", 300), "Code 123456") << "no templates: the fallback";
}

}  // namespace
}  // namespace testino
