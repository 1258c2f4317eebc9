// The application layer: each flow of the API (send a code, verify it, report health)
// from a parsed request to what the client is answered, with no HTTP in it. It owns the
// OTP rules, the abuse limits, the store and the SMS dispatcher's use.
//
// Every flow is asynchronous: it returns at once, and its `done` runs exactly once, on
// whichever thread finished the last step: the caller's (memory store, inline provider),
// the store's I/O thread, or an SMS worker. Nothing in a flow waits for I/O.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/budget_lease.hpp"
#include "app/channel_workflow.hpp"
#include "app/flow_job.hpp"
#include "app/fraud_guard.hpp"
#include "app/lifecycle_events.hpp"
#include "app/metered_store.hpp"
#include "app/rate_limits.hpp"
#include "app/session_flow.hpp"
#include "config/config.hpp"
#include "domain/errors.hpp"
#include "domain/phone.hpp"
#include "domain/token.hpp"
#include "http/request_parsing.hpp"
#include "testino/health.hpp"
#include "testino/otp_store.hpp"
#include "testino/plugin.hpp"

namespace testino {

class SmsDispatcher;
class DeliveryReceipts;

struct SendAccepted {
    std::chrono::seconds expires_in;
    std::string verification_id;               // binds the code to this flow; verify-otp may send it back
    sdk::Channel channel = sdk::Channel::sms;  // the channel that carried the code
    // With a channel workflow: where a resend goes, and how soon it moves there.
    std::optional<sdk::Channel> next_channel;
    std::chrono::seconds next_channel_in{0};
    bool replayed = false;  // the first reply of this Idempotency-Key, sent again: no new code
};

struct VerifiedLogin {
    std::string e164;
    TokenPair tokens;
};

// A loaded plugin as health reports it. `check` answers through its completion (a store
// asks its backend; a provider answers at once).
struct PluginHealthSource {
    sdk::PluginKind kind;
    std::string name;
    std::string version;
    std::function<void(sdk::StoreCompletion<sdk::HealthReport>)> check;
};

struct HealthSummary {
    // Healthy: every plugin is up. Degraded: an SMS provider is down but every route
    // still has one that is up. Unhealthy: the store is down, or a route has none up.
    enum class Status { healthy, degraded, unhealthy };
    Status status = Status::healthy;
    std::vector<sdk::HealthReport> reports;  // one per source, in the sources' order
};
const char* to_string(HealthSummary::Status status);

class OtpFlow {
public:
    OtpFlow(const OtpConfig& otp, const TokenConfig& token, const LimitsConfig& limits,
            std::vector<TestNumber> test_numbers, std::shared_ptr<sdk::OtpStore> store,
            SmsDispatcher& dispatcher, std::vector<PluginHealthSource> plugins);
    ~OtpFlow();
    OtpFlow(const OtpFlow&) = delete;
    OtpFlow& operator=(const OtpFlow&) = delete;

    // Checks the abuse limits (per client address, number, country, global budget),
    // validates and normalises the number, stores the code's digest (replacing an earlier
    // code) and sends the SMS. A send that certainly failed removes the code and refunds the
    // limits; an uncertain one (the SMS may arrive) keeps both. A refusal says nothing about
    // whether the number has a pending code. With an Idempotency-Key, the same request again
    // within the code's lifetime replays the first reply and sends nothing; the same key
    // with another request is a 422 (otp_flow_idempotency.cpp).
    void send(const SendOtpRequest& request, RequestInfo info, FlowDone<SendAccepted> done);

    // Checks the code and, when right, consumes it and issues an access token. A wrong code
    // counts against the number, per client address and from all addresses together; a
    // verify with no code pending, or a right one, does not.
    void verify(const VerifyOtpRequest& request, RequestInfo info, FlowDone<VerifiedLogin> done);

    void health(std::function<void(HealthSummary)> done);
    const std::vector<PluginHealthSource>& plugins() const { return plugins_; }

    // Refresh, logout and the JWKS: the sign-ins verify starts.
    SessionFlow& sessions() { return sessions_; }
    // The blocks of the fraud guard, for the admin listener.
    FraudGuard& fraud_guard() { return fraud_guard_; }

    // Where the lifecycle events go (webhooks); none until set. Set before serving.
    void publish_to(EventSink& sink) { events_ = &sink; }
    // Where sent messages are remembered for their delivery receipts (and the HTTP layer
    // hands the callbacks); none until set. Set before serving.
    void attribute_receipts(DeliveryReceipts& receipts) { receipts_ = &receipts; }
    DeliveryReceipts* receipts() const { return receipts_; }

    std::chrono::seconds expiry() const { return config_.expiry; }
    int code_length() const { return config_.length; }

private:
    struct SendJob;
    struct VerifyJob;

    // send() without an idempotency key.
    void send_once(const SendOtpRequest& request, RequestInfo info, FlowDone<SendAccepted> done);
    // A repeat of an idempotency key whose record holds `value`.
    void answer_repeat(const std::string& value, const std::string& fingerprint, const RequestInfo& info,
                       FlowDone<SendAccepted> done);

    std::vector<LimitCheck> send_checks(const std::string& e164, const std::string& calling_code) const;
    void guard(std::shared_ptr<SendJob> job);
    // The send's channel: the request's, else its step of the channel workflow, else sms.
    void choose_channel(std::shared_ptr<SendJob> job);
    void store_code(std::shared_ptr<SendJob> job);
    void dispatch(std::shared_ptr<SendJob> job);
    void sent(std::shared_ptr<SendJob> job);
    // A send that certainly failed goes on to the workflow's next channel, when it has one.
    void next_step_or_undo(std::shared_ptr<SendJob> job, ApiError error);
    // Removes the code and refunds the limits of a send whose SMS certainly did not go out,
    // then answers `error`.
    void undo_send(std::shared_ptr<SendJob> job, ApiError error);
    std::vector<LimitCheck> guess_checks(const std::string& e164, const RequestInfo& info) const;
    void reserve_guess(std::shared_ptr<VerifyJob> job);
    void check_code(std::shared_ptr<VerifyJob> job);
    // Gives back the failed-verify counters charged for a request that was no wrong guess.
    void give_back_guess(std::shared_ptr<VerifyJob> job, std::function<void()> then);
    void finish_verify(std::shared_ptr<VerifyJob> job, const sdk::VerifyResult& result);

    NumberPolicy number_policy() const { return NumberPolicy{config_.allow_voip}; }
    // The message in the locale the request chose (the locale field, Accept-Language, the
    // number's country, the default), through the job's channel.
    sdk::SmsMessage make_message(const SendJob& job, const std::string& code) const;
    // Counts a verified code toward the conversion of the channel that carried it.
    void count_verified(const VerifyJob& job);
    const TestNumber* test_number(const std::string& e164) const;
    // The lifecycle events of a send and a verify (otp_flow_events.cpp).
    void publish_send(EventType type, const SendJob& job, const std::string& reason = {});
    void publish_verify(EventType type, const VerifyJob& job);

    OtpConfig config_;
    MessageCatalog messages_;
    LimitsConfig limits_;
    std::vector<TestNumber> test_numbers_;
    MeteredStore store_;
    RateLimits rate_limits_;
    SendBudgets budgets_;
    SessionFlow sessions_;
    FraudGuard fraud_guard_;
    SmsDispatcher& dispatcher_;
    ChannelWorkflow workflow_;
    bool many_channels_ = false;  // some provider offers more than sms: remember each code's channel
    std::vector<PluginHealthSource> plugins_;
    NoEventSink no_events_;
    EventSink* events_ = &no_events_;
    DeliveryReceipts* receipts_ = nullptr;
};

}  // namespace testino
