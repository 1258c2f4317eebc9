// The OTP flows end to end below HTTP (fixture: otp_flow_fixture.hpp).
#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace flow_test;

TEST_F(OtpFlowTest, RightCodeVerifiesOnceAndIssuesAToken) {
    const std::string code = send();
    const auto login = verify(code);
    ASSERT_TRUE(login.ok()) << login.error().message;
    EXPECT_EQ(login->e164, "+12025550123");
    EXPECT_FALSE(login->tokens.access.jwt.empty());
    const auto again = verify(code);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::invalid_otp) << "single use";
}

TEST_F(OtpFlowTest, MessageFollowsTheTemplate) {
    const auto sent = send_result("202-555-0123", "", "+1", "req-7");
    ASSERT_TRUE(sent.ok());
    EXPECT_EQ(sent->expires_in, 300s);
    const sdk::SmsMessage message = provider->last();
    EXPECT_EQ(message.to, "+12025550123");
    EXPECT_EQ(message.request_id, "req-7");
    EXPECT_EQ(message.text, "Your Testino code is " + message.code + ". It expires in 5 minutes.");
}

TEST_F(OtpFlowTest, WrongCodesUseUpTheAttemptsThenTheCodeIsDead) {
    const std::string code = send();
    for (int i = 0; i < 5; ++i) {
        const auto r = verify(wrong(code));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::invalid_otp) << "attempt " << i;
    }
    const auto dead = verify(code);
    ASSERT_FALSE(dead.ok());
    EXPECT_EQ(dead.error().code, ErrorCode::too_many_attempts);
    EXPECT_GT(dead.error().retry_after.count(), 0);
    EXPECT_LE(dead.error().retry_after.count(), 300);
}

TEST_F(OtpFlowTest, NewSendReplacesTheOldCodeAndItsAttempts) {
    // With no overlap (otp.resend_overlap_seconds: 0); the overlap has its own test.
    make_flow(300s, 5, no_limits(), {}, nullptr, [](OtpConfig& otp) { otp.resend_overlap = 0s; });
    const std::string first = send();
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(verify(wrong(first)).ok());
    std::string second = send();
    for (int i = 0; i < 20 && second == first; ++i) second = send();
    ASSERT_NE(first, second);
    EXPECT_EQ(verify(first).error().code, ErrorCode::invalid_otp);
    EXPECT_TRUE(verify(second).ok()) << "attempts were reset by the new code";
}

TEST_F(OtpFlowTest, ExpiredAndUnknownLookTheSame) {
    make_flow(1s, 5);
    const std::string code = send();
    std::this_thread::sleep_for(1100ms);
    const auto expired = verify(code);
    const auto unknown = verify(code, "2025550199");
    ASSERT_FALSE(expired.ok());
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(expired.error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(error_body(expired.error()), error_body(unknown.error()));
}

TEST_F(OtpFlowTest, FailedSendLeavesNoUsableCode) {
    for (auto status :
         {sdk::SendStatus::invalid_recipient, sdk::SendStatus::misconfigured, sdk::SendStatus::unavailable}) {
        provider->answer(status);
        ASSERT_FALSE(send_result("2025550123").ok());
        EXPECT_EQ(verify(provider->last().code).error().code, ErrorCode::invalid_otp);
    }
    EXPECT_EQ(health().reports.back().detail, "0 pending codes");
}

TEST_F(OtpFlowTest, FailedSendMapsToTheDocumentedErrors) {
    provider->answer(sdk::SendStatus::invalid_recipient);
    const auto rejected = send_result("2025550123");
    ASSERT_FALSE(rejected.ok());
    EXPECT_EQ(rejected.error().code, ErrorCode::recipient_rejected);
    EXPECT_EQ(rejected.error().field, "mobile_number");
    provider->answer(sdk::SendStatus::misconfigured);
    EXPECT_EQ(send_result("2025550123").error().code, ErrorCode::sms_provider_error);
    provider->answer(sdk::SendStatus::unavailable);
    EXPECT_EQ(send_result("2025550123").error().code, ErrorCode::sms_provider_unavailable);
}

TEST_F(OtpFlowTest, InvalidNumberIsAValidationErrorAndStoresNothing) {
    const auto r = send_result("1234567890");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::validation_error);
    EXPECT_EQ(r.error().field, "mobile_number");
    EXPECT_EQ(provider->count(), 0u);
    EXPECT_EQ(health().reports.back().detail, "0 pending codes");
}

TEST_F(OtpFlowTest, HundredConcurrentWrongGuessesConsumeExactlyTheAllowedAttempts) {
    const std::string code = send();
    std::atomic<int> invalid{0}, exhausted{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
        threads.emplace_back([&] {
            const auto r = verify(wrong(code));
            if (r.ok())
                ++other;
            else if (r.error().code == ErrorCode::invalid_otp)
                ++invalid;
            else if (r.error().code == ErrorCode::too_many_attempts)
                ++exhausted;
            else
                ++other;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(exhausted.load(), 95);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(verify(code).error().code, ErrorCode::too_many_attempts) << "the right code is dead too";
}

TEST_F(OtpFlowTest, ConcurrentRightGuessesVerifyExactlyOnce) {
    const std::string code = send();
    std::atomic<int> verified{0}, rejected{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i) {
        threads.emplace_back([&] { verify(code).ok() ? ++verified : ++rejected; });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(verified.load(), 1);
    EXPECT_EQ(rejected.load(), 49);
}

// --- abuse limits --------------------------------------------------------------------

TEST_F(OtpFlowTest, ResendCooldownRefusesWithRetryAfter) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "ok");
    auto again = send_result("2025550123", "10.0.0.1");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::rate_limited);
    EXPECT_GT(again.error().retry_after.count(), 25);
    EXPECT_LE(again.error().retry_after.count(), 30);
    EXPECT_EQ(send_outcome("2025550124"), "ok") << "other numbers are not affected";
}

TEST_F(OtpFlowTest, PerNumberSendCap) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 3;
    make_flow(300s, 5, limits);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send_outcome("2025550123"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
}

TEST_F(OtpFlowTest, PerIpCapsForSendAndVerify) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 2;
    limits.ip_verifies = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550122", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.7"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.8"), "ok") << "another address has its own cap";
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::rate_limited);
}

TEST_F(OtpFlowTest, FailedVerifyCapAcrossCodes) {
    LimitsConfig limits = no_limits();
    limits.number_failed_verifies = 3;
    make_flow(300s, 5, limits);
    const std::string first = send();
    EXPECT_EQ(verify(wrong(first)).error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify(wrong(first)).error().code, ErrorCode::invalid_otp);
    const std::string second = send();  // a new code does not reset the number's failures
    EXPECT_EQ(verify(wrong(second)).error().code, ErrorCode::invalid_otp);
    const auto refused = verify(second);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::rate_limited) << "even the right code waits";
    EXPECT_GT(refused.error().retry_after.count(), 0);
}

TEST_F(OtpFlowTest, CountryAllowlistAndCountryCap) {
    LimitsConfig limits = no_limits();
    limits.country_allowlist = {"44"};
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "COUNTRY_NOT_ALLOWED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");

    limits = no_limits();
    limits.country_sends = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");
}

TEST_F(OtpFlowTest, GlobalBudgetTripsTheBreaker) {
    LimitsConfig limits = no_limits();
    limits.budget_per_hour = 2;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.9.9.9"), "SEND_BUDGET_EXHAUSTED");
    EXPECT_EQ(error_info(ErrorCode::send_budget_exhausted).status, 503);
}

// The value of a store counter now (a read adds nothing).
std::int64_t counter(sdk::OtpStore& store, const std::string& key) {
    std::promise<std::int64_t> value;
    store.hit_counter(key, 1h, 0, [&value](sdk::CounterResult r) { value.set_value(r.count); });
    return value.get_future().get();
}

TEST_F(OtpFlowTest, ALargeBudgetIsChargedALeaseAtATimeAndARefundStaysInTheLease) {
    LimitsConfig limits = no_limits();
    limits.budget_per_hour = 1000;
    limits.budget_per_day = 10000;
    limits.budget_lease = 10;
    make_flow(300s, 5, limits);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(send_outcome("2025550123"), "ok") << i;
    EXPECT_EQ(counter(*store, "budget:hour"), 10) << "one lease of 10 for ten sends";
    EXPECT_EQ(counter(*store, "budget:day"), 10);

    provider->answer(sdk::SendStatus::unavailable);
    EXPECT_EQ(send_outcome("2025550123"), "SMS_PROVIDER_UNAVAILABLE");
    EXPECT_EQ(counter(*store, "budget:hour"), 20) << "a new lease; the refund stays in it";
    provider->answer(sdk::SendStatus::sent);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(send_outcome("2025550123"), "ok") << i;
    EXPECT_EQ(counter(*store, "budget:hour"), 20) << "the refunded unit was one of the ten";
    EXPECT_EQ(send_outcome("2025550123"), "ok");
    EXPECT_EQ(counter(*store, "budget:hour"), 30);
}

TEST_F(OtpFlowTest, ALeasedBudgetTripsTheBreakerAtItsLimit) {
    LimitsConfig limits = no_limits();
    limits.budget_per_hour = 201;  // a lease of 2 (1% of it), the last one only half granted
    make_flow(300s, 5, limits);
    for (int i = 0; i < 201; ++i) ASSERT_EQ(send_outcome("2025550123"), "ok") << i;
    const auto refused = send_result("2025550123");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::send_budget_exhausted);
    EXPECT_GT(refused.error().retry_after.count(), 3500);
    EXPECT_LE(refused.error().retry_after.count(), 3600);
    EXPECT_EQ(provider->count(), 201u);
}

// Below 200 sends a window 1% is less than one: every send is charged to the store and
// refunded to it, as before there were leases.
TEST_F(OtpFlowTest, SmallBudgetsOrALeaseOfOneChargeTheStoreForEverySend) {
    for (const auto& [budget, lease] : {std::pair{199, 10}, std::pair{1000, 1}}) {
        LimitsConfig limits = no_limits();
        limits.budget_per_hour = budget;
        limits.budget_lease = lease;
        make_flow(300s, 5, limits);
        EXPECT_EQ(send_outcome("2025550123"), "ok");
        EXPECT_EQ(counter(*store, "budget:hour"), 1) << budget;
        provider->answer(sdk::SendStatus::unavailable);
        EXPECT_EQ(send_outcome("2025550123"), "SMS_PROVIDER_UNAVAILABLE");
        EXPECT_EQ(counter(*store, "budget:hour"), 1) << "refunded to the store";
    }
}

TEST_F(OtpFlowTest, FailedSmsRefundsTheUsersAllowance) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    limits.number_sends = 1;
    make_flow(300s, 5, limits);
    provider->answer(sdk::SendStatus::unavailable);
    EXPECT_EQ(send_outcome("2025550123"), "SMS_PROVIDER_UNAVAILABLE");
    provider->answer(sdk::SendStatus::sent);
    EXPECT_EQ(send_outcome("2025550123"), "ok") << "neither the cooldown nor the cap was spent";
}

// The provider may have sent it: the code stays valid, and nothing is refunded, so retrying
// at once cannot buy a second SMS.
TEST_F(OtpFlowTest, AnUncertainSmsKeepsItsCodeAndTheLimitsStayCharged) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    make_flow(300s, 5, limits);
    provider->answer(sdk::SendStatus::uncertain);
    const auto sent = send_result("2025550123");
    ASSERT_FALSE(sent.ok());
    EXPECT_EQ(sent.error().code, ErrorCode::sms_delivery_uncertain);
    EXPECT_EQ(sent.error().status(), 502);
    EXPECT_NE(sent.error().message.find("may still arrive"), std::string::npos) << sent.error().message;
    const std::string code = provider->last().code;

    provider->answer(sdk::SendStatus::sent);
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED") << "the cooldown was not refunded";
    EXPECT_EQ(provider->count(), 1u);
    const auto login = verify(code);
    EXPECT_TRUE(login.ok()) << "the code that may have arrived still works";
}

// The provider's reason (here "scripted failure") is for the logs; the client gets fixed text.
TEST_F(OtpFlowTest, AProviderReasonNeverReachesTheClient) {
    for (const auto status : {sdk::SendStatus::invalid_recipient, sdk::SendStatus::misconfigured,
                              sdk::SendStatus::unavailable, sdk::SendStatus::uncertain}) {
        provider->answer(status);
        const auto sent = send_result("2025550123");
        ASSERT_FALSE(sent.ok());
        EXPECT_EQ(sent.error().message.find("scripted"), std::string::npos) << sent.error().message;
        if (status == sdk::SendStatus::invalid_recipient) {
            EXPECT_EQ(sent.error().message, "This number cannot receive SMS from us");
            EXPECT_EQ(sent.error().field, "mobile_number");
        }
    }
}

TEST_F(OtpFlowTest, RefusalsLookTheSameWithOrWithoutAPendingCode) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 1;
    make_flow(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.5"), "ok");
    auto with_code = send_result("2025550121", "10.0.0.5");
    auto without = send_result("2025550199", "10.0.0.5");
    ASSERT_FALSE(with_code.ok());
    ASSERT_FALSE(without.ok());
    EXPECT_EQ(error_body(with_code.error()), error_body(without.error()));
}

TEST_F(OtpFlowTest, TestNumbersUseTheirFixedCodeUntilTheyExpire) {
    TestNumber reviewer{"+12025550100", "424242", 0};
    TestNumber expired{"+12025550101", "111111", 1};  // expired in 1970
    make_flow(300s, 5, no_limits(), {reviewer, expired});
    ASSERT_TRUE(send_result("2025550100", "10.0.0.1").ok());
    EXPECT_EQ(provider->count(), 0u) << "no SMS to a test number";
    EXPECT_TRUE(verify("424242", "2025550100").ok());
    ASSERT_TRUE(send_result("2025550101", "10.0.0.1").ok());
    EXPECT_EQ(provider->count(), 1u) << "an expired test number is an ordinary number";
    EXPECT_NE(provider->last().code, "111111");
}

TEST_F(OtpFlowTest, TestNumbersAreStillRateLimited) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 1;
    make_flow(300s, 5, limits, {TestNumber{"+12025550100", "424242", 0}});
    EXPECT_EQ(send_outcome("2025550100"), "ok");
    EXPECT_EQ(send_outcome("2025550100"), "RATE_LIMITED");
}

// --- a store that completes on its own thread ---------------------------------------

TEST_F(OtpFlowTest, FlowsReturnAtOnceAndAnswerWhenTheStoreCompletesElsewhere) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    limits.number_sends = 5;
    limits.ip_sends = 5;
    limits.number_failed_verifies = 5;
    auto deferred = std::make_shared<DeferredStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 5, limits, {}, deferred);

    deferred->hold();
    std::promise<Expected<SendAccepted>> answer;
    auto answered = answer.get_future();
    std::thread::id answered_on;
    flow->send({"+1", "2025550123", "", "", std::nullopt, ""}, {"r", "10.0.0.1", "10.0.0.1", nullptr},
               [&](Expected<SendAccepted> result) {
                   answered_on = std::this_thread::get_id();
                   answer.set_value(std::move(result));
               });
    // send() returned with its first store call still waiting: nothing blocked.
    EXPECT_EQ(answered.wait_for(0ms), std::future_status::timeout);
    EXPECT_EQ(deferred->waiting(), 1u);
    deferred->release();
    ASSERT_EQ(answered.wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(answered.get().ok());
    EXPECT_EQ(answered_on, deferred->thread_id()) << "the answer comes from the store's thread";

    const std::string code = provider->last().code;
    EXPECT_EQ(verify(wrong(code)).error().code, ErrorCode::invalid_otp);
    EXPECT_TRUE(verify(code).ok());
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED") << "the cooldown was counted through the chain";
}

TEST_F(OtpFlowTest, ConcurrentFlowsOnADeferredStoreEachAnswerOnce) {
    auto deferred = std::make_shared<DeferredStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 5, no_limits(), {}, deferred);
    const std::string code = send();
    std::atomic<int> invalid{0}, exhausted{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 40; ++i) {
        threads.emplace_back([&] {
            const auto r = verify(wrong(code));
            if (!r.ok() && r.error().code == ErrorCode::invalid_otp)
                ++invalid;
            else if (!r.ok() && r.error().code == ErrorCode::too_many_attempts)
                ++exhausted;
            else
                ++other;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(exhausted.load(), 35);
    EXPECT_EQ(other.load(), 0);
}

// --- health ---------------------------------------------------------------------------

TEST_F(OtpFlowTest, HealthIsUnhealthyWhenTheOnlyProviderIsDown) {
    HealthSummary up = health();
    EXPECT_EQ(up.status, HealthSummary::Status::healthy);
    ASSERT_EQ(up.reports.size(), 2u);
    EXPECT_EQ(up.reports[1].detail, "0 pending codes");
    provider->set_healthy(false);
    EXPECT_EQ(health().status, HealthSummary::Status::unhealthy) << "a route with no provider up cannot send";
}

}  // namespace
}  // namespace testino
