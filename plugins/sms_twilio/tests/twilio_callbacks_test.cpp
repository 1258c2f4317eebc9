// Twilio's status callbacks: the X-Twilio-Signature check against Twilio's documented worked
// example, refusals of anything unsigned, wrongly signed or changed, the mapping of each
// MessageStatus / CallStatus to a receipt, and StatusCallback on every request when
// status_callback_url is set.
#include <gtest/gtest.h>

#include "fake_twilio.hpp"
#include "plugin_doubles.hpp"
#include "twilio_callbacks.hpp"
#include "twilio_provider.hpp"
#include "twilio_test_values.hpp"

namespace testino::plugins::twilio {
namespace {

using namespace std::chrono_literals;
using sdk::CallbackRequest;
using sdk::ReceiptStatus;

constexpr const char* kUrl = "https://auth.example.com/api/v1/callbacks/twilio";

// The worked example of https://www.twilio.com/docs/usage/webhooks/webhooks-security
// ("Validating signatures from Twilio"; also twilio-python's tests/unit/test_request_validator.py):
// auth token 12345, a POST to https://mycompany.com/myapp.php?foo=1&bar=2 with these
// parameters, signed RSOYDt4T1cUTdK1PDd93/VVr8B8=.
TEST(TwilioSignature, MatchesTwiliosDocumentedExample) {
    const FormFields params = {{"CallSid", "CA1234567890ABCDE"},
                               {"Caller", "+14158675309"},
                               {"Digits", "1234"},
                               {"From", "+14158675309"},
                               {"To", "+18005551212"}};
    const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    EXPECT_EQ(twilio_signature("12345", url, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    // The parameters' order on the wire does not matter: they are sorted by name.
    const FormFields shuffled = {params[4], params[2], params[0], params[3], params[1]};
    EXPECT_TRUE(signature_matches("12345", url, shuffled, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    EXPECT_FALSE(signature_matches("12346", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    EXPECT_FALSE(signature_matches("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
    EXPECT_FALSE(signature_matches("12345", url, params, ""));
}

TEST(TwilioForm, DecodesPlusAndPercentEscapesAndRefusesBadOnes) {
    const auto fields = form_decode("To=%2B12025550123&Body=a+b%26c&Empty=&Flag");
    ASSERT_TRUE(fields);
    EXPECT_EQ(*fields, (FormFields{{"To", "+12025550123"}, {"Body", "a b&c"}, {"Empty", ""}, {"Flag", ""}}));
    EXPECT_FALSE(form_decode("To=%2"));
    EXPECT_FALSE(form_decode("To=%zz"));
}

CallbackRequest signed_request(const FormFields& fields, const std::string& url = kUrl,
                               const std::string& token = test::kFakeAuthToken) {
    CallbackRequest request;
    request.url = "/api/v1/callbacks/twilio";
    request.content_type = "application/x-www-form-urlencoded";
    request.body = http::form_encode(fields);
    request.headers.emplace_back("x-twilio-signature", twilio_signature(token, url, fields));
    return request;
}

sdk::CallbackResult handle(const CallbackRequest& request) {
    return handle_status_callback(test::kFakeAuthToken, kUrl, request);
}

const FormFields kDelivered = {{"AccountSid", test::kFakeAccountSid},
                               {"MessageSid", "SM00000000000000000000000000000001"},
                               {"MessageStatus", "delivered"},
                               {"To", "+12025550123"}};

TEST(TwilioStatusCallback, ASignedDeliveredMessageIsADeliveredReceipt) {
    const auto result = handle(signed_request(kDelivered));
    EXPECT_EQ(result.http_status, 200) << result.detail;
    ASSERT_EQ(result.receipts.size(), 1u);
    EXPECT_EQ(result.receipts[0].message_id, "SM00000000000000000000000000000001");
    EXPECT_EQ(result.receipts[0].status, ReceiptStatus::delivered);
}

TEST(TwilioStatusCallback, RefusesUnsignedWronglySignedAndTamperedCallbacks) {
    CallbackRequest unsigned_request = signed_request(kDelivered);
    unsigned_request.headers.clear();
    EXPECT_EQ(handle(unsigned_request).http_status, 403);
    EXPECT_EQ(handle(signed_request(kDelivered, kUrl, "ffffffffffffffffffffffffffffffff")).http_status, 403);
    EXPECT_EQ(
        handle(signed_request(kDelivered, "https://other.example.com/api/v1/callbacks/twilio")).http_status,
        403)
        << "signed for another URL";
    CallbackRequest tampered = signed_request(kDelivered);
    tampered.body =
        http::form_encode({kDelivered[0], kDelivered[1], {"MessageStatus", "failed"}, kDelivered[3]});
    const auto refused = handle(tampered);
    EXPECT_EQ(refused.http_status, 403);
    EXPECT_TRUE(refused.receipts.empty());
    EXPECT_EQ(refused.detail.find(test::kFakeAuthToken), std::string::npos);
}

TEST(TwilioStatusCallback, ANonFormBodyOrOneWithoutASidIs400) {
    CallbackRequest json = signed_request(kDelivered);
    json.content_type = "application/json";
    EXPECT_EQ(handle(json).http_status, 400);
    EXPECT_EQ(handle(signed_request({{"AccountSid", test::kFakeAccountSid}})).http_status, 400);
    CallbackRequest charset = signed_request(kDelivered);
    charset.content_type = "application/x-www-form-urlencoded; charset=utf-8";
    EXPECT_EQ(handle(charset).http_status, 200);
}

TEST(TwilioStatusCallback, MapsEachMessageAndCallStatus) {
    struct Case {
        const char* sid_name;
        const char* status_name;
        const char* status;
        const char* error_code;
        std::optional<ReceiptStatus> expected;
        const char* reason;
    };
    const Case cases[] = {
        {"MessageSid", "MessageStatus", "delivered", "", ReceiptStatus::delivered, ""},
        {"MessageSid", "MessageStatus", "read", "", ReceiptStatus::delivered, ""},
        {"MessageSid", "MessageStatus", "undelivered", "30003", ReceiptStatus::failed, "30003"},
        {"MessageSid", "MessageStatus", "failed", "30008", ReceiptStatus::failed, "30008"},
        {"MessageSid", "MessageStatus", "queued", "", std::nullopt, ""},
        {"MessageSid", "MessageStatus", "accepted", "", std::nullopt, ""},
        {"MessageSid", "MessageStatus", "sending", "", std::nullopt, ""},
        {"MessageSid", "MessageStatus", "sent", "", std::nullopt, ""},
        {"MessageSid", "MessageStatus", "scheduled", "", std::nullopt, ""},
        {"CallSid", "CallStatus", "completed", "", ReceiptStatus::delivered, ""},
        {"CallSid", "CallStatus", "busy", "", ReceiptStatus::failed, "busy"},
        {"CallSid", "CallStatus", "no-answer", "", ReceiptStatus::failed, "no-answer"},
        {"CallSid", "CallStatus", "failed", "", ReceiptStatus::failed, "failed"},
        {"CallSid", "CallStatus", "canceled", "", ReceiptStatus::failed, "canceled"},
        {"CallSid", "CallStatus", "ringing", "", std::nullopt, ""},
    };
    for (const Case& c : cases) {
        FormFields fields = {{c.sid_name, "XX1"}, {c.status_name, c.status}};
        if (*c.error_code != '\0') fields.emplace_back("ErrorCode", c.error_code);
        const auto result = handle(signed_request(fields));
        EXPECT_EQ(result.http_status, 200) << c.status;
        if (!c.expected) {
            EXPECT_TRUE(result.receipts.empty()) << c.status;
            continue;
        }
        ASSERT_EQ(result.receipts.size(), 1u) << c.status;
        EXPECT_EQ(result.receipts[0].message_id, "XX1");
        EXPECT_EQ(result.receipts[0].status, *c.expected) << c.status;
        EXPECT_EQ(result.receipts[0].reason, c.reason) << c.status;
    }
}

TEST(TwilioStatusCallback, SignsTheRequestsQueryWhenTheConfiguredUrlHasNone) {
    CallbackRequest request = signed_request(kDelivered, std::string(kUrl) + "?x=1");
    request.url += "?x=1";
    EXPECT_EQ(handle(request).http_status, 200);
}

TEST(TwilioCallbackSettings, StatusCallbackUrlMustBeAnAbsoluteHttpUrl) {
    auto values = valid_values();
    values["status_callback_url"] = "/api/v1/callbacks/twilio";
    const std::string relative = config_error(values);
    EXPECT_NE(relative.find("test config: status_callback_url: must be an absolute http(s) URL"),
              std::string::npos)
        << relative;
    values["status_callback_url"] = "ftp://auth.example.com/x";
    EXPECT_NE(config_error(values), "");
    values["status_callback_url"] = kUrl;
    EXPECT_EQ(config_error(values), "");
    EXPECT_EQ(settings_from(values).status_callback_url, kUrl);
}

// With status_callback_url, every message and call carries StatusCallback, the fake posts
// the signed final state back, and the provider takes it.
TEST(TwilioCallbackRequests, EveryChannelAsksForStatusCallbacks) {
    test::FakeTwilio fake;
    fake.set_callbacks("");
    auto values = valid_values(fake.base_url());
    values["status_callback_url"] = kUrl;
    values["whatsapp_from"] = test::kFakeWhatsAppFrom;
    values["whatsapp_content_sid"] = test::kFakeContentSid;
    test_support::RecordingHost host;
    TwilioProvider provider(settings_from(values), host);
    EXPECT_TRUE(provider.takes_callbacks());
    for (const sdk::Channel channel : {sdk::Channel::sms, sdk::Channel::whatsapp, sdk::Channel::voice}) {
        const sdk::SmsMessage message("+12025550123", "Your code is 482913", "482913", "req-1", channel);
        const auto result = provider.send(message, std::chrono::steady_clock::now() + 5s);
        EXPECT_EQ(result.status, sdk::SendStatus::sent) << result.detail;
    }
    EXPECT_TRUE(fake.rejections().empty()) << fake.rejections().front();
    const auto sent = fake.messages();
    ASSERT_EQ(sent.size(), 3u);
    for (const auto& message : sent) EXPECT_EQ(message.field("StatusCallback"), kUrl) << message.resource;
    EXPECT_EQ(provider.handle_callback(signed_request(kDelivered)).http_status, 200);

    TwilioProvider without(settings_from(valid_values(fake.base_url())), host);
    EXPECT_FALSE(without.takes_callbacks());
    EXPECT_EQ(without.handle_callback(signed_request(kDelivered)).http_status, 404);
}

}  // namespace
}  // namespace testino::plugins::twilio
