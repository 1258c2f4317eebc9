// Testino plugin SDK: the OTP store interface.
//
// Operations are domain-level so that each store makes them atomic its own way (a
// locked map, a Redis script): with many server threads and many server instances,
// every operation on one key must behave as if it ran alone. A store never sees a
// code, only its HMAC-SHA256 digest, and compares digests in constant time.
//
// Asynchronous (since plugin ABI 4): every operation takes a completion, `done`, and
// returns at once. The server calls them on its HTTP reactor threads, which serve many
// connections each: a store must never wait there for the network or a lock held across
// I/O. A store either finishes the work right away and calls `done` before returning (the
// memory store), or sends it to its own I/O thread and calls `done` from there (Redis).
//
// The rules for `done`, which the conformance kit checks:
//   - it is called exactly once, whatever happens: success, failure, timeout, shutdown;
//   - within the store's own deadline (a command timeout): a store that cannot reach its
//     backend answers `unavailable` promptly instead of holding the request;
//   - with no lock of the store held, since `done` may start the next store operation;
//   - it must not throw; a store reports failures through the result, never by throwing.
// Every method is called from many threads at once. A store's destructor waits for, or
// answers `unavailable` to, every operation still in flight.
#pragma once

#include <array>
#include <boost/config.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "testino/health.hpp"

namespace testino::sdk {

using CodeDigest = std::array<std::uint8_t, 32>;

enum class StoreStatus {
    ok,
    unavailable,  // the backend could not be reached or failed (HTTP 503)
    full,         // no room for a new code, and nothing expired to evict (HTTP 503)
};

struct StoreResult {
    StoreStatus status = StoreStatus::ok;
    std::string detail;  // for logs
};

enum class VerifyOutcome {
    verified,            // the digest matched; the code is consumed (deleted)
    mismatch,            // wrong digest; one attempt consumed, `attempts_left` remain
    not_found,           // no code, or it expired
    attempts_exhausted,  // the code is dead: every allowed attempt was used
    unavailable,         // the backend failed (HTTP 503)
};

struct VerifyResult {
    VerifyOutcome outcome = VerifyOutcome::not_found;
    int attempts_left = 0;                // after this call
    std::chrono::seconds retry_after{0};  // for attempts_exhausted: until the dead code expires
    std::string detail;                   // for logs
};

struct CounterResult {
    StoreStatus status = StoreStatus::ok;
    std::int64_t count = 0;            // the counter's value after this call
    std::chrono::seconds reset_in{0};  // until the window ends and the counter is gone (>= 1)
    std::string detail;                // for logs
};

// The completion of one store operation; see the rules above.
template <typename Result>
using StoreCompletion = std::function<void(Result)>;

class BOOST_SYMBOL_VISIBLE OtpStore {
public:
    virtual ~OtpStore() = default;

    // Stores the digest for `key` (an E.164 number) for `ttl` with `max_attempts`
    // verify attempts, replacing any code the key had.
    virtual void put_code(const std::string& key, const CodeDigest& digest, std::chrono::seconds ttl,
                          int max_attempts, StoreCompletion<StoreResult> done) = 0;

    // Atomically: compare `candidate` with the stored digest; on a match delete the code
    // (single use); on a mismatch consume one attempt. Once no attempt is left the code
    // stays dead until it expires. Exactly one of many concurrent right guesses verifies.
    virtual void verify_and_consume(const std::string& key, const CodeDigest& candidate,
                                    StoreCompletion<VerifyResult> done) = 0;

    // Deletes the code of `key` only if it still holds `digest` (so a newer code sent
    // meanwhile survives). Used when the SMS could not be sent. Missing is `ok`.
    virtual void remove_code(const std::string& key, const CodeDigest& digest,
                             StoreCompletion<StoreResult> done) = 0;

    // Rate-limit counters (fixed windows). Atomically adds `amount` (may be 0 to read, or
    // negative to refund) to the counter `key`; a counter that does not exist starts at 0
    // with a window of `window` from now, and is gone when the window ends. Returns the new
    // value and the time left in the window. Keys are opaque to the store; a part in braces,
    // "{...}", names what the key is about (a phone number), for stores that co-locate keys.
    // A store bounds the memory counters use (evicting rather than refusing new ones).
    virtual void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                             StoreCompletion<CounterResult> done) = 0;

    // Whether the backend can be used now (for GET /api/v1/health), within the same
    // deadline as the other operations.
    virtual void health(StoreCompletion<HealthReport> done) = 0;
};

}  // namespace testino::sdk
