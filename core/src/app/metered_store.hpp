// The OTP store as the flows use it: the plugin's asynchronous operations, each timed and
// counted in the metrics (testino_store_operation_*, and testino_store_full_total for a
// refusal for want of room, by the table that had none) when its completion arrives.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "observability/metrics.hpp"
#include "testino/otp_store.hpp"

namespace testino {

class MeteredStore {
public:
    explicit MeteredStore(std::shared_ptr<sdk::OtpStore> store) : store_(std::move(store)) {}
    // The plugin itself, for operations that are not metered (records and queues).
    const std::shared_ptr<sdk::OtpStore>& shared() const { return store_; }

    template <typename Done>
    void put_code(const std::string& key, const sdk::NewCode& code, Done done) {
        store_->put_code(key, code,
                         timed<sdk::StoreResult>(metrics::StoreOperation::put_code, std::move(done)));
    }
    template <typename Done>
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow, Done done) {
        store_->verify_and_consume(
            key, candidate, flow,
            timed<sdk::VerifyResult>(metrics::StoreOperation::verify_and_consume, std::move(done)));
    }
    template <typename Done>
    void remove_code(const std::string& key, const sdk::CodeDigest& digest, Done done) {
        store_->remove_code(key, digest,
                            timed<sdk::StoreResult>(metrics::StoreOperation::remove_code, std::move(done)));
    }
    template <typename Done>
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount, Done done) {
        store_->hit_counter(key, window, amount,
                            timed<sdk::CounterResult>(metrics::StoreOperation::hit_counter, std::move(done)));
    }
    template <typename Done>
    void create_refresh(const std::string& family, const sdk::NewRefreshFamily& first, Done done) {
        store_->create_refresh(
            family, first, timed<sdk::StoreResult>(metrics::StoreOperation::create_refresh, std::move(done)));
    }
    template <typename Done>
    void rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        const sdk::RefreshDigest& next, std::chrono::seconds ttl, std::chrono::seconds grace,
                        Done done) {
        store_->rotate_refresh(
            family, presented, next, ttl, grace,
            timed<sdk::RefreshResult>(metrics::StoreOperation::rotate_refresh, std::move(done)));
    }
    template <typename Done>
    void revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented, Done done) {
        store_->revoke_refresh(
            family, presented,
            timed<sdk::RefreshResult>(metrics::StoreOperation::revoke_refresh, std::move(done)));
    }

    const std::shared_ptr<sdk::OtpStore>& plugin() const { return store_; }

private:
    static bool failed(const sdk::StoreResult& r) { return r.status != sdk::StoreStatus::ok; }
    static bool failed(const sdk::CounterResult& r) { return r.status != sdk::StoreStatus::ok; }
    static bool failed(const sdk::VerifyResult& r) { return r.outcome == sdk::VerifyOutcome::unavailable; }
    static bool failed(const sdk::RefreshResult& r) { return r.outcome == sdk::RefreshOutcome::unavailable; }
    static bool full(const sdk::StoreResult& r) { return r.status == sdk::StoreStatus::full; }
    static bool full(const sdk::CounterResult& r) { return r.status == sdk::StoreStatus::full; }
    static bool full(const sdk::VerifyResult&) { return false; }
    static bool full(const sdk::RefreshResult&) { return false; }
    static metrics::StoreTable table_of(metrics::StoreOperation operation) {
        switch (operation) {
            case metrics::StoreOperation::hit_counter: return metrics::StoreTable::counters;
            case metrics::StoreOperation::create_refresh: return metrics::StoreTable::refresh_families;
            default: return metrics::StoreTable::codes;
        }
    }

    template <typename Result, typename Done>
    static sdk::StoreCompletion<Result> timed(metrics::StoreOperation operation, Done done) {
        return [operation, start = std::chrono::steady_clock::now(),
                done = std::move(done)](Result result) mutable {
            auto& stats = metrics::global();
            stats.store_operation(operation, std::chrono::steady_clock::now() - start, failed(result));
            if (full(result)) stats.store_full(table_of(operation));
            done(std::move(result));
        };
    }

    std::shared_ptr<sdk::OtpStore> store_;
};

}  // namespace testino
