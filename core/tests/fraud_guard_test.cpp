// The fraud guard's arithmetic on the real memory store, with a clock the test moves: the
// sliding window, the safe list and prefixes, the block and its lift.
#include "app/fraud_guard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace flow_test;

class FraudGuardArithmetic : public OtpFlowTest {
protected:
    void SetUp() override {
        OtpFlowTest::SetUp();
        config.enabled = true;
        config.prefix_digits = 6;
        config.window = std::chrono::seconds(600);
        config.min_sends = 10;
        config.min_conversion = 0.5;
        config.block = std::chrono::seconds(300);
        config.safe_list = {"4474009"};
        metered = std::make_unique<MeteredStore>(store);
        guard = std::make_unique<FraudGuard>(config, *metered, [this] { return now.load(); });
    }

    // "ok", or the refusal's machine code.
    std::string check(const std::string& e164) {
        std::promise<std::optional<ApiError>> answer;
        guard->check_send(e164, "44", "r",
                          [&](std::optional<ApiError> r) { answer.set_value(std::move(r)); });
        auto result = answer.get_future().get();
        return result ? error_info(result->code).machine_code : "ok";
    }
    static std::string number(int i) { return "+4474001234" + std::to_string(10 + i); }

    FraudGuardConfig config;
    std::atomic<std::int64_t> now{6000 * 600};  // the start of a window
    std::unique_ptr<MeteredStore> metered;
    std::unique_ptr<FraudGuard> guard;
};

TEST_F(FraudGuardArithmetic, PrefixesAreTheFirstDigitsAndTheSafeListHasNone) {
    EXPECT_EQ(guard->prefix_of("+447400123456"), "447400");
    EXPECT_EQ(guard->prefix_of("+447400912345"), "") << "safe list 4474009";
    EXPECT_EQ(guard->prefix_of("+44740"), "") << "no longer than the prefix";
}

TEST_F(FraudGuardArithmetic, NothingIsJudgedBelowMinSendsThenLowConversionBlocks) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(check(number(i)), "ok") << i;
    EXPECT_EQ(check(number(9)), "RATE_LIMITED") << "the tenth unverified send";
    EXPECT_EQ(check(number(10)), "RATE_LIMITED");
}

TEST_F(FraudGuardArithmetic, VerifiedCodesKeepAPrefixOpen) {
    for (int i = 0; i < 30; ++i) {
        EXPECT_EQ(check(number(i % 90)), "ok") << i;
        if (i % 3 != 2) guard->record_verified(number(i % 90), "44");  // two in three: above 0.5
    }
}

// Half-way into the next window, the previous one counts half: 9 old sends weigh 4.5, so
// five more (9.5) are not judged yet and the sixth (10.5) is.
TEST_F(FraudGuardArithmetic, ThePreviousWindowCountsByHowMuchOfItTheSlidingOneCovers) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(check(number(i)), "ok") << i;
    now += 600 + 300;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(check(number(20 + i)), "ok") << i;
    EXPECT_EQ(check(number(30)), "RATE_LIMITED");
}

TEST_F(FraudGuardArithmetic, TwoWindowsLaterTheOldSendsAreForgotten) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(check(number(i)), "ok") << i;
    now += 2 * 600;
    for (int i = 0; i < 9; ++i) EXPECT_EQ(check(number(20 + i)), "ok") << i;
}

TEST_F(FraudGuardArithmetic, ALiftedPrefixIsListedNoMoreAndStartsAfresh) {
    for (int i = 0; i < 10; ++i) check(number(i));
    std::promise<std::vector<FraudBlock>> listed;
    guard->list_blocks([&](std::vector<FraudBlock> b) { listed.set_value(std::move(b)); });
    const auto blocks = listed.get_future().get();
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].prefix, "447400");
    EXPECT_GT(blocks[0].remaining.count(), 0);
    std::promise<Expected<bool>> lifted;
    guard->lift("447400", [&](Expected<bool> r) { lifted.set_value(std::move(r)); });
    auto result = lifted.get_future().get();
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(result.value());
    EXPECT_EQ(check(number(50)), "ok");
    std::promise<Expected<bool>> again;
    guard->lift("447400", [&](Expected<bool> r) { again.set_value(std::move(r)); });
    auto second = again.get_future().get();
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second.value()) << "no block left to lift";
}

}  // namespace
}  // namespace testino
