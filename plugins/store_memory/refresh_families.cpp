#include "refresh_families.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>

namespace testino::plugins {
namespace {

using sdk::RefreshOutcome;
using sdk::RefreshResult;

bool same_digest(const sdk::RefreshDigest& a, const sdk::RefreshDigest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Which rotated-away token `presented` is, if any. Every kept digest is compared, whatever
// matched, so the timing does not show which one matched, or whether one did.
struct HistoryMatch {
    bool any = false;
    bool newest = false;
};
HistoryMatch find_in_history(const RefreshFamily& family, const sdk::RefreshDigest& presented) {
    HistoryMatch match;
    for (std::size_t i = 0; i < family.history.size(); ++i) {
        const bool equal = same_digest(family.history[i], presented);
        match.any |= equal;
        match.newest |= equal & (i == family.newest);
    }
    return match;
}

void push_history(RefreshFamily& family, const sdk::RefreshDigest& rotated_away) {
    if (family.history.size() < kRefreshHistory) {
        family.history.push_back(rotated_away);
        family.newest = static_cast<std::uint8_t>(family.history.size() - 1);
        return;
    }
    family.newest = static_cast<std::uint8_t>((family.newest + 1) % kRefreshHistory);  // the oldest
    family.history[family.newest] = rotated_away;
}

RefreshStep outcome(RefreshOutcome what, bool erase) { return {RefreshResult{what, {}, {}, {}}, erase}; }

}  // namespace

RefreshFamily first_token(const FamilyToStore& first, std::int64_t now) {
    RefreshFamily family;
    family.subject = first.subject;
    family.current = first.digest;
    family.ends_at = now + first.max_age;
    family.expires_at = std::min(now + first.ttl, family.ends_at);
    return family;
}

RefreshStep rotate_family(RefreshFamily& family, const sdk::RefreshDigest& presented,
                          const sdk::RefreshDigest& next, std::int64_t ttl, std::int64_t grace,
                          std::int64_t now) {
    const bool current = same_digest(family.current, presented);
    const HistoryMatch old = find_in_history(family, presented);
    if (current) {
        push_history(family, family.current);
        family.current = next;
        family.rotated_at = now;
        family.expires_at = std::min(now + ttl, family.ends_at);
        // Rounded down: `next` is surely valid that long.
        const auto expires_in = std::chrono::floor<std::chrono::seconds>(
            std::chrono::steady_clock::duration(family.expires_at - now));
        return {
            RefreshResult{
                RefreshOutcome::rotated, family.subject, std::max(expires_in, std::chrono::seconds(0)), {}},
            family.expires_at <= now};
    }
    // A concurrent refresh with the same token won a moment ago: its client holds `next`.
    if (old.newest && now - family.rotated_at < grace) return outcome(RefreshOutcome::raced, false);
    // A token replayed after it was rotated away: it leaked, so the whole family goes.
    if (old.any) return outcome(RefreshOutcome::reused, true);
    return outcome(RefreshOutcome::not_found, false);
}

RefreshStep revoke_family(const RefreshFamily& family, const sdk::RefreshDigest& presented) {
    const bool current = same_digest(family.current, presented);
    const bool old = find_in_history(family, presented).any;
    if (current | old) return outcome(RefreshOutcome::revoked, true);
    return outcome(RefreshOutcome::not_found, false);
}

}  // namespace testino::plugins
