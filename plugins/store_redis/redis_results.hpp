// How the Redis store turns a Redis outcome into a store result: the failure each result
// type has, and calling a completion exactly once whatever converting the reply does.
#pragma once

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "redis_client.hpp"
#include "testino/otp_store.hpp"
#include "testino/plugins/store_results.hpp"

namespace testino::plugins::redis_results {

// Longer TTLs are clamped (ten years) so the millisecond TTL cannot overflow.
inline constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365 * 10);

// A TTL in milliseconds, as the scripts and PX want it, clamped to [at_least, kMaxTtl].
template <typename Duration>
std::string milliseconds(Duration duration, Duration at_least) {
    const auto clamped = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(duration),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(at_least),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(kMaxTtl));
    return std::to_string(clamped.count());
}

// A reply of a shape the store does not expect from `what` (a script or a command).
inline RedisFailure unexpected_reply(const std::string& what, const redisReply& reply) {
    return {RedisFault::reply_error, what + ": unexpected reply type " + std::to_string(reply.type), false};
}
inline RedisFailure unexpected_reply(const RedisScript& script, const redisReply& reply) {
    return unexpected_reply(std::string(script.name) + " script", reply);
}

// A write Redis refused for want of memory (maxmemory with noeviction) is the store being
// full, not unreachable: STORE_FULL, and counted as such.
inline bool out_of_memory(const RedisFailure& failure) {
    return failure.fault == RedisFault::reply_error &&
           failure.detail.find("OOM command not allowed") != std::string::npos;
}

using store_results::failed;

// Calls `done` with `convert()`, or with a failure if converting throws: a completion is
// called exactly once, and nothing is thrown into the loop thread.
template <typename Result, typename Convert>
void finish_with(const sdk::StoreCompletion<Result>& done, Convert&& convert) noexcept {
    store_results::finish_with(done, std::forward<Convert>(convert), "redis store");
}

// For an operation that threw before its request was submitted (out of memory, say).
template <typename Result>
void finish_thrown(const sdk::StoreCompletion<Result>& done, const std::exception& error) noexcept {
    finish_with(done, [&] { return failed<Result>(std::string("redis store: ") + error.what()); });
}

}  // namespace testino::plugins::redis_results
