#include "code_entry.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>

namespace testino::plugins {
namespace {

using sdk::VerifyOutcome;

// Constant time: how many leading bytes match must not show in the timing.
bool same_bytes(const std::array<std::uint8_t, 32>& a, const std::array<std::uint8_t, 32>& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Both comparisons are always made, and combined without branching on the first.
bool matches(const StoredCode& code, const sdk::CodeDigest& candidate,
             const std::optional<sdk::FlowTag>& flow) {
    const bool digest_equal = same_bytes(code.digest, candidate);
    const bool flow_equal = !flow || CRYPTO_memcmp(code.flow.data(), flow->data(), code.flow.size()) == 0;
    return digest_equal & flow_equal;
}

bool live(const StoredCode& code, std::int64_t now) { return now < code.expires_at; }

}  // namespace

// A table node (key 32, entry, the node's link and cached hash 16) in a 128-byte heap chunk:
// bench/run.sh's bytes per pending code has a bound of 200.
static_assert(sizeof(void*) != 8 || sizeof(CodeEntry) <= 72, "CodeEntry grew past its 72 bytes");

StoredFlowTag stored_flow_tag(const sdk::FlowTag& flow) {
    static_assert(sizeof(StoredFlowTag) <= sizeof(sdk::FlowTag));
    StoredFlowTag kept{};
    std::copy_n(flow.begin(), kept.size(), kept.begin());
    return kept;
}

std::int64_t CodeEntry::expires_at() const {
    return previous ? std::max(current.expires_at, previous->code.expires_at) : current.expires_at;
}

CodeEntry first_code(const CodeToStore& code, std::int64_t now) {
    CodeEntry entry;
    entry.current = {code.digest, stored_flow_tag(code.flow), now + code.ttl};
    entry.attempts_left = code.attempts;
    return entry;
}

void replace_code(CodeEntry& entry, const CodeToStore& code, std::int64_t now) {
    const StoredCode replaced = entry.current;
    const bool keep = code.overlap > 0 && code.attempts > 0 && live(replaced, now) && entry.attempts_left > 0;
    if (keep) {
        // Reuses the older previous code's allocation, if any: that code is dropped.
        if (!entry.previous) entry.previous = std::make_unique<ReplacedCode>();
        *entry.previous = {replaced, replaced.expires_at, entry.attempts_left};
        entry.previous->code.expires_at = std::min(replaced.expires_at, now + code.overlap);
    } else {
        entry.previous.reset();
    }
    entry.current = {code.digest, stored_flow_tag(code.flow), now + code.ttl};
    entry.attempts_left = code.attempts;
}

VerifyStep verify_code(CodeEntry& entry, const sdk::CodeDigest& candidate,
                       const std::optional<sdk::FlowTag>& flow, std::int64_t now) {
    if (now >= entry.expires_at()) return {{VerifyOutcome::not_found, 0, {}, {}}, true};
    if (entry.attempts_left == 0) {
        // Dead until the current code expires, so that a new guess cannot succeed before
        // then. A dead entry has no previous code, so that is also the entry's end.
        const auto remaining =
            std::chrono::ceil<std::chrono::seconds>(TickDuration(entry.current.expires_at - now));
        return {{VerifyOutcome::attempts_exhausted, 0, std::max(remaining, std::chrono::seconds(1)), {}},
                false};
    }
    const bool current_matches = live(entry.current, now) & matches(entry.current, candidate, flow);
    const bool previous_matches =
        entry.previous && (live(entry.previous->code, now) & matches(entry.previous->code, candidate, flow));
    if (current_matches || previous_matches) {
        return {{VerifyOutcome::verified, entry.attempts_left, {}, {}}, true};
    }
    --entry.attempts_left;
    if (entry.attempts_left == 0) entry.previous.reset();  // the entry now ends with the current code
    return {{VerifyOutcome::mismatch, entry.attempts_left, {}, {}}, now >= entry.expires_at()};
}

bool remove_code(CodeEntry& entry, const sdk::CodeDigest& digest, std::int64_t now) {
    if (now >= entry.expires_at()) return true;
    if (same_bytes(entry.current.digest, digest)) {
        if (!entry.previous || !live(entry.previous->code, now)) return true;
        // The replacement never went out: the code it replaced is current again, as it was.
        const ReplacedCode restored = *entry.previous;
        entry.previous.reset();
        entry.current = {restored.code.digest, restored.code.flow, restored.own_expiry};
        entry.attempts_left = std::min(entry.attempts_left, restored.attempts_had);
        return false;
    }
    if (entry.previous && same_bytes(entry.previous->code.digest, digest)) {
        entry.previous.reset();
        return now >= entry.expires_at();
    }
    return false;
}

}  // namespace testino::plugins
