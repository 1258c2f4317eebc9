// The flows against an attacker (issue 21): nobody can lock another person's number out,
// the failed-verify limits count each guess atomically and fail closed, codes are bound to
// the flow that asked for them, and VOIP numbers are refused.
#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace flow_test;

// The memory store, but every counter operation fails, as a store that lost its backend.
class CounterlessStore final : public ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        ++verifies;
        ForwardingStore::verify_and_consume(key, candidate, flow, std::move(done));
    }
    void hit_counter(const std::string&, std::chrono::seconds, std::int64_t,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        done({sdk::StoreStatus::unavailable, 0, std::chrono::seconds(0), "scripted: counters are gone"});
    }

    std::atomic<int> verifies{0};
};

LimitsConfig failure_limits(int per_address, int all_addresses) {
    LimitsConfig limits = OtpFlowTest::no_limits();
    limits.number_failed_verifies = per_address;
    limits.number_failed_verifies_all = all_addresses;
    return limits;
}

ErrorCode error_of(const Expected<VerifiedLogin>& result) {
    return result.ok() ? ErrorCode::internal_error : result.error().code;
}

TEST_F(OtpFlowTest, VerifiesWithNoCodePendingDoNotLockTheNumber) {
    // The reproduction from the issue: ten wrong verifies for a number with no code, then
    // the owner asks for a code and enters it.
    make_flow(300s, 5, failure_limits(3, 50));
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(error_of(verify("123456", "2025550123", "198.51.100.66")), ErrorCode::invalid_otp) << i;
    }
    const std::string code = send();
    const auto login = verify(code, "2025550123", "198.51.100.66");
    EXPECT_TRUE(login.ok()) << "even the stranger's own address was not charged for codes that did not exist";
}

TEST_F(OtpFlowTest, AStrangersWrongGuessesUseUpTheStrangersAllowanceOnly) {
    make_flow(300s, 20, failure_limits(3, 50));
    const std::string code = send();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(error_of(verify(wrong(code), "2025550123", "198.51.100.66")), ErrorCode::invalid_otp);
    }
    const auto stranger = verify(code, "2025550123", "198.51.100.66");
    EXPECT_EQ(error_of(stranger), ErrorCode::rate_limited) << "the stranger's address is capped";
    EXPECT_GT(stranger.error().retry_after.count(), 0);
    EXPECT_TRUE(verify(code, "2025550123", "203.0.113.7").ok()) << "the owner is not";
}

TEST_F(OtpFlowTest, GuessesFromManyAddressesMeetTheAllAddressesCap) {
    make_flow(300s, 100, failure_limits(3, 4));
    const std::string code = send();
    for (int i = 1; i <= 4; ++i) {
        EXPECT_EQ(error_of(verify(wrong(code), "2025550123", "198.51.100." + std::to_string(i))),
                  ErrorCode::invalid_otp);
    }
    EXPECT_EQ(error_of(verify(wrong(code), "2025550123", "198.51.100.5")), ErrorCode::rate_limited);
    EXPECT_EQ(error_of(verify(code, "2025550123", "198.51.100.6")), ErrorCode::rate_limited)
        << "distributed guessing stops at the number's cap";
}

TEST_F(OtpFlowTest, RightCodesAndDeadCodesAreNoGuesses) {
    make_flow(300s, 2, failure_limits(3, 50));
    EXPECT_TRUE(verify(send()).ok());
    EXPECT_TRUE(verify(send()).ok());
    const std::string code = send();
    EXPECT_EQ(error_of(verify(wrong(code))), ErrorCode::invalid_otp);
    EXPECT_EQ(error_of(verify(wrong(code))), ErrorCode::invalid_otp) << "its last attempt";
    for (int i = 0; i < 5; ++i) EXPECT_EQ(error_of(verify(wrong(code))), ErrorCode::too_many_attempts);
    const std::string next = send();
    EXPECT_EQ(error_of(verify(wrong(next))), ErrorCode::invalid_otp) << "3rd counted failure";
    EXPECT_EQ(error_of(verify(next)), ErrorCode::rate_limited)
        << "only the mismatches counted: not the right codes, not the guesses at a dead code";
}

TEST_F(OtpFlowTest, ConcurrentGuessesCannotSlipPastTheFailureCap) {
    // A read-then-add counter lets every guess in flight read the same count. Charged
    // atomically before the check, exactly `limit` of them get to guess.
    auto deferred = std::make_shared<DeferredStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 1000, failure_limits(5, 1000), {}, deferred);
    const std::string code = send();
    deferred->hold();
    std::vector<std::promise<Expected<VerifiedLogin>>> answers(40);
    for (auto& answer : answers) {
        flow->verify({"1", "2025550123", wrong(code), ""}, {"r", "198.51.100.66", "198.51.100.66", nullptr},
                     [&answer](Expected<VerifiedLogin> r) { answer.set_value(std::move(r)); });
    }
    deferred->release();
    int invalid = 0, limited = 0;
    for (auto& answer : answers) {
        auto future = answer.get_future();
        ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
        const ErrorCode e = error_of(future.get());
        invalid += e == ErrorCode::invalid_otp;
        limited += e == ErrorCode::rate_limited;
    }
    EXPECT_EQ(invalid, 5);
    EXPECT_EQ(limited, 35);
}

TEST_F(OtpFlowTest, AFailureCounterTheStoreCannotReachRefusesTheVerify) {
    auto counterless = std::make_shared<CounterlessStore>(
        memory_plugin().create_otp_store(sdk::PluginContext{store_config, host}));
    make_flow(300s, 5, failure_limits(3, 50), {}, counterless);
    const std::string code = send();
    const auto refused = verify(code);
    EXPECT_EQ(error_of(refused), ErrorCode::store_unavailable) << "fail closed";
    EXPECT_EQ(counterless->verifies.load(), 0) << "the code was never checked";
}

TEST_F(OtpFlowTest, SendReturnsAVerificationIdThatVerifyMayRequire) {
    make_flow(300s, 5, no_limits(), {}, nullptr, [](OtpConfig& otp) { otp.require_verification_id = true; });
    const auto sent = send_result("2025550123");
    ASSERT_TRUE(sent.ok());
    EXPECT_TRUE(std::regex_match(sent->verification_id, std::regex("[A-Za-z0-9_-]{22}")))
        << sent->verification_id;
    EXPECT_NE(send_result("2025550124")->verification_id, sent->verification_id);
    const auto missing = verify(provider->last().code, "2025550124");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::validation_error);
    EXPECT_EQ(missing.error().field, "verification_id");
}

TEST_F(OtpFlowTest, AResendDoesNotVoidTheCodeTheOwnerIsTyping) {
    const std::string first = send();
    const std::string second = send();  // a stranger asks again
    EXPECT_TRUE(verify(first).ok()) << "the replaced code stays valid for otp.resend_overlap_seconds";
    EXPECT_EQ(error_of(verify(second)), ErrorCode::invalid_otp) << "one verify consumes both codes";
    make_flow(300s, 5, no_limits(), {}, nullptr, [](OtpConfig& otp) { otp.resend_overlap = 0s; });
    const std::string old = send();
    const std::string fresh = send();
    EXPECT_EQ(error_of(verify(old)), ErrorCode::invalid_otp) << "overlap 0: replaced at once";
    EXPECT_TRUE(verify(fresh).ok());
}

TEST_F(OtpFlowTest, AVerificationIdBindsTheCodeToItsSend) {
    const auto first = send_result("2025550123");
    const std::string first_code = provider->last().code;
    const auto second = send_result("2025550123");
    const std::string second_code = provider->last().code;
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(error_of(verify(second_code, "2025550123", "", first->verification_id)), ErrorCode::invalid_otp)
        << "the other send's code does not verify in this flow";
    EXPECT_TRUE(verify(first_code, "2025550123", "", first->verification_id).ok());
}

TEST_F(OtpFlowTest, VoipNumbersAreRefusedUnlessAllowed) {
    const auto refused = send_result("5612345678", "", "+44");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().field, "mobile_number");
    EXPECT_EQ(provider->count(), 0u);
    make_flow(300s, 5, no_limits(), {}, nullptr, [](OtpConfig& otp) { otp.allow_voip = true; });
    EXPECT_TRUE(send_result("5612345678", "", "+44").ok());
}

}  // namespace
}  // namespace testino
