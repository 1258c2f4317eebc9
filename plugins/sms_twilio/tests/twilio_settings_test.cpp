// The twilio plugin's settings: every check read_settings makes on its section, and the
// schema it declares.
#include <gtest/gtest.h>

#include "twilio_test_values.hpp"

namespace testino::plugins::twilio {
namespace {

using namespace std::chrono_literals;
using sdk::ConfigError;
using test::kFakeAccountSid;
using test::kFakeAuthToken;
using test::kFakeFrom;
using test::kFakeServiceSid;

TEST(TwilioSettingsTest, ReadsAValidSectionWithASenderNumber) {
    const TwilioSettings settings = settings_from(valid_values("https://api.twilio.com/"));
    EXPECT_EQ(settings.account_sid, kFakeAccountSid);
    EXPECT_EQ(settings.auth_token, kFakeAuthToken);
    EXPECT_EQ(settings.from, kFakeFrom);
    EXPECT_EQ(settings.messaging_service_sid, "");
    EXPECT_EQ(settings.api_base_url, "https://api.twilio.com") << "the trailing slash goes";
    EXPECT_EQ(settings.connect_timeout, 2000ms);
    EXPECT_EQ(settings.retry.max_attempts, 3);
    EXPECT_EQ(settings.retry.base_backoff, 5ms);
}

TEST(TwilioSettingsTest, ReadsAValidSectionWithAMessagingService) {
    auto values = valid_values();
    values.erase("from");
    values["messaging_service_sid"] = kFakeServiceSid;
    const TwilioSettings settings = settings_from(values);
    EXPECT_EQ(settings.from, "");
    EXPECT_EQ(settings.messaging_service_sid, kFakeServiceSid);
}

TEST(TwilioSettingsTest, DefaultsToTwilioOverHttps) {
    auto values = valid_values();
    values.erase("api_base_url");
    EXPECT_EQ(settings_from(values).api_base_url, "https://api.twilio.com");
}

TEST(TwilioSettingsTest, RejectsAMalformedAccountSidNamingTheKey) {
    for (const char* sid :
         {"AC0123", "XX0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcdeg"}) {
        auto values = valid_values();
        values["account_sid"] = sid;
        const std::string error = config_error(values);
        EXPECT_NE(error.find("test config: account_sid"), std::string::npos) << error;
        EXPECT_NE(error.find("AC followed by 32 hex digits"), std::string::npos) << error;
    }
}

TEST(TwilioSettingsTest, RejectsAMalformedAuthTokenWithoutQuotingIt) {
    auto values = valid_values();
    values["auth_token"] = "not-a-token-but-a-secret-anyway!";
    const std::string error = config_error(values);
    EXPECT_NE(error.find("test config: auth_token"), std::string::npos) << error;
    EXPECT_EQ(error.find("not-a-token"), std::string::npos) << error;
}

TEST(TwilioSettingsTest, NeedsExactlyOneSender) {
    auto both = valid_values();
    both["messaging_service_sid"] = kFakeServiceSid;
    EXPECT_NE(config_error(both).find("both are set"), std::string::npos) << config_error(both);

    auto neither = valid_values();
    neither.erase("from");
    EXPECT_NE(config_error(neither).find("neither is set"), std::string::npos) << config_error(neither);

    auto empty = valid_values();
    empty["from"] = "";
    EXPECT_NE(config_error(empty).find("test config: from"), std::string::npos) << config_error(empty);
}

TEST(TwilioSettingsTest, RejectsASenderOrServiceOfTheWrongShape) {
    auto from = valid_values();
    from["from"] = "15005550006";
    EXPECT_NE(config_error(from).find("test config: from: must be a phone number in E.164"),
              std::string::npos)
        << config_error(from);

    auto service = valid_values();
    service.erase("from");
    service["messaging_service_sid"] = "MG123";
    EXPECT_NE(config_error(service).find("test config: messaging_service_sid"), std::string::npos)
        << config_error(service);
}

TEST(TwilioSettingsTest, AllowsPlainHttpOnlyToLoopback) {
    EXPECT_EQ(config_error(valid_values("http://127.0.0.1:8080")), "");
    EXPECT_EQ(config_error(valid_values("http://localhost:1")), "");
    EXPECT_EQ(config_error(valid_values("http://[::1]:9000")), "");
    EXPECT_EQ(config_error(valid_values("https://twilio.example.com:8443")), "");
    for (const char* url : {"http://api.twilio.com", "ftp://api.twilio.com", "https://api.twilio.com/v1",
                            "https://user:pw@api.twilio.com", "api.twilio.com"}) {
        EXPECT_NE(config_error(valid_values(url)).find("test config: api_base_url"), std::string::npos)
            << url;
    }
}

TEST(TwilioSettingsTest, DeclaresTheTokenSecretAndTheSeedsEnvironmentVariables) {
    std::map<std::string, sdk::ConfigKey> keys;
    for (const auto& key : config_keys()) keys[key.name] = key;
    EXPECT_TRUE(keys.at("auth_token").secret);
    EXPECT_TRUE(keys.at("auth_token").required);
    EXPECT_TRUE(keys.at("account_sid").required);
    EXPECT_FALSE(keys.at("account_sid").secret);
    EXPECT_EQ(keys.at("account_sid").env, "TWILIO_ACCOUNT_SID");
    EXPECT_EQ(keys.at("auth_token").env, "TWILIO_AUTH_TOKEN");
    EXPECT_EQ(keys.at("from").env, "TWILIO_PHONE_NUMBER");
    EXPECT_EQ(keys.at("messaging_service_sid").env, "TWILIO_MESSAGING_SERVICE_SID");
    EXPECT_EQ(keys.at("api_base_url").default_value, "https://api.twilio.com");
    EXPECT_EQ(keys.at("max_attempts").default_value, "3");
}

}  // namespace
}  // namespace testino::plugins::twilio
