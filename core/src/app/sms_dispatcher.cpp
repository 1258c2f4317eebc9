#include "app/sms_dispatcher.hpp"

#include <stdexcept>

#include "domain/sms_segments.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

const char* outcome_name(sdk::SendStatus status) {
    switch (status) {
        case sdk::SendStatus::sent: return "sent";
        case sdk::SendStatus::invalid_recipient: return "invalid_recipient";
        case sdk::SendStatus::misconfigured: return "misconfigured";
        case sdk::SendStatus::unavailable: return "unavailable";
        case sdk::SendStatus::uncertain: return "uncertain";
    }
    return "uncertain";
}

// A provider's answer as the dispatcher takes it: `unavailable` that came back at or after
// the deadline is uncertain, since a provider still running then may have sent the SMS.
sdk::SendResult read_against_deadline(sdk::SendResult result, SmsDispatcher::Clock::time_point deadline) {
    if (result.status != sdk::SendStatus::unavailable || SmsDispatcher::Clock::now() < deadline)
        return result;
    result.status = sdk::SendStatus::uncertain;
    result.detail += " (the provider was still running at its deadline: it may have sent the SMS)";
    return result;
}

unsigned channel_bit(sdk::Channel channel) { return 1u << static_cast<unsigned>(channel); }

long milliseconds_since(SmsDispatcher::Clock::time_point start) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(SmsDispatcher::Clock::now() - start).count());
}

}  // namespace

SmsRouting SmsRouting::single(std::shared_ptr<sdk::SmsProvider> provider, std::string name) {
    SmsRouting routing;
    routing.channels.push_back({std::move(name), std::move(provider)});
    routing.default_route = {0};
    return routing;
}

bool should_fail_over(sdk::SendStatus status) {
    return status == sdk::SendStatus::unavailable || status == sdk::SendStatus::misconfigured;
}

SmsDispatcher::SmsDispatcher(SmsRouting routing, int workers, std::size_t queue_size,
                             std::chrono::milliseconds timeout)
    : channels_(std::move(routing.channels)), queue_size_(queue_size), timeout_(timeout) {
    if (channels_.empty() || routing.default_route.empty()) {
        throw std::invalid_argument("SmsDispatcher: no SMS provider to route to");
    }
    for (const SmsChannel& channel : channels_) {
        metrics_ids_.push_back(channel.name.empty() ? metrics::Registry::kMaxProviders
                                                    : metrics::global().add_sms_provider(channel.name));
        unsigned offered = 0;
        if (channel.provider) {
            for (const sdk::Channel c : channel.provider->channels()) offered |= channel_bit(c);
        }
        offered_.push_back(offered);
    }
    default_route_ = make_route(routing.default_route);
    bool needs_workers = !default_route_.inline_;
    for (const auto& [code, indices] : routing.routes) {
        const Route& route = routes_.emplace(code, make_route(indices)).first->second;
        needs_workers = needs_workers || !route.inline_;
    }
    if (!needs_workers) return;
    workers_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { run(); });
}

SmsDispatcher::Route SmsDispatcher::make_route(const std::vector<std::size_t>& indices) const {
    Route route;
    route.inline_ = true;
    for (const std::size_t i : indices) {
        if (i >= channels_.size() || !channels_[i].provider) {
            throw std::invalid_argument("SmsDispatcher: a route names no provider");
        }
        route.channels.push_back(i);
        if (channels_[i].provider->may_block()) route.inline_ = false;
    }
    if (route.channels.empty()) throw std::invalid_argument("SmsDispatcher: an empty route");
    // SMS is every send's default channel: a route of providers that cannot send it (say,
    // WhatsApp only) would refuse the plain send-otp.
    bool sms = false;
    for (const std::size_t i : route.channels) sms = sms || offers(i, sdk::Channel::sms);
    if (!sms) {
        throw std::invalid_argument("SmsDispatcher: a route has no provider that sends SMS (" +
                                    channels_[route.channels.front()].name + " ...)");
    }
    return route;
}

SmsDispatcher::~SmsDispatcher() { stop(); }

const SmsDispatcher::Route& SmsDispatcher::route_for(const std::string& calling_code) const {
    const auto it = routes_.find(calling_code);
    return it == routes_.end() ? default_route_ : it->second;
}

const std::string& SmsDispatcher::first_provider(const std::string& calling_code) const {
    return channels_[route_for(calling_code).channels.front()].name;
}

bool SmsDispatcher::every_route_served(const std::vector<bool>& channel_up) const {
    auto served = [&](const Route& route) {
        for (const std::size_t i : route.channels) {
            if (i < channel_up.size() && channel_up[i]) return true;
        }
        return false;
    };
    if (!served(default_route_)) return false;
    for (const auto& entry : routes_) {
        if (!served(entry.second)) return false;
    }
    return true;
}

bool SmsDispatcher::offers(std::size_t index, sdk::Channel channel) const {
    return index < offered_.size() && (offered_[index] & channel_bit(channel)) != 0;
}

bool SmsDispatcher::supports(const std::string& calling_code, sdk::Channel channel) const {
    for (const std::size_t i : route_for(calling_code).channels) {
        if (offers(i, channel)) return true;
    }
    return false;
}

bool SmsDispatcher::submit(sdk::SmsMessage message, const std::string& calling_code, Completion done) {
    const Route& route = route_for(calling_code);
    auto refuse = [&] {
        metrics::global().sms_queue_full(metrics_ids_[route.channels.front()], calling_code);
        return false;
    };
    if (route.inline_) {
        if (stopping_.load()) return refuse();
        Job job{std::move(message), calling_code, &route, Clock::now() + timeout_, nullptr};
        done(run_route(job));
        return true;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || queue_.size() >= queue_size_) return refuse();
        queue_.push_back(
            Job{std::move(message), calling_code, &route, Clock::now() + timeout_, std::move(done)});
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
        const LogBatch batch;  // the send's lines and the reply's access line: one write(2)
        SendOutcome outcome;
        if (Clock::now() >= job.deadline) {
            // The server, not a provider, was too slow: another provider would not help.
            outcome.result = {sdk::SendStatus::unavailable, "timed out waiting for an SMS worker", ""};
            log_error("sms.queue_timeout", {{"request_id", job.message.request_id}});
        } else {
            outcome = run_route(job);
        }
        try {
            job.done(outcome);
        } catch (const std::exception& e) {
            log_error("sms.completion_failed",
                      {{"request_id", job.message.request_id}, {"detail", e.what()}});
        }
    }
}

SendOutcome SmsDispatcher::run_route(const Job& job) {
    SendOutcome outcome;
    const std::vector<std::size_t>& channels = job.route->channels;
    const sdk::Channel wanted = job.message.channel;
    // The next provider on the route from position `n` that offers the message's channel.
    auto next_offering = [&](std::size_t n) {
        while (n < channels.size() && !offers(channels[n], wanted)) ++n;
        return n;
    };
    std::size_t n = next_offering(0);
    if (n == channels.size()) {
        // Never call a provider with a channel it did not offer.
        outcome.channel_unsupported = true;
        outcome.result = {sdk::SendStatus::invalid_recipient,
                          std::string("no provider on this route sends ") + sdk::to_string(wanted), ""};
        log_warn("sms.channel_unsupported", {{"request_id", job.message.request_id},
                                             {"channel", sdk::to_string(wanted)},
                                             {"provider", channels_[channels.front()].name}});
        return outcome;
    }
    bool first = true;
    while (n < channels.size()) {
        const std::size_t channel = channels[n];
        const Clock::time_point start = Clock::now();
        const Clock::time_point deadline = first ? job.deadline : start + timeout_;
        first = false;
        outcome.result = call_provider(channel, job.message, deadline);
        outcome.provider = channels_[channel].name;
        ++outcome.attempts;
        metrics::global().sms_result(metrics_ids_[channel], job.calling_code, outcome.result.status);

        const std::size_t next = next_offering(n + 1);
        const bool last = next == channels.size() || stopping_.load();
        if (should_fail_over(outcome.result.status) && !last) {
            metrics::global().sms_failover(metrics_ids_[channel]);
            log_failover(job, outcome, channels_[channels[next]].name, start);
            n = next;
            continue;
        }
        if (outcome.result.status == sdk::SendStatus::sent) {
            // Only an SMS is billed by segments; WhatsApp and voice carry the code, not the text.
            const bool sms = wanted == sdk::Channel::sms;
            const SmsSegments cost =
                sms ? count_sms_segments(job.message.text) : SmsSegments{SmsEncoding::gsm7, 0, 0};
            if (sms) metrics::global().sms_segments(job.calling_code, cost.segments);
            log_sent(job, outcome, cost, start);
        } else {
            log_result(job, outcome, start);
        }
        return outcome;
    }
    return outcome;
}

void SmsDispatcher::log_failover(const Job& job, const SendOutcome& outcome, const std::string& next,
                                 Clock::time_point start) const {
    log_warn("sms.attempt_failed", {{"request_id", job.message.request_id},
                                    {"provider", outcome.provider},
                                    {"attempt", outcome.attempts},
                                    {"outcome", outcome_name(outcome.result.status)},
                                    {"detail", outcome.result.detail},
                                    {"duration_ms", milliseconds_since(start)},
                                    {"next_provider", next}});
}

void SmsDispatcher::log_sent(const Job& job, const SendOutcome& outcome, const SmsSegments& cost,
                             Clock::time_point start) const {
    // A provider that does not block (console) logs the message itself; its first
    // attempt's sms.sent would only repeat that on every request: debug level.
    const LogLevel level = job.route->inline_ && outcome.attempts == 1 ? LogLevel::debug : LogLevel::info;
    if (!Logger::enabled(level)) return;
    std::vector<LogField> fields{{"request_id", job.message.request_id},
                                 {"provider", outcome.provider},
                                 {"channel", sdk::to_string(job.message.channel)},
                                 {"attempt", outcome.attempts},
                                 {"message_id", outcome.result.message_id}};
    if (job.message.channel == sdk::Channel::sms) {  // only an SMS has segments
        fields.emplace_back("segments", cost.segments);
        fields.emplace_back("encoding", to_string(cost.encoding));
    }
    fields.emplace_back("duration_ms", milliseconds_since(start));
    Logger::write(level, "sms.sent", fields);
}

void SmsDispatcher::log_result(const Job& job, const SendOutcome& outcome, Clock::time_point start) const {
    const sdk::SendStatus status = outcome.result.status;
    const std::initializer_list<LogField> fields = {{"request_id", job.message.request_id},
                                                    {"provider", outcome.provider},
                                                    {"channel", sdk::to_string(job.message.channel)},
                                                    {"attempt", outcome.attempts},
                                                    {"outcome", outcome_name(status)},
                                                    {"detail", outcome.result.detail},
                                                    {"duration_ms", milliseconds_since(start)}};
    switch (status) {
        case sdk::SendStatus::invalid_recipient: log_warn("sms.rejected_recipient", fields); break;
        case sdk::SendStatus::misconfigured: log_error("sms.provider_misconfigured", fields); break;
        case sdk::SendStatus::uncertain: log_error("sms.delivery_uncertain", fields); break;
        default: log_error("sms.provider_unavailable", fields); break;
    }
}

sdk::SendResult SmsDispatcher::call_provider(std::size_t channel, const sdk::SmsMessage& message,
                                             Clock::time_point deadline) {
    try {
        return read_against_deadline(channels_[channel].provider->send(message, deadline), deadline);
    } catch (const std::exception& e) {
        // The SDK says send() never throws; a plugin that does must not take the server
        // down with it. It may have thrown after its request went out.
        return {sdk::SendStatus::uncertain, std::string("provider threw: ") + e.what(), ""};
    } catch (...) {
        return {sdk::SendStatus::uncertain, "provider threw", ""};
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
        SendOutcome outcome;
        outcome.result = {sdk::SendStatus::unavailable, "the server is shutting down", ""};
        job.done(outcome);
    }
    for (std::thread& t : workers_) {
        if (t.joinable()) t.join();
    }
    workers_.clear();
}

}  // namespace testino
