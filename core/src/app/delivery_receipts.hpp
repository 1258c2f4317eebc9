// Delivery receipts: which number each sent message went to, and what a provider's later
// report about it (Twilio's status callbacks) means for the systems around the server.
//
// A send accepted by a provider that takes callbacks leaves a record in the store,
// msg:{<provider>}:<message_id> -> "<e164>\n<verification_id>\n<channel>", for
// sms.receipt_ttl_seconds (receipts arrive after the code has expired). A callback is first
// checked by the provider (its signature); only then does the server read the store, so an
// unauthenticated caller cannot make it do store work. Each receipt becomes an otp.delivered
// or otp.failed event, a metric and a log line.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/lifecycle_events.hpp"
#include "app/sms_dispatcher.hpp"
#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"

namespace testino {

// What to answer the provider's service.
struct CallbackAnswer {
    enum class Kind { taken, malformed, rejected, store_unavailable };
    Kind kind = Kind::taken;
    int http_status = 200;  // taken: the provider's 2xx
    std::string detail;     // why it was refused, for the reply's message and the log; no secrets
};

class DeliveryReceipts {
public:
    // `providers`: every configured SMS provider; those whose takes_callbacks() is true get
    // a callback route.
    DeliveryReceipts(const std::vector<SmsChannel>& providers, std::shared_ptr<sdk::OtpStore> store,
                     std::chrono::seconds ttl);

    // Where receipts' events go; none until set. Set before serving.
    void publish_to(EventSink& sink) { events_ = &sink; }

    // Whether `provider` (a plugin name) has a callback route.
    bool takes(const std::string& provider) const;
    // Whether a store record is kept per sent message (the store keeps records and some
    // provider takes callbacks).
    bool active() const { return store_->keeps_records() && !providers_.empty(); }

    // A send `provider` accepted as `message_id`: remembers whom it went to. Never waits;
    // a store failure is logged (the receipt will then count as unknown).
    void remember(const std::string& provider, const std::string& message_id, const std::string& e164,
                  const std::string& verification_id, sdk::Channel channel, const std::string& request_id);

    // One callback to `provider` (takes() is true). `done` runs once, on this thread or the
    // store's.
    void handle(const std::string& provider, const sdk::CallbackRequest& request,
                const std::string& request_id, std::function<void(CallbackAnswer)> done);

    // The store key of a message's record.
    static std::string record_key(const std::string& provider, const std::string& message_id);

private:
    struct Pending;
    void resolve(const std::shared_ptr<Pending>& pending, const std::string& provider,
                 const sdk::DeliveryReceipt& receipt);

    std::vector<SmsChannel> providers_;  // those that take callbacks
    std::shared_ptr<sdk::OtpStore> store_;
    std::chrono::seconds ttl_;
    NoEventSink no_events_;
    EventSink* events_ = &no_events_;
};

}  // namespace testino
