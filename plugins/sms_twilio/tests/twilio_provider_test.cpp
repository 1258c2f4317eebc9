// The twilio provider's sends against the fake Twilio (every error mapping, retries,
// timeouts) and against listeners that fail on purpose, then the built sms_twilio.so as the
// server loads it. Its settings checks: twilio_settings_test.cpp.
#include "twilio_provider.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_twilio.hpp"
#include "plugin_doubles.hpp"
#include "raw_listener.hpp"
#include "traceparent_checks.hpp"
#include "twilio_test_values.hpp"

namespace testino::plugins::twilio {
namespace {

using namespace std::chrono_literals;
using sdk::ConfigError;
using sdk::SendStatus;
using test::FakeTwilio;
using test::kFakeAccountSid;
using test::kFakeAuthToken;
using test::kFakeFrom;
using test::kFakeServiceSid;
using test::RawBehaviour;
using test::RawListener;
using test::twilio_error;
using test_support::MapConfigView;
using test_support::RecordingHost;
using Clock = std::chrono::steady_clock;

constexpr const char* kCode = "482913";
const sdk::SmsMessage kMessage{"+12025550123", "Your Testino code is 482913. It expires in 5 minutes.", kCode,
                               "req-7"};

// A loopback port nothing listens on: bound to port 0, then closed.
int closed_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// No log line may carry the code, the message text or the auth token.
void expect_no_secrets_logged(const RecordingHost& host) {
    for (const auto& record : host.records()) {
        for (const auto& [name, value] : record.fields) {
            EXPECT_EQ(value.find(kCode), std::string::npos) << record.event << "." << name << ": " << value;
            EXPECT_EQ(value.find(kFakeAuthToken), std::string::npos) << record.event << "." << name;
        }
    }
}

// A provider pointed at a fresh fake Twilio, with a recording host.
class TwilioProviderTest : public ::testing::Test {
protected:
    TwilioProvider& provider(std::map<std::string, std::string> overrides = {}) {
        auto values = valid_values(fake_.base_url());
        for (const auto& [key, value] : overrides) {
            if (value.empty()) {
                values.erase(key);
            } else {
                values[key] = value;
            }
        }
        provider_ = std::make_unique<TwilioProvider>(settings_from(values), host_);
        return *provider_;
    }
    sdk::SendResult send(std::chrono::milliseconds budget = 5s) {
        return provider_->send(kMessage, Clock::now() + budget);
    }
    void TearDown() override { expect_no_secrets_logged(host_); }

    FakeTwilio fake_;
    RecordingHost host_;
    std::unique_ptr<TwilioProvider> provider_;
};

TEST_F(TwilioProviderTest, SendsTheMessageAsTwilioExpectsAndReturnsTheSid) {
    provider();
    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(result.message_id, "SM00000000000000000000000000000001");
    EXPECT_TRUE(fake_.rejections().empty()) << fake_.rejections().front();
    const auto messages = fake_.messages();
    ASSERT_EQ(messages.size(), 1u);
    const std::map<std::string, std::string> expected{
        {"To", "+12025550123"}, {"From", kFakeFrom}, {"Body", kMessage.text}};
    EXPECT_EQ(messages[0].fields, expected);
    const auto request = fake_.requests().at(0);
    EXPECT_EQ(request.header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(request.header("traceparent"), std::nullopt) << "no trace, no header";

    const auto sent = host_.records_of("sms.twilio.sent");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].level, sdk::LogLevel::info);
    EXPECT_EQ(sent[0].field("sid"), "SM00000000000000000000000000000001");
    EXPECT_EQ(sent[0].field("request_id"), "req-7");
    EXPECT_TRUE(provider_->health().healthy);
}

// Each HTTP call (a retry too) is a child span of the server's: its own span id.
TEST_F(TwilioProviderTest, EachCallCarriesAChildOfTheMessagesTraceparent) {
    provider();
    fake_.answer_next(twilio_error(20429));
    sdk::SmsMessage message = kMessage;
    message.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    EXPECT_EQ(provider_->send(message, Clock::now() + 5s).status, SendStatus::sent);

    const auto requests = fake_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_TRUE(
        ::testino::test::is_child_traceparent(requests[0].header("traceparent"), message.traceparent));
    EXPECT_TRUE(
        ::testino::test::is_child_traceparent(requests[1].header("traceparent"), message.traceparent));
    EXPECT_NE(requests[0].header("traceparent"), requests[1].header("traceparent"));
}

TEST_F(TwilioProviderTest, SendsThroughAMessagingServiceWhenConfigured) {
    provider({{"from", ""}, {"messaging_service_sid", kFakeServiceSid}});
    EXPECT_EQ(send().status, SendStatus::sent);
    const auto messages = fake_.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].field("MessagingServiceSid"), kFakeServiceSid);
    EXPECT_EQ(messages[0].fields.count("From"), 0u);
}

TEST_F(TwilioProviderTest, ReusesItsConnectionToTwilio) {
    provider();
    ASSERT_EQ(send().status, SendStatus::sent);
    ASSERT_EQ(send().status, SendStatus::sent);
    const auto requests = fake_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].peer_port, requests[1].peer_port);
}

struct RecipientCase {
    int code;
    const char* detail_part;
};

class TwilioRecipientErrorTest : public TwilioProviderTest,
                                 public ::testing::WithParamInterface<RecipientCase> {};

TEST_P(TwilioRecipientErrorTest, IsTheCallersFaultWithTheReasonForTheLogsAndNoRetry) {
    provider();
    fake_.answer_next(twilio_error(GetParam().code));

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::invalid_recipient);
    EXPECT_NE(result.detail.find(GetParam().detail_part), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("Twilio error " + std::to_string(GetParam().code)), std::string::npos)
        << "the logs name Twilio's code: " << result.detail;
    EXPECT_EQ(fake_.request_count(), 1u);
    const auto rejected = host_.records_of("sms.twilio.rejected");
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].level, sdk::LogLevel::warn);
    EXPECT_EQ(rejected[0].field("twilio_code"), std::to_string(GetParam().code));
    EXPECT_EQ(rejected[0].field("http_status"), "400");
    EXPECT_NE(rejected[0].field("twilio_message").value_or(""), "");
    EXPECT_TRUE(provider_->health().healthy) << "a bad number says nothing about the provider";
}

INSTANTIATE_TEST_SUITE_P(NumberErrors, TwilioRecipientErrorTest,
                         ::testing::Values(RecipientCase{21211, "not a valid phone number"},
                                           RecipientCase{21614, "not a mobile number"},
                                           RecipientCase{21610, "unsubscribed"},
                                           RecipientCase{21608, "not allowed to send SMS to the number"},
                                           RecipientCase{21612, "cannot be reached"}),
                         [](const auto& info) { return "Code" + std::to_string(info.param.code); });

TEST_F(TwilioProviderTest, RejectedCredentialsAreAnOpsFaultThatMakesItUnhealthyUntilASendWorks) {
    provider();
    fake_.answer_next(twilio_error(20003));

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::misconfigured);
    EXPECT_NE(result.detail.find("credentials"), std::string::npos) << result.detail;
    EXPECT_EQ(fake_.request_count(), 1u) << "not retried";
    const auto failed = host_.records_of("sms.twilio.auth_failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].level, sdk::LogLevel::error);
    EXPECT_EQ(failed[0].field("twilio_code"), "20003");
    EXPECT_EQ(failed[0].field("http_status"), "401");
    EXPECT_FALSE(provider_->health().healthy);
    EXPECT_NE(provider_->health().detail.find("auth_token"), std::string::npos);

    EXPECT_EQ(send().status, SendStatus::sent);
    EXPECT_TRUE(provider_->health().healthy);
}

TEST_F(TwilioProviderTest, AWrongAuthTokenIsRefusedByTheFakeAsByTwilio) {
    provider({{"auth_token", "ffeeddccbbaa99887766554433221100"}});

    EXPECT_EQ(send().status, SendStatus::misconfigured);
    EXPECT_EQ(fake_.rejections(), std::vector<std::string>{"authentication failed"});
    EXPECT_EQ(host_.count("sms.twilio.auth_failed"), 1u);
    EXPECT_FALSE(provider_->health().healthy);
}

TEST_F(TwilioProviderTest, ASenderTwilioRefusesIsAnOpsFault) {
    provider();
    fake_.answer_next(twilio_error(21606));

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::misconfigured);
    EXPECT_NE(result.detail.find("sms.twilio.from"), std::string::npos) << result.detail;
    EXPECT_EQ(host_.count("sms.twilio.misconfigured"), 1u);
    EXPECT_FALSE(provider_->health().healthy);
}

TEST_F(TwilioProviderTest, TooManyRequestsIsRetriedThenSent) {
    provider();
    fake_.answer_next(twilio_error(20429));

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(fake_.request_count(), 2u);
    const auto retries = host_.records_of("sms.twilio.retry");
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0].field("attempt"), "1");
    EXPECT_EQ(retries[0].field("http_status"), "429");
    EXPECT_EQ(retries[0].field("twilio_code"), "20429");
    EXPECT_EQ(host_.records_of("sms.twilio.sent").at(0).field("attempts"), "2");
}

TEST_F(TwilioProviderTest, PersistentTooManyRequestsIsUnavailableAfterMaxAttempts) {
    provider({{"max_attempts", "3"}});
    fake_.answer_next(twilio_error(20429), 3);

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::unavailable) << "Twilio never processes a 429";
    EXPECT_NE(result.detail.find("HTTP 429"), std::string::npos) << result.detail;
    EXPECT_EQ(fake_.request_count(), 3u);
    EXPECT_EQ(host_.count("sms.twilio.retry"), 2u);
    const auto failed = host_.records_of("sms.twilio.failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].field("attempts"), "3");
    EXPECT_EQ(failed[0].field("twilio_code"), "20429");
    EXPECT_TRUE(provider_->health().healthy) << "throttling is not a misconfiguration";
}

class TwilioServerErrorTest : public TwilioProviderTest, public ::testing::WithParamInterface<int> {};

// Twilio failed after it had the whole request: the message may exist, so no second try.
TEST_P(TwilioServerErrorTest, IsUncertainAndNotRetried) {
    provider({{"max_attempts", "3"}});
    fake_.answer_next(twilio_error(GetParam()), 3);

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::uncertain);
    EXPECT_NE(result.detail.find("may have accepted"), std::string::npos) << result.detail;
    EXPECT_EQ(fake_.request_count(), 1u);
    EXPECT_EQ(host_.count("sms.twilio.retry"), 0u);
    const auto logged = host_.records_of("sms.twilio.uncertain");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].level, sdk::LogLevel::error);
    EXPECT_EQ(logged[0].field("twilio_code"), std::to_string(GetParam()));
    EXPECT_TRUE(provider_->health().healthy) << "an outage is not a misconfiguration";
}

INSTANTIATE_TEST_SUITE_P(FiveHundreds, TwilioServerErrorTest, ::testing::Values(20500, 20503),
                         [](const auto& info) { return "Code" + std::to_string(info.param); });

TEST_F(TwilioProviderTest, RetriesStopWhenTheNextPauseWouldPassTheDeadline) {
    provider({{"retry_backoff_ms", "2000"}, {"retry_max_backoff_ms", "4000"}, {"max_attempts", "5"}});
    fake_.answer_next(twilio_error(20429), 5);

    const auto result = send(500ms);

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_EQ(fake_.request_count(), 1u);
    EXPECT_EQ(host_.count("sms.twilio.retry"), 0u);
}

TEST_F(TwilioProviderTest, NoAnswerBeforeTheDeadlineIsUncertainAndNotRetried) {
    provider();
    fake_.answer_next({201, 0, "", 1500ms});

    const auto result = send(300ms);

    EXPECT_EQ(result.status, SendStatus::uncertain);
    EXPECT_NE(result.detail.find("deadline"), std::string::npos) << result.detail;
    EXPECT_EQ(fake_.request_count(), 1u);
    EXPECT_EQ(host_.count("sms.twilio.uncertain"), 1u);
}

TEST_F(TwilioProviderTest, AnUnknownClientErrorIsUnavailableAndNotRetried) {
    provider();
    fake_.answer_next(twilio_error(21617));

    const auto result = send();

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_NE(result.detail.find("21617"), std::string::npos) << result.detail;
    EXPECT_EQ(fake_.request_count(), 1u);
    EXPECT_TRUE(provider_->health().healthy);
}

TEST(TwilioProviderUnreachableTest, ARefusedConnectionIsRetriedThenUnavailable) {
    RecordingHost host;
    TwilioProvider provider(
        settings_from(valid_values("http://127.0.0.1:" + std::to_string(closed_loopback_port()))), host);

    const auto result = provider.send(kMessage, Clock::now() + 5s);

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_NE(result.detail.find("cannot reach Twilio"), std::string::npos) << result.detail;
    EXPECT_EQ(host.count("sms.twilio.retry"), 2u);
    EXPECT_EQ(host.count("sms.twilio.failed"), 1u);
    expect_no_secrets_logged(host);
}

// Transport failures against loopback listeners that fail on purpose.
TwilioSettings settings_at(const std::string& base_url) {
    auto values = valid_values(base_url);
    values["connect_timeout_ms"] = "200";
    values["max_attempts"] = "2";
    return settings_from(values);
}

TEST(TwilioProviderUnreachableTest, AConnectTimeoutSentNothingAndIsRetriedThenUnavailable) {
    RawListener full_queue(RawBehaviour::never_accept);
    RecordingHost host;
    TwilioProvider provider(settings_at(full_queue.http_url()), host);

    const auto result = provider.send(kMessage, Clock::now() + 5s);

    EXPECT_EQ(result.status, SendStatus::unavailable) << result.detail;
    EXPECT_NE(result.detail.find("cannot reach Twilio"), std::string::npos) << result.detail;
    EXPECT_EQ(host.count("sms.twilio.retry"), 1u);
}

TEST(TwilioProviderUnreachableTest, ATlsHandshakeThatNeverEndsIsUnavailable) {
    RawListener silent(RawBehaviour::silent);
    RecordingHost host;
    TwilioProvider provider(settings_at(silent.https_url()), host);

    const auto result = provider.send(kMessage, Clock::now() + 5s);

    EXPECT_EQ(result.status, SendStatus::unavailable) << result.detail;
    EXPECT_EQ(silent.connections(), 2u) << "each attempt stopped in its handshake";
}

TEST(TwilioProviderUnreachableTest, AConnectionDroppedAfterTheRequestIsUncertainAndNotRetried) {
    RawListener hangs_up(RawBehaviour::close_after_request);
    RecordingHost host;
    TwilioProvider provider(settings_at(hangs_up.http_url()), host);

    const auto result = provider.send(kMessage, Clock::now() + 5s);

    EXPECT_EQ(result.status, SendStatus::uncertain) << result.detail;
    EXPECT_NE(result.detail.find("after the request was sent"), std::string::npos) << result.detail;
    EXPECT_EQ(hangs_up.complete_requests(), 1u);
    EXPECT_EQ(host.count("sms.twilio.retry"), 0u);
    EXPECT_EQ(host.count("sms.twilio.uncertain"), 1u);
    expect_no_secrets_logged(host);
}

TEST(TwilioInterpretTest, MapsAnswersWithoutTwilioJson) {
    http::Response proxy_error;
    proxy_error.status = 502;
    proxy_error.body = "<html>Bad Gateway</html>";
    EXPECT_EQ(interpret(proxy_error).status, SendStatus::uncertain);
    EXPECT_FALSE(retryable(proxy_error));

    http::Response too_many;
    too_many.status = 429;
    EXPECT_EQ(interpret(too_many).status, SendStatus::unavailable);
    EXPECT_TRUE(retryable(too_many));

    http::Response unauthorized;
    unauthorized.status = 401;
    EXPECT_EQ(interpret(unauthorized).status, SendStatus::misconfigured);
    EXPECT_TRUE(interpret(unauthorized).auth_failed);

    http::Response not_found;
    not_found.status = 404;
    not_found.body = R"({"code":20404,"message":"not found","status":404})";
    EXPECT_EQ(interpret(not_found).status, SendStatus::misconfigured);

    http::Response timeout;
    timeout.timed_out = true;
    timeout.transport_error = "Operation timed out";
    EXPECT_FALSE(retryable(timeout));
    EXPECT_EQ(interpret(timeout).status, SendStatus::uncertain);

    http::Response connect_timeout = timeout;
    connect_timeout.nothing_sent = true;
    EXPECT_TRUE(retryable(connect_timeout));
    EXPECT_EQ(interpret(connect_timeout).status, SendStatus::unavailable);
}

TEST(TwilioInterpretTest, ParsesTwilioErrorJson) {
    const TwilioError error = parse_error(
        R"({"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400})");
    EXPECT_EQ(error.code, 21211);
    EXPECT_EQ(error.message, "Invalid 'To' Phone Number");
    EXPECT_EQ(error.more_info, "https://www.twilio.com/docs/errors/21211");
    EXPECT_EQ(parse_error("not json").code, 0);
    EXPECT_EQ(parse_error(R"({"code":"21211"})").code, 0);
}

TEST(SmsTwilioPluginTest, ExportsTheCurrentAbiVersionAndItsDescriptor) {
    test_support::PluginLibrary plugin(SMS_TWILIO_PLUGIN_PATH);
    EXPECT_EQ(plugin.abi_version(), sdk::kAbiVersion);
    const auto descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.kind, sdk::PluginKind::sms_provider);
    EXPECT_EQ(descriptor.name, "twilio");
    EXPECT_EQ(descriptor.version, "1.1.0");
    EXPECT_EQ(descriptor.config_keys.size(), config_keys().size());
    EXPECT_EQ(descriptor.channels,
              (std::vector<sdk::Channel>{sdk::Channel::sms, sdk::Channel::whatsapp, sdk::Channel::voice}));
}

TEST(SmsTwilioPluginTest, FactoryRejectsABadSectionAndBuildsAWorkingProvider) {
    test_support::PluginLibrary plugin(SMS_TWILIO_PLUGIN_PATH);
    const auto keys = plugin.descriptor().config_keys;
    RecordingHost host;

    auto bad = valid_values();
    bad["account_sid"] = "AC-nope";
    EXPECT_THROW(plugin.create<sdk::SmsProvider>(MapConfigView(bad, keys), host), ConfigError);

    FakeTwilio fake;
    const MapConfigView config(valid_values(fake.base_url()), keys);
    auto provider = plugin.create<sdk::SmsProvider>(config, host);
    ASSERT_NE(provider, nullptr);
    EXPECT_TRUE(provider->may_block());
    EXPECT_EQ(provider->send(kMessage, Clock::now() + 5s).status, SendStatus::sent);
    EXPECT_EQ(fake.messages().size(), 1u);
    EXPECT_EQ(host.count("sms.twilio.sent"), 1u);
}

}  // namespace
}  // namespace testino::plugins::twilio
