// The ordered fallback of channels (otp.channel_workflow, e.g. [whatsapp, sms, voice]): a
// number's first send goes through the first channel; a resend once the step's wait has
// passed moves to the next one, and the last one repeats. A send whose step certainly
// failed (not on WhatsApp, an outage) moves on at once, within the same request.
//
// The state is two store counters a number, so that every server instance sees the same
// step: `wf:step` counts the steps taken since the workflow began (its window is the
// workflow's life: (steps - 1) x wait + the code's expiry), and `wf:wait` exists while the
// current step's wait lasts (its window is the wait). A resend that creates `wf:wait`
// (count 1) is the first after the wait, so it takes the next step; of concurrent resends,
// exactly one does. A verified code, or the end of the workflow's life, starts it again.
//
// It also remembers which channel carried each code (a counter keyed by the code's digest,
// living as long as the code), so that a verify counts toward that channel's conversion.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/metered_store.hpp"
#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"

namespace testino {

struct ChannelStep {
    sdk::Channel channel = sdk::Channel::sms;
    std::size_t index = 0;             // into the number's steps
    std::optional<sdk::Channel> next;  // the channel a later resend moves to
    std::chrono::seconds next_in{0};   // how long until a resend moves to `next`
};

class ChannelWorkflow {
public:
    // `steps` empty: no workflow (every send without a channel is SMS).
    ChannelWorkflow(std::vector<sdk::Channel> steps, std::chrono::seconds wait, std::chrono::seconds code_ttl,
                    MeteredStore& store);

    bool enabled() const { return !steps_.empty(); }
    std::chrono::seconds wait() const { return wait_; }

    // The configured steps a number can take: those `offered` (by a provider on its route).
    // Never empty: with none offered, sms.
    std::vector<sdk::Channel> steps_for(const std::function<bool(sdk::Channel)>& offered) const;

    // The step of a send to `e164` through `steps` (from steps_for). A store that cannot
    // be read gives the first step: the workflow is a convenience, never a reason to refuse.
    void begin(const std::string& e164, std::vector<sdk::Channel> steps, const std::string& request_id,
               std::function<void(ChannelStep)> done);
    // Moves past `step`, whose send certainly failed: the next step, or none after the last.
    void skip(const std::string& e164, std::vector<sdk::Channel> steps, const ChannelStep& step,
              std::function<void(std::optional<ChannelStep>)> done);
    // The number's next send starts from the first step (its code was verified).
    void restart(const std::string& e164);

    // Which channel carried the code with `digest`, for as long as the code lives.
    void remember(const std::string& e164, const sdk::CodeDigest& digest, sdk::Channel channel);
    void recall(const std::string& e164, const sdk::CodeDigest& digest,
                std::function<void(std::optional<sdk::Channel>)> done);

private:
    std::chrono::seconds life(std::size_t steps) const;
    ChannelStep step_at(const std::vector<sdk::Channel>& steps, std::int64_t taken,
                        std::chrono::seconds next_in) const;

    std::vector<sdk::Channel> steps_;
    std::chrono::seconds wait_;
    std::chrono::seconds code_ttl_;
    MeteredStore& store_;
};

}  // namespace testino
