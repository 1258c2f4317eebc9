// One refresh-token family in the memory store, and what each refresh operation does to it
// (the semantics of testino/otp_store.hpp): its subject, current token, the tokens it
// rotated away from, and its two ends. Pure, like code_entry.hpp: the caller holds the
// shard's lock, keeps the family's table and expiry index in step with expires_at, and
// erases the family when an operation says so. Times are ticks of the store's clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "expiry_index.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

// Rotated-away tokens kept per family: the newest ones, as many as the SDK asks for.
inline constexpr std::size_t kRefreshHistory = static_cast<std::size_t>(sdk::kRefreshHistoryMin);

struct RefreshFamily {
    std::string subject;
    sdk::RefreshDigest current{};
    std::int64_t expires_at = 0;  // of the current token: min(issued + ttl, ends_at)
    std::int64_t ends_at = 0;     // of the family: created + max_age, rotated or not
    std::int64_t rotated_at = 0;  // of the last rotation (meaningful once history has one)
    // A ring of the rotated-away digests; it grows with rotations (a family that never
    // rotates holds none), up to kRefreshHistory, then the oldest is overwritten.
    std::vector<sdk::RefreshDigest> history;
    std::uint8_t newest = 0;  // history's slot of the token rotated away from last
    ExpiryHook hook;
};

// The lengths create_refresh and rotate_refresh were given, in ticks.
struct FamilyToStore {
    sdk::RefreshDigest digest;
    std::string subject;
    std::int64_t ttl;
    std::int64_t max_age;
};
RefreshFamily first_token(const FamilyToStore& first, std::int64_t now);

struct RefreshStep {
    sdk::RefreshResult result;
    bool erase = false;  // the family is revoked, reused, or expired
};
// The family is live (now < expires_at).
RefreshStep rotate_family(RefreshFamily& family, const sdk::RefreshDigest& presented,
                          const sdk::RefreshDigest& next, std::int64_t ttl, std::int64_t grace,
                          std::int64_t now);
RefreshStep revoke_family(const RefreshFamily& family, const sdk::RefreshDigest& presented);

}  // namespace testino::plugins
