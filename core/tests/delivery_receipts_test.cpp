// Delivery receipts through the flow: a sent message is remembered in the store, a signed
// receipt for it becomes otp.delivered / otp.failed with its number and verification id, an
// unknown one is counted and answered 200, and an unsigned one is refused before any store work.
#include "app/delivery_receipts.hpp"

#include "otp_flow_fixture.hpp"

namespace testino::flow_test {
namespace {

// Counts the record reads and forwards records to the memory store (or keeps none).
class RecordCountingStore final : public ForwardingStore {
public:
    RecordCountingStore(std::shared_ptr<sdk::OtpStore> inner, bool keeps)
        : ForwardingStore(std::move(inner)), keeps_(keeps) {}
    bool keeps_records() const override { return keeps_; }
    void put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                    sdk::StoreCompletion<sdk::StoreResult> done) override {
        ++puts;
        inner_->put_record(key, value, ttl, std::move(done));
    }
    void get_record(const std::string& key, sdk::StoreCompletion<sdk::RecordResult> done) override {
        ++gets;
        inner_->get_record(key, std::move(done));
    }
    std::atomic<int> puts{0};
    std::atomic<int> gets{0};

private:
    bool keeps_;
};

// The EventSink double: every event published.
class RecordingSink final : public EventSink {
public:
    void publish(LifecycleEvent event) override {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    std::vector<LifecycleEvent> of(EventType type) const {
        std::lock_guard lock(mutex_);
        std::vector<LifecycleEvent> out;
        for (const auto& e : events_) {
            if (e.type == type) out.push_back(e);
        }
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<LifecycleEvent> events_;
};

class DeliveryReceiptsTest : public OtpFlowTest {
public:
    void start(bool keeps_records = true) {
        counting = std::make_shared<RecordCountingStore>(
            memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}), keeps_records);
        make_flow(300s, 5, no_limits(), {}, counting);
        provider->set_callbacks(true);
        receipts = std::make_unique<DeliveryReceipts>(dispatcher->channels(), counting, 3600s);
        receipts->publish_to(sink);
        flow->attribute_receipts(*receipts);
    }
    void TearDown() override {
        flow.reset();
        receipts.reset();
    }

    CallbackAnswer callback(const std::string& body, const std::string& signature = "good") {
        sdk::CallbackRequest request;
        request.url = "/api/v1/callbacks/recording";
        request.content_type = "text/plain";
        request.body = body;
        if (!signature.empty()) request.headers.emplace_back("x-signature", signature);
        std::optional<CallbackAnswer> answer;
        receipts->handle("recording", request, "req-cb", [&](CallbackAnswer a) { answer = std::move(a); });
        EXPECT_TRUE(answer) << "the memory store answers at once";
        return answer.value_or(CallbackAnswer{CallbackAnswer::Kind::malformed, 0, "no answer"});
    }

    static std::uint64_t receipts_counted(metrics::Registry::Receipt status) {
        return metrics::global().sms_receipts("recording", status);
    }

    std::shared_ptr<RecordCountingStore> counting;
    std::unique_ptr<DeliveryReceipts> receipts;
    RecordingSink sink;
};

TEST_F(DeliveryReceiptsTest, ASignedReceiptPublishesDeliveredWithTheNumberAndVerificationId) {
    start();
    ASSERT_TRUE(receipts->takes("recording"));
    const auto sent = send_result("2025550123");
    ASSERT_TRUE(sent.ok());
    EXPECT_EQ(counting->puts.load(), 1);
    const auto before = receipts_counted(metrics::Registry::Receipt::delivered);
    const CallbackAnswer answer = callback("m-1 delivered");
    EXPECT_EQ(answer.kind, CallbackAnswer::Kind::taken);
    EXPECT_EQ(answer.http_status, 200);
    const auto delivered = sink.of(EventType::delivered);
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0].e164, "+12025550123");
    EXPECT_EQ(delivered[0].verification_id, sent.value().verification_id);
    EXPECT_EQ(delivered[0].channel, "sms");
    EXPECT_EQ(delivered[0].provider, "recording");
    EXPECT_EQ(delivered[0].message_id, "m-1");
    EXPECT_EQ(receipts_counted(metrics::Registry::Receipt::delivered), before + 1);
}

TEST_F(DeliveryReceiptsTest, AFailedReceiptCarriesTheProvidersReason) {
    start();
    ASSERT_TRUE(send_result("2025550123").ok());
    EXPECT_EQ(callback("m-1 failed 30003").kind, CallbackAnswer::Kind::taken);
    const auto failed = sink.of(EventType::failed);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].reason, "30003");
    EXPECT_EQ(failed[0].e164, "+12025550123");
}

TEST_F(DeliveryReceiptsTest, AnUnknownMessageIsCountedAndTaken) {
    start();
    const auto before = receipts_counted(metrics::Registry::Receipt::unknown);
    const CallbackAnswer answer = callback("m-404 delivered");
    EXPECT_EQ(answer.kind, CallbackAnswer::Kind::taken);
    EXPECT_EQ(receipts_counted(metrics::Registry::Receipt::unknown), before + 1);
    EXPECT_TRUE(sink.of(EventType::delivered).empty());
}

TEST_F(DeliveryReceiptsTest, UnsignedOrMalformedCallbacksDoNoStoreWork) {
    start();
    ASSERT_TRUE(send_result("2025550123").ok());
    EXPECT_EQ(callback("m-1 delivered", "").kind, CallbackAnswer::Kind::rejected);
    EXPECT_EQ(callback("m-1 delivered", "forged").kind, CallbackAnswer::Kind::rejected);
    EXPECT_EQ(callback("m-1 sideways").kind, CallbackAnswer::Kind::malformed);
    EXPECT_EQ(counting->gets.load(), 0) << "refused before the store was read";
    EXPECT_TRUE(sink.of(EventType::delivered).empty());
}

TEST_F(DeliveryReceiptsTest, AStoreWithoutRecordsRemembersNothingAndCountsReceiptsAsUnknown) {
    start(false);
    ASSERT_TRUE(send_result("2025550123").ok());
    EXPECT_EQ(counting->puts.load(), 0);
    const auto before = receipts_counted(metrics::Registry::Receipt::unknown);
    EXPECT_EQ(callback("m-1 delivered").kind, CallbackAnswer::Kind::taken);
    EXPECT_EQ(receipts_counted(metrics::Registry::Receipt::unknown), before + 1);
    EXPECT_TRUE(sink.of(EventType::delivered).empty());
}

TEST_F(DeliveryReceiptsTest, AProviderWithoutCallbacksHasNoRoute) {
    make_flow(300s, 5);
    DeliveryReceipts none(dispatcher->channels(), store, 3600s);
    EXPECT_FALSE(none.takes("recording"));
    EXPECT_FALSE(none.takes("twilio"));
}

}  // namespace
}  // namespace testino::flow_test
