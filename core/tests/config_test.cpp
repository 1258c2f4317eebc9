#include "config/config.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "config_loading.hpp"

namespace testino {
namespace {

using namespace config_test;

TEST(Config, EmptyFileGivesTheDocumentedDefaults) {
    const AppConfig c = load("");
    EXPECT_EQ(c.server.host, "0.0.0.0");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.server.threads, 2);
    EXPECT_EQ(c.server.max_body_bytes, 4096u);
    EXPECT_TRUE(c.server.cors_origins.empty());
    EXPECT_EQ(c.otp.length, 6);
    EXPECT_EQ(c.otp.expiry.count(), 300);
    EXPECT_EQ(c.otp.max_attempts, 5);
    EXPECT_EQ(c.token.issuer, "testino-auth");
    EXPECT_EQ(c.token.ttl.count(), 3600);
    EXPECT_EQ(c.sms.providers, std::vector<std::string>{"console"});
    EXPECT_TRUE(c.sms.routes.empty());
    EXPECT_EQ(c.store.backend, "memory");
    EXPECT_EQ(c.plugin_dir, "/plugins");
    EXPECT_FALSE(c.otp.hmac_secret.empty()) << "derived from the token secret";
    EXPECT_NE(c.otp.hmac_secret, kSecret);
}

TEST(Config, NoSmsProviderRefusesToStartEvenInDebug) {
    // No silent fallback to the console provider, which writes codes to the log.
    for (const char* debug : {"false", "true"}) {
        try {
            load_app_config(
                ConfigSource::from_string("", "test.yaml", {{"TOKEN_SECRET", kSecret}, {"DEBUG", debug}}),
                "/plugins");
            ADD_FAILURE() << "started with no SMS provider, DEBUG=" << debug;
        } catch (const StartupError& e) {
            EXPECT_NE(std::string(e.what()).find("test.yaml: sms.provider: no SMS provider is configured"),
                      std::string::npos)
                << e.what();
        }
    }
}

TEST(Config, WeakerThanNistNeedsItsOwnSwitch) {
    EXPECT_NE(
        error_of("otp: {length: 5}\n").find("test.yaml: otp.length: 5 digits is weaker than 6 (20 bits)"),
        std::string::npos)
        << error_of("otp: {length: 5}\n");
    EXPECT_NE(error_of("otp: {expiry_seconds: 601}\n")
                  .find("test.yaml: otp.expiry_seconds: 601 seconds is longer than 10 minutes"),
              std::string::npos);
    EXPECT_NE(error_of("otp: {expiry_seconds: 900}\n").find("otp.allow_weaker_than_nist: true"),
              std::string::npos);
    EXPECT_EQ(error_of("otp: {expiry_seconds: 600, length: 6}\n"), "") << "NIST's own bounds are fine";
    const AppConfig weak = load("otp: {length: 4, expiry_seconds: 900, allow_weaker_than_nist: true}\n");
    EXPECT_EQ(weak.otp.length, 4);
    EXPECT_EQ(weak.otp.expiry.count(), 900);
    EXPECT_EQ(error_of("", {{"OTP_LENGTH", "4"}, {"OTP_ALLOW_WEAKER_THAN_NIST", "true"}}), "");
}

TEST(Config, HardeningSwitchesHaveSafeDefaults) {
    const AppConfig c = load("");
    EXPECT_FALSE(c.otp.allow_voip);
    EXPECT_FALSE(c.otp.require_verification_id);
    EXPECT_EQ(c.otp.resend_overlap.count(), 120);
    EXPECT_EQ(c.limits.number_failed_verifies, 10);
    EXPECT_EQ(c.limits.number_failed_verifies_all, 50);
    const AppConfig set = load(
        "otp: {allow_voip_numbers: true, require_verification_id: true, resend_overlap_seconds: 0}\n"
        "limits: {number_failed_verifies_all_addresses_per_window: 80}\n");
    EXPECT_TRUE(set.otp.allow_voip);
    EXPECT_TRUE(set.otp.require_verification_id);
    EXPECT_EQ(set.otp.resend_overlap.count(), 0);
    EXPECT_EQ(set.limits.number_failed_verifies_all, 80);
    EXPECT_NE(error_of("otp: {resend_overlap_seconds: 601}\n").find("otp.resend_overlap_seconds"),
              std::string::npos);
}

TEST(Config, FileValuesAreRead) {
    const AppConfig c = load(
        "server: {host: 127.0.0.1, port: 9000, cors_origins: [\"https://a.example\", "
        "\"https://b.example\"]}\n"
        "otp: {length: 8, expiry_seconds: 120, max_attempts: 3}\n"
        "sms: {provider: twilio, twilio: {account_sid: x}}\n"
        "plugins: {dir: /opt/plugins}\n");
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 9000);
    EXPECT_EQ(c.server.cors_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_EQ(c.otp.length, 8);
    EXPECT_EQ(c.otp.expiry.count(), 120);
    EXPECT_EQ(c.sms.providers, std::vector<std::string>{"twilio"});
    EXPECT_EQ(c.section("sms").subsections(), std::vector<std::string>{"twilio"});
    EXPECT_EQ(c.plugin_dir, "/opt/plugins");
}

TEST(Config, TheSeedsEnvironmentVariablesOverrideTheFile) {
    const AppConfig c = load("server: {port: 9000, debug: false}\notp: {expiry_seconds: 120}\n",
                             {{"PORT", "7000"},
                              {"HOST", "127.0.0.2"},
                              {"DEBUG", "true"},
                              {"ALLOWED_ORIGINS", "https://a.example, https://b.example"},
                              {"OTP_EXPIRY_SECONDS", "60"},
                              {"OTP_MAX_ATTEMPTS", "3"},
                              {"SMS_PROVIDER", "aws_sns"}});
    EXPECT_EQ(c.server.port, 7000);
    EXPECT_EQ(c.server.host, "127.0.0.2");
    EXPECT_TRUE(c.server.debug);
    EXPECT_EQ(c.server.cors_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_EQ(c.otp.expiry.count(), 60);
    EXPECT_EQ(c.otp.max_attempts, 3);
    EXPECT_EQ(c.sms.providers, std::vector<std::string>{"sns"}) << "the seed's aws_sns names the sns plugin";
}

TEST(Config, ProvidersListTheOrderToTryAndRoutesPickOnePerCallingCode) {
    const AppConfig c = load(
        "sms:\n"
        "  providers: [sns, twilio]\n"
        "  routes:\n"
        "    \"1\": [twilio, sns]\n"
        "    +44: sns\n"
        "  twilio: {account_sid: x}\n");
    EXPECT_EQ(c.sms.providers, (std::vector<std::string>{"sns", "twilio"}));
    ASSERT_EQ(c.sms.routes.size(), 2u);
    EXPECT_EQ(c.sms.routes.at("1"), (std::vector<std::string>{"twilio", "sns"}));
    EXPECT_EQ(c.sms.routes.at("44"), std::vector<std::string>{"sns"}) << "a plain name, '+' dropped";
    EXPECT_EQ(c.section("sms").subsections(), std::vector<std::string>{"twilio"})
        << "routes is not a plugin section";
}

TEST(Config, ProvidersComeFromTheEnvironmentToo) {
    const AppConfig c = load("", {{"SMS_PROVIDERS", "twilio, aws_sns"}});
    EXPECT_EQ(c.sms.providers, (std::vector<std::string>{"twilio", "sns"}));
}

TEST(Config, BadProviderListsAndRoutesAreNamed) {
    EXPECT_NE(error_of("sms: {provider: twilio, providers: [sns]}\n")
                  .find("test.yaml: sms.provider and sms.providers are both set; set one of them"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {provider: twilio}\n", {{"SMS_PROVIDERS", "sns"}}).find("set one of them"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {providers: [sns, twilio, sns]}\n")
                  .find("test.yaml: sms.providers: \"sns\" is listed twice"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {providers: []}\n").find("names no provider"), std::string::npos);
    EXPECT_NE(
        error_of("sms: {routes: {\"1\": []}}\n").find("test.yaml: sms.routes.1: the list names no provider"),
        std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {us: [twilio]}}\n")
                  .find("test.yaml: sms.routes.us: \"us\" is not a calling code"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {\"01\": [twilio]}}\n").find("is not a calling code"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {\"1000\": [twilio]}}\n").find("is not a calling code"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {\"1\": twilio, \"+1\": sns}}\n").find("has two routes"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: [twilio]}\n").find("sms.routes: expected a mapping"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {\"1\": {a: b}}}\n").find("sms.routes.1: expected a provider name"),
              std::string::npos);
    EXPECT_NE(error_of("sms: {routes: {\"1\": [[twilio]]}}\n").find("expected a list of provider names"),
              std::string::npos);
}

TEST(Config, UnknownKeyNamesFileAndKeyAndSuggestsTheNearest) {
    const std::string e = error_of("server:\n  prot: 80\n");
    EXPECT_NE(e.find("test.yaml: server.prot: unknown key"), std::string::npos) << e;
    EXPECT_NE(e.find("did you mean \"port\""), std::string::npos) << e;
    EXPECT_NE(e.find("allowed keys: host, port"), std::string::npos) << e;
}

TEST(Config, UnknownSectionIsAnError) {
    const std::string e = error_of("sever: {port: 1}\n");
    EXPECT_NE(e.find("test.yaml: sever: unknown section (did you mean \"server\"?)"), std::string::npos) << e;
}

TEST(Config, InvalidYamlNamesLineAndColumn) {
    const std::string e = error_of("server:\n  port: [1, 2\n");
    EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
    EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
}

TEST(Config, NonScalarKeysNameTheFile) {
    // Found by fuzz/config_fuzzer: yaml-cpp's own "bad conversion" named neither.
    EXPECT_NE(error_of("server:\n  ? [port]\n  : 1\n").find("test.yaml: server: keys must be plain names"),
              std::string::npos);
    EXPECT_NE(error_of("{a: 1}: x\n").find("test.yaml: section names must be plain names"),
              std::string::npos);
}

TEST(Config, LimitsAreValidated) {
    EXPECT_NE(error_of("limits: {trusted_proxies: [\"10.0.0.0/33\"]}\n").find("is not an IP address or CIDR"),
              std::string::npos);
    EXPECT_NE(error_of("limits: {country_allowlist: [\"US\"]}\n").find("is not a calling code"),
              std::string::npos);
    EXPECT_NE(error_of("limits: {ip_window_seconds: 0}\n").find("at least 1 second"), std::string::npos);
    EXPECT_NE(error_of("limits: {ip_sends_per_windw: 5}\n").find("did you mean \"ip_sends_per_window\""),
              std::string::npos);
    const AppConfig c = load("limits: {country_allowlist: [\"+1\", \"44\"], number_cooldown_seconds: 0}\n",
                             {{"LIMIT_IP_SENDS_PER_WINDOW", "7"}});
    EXPECT_EQ(c.limits.country_allowlist, (std::vector<std::string>{"1", "44"}));
    EXPECT_EQ(c.limits.number_cooldown.count(), 0);
    EXPECT_EQ(c.limits.ip_sends, 7);
    EXPECT_EQ(c.limits.number_sends, 5) << "documented default";
}

TEST(Config, TheBudgetLeaseIsTenByDefaultAndAtLeastOne) {
    EXPECT_EQ(load("").limits.budget_lease, 10);
    EXPECT_EQ(load("limits: {budget_lease: 1}\n").limits.budget_lease, 1);
    EXPECT_EQ(load("", {{"LIMIT_BUDGET_LEASE", "25"}}).limits.budget_lease, 25);
    EXPECT_NE(error_of("limits: {budget_lease: 0}\n").find("limits.budget_lease"), std::string::npos)
        << error_of("limits: {budget_lease: 0}\n");
}

TEST(Config, TestNumbersAreValidated) {
    const AppConfig c =
        load("test_numbers:\n  - {number: \"+1 202 555 0100\", code: \"424242\", expires: 2030-01-31}\n");
    ASSERT_EQ(c.test_numbers.size(), 1u);
    EXPECT_EQ(c.test_numbers[0].e164, "+12025550100");
    EXPECT_EQ(c.test_numbers[0].expires_at, 1896048000 + 86400) << "through the end of that day, UTC";
    EXPECT_NE(error_of("test_numbers:\n  - {number: \"+11234567890\", code: \"424242\"}\n")
                  .find("test_numbers[0].number"),
              std::string::npos);
    EXPECT_NE(error_of("test_numbers:\n  - {number: \"+12025550100\", code: \"42\"}\n")
                  .find("test_numbers[0].code: must be exactly 6 digits"),
              std::string::npos);
    EXPECT_NE(error_of("test_numbers:\n  - {number: \"+12025550100\", code: \"424242\"}\n")
                  .find("test_numbers[0].expires: required; a test number must stop working on a date"),
              std::string::npos)
        << "a test number without an end date is refused";
    EXPECT_NE(
        error_of("test_numbers:\n  - {number: \"+445612345678\", code: \"424242\", expires: 2030-01-31}\n")
            .find("VOIP"),
        std::string::npos)
        << "a test number follows otp.allow_voip_numbers";
    EXPECT_NE(error_of("test_numbers:\n  - {number: \"+12025550100\", code: \"424242\", expires: soon}\n")
                  .find("test_numbers[0].expires"),
              std::string::npos);
    EXPECT_NE(error_of("test_numbers:\n  - {number: \"+12025550100\", cod: \"424242\"}\n")
                  .find("test_numbers[0].cod: unknown key"),
              std::string::npos);
    EXPECT_NE(error_of("test_numbers: {a: b}\n").find("expected a list"), std::string::npos);
}

TEST(Config, TopLevelMustBeAMapping) {
    EXPECT_NE(error_of("- a\n- b\n").find("expected a mapping of sections"), std::string::npos);
}

TEST(Config, SectionMustBeAMapping) {
    EXPECT_NE(error_of("server: 5\n").find("test.yaml: server: expected a mapping"), std::string::npos);
}

TEST(Config, WrongTypesAreNamed) {
    EXPECT_NE(error_of("server: {port: eighty}\n").find("server.port: expected an integer, got \"eighty\""),
              std::string::npos);
    EXPECT_NE(error_of("server: {port: [1]}\n").find("server.port: expected an integer, got a list"),
              std::string::npos);
    EXPECT_NE(error_of("server: {debug: maybe}\n").find("server.debug: expected true or false"),
              std::string::npos);
    EXPECT_NE(error_of("server: {cors_origins: [{a: b}]}\n").find("expected a list of strings"),
              std::string::npos);
}

TEST(Config, OutOfRangeValuesAreNamed) {
    EXPECT_NE(error_of("server: {port: 70000}\n").find("server.port: 70000 is out of range [0, 65535]"),
              std::string::npos);
    EXPECT_NE(error_of("otp: {length: 3}\n").find("otp.length: 3 is out of range"), std::string::npos);
    EXPECT_NE(error_of("otp: {max_attempts: 0}\n").find("otp.max_attempts"), std::string::npos);
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
    const std::string e = error_of("", {{"PORT", "http"}});
    EXPECT_NE(e.find("environment variable PORT: expected an integer, got \"http\""), std::string::npos) << e;
}

TEST(Config, MissingTokenSecretRefusesToStartUnlessDebug) {
    const std::string e = error_of("", {{"TOKEN_SECRET", ""}});
    EXPECT_NE(e.find("no token secret is configured"), std::string::npos) << e;
    const AppConfig c = load("", {{"TOKEN_SECRET", ""}, {"DEBUG", "true"}});
    EXPECT_TRUE(c.token.key_generated);
    EXPECT_GE(c.token.secret.size(), 32u);
}

// Earlier configs (a token.secret, no algorithm) keep HS256; new ones get ES256.
TEST(Config, AlgorithmDefaultsToHs256WithASecretAndEs256Without) {
    const AppConfig earlier = load("");
    EXPECT_EQ(earlier.token.algorithm, JwtAlgorithm::hs256);
    ASSERT_EQ(earlier.token.keys.size(), 1u);
    EXPECT_FALSE(earlier.token.keys[0]->kid().empty());
    const AppConfig fresh = load("", {{"DEBUG", "true"}, {"OTP_HMAC_SECRET", ""}}, /*with_secret=*/false);
    EXPECT_EQ(fresh.token.algorithm, JwtAlgorithm::es256);
    EXPECT_TRUE(fresh.token.key_generated) << "DEBUG: a throwaway key";
    EXPECT_GE(fresh.otp.hmac_secret.size(), 32u) << "DEBUG: a throwaway code key";
}

TEST(Config, AsymmetricAlgorithmsNeedAKeyAndTheirOwnCodeKey) {
    const std::string no_key = error_of("token: {algorithm: ES256}\n");
    EXPECT_NE(no_key.find("no signing key for ES256"), std::string::npos) << no_key;
    EXPECT_NE(no_key.find("TOKEN_PRIVATE_KEY_FILE"), std::string::npos) << no_key;
    const std::string bad_name = error_of("token: {algorithm: es256}\n");
    EXPECT_NE(bad_name.find("expected ES256, EdDSA, RS256 or HS256, got \"es256\""), std::string::npos)
        << bad_name;
    const std::string garbage = error_of("token: {algorithm: ES256}\n", {{"TOKEN_PRIVATE_KEY", "not a pem"}});
    EXPECT_NE(garbage.find("TOKEN_PRIVATE_KEY: not PEM"), std::string::npos) << garbage;
    EXPECT_EQ(garbage.find("not a pem"), std::string::npos) << "the key's text is never printed: " << garbage;
    const std::string both = error_of("token: {algorithm: HS256, private_key_file: k.pem}\n");
    EXPECT_NE(both.find("HS256 signs with token.secret"), std::string::npos) << both;
    const std::string short_ttl =
        error_of("token: {refresh_ttl_seconds: 7200, refresh_max_age_seconds: 3600}\n");
    EXPECT_NE(short_ttl.find("must be at least refresh_ttl_seconds"), std::string::npos) << short_ttl;
}

TEST(Config, ShortSecretsAreRefused) {
    EXPECT_NE(error_of("", {{"TOKEN_SECRET", "short"}}).find("at least 32 bytes"), std::string::npos);
    EXPECT_NE(error_of("", {{"OTP_HMAC_SECRET", "short"}}).find("at least 32 bytes"), std::string::npos);
}

TEST(Config, TemplateWithoutCodeIsRefused) {
    EXPECT_NE(error_of("otp: {message_template: \"Hello\"}\n").find("must contain {code}"),
              std::string::npos);
}

TEST(Config, BadLogLevelIsRefused) {
    EXPECT_NE(error_of("server: {log_level: loud}\n").find("expected debug, info, warn or error"),
              std::string::npos);
}

TEST(Config, ScalarUnderSmsIsAnUnknownKeyButAMappingIsAPluginSection) {
    EXPECT_NE(error_of("sms: {provder: console}\n").find("did you mean \"provider\""), std::string::npos);
    EXPECT_EQ(error_of("sms: {console: {}}\n"), "");
}

TEST(Config, DescribeMasksSecretsAndNamesOrigins) {
    const AppConfig c = load("server: {port: 9000}\n", {{"TOKEN_SECRET", kSecret}});
    std::ostringstream out;
    for (const auto& s : c.sections) s.describe(out);
    const std::string text = out.str();
    EXPECT_EQ(text.find(kSecret), std::string::npos) << "a secret was printed";
    EXPECT_NE(text.find("token.secret: \"***\"  # env TOKEN_SECRET"), std::string::npos) << text;
    EXPECT_NE(text.find("server.port: 9000  # file"), std::string::npos) << text;
    EXPECT_NE(text.find("server.host: \"0.0.0.0\"  # default"), std::string::npos) << text;
}

TEST(Config, PluginSectionValidatesAgainstASchema) {
    sdk::ConfigKey token;
    token.name = "auth_token";
    token.required = true;
    token.secret = true;
    token.env = "TWILIO_AUTH_TOKEN";
    const auto source = ConfigSource::from_string("sms:\n  twilio: {auth_tokn: x}\n", "t.yaml");
    try {
        ConfigSection(source, "sms.twilio", {token});
        FAIL() << "unknown key accepted";
    } catch (const StartupError& e) {
        EXPECT_NE(std::string(e.what()).find(
                      "t.yaml: sms.twilio.auth_tokn: unknown key (did you mean \"auth_token\"?)"),
                  std::string::npos)
            << e.what();
    }
    const auto empty = ConfigSource::from_string("sms:\n  twilio: {}\n", "t.yaml");
    try {
        ConfigSection(empty, "sms.twilio", {token});
        FAIL() << "missing required key accepted";
    } catch (const StartupError& e) {
        EXPECT_NE(std::string(e.what()).find("sms.twilio.auth_token: required key is missing"),
                  std::string::npos);
        EXPECT_NE(std::string(e.what()).find("TWILIO_AUTH_TOKEN"), std::string::npos);
    }
    const auto from_env = ConfigSource::from_string("", "t.yaml", {{"TWILIO_AUTH_TOKEN", "abc"}});
    const ConfigSection section(from_env, "sms.twilio", {token});
    EXPECT_EQ(section.get_string("auth_token"), "abc");
    EXPECT_EQ(section.where("auth_token"), "environment variable TWILIO_AUTH_TOKEN");
    EXPECT_THROW(section.get_string("nope"), sdk::ConfigError);
    EXPECT_THROW(section.get_int("auth_token"), sdk::ConfigError);
}

TEST(Dotenv, ParsesAssignmentsCommentsQuotesAndExport) {
    const auto values = parse_dotenv(
        "# comment\n\nTOKEN_SECRET=abc\nexport PORT=9000\nQUOTED=\"a b # c\"\nSINGLE='x'\nTRAIL=v # note\n",
        ".env");
    EXPECT_EQ(values.at("TOKEN_SECRET"), "abc");
    EXPECT_EQ(values.at("PORT"), "9000");
    EXPECT_EQ(values.at("QUOTED"), "a b # c");
    EXPECT_EQ(values.at("SINGLE"), "x");
    EXPECT_EQ(values.at("TRAIL"), "v");
}

TEST(Dotenv, MalformedLineNamesFileAndLine) {
    try {
        parse_dotenv("A=1\nthis is not an assignment\n", ".env");
        FAIL();
    } catch (const StartupError& e) {
        EXPECT_NE(std::string(e.what()).find(".env:2: expected NAME=value"), std::string::npos);
    }
}

TEST(Nearest, FindsCloseNamesOnly) {
    EXPECT_EQ(nearest("prot", {"host", "port"}), "port");
    EXPECT_EQ(nearest("zzzzzz", {"host", "port"}), "");
}

}  // namespace
}  // namespace testino
