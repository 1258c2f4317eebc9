#include "app/webhook_outbox.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <ctime>

#include "domain/otp_crypto.hpp"
#include "domain/standard_webhooks.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void field(Writer& w, const char* name, const std::string& value) {
    if (value.empty()) return;
    w.Key(name);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string iso8601(std::chrono::system_clock::time_point at) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms % 1000));
    return text;
}

std::string member(const rapidjson::Value& object, const char* name) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

void log_filing_failure(const std::string& what, const sdk::StoreResult& result) {
    metrics::global().webhook_lost();
    log_error("webhook.enqueue_failed", {{"event", what}, {"detail", result.detail}});
}

}  // namespace

std::string encode_delivery(const WebhookDeliveryItem& item) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    field(w, "url", item.url);
    field(w, "id", item.id);
    field(w, "body", item.body);
    field(w, "traceparent", item.traceparent);
    field(w, "last_error", item.last_error);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

bool decode_delivery(const std::string& payload, WebhookDeliveryItem& item) {
    rapidjson::Document doc;
    doc.Parse(payload.data(), payload.size());
    if (doc.HasParseError() || !doc.IsObject()) return false;
    item = {member(doc, "url"), member(doc, "id"), member(doc, "body"), member(doc, "traceparent"),
            member(doc, "last_error")};
    return !item.url.empty() && !item.id.empty();
}

WebhookOutbox::WebhookOutbox(WebhookConfig config, std::shared_ptr<sdk::OtpStore> store)
    : config_(std::move(config)), store_(std::move(store)) {}

bool WebhookOutbox::wants(EventType type) const {
    if (config_.events.empty()) return true;
    return std::find(config_.events.begin(), config_.events.end(), to_string(type)) != config_.events.end();
}

void WebhookOutbox::on_filed(std::function<void()> wake) {
    std::lock_guard lock(wake_mutex_);
    wake_ = std::move(wake);
}

void WebhookOutbox::wake() {
    std::lock_guard lock(wake_mutex_);
    if (wake_) wake_();
}

void WebhookOutbox::publish(LifecycleEvent event) {
    if (wants(EventType::expired)) {
        if (event.type == EventType::sent) probe(event);
        if (event.type == EventType::verified || event.type == EventType::max_attempts)
            withdraw_probe(event.e164);
    }
    if (wants(event.type)) file(event);
}

// Standard Webhooks' payload shape: type, timestamp, data.
std::string WebhookOutbox::body_of(const LifecycleEvent& event, const std::string& id) const {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    field(w, "type", to_string(event.type));
    field(w, "timestamp", iso8601(event.at));
    w.Key("data");
    w.StartObject();
    field(w, "id", id);
    field(w, "phone_number", config_.mask_numbers ? mask_e164(event.e164) : event.e164);
    field(w, "verification_id", event.verification_id);
    field(w, "channel", event.channel);
    field(w, "provider", event.provider);
    field(w, "message_id", event.message_id);
    field(w, "reason", event.reason);
    field(w, "request_id", event.request_id);
    if (event.type == EventType::sent && event.expires_in.count() > 0) {
        w.Key("expires_in");
        w.Int64(event.expires_in.count());
    }
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

void WebhookOutbox::file(const LifecycleEvent& event) {
    // One webhook-id for the event, shared by its receivers (they deduplicate by it).
    const std::string id = "msg_" + generate_verification_id();
    const std::string body = body_of(event, id);
    const std::string what = to_string(event.type);
    for (std::size_t i = 0; i < config_.urls.size(); ++i) {
        const sdk::QueueItem item{id + "." + std::to_string(i),
                                  encode_delivery({config_.urls[i], id, body, event.traceparent, {}}), 0};
        store_->enqueue(kQueue, item, std::chrono::milliseconds(0), [this, what](sdk::StoreResult filed) {
            if (filed.status != sdk::StoreStatus::ok) return log_filing_failure(what, filed);
            metrics::global().webhook_filed();
            wake();
        });
    }
}

void WebhookOutbox::probe(const LifecycleEvent& event) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    field(w, "e164", event.e164);
    field(w, "verification_id", event.verification_id);
    field(w, "channel", event.channel);
    field(w, "provider", event.provider);
    w.EndObject();
    const sdk::QueueItem item{kProbePrefix + event.e164, {buffer.GetString(), buffer.GetSize()}, 0};
    const auto due = std::chrono::duration_cast<std::chrono::milliseconds>(event.expires_in);
    store_->enqueue(kQueue, item, due, [](sdk::StoreResult filed) {
        if (filed.status != sdk::StoreStatus::ok) log_filing_failure("otp.expired", filed);
    });
}

void WebhookOutbox::withdraw_probe(const std::string& e164) {
    store_->ack(kQueue, kProbePrefix + e164, [](sdk::StoreResult acked) {
        if (acked.status != sdk::StoreStatus::ok) {
            log_warn("webhook.probe_withdraw_failed", {{"detail", acked.detail}});
        }
    });
}

void WebhookOutbox::file_expiry(const std::string& probe_payload) {
    rapidjson::Document doc;
    doc.Parse(probe_payload.data(), probe_payload.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    LifecycleEvent event;
    event.type = EventType::expired;
    event.e164 = member(doc, "e164");
    event.verification_id = member(doc, "verification_id");
    event.channel = member(doc, "channel");
    event.provider = member(doc, "provider");
    file(event);
}

}  // namespace testino
