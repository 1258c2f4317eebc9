// The OTP rules end to end below HTTP: the real memory store plugin, loaded as the server
// loads it.
#include "otp_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "plugin_doubles.hpp"
#include "plugin_loader.hpp"

namespace testino {
namespace {

using namespace std::chrono_literals;

class OtpServiceTest : public ::testing::Test {
protected:
    void SetUp() override { make_service(300s, 5); }

    // Loaded once and never unloaded: LeakSanitizer (GCC 12) crashes while scanning the
    // thread-local storage of a library that was dlclose'd, so the suite does not reload it.
    static const LoadedPlugin& memory_plugin() {
        static const LoadedPlugin* plugin = new LoadedPlugin(
            PluginLoader(TESTINO_PLUGIN_DIR).load("memory", sdk::PluginKind::otp_store, "store.backend"));
        return *plugin;
    }

    // Every limit off: the OTP rules alone. The limit tests switch on what they test.
    static LimitsConfig no_limits() {
        LimitsConfig l;
        l.number_cooldown = std::chrono::seconds(0);
        l.number_sends = l.number_failed_verifies = l.ip_sends = l.ip_verifies = 0;
        l.country_sends = l.budget_per_hour = l.budget_per_day = 0;
        return l;
    }

    void make_service(std::chrono::seconds expiry, int max_attempts,
                      const LimitsConfig& limits = no_limits(), std::vector<TestNumber> test_numbers = {}) {
        service.reset();
        store.reset();
        store = memory_plugin().create_otp_store(sdk::PluginContext{store_config, host});
        OtpConfig otp;
        otp.expiry = expiry;
        otp.max_attempts = max_attempts;
        otp.hmac_secret = std::string(32, 'h');
        otp.message_template = "Your Testino code is {code}. It expires in {minutes} minutes.";
        TokenConfig token;
        token.secret = std::string(32, 't');
        token.issuer = "testino-auth";
        service = std::make_unique<OtpService>(otp, token, limits, std::move(test_numbers), store);
    }

    // Sends a code and returns it, as the user would read it from the SMS.
    std::string send(const std::string& number = "2025550123") {
        auto pending = service->begin_send({"+1", number}, "r");
        EXPECT_TRUE(pending.ok());
        EXPECT_FALSE(service->finish_send(pending.value(), {sdk::SendStatus::sent, "", "m"}));
        std::smatch m;
        const std::string text = pending->message.text;
        EXPECT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})\\.")));
        EXPECT_EQ(pending->message.code, m[1].str());
        return m[1].str();
    }

    Expected<VerifiedLogin> verify(const std::string& code, const std::string& number = "2025550123",
                                   const std::string& ip = "") {
        return service->verify({"1", number, code}, ip);
    }

    // The error code of a send, or "ok".
    std::string send_outcome(const std::string& number, const std::string& ip = "10.0.0.1",
                             const std::string& cc = "+1") {
        auto pending = service->begin_send({cc, number}, "r", ip);
        if (!pending) return error_info(pending.error().code).machine_code;
        EXPECT_FALSE(service->finish_send(pending.value(), {sdk::SendStatus::sent, "", "m"}));
        return "ok";
    }

    static std::string wrong(const std::string& code) {
        std::string w = code;
        w[0] = w[0] == '9' ? '0' : static_cast<char>(w[0] + 1);
        return w;
    }

    test_support::RecordingHost host;
    test_support::MapConfigView store_config{
        std::map<std::string, std::string>{
            {"max_codes", "1000"}, {"sweep_interval_ms", "1000"}, {"shards", "4"}, {"max_counters", "1000"}}};
    std::shared_ptr<sdk::OtpStore> store;
    std::unique_ptr<OtpService> service;
};

TEST_F(OtpServiceTest, RightCodeVerifiesOnceAndIssuesAToken) {
    const std::string code = send();
    const auto login = verify(code);
    ASSERT_TRUE(login.ok()) << login.error().message;
    EXPECT_EQ(login->e164, "+12025550123");
    EXPECT_FALSE(login->token.jwt.empty());
    const auto again = verify(code);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::invalid_otp) << "single use";
}

TEST_F(OtpServiceTest, MessageFollowsTheTemplate) {
    auto pending = service->begin_send({"+1", "202-555-0123"}, "req-7");
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(pending->message.to, "+12025550123");
    EXPECT_EQ(pending->message.request_id, "req-7");
    EXPECT_EQ(pending->message.text, "Your Testino code is " + pending->message.code + ". It expires in 5 minutes.");
}

TEST_F(OtpServiceTest, WrongCodesUseUpTheAttemptsThenTheCodeIsDead) {
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

TEST_F(OtpServiceTest, NewSendReplacesTheOldCodeAndItsAttempts) {
    const std::string first = send();
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(verify(wrong(first)).ok());
    std::string second = send();
    for (int i = 0; i < 20 && second == first; ++i) second = send();
    ASSERT_NE(first, second);
    EXPECT_EQ(verify(first).error().code, ErrorCode::invalid_otp);
    EXPECT_TRUE(verify(second).ok()) << "attempts were reset by the new code";
}

TEST_F(OtpServiceTest, ExpiredAndUnknownLookTheSame) {
    make_service(1s, 5);
    const std::string code = send();
    std::this_thread::sleep_for(1100ms);
    const auto expired = verify(code);
    const auto unknown = verify(code, "2025550199");
    ASSERT_FALSE(expired.ok());
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(expired.error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(error_body(expired.error()), error_body(unknown.error()));
}

TEST_F(OtpServiceTest, FailedSendLeavesNoUsableCode) {
    for (auto status : {sdk::SendStatus::invalid_recipient, sdk::SendStatus::misconfigured,
                        sdk::SendStatus::unavailable}) {
        auto pending = service->begin_send({"+1", "2025550123"}, "r");
        ASSERT_TRUE(pending.ok());
        const auto error = service->finish_send(pending.value(), {status, "detail", ""});
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(verify(pending->message.code).error().code, ErrorCode::invalid_otp);
    }
}

TEST_F(OtpServiceTest, FailedSendMapsToTheDocumentedErrors) {
    auto pending = service->begin_send({"+1", "2025550123"}, "r");
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(service->finish_send(pending.value(), {sdk::SendStatus::invalid_recipient, "x", ""})->code,
              ErrorCode::recipient_rejected);
    EXPECT_EQ(service->finish_send(pending.value(), {sdk::SendStatus::invalid_recipient, "x", ""})->field,
              "mobile_number");
    EXPECT_EQ(service->finish_send(pending.value(), {sdk::SendStatus::misconfigured, "x", ""})->code,
              ErrorCode::sms_provider_error);
    EXPECT_EQ(service->finish_send(pending.value(), {sdk::SendStatus::unavailable, "x", ""})->code,
              ErrorCode::sms_provider_unavailable);
}

TEST_F(OtpServiceTest, InvalidNumberIsAValidationErrorAndStoresNothing) {
    const auto r = service->begin_send({"+1", "1234567890"}, "r");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::validation_error);
    EXPECT_EQ(r.error().field, "mobile_number");
    EXPECT_EQ(store->health().detail, "0 pending codes");
}

TEST_F(OtpServiceTest, HundredConcurrentWrongGuessesConsumeExactlyTheAllowedAttempts) {
    const std::string code = send();
    std::atomic<int> invalid{0}, exhausted{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i) {
        threads.emplace_back([&] {
            const auto r = verify(wrong(code));
            if (r.ok()) ++other;
            else if (r.error().code == ErrorCode::invalid_otp) ++invalid;
            else if (r.error().code == ErrorCode::too_many_attempts) ++exhausted;
            else ++other;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(exhausted.load(), 95);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(verify(code).error().code, ErrorCode::too_many_attempts) << "the right code is dead too";
}

TEST_F(OtpServiceTest, ConcurrentRightGuessesVerifyExactlyOnce) {
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

TEST_F(OtpServiceTest, ResendCooldownRefusesWithRetryAfter) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "ok");
    auto again = service->begin_send({"+1", "2025550123"}, "r", "10.0.0.1");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::rate_limited);
    EXPECT_GT(again.error().retry_after.count(), 25);
    EXPECT_LE(again.error().retry_after.count(), 30);
    EXPECT_EQ(send_outcome("2025550124"), "ok") << "other numbers are not affected";
}

TEST_F(OtpServiceTest, PerNumberSendCap) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 3;
    make_service(300s, 5, limits);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(send_outcome("2025550123"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
}

TEST_F(OtpServiceTest, PerIpCapsForSendAndVerify) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 2;
    limits.ip_verifies = 2;
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550122", "10.0.0.7"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.7"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("2025550123", "10.0.0.8"), "ok") << "another address has its own cap";
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::invalid_otp);
    EXPECT_EQ(verify("000000", "2025550121", "10.0.0.7").error().code, ErrorCode::rate_limited);
}

TEST_F(OtpServiceTest, FailedVerifyCapAcrossCodes) {
    LimitsConfig limits = no_limits();
    limits.number_failed_verifies = 3;
    make_service(300s, 5, limits);
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

TEST_F(OtpServiceTest, CountryAllowlistAndCountryCap) {
    LimitsConfig limits = no_limits();
    limits.country_allowlist = {"44"};
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550123"), "COUNTRY_NOT_ALLOWED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");

    limits = no_limits();
    limits.country_sends = 2;
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123"), "RATE_LIMITED");
    EXPECT_EQ(send_outcome("7400123456", "10.0.0.1", "+44"), "ok");
}

TEST_F(OtpServiceTest, GlobalBudgetTripsTheBreaker) {
    LimitsConfig limits = no_limits();
    limits.budget_per_hour = 2;
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121"), "ok");
    EXPECT_EQ(send_outcome("2025550122"), "ok");
    EXPECT_EQ(send_outcome("2025550123", "10.9.9.9"), "SEND_BUDGET_EXHAUSTED");
    EXPECT_EQ(error_info(ErrorCode::send_budget_exhausted).status, 503);
}

TEST_F(OtpServiceTest, FailedSmsRefundsTheUsersAllowance) {
    LimitsConfig limits = no_limits();
    limits.number_cooldown = 30s;
    limits.number_sends = 1;
    make_service(300s, 5, limits);
    auto pending = service->begin_send({"+1", "2025550123"}, "r", "10.0.0.1");
    ASSERT_TRUE(pending.ok());
    ASSERT_TRUE(service->finish_send(pending.value(), {sdk::SendStatus::unavailable, "down", ""}));
    EXPECT_EQ(send_outcome("2025550123"), "ok") << "neither the cooldown nor the cap was spent";
}

TEST_F(OtpServiceTest, RefusalsLookTheSameWithOrWithoutAPendingCode) {
    LimitsConfig limits = no_limits();
    limits.ip_sends = 1;
    make_service(300s, 5, limits);
    EXPECT_EQ(send_outcome("2025550121", "10.0.0.5"), "ok");
    auto with_code = service->begin_send({"+1", "2025550121"}, "r", "10.0.0.5");
    auto without = service->begin_send({"+1", "2025550199"}, "r", "10.0.0.5");
    ASSERT_FALSE(with_code.ok());
    ASSERT_FALSE(without.ok());
    EXPECT_EQ(error_body(with_code.error()), error_body(without.error()));
}

TEST_F(OtpServiceTest, TestNumbersUseTheirFixedCodeUntilTheyExpire) {
    TestNumber reviewer{"+12025550100", "424242", 0};
    TestNumber expired{"+12025550101", "111111", 1};  // expired in 1970
    make_service(300s, 5, no_limits(), {reviewer, expired});
    auto pending = service->begin_send({"+1", "2025550100"}, "r", "10.0.0.1");
    ASSERT_TRUE(pending.ok());
    EXPECT_TRUE(pending->test_number);
    EXPECT_TRUE(verify("424242", "2025550100").ok());
    auto old = service->begin_send({"+1", "2025550101"}, "r", "10.0.0.1");
    ASSERT_TRUE(old.ok());
    EXPECT_FALSE(old->test_number);
    EXPECT_NE(old->message.code, "111111");
}

TEST_F(OtpServiceTest, TestNumbersAreStillRateLimited) {
    LimitsConfig limits = no_limits();
    limits.number_sends = 1;
    make_service(300s, 5, limits, {TestNumber{"+12025550100", "424242", 0}});
    EXPECT_EQ(send_outcome("2025550100"), "ok");
    EXPECT_EQ(send_outcome("2025550100"), "RATE_LIMITED");
}

}  // namespace
}  // namespace testino
