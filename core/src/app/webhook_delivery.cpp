#include "app/webhook_delivery.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <future>
#include <mutex>

#include "domain/standard_webhooks.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

constexpr int kBatch = 8;

// A store call from a worker thread: it may wait (no reactor here), but never forever.
template <typename Result, typename Start>
std::optional<Result> await_store(Start&& start) {
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    start([promise](Result r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return std::nullopt;
    return future.get();
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

WebhookDelivery::WebhookDelivery(WebhookOutbox& outbox) : outbox_(outbox), config_(outbox.config()) {
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    outbox_.on_filed([this] {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        wake_.notify_one();
    });
    for (int i = 0; i < config_.workers; ++i) workers_.emplace_back(&WebhookDelivery::run, this, i);
}

WebhookDelivery::~WebhookDelivery() {
    outbox_.on_filed({});
    stopping_ = true;
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
}

std::chrono::milliseconds WebhookDelivery::backoff(const WebhookConfig& config, int attempts,
                                                   std::mt19937_64& random) {
    const int doublings = std::clamp(attempts - 1, 0, 30);
    const auto full =
        std::min<std::int64_t>(config.backoff_initial.count() << doublings, config.backoff_max.count());
    std::uniform_int_distribution<std::int64_t> half(0, full / 2);
    return std::chrono::milliseconds(full - full / 2 + half(random));
}

void WebhookDelivery::wait_for_work(std::chrono::milliseconds at_most) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, at_most, [this] { return woken_ || stopping_.load(); });
    woken_ = false;
}

void WebhookDelivery::run(std::size_t worker) {
    CURL* curl = curl_easy_init();
    std::mt19937_64 random(std::random_device{}() + worker);
    auto next_depth = std::chrono::steady_clock::now();
    const auto lease = config_.timeout * 2 + std::chrono::seconds(5);
    while (!stopping_) {
        if (worker == 0 && std::chrono::steady_clock::now() >= next_depth) {
            read_depth();
            next_depth = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        }
        const auto batch = await_store<sdk::QueueBatch>([&](auto done) {
            outbox_.store().claim_due(WebhookOutbox::kQueue, kBatch, lease, std::move(done));
        });
        if (!batch || batch->status != sdk::StoreStatus::ok) {
            log_warn("webhook.claim_failed",
                     {{"detail", batch ? batch->detail : "the store did not answer"}});
            wait_for_work(std::max(config_.poll_interval, std::chrono::milliseconds(1000)));
            continue;
        }
        for (const sdk::QueueItem& item : batch->items) {
            if (stopping_) break;  // the rest come back when their lease ends
            handle(item, curl, random);
        }
        if (batch->items.empty()) wait_for_work(config_.poll_interval);
    }
    curl_easy_cleanup(curl);
}

void WebhookDelivery::handle(const sdk::QueueItem& item, void* curl, std::mt19937_64& random) {
    const auto ack = [&] {
        outbox_.store().ack(WebhookOutbox::kQueue, item.id, [](sdk::StoreResult acked) {
            if (acked.status != sdk::StoreStatus::ok)
                log_warn("webhook.ack_failed", {{"detail", acked.detail}});
        });
    };
    if (item.id.rfind(WebhookOutbox::kProbePrefix, 0) == 0) {
        outbox_.file_expiry(item.payload);
        return ack();
    }
    WebhookDeliveryItem delivery;
    if (!decode_delivery(item.payload, delivery)) {
        log_error("webhook.unreadable_item", {{"id", item.id}});
        return ack();
    }
    const auto& urls = config_.urls;
    if (std::find(urls.begin(), urls.end(), delivery.url) == urls.end()) {
        // Filed for a receiver the config no longer lists: nobody wants it now.
        log_warn("webhook.receiver_removed", {{"id", delivery.id}});
        return ack();
    }
    const Attempt attempt = post(curl, delivery);
    if (attempt.delivered) {
        metrics::global().webhook_delivered();
        log_info("webhook.delivered", {{"id", delivery.id}, {"attempt", item.attempts}});
        return ack();
    }
    retry_or_bury(item, std::move(delivery), attempt.error, random);
}

WebhookDelivery::Attempt WebhookDelivery::post(void* handle, const WebhookDeliveryItem& delivery) {
    CURL* curl = static_cast<CURL*>(handle);
    curl_easy_reset(curl);
    const std::int64_t timestamp = unix_seconds();
    curl_slist* headers = nullptr;
    const std::string lines[] = {
        "Content-Type: application/json",
        "User-Agent: testino-auth-webhooks",
        "webhook-id: " + delivery.id,
        "webhook-timestamp: " + std::to_string(timestamp),
        "webhook-signature: " + webhook_signature(config_.secret, delivery.id, timestamp, delivery.body),
        delivery.traceparent.empty() ? std::string() : "traceparent: " + delivery.traceparent,
        "Expect:",  // no 100-continue round trip
    };
    for (const std::string& line : lines) {
        if (!line.empty()) headers = curl_slist_append(headers, line.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, delivery.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, delivery.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(delivery.body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) return {false, curl_easy_strerror(code)};
    if (status >= 200 && status < 300) return {true, {}};
    return {false, "HTTP " + std::to_string(status)};
}

void WebhookDelivery::retry_or_bury(const sdk::QueueItem& item, WebhookDeliveryItem delivery,
                                    const std::string& error, std::mt19937_64& random) {
    delivery.last_error = error;
    sdk::QueueItem next{item.id, encode_delivery(delivery), item.attempts};
    sdk::OtpStore& store = outbox_.store();
    if (item.attempts < config_.max_attempts) {
        const auto wait = backoff(config_, item.attempts, random);
        metrics::global().webhook_retried();
        log_warn("webhook.retry", {{"id", delivery.id},
                                   {"attempt", item.attempts},
                                   {"error", error},
                                   {"retry_in_ms", static_cast<long long>(wait.count())}});
        store.enqueue(WebhookOutbox::kQueue, next, wait, [](sdk::StoreResult filed) {
            // Not filed again: the item's lease still ends, and it comes back then.
            if (filed.status != sdk::StoreStatus::ok)
                log_warn("webhook.retry_not_filed", {{"detail", filed.detail}});
        });
        return;
    }
    metrics::global().webhook_dead_lettered();
    log_error("webhook.dead_letter", {{"id", delivery.id}, {"attempts", item.attempts}, {"error", error}});
    // Filed among the dead first, then taken out of the outbox: a crash between the two
    // delivers once more rather than losing the event.
    store.enqueue(WebhookOutbox::kDeadQueue, next, std::chrono::hours(24 * 365),
                  [&store, id = item.id](sdk::StoreResult filed) {
                      if (filed.status != sdk::StoreStatus::ok) return;  // comes back after its lease
                      store.ack(WebhookOutbox::kQueue, id, [](sdk::StoreResult) {});
                  });
}

void WebhookDelivery::read_depth() {
    const auto pending = await_store<sdk::CounterResult>(
        [&](auto done) { outbox_.store().queue_length(WebhookOutbox::kQueue, std::move(done)); });
    const auto dead = await_store<sdk::CounterResult>(
        [&](auto done) { outbox_.store().queue_length(WebhookOutbox::kDeadQueue, std::move(done)); });
    if (pending && dead && pending->status == sdk::StoreStatus::ok && dead->status == sdk::StoreStatus::ok) {
        metrics::global().webhook_depth(pending->count, dead->count);
    }
}

}  // namespace testino
