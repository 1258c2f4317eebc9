#include "app/otp_flow.hpp"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <mutex>

#include "app/delivery_receipts.hpp"
#include "app/otp_flow_jobs.hpp"
#include "app/sms_dispatcher.hpp"
#include "domain/otp_crypto.hpp"
#include "domain/phone.hpp"
#include "observability/logging.hpp"

namespace testino {
namespace {

using namespace flow_detail;

constexpr const char* kTooManySends = "Too many codes requested; try again later";
constexpr const char* kTooManyVerifies = "Too many verification attempts; try again later";

// The request's calling code without '+', as the metrics label countries.
std::string calling_code_of(const std::string& country_code) {
    return !country_code.empty() && country_code.front() == '+' ? country_code.substr(1) : country_code;
}

// Counters about one number carry it in braces, so a clustered store keeps them together.
std::string number_key(const std::string& e164, const char* what) { return "num:{" + e164 + "}:" + what; }

// The client's answer to a failed send. Fixed texts: the provider's reason (a STOP reply, an
// opt-out, its error codes) is in the log, never in the body.
ApiError send_failure(const sdk::SendResult& result) {
    switch (result.status) {
        case sdk::SendStatus::invalid_recipient: {
            ApiError e = validation_error("mobile_number", "This number cannot receive SMS from us");
            e.code = ErrorCode::recipient_rejected;
            return e;
        }
        case sdk::SendStatus::misconfigured:
            return make_error(ErrorCode::sms_provider_error,
                              "The SMS could not be sent; the service is misconfigured");
        case sdk::SendStatus::uncertain:
            return make_error(ErrorCode::sms_delivery_uncertain,
                              "The SMS provider did not confirm the send; the code may still arrive. "
                              "Wait a minute before asking for another");
        default:
            return make_error(ErrorCode::sms_provider_unavailable,
                              "The SMS provider is unavailable; try again shortly");
    }
}

// The 422 of a channel that no provider on the number's route offers.
ApiError channel_refusal(sdk::Channel channel, const std::string& calling_code) {
    return validation_error("channel", std::string("Codes cannot be sent by ") + sdk::to_string(channel) +
                                           " to +" + calling_code + " numbers; use another channel");
}

// Whether any provider offers a channel besides sms.
bool offers_more_than_sms(const SmsDispatcher& dispatcher) {
    for (std::size_t i = 0; i < dispatcher.channels().size(); ++i) {
        if (dispatcher.offers(i, sdk::Channel::whatsapp) || dispatcher.offers(i, sdk::Channel::voice))
            return true;
    }
    return false;
}

}  // namespace

namespace {

// A verify refused by a limit, or by a store that could not count it.
void refuse_verify(FlowJob<VerifiedLogin>& job, const ApiError& refusal) {
    metrics::global().verify_outcome(refusal.code == ErrorCode::rate_limited
                                         ? metrics::VerifyOutcome::rate_limited
                                         : metrics::VerifyOutcome::store_unavailable);
    job.answer(refusal);
}

}  // namespace

const char* to_string(HealthSummary::Status status) {
    switch (status) {
        case HealthSummary::Status::healthy: return "up";
        case HealthSummary::Status::degraded: return "degraded";
        case HealthSummary::Status::unhealthy: return "down";
    }
    return "down";
}

OtpFlow::OtpFlow(const OtpConfig& otp, const TokenConfig& token, const LimitsConfig& limits,
                 std::vector<TestNumber> test_numbers, std::shared_ptr<sdk::OtpStore> store,
                 SmsDispatcher& dispatcher, std::vector<PluginHealthSource> plugins)
    : config_(otp),
      messages_(otp.messages, otp.message_template),
      limits_(limits),
      test_numbers_(std::move(test_numbers)),
      store_(std::move(store)),
      rate_limits_(store_),
      budgets_(store_, limits),
      sessions_(token, limits, store_, rate_limits_),
      fraud_guard_(limits.fraud_guard, store_),
      dispatcher_(dispatcher),
      workflow_(otp.channel_workflow, otp.channel_workflow_wait, otp.expiry, store_),
      many_channels_(offers_more_than_sms(dispatcher)),
      plugins_(std::move(plugins)) {}

OtpFlow::~OtpFlow() = default;

const TestNumber* OtpFlow::test_number(const std::string& e164) const {
    for (const TestNumber& t : test_numbers_) {
        if (t.e164 == e164 && (t.expires_at == 0 || std::time(nullptr) < t.expires_at)) return &t;
    }
    return nullptr;
}

sdk::SmsMessage OtpFlow::make_message(const SendJob& job, const std::string& code) const {
    const SendOtpRequest& r = job.request;
    std::string locale = messages_.choose(r.locale, r.accept_language, job.calling_code);
    std::string text = messages_.render(locale, code, config_.expiry.count());
    sdk::SmsMessage message{job.e164,         std::move(text),  code, job.info.request_id,
                            job.step.channel, std::move(locale)};
    message.traceparent = traceparent_of(job.info);
    return message;
}

// --- send -------------------------------------------------------------------------------

std::vector<LimitCheck> OtpFlow::send_checks(const std::string& e164, const std::string& cc) const {
    std::vector<LimitCheck> checks;
    const auto& l = limits_;
    if (enabled(1, l.number_cooldown)) {
        checks.push_back({number_key(e164, "cooldown"), 1, l.number_cooldown, metrics::Limit::number_cooldown,
                          ErrorCode::rate_limited,
                          "A code was sent to this number moments ago; wait before asking again"});
    }
    if (enabled(l.number_sends, l.number_send_window)) {
        checks.push_back({number_key(e164, "sends"), l.number_sends, l.number_send_window,
                          metrics::Limit::number_sends, ErrorCode::rate_limited, kTooManySends});
    }
    if (enabled(l.country_sends, l.country_window)) {
        checks.push_back({"cc:" + cc + ":sends", l.country_sends, l.country_window,
                          metrics::Limit::country_sends, ErrorCode::rate_limited, kTooManySends});
    }
    budgets_.append_checks(checks);  // last: a send refused by another limit costs no budget
    return checks;
}

void OtpFlow::send_once(const SendOtpRequest& request, RequestInfo info, FlowDone<SendAccepted> done) {
    auto job = start_job<SendJob>(request, std::move(info), std::move(done));
    auto checks = per_address(job->info, "send", limits_.ip_sends, limits_.ip_window,
                              metrics::Limit::ip_sends, kTooManySends);
    rate_limits_.charge(
        std::move(checks), job->info.request_id, guarded(job, [this, job](LimitVerdict v) {
            if (v.refusal) return job->answer(*v.refusal);
            const SendOtpRequest& r = job->request;
            Expected<std::string> e164 = normalize_phone(r.country_code, r.mobile_number, number_policy());
            if (!e164) return job->answer(e164.error());
            job->e164 = e164.value();
            job->calling_code = calling_code_of(r.country_code);
            const auto& allow = limits_.country_allowlist;
            if (!allow.empty() && std::find(allow.begin(), allow.end(), job->calling_code) == allow.end()) {
                publish_send(EventType::blocked, *job, "COUNTRY_NOT_ALLOWED");
                return job->answer(make_error(ErrorCode::country_not_allowed,
                                              "Codes cannot be sent to +" + job->calling_code + " numbers"));
            }
            // Before the number's limits: asking for what its route cannot do costs no allowance.
            if (r.channel && !dispatcher_.supports(job->calling_code, *r.channel)) {
                return job->answer(channel_refusal(*r.channel, job->calling_code));
            }
            rate_limits_.charge(send_checks(job->e164, job->calling_code), job->info.request_id,
                                guarded(job, [this, job](LimitVerdict checked) {
                                    if (checked.refusal) return job->answer(*checked.refusal);
                                    job->charged = std::move(checked.charged);
                                    guard(job);
                                }));
        }));
}

// The fraud guard, after the fixed limits: a prefix it blocks gets the same 429 they give,
// and what they charged is given back, as for any send that did not go out.
void OtpFlow::guard(std::shared_ptr<SendJob> job) {
    if (test_number(job->e164)) return choose_channel(job);  // no SMS, nothing to pump
    fraud_guard_.check_send(job->e164, job->calling_code, job->info.request_id,
                            guarded(job, [this, job](std::optional<ApiError> refusal) {
                                if (!refusal) return choose_channel(job);
                                publish_send(EventType::blocked, *job, "FRAUD_GUARD");
                                rate_limits_.refund(job->charged, [job, e = *refusal] { job->answer(e); });
                            }));
}

// After every limit: a refused send takes no step of the workflow.
void OtpFlow::choose_channel(std::shared_ptr<SendJob> job) {
    if (job->request.channel) {
        job->step.channel = *job->request.channel;
        return store_code(job);
    }
    if (!workflow_.enabled()) return store_code(job);
    job->steps = workflow_.steps_for(
        [this, &job](sdk::Channel c) { return dispatcher_.supports(job->calling_code, c); });
    if (test_number(job->e164)) {  // no message, so no step: the workflow is the owner's
        job->step.channel = job->steps.front();
        return store_code(job);
    }
    workflow_.begin(job->e164, job->steps, job->info.request_id, guarded(job, [this, job](ChannelStep step) {
                        job->step = step;
                        store_code(job);
                    }));
}

void OtpFlow::store_code(std::shared_ptr<SendJob> job) {
    const TestNumber* fixed = test_number(job->e164);
    const std::string code = fixed ? fixed->code : generate_code(config_.length);
    job->test_number = fixed != nullptr;
    job->digest = digest_code(config_.hmac_secret, job->e164, code);
    job->verification_id = generate_verification_id();
    job->message = make_message(*job, code);
    // The code this one replaces stays valid for the overlap: a resend by a stranger does not
    // void the code the owner is typing.
    const sdk::FlowTag flow = flow_tag(config_.hmac_secret, job->e164, job->verification_id);
    store_.put_code(
        job->e164,
        sdk::NewCode{job->digest, flow, config_.expiry, config_.max_attempts, config_.resend_overlap},
        guarded(job, [this, job](sdk::StoreResult stored) {
            if (stored.status != sdk::StoreStatus::ok) {
                log_error("store.put_failed",
                          {{"request_id", job->info.request_id}, {"detail", stored.detail}});
                return rate_limits_.refund(job->charged,
                                           [job, error = store_error(stored)] { job->answer(error); });
            }
            if (!job->test_number) return dispatch(job);
            log_info("sms.skipped_test_number", {{"request_id", job->info.request_id}});
            job->answer(SendAccepted{config_.expiry, job->verification_id, job->step.channel, std::nullopt,
                                     std::chrono::seconds(0), false});
        }));
}

void OtpFlow::dispatch(std::shared_ptr<SendJob> job) {
    const bool queued = dispatcher_.submit(
        job->message, job->calling_code, guarded(job, [this, job](const SendOutcome& outcome) {
            const sdk::SendStatus status = outcome.result.status;
            if (status == sdk::SendStatus::sent) {
                job->provider = outcome.provider;
                job->message_id = outcome.result.message_id;
                return sent(job);
            }
            // The SMS may arrive: its code stays valid and the limits stay charged (no free resend).
            if (status == sdk::SendStatus::uncertain) return job->answer(send_failure(outcome.result));
            if (outcome.channel_unsupported) {
                return undo_send(job, channel_refusal(job->message.channel, job->calling_code));
            }
            next_step_or_undo(job, send_failure(outcome.result));
        }));
    if (queued) return;
    log_warn("sms.queue_full", {{"request_id", job->info.request_id},
                                {"provider", dispatcher_.first_provider(job->calling_code)}});
    ApiError busy = make_error(ErrorCode::service_busy, "Too many SMS are waiting to be sent; retry shortly");
    busy.retry_after = std::chrono::seconds(1);
    publish_send(EventType::failed, *job, error_info(busy.code).machine_code);
    undo_send(job, std::move(busy));
}

void OtpFlow::sent(std::shared_ptr<SendJob> job) {
    const sdk::Channel channel = job->message.channel;
    metrics::global().code_sent(channel);
    if (many_channels_) workflow_.remember(job->e164, job->digest, channel);
    if (receipts_) {
        receipts_->remember(job->provider, job->message_id, job->e164, job->verification_id, channel,
                            job->info.request_id);
    }
    publish_send(EventType::sent, *job);
    job->answer(SendAccepted{config_.expiry, job->verification_id, channel, job->step.next, job->step.next_in,
                             false});
}

// The code is stored and no message carried it: in a workflow, the next channel carries
// it now (a number not on WhatsApp gets the SMS, a line that takes no SMS gets the call).
void OtpFlow::next_step_or_undo(std::shared_ptr<SendJob> job, ApiError error) {
    if (job->steps.empty()) {
        publish_send(EventType::failed, *job, error_info(error.code).machine_code);
        return undo_send(job, std::move(error));
    }
    workflow_.skip(
        job->e164, job->steps, job->step,
        guarded(job, [this, job, error = std::move(error)](std::optional<ChannelStep> next) mutable {
            if (!next) {
                publish_send(EventType::failed, *job, error_info(error.code).machine_code);
                return undo_send(job, std::move(error));
            }
            log_info("workflow.next_channel", {{"request_id", job->info.request_id},
                                               {"failed", sdk::to_string(job->step.channel)},
                                               {"next", sdk::to_string(next->channel)}});
            metrics::global().channel_fallback(job->step.channel, next->channel);
            job->step = *next;
            job->message.channel = next->channel;
            dispatch(job);
        }));
}

void OtpFlow::undo_send(std::shared_ptr<SendJob> job, ApiError error) {
    // An SMS that never went out costs the user none of their allowance, and leaves no
    // usable code behind.
    rate_limits_.refund(job->charged, [this, job, error = std::move(error)]() mutable {
        store_.remove_code(job->e164, job->digest, [job, error = std::move(error)](sdk::StoreResult removed) {
            if (removed.status != sdk::StoreStatus::ok) {
                log_error("store.remove_failed",
                          {{"request_id", job->info.request_id}, {"detail", removed.detail}});
            }
            job->answer(error);
        });
    });
}

// --- verify -----------------------------------------------------------------------------

void OtpFlow::verify(const VerifyOtpRequest& request, RequestInfo info, FlowDone<VerifiedLogin> done) {
    auto job = start_job<VerifyJob>(request, std::move(info), std::move(done));
    auto checks = per_address(job->info, "verify", limits_.ip_verifies, limits_.ip_window,
                              metrics::Limit::ip_verifies, kTooManyVerifies);
    rate_limits_.charge(std::move(checks), job->info.request_id, guarded(job, [this, job](LimitVerdict v) {
                            if (v.refusal) return refuse_verify(*job, *v.refusal);
                            Expected<std::string> e164 = normalize_phone(
                                job->request.country_code, job->request.mobile_number, number_policy());
                            if (!e164) return job->answer(e164.error());
                            job->e164 = e164.value();
                            if (config_.require_verification_id && job->request.verification_id.empty()) {
                                return job->answer(validation_error(
                                    "verification_id",
                                    "Field \"verification_id\" is required: send the one send-otp returned"));
                            }
                            reserve_guess(job);
                        }));
}

std::vector<LimitCheck> OtpFlow::guess_checks(const std::string& e164, const RequestInfo& info) const {
    std::vector<LimitCheck> checks;
    const auto window = limits_.number_verify_window;
    if (enabled(limits_.number_failed_verifies, window)) {
        // Per number *and* address: a stranger's wrong guesses use up the stranger's allowance,
        // not the owner's.
        const std::string address = info.client_key.empty() ? "-" : info.client_key;
        checks.push_back({number_key(e164, "failed:") + address, limits_.number_failed_verifies, window,
                          metrics::Limit::number_failed_verifies, ErrorCode::rate_limited, kTooManyVerifies});
    }
    if (enabled(limits_.number_failed_verifies_all, window)) {
        // Distributed guessing: high enough that each code's max_attempts stops a guesser first.
        checks.push_back({number_key(e164, "failed"), limits_.number_failed_verifies_all, window,
                          metrics::Limit::number_failed_verifies_all_addresses, ErrorCode::rate_limited,
                          kTooManyVerifies});
    }
    return checks;
}

// Each failed-verify counter is charged before the code is checked, in one atomic store
// step that also says whether the limit is passed: concurrent guesses cannot all slip
// through a read-then-add, and a counter the store cannot reach refuses the verify (fail
// closed). The charge is given back when the request turns out to be no wrong guess.
void OtpFlow::reserve_guess(std::shared_ptr<VerifyJob> job) {
    rate_limits_.charge(
        guess_checks(job->e164, job->info), job->info.request_id, guarded(job, [this, job](LimitVerdict v) {
            job->reserved = std::move(v.charged);
            if (!v.refusal) return check_code(job);
            give_back_guess(job, [job, refusal = *v.refusal] { refuse_verify(*job, refusal); });
        }));
}

void OtpFlow::give_back_guess(std::shared_ptr<VerifyJob> job, std::function<void()> then) {
    rate_limits_.refund(job->reserved, std::move(then));
}

void OtpFlow::check_code(std::shared_ptr<VerifyJob> job) {
    job->candidate = digest_code(config_.hmac_secret, job->e164, job->request.otp);
    const sdk::CodeDigest& candidate = job->candidate;
    std::optional<sdk::FlowTag> flow;
    if (!job->request.verification_id.empty()) {
        flow = flow_tag(config_.hmac_secret, job->e164, job->request.verification_id);
    }
    store_.verify_and_consume(job->e164, candidate, flow, guarded(job, [this, job](sdk::VerifyResult result) {
                                  // Only a wrong code against a live one is a guess; nothing
                                  // is pending, or the code is already dead, costs nobody.
                                  if (result.outcome == sdk::VerifyOutcome::mismatch)
                                      return finish_verify(job, result);
                                  give_back_guess(job, [this, job, result] { finish_verify(job, result); });
                              }));
}

void OtpFlow::finish_verify(std::shared_ptr<VerifyJob> job, const sdk::VerifyResult& result) {
    auto& stats = metrics::global();
    switch (result.outcome) {
        case sdk::VerifyOutcome::verified:
            stats.verify_outcome(metrics::VerifyOutcome::verified);
            fraud_guard_.record_verified(job->e164, calling_code_of(job->request.country_code));
            count_verified(*job);
            publish_verify(EventType::verified, *job);
            return sessions_.start(job->e164, job->info.request_id,
                                   guarded(job, [job](Expected<TokenPair> pair) {
                                       if (!pair) return job->answer(pair.error());
                                       job->answer(VerifiedLogin{job->e164, std::move(pair.value())});
                                   }));
        case sdk::VerifyOutcome::mismatch:
            // The guess that used the last attempt: the code is dead from now on.
            if (result.attempts_left == 0) publish_verify(EventType::max_attempts, *job);
            [[fallthrough]];
        case sdk::VerifyOutcome::not_found:
            // Wrong, expired and unknown look the same: nothing tells a guesser which.
            stats.verify_outcome(metrics::VerifyOutcome::invalid);
            return job->answer(make_error(ErrorCode::invalid_otp, "Invalid or expired OTP"));
        case sdk::VerifyOutcome::attempts_exhausted: {
            stats.verify_outcome(metrics::VerifyOutcome::too_many_attempts);
            ApiError e =
                make_error(ErrorCode::too_many_attempts, "Too many wrong attempts; request a new code");
            e.retry_after = std::max(result.retry_after, std::chrono::seconds(1));
            return job->answer(e);
        }
        case sdk::VerifyOutcome::unavailable:
            stats.verify_outcome(metrics::VerifyOutcome::store_unavailable);
            log_error("store.verify_failed",
                      {{"request_id", job->info.request_id}, {"detail", result.detail}});
            return job->answer(store_error({sdk::StoreStatus::unavailable, result.detail}));
    }
    job->answer(make_error(ErrorCode::internal_error, "unexpected store outcome"));
}

void OtpFlow::count_verified(const VerifyJob& job) {
    if (workflow_.enabled()) workflow_.restart(job.e164);  // the next sign-in starts at the first channel
    if (test_number(job.e164)) return;                     // no message carried its code
    if (!many_channels_) return metrics::global().code_verified(sdk::Channel::sms);
    workflow_.recall(job.e164, job.candidate, [](std::optional<sdk::Channel> channel) {
        if (channel) metrics::global().code_verified(*channel);
    });
}

// --- health -----------------------------------------------------------------------------

void OtpFlow::health(std::function<void(HealthSummary)> done) {
    struct Gather {
        std::mutex mutex;
        HealthSummary summary;
        std::size_t left;
        std::function<void(HealthSummary)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->summary.reports.resize(plugins_.size());
    gather->left = plugins_.size();
    gather->done = std::move(done);
    auto finish = [this, gather] {
        HealthSummary& s = gather->summary;
        bool all_up = true;
        bool store_up = true;
        const auto& channels = dispatcher_.channels();
        std::vector<bool> channel_up(channels.size(), true);
        for (std::size_t i = 0; i < plugins_.size(); ++i) {
            const bool up = s.reports[i].healthy;
            all_up = all_up && up;
            if (plugins_[i].kind != sdk::PluginKind::sms_provider) {
                store_up = store_up && up;
                continue;
            }
            for (std::size_t c = 0; c < channels.size(); ++c) {
                if (channels[c].name == plugins_[i].name && !up) channel_up[c] = false;
            }
        }
        const bool serving = store_up && dispatcher_.every_route_served(channel_up);
        s.status = all_up    ? HealthSummary::Status::healthy
                   : serving ? HealthSummary::Status::degraded
                             : HealthSummary::Status::unhealthy;
        gather->done(std::move(s));
    };
    if (plugins_.empty()) return finish();
    for (std::size_t i = 0; i < plugins_.size(); ++i) {
        plugins_[i].check([gather, finish, i](sdk::HealthReport report) {
            {
                std::lock_guard lock(gather->mutex);
                gather->summary.reports[i] = std::move(report);
                if (--gather->left > 0) return;
            }
            finish();
        });
    }
}

}  // namespace testino
