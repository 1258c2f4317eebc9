#include "sms_dispatcher.hpp"

#include "logging.hpp"
#include "metrics.hpp"

namespace testino {

SmsDispatcher::SmsDispatcher(std::shared_ptr<sdk::SmsProvider> provider, int workers,
                             std::size_t queue_size, std::chrono::milliseconds timeout,
                             const std::string& provider_name)
    : provider_(std::move(provider)),
      inline_(!provider_->may_block()),
      queue_size_(queue_size),
      timeout_(timeout),
      metrics_provider_id_(provider_name.empty() ? metrics::Registry::kMaxProviders
                                                 : metrics::global().add_sms_provider(provider_name)) {
    if (inline_) return;  // no workers needed
    workers_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { run(); });
}

SmsDispatcher::~SmsDispatcher() { stop(); }

bool SmsDispatcher::submit(sdk::SmsMessage message, Completion done) {
    if (inline_) {
        if (stopping_.load()) return false;
        done(call_provider(message, Clock::now() + timeout_));
        return true;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || queue_.size() >= queue_size_) return false;
        queue_.push_back(Job{std::move(message), Clock::now() + timeout_, std::move(done)});
    }
    wake_.notify_one();
    return true;
}

std::size_t SmsDispatcher::queued() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
}

void SmsDispatcher::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        const sdk::SendResult result =
            Clock::now() >= job.deadline
                ? sdk::SendResult{sdk::SendStatus::unavailable, "timed out waiting for an SMS worker", ""}
                : call_provider(job.message, job.deadline);
        try {
            job.done(result);
        } catch (const std::exception& e) {
            log_error("sms.completion_failed", {{"request_id", job.message.request_id}, {"detail", e.what()}});
        }
    }
}

sdk::SendResult SmsDispatcher::call_provider(const sdk::SmsMessage& message,
                                             Clock::time_point deadline) {
    try {
        return provider_->send(message, deadline);
    } catch (const std::exception& e) {
        // The SDK says send() never throws; a plugin that does must not take the server
        // down with it.
        return {sdk::SendStatus::unavailable, std::string("provider threw: ") + e.what(), ""};
    } catch (...) {
        return {sdk::SendStatus::unavailable, "provider threw", ""};
    }
}

void SmsDispatcher::stop() {
    std::deque<Job> abandoned;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ && workers_.empty()) return;
        stopping_ = true;
        abandoned.swap(queue_);
    }
    wake_.notify_all();
    for (Job& job : abandoned) {
        job.done({sdk::SendStatus::unavailable, "the server is shutting down", ""});
    }
    for (std::thread& t : workers_) {
        if (t.joinable()) t.join();
    }
    workers_.clear();
}

}  // namespace testino
