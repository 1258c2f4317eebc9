// Runs SMS sends off the HTTP threads: a bounded queue and a fixed pool of workers.
//
// A provider call can take seconds; on a Pistache reactor thread it would stall every
// connection that thread serves. The HTTP layer submits a send with a completion, and
// the worker that runs it answers the client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testino/sms_provider.hpp"

namespace testino {

class SmsDispatcher {
public:
    using Clock = std::chrono::steady_clock;
    using Completion = std::function<void(const sdk::SendResult&)>;

    // `provider_name` labels the provider's series in the metrics ("other" when empty).
    SmsDispatcher(std::shared_ptr<sdk::SmsProvider> provider, int workers, std::size_t queue_size,
                  std::chrono::milliseconds timeout, const std::string& provider_name = "");
    ~SmsDispatcher();
    SmsDispatcher(const SmsDispatcher&) = delete;
    SmsDispatcher& operator=(const SmsDispatcher&) = delete;

    // Queues a send; `done` runs on a worker thread with the provider's answer. The deadline
    // (now + timeout) covers the wait in the queue too. Returns false, and never calls `done`,
    // when the queue is full or the dispatcher is stopping. A provider that says it never
    // blocks is called right here instead, and `done` runs before submit returns.
    bool submit(sdk::SmsMessage message, Completion done);

    // Answers every queued send with `unavailable`, waits for the running ones, joins.
    void stop();

    std::size_t queued() const;

    // The provider's id in metrics::global().
    std::size_t metrics_provider_id() const { return metrics_provider_id_; }

private:
    struct Job {
        sdk::SmsMessage message;
        Clock::time_point deadline;
        Completion done;
    };
    void run();
    sdk::SendResult call_provider(const sdk::SmsMessage& message, Clock::time_point deadline);

    std::shared_ptr<sdk::SmsProvider> provider_;
    const bool inline_;  // the provider never blocks: call it on the submitting thread
    const std::size_t queue_size_;
    const std::chrono::milliseconds timeout_;
    const std::size_t metrics_provider_id_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> queue_;
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> workers_;
};

}  // namespace testino
