// Runs SMS sends off the HTTP threads: a bounded queue and a fixed pool of workers.
//
// A provider call can take seconds; on a Pistache reactor thread it would stall every
// connection that thread serves. The HTTP layer submits a send with a completion, and
// the worker that runs it answers the client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "testino/sms_provider.hpp"

namespace testino {

class SmsDispatcher {
public:
    using Clock = std::chrono::steady_clock;
    using Completion = std::function<void(const sdk::SendResult&)>;

    SmsDispatcher(std::shared_ptr<sdk::SmsProvider> provider, int workers, std::size_t queue_size,
                  std::chrono::milliseconds timeout);
    ~SmsDispatcher();
    SmsDispatcher(const SmsDispatcher&) = delete;
    SmsDispatcher& operator=(const SmsDispatcher&) = delete;

    // Queues a send; `done` runs on a worker thread with the provider's answer. The deadline
    // (now + timeout) covers the wait in the queue too. Returns false, and never calls `done`,
    // when the queue is full or the dispatcher is stopping.
    bool submit(sdk::SmsMessage message, Completion done);

    // Answers every queued send with `unavailable`, waits for the running ones, joins.
    void stop();

    std::size_t queued() const;

private:
    struct Job {
        sdk::SmsMessage message;
        Clock::time_point deadline;
        Completion done;
    };
    void run();

    std::shared_ptr<sdk::SmsProvider> provider_;
    const std::size_t queue_size_;
    const std::chrono::milliseconds timeout_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace testino
