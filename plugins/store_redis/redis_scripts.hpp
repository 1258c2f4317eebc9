// The Redis store's Lua scripts, one per operation (each runs atomically, by SHA with
// EVALSHA, loaded again after NOSCRIPT), and the layout of the hash that holds one phone
// number's codes (plugin ABI 5):
//
//   d  the current code's digest (32 raw bytes)   n  a copy of d: this layout wrote d
//   f  its flow tag (32 raw bytes)                x  its expiry, ms since the epoch (Redis TIME)
//   a  attempts left, shared by both codes
//   p, q, y  the replaced code's digest, flow tag and the end of its overlap (ms)
//   z, b     its own expiry and its attempts when replaced (remove_code restores them)
//   PEXPIRE  the later of x and y
//
// A hash whose n is not its d was written by the ABI 4 layout (only d and a, the key's TTL
// being the code's): during a rolling upgrade such a code is read as a current code with
// no flow tag (it verifies in any flow) and no previous code, so it keeps verifying. An
// ABI 4 server reads this layout's d and a the same way it reads its own.
//
// A refresh-token family (plugin ABI 6) is one hash, so that Redis Cluster keeps it in one
// slot and each operation is one script on one key:
//
//   s  the subject                             c  the current token's digest (32 raw bytes)
//   e  the family's end, ms since the epoch    r  when it last rotated (ms; 0: never)
//   p  the rotated-away digests, oldest first, concatenated (at most kRefreshHistoryMin)
//   PEXPIRE  the current token's expiry, min(rotation + ttl, e): an expired token is a
//            missing family
#pragma once

#include <string>

#include "redis_client.hpp"

namespace testino::plugins {

struct RedisScripts {
    RedisScripts();

    // KEYS[1] code key; ARGV: digest, flow tag, attempts, ttl ms, overlap ms. Returns 1.
    const RedisScript put;
    // KEYS[1] code key; ARGV: candidate digest, flow tag or "" (any flow). Returns
    // {outcome, attempts_left, ms until the dead key expires}, outcome 0 not found,
    // 1 verified, 2 mismatch, 3 attempts exhausted.
    const RedisScript verify;
    // KEYS[1] code key; ARGV: digest. Returns 0 unchanged, 1 deleted, 2 the previous code
    // restored, 3 the previous code dropped.
    const RedisScript remove;
    // KEYS[1] counter key; ARGV: window ms, amount. Returns {value, pttl_ms}.
    const RedisScript counter;
    // KEYS[1] family key; ARGV: digest, subject, ttl ms, max_age ms. Returns 1.
    const RedisScript refresh_create;
    // KEYS[1] family key; ARGV: presented digest, next digest, ttl ms, grace ms. Returns
    // {outcome, ms until next expires, subject}, outcome 0 not found, 1 rotated, 2 reused
    // (the family deleted), 3 raced; the last two are 0 and "" but when rotated.
    const RedisScript refresh_rotate;
    // KEYS[1] family key; ARGV: presented digest. Returns 1 revoked (deleted), 0 not found.
    const RedisScript refresh_revoke;
};

// Records and queues (plugin ABI 8; redis_scripts_records.cpp). A record is a string with a
// PEXPIRE; put, get and remove are plain SET PX, GET and DEL. A queue is two keys in one
// slot (the queue name's hash tag):
//   due    ZSET  id -> when it is due, ms since the epoch (Redis TIME)
//   items  HASH  p:<id> -> payload, a:<id> -> attempts (prefixed, so no id collides with
//                 another's field)
// Neither has a TTL: items stay until acked. Its length is ZCARD of due.
struct RedisRecordScripts {
    RedisRecordScripts();

    // KEYS[1] record key; ARGV: value, ttl ms. Returns {1, value} created or {0, held}.
    const RedisScript claim;
    // KEYS due, items; ARGV: id, payload, attempts, delay ms, max items. Returns 1, or 0
    // when the queue holds max items and id is not one of them (full).
    const RedisScript enqueue;
    // KEYS due, items; ARGV: max, lease ms. Returns {id, payload, attempts, ...} of the
    // items taken, earliest due first.
    const RedisScript claim_due;
    // KEYS due, items; ARGV: id. Returns 1.
    const RedisScript ack;
};

// Hex SHA-1 of a script, as EVALSHA wants it.
std::string script_sha1(const std::string& body);
// A script named `name` with its SHA-1.
RedisScript make_script(const char* name, std::string body);
// Lua defining now_ms(): ms since the epoch from Redis's clock (TIME), for every script
// that needs the time, so that every server instance agrees.
extern const char* const kLuaNowMs;

}  // namespace testino::plugins
