// Runs SMS sends off the HTTP threads (a bounded queue and a fixed pool of workers), and
// routes each one: the calling code picks an ordered list of providers, and a send that a
// provider certainly did not make for the operator's reasons (outage, misconfiguration) goes
// on to the next one in the list. A send the provider may have made (uncertain) never does:
// the user could get two codes.
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
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/sms_segments.hpp"
#include "testino/sms_provider.hpp"

namespace testino {

// One configured SMS provider. (A "channel" here is a provider; the kind of message, SMS,
// WhatsApp or voice, is an sdk::Channel, and each provider offers some of those.)
struct SmsChannel {
    std::string name;  // the plugin's name: the label in logs, metrics and health
    std::shared_ptr<sdk::SmsProvider> provider;
};

// Which providers a send tries, in order. Routes hold indices into `channels`.
struct SmsRouting {
    std::vector<SmsChannel> channels;
    std::vector<std::size_t> default_route;
    // Calling code without '+' ("1", "44") -> its route; codes not listed use the default.
    std::map<std::string, std::vector<std::size_t>> routes;

    // One provider for every number.
    static SmsRouting single(std::shared_ptr<sdk::SmsProvider> provider, std::string name);
};

// What a send came to.
struct SendOutcome {
    sdk::SendResult result;  // the last attempt's answer (or why none was made)
    std::string provider;    // the provider that gave it; "" when none was called
    int attempts = 0;        // providers called
    // No provider on the route offers the message's channel: none was called, and `result`
    // is invalid_recipient (the caller asked for what this route cannot do). The app maps it
    // to 422 VALIDATION_ERROR on `channel`.
    bool channel_unsupported = false;
};

// Whether a failed attempt goes on to the next provider: yes for the operator's faults and
// outages that certainly sent nothing; never for the caller's (a number that cannot receive
// SMS stays refused), nor for an uncertain one (the SMS may be on its way).
bool should_fail_over(sdk::SendStatus status);

class SmsDispatcher {
public:
    using Clock = std::chrono::steady_clock;
    using Completion = std::function<void(const SendOutcome&)>;

    // `timeout` bounds each attempt; the first one's includes the wait in the queue.
    SmsDispatcher(SmsRouting routing, int workers, std::size_t queue_size, std::chrono::milliseconds timeout);
    ~SmsDispatcher();
    SmsDispatcher(const SmsDispatcher&) = delete;
    SmsDispatcher& operator=(const SmsDispatcher&) = delete;

    // Queues a send to a number of `calling_code` (without '+'); `done` runs on a worker
    // thread with the outcome. Returns false, and never calls `done`, when the queue is full
    // or the dispatcher is stopping (counted as queue_full for the route's first provider). When no provider
    // on the route may block, the route is run right here instead, and `done` runs before submit returns.
    bool submit(sdk::SmsMessage message, const std::string& calling_code, Completion done);

    // Answers every queued send with `unavailable` (it reached no provider), waits for the
    // running ones, joins.
    void stop();

    std::size_t queued() const;

    const std::vector<SmsChannel>& channels() const { return channels_; }
    // The provider a send to `calling_code` tries first.
    const std::string& first_provider(const std::string& calling_code) const;
    // True when every route has at least one channel whose `channel_up` entry is true.
    bool every_route_served(const std::vector<bool>& channel_up) const;
    // True when some provider on the route of `calling_code` offers `channel` (its
    // SmsProvider::channels(), read once when the dispatcher was made). A send through a
    // channel no provider on its route offers reaches no provider (channel_unsupported);
    // failover skips the providers that do not offer it.
    bool supports(const std::string& calling_code, sdk::Channel channel) const;
    // Whether provider `index` (into channels()) offers `channel`.
    bool offers(std::size_t index, sdk::Channel channel) const;

private:
    struct Route {
        std::vector<std::size_t> channels;  // indices into channels_
        bool inline_ = false;               // no channel may block: run on the submitting thread
    };
    struct Job {
        sdk::SmsMessage message;
        std::string calling_code;
        const Route* route = nullptr;
        Clock::time_point deadline;
        Completion done;
    };
    const Route& route_for(const std::string& calling_code) const;
    void run();
    SendOutcome run_route(const Job& job);
    void log_failover(const Job& job, const SendOutcome& outcome, const std::string& next,
                      Clock::time_point start) const;
    void log_sent(const Job& job, const SendOutcome& outcome, const SmsSegments& cost,
                  Clock::time_point start) const;
    // An attempt that did not send, and will not fail over.
    void log_result(const Job& job, const SendOutcome& outcome, Clock::time_point start) const;
    sdk::SendResult call_provider(std::size_t channel, const sdk::SmsMessage& message,
                                  Clock::time_point deadline);

    Route make_route(const std::vector<std::size_t>& indices) const;

    std::vector<SmsChannel> channels_;
    std::vector<std::size_t> metrics_ids_;  // per channel
    std::vector<unsigned> offered_;         // per channel: bit 1 << sdk::Channel of each one it offers
    Route default_route_;
    std::map<std::string, Route> routes_;
    const std::size_t queue_size_;
    const std::chrono::milliseconds timeout_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> queue_;
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> workers_;
};

}  // namespace testino
