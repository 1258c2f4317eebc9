// Standard Webhooks signing against the specification's published vector, secrets, masked
// numbers, the retry backoff, and the outbox on the real memory store: one item per
// receiver, the expiry probe filed, moved and withdrawn, the events filter.
#include <gtest/gtest.h>

#include <random>

#include "app/webhook_delivery.hpp"
#include "app/webhook_outbox.hpp"
#include "domain/standard_webhooks.hpp"
#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;

TEST(StandardWebhooks, SignsTheSpecificationsTestVector) {
    // From the Standard Webhooks specification (github.com/standard-webhooks/standard-webhooks,
    // spec/standard-webhooks.md): this secret, id, timestamp and payload give this signature.
    std::string key;
    ASSERT_TRUE(decode_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key));
    EXPECT_EQ(key.size(), 24u);
    EXPECT_EQ(webhook_signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    EXPECT_NE(webhook_signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})"),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(StandardWebhooks, SecretsMustBePrefixedBase64) {
    std::string key;
    EXPECT_FALSE(decode_webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key)) << "no prefix";
    EXPECT_FALSE(decode_webhook_secret("whsec_", key));
    EXPECT_FALSE(decode_webhook_secret("whsec_not base64!", key));
    ASSERT_TRUE(decode_webhook_secret("whsec_c2hvcnQ=", key));
    EXPECT_EQ(key, "short");
    ASSERT_TRUE(decode_webhook_secret("whsec_YWI=", key));
    EXPECT_EQ(key, "ab");
}

TEST(StandardWebhooks, MasksAllButTheFirstThreeAndLastTwoDigits) {
    EXPECT_EQ(mask_e164("+447400123456"), "+447*******56");
    EXPECT_EQ(mask_e164("+12025550123"), "+120******23");
    EXPECT_EQ(mask_e164("+123456"), "+123*56");
}

TEST(WebhookBackoff, DoublesUpToTheMaximumWithHalfOfItRandom) {
    WebhookConfig config;
    config.backoff_initial = 1000ms;
    config.backoff_max = 8000ms;
    std::mt19937_64 random(7);
    for (int attempt = 1; attempt <= 8; ++attempt) {
        const auto full = std::min<long long>(1000LL << (attempt - 1), 8000);
        for (int i = 0; i < 50; ++i) {
            const auto wait = WebhookDelivery::backoff(config, attempt, random).count();
            EXPECT_GE(wait, full - full / 2) << attempt;
            EXPECT_LE(wait, full) << attempt;
        }
    }
}

class WebhookOutboxTest : public flow_test::OtpFlowTest {
public:
    void SetUp() override {
        store = memory_plugin().create_otp_store(sdk::PluginContext{store_config, host});
    }

    WebhookConfig config_with(std::vector<std::string> events = {}) {
        WebhookConfig c;
        c.urls = {"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"};
        c.secret = "k";
        c.events = std::move(events);
        return c;
    }

    sdk::QueueBatch claim(std::chrono::milliseconds lease = 60s) {
        std::promise<sdk::QueueBatch> answer;
        store->claim_due(WebhookOutbox::kQueue, 100, lease, [&](sdk::QueueBatch b) { answer.set_value(b); });
        return answer.get_future().get();
    }
    std::int64_t length() {
        std::promise<std::int64_t> answer;
        store->queue_length(WebhookOutbox::kQueue, [&](sdk::CounterResult r) { answer.set_value(r.count); });
        return answer.get_future().get();
    }

    static LifecycleEvent event(EventType type, std::chrono::seconds expires_in = 0s) {
        LifecycleEvent e;
        e.type = type;
        e.e164 = "+447400123456";
        e.verification_id = "vid";
        e.expires_in = expires_in;
        return e;
    }
};

TEST_F(WebhookOutboxTest, AnEventIsOneItemPerReceiverWithOneId) {
    WebhookOutbox outbox(config_with({"otp.verified"}), store);
    outbox.publish(event(EventType::verified));
    const auto batch = claim();
    ASSERT_EQ(batch.items.size(), 2u);
    WebhookDeliveryItem a;
    WebhookDeliveryItem b;
    ASSERT_TRUE(decode_delivery(batch.items[0].payload, a));
    ASSERT_TRUE(decode_delivery(batch.items[1].payload, b));
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.body, b.body);
    EXPECT_NE(a.url, b.url);
    EXPECT_NE(a.body.find("\"type\":\"otp.verified\""), std::string::npos) << a.body;
    EXPECT_NE(a.body.find("\"phone_number\":\"+447*******56\""), std::string::npos) << a.body;
}

TEST_F(WebhookOutboxTest, TheFilterDropsUnlistedEvents) {
    WebhookOutbox outbox(config_with({"otp.verified"}), store);
    outbox.publish(event(EventType::sent, 300s));
    outbox.publish(event(EventType::failed));
    EXPECT_EQ(length(), 0) << "no sent, no failed, and no probe without otp.expired";
}

TEST_F(WebhookOutboxTest, ASentCodeFilesAProbeThatAVerifyWithdraws) {
    WebhookOutbox outbox(config_with({"otp.expired"}), store);
    outbox.publish(event(EventType::sent, 1s));
    EXPECT_EQ(length(), 1);
    EXPECT_TRUE(claim().items.empty()) << "due when the code expires";
    outbox.publish(event(EventType::sent, 1s));  // a newer code moves the probe
    EXPECT_EQ(length(), 1);
    outbox.publish(event(EventType::verified));
    EXPECT_EQ(length(), 0);
}

TEST_F(WebhookOutboxTest, ADueProbeBecomesOtpExpired) {
    WebhookOutbox outbox(config_with({"otp.expired"}), store);
    outbox.publish(event(EventType::sent, 1s));
    std::this_thread::sleep_for(1100ms);
    const auto due = claim(0ms);
    ASSERT_EQ(due.items.size(), 1u);
    EXPECT_EQ(due.items[0].id, "exp:+447400123456");
    outbox.file_expiry(due.items[0].payload);
    const auto deliveries = claim();
    std::size_t expired = 0;
    for (const auto& item : deliveries.items) {
        WebhookDeliveryItem d;
        if (decode_delivery(item.payload, d) && d.body.find("\"otp.expired\"") != std::string::npos)
            ++expired;
    }
    EXPECT_EQ(expired, 2u);
}

}  // namespace
}  // namespace testino
