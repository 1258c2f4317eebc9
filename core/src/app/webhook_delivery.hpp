// Delivers the webhook outbox (app/webhook_outbox.hpp): worker threads of its own claim due
// items from the store (with a lease, so an item of an instance that died comes back), POST
// each, signed per Standard Webhooks, and ack it on a 2xx. A failed attempt is filed again
// after an exponential backoff with jitter; after webhooks.max_attempts it moves to the dead
// letters (webhooks:{dead}), logged and counted. Requests never wait for any of this.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app/webhook_outbox.hpp"

namespace testino {

class WebhookDelivery {
public:
    explicit WebhookDelivery(WebhookOutbox& outbox);
    ~WebhookDelivery();  // stops the workers; an attempt in flight ends within its timeout

    WebhookDelivery(const WebhookDelivery&) = delete;
    WebhookDelivery& operator=(const WebhookDelivery&) = delete;

    // The wait before attempt `attempts + 1`: backoff_initial x 2^(attempts - 1), at most
    // backoff_max, of which a random half (equal jitter, so that retries spread out).
    static std::chrono::milliseconds backoff(const WebhookConfig& config, int attempts,
                                             std::mt19937_64& random);

private:
    struct Attempt {
        bool delivered = false;
        std::string error;  // why not: "HTTP 500", "timeout", ...
    };

    void run(std::size_t worker);
    void handle(const sdk::QueueItem& item, void* curl, std::mt19937_64& random);
    Attempt post(void* curl, const WebhookDeliveryItem& delivery);
    void retry_or_bury(const sdk::QueueItem& item, WebhookDeliveryItem delivery, const std::string& error,
                       std::mt19937_64& random);
    void read_depth();
    void wait_for_work(std::chrono::milliseconds at_most);

    WebhookOutbox& outbox_;
    const WebhookConfig& config_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool woken_ = false;
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> workers_;  // last: they start once everything above exists
};

}  // namespace testino
