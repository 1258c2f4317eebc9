// The state of one send and one verify as OtpFlow's steps pass it along. Internal to
// core/src/app (otp_flow.cpp and otp_flow_events.cpp).
#pragma once

#include <string>
#include <vector>

#include "app/otp_flow.hpp"

namespace testino {

struct OtpFlow::SendJob : flow_detail::FlowJob<SendAccepted> {
    SendOtpRequest request;
    std::string e164;
    std::string calling_code;  // as the request gave it, without '+': the metrics' country
    sdk::CodeDigest digest{};
    std::string verification_id;
    sdk::SmsMessage message;
    bool test_number = false;  // no SMS: the code is the configured one
    std::vector<ChargedCounter> charged;
    ChannelStep step;                 // its channel (and, in a workflow, the next one)
    std::vector<sdk::Channel> steps;  // the workflow's steps for this number; empty: none
    std::string provider;             // sent: the provider that took it, and its message id
    std::string message_id;
};

struct OtpFlow::VerifyJob : flow_detail::FlowJob<VerifiedLogin> {
    VerifyOtpRequest request;
    std::string e164;
    std::vector<ChargedCounter> reserved;  // the failed-verify counters charged for this request
    sdk::CodeDigest candidate{};
};

}  // namespace testino
