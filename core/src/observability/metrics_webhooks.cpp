// The exposition's webhook and idempotency families.
#include "observability/metrics.hpp"

namespace testino::metrics {

void Registry::write_webhooks(std::ostringstream& out) const {
    family(out, "testino_webhook_events_total", "counter",
           "Lifecycle events filed in the webhook outbox (one per event and receiver URL).");
    out << "testino_webhook_events_total " << webhook_filed_.value() << '\n';
    family(out, "testino_webhook_deliveries_total", "counter",
           "Webhook delivery attempts that a receiver accepted with a 2xx.");
    out << "testino_webhook_deliveries_total " << webhook_delivered_.value() << '\n';
    family(out, "testino_webhook_retries_total", "counter",
           "Webhook delivery attempts that failed (no answer, timeout, not 2xx) and were filed again "
           "with a backoff.");
    out << "testino_webhook_retries_total " << webhook_retried_.value() << '\n';
    family(out, "testino_webhook_dead_letters_total", "counter",
           "Webhook events moved to the dead letters after webhooks.max_attempts failed attempts.");
    out << "testino_webhook_dead_letters_total " << webhook_dead_lettered_.value() << '\n';
    family(out, "testino_webhook_events_lost_total", "counter",
           "Lifecycle events that could not be filed (the store failed or its outbox was full).");
    out << "testino_webhook_events_lost_total " << webhook_lost_.value() << '\n';
    family(out, "testino_webhook_outbox_items", "gauge",
           "Webhook deliveries waiting in the outbox (due or backing off), as last read from the store.");
    out << "testino_webhook_outbox_items{queue=\"pending\"} "
        << webhook_pending_.load(std::memory_order_relaxed) << '\n';
    out << "testino_webhook_outbox_items{queue=\"dead\"} " << webhook_dead_.load(std::memory_order_relaxed)
        << '\n';
    family(out, "testino_idempotent_replays_total", "counter",
           "send-otp requests with an Idempotency-Key already used, answered with the first reply (no SMS).");
    out << "testino_idempotent_replays_total " << idempotent_replays_.value() << '\n';
}

void Registry::write_receipts(std::ostringstream& out) const {
    static const char* const kStatuses[] = {"delivered", "failed", "unknown"};
    family(out, "testino_sms_receipts_total", "counter",
           "Delivery receipts the providers' services sent (signed), by provider and status: delivered, "
           "failed, or unknown (a message this server does not remember, e.g. older than "
           "sms.receipt_ttl_seconds).");
    const std::size_t providers = provider_count_.load(std::memory_order_acquire);
    for (std::size_t p = 0; p <= kMaxProviders; ++p) {
        if (p >= providers && p != kMaxProviders) continue;
        const std::string_view name = p < providers ? std::string_view(provider_names_[p]) : "other";
        for (std::size_t s = 0; s < index(Receipt::count_); ++s) {
            const std::uint64_t v = sms_receipts_[p * index(Receipt::count_) + s].value();
            if (v == 0) continue;
            out << "testino_sms_receipts_total{" << label("provider", name) << ','
                << label("status", kStatuses[s]) << "} " << v << '\n';
        }
    }
}

}  // namespace testino::metrics
