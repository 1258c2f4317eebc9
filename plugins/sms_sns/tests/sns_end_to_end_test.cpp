// End to end: the real testino-server with `sms.provider: sns`, pointed at the fake SNS in
// this process. A code goes out through SNS Publish (signed, checked by the fake) and the
// code the fake received verifies; each AWS failure shows up as the API error, health and
// log line the README describes; no secret is ever printed.
#include "fake_sns.hpp"
#include "integration_common.hpp"

namespace testino::test {
namespace {

using plugins::sns::test::error_fixture_reply;
using plugins::sns::test::FakeReply;
using plugins::sns::test::FakeSns;
using plugins::sns::test::FakeSnsKeys;

const FakeSnsKeys kKeys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "us-east-1"};

std::string yaml_quoted(const std::string& text) { return "\"" + text + "\""; }

TestConfig sns_config(const FakeSns& fake, const FakeSnsKeys& keys = kKeys) {
    TestConfig config;
    config.sms["provider"] = "sns";
    auto& section = config.sms_sections["sns"];
    section = plugins::sns::test::sns_section(fake, keys);
    section["max_attempts"] = "2";
    return config;
}

void expect_secret_never_printed(const ServerProcess& server, const std::string& secret) {
    EXPECT_EQ(server.stdout_text().find(secret), std::string::npos) << "a secret reached stdout";
    EXPECT_EQ(server.stderr_text().find(secret), std::string::npos) << "a secret reached stderr";
}

TEST(SnsEndToEndTest, SendOtpGoesThroughSnsAndTheReceivedCodeVerifies) {
    FakeSns fake(kKeys);
    auto server = start_server(sns_config(fake));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto sent = client.post_json(kSendOtp, send_body("+1", "202-555-0143"));
    ASSERT_EQ(sent.status, 200) << sent.body;

    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].rejected_with, "") << "the fake's SigV4 check must pass";
    EXPECT_EQ(requests[0].params.at("PhoneNumber"), "+12025550143");
    EXPECT_EQ(requests[0].params.at("MessageAttributes.entry.1.Value.StringValue"), "Transactional");
    const std::string code = code_in_text(requests[0].params.at("Message"));
    ASSERT_EQ(code.size(), 6u) << requests[0].params.at("Message");

    const auto verified = client.post_json(kVerifyOtp, verify_body("+1", "2025550143", code));
    ASSERT_EQ(verified.status, 200) << verified.body;
    EXPECT_FALSE(json_string(parse_json(verified.body), "access_token").empty());

    const auto line = wait_for_event(*server, "sms.sns.sent", 5s);
    ASSERT_TRUE(line.has_value());
    EXPECT_EQ(json_string(parse_json(*line), "message_id"), requests[0].message_id);
    EXPECT_EQ(json_string(parse_json(*line), "plugin"), "sns");

    const auto health = HttpClient(server->admin_port()).get(kAdminHealth);
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_NE(health.body.find("\"name\":\"sns\""), std::string::npos) << health.body;
    expect_secret_never_printed(*server, kKeys.secret_access_key);
}

TEST(SnsEndToEndTest, CredentialsComeFromTheStandardAwsVariablesAndTheSeedName) {
    FakeSnsKeys keys = kKeys;
    keys.access_key_id = "ASIAIOSFODNN7EXAMPLE";
    keys.region = "eu-west-1";
    keys.session_token = "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken/+=";
    FakeSns fake(keys);
    TestConfig config;
    config.sms["provider"] = "console";  // SMS_PROVIDER overrides it with the seed's name
    config.sms_sections["sns"]["endpoint"] = yaml_quoted(fake.endpoint());
    auto server = start_server(config, {{"SMS_PROVIDER", "aws_sns"},
                                        {"AWS_REGION", keys.region},
                                        {"AWS_ACCESS_KEY_ID", keys.access_key_id},
                                        {"AWS_SECRET_ACCESS_KEY", keys.secret_access_key},
                                        {"AWS_SESSION_TOKEN", keys.session_token}});
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    const auto sent = client.post_json(kSendOtp, send_body("+44", "7400123456"));
    EXPECT_EQ(sent.status, 200) << sent.body;
    ASSERT_EQ(fake.request_count(), 1u);
    EXPECT_EQ(fake.requests()[0].rejected_with, "");
    EXPECT_EQ(fake.requests()[0].header("X-Amz-Security-Token"), keys.session_token);
    expect_secret_never_printed(*server, keys.secret_access_key);
    expect_secret_never_printed(*server, keys.session_token);
}

TEST(SnsEndToEndTest, CheckConfigMasksTheSecrets) {
    FakeSnsKeys keys = kKeys;
    keys.session_token = "session-token-for-check-config";
    FakeSns fake(keys);
    TestConfig config = sns_config(fake, keys);
    config.sms_sections["sns"]["session_token"] = yaml_quoted(keys.session_token);
    auto checked = config.spec();
    checked.args.push_back("--check-config");
    const auto check = ServerProcess::run_to_exit(checked);
    EXPECT_EQ(check.exit_code, 0) << check.stderr_text;
    EXPECT_NE(check.stdout_text.find("sms.sns.secret_access_key"), std::string::npos) << check.stdout_text;
    EXPECT_EQ(check.stdout_text.find(keys.secret_access_key), std::string::npos) << check.stdout_text;
    EXPECT_EQ(check.stdout_text.find(keys.session_token), std::string::npos) << check.stdout_text;
}

TEST(SnsEndToEndTest, AWrongSecretIsAProviderErrorAndMakesHealthDown) {
    FakeSns fake(kKeys);
    FakeSnsKeys wrong = kKeys;
    wrong.secret_access_key = "not-the-secret-the-fake-knows-0000000000";
    auto server = start_server(sns_config(fake, wrong));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_TRUE(
        is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550123")), 502, "SMS_PROVIDER_ERROR"));
    EXPECT_EQ(fake.request_count(), 1u) << "not retried";
    EXPECT_EQ(fake.requests()[0].rejected_with, "SignatureDoesNotMatch");

    const auto line = wait_for_event(*server, "sms.sns.misconfigured", 5s);
    ASSERT_TRUE(line.has_value());
    const auto logged = parse_json(*line);
    EXPECT_EQ(json_string(logged, "level"), "error");
    EXPECT_EQ(json_string(logged, "aws_code"), "SignatureDoesNotMatch");

    const auto health = HttpClient(server->admin_port()).get(kAdminHealth);
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_NE(health.body.find("\"state\":\"down\""), std::string::npos) << health.body;
    EXPECT_NE(health.body.find("SignatureDoesNotMatch"), std::string::npos) << health.body;
    expect_secret_never_printed(*server, wrong.secret_access_key);
}

TEST(SnsEndToEndTest, ANumberSnsRejectsIsRecipientRejected) {
    FakeSns fake(kKeys);
    fake.script({error_fixture_reply("InvalidParameter")});
    auto server = start_server(sns_config(fake));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550199")), 422,
                             "RECIPIENT_REJECTED", "mobile_number"));
    EXPECT_EQ(client.get(kHealth).status, 200) << "the caller's fault leaves health alone";
}

TEST(SnsEndToEndTest, PersistentThrottlingIsProviderUnavailableAndItsCodeIsGone) {
    FakeSns fake(kKeys);
    const auto throttled = error_fixture_reply("Throttling");
    fake.script({throttled, throttled});
    auto server = start_server(sns_config(fake));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550124")), 502,
                             "SMS_PROVIDER_UNAVAILABLE"));
    ASSERT_EQ(fake.request_count(), 2u) << "max_attempts: 2";
    const std::string code = code_in_text(fake.requests()[0].params.at("Message"));
    EXPECT_TRUE(is_api_error(client.post_json(kVerifyOtp, verify_body("+1", "2025550124", code)), 400,
                             "INVALID_OTP"));
    EXPECT_TRUE(wait_for_event(*server, "sms.sns.retry", 5s).has_value());
}

// SNS had the request when the timeout came: it may have published, so the code stays valid.
TEST(SnsEndToEndTest, SnsSlowerThanTheSmsTimeoutIsUncertainAndItsCodeStillVerifies) {
    FakeSns fake(kKeys);
    FakeReply slow;
    slow.delay = 5s;
    fake.script({slow});
    TestConfig config = sns_config(fake);
    config.sms["timeout_ms"] = "400";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550125")), 502,
                             "SMS_DELIVERY_UNCERTAIN"));
    ASSERT_EQ(fake.request_count(), 1u);
    const std::string code = code_in_text(fake.requests()[0].params.at("Message"));
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550125", code)).status, 200);
    EXPECT_TRUE(wait_for_event(*server, "sms.sns.uncertain", 5s).has_value());
}

TEST(SnsEndToEndTest, AMalformedSectionStopsStartUpNamingTheKey) {
    FakeSns fake(kKeys);
    TestConfig config = sns_config(fake);
    config.sms_sections["sns"]["sms_type"] = "Urgent";
    const auto result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("sms.sns.sms_type"), std::string::npos) << result.stderr_text;
}

}  // namespace
}  // namespace testino::test
