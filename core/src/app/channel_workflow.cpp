#include "app/channel_workflow.hpp"

#include <algorithm>
#include <memory>

#include "domain/otp_crypto.hpp"
#include "observability/logging.hpp"

namespace testino {
namespace {

// The number in braces: a clustered store keeps a number's keys together.
std::string step_key(const std::string& e164) { return "num:{" + e164 + "}:wf:step"; }
std::string wait_key(const std::string& e164) { return "num:{" + e164 + "}:wf:wait"; }

std::string carrier_key(const std::string& e164, const sdk::CodeDigest& digest) {
    return "num:{" + e164 + "}:via:" + to_hex(digest.data(), 8);
}

// A counter's value back to 0: read it, then take that much off.
void zero_counter(MeteredStore& store, const std::string& key, std::chrono::seconds window) {
    store.hit_counter(key, window, 0, [&store, key, window](sdk::CounterResult read) {
        if (read.status != sdk::StoreStatus::ok || read.count == 0) return;
        store.hit_counter(key, window, -read.count, [](sdk::CounterResult) {});
    });
}

}  // namespace

ChannelWorkflow::ChannelWorkflow(std::vector<sdk::Channel> steps, std::chrono::seconds wait,
                                 std::chrono::seconds code_ttl, MeteredStore& store)
    : steps_(std::move(steps)), wait_(wait), code_ttl_(code_ttl), store_(store) {}

std::vector<sdk::Channel> ChannelWorkflow::steps_for(const std::function<bool(sdk::Channel)>& offered) const {
    std::vector<sdk::Channel> steps;
    for (const sdk::Channel c : steps_) {
        if (offered(c)) steps.push_back(c);
    }
    if (steps.empty()) steps.push_back(sdk::Channel::sms);
    return steps;
}

std::chrono::seconds ChannelWorkflow::life(std::size_t steps) const {
    return wait_ * static_cast<int>(steps > 0 ? steps - 1 : 0) + std::max(code_ttl_, wait_);
}

ChannelStep ChannelWorkflow::step_at(const std::vector<sdk::Channel>& steps, std::int64_t taken,
                                     std::chrono::seconds next_in) const {
    ChannelStep step;
    const auto last = static_cast<std::int64_t>(steps.size()) - 1;
    step.index = static_cast<std::size_t>(std::clamp<std::int64_t>(taken - 1, 0, last));
    step.channel = steps[step.index];
    if (step.index + 1 < steps.size()) {
        step.next = steps[step.index + 1];
        step.next_in = std::max(next_in, std::chrono::seconds(1));
    }
    return step;
}

void ChannelWorkflow::begin(const std::string& e164, std::vector<sdk::Channel> steps,
                            const std::string& request_id, std::function<void(ChannelStep)> done) {
    auto shared = std::make_shared<std::vector<sdk::Channel>>(std::move(steps));
    const std::chrono::seconds window = life(shared->size());
    store_.hit_counter(
        wait_key(e164), wait_, 1,
        [this, e164, shared, window, request_id, done = std::move(done)](sdk::CounterResult waiting) {
            if (waiting.status != sdk::StoreStatus::ok) {
                log_warn("workflow.store_failed", {{"request_id", request_id}, {"detail", waiting.detail}});
                return done(step_at(*shared, 1, wait_));
            }
            // The first send since the wait began takes a step; the others repeat the current one
            // (a step counter that is gone, or zeroed by a verify, takes the first step too).
            const bool step_ends = waiting.count == 1;
            const std::chrono::seconds next_in = waiting.reset_in;
            store_.hit_counter(
                step_key(e164), window, step_ends ? 1 : 0,
                [this, e164, shared, window, next_in, request_id, done](sdk::CounterResult taken) {
                    if (taken.status != sdk::StoreStatus::ok) {
                        log_warn("workflow.store_failed",
                                 {{"request_id", request_id}, {"detail", taken.detail}});
                        return done(step_at(*shared, 1, next_in));
                    }
                    if (taken.count > 0) return done(step_at(*shared, taken.count, next_in));
                    store_.hit_counter(step_key(e164), window, 1,
                                       [this, shared, next_in, done](sdk::CounterResult first) {
                                           done(step_at(*shared, first.count > 0 ? first.count : 1, next_in));
                                       });
                });
        });
}

void ChannelWorkflow::skip(const std::string& e164, std::vector<sdk::Channel> steps, const ChannelStep& step,
                           std::function<void(std::optional<ChannelStep>)> done) {
    if (step.index + 1 >= steps.size()) return done(std::nullopt);
    auto shared = std::make_shared<std::vector<sdk::Channel>>(std::move(steps));
    store_.hit_counter(step_key(e164), life(shared->size()), 1,
                       [this, shared, step, done = std::move(done)](sdk::CounterResult taken) {
                           // Whatever the counter says, this request moves on by one step.
                           const auto at = static_cast<std::int64_t>(step.index) + 2;
                           const std::int64_t moved =
                               taken.status == sdk::StoreStatus::ok ? std::max(taken.count, at) : at;
                           ChannelStep next = step_at(*shared, moved, wait_);
                           if (next.index <= step.index) return done(std::nullopt);
                           done(next);
                       });
}

void ChannelWorkflow::restart(const std::string& e164) {
    zero_counter(store_, wait_key(e164), wait_);
    zero_counter(store_, step_key(e164), life(steps_.size()));
}

void ChannelWorkflow::remember(const std::string& e164, const sdk::CodeDigest& digest, sdk::Channel channel) {
    store_.hit_counter(carrier_key(e164, digest), code_ttl_, static_cast<std::int64_t>(channel) + 1,
                       [](sdk::CounterResult) {});
}

void ChannelWorkflow::recall(const std::string& e164, const sdk::CodeDigest& digest,
                             std::function<void(std::optional<sdk::Channel>)> done) {
    store_.hit_counter(carrier_key(e164, digest), code_ttl_, 0,
                       [done = std::move(done)](sdk::CounterResult read) {
                           const std::int64_t v = read.status == sdk::StoreStatus::ok ? read.count : 0;
                           if (v < 1 || v > 3) return done(std::nullopt);
                           done(static_cast<sdk::Channel>(v - 1));
                       });
}

}  // namespace testino
