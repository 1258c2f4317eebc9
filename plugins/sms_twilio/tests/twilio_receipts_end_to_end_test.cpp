// Delivery receipts end to end: the real server with sms.twilio.status_callback_url, the fake
// Twilio posting signed status callbacks back to it, as Twilio does; and every way a caller
// other than Twilio is refused.
#include <thread>

#include "fake_twilio.hpp"
#include "integration_common.hpp"
#include "testino/plugins/http_client.hpp"
#include "twilio_callbacks.hpp"

namespace testino::test {
namespace {

constexpr const char* kCallbackPath = "/api/v1/callbacks/twilio";
const std::string kForm = "Content-Type: application/x-www-form-urlencoded";

class TwilioReceiptsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        fake_ = new FakeTwilio();
        const int port = free_loopback_port();
        url_ = "http://127.0.0.1:" + std::to_string(port) + kCallbackPath;
        TestConfig config;
        config.server["port"] = std::to_string(port);
        config.sms["provider"] = "twilio";
        config.sms["timeout_ms"] = "1500";
        config.sms_sections["twilio"] = twilio_section(*fake_);
        config.sms_sections["twilio"]["status_callback_url"] = "\"" + url_ + "\"";
        server_ = start_server(config).release();
    }
    static void TearDownTestSuite() {
        delete fake_;  // first: it joins its callbacks, which post to the server
        fake_ = nullptr;
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(server_, nullptr) << "the suite's server did not start";
        client_ = std::make_unique<HttpClient>(server_->port());
    }

    // A callback body and its signature, as Twilio would send them.
    static std::pair<std::string, std::string> signed_form(const plugins::twilio::FormFields& fields,
                                                           const std::string& token = kFakeAuthToken) {
        return {plugins::http::form_encode(fields), plugins::twilio::twilio_signature(token, url_, fields)};
    }

    HttpResponse post_callback(const std::string& body, const std::vector<std::string>& headers,
                               const std::string& path = kCallbackPath) {
        return client_->request("POST", path, body, headers);
    }

    long long receipts(const std::string& status) {
        const auto metrics = HttpClient(server_->admin_port()).get(kMetrics);
        const std::string series =
            "testino_sms_receipts_total{provider=\"twilio\",status=\"" + status + "\"} ";
        const auto at = metrics.body.find(series);
        return at == std::string::npos ? 0 : std::stoll(metrics.body.substr(at + series.size()));
    }

    static inline FakeTwilio* fake_ = nullptr;
    static inline ServerProcess* server_ = nullptr;
    static inline std::string url_;
    std::unique_ptr<HttpClient> client_;
};

TEST_F(TwilioReceiptsTest, TwiliosSignedCallbackIsCountedAndLoggedWithTheVerificationId) {
    const auto sent = client_->post_json(kSendOtp, send_body("+1", "2025550141"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const std::string verification_id = json_string(parse_json(sent.body), "verification_id");
    ASSERT_FALSE(verification_id.empty()) << sent.body;
    const auto messages = fake_->messages();
    ASSERT_FALSE(messages.empty());
    EXPECT_EQ(messages.back().field("StatusCallback"), url_);

    const auto line = wait_for_event_where(*server_, "sms.receipt", "verification_id", verification_id, 5s);
    ASSERT_TRUE(line) << server_->stdout_text();
    EXPECT_NE(line->find("\"status\":\"delivered\""), std::string::npos) << *line;
    EXPECT_NE(line->find("\"provider\":\"twilio\""), std::string::npos) << *line;
    EXPECT_GE(receipts("delivered"), 1);
    bool answered = false;
    for (const auto& posted : fake_->callbacks()) answered = answered || posted.http_status == 200;
    EXPECT_TRUE(answered) << "the server answered Twilio's callback 200";
    EXPECT_EQ(server_->stdout_text().find(kFakeAuthToken), std::string::npos);
}

TEST_F(TwilioReceiptsTest, AnUnknownMessageIsTakenAndCountedAsUnknown) {
    const long long before = receipts("unknown");
    const auto [body, signature] =
        signed_form({{"MessageSid", "SMffffffffffffffffffffffffffffffff"}, {"MessageStatus", "delivered"}});
    const auto response = post_callback(body, {kForm, "X-Twilio-Signature: " + signature});
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_TRUE(response.body.empty()) << response.body;
    EXPECT_TRUE(wait_for_event(*server_, "sms.receipt_unknown", 5s));
    EXPECT_EQ(receipts("unknown"), before + 1);
}

TEST_F(TwilioReceiptsTest, UnsignedWronglySignedAndTamperedCallbacksAre403) {
    const plugins::twilio::FormFields fields = {{"MessageSid", "SM00000000000000000000000000000001"},
                                                {"MessageStatus", "delivered"}};
    const auto [body, signature] = signed_form(fields);
    EXPECT_TRUE(is_api_error(post_callback(body, {kForm}), 403, "CALLBACK_REJECTED"));
    const auto wrong = signed_form(fields, "ffffffffffffffffffffffffffffffff").second;
    EXPECT_TRUE(
        is_api_error(post_callback(body, {kForm, "X-Twilio-Signature: " + wrong}), 403, "CALLBACK_REJECTED"));
    const std::string tampered = plugins::http::form_encode({fields[0], {"MessageStatus", "undelivered"}});
    EXPECT_TRUE(is_api_error(post_callback(tampered, {kForm, "X-Twilio-Signature: " + signature}), 403,
                             "CALLBACK_REJECTED"));
    EXPECT_TRUE(wait_for_event(*server_, "sms.callback_refused", 5s));
}

TEST_F(TwilioReceiptsTest, ANonFormBodyIs400AndOtherProvidersAre404) {
    const auto [body, signature] = signed_form({{"MessageSid", "SM1"}, {"MessageStatus", "delivered"}});
    EXPECT_TRUE(is_api_error(post_callback("{\"MessageSid\":\"SM1\"}", {"Content-Type: application/json",
                                                                        "X-Twilio-Signature: " + signature}),
                             400, "CALLBACK_MALFORMED"));
    EXPECT_TRUE(is_api_error(post_callback(body, {kForm}, "/api/v1/callbacks/console"), 404, "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(post_callback(body, {kForm}, "/api/v1/callbacks/"), 404, "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(client_->get(kCallbackPath), 405, "METHOD_NOT_ALLOWED"));
}

// The whole way: Twilio's signed callback becomes an otp.delivered webhook with the
// verification id of the send (the number masked, as the outbox does by default).
TEST(TwilioReceiptsWebhook, AReceiptReachesTheWebhookReceiverAsOtpDelivered) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{200, "", "text/plain", {}}; });
    FakeTwilio fake;
    const int port = free_loopback_port();
    TestConfig config;
    config.server["port"] = std::to_string(port);
    config.sms["provider"] = "twilio";
    config.sms_sections["twilio"] = twilio_section(fake);
    config.sms_sections["twilio"]["status_callback_url"] =
        "\"http://127.0.0.1:" + std::to_string(port) + kCallbackPath + "\"";
    config.extra_yaml = "webhooks:\n  urls: [\"" + receiver.base_url() +
                        "/hook\"]\n  secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
                        "  poll_interval_ms: 50\n";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    const auto sent = HttpClient(server->port()).post_json(kSendOtp, send_body("+1", "2025550142"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const std::string verification_id = json_string(parse_json(sent.body), "verification_id");
    std::string delivered;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (delivered.empty() && std::chrono::steady_clock::now() < end) {
        for (const auto& request : receiver.requests()) {
            if (request.body.find("\"otp.delivered\"") != std::string::npos) delivered = request.body;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(delivered.empty()) << server->stdout_text();
    EXPECT_NE(delivered.find("\"verification_id\":\"" + verification_id + "\""), std::string::npos)
        << delivered;
    EXPECT_NE(delivered.find("\"message_id\":\"SM"), std::string::npos) << delivered;
    EXPECT_EQ(delivered.find("2025550142"), std::string::npos) << "masked: " << delivered;
}

}  // namespace
}  // namespace testino::test
