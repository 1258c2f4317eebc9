// The lifecycle events OtpFlow publishes (app/lifecycle_events.hpp): a send that went out,
// failed or was blocked, and a code verified or killed by wrong guesses. Test numbers send
// nothing and publish nothing.
#include "app/otp_flow_jobs.hpp"

namespace testino {

void OtpFlow::publish_send(EventType type, const SendJob& job, const std::string& reason) {
    if (job.test_number || test_number(job.e164)) return;
    LifecycleEvent event;
    event.type = type;
    event.e164 = job.e164;
    event.verification_id = job.verification_id;
    if (type != EventType::blocked) event.channel = sdk::to_string(job.message.channel);
    event.provider = job.provider;
    event.message_id = job.message_id;
    event.reason = reason;
    event.request_id = job.info.request_id;
    event.traceparent = traceparent_of(job.info);
    if (type == EventType::sent) event.expires_in = config_.expiry;
    events_->publish(std::move(event));
}

void OtpFlow::publish_verify(EventType type, const VerifyJob& job) {
    if (test_number(job.e164)) return;
    LifecycleEvent event;
    event.type = type;
    event.e164 = job.e164;
    event.verification_id = job.request.verification_id;
    event.request_id = job.info.request_id;
    event.traceparent = traceparent_of(job.info);
    events_->publish(std::move(event));
}

}  // namespace testino
