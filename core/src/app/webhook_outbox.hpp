// The webhook outbox: lifecycle events filed in the store's queue (sdk::OtpStore::enqueue),
// one item per event and receiver URL, so that they survive a restart on a shared store and
// every instance can deliver them (app/webhook_delivery.hpp). Filing never waits: a store
// that fails or is full loses the event, logged (webhook.enqueue_failed) and counted.
//
// otp.expired has no moment of its own: a sent code files a probe, "exp:<number>", due when
// the code expires; a verify or a dead code (otp.max_attempts) takes it back, and a newer
// code of the number moves it. A probe that comes due files otp.expired.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "app/lifecycle_events.hpp"
#include "config/config.hpp"
#include "testino/otp_store.hpp"

namespace testino {

class WebhookOutbox final : public EventSink {
public:
    static constexpr const char* kQueue = "webhooks:{outbox}";
    static constexpr const char* kDeadQueue = "webhooks:{dead}";
    static constexpr const char* kProbePrefix = "exp:";

    WebhookOutbox(WebhookConfig config, std::shared_ptr<sdk::OtpStore> store);

    void publish(LifecycleEvent event) override;

    // One delivery per receiver URL, due at once.
    void file(const LifecycleEvent& event);
    // An expiry probe that came due: files otp.expired.
    void file_expiry(const std::string& probe_payload);

    // Called after each filing (the delivery wakes up).
    void on_filed(std::function<void()> wake);

    const WebhookConfig& config() const { return config_; }
    sdk::OtpStore& store() { return *store_; }
    bool wants(EventType type) const;

private:
    std::string body_of(const LifecycleEvent& event, const std::string& id) const;
    void probe(const LifecycleEvent& event);
    void withdraw_probe(const std::string& e164);
    void wake();

    const WebhookConfig config_;
    std::mutex wake_mutex_;
    std::function<void()> wake_;
    // Last: destroyed first, so that the completions a store answers while it shuts down
    // find the rest of the outbox still there.
    const std::shared_ptr<sdk::OtpStore> store_;
};

// The JSON a delivery item holds: where it goes, its webhook-id, the body, the traceparent.
struct WebhookDeliveryItem {
    std::string url;
    std::string id;
    std::string body;
    std::string traceparent;
    std::string last_error;  // of the latest failed attempt (dead letters keep it)
};
std::string encode_delivery(const WebhookDeliveryItem& item);
bool decode_delivery(const std::string& payload, WebhookDeliveryItem& item);

}  // namespace testino
