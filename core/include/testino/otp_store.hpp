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
#include <optional>
#include <string>
#include <vector>

#include "testino/health.hpp"

namespace testino::sdk {

using CodeDigest = std::array<std::uint8_t, 32>;
// HMAC of the verification id send-otp returned (16 random bytes): a store may keep and
// compare only the first 16 bytes of a tag; it must keep a digest whole.
using FlowTag = std::array<std::uint8_t, 32>;

// A code for put_code (since plugin ABI 5).
struct NewCode {
    CodeDigest digest{};
    FlowTag flow{};  // binds the code to the flow that asked for it
    std::chrono::seconds ttl{0};
    int max_attempts = 0;
    std::chrono::seconds overlap{0};  // how long the code this one replaces stays valid beside it
};

enum class StoreStatus {
    ok,
    unavailable,  // the backend could not be reached or failed (HTTP 503)
    full,         // no room for a new code or counter, and nothing expired to reclaim (HTTP 503)
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

// Refresh tokens (since plugin ABI 6). A refresh token is "<family>.<secret>": the family
// names one sign-in (a session) and its chain of rotated tokens. A store sees the family
// id (opaque, at most 64 URL-safe characters) and the SHA-256 digest of each token, never
// a token. Everything of one family lives under the family id alone, so a store that
// shards by key (Redis Cluster) keeps a family in one place and each operation atomic.
using RefreshDigest = std::array<std::uint8_t, 32>;

// A new family for create_refresh.
struct NewRefreshFamily {
    RefreshDigest digest{};           // the family's first token
    std::string subject;              // whose session it is (an E.164 number)
    std::chrono::seconds ttl{0};      // how long a token is valid unless rotated
    std::chrono::seconds max_age{0};  // the family ends this long after sign-in, rotated or not
};

enum class RefreshOutcome {
    rotated,      // `presented` was the current token; `next` is now (rotate_refresh)
    revoked,      // the family is deleted (revoke_refresh: `presented` was one of its tokens)
    reused,       // `presented` was a token the family had rotated away from: the family is
                  // now deleted (RFC 9700 4.14.2), so its current token stops working too
    raced,        // `presented` is the token rotated away from last, less than `grace` ago:
                  // a concurrent refresh won; nothing changed
    not_found,    // no such family (expired, revoked), or `presented` is none of its tokens
    unavailable,  // the backend failed (HTTP 503)
};

struct RefreshResult {
    RefreshOutcome outcome = RefreshOutcome::not_found;
    std::string subject;                 // rotated: the family's subject
    std::chrono::seconds expires_in{0};  // rotated: how long `next` is valid (rounded down)
    std::string detail;                  // for logs
};

// How many of a family's rotated-away tokens a store must still recognise as reused (the
// newest ones); an older token may be forgotten and then be not_found, which refuses it
// without revoking anything.
inline constexpr int kRefreshHistoryMin = 16;

// Records and queues (since plugin ABI 8): what the server keeps beside codes for
// idempotent sends, delivery receipts and the webhook outbox. Keys and queue names are
// opaque; a part in braces names what they are about, as for counters, and a queue's name
// holds one, so that a clustered store keeps a queue in one place.

// One record: an opaque value (at most 8 KiB) under a key, for a time.
struct RecordResult {
    StoreStatus status = StoreStatus::ok;
    bool created = false;  // claim_record: the key was free and now holds the given value
    bool found = false;    // the key holds a live record (claim_record: always, when ok)
    std::string value;     // the value the key holds now
    std::string detail;    // for logs
};

// One item of a queue: an id unique within its queue, an opaque payload (at most 64 KiB)
// and how many times it was claimed.
struct QueueItem {
    std::string id;
    std::string payload;
    int attempts = 0;  // claim_due counts this claim in
};

struct QueueBatch {
    StoreStatus status = StoreStatus::ok;
    std::vector<QueueItem> items;
    std::string detail;
};

// The completion of one store operation; see the rules above.
template <typename Result>
using StoreCompletion = std::function<void(Result)>;

class BOOST_SYMBOL_VISIBLE OtpStore {
public:
    virtual ~OtpStore() = default;

    // Stores `code` for `key` (an E.164 number) for `code.ttl`. If the key holds a live code
    // that is not dead (attempts left), that code becomes the key's *previous* code, valid
    // until min(its own expiry, now + code.overlap), so that a resend (by a stranger, say)
    // does not silently void the code the owner is typing; an older previous code is
    // dropped, and overlap 0 replaces the old code at once. Attempts are reset to
    // `code.max_attempts` and shared by both codes. The key lives until the later expiry.
    virtual void put_code(const std::string& key, const NewCode& code, StoreCompletion<StoreResult> done) = 0;

    // Atomically: `candidate` verifies if it equals the digest of the key's current code or
    // of its live previous one; when `flow` is given, that code's flow tag must equal it too
    // (otherwise it is a mismatch). Verified deletes the whole key, both codes (single use).
    // A mismatch consumes one shared attempt; once none is left the key is dead until the
    // current code's expiry (attempts_exhausted, retry_after = the time to that expiry).
    // Digests and flow tags are compared in constant time. Exactly one of many concurrent
    // right guesses (for either code) verifies.
    virtual void verify_and_consume(const std::string& key, const CodeDigest& candidate,
                                    const std::optional<FlowTag>& flow,
                                    StoreCompletion<VerifyResult> done) = 0;

    // Used when the SMS of the code holding `digest` could not be sent. If the key's current
    // code holds `digest`, it is removed, and a live previous code becomes current again with
    // its own original expiry and at most the attempts it had when it was replaced (the
    // replacement never went out); if the previous code holds it, the previous is dropped;
    // otherwise (a newer code sent meanwhile, or no code) nothing changes. Missing is `ok`.
    virtual void remove_code(const std::string& key, const CodeDigest& digest,
                             StoreCompletion<StoreResult> done) = 0;

    // Rate-limit counters (fixed windows). Atomically adds `amount` (may be 0 to read, or
    // negative to refund) to the counter `key`; a counter that does not exist starts at 0
    // with a window of `window` from now, and is gone when the window ends. Returns the new
    // value and the time left in the window. Keys are opaque to the store; a part in braces,
    // "{...}", names what the key is about (a phone number), for stores that co-locate keys.
    // A counter is never evicted while its window is live: a store with no room for a new
    // counter refuses it with StoreStatus::full (fail closed), at once, without scanning.
    virtual void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                             StoreCompletion<CounterResult> done) = 0;

    // Starts the family `family` with its first token. A family id is 128 random bits and
    // never reused; an existing one is replaced. The family lives min(ttl, max_age). With
    // no room for it (and nothing expired to reclaim), StoreStatus::full.
    virtual void create_refresh(const std::string& family, const NewRefreshFamily& first,
                                StoreCompletion<StoreResult> done) = 0;

    // Atomically: if `presented` is the family's current token, `next` becomes current
    // (valid for `ttl`, but never past the family's max_age) and `presented` joins the
    // rotated-away tokens: rotated, with the subject. If `presented` is the token rotated
    // away from last, less than `grace` ago: raced, nothing changes. Any other rotated-away
    // token: the family is deleted, reused. Otherwise not_found. Of many concurrent
    // rotations of one token exactly one is rotated (with grace 0, the first of the others
    // is reused and deletes the family, the rest find none: not_found). Digests compare in
    // constant time.
    virtual void rotate_refresh(const std::string& family, const RefreshDigest& presented,
                                const RefreshDigest& next, std::chrono::seconds ttl,
                                std::chrono::seconds grace, StoreCompletion<RefreshResult> done) = 0;

    // Logout: if `presented` is the family's current token or one it rotated away from, the
    // family is deleted (revoked); otherwise not_found and nothing changes.
    virtual void revoke_refresh(const std::string& family, const RefreshDigest& presented,
                                StoreCompletion<RefreshResult> done) = 0;

    // Whether the backend can be used now (for GET /api/v1/health), within the same
    // deadline as the other operations.
    virtual void health(StoreCompletion<HealthReport> done) = 0;

    // --- records and queues (ABI 8) ------------------------------------------------------
    // A store that keeps them overrides all of these and keeps_records(); the defaults
    // answer `unavailable`, and the server refuses to start with webhooks or idempotency
    // keys on such a store, naming it.
    virtual bool keeps_records() const { return false; }

    // Atomically: if `key` holds no live record it now holds `value` for `ttl` (created);
    // otherwise nothing changes and the result carries what it holds. Of many concurrent
    // claims of one key (any instance), exactly one is created.
    virtual void claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                              StoreCompletion<RecordResult> done) {
        (void)key, (void)value, (void)ttl;
        done({StoreStatus::unavailable, false, false, {}, "this store keeps no records"});
    }
    // Sets `key` to `value` for `ttl`, whatever it held.
    virtual void put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                            StoreCompletion<StoreResult> done) {
        (void)key, (void)value, (void)ttl;
        done({StoreStatus::unavailable, "this store keeps no records"});
    }
    // What `key` holds: found and its value, or not found.
    virtual void get_record(const std::string& key, StoreCompletion<RecordResult> done) {
        (void)key;
        done({StoreStatus::unavailable, false, false, {}, "this store keeps no records"});
    }
    // Deletes `key`; missing is ok.
    virtual void remove_record(const std::string& key, StoreCompletion<StoreResult> done) {
        (void)key;
        done({StoreStatus::unavailable, "this store keeps no records"});
    }

    // Puts `item` into `queue`, due `delay` from now (0: at once); an item with the same id
    // is replaced (payload, attempts, due time). Items stay until acked. A store bounds its
    // queues: beyond the bound, `full`.
    virtual void enqueue(const std::string& queue, const QueueItem& item, std::chrono::milliseconds delay,
                         StoreCompletion<StoreResult> done) {
        (void)queue, (void)item, (void)delay;
        done({StoreStatus::unavailable, "this store keeps no queues"});
    }
    // Atomically takes up to `max` of the items of `queue` that are due, the earliest due
    // first: each is due again `lease` from now (so the item of a worker that died comes
    // back) and its attempts grow by one. Concurrent claims, from any instance, never get
    // the same item while its lease lasts.
    virtual void claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                           StoreCompletion<QueueBatch> done) {
        (void)queue, (void)max, (void)lease;
        done({StoreStatus::unavailable, {}, "this store keeps no queues"});
    }
    // Removes the item `id` from `queue`; missing is ok.
    virtual void ack(const std::string& queue, const std::string& id, StoreCompletion<StoreResult> done) {
        (void)queue, (void)id;
        done({StoreStatus::unavailable, "this store keeps no queues"});
    }
    // How many items `queue` holds, due or not (in `count`; `reset_in` is meaningless).
    virtual void queue_length(const std::string& queue, StoreCompletion<CounterResult> done) {
        (void)queue;
        done({StoreStatus::unavailable, 0, std::chrono::seconds(0), "this store keeps no queues"});
    }
};

}  // namespace testino::sdk
