// The SMS provider contract (sms_provider.hpp): send() answers one of the five statuses
// by its deadline without throwing, from several threads at once, through each channel it
// offers; it offers only channels its descriptor declares; health() and may_block() answer;
// secrets never show in results, health or logs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "plugin_under_test.hpp"

namespace testino::plugin_check {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using test_support::RecordingHost;

// How late past its deadline a send may return: scheduling, not the provider's work.
constexpr auto kLateness = 1000ms;

bool is_send_status(sdk::SendStatus status) {
    switch (status) {
        case sdk::SendStatus::sent:
        case sdk::SendStatus::invalid_recipient:
        case sdk::SendStatus::misconfigured:
        case sdk::SendStatus::unavailable:
        case sdk::SendStatus::uncertain: return true;
    }
    return false;
}

sdk::SmsMessage message(int number) {
    return {"+12025550123", "Your Testino code is 123456. It expires in 5 minutes.", "123456",
            "plugin-check-" + std::to_string(number)};
}

class SmsProviderContract : public ::testing::Test {
protected:
    void SetUp() override {
        if (plugin().descriptor().kind != sdk::PluginKind::sms_provider) {
            GTEST_SKIP() << "not an SMS provider";
        }
        ASSERT_NO_THROW(provider_ = plugin().make_provider(host_));
        ASSERT_NE(provider_, nullptr);
    }

    // One send, checked: no exception, a real status, back by the deadline (plus lateness).
    sdk::SendResult checked_send(const sdk::SmsMessage& sms, Clock::time_point deadline) {
        sdk::SendResult result;
        try {
            result = provider_->send(sms, deadline);
        } catch (const std::exception& error) {
            ADD_FAILURE() << "send() threw: " << error.what();
            return result;
        } catch (...) {
            ADD_FAILURE() << "send() threw a non-standard exception";
            return result;
        }
        const auto late = Clock::now() - deadline;
        EXPECT_LE(late, kLateness) << "send() returned "
                                   << std::chrono::duration_cast<std::chrono::milliseconds>(late).count()
                                   << " ms after its deadline";
        EXPECT_TRUE(is_send_status(result.status))
            << "send() answered SendStatus(" << static_cast<int>(result.status) << ")";
        return result;
    }

    RecordingHost host_;
    std::shared_ptr<sdk::SmsProvider> provider_;
};

TEST_F(SmsProviderContract, SendToAValidNumberAnswersByTheDeadline) {
    const auto result = checked_send(message(1), Clock::now() + plugin().options().send_timeout);
    std::cout << "  send(+12025550123): " << to_string(result.status)
              << (result.detail.empty() ? "" : " (" + result.detail + ")") << "\n";
    if (const auto expected = plugin().options().expect_status) {
        EXPECT_EQ(to_string(result.status), std::string(to_string(*expected)))
            << "--expect-status; detail: " << result.detail;
    }
    if (result.status != sdk::SendStatus::sent) {
        EXPECT_FALSE(result.detail.empty()) << "a failed send says why in `detail`";
    }
}

TEST_F(SmsProviderContract, SendWithAPassedDeadlineAnswersAtOnce) { checked_send(message(2), Clock::now()); }

TEST_F(SmsProviderContract, ConcurrentSendsAllAnswerByTheDeadline) {
    constexpr int kSenders = 8;
    const auto deadline = Clock::now() + plugin().options().send_timeout;
    std::vector<sdk::SendResult> results(kSenders);
    std::vector<std::string> errors(kSenders);
    std::vector<std::thread> senders;
    for (int i = 0; i < kSenders; ++i) {
        senders.emplace_back([&, i] {
            try {
                results[i] = provider_->send(message(100 + i), deadline);
            } catch (const std::exception& error) {
                errors[i] = error.what();
            } catch (...) {
                errors[i] = "a non-standard exception";
            }
        });
    }
    for (auto& sender : senders) sender.join();
    EXPECT_LE(Clock::now() - deadline, kLateness) << "concurrent sends returned after the deadline";
    for (int i = 0; i < kSenders; ++i) {
        EXPECT_TRUE(errors[i].empty()) << "send() #" << i << " threw: " << errors[i];
        EXPECT_TRUE(is_send_status(results[i].status)) << "send() #" << i;
    }
}

TEST_F(SmsProviderContract, OffersOnlyChannelsItsDescriptorDeclares) {
    std::vector<sdk::Channel> offered;
    ASSERT_NO_THROW(offered = provider_->channels());
    EXPECT_FALSE(offered.empty()) << "channels() is empty: the provider would never be called";
    const auto& declared = plugin().descriptor().channels;
    std::string names;
    for (const sdk::Channel channel : offered) {
        EXPECT_NE(std::find(declared.begin(), declared.end(), channel), declared.end())
            << "channels() offers " << sdk::to_string(channel) << ", which the descriptor does not declare";
        EXPECT_TRUE(provider_->supports(channel));
        names += (names.empty() ? "" : ", ") + std::string(sdk::to_string(channel));
    }
    std::cout << "  channels() with this config: " << names << "\n";
}

// Every offered channel is a real one: a send through it answers by the deadline like an SMS.
TEST_F(SmsProviderContract, SendThroughEachOfferedChannelAnswersByTheDeadline) {
    int n = 200;
    for (const sdk::Channel channel : provider_->channels()) {
        sdk::SmsMessage sms = message(n++);
        sms.channel = channel;
        sms.locale = "en";
        const auto result = checked_send(sms, Clock::now() + plugin().options().send_timeout);
        std::cout << "  send(" << sdk::to_string(channel) << "): " << to_string(result.status)
                  << (result.detail.empty() ? "" : " (" + result.detail + ")") << "\n";
        if (const auto expected = plugin().options().expect_status) {
            EXPECT_EQ(to_string(result.status), std::string(to_string(*expected)))
                << "--expect-status, channel " << sdk::to_string(channel) << "; detail: " << result.detail;
        }
    }
}

TEST_F(SmsProviderContract, HealthAndMayBlockAnswerWithoutThrowing) {
    sdk::HealthReport report;
    ASSERT_NO_THROW(report = provider_->health());
    std::cout << "  health(): " << (report.healthy ? "healthy" : "unhealthy")
              << (report.detail.empty() ? "" : " (" + report.detail + ")") << "\n";
    bool may_block = true;
    ASSERT_NO_THROW(may_block = provider_->may_block());
    std::cout << "  may_block(): " << std::boolalpha << may_block << "\n";
}

TEST_F(SmsProviderContract, SecretsNeverShowInResultsHealthOrLogs) {
    const auto secrets = plugin().secret_values();
    const auto result = checked_send(message(3), Clock::now() + plugin().options().send_timeout);
    const auto report = provider_->health();
    for (const std::string& secret : secrets) {
        if (secret.size() < 4) continue;  // too short to tell from ordinary text
        EXPECT_EQ(result.detail.find(secret), std::string::npos) << "a secret is in send()'s detail";
        EXPECT_EQ(result.message_id.find(secret), std::string::npos) << "a secret is in send()'s message_id";
        EXPECT_EQ(report.detail.find(secret), std::string::npos) << "a secret is in health()'s detail";
        for (const auto& record : host_.records()) {
            EXPECT_EQ(record.event.find(secret), std::string::npos)
                << "a secret is in the log event " << record.event;
            for (const auto& [name, value] : record.fields) {
                EXPECT_EQ(value.find(secret), std::string::npos)
                    << "a secret is in field \"" << name << "\" of the log event " << record.event;
            }
        }
    }
}

}  // namespace
}  // namespace testino::plugin_check
