// The channel workflow (app/channel_workflow.hpp) on the real memory store: the first step,
// repeats within the wait, the next step after it, the last step repeating, skips past a
// certain failure, a restart after a verify, the channel remembered per code, concurrent
// resends taking one step, and a failing store giving the first step.
#include "app/channel_workflow.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;
using sdk::Channel;

constexpr const char* kNumber = "+12025550123";
const std::vector<Channel> kSteps{Channel::whatsapp, Channel::sms, Channel::voice};

// Every counter fails: the workflow must still answer.
class FailingCounters final : public flow_test::ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    void hit_counter(const std::string&, std::chrono::seconds, std::int64_t,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        done({sdk::StoreStatus::unavailable, 0, 0s, "scripted failure"});
    }
};

class ChannelWorkflowTest : public flow_test::OtpFlowTest {
public:
    void SetUp() override {
        store = memory_plugin().create_otp_store(sdk::PluginContext{store_config, host});
        use(store, 1s);
    }

    void use(std::shared_ptr<sdk::OtpStore> s, std::chrono::seconds wait) {
        workflow.reset();
        metered = std::make_unique<MeteredStore>(std::move(s));
        workflow = std::make_unique<ChannelWorkflow>(kSteps, wait, 300s, *metered);
    }

    ChannelStep begin(const std::string& number = kNumber) {
        std::promise<ChannelStep> answer;
        workflow->begin(number, kSteps, "r", [&answer](ChannelStep step) { answer.set_value(step); });
        return answer.get_future().get();
    }

    std::optional<ChannelStep> skip(const ChannelStep& from) {
        std::promise<std::optional<ChannelStep>> answer;
        workflow->skip(kNumber, kSteps, from,
                       [&answer](std::optional<ChannelStep> s) { answer.set_value(s); });
        return answer.get_future().get();
    }

    std::optional<Channel> recall(const sdk::CodeDigest& digest) {
        std::promise<std::optional<Channel>> answer;
        workflow->recall(kNumber, digest, [&answer](std::optional<Channel> c) { answer.set_value(c); });
        return answer.get_future().get();
    }

    std::unique_ptr<MeteredStore> metered;
    std::unique_ptr<ChannelWorkflow> workflow;
};

TEST_F(ChannelWorkflowTest, FirstSendTakesTheFirstStepAndNamesTheNext) {
    const ChannelStep step = begin();
    EXPECT_EQ(step.channel, Channel::whatsapp);
    EXPECT_EQ(step.index, 0u);
    ASSERT_TRUE(step.next.has_value());
    EXPECT_EQ(*step.next, Channel::sms);
    EXPECT_GE(step.next_in, 1s);
    EXPECT_LE(step.next_in, 1s);
}

TEST_F(ChannelWorkflowTest, ResendWithinTheWaitRepeatsTheStep) {
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
}

TEST_F(ChannelWorkflowTest, ResendAfterTheWaitMovesOnAndTheLastStepRepeats) {
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    std::this_thread::sleep_for(1100ms);
    const ChannelStep second = begin();
    EXPECT_EQ(second.channel, Channel::sms);
    ASSERT_TRUE(second.next.has_value());
    EXPECT_EQ(*second.next, Channel::voice);
    std::this_thread::sleep_for(1100ms);
    const ChannelStep third = begin();
    EXPECT_EQ(third.channel, Channel::voice);
    EXPECT_FALSE(third.next.has_value());
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(begin().channel, Channel::voice);
}

TEST_F(ChannelWorkflowTest, NumbersHaveStepsOfTheirOwn) {
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(begin().channel, Channel::sms);
    EXPECT_EQ(begin("+12025550199").channel, Channel::whatsapp);
}

TEST_F(ChannelWorkflowTest, SkipMovesToTheNextStepAndStopsAfterTheLast) {
    const ChannelStep first = begin();
    const auto second = skip(first);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->channel, Channel::sms);
    const auto third = skip(*second);
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->channel, Channel::voice);
    EXPECT_FALSE(skip(*third).has_value());
    // The skip is remembered: the next send (after the wait) goes on from where it stopped.
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(begin().channel, Channel::voice);
}

TEST_F(ChannelWorkflowTest, RestartStartsFromTheFirstStep) {
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(begin().channel, Channel::sms);
    workflow->restart(kNumber);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
}

TEST_F(ChannelWorkflowTest, RemembersTheChannelOfEachCode) {
    sdk::CodeDigest a{};
    sdk::CodeDigest b{};
    sdk::CodeDigest unknown{};
    a[0] = 1;
    b[0] = 2;
    unknown[0] = 3;
    workflow->remember(kNumber, a, Channel::whatsapp);
    workflow->remember(kNumber, b, Channel::voice);
    EXPECT_EQ(recall(a), Channel::whatsapp);
    EXPECT_EQ(recall(b), Channel::voice);
    EXPECT_EQ(recall(unknown), std::nullopt);
}

TEST_F(ChannelWorkflowTest, ConcurrentResendsAfterTheWaitTakeOneStep) {
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    std::this_thread::sleep_for(1100ms);
    std::vector<std::future<ChannelStep>> resends;
    for (int i = 0; i < 8; ++i) resends.push_back(std::async(std::launch::async, [this] { return begin(); }));
    for (auto& r : resends) EXPECT_EQ(r.get().channel, Channel::sms);
}

TEST_F(ChannelWorkflowTest, FailingStoreGivesTheFirstStep) {
    use(std::make_shared<FailingCounters>(store), 1s);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    EXPECT_EQ(begin().channel, Channel::whatsapp);
    EXPECT_EQ(recall(sdk::CodeDigest{}), std::nullopt);
}

TEST_F(ChannelWorkflowTest, StepsForKeepsTheOfferedInOrderAndFallsBackToSms) {
    const auto no_whatsapp = workflow->steps_for([](Channel c) { return c != Channel::whatsapp; });
    EXPECT_EQ(no_whatsapp, (std::vector<Channel>{Channel::sms, Channel::voice}));
    const auto none = workflow->steps_for([](Channel) { return false; });
    EXPECT_EQ(none, (std::vector<Channel>{Channel::sms}));
}

}  // namespace
}  // namespace testino
