// A blocking view of an asynchronous OtpStore, for tests: each call starts the operation
// and waits for its completion. It checks the completion rules of testino/otp_store.hpp
// that a test can see: `done` comes within `limit`, and exactly once (a second call, or
// none, is a GoogleTest failure that names the operation).
//
// Never call it from inside a store's completion: a store that completes on its own I/O
// thread would wait there for itself.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "testino/otp_store.hpp"

namespace testino::contract {

// What a test sees when the store never answered: the failure each result type has.
template <typename Result>
Result no_answer(const std::string& detail);
template <>
inline sdk::StoreResult no_answer(const std::string& detail) {
    return {sdk::StoreStatus::unavailable, detail};
}
template <>
inline sdk::VerifyResult no_answer(const std::string& detail) {
    return {sdk::VerifyOutcome::unavailable, 0, {}, detail};
}
template <>
inline sdk::CounterResult no_answer(const std::string& detail) {
    return {sdk::StoreStatus::unavailable, 0, {}, detail};
}
template <>
inline sdk::RefreshResult no_answer(const std::string& detail) {
    return {sdk::RefreshOutcome::unavailable, {}, {}, detail};
}
template <>
inline sdk::HealthReport no_answer(const std::string& detail) {
    return {false, detail};
}
template <>
inline sdk::RecordResult no_answer(const std::string& detail) {
    return {sdk::StoreStatus::unavailable, false, false, {}, detail};
}
template <>
inline sdk::QueueBatch no_answer(const std::string& detail) {
    return {sdk::StoreStatus::unavailable, {}, detail};
}

// Starts `start(done)` and waits for `done`'s result.
template <typename Result, typename Start>
Result await_completion(const char* operation, Start&& start,
                        std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    struct Waiter {
        std::mutex mutex;
        std::condition_variable done;
        std::optional<Result> result;
        int calls = 0;
    };
    auto waiter = std::make_shared<Waiter>();
    const std::string name = operation;
    start([waiter, name](Result result) {
        std::lock_guard lock(waiter->mutex);
        if (++waiter->calls > 1) {
            ADD_FAILURE() << name << ": the store called its completion " << waiter->calls
                          << " times (the contract: exactly once)";
            return;
        }
        waiter->result = std::move(result);
        waiter->done.notify_all();
    });
    std::unique_lock lock(waiter->mutex);
    if (!waiter->done.wait_for(lock, limit, [&] { return waiter->result.has_value(); })) {
        ADD_FAILURE() << name << ": the store did not call its completion within " << limit.count()
                      << " ms (the contract: exactly once, within the store's deadline)";
        return no_answer<Result>(name + ": no completion");
    }
    return *waiter->result;
}

// The store's operations, each waited for.
class BlockingStore {
public:
    explicit BlockingStore(std::shared_ptr<sdk::OtpStore> store) : store_(std::move(store)) {}

    sdk::StoreResult put_code(const std::string& key, const sdk::NewCode& code) {
        return await_completion<sdk::StoreResult>(
            "put_code", [&](auto done) { store_->put_code(key, code, std::move(done)); });
    }
    // A code with no flow tag (all zeros) that replaces the key's code at once (no overlap).
    sdk::StoreResult put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                              int max_attempts) {
        return put_code(key, sdk::NewCode{digest, {}, ttl, max_attempts, {}});
    }
    sdk::VerifyResult verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                         const std::optional<sdk::FlowTag>& flow = std::nullopt) {
        return await_completion<sdk::VerifyResult>("verify_and_consume", [&](auto done) {
            store_->verify_and_consume(key, candidate, flow, std::move(done));
        });
    }
    sdk::StoreResult remove_code(const std::string& key, const sdk::CodeDigest& digest) {
        return await_completion<sdk::StoreResult>(
            "remove_code", [&](auto done) { store_->remove_code(key, digest, std::move(done)); });
    }
    sdk::CounterResult hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount) {
        return await_completion<sdk::CounterResult>(
            "hit_counter", [&](auto done) { store_->hit_counter(key, window, amount, std::move(done)); });
    }
    sdk::StoreResult create_refresh(const std::string& family, const sdk::NewRefreshFamily& first) {
        return await_completion<sdk::StoreResult>(
            "create_refresh", [&](auto done) { store_->create_refresh(family, first, std::move(done)); });
    }
    sdk::RefreshResult rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                      const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                                      std::chrono::seconds grace) {
        return await_completion<sdk::RefreshResult>("rotate_refresh", [&](auto done) {
            store_->rotate_refresh(family, presented, next, ttl, grace, std::move(done));
        });
    }
    sdk::RefreshResult revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented) {
        return await_completion<sdk::RefreshResult>(
            "revoke_refresh", [&](auto done) { store_->revoke_refresh(family, presented, std::move(done)); });
    }
    sdk::HealthReport health() {
        return await_completion<sdk::HealthReport>("health",
                                                   [&](auto done) { store_->health(std::move(done)); });
    }

    sdk::RecordResult claim_record(const std::string& key, const std::string& value,
                                   std::chrono::seconds ttl) {
        return await_completion<sdk::RecordResult>(
            "claim_record", [&](auto done) { store_->claim_record(key, value, ttl, std::move(done)); });
    }
    sdk::StoreResult put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl) {
        return await_completion<sdk::StoreResult>(
            "put_record", [&](auto done) { store_->put_record(key, value, ttl, std::move(done)); });
    }
    sdk::RecordResult get_record(const std::string& key) {
        return await_completion<sdk::RecordResult>(
            "get_record", [&](auto done) { store_->get_record(key, std::move(done)); });
    }
    sdk::StoreResult remove_record(const std::string& key) {
        return await_completion<sdk::StoreResult>(
            "remove_record", [&](auto done) { store_->remove_record(key, std::move(done)); });
    }
    sdk::StoreResult enqueue(const std::string& queue, const sdk::QueueItem& item,
                             std::chrono::milliseconds delay) {
        return await_completion<sdk::StoreResult>(
            "enqueue", [&](auto done) { store_->enqueue(queue, item, delay, std::move(done)); });
    }
    sdk::QueueBatch claim_due(const std::string& queue, int max, std::chrono::milliseconds lease) {
        return await_completion<sdk::QueueBatch>(
            "claim_due", [&](auto done) { store_->claim_due(queue, max, lease, std::move(done)); });
    }
    sdk::StoreResult ack(const std::string& queue, const std::string& id) {
        return await_completion<sdk::StoreResult>(
            "ack", [&](auto done) { store_->ack(queue, id, std::move(done)); });
    }
    sdk::CounterResult queue_length(const std::string& queue) {
        return await_completion<sdk::CounterResult>(
            "queue_length", [&](auto done) { store_->queue_length(queue, std::move(done)); });
    }

    sdk::OtpStore& async() { return *store_; }
    const std::shared_ptr<sdk::OtpStore>& shared() const { return store_; }

private:
    std::shared_ptr<sdk::OtpStore> store_;
};

}  // namespace testino::contract
