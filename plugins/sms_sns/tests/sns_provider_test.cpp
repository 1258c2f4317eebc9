// SnsProvider against the fake SNS: what is sent, and every mapping of an answer (or of no
// answer) to a SendStatus, a log line and the provider's health; retries, timeouts,
// connection reuse, and that no secret reaches a log or a result.
#include "sns_provider.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <thread>

#include "fake_sns.hpp"
#include "plugin_doubles.hpp"
#include "raw_listener.hpp"
#include "traceparent_checks.hpp"

namespace testino::sdk {
// Readable failure output for EXPECT_EQ on statuses (found by ADL).
void PrintTo(SendStatus status, std::ostream* out) {
    static const char* names[] = {"sent", "invalid_recipient", "misconfigured", "unavailable", "uncertain"};
    *out << names[static_cast<int>(status)];
}
}  // namespace testino::sdk

namespace testino::plugins::sns {
namespace {

using namespace std::chrono_literals;
using sdk::SendStatus;
using test::error_fixture_reply;
using test::FakeReply;
using test::FakeSns;
using test::FakeSnsKeys;
using test_support::RecordingHost;

const FakeSnsKeys kKeys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "us-east-1"};
const std::string kText = "Your Testino code is 123456. It expires in 5 minutes.";

SnsSettings settings_for(const FakeSns& fake, const FakeSnsKeys& keys = kKeys) {
    SnsSettings settings;
    settings.region = keys.region;
    settings.credentials = {keys.access_key_id, keys.secret_access_key, keys.session_token};
    settings.endpoint = parse_endpoint(fake.endpoint(), keys.region);
    settings.connect_timeout = 1000ms;
    settings.retry = {3, 10ms, 40ms};  // short pauses keep the suite fast
    return settings;
}

sdk::SmsMessage message_to(const std::string& to = "+12025550123") { return {to, kText, "123456", "req-1"}; }

std::chrono::steady_clock::time_point in(std::chrono::milliseconds budget) {
    return std::chrono::steady_clock::now() + budget;
}

// Every field of every log line, and the results' details: none may hold a secret.
void expect_no_secret(const RecordingHost& host, const std::vector<std::string>& secrets,
                      const std::vector<sdk::SendResult>& results = {}) {
    for (const auto& record : host.records()) {
        for (const auto& [name, value] : record.fields) {
            for (const auto& secret : secrets) {
                EXPECT_EQ(value.find(secret), std::string::npos)
                    << record.event << "." << name << " leaks a secret: " << value;
            }
        }
    }
    for (const auto& result : results) {
        for (const auto& secret : secrets) EXPECT_EQ(result.detail.find(secret), std::string::npos);
    }
}

// A provider on the default settings, talking to its own fake SNS.
class SnsProviderTest : public ::testing::Test {
protected:
    FakeSns fake{kKeys};
    RecordingHost host;
    SnsProvider provider{settings_for(fake), host};
};

TEST_F(SnsProviderTest, SendsASignedPublishAndReportsTheMessageId) {
    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(result.message_id, "fake-message-1");
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].rejected_with, "") << "the fake's own SigV4 check must pass";
    EXPECT_EQ(requests[0].params.at("PhoneNumber"), "+12025550123");
    EXPECT_EQ(requests[0].params.at("Message"), kText);
    EXPECT_EQ(requests[0].params.at("MessageAttributes.entry.1.Name"), "AWS.SNS.SMS.SMSType");
    EXPECT_EQ(requests[0].params.at("MessageAttributes.entry.1.Value.StringValue"), "Transactional");
    EXPECT_EQ(requests[0].params.count("MessageAttributes.entry.2.Name"), 0u);
    EXPECT_EQ(requests[0].header("Content-Type"), kFormContentType);
    EXPECT_EQ(requests[0].header("X-Amz-Security-Token"), std::nullopt);
    EXPECT_EQ(requests[0].header("traceparent"), std::nullopt) << "no trace, no header";

    const auto sent = host.records_of("sms.sns.sent");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].field("message_id"), "fake-message-1");
    EXPECT_EQ(sent[0].field("request_id"), "req-1");
    EXPECT_EQ(sent[0].field("attempts"), "1");
    EXPECT_TRUE(provider.health().healthy);
}

TEST_F(SnsProviderTest, SenderIdMaxPriceAndPromotionalTypeAreMessageAttributes) {
    SnsSettings settings = settings_for(fake);
    settings.sms_type = "Promotional";
    settings.sender_id = "Testino";
    settings.max_price = "0.50";
    SnsProvider custom(settings, host);

    ASSERT_EQ(custom.send(message_to(), in(5s)).status, SendStatus::sent);
    const auto params = fake.requests().at(0).params;
    EXPECT_EQ(params.at("MessageAttributes.entry.1.Value.StringValue"), "Promotional");
    EXPECT_EQ(params.at("MessageAttributes.entry.2.Name"), "AWS.SNS.SMS.SenderID");
    EXPECT_EQ(params.at("MessageAttributes.entry.2.Value.StringValue"), "Testino");
    EXPECT_EQ(params.at("MessageAttributes.entry.3.Name"), "AWS.SNS.SMS.MaxPrice");
    EXPECT_EQ(params.at("MessageAttributes.entry.3.Value.DataType"), "Number");
    EXPECT_EQ(params.at("MessageAttributes.entry.3.Value.StringValue"), "0.50");
}

TEST(SnsProviderSetupTest, TemporaryCredentialsSendTheSessionToken) {
    FakeSnsKeys keys = kKeys;
    keys.access_key_id = "ASIAIOSFODNN7EXAMPLE";
    keys.session_token = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=padding==";
    FakeSns fake(keys);
    RecordingHost host;
    SnsProvider provider(settings_for(fake, keys), host);

    EXPECT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::sent);
    EXPECT_EQ(fake.requests().at(0).header("X-Amz-Security-Token"), keys.session_token);
}

struct OpsFaultCase {
    const char* name;
    std::function<void(SnsSettings&, FakeSns&)> arrange;
    const char* aws_code;
};

class SnsOpsFaultTest : public ::testing::TestWithParam<OpsFaultCase> {};

// Each of these is the operator's to fix: misconfigured (HTTP 502), an error log naming the
// AWS code and a hint, health down, no retry, no secret anywhere.
TEST_P(SnsOpsFaultTest, IsMisconfiguredUnhealthyLoggedAndNotRetried) {
    FakeSnsKeys keys = kKeys;
    keys.session_token = "the-session-token-value";
    FakeSns fake(keys);
    RecordingHost host;
    SnsSettings settings = settings_for(fake, keys);
    GetParam().arrange(settings, fake);
    SnsProvider provider(settings, host);

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::misconfigured);
    EXPECT_NE(result.detail.find(GetParam().aws_code), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 1u) << "an ops fault is not retried";
    const auto logged = host.records_of("sms.sns.misconfigured");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].level, sdk::LogLevel::error);
    EXPECT_EQ(logged[0].field("aws_code"), GetParam().aws_code);
    EXPECT_FALSE(logged[0].field("hint").value_or("").empty());
    const auto health = provider.health();
    EXPECT_FALSE(health.healthy);
    EXPECT_NE(health.detail.find(GetParam().aws_code), std::string::npos) << health.detail;
    expect_no_secret(host, {kKeys.secret_access_key, "the-session-token-value"}, {result});
}

INSTANTIATE_TEST_SUITE_P(
    AuthAndSignature, SnsOpsFaultTest,
    ::testing::Values(
        OpsFaultCase{"WrongSecret", [](SnsSettings& s, FakeSns&) { s.credentials.secret_access_key += "x"; },
                     "SignatureDoesNotMatch"},
        OpsFaultCase{"UnknownAccessKey",
                     [](SnsSettings& s, FakeSns&) { s.credentials.access_key_id = "AKIAUNKNOWN0000000000"; },
                     "InvalidClientTokenId"},
        OpsFaultCase{"WrongSessionToken",
                     [](SnsSettings& s, FakeSns&) { s.credentials.session_token = "stale-token"; },
                     "InvalidClientTokenId"},
        OpsFaultCase{"WrongRegion", [](SnsSettings& s, FakeSns&) { s.region = "eu-west-1"; },
                     "SignatureDoesNotMatch"},
        OpsFaultCase{"ClockTwentyMinutesSlow",
                     [](SnsSettings& s, FakeSns&) {
                         s.clock = [] { return std::chrono::system_clock::now() - 20min; };
                     },
                     "RequestExpired"},
        OpsFaultCase{"NoSnsPublishPermission",
                     [](SnsSettings&, FakeSns& f) { f.script({error_fixture_reply("AuthorizationError")}); },
                     "AuthorizationError"},
        OpsFaultCase{"SenderIdRejected",
                     [](SnsSettings& s, FakeSns& f) {
                         s.sender_id = "Testino";
                         f.script({{400,
                                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter"
                                    "</Code><Message>Invalid parameter: MessageAttributes.entry.2 "
                                    "AWS.SNS.SMS.SenderID</Message></Error></ErrorResponse>"}});
                     },
                     "InvalidParameter"}),
    [](const ::testing::TestParamInfo<OpsFaultCase>& info) { return std::string(info.param.name); });

TEST_F(SnsProviderTest, HealthRecoversWhenALaterSendSucceeds) {
    fake.script({error_fixture_reply("AuthorizationError")});

    EXPECT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::misconfigured);
    EXPECT_FALSE(provider.health().healthy);
    EXPECT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::sent);
    EXPECT_TRUE(provider.health().healthy);
    EXPECT_EQ(provider.health().detail, "");
}

TEST_F(SnsProviderTest, BadNumberIsTheCallersFaultWithTheReasonForTheLogs) {
    fake.script({error_fixture_reply("InvalidParameter")});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::invalid_recipient);
    EXPECT_NE(result.detail.find("Amazon SNS refused the phone number: InvalidParameter: "),
              std::string::npos)
        << result.detail;
    EXPECT_EQ(fake.request_count(), 1u) << "a bad number is not retried";
    EXPECT_TRUE(provider.health().healthy) << "the caller's fault says nothing about ours";
    const auto logged = host.records_of("sms.sns.rejected_recipient");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].field("aws_code"), "InvalidParameter");
    EXPECT_EQ(logged[0].field("aws_request_id"), "00000000-0000-0000-0000-000000000001");
}

struct ThrottleCase {
    const char* name;
    FakeReply reply;
    const char* reason;  // what the retry log line names
};
void PrintTo(const ThrottleCase& c, std::ostream* out) { *out << c.name; }

class SnsRetryTest : public SnsProviderTest, public ::testing::WithParamInterface<ThrottleCase> {};

// Throttling is retried with backoff (SNS denied the request: nothing was published); the
// next answer counts.
TEST_P(SnsRetryTest, ThrottlingIsRetriedThenSent) {
    fake.script({GetParam().reply});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(result.message_id, "fake-message-1") << "the fake numbers successes only";
    EXPECT_EQ(fake.request_count(), 2u);
    const auto retries = host.records_of("sms.sns.retry");
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0].field("attempt"), "1");
    EXPECT_NE(retries[0].field("reason").value_or("").find(GetParam().reason), std::string::npos);
    EXPECT_EQ(host.records_of("sms.sns.sent").at(0).field("attempts"), "2");
}

// Each HTTP call (a retry too) is a child span of the server's, outside the signed headers.
TEST_F(SnsProviderTest, EachCallCarriesAChildOfTheMessagesTraceparent) {
    fake.script({error_fixture_reply("Throttling")});
    sdk::SmsMessage message = message_to();
    message.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    EXPECT_EQ(provider.send(message, in(5s)).status, SendStatus::sent);
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 2u);
    for (const auto& request : requests) {
        EXPECT_EQ(request.rejected_with, "") << "the signature still checks";
        EXPECT_TRUE(
            ::testino::test::is_child_traceparent(request.header("traceparent"), message.traceparent));
    }
    EXPECT_NE(requests[0].header("traceparent"), requests[1].header("traceparent"));
}

INSTANTIATE_TEST_SUITE_P(
    Throttled, SnsRetryTest,
    ::testing::Values(ThrottleCase{"Throttling400", error_fixture_reply("Throttling"), "HTTP 400 Throttling"},
                      ThrottleCase{"Throttled429",
                                   {429,
                                    "<ErrorResponse><Error><Type>Sender</Type><Code>ThrottledException</Code>"
                                    "<Message>Rate exceeded</Message></Error></ErrorResponse>"},
                                   "HTTP 429 ThrottledException"},
                      ThrottleCase{"Plain429", {429, "Too Many Requests"}, "HTTP 429 without"}),
    [](const ::testing::TestParamInfo<ThrottleCase>& info) { return std::string(info.param.name); });

// SNS failed while it held the whole request, perhaps after publishing: never sent twice.
TEST_F(SnsProviderTest, AnInternalErrorIsUncertainAndNotRetried) {
    fake.script({error_fixture_reply("InternalError")});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::uncertain);
    EXPECT_NE(result.detail.find("may have published"), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("InternalError"), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 1u);
    EXPECT_EQ(host.count("sms.sns.retry"), 0u);
    const auto logged = host.records_of("sms.sns.uncertain");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0].level, sdk::LogLevel::error);
    EXPECT_TRUE(provider.health().healthy) << "an outage is not an ops fault";
}

TEST_F(SnsProviderTest, PersistentThrottlingIsUnavailableAfterMaxAttempts) {
    const auto throttled = error_fixture_reply("Throttling");
    fake.script({throttled, throttled, throttled, throttled});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_NE(result.detail.find("after 3 attempts"), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("Throttling"), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 3u);
    EXPECT_EQ(host.count("sms.sns.retry"), 2u);
    ASSERT_EQ(host.count("sms.sns.unavailable"), 1u);
    EXPECT_TRUE(provider.health().healthy) << "throttling is not an ops fault";
}

TEST_F(SnsProviderTest, A5xxWithoutAnAwsDocumentIsUncertain) {
    fake.script({{503, "<html><body>Service Unavailable</body></html>"}});

    EXPECT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::uncertain);
    EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(SnsProviderTest, RetriesStopAtTheDeadline) {
    SnsSettings settings = settings_for(fake);
    settings.retry = {10, 100ms, 100ms};
    SnsProvider custom(settings, host);
    fake.script(std::vector<FakeReply>(10, error_fixture_reply("Throttling")));

    const auto result = custom.send(message_to(), in(350ms));

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_LT(fake.request_count(), 10u) << "no pause may end past the deadline";
    EXPECT_GE(fake.request_count(), 2u);
}

TEST_F(SnsProviderTest, NoAnswerBeforeTheDeadlineIsUncertainAndNotRetried) {
    FakeReply slow;
    slow.delay = 3s;
    fake.script({slow});

    const auto result = provider.send(message_to(), in(300ms));

    EXPECT_EQ(result.status, SendStatus::uncertain);
    EXPECT_NE(result.detail.find("timed out"), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 1u);
    EXPECT_TRUE(provider.health().healthy);
}

TEST_F(SnsProviderTest, AConnectionDroppedAfterTheRequestIsUncertainAndNotRetried) {
    FakeReply dropped;
    dropped.close_without_answer = true;
    fake.script({dropped});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::uncertain);
    EXPECT_NE(result.detail.find("after the request was sent"), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 1u);
    EXPECT_EQ(host.count("sms.sns.retry"), 0u);
}

// Nothing of the request left: SNS cannot have published, so retrying is safe.
TEST(SnsProviderSetupTest, AConnectTimeoutIsRetriedThenUnavailable) {
    testino::test::RawListener full_queue(testino::test::RawBehaviour::never_accept);
    SnsSettings settings;
    {
        FakeSns unused(kKeys);
        settings = settings_for(unused);
    }
    settings.endpoint = parse_endpoint(full_queue.http_url(), kKeys.region);
    settings.connect_timeout = 200ms;
    settings.retry = {2, 10ms, 10ms};
    RecordingHost host;
    SnsProvider provider(settings, host);

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::unavailable) << result.detail;
    EXPECT_NE(result.detail.find("after 2 attempts"), std::string::npos) << result.detail;
    EXPECT_EQ(host.count("sms.sns.retry"), 1u);
}

TEST(SnsProviderSetupTest, NothingListeningIsRetriedThenUnavailable) {
    SnsSettings settings;
    {
        FakeSns gone(kKeys);
        settings = settings_for(gone);
    }  // the port is closed now
    RecordingHost host;
    SnsProvider provider(settings, host);

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_NE(result.detail.find("no answer"), std::string::npos) << result.detail;
    EXPECT_EQ(host.count("sms.sns.retry"), 2u);
}

TEST_F(SnsProviderTest, AnUnknownClientErrorIsUnavailableWithoutRetry) {
    fake.script({{404,
                  "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code>"
                  "<Message>Endpoint does not exist</Message></Error></ErrorResponse>"}});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::unavailable);
    EXPECT_NE(result.detail.find("NotFound"), std::string::npos) << result.detail;
    EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(SnsProviderTest, ASuccessWithoutAMessageIdIsUncertain) {
    fake.script({{200, "<PublishResponse><PublishResult/></PublishResponse>"}});

    EXPECT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::uncertain);
    EXPECT_EQ(fake.request_count(), 1u);
}

TEST_F(SnsProviderTest, ConsecutiveSendsReuseOneConnection) {
    for (int i = 0; i < 3; ++i) ASSERT_EQ(provider.send(message_to(), in(5s)).status, SendStatus::sent);
    EXPECT_EQ(fake.connection_count(), 1);
}

TEST_F(SnsProviderTest, ConcurrentSendsAreAllSentWithDistinctIds) {
    constexpr int kThreads = 4;
    constexpr int kSendsPerThread = 5;
    std::vector<std::vector<sdk::SendResult>> results(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kSendsPerThread; ++i)
                results[t].push_back(provider.send(message_to(), in(5s)));
        });
    }
    for (auto& thread : threads) thread.join();

    std::set<std::string> ids;
    for (const auto& per_thread : results) {
        for (const auto& result : per_thread) {
            EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
            ids.insert(result.message_id);
        }
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kSendsPerThread));
    for (const auto& request : fake.requests()) EXPECT_EQ(request.rejected_with, "");
}

TEST(SnsProviderSetupTest, AwsMessagesQuotingTheCanonicalRequestAreScrubbed) {
    FakeSnsKeys keys = kKeys;
    keys.session_token = "the-session-token-value";
    FakeSns fake(keys);
    RecordingHost host;
    SnsProvider provider(settings_for(fake, keys), host);
    // Real AWS quotes the canonical request (token included) in SignatureDoesNotMatch.
    fake.script({{403,
                  "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
                  "<Message>The request signature we calculated does not match. The Canonical "
                  "String for this request should have been 'POST\n/\n\nx-amz-security-token:"
                  "the-session-token-value' and the key " +
                      kKeys.secret_access_key + "</Message></Error></ErrorResponse>"}});

    const auto result = provider.send(message_to(), in(5s));

    EXPECT_EQ(result.status, SendStatus::misconfigured);
    const auto logged = host.records_of("sms.sns.misconfigured").at(0);
    EXPECT_EQ(logged.field("aws_message"), "The request signature we calculated does not match.");
    expect_no_secret(host, {kKeys.secret_access_key, "the-session-token-value"}, {result});
}

TEST(SnsClassifyTest, MapsCodesNotMessages) {
    const auto kind_of = [](long status, const std::string& code, const std::string& message = "") {
        http::Response response;
        response.status = status;
        response.body = "<ErrorResponse><Error><Code>" + code + "</Code><Message>" + message +
                        "</Message></Error></ErrorResponse>";
        return classify_reply(response).kind;
    };
    EXPECT_EQ(kind_of(400, "InvalidParameter", "Invalid parameter: PhoneNumber"),
              ReplyKind::invalid_recipient);
    EXPECT_EQ(kind_of(400, "ParameterValueInvalid", "bad phone number"), ReplyKind::invalid_recipient);
    EXPECT_EQ(kind_of(400, "InvalidParameter", "Invalid parameter: Message too long"),
              ReplyKind::misconfigured);
    EXPECT_EQ(kind_of(403, "ExpiredToken"), ReplyKind::misconfigured);
    EXPECT_EQ(kind_of(400, "IncompleteSignature"), ReplyKind::misconfigured);
    EXPECT_EQ(kind_of(429, "ThrottlingException"), ReplyKind::retryable);
    EXPECT_EQ(kind_of(400, "Throttling"), ReplyKind::retryable);
    EXPECT_EQ(kind_of(500, "InternalError"), ReplyKind::uncertain);
    EXPECT_EQ(kind_of(500, "SomethingNew"), ReplyKind::uncertain);
    EXPECT_EQ(kind_of(503, "Throttling"), ReplyKind::uncertain) << "a 5xx may follow a publish";
    EXPECT_EQ(kind_of(400, "SomethingNew"), ReplyKind::failed);

    http::Response timed_out;
    timed_out.timed_out = true;
    timed_out.transport_error = "Operation timed out";
    EXPECT_EQ(classify_reply(timed_out).kind, ReplyKind::uncertain);
    http::Response connect_timed_out = timed_out;
    connect_timed_out.nothing_sent = true;
    EXPECT_EQ(classify_reply(connect_timed_out).kind, ReplyKind::retryable);
    http::Response refused;
    refused.transport_error = "Connection refused";
    refused.nothing_sent = true;
    EXPECT_EQ(classify_reply(refused).kind, ReplyKind::retryable);
    http::Response reset = refused;
    reset.nothing_sent = false;
    reset.transport_error = "Connection reset by peer";
    EXPECT_EQ(classify_reply(reset).kind, ReplyKind::uncertain);
}

}  // namespace
}  // namespace testino::plugins::sns
