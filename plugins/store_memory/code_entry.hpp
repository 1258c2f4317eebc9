// One phone number's codes in the memory store, and what each store operation does to them
// (the semantics of testino/otp_store.hpp): the current code, the code it replaced while
// that one's overlap lasts, and the attempts both share. Pure: the caller holds the shard's
// lock, keeps the entry's table and expiry index in step with expires_at(), and erases the
// entry when an operation says so. Times are ticks of the store's clock, steady_clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "expiry_index.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

using TickDuration = std::chrono::steady_clock::duration;

// The first 16 bytes of a flow tag. The tag is an HMAC of a verification id of 16 random
// bytes, so 128 bits keep all of its strength: another flow's tag matches with probability
// 2^-128. Keeping half saves 16 bytes a pending code (the store's memory bound).
using StoredFlowTag = std::array<std::uint8_t, 16>;
StoredFlowTag stored_flow_tag(const sdk::FlowTag& flow);

struct StoredCode {
    sdk::CodeDigest digest{};
    StoredFlowTag flow{};
    std::int64_t expires_at = 0;
};

// The code a newer one replaced, valid beside it until its overlap ends.
struct ReplacedCode {
    StoredCode code;             // code.expires_at: the end of its overlap (or its own expiry)
    std::int64_t own_expiry;     // when it expires if it becomes current again (remove_code)
    std::uint16_t attempts_had;  // its attempts when replaced: the most it gets back
};

// 72 bytes, so that a table node (key, entry, hash, link) fits a 128-byte heap chunk.
struct CodeEntry {
    StoredCode current;
    std::unique_ptr<ReplacedCode> previous;  // allocated only during an overlap
    ExpiryHook hook;
    std::uint16_t attempts_left = 0;  // shared by both codes; 0: dead until current expires

    // The later of the two codes' ends: when the whole entry can go.
    std::int64_t expires_at() const;
};

// A code as put_code stores it, with its TTL and overlap already in ticks.
struct CodeToStore {
    sdk::CodeDigest digest;
    sdk::FlowTag flow;
    std::int64_t ttl;
    std::int64_t overlap;
    std::uint16_t attempts;
};

// The entry of a key that held no code.
CodeEntry first_code(const CodeToStore& code, std::int64_t now);
// put_code on a key with an entry: its live, undead code (if any) stays beside the new one.
void replace_code(CodeEntry& entry, const CodeToStore& code, std::int64_t now);

struct VerifyStep {
    sdk::VerifyResult result;
    bool erase = false;  // the entry is used up (verified) or expired
};
VerifyStep verify_code(CodeEntry& entry, const sdk::CodeDigest& candidate,
                       const std::optional<sdk::FlowTag>& flow, std::int64_t now);

// remove_code; true when the entry is to be erased.
bool remove_code(CodeEntry& entry, const sdk::CodeDigest& digest, std::int64_t now);

}  // namespace testino::plugins
