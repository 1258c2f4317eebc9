// The `sms.sns` section: defaults, and a ConfigError naming the key for each malformed value
// (never echoing a secret's value).
#include "sns_config.hpp"

#include <gtest/gtest.h>

#include "plugin_doubles.hpp"

namespace testino::plugins::sns {
namespace {

using test_support::MapConfigView;

std::map<std::string, std::string> minimal() {
    return {{"region", "us-east-1"},
            {"access_key_id", "AKIAIOSFODNN7EXAMPLE"},
            {"secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}};
}

SnsSettings settings_from(const std::map<std::string, std::string>& values) {
    return settings_from_config(MapConfigView(values, config_keys()));
}

TEST(SnsConfigTest, SchemaDeclaresEnvironmentVariablesAndSecrets) {
    std::map<std::string, sdk::ConfigKey> keys;
    for (const auto& key : config_keys()) keys[key.name] = key;
    EXPECT_EQ(keys.size(), 10u);
    EXPECT_EQ(keys.at("region").env, "AWS_REGION");
    EXPECT_TRUE(keys.at("region").required);
    EXPECT_EQ(keys.at("access_key_id").env, "AWS_ACCESS_KEY_ID");
    EXPECT_TRUE(keys.at("access_key_id").required);
    EXPECT_FALSE(keys.at("access_key_id").secret);
    EXPECT_EQ(keys.at("secret_access_key").env, "AWS_SECRET_ACCESS_KEY");
    EXPECT_TRUE(keys.at("secret_access_key").secret);
    EXPECT_EQ(keys.at("session_token").env, "AWS_SESSION_TOKEN");
    EXPECT_TRUE(keys.at("session_token").secret);
    EXPECT_FALSE(keys.at("session_token").required);
    EXPECT_EQ(keys.at("connect_timeout_ms").type, sdk::ValueType::integer);
    EXPECT_EQ(keys.at("max_attempts").type, sdk::ValueType::integer);
}

TEST(SnsConfigTest, MinimalSectionGetsTheDefaults) {
    const SnsSettings settings = settings_from(minimal());
    EXPECT_EQ(settings.region, "us-east-1");
    EXPECT_EQ(settings.endpoint.url, "https://sns.us-east-1.amazonaws.com/");
    EXPECT_EQ(settings.sms_type, "Transactional");
    EXPECT_EQ(settings.sender_id, "");
    EXPECT_EQ(settings.max_price, "");
    EXPECT_EQ(settings.credentials.session_token, "");
    EXPECT_EQ(settings.connect_timeout, std::chrono::milliseconds(2000));
    EXPECT_EQ(settings.retry.max_attempts, 3);
}

TEST(SnsConfigTest, EveryKeyIsRead) {
    auto values = minimal();
    values["region"] = "eu-west-2";
    values["session_token"] = "token/with+chars=";
    values["sender_id"] = "Testino1";
    values["sms_type"] = "Promotional";
    values["max_price"] = "0.25";
    values["endpoint"] = "http://127.0.0.1:4566";
    values["connect_timeout_ms"] = "500";
    values["max_attempts"] = "5";
    const SnsSettings settings = settings_from(values);
    EXPECT_EQ(settings.credentials.session_token, "token/with+chars=");
    EXPECT_EQ(settings.sender_id, "Testino1");
    EXPECT_EQ(settings.sms_type, "Promotional");
    EXPECT_EQ(settings.max_price, "0.25");
    EXPECT_EQ(settings.endpoint.url, "http://127.0.0.1:4566/");
    EXPECT_EQ(settings.connect_timeout, std::chrono::milliseconds(500));
    EXPECT_EQ(settings.retry.max_attempts, 5);
}

struct BadValue {
    const char* key;
    const char* value;
};

class SnsConfigErrorTest : public ::testing::TestWithParam<BadValue> {};

void PrintTo(const BadValue& bad, std::ostream* out) { *out << bad.key; }

TEST_P(SnsConfigErrorTest, NamesTheKeyAndNeverEchoesASecret) {
    auto values = minimal();
    values[GetParam().key] = GetParam().value;
    try {
        settings_from(values);
        FAIL() << GetParam().key << "=" << GetParam().value << " was accepted";
    } catch (const sdk::ConfigError& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.rfind(std::string("test config: ") + GetParam().key + ": ", 0), 0u) << message;
        const std::string key = GetParam().key;
        if (key == "secret_access_key" || key == "session_token") {
            EXPECT_EQ(message.find(GetParam().value), std::string::npos) << message;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Values, SnsConfigErrorTest,
    ::testing::Values(BadValue{"region", "US East"}, BadValue{"region", "us-east"},
                      BadValue{"access_key_id", "AKIA 1234"}, BadValue{"access_key_id", ""},
                      BadValue{"secret_access_key", "secret-with-newline\n"},
                      BadValue{"session_token", "token with space"}, BadValue{"sender_id", "TooLongSender"},
                      BadValue{"sender_id", "12345"}, BadValue{"sender_id", "My OTP"},
                      BadValue{"sms_type", "transactional"}, BadValue{"max_price", "$0.50"},
                      BadValue{"max_price", "0,50"}, BadValue{"endpoint", "sns.us-east-1.amazonaws.com"},
                      BadValue{"endpoint", "http://sns.us-east-1.amazonaws.com"}),
    [](const ::testing::TestParamInfo<BadValue>& info) {
        return std::string(info.param.key) + "_" + std::to_string(info.index);
    });

}  // namespace
}  // namespace testino::plugins::sns
