// How a store plugin completes an operation: the failure each result type has, and calling
// a completion exactly once whatever converting the backend's answer does. Shared by the
// Redis and Postgres stores.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "testino/otp_store.hpp"

namespace testino::plugins::store_results {

// The result types' failure (the backend could not be used: HTTP 503).
template <typename Result>
Result failed(std::string detail);
template <>
inline sdk::StoreResult failed(std::string detail) {
    return {sdk::StoreStatus::unavailable, std::move(detail)};
}
template <>
inline sdk::VerifyResult failed(std::string detail) {
    return {sdk::VerifyOutcome::unavailable, 0, {}, std::move(detail)};
}
template <>
inline sdk::CounterResult failed(std::string detail) {
    return {sdk::StoreStatus::unavailable, 0, {}, std::move(detail)};
}
template <>
inline sdk::RefreshResult failed(std::string detail) {
    return {sdk::RefreshOutcome::unavailable, {}, {}, std::move(detail)};
}
template <>
inline sdk::RecordResult failed(std::string detail) {
    return {sdk::StoreStatus::unavailable, false, false, {}, std::move(detail)};
}
template <>
inline sdk::QueueBatch failed(std::string detail) {
    return {sdk::StoreStatus::unavailable, {}, std::move(detail)};
}
template <>
inline sdk::HealthReport failed(std::string detail) {
    return {false, std::move(detail)};
}

// Calls `done` with `convert()`, or with a failure if converting throws (`label` starts its
// detail): a completion is called exactly once, and nothing is thrown into the store's thread.
template <typename Result, typename Convert>
void finish_with(const sdk::StoreCompletion<Result>& done, Convert&& convert, const char* label) noexcept {
    Result result;
    try {
        result = convert();
    } catch (const std::exception& error) {
        result = failed<Result>(std::string(label) + ": " + error.what());
    }
    try {
        done(std::move(result));
    } catch (...) {
        // `done` must not throw (the SDK's rule); the store's thread survives one that does.
    }
}

}  // namespace testino::plugins::store_results
