// The fixture of the OTP flow tests: the real memory store plugin, loaded as the server
// loads it, an SMS provider that records what it is asked to send, and a store that
// answers from a thread of its own.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "app/otp_flow.hpp"
#include "app/sms_dispatcher.hpp"
#include "plugin_doubles.hpp"
#include "plugins/plugin_loader.hpp"

namespace testino::flow_test {

using namespace std::chrono_literals;

// Answers at once (may_block false: the dispatcher runs it inline) with `status`, and
// keeps every message.
class RecordingProvider final : public sdk::SmsProvider {
public:
    sdk::SendResult send(const sdk::SmsMessage& message, std::chrono::steady_clock::time_point) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(message);
        return {status_, status_ == sdk::SendStatus::sent ? "" : "scripted failure",
                status_ == sdk::SendStatus::sent ? "m-1" : ""};
    }
    sdk::HealthReport health() override { return {healthy_.load(), ""}; }
    bool may_block() const override { return false; }

    // With set_callbacks(true), delivery receipts: a callback signed "x-signature: good" whose
    // body is "<message id> delivered" or "<message id> failed <reason>"; 403 unsigned, 400 else.
    bool takes_callbacks() const override { return callbacks_.load(); }
    sdk::CallbackResult handle_callback(const sdk::CallbackRequest& request) override {
        if (request.header("x-signature") != "good") return {403, {}, "not signed"};
        std::istringstream in(request.body);
        sdk::DeliveryReceipt receipt;
        std::string status;
        in >> receipt.message_id >> status >> receipt.reason;
        if (status != "delivered" && status != "failed") return {400, {}, "no status"};
        receipt.status = status == "delivered" ? sdk::ReceiptStatus::delivered : sdk::ReceiptStatus::failed;
        return {200, {receipt}, {}};
    }
    void set_callbacks(bool on) { callbacks_ = on; }

    void answer(sdk::SendStatus status) {
        std::lock_guard lock(mutex_);
        status_ = status;
    }
    void set_healthy(bool healthy) { healthy_ = healthy; }
    sdk::SmsMessage last() const {
        std::lock_guard lock(mutex_);
        return messages_.empty() ? sdk::SmsMessage{} : messages_.back();
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }

private:
    mutable std::mutex mutex_;
    sdk::SendStatus status_ = sdk::SendStatus::sent;
    std::vector<sdk::SmsMessage> messages_;
    std::atomic<bool> healthy_{true};
    std::atomic<bool> callbacks_{false};
};

// Every operation passed to `inner`: a base for doubles that change one or two of them.
class ForwardingStore : public sdk::OtpStore {
public:
    explicit ForwardingStore(std::shared_ptr<sdk::OtpStore> inner) : inner_(std::move(inner)) {}
    void put_code(const std::string& key, const sdk::NewCode& code,
                  sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->put_code(key, code, std::move(done));
    }
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        inner_->verify_and_consume(key, candidate, flow, std::move(done));
    }
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->remove_code(key, digest, std::move(done));
    }
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        inner_->hit_counter(key, window, amount, std::move(done));
    }
    void create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                        sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->create_refresh(family, first, std::move(done));
    }
    void rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        const sdk::RefreshDigest& next, std::chrono::seconds ttl, std::chrono::seconds grace,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        inner_->rotate_refresh(family, presented, next, ttl, grace, std::move(done));
    }
    void revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        inner_->revoke_refresh(family, presented, std::move(done));
    }
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override { inner_->health(std::move(done)); }

protected:
    std::shared_ptr<sdk::OtpStore> inner_;
};

// A store that answers later, from a thread of its own, as the Redis store does: every
// operation runs on `inner` at once, but its completion waits in a queue until the store's
// thread delivers it (at once, or when the test releases the held ones).
class DeferredStore final : public sdk::OtpStore {
public:
    explicit DeferredStore(std::shared_ptr<sdk::OtpStore> inner) : inner_(std::move(inner)) {
        thread_ = std::thread([this] { run(); });
    }
    ~DeferredStore() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            held_ = false;
        }
        wake_.notify_all();
        thread_.join();
    }

    void put_code(const std::string& key, const sdk::NewCode& code,
                  sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->put_code(key, code, later(std::move(done)));
    }
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override {
        inner_->verify_and_consume(key, candidate, flow, later(std::move(done)));
    }
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->remove_code(key, digest, later(std::move(done)));
    }
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override {
        inner_->hit_counter(key, window, amount, later(std::move(done)));
    }
    void create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                        sdk::StoreCompletion<sdk::StoreResult> done) override {
        inner_->create_refresh(family, first, later(std::move(done)));
    }
    void rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        const sdk::RefreshDigest& next, std::chrono::seconds ttl, std::chrono::seconds grace,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        inner_->rotate_refresh(family, presented, next, ttl, grace, later(std::move(done)));
    }
    void revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        inner_->revoke_refresh(family, presented, later(std::move(done)));
    }
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override {
        inner_->health(later(std::move(done)));
    }

    // While held, completions wait; release() lets them all go.
    void hold() {
        std::lock_guard lock(mutex_);
        held_ = true;
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            held_ = false;
        }
        wake_.notify_all();
    }
    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }
    std::thread::id thread_id() const { return thread_.get_id(); }

private:
    template <typename Result>
    sdk::StoreCompletion<Result> later(sdk::StoreCompletion<Result> done) {
        return [this, done = std::move(done)](Result result) {
            {
                std::lock_guard lock(mutex_);
                queue_.push_back([done, result] { done(result); });
            }
            wake_.notify_all();
        };
    }
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stopping_ || (!held_ && !queue_.empty()); });
            if (queue_.empty() && stopping_) return;
            auto next = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            next();  // no lock held: it may start the next operation
            lock.lock();
        }
    }

    std::shared_ptr<sdk::OtpStore> inner_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool held_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

// Waits for a flow's one answer (a flow on the memory store and an inline provider gives
// it before returning, but the test does not rely on that).
template <typename T, typename Start>
Expected<T> await_flow(Start start) {
    auto answer = std::make_shared<std::promise<Expected<T>>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto future = answer->get_future();
    start([answer, calls](Expected<T> result) {
        if (calls->fetch_add(1) == 0) {
            answer->set_value(std::move(result));
        } else {
            ADD_FAILURE() << "a flow answered twice";
        }
    });
    if (future.wait_for(10s) != std::future_status::ready) {
        ADD_FAILURE() << "the flow did not answer within 10 s";
        return make_error(ErrorCode::internal_error, "no answer");
    }
    return future.get();
}

class OtpFlowTest : public ::testing::Test {
public:
    void SetUp() override { make_flow(300s, 5); }

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
        l.number_sends = l.number_failed_verifies = l.number_failed_verifies_all = l.ip_sends =
            l.ip_verifies = 0;
        l.country_sends = l.budget_per_hour = l.budget_per_day = 0;
        return l;
    }

    void make_flow(std::chrono::seconds expiry, int max_attempts, const LimitsConfig& limits = no_limits(),
                   std::vector<TestNumber> test_numbers = {},
                   std::shared_ptr<sdk::OtpStore> custom_store = nullptr,
                   const std::function<void(OtpConfig&)>& adjust = {}) {
        flow.reset();
        dispatcher.reset();
        store = custom_store ? custom_store
                             : memory_plugin().create_otp_store(sdk::PluginContext{store_config, host});
        provider = std::make_shared<RecordingProvider>();
        dispatcher = std::make_unique<SmsDispatcher>(SmsRouting::single(provider, "recording"), 1, 8, 5000ms);
        OtpConfig otp;
        otp.expiry = expiry;
        otp.max_attempts = max_attempts;
        otp.hmac_secret = std::string(32, 'h');
        otp.message_template = "Your Testino code is {code}. It expires in {minutes} minutes.";
        if (adjust) adjust(otp);
        TokenConfig token;
        token.algorithm = JwtAlgorithm::hs256;
        token.secret = std::string(32, 't');
        token.keys = {std::make_shared<const SigningKey>(SigningKey::from_secret("", token.secret))};
        token.issuer = "testino-auth";
        std::vector<PluginHealthSource> health{
            {sdk::PluginKind::sms_provider, "recording", "1.0.0",
             [p = provider](sdk::StoreCompletion<sdk::HealthReport> done) { done(p->health()); }},
            {sdk::PluginKind::otp_store, "memory", "1.0.0",
             [s = store](sdk::StoreCompletion<sdk::HealthReport> done) { s->health(std::move(done)); }}};
        flow = std::make_unique<OtpFlow>(otp, token, limits, std::move(test_numbers), store, *dispatcher,
                                         std::move(health));
    }

    Expected<SendAccepted> send_result(const std::string& number, const std::string& ip = "",
                                       const std::string& cc = "+1", const std::string& request_id = "r") {
        return await_flow<SendAccepted>([&](FlowDone<SendAccepted> done) {
            flow->send({cc, number, "", "", std::nullopt, ""}, {request_id, ip, ip, nullptr},
                       std::move(done));
        });
    }

    // Sends a code and returns it, as the user would read it from the SMS.
    std::string send(const std::string& number = "2025550123") {
        const std::size_t before = provider->count();
        EXPECT_TRUE(send_result(number).ok());
        EXPECT_EQ(provider->count(), before + 1);
        std::smatch m;
        const std::string text = provider->last().text;
        EXPECT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})\\.")));
        EXPECT_EQ(provider->last().code, m[1].str());
        return m[1].str();
    }

    Expected<VerifiedLogin> verify(const std::string& code, const std::string& number = "2025550123",
                                   const std::string& ip = "", const std::string& verification_id = "") {
        return await_flow<VerifiedLogin>([&](FlowDone<VerifiedLogin> done) {
            flow->verify({"1", number, code, verification_id}, {"r", ip, ip, nullptr}, std::move(done));
        });
    }

    // The error code of a send, or "ok".
    std::string send_outcome(const std::string& number, const std::string& ip = "10.0.0.1",
                             const std::string& cc = "+1") {
        auto sent = send_result(number, ip, cc);
        return sent ? "ok" : error_info(sent.error().code).machine_code;
    }

    HealthSummary health() {
        auto answer = std::make_shared<std::promise<HealthSummary>>();
        auto future = answer->get_future();
        flow->health([answer](HealthSummary s) { answer->set_value(std::move(s)); });
        EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
        return future.get();
    }

    static std::string wrong(const std::string& code) {
        std::string w = code;
        w[0] = w[0] == '9' ? '0' : static_cast<char>(w[0] + 1);
        return w;
    }

    test_support::RecordingHost host;
    test_support::MapConfigView store_config{
        std::map<std::string, std::string>{{"max_codes", "1000"},
                                           {"sweep_interval_ms", "1000"},
                                           {"shards", "4"},
                                           {"max_counters", "1000"},
                                           {"max_refresh_families", "1000"},
                                           {"max_records", "1000"},
                                           {"max_queue_items", "1000"}}};
    std::shared_ptr<sdk::OtpStore> store;
    std::shared_ptr<RecordingProvider> provider;
    std::unique_ptr<SmsDispatcher> dispatcher;
    std::unique_ptr<OtpFlow> flow;
};

}  // namespace testino::flow_test
