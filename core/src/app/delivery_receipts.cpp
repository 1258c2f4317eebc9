#include "app/delivery_receipts.hpp"

#include <atomic>
#include <exception>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {

// One callback's receipts, looked up in parallel: the answer goes out after the last.
struct DeliveryReceipts::Pending {
    std::atomic<std::size_t> left{0};
    std::atomic<bool> store_failed{false};
    std::string request_id;
    int http_status = 200;
    std::function<void(CallbackAnswer)> done;

    void finish_one() {
        if (left.fetch_sub(1) != 1) return;
        if (store_failed.load()) {
            return done({CallbackAnswer::Kind::store_unavailable, 503, "the store could not be read"});
        }
        done({CallbackAnswer::Kind::taken, http_status, {}});
    }
};

namespace {

// "<e164>\n<verification_id>\n<channel>"
struct Attribution {
    std::string e164;
    std::string verification_id;
    std::string channel;
};

bool parse_attribution(const std::string& value, Attribution& out) {
    const auto first = value.find('\n');
    const auto second = first == std::string::npos ? first : value.find('\n', first + 1);
    if (second == std::string::npos) return false;
    out.e164 = value.substr(0, first);
    out.verification_id = value.substr(first + 1, second - first - 1);
    out.channel = value.substr(second + 1);
    return !out.e164.empty();
}

CallbackAnswer refusal(const sdk::CallbackResult& result) {
    if (result.http_status == 403) return {CallbackAnswer::Kind::rejected, 403, result.detail};
    return {CallbackAnswer::Kind::malformed, 400, result.detail};
}

}  // namespace

DeliveryReceipts::DeliveryReceipts(const std::vector<SmsChannel>& providers,
                                   std::shared_ptr<sdk::OtpStore> store, std::chrono::seconds ttl)
    : store_(std::move(store)), ttl_(ttl) {
    for (const SmsChannel& channel : providers) {
        if (channel.provider->takes_callbacks()) providers_.push_back(channel);
    }
}

bool DeliveryReceipts::takes(const std::string& provider) const {
    for (const SmsChannel& channel : providers_) {
        if (channel.name == provider) return true;
    }
    return false;
}

std::string DeliveryReceipts::record_key(const std::string& provider, const std::string& message_id) {
    return "msg:{" + provider + "}:" + message_id;
}

void DeliveryReceipts::remember(const std::string& provider, const std::string& message_id,
                                const std::string& e164, const std::string& verification_id,
                                sdk::Channel channel, const std::string& request_id) {
    if (message_id.empty() || !active() || !takes(provider)) return;
    const std::string value = e164 + '\n' + verification_id + '\n' + sdk::to_string(channel);
    store_->put_record(record_key(provider, message_id), value, ttl_, [request_id](sdk::StoreResult put) {
        if (put.status == sdk::StoreStatus::ok) return;
        log_warn("sms.receipt_record_failed", {{"request_id", request_id}, {"detail", put.detail}});
    });
}

void DeliveryReceipts::handle(const std::string& provider, const sdk::CallbackRequest& request,
                              const std::string& request_id, std::function<void(CallbackAnswer)> done) {
    const SmsChannel* channel = nullptr;
    for (const SmsChannel& c : providers_) {
        if (c.name == provider) channel = &c;
    }
    if (channel == nullptr) return done({CallbackAnswer::Kind::malformed, 404, "no such provider"});
    sdk::CallbackResult result;
    try {
        result = channel->provider->handle_callback(request);
    } catch (const std::exception& e) {
        result = {400, {}, std::string("the provider threw: ") + e.what()};
    }
    if (result.http_status < 200 || result.http_status > 299) {
        // Nothing else happens for a refused callback: no store work for an unsigned caller.
        log_warn("sms.callback_refused", {{"request_id", request_id},
                                          {"provider", provider},
                                          {"http_status", result.http_status},
                                          {"detail", result.detail}});
        return done(refusal(result));
    }
    if (result.receipts.empty()) return done({CallbackAnswer::Kind::taken, result.http_status, {}});
    auto pending = std::make_shared<Pending>();
    pending->left = result.receipts.size();
    pending->request_id = request_id;
    pending->http_status = result.http_status;
    pending->done = std::move(done);
    for (const sdk::DeliveryReceipt& receipt : result.receipts) resolve(pending, provider, receipt);
}

void DeliveryReceipts::resolve(const std::shared_ptr<Pending>& pending, const std::string& provider,
                               const sdk::DeliveryReceipt& receipt) {
    const bool delivered = receipt.status == sdk::ReceiptStatus::delivered;
    const auto record = [this, pending, provider, receipt, delivered](sdk::RecordResult found) {
        metrics::Registry& registry = metrics::global();
        const std::size_t id = registry.sms_provider_id(provider);
        Attribution who;
        if (found.status != sdk::StoreStatus::ok) {
            pending->store_failed = true;
            log_error("store.get_failed", {{"request_id", pending->request_id}, {"detail", found.detail}});
        } else if (!found.found || !parse_attribution(found.value, who)) {
            registry.sms_receipt(id, metrics::Registry::Receipt::unknown);
            log_info("sms.receipt_unknown", {{"request_id", pending->request_id},
                                             {"provider", provider},
                                             {"message_id", receipt.message_id},
                                             {"status", delivered ? "delivered" : "failed"}});
        } else {
            registry.sms_receipt(
                id, delivered ? metrics::Registry::Receipt::delivered : metrics::Registry::Receipt::failed);
            log_info("sms.receipt", {{"request_id", pending->request_id},
                                     {"provider", provider},
                                     {"message_id", receipt.message_id},
                                     {"verification_id", who.verification_id},
                                     {"channel", who.channel},
                                     {"status", delivered ? "delivered" : "failed"},
                                     {"reason", receipt.reason}});
            LifecycleEvent event;
            event.type = delivered ? EventType::delivered : EventType::failed;
            event.e164 = who.e164;
            event.verification_id = who.verification_id;
            event.channel = who.channel;
            event.provider = provider;
            event.message_id = receipt.message_id;
            event.reason = receipt.reason;
            events_->publish(std::move(event));
        }
        pending->finish_one();
    };
    if (!store_->keeps_records() || receipt.message_id.empty()) {
        return record(sdk::RecordResult{sdk::StoreStatus::ok, false, false, {}, {}});
    }
    store_->get_record(record_key(provider, receipt.message_id), record);
}

}  // namespace testino
