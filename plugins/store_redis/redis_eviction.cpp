#include "redis_eviction.hpp"

#include <optional>

namespace testino::plugins {
namespace {

using Verdict = EvictionCheck::Verdict;

std::optional<std::string> setting(const redisReply& reply, const std::string& name) {
    // A flat list of name, value pairs (RESP2).
    for (std::size_t i = 0; i + 1 < reply.elements; i += 2) {
        const redisReply* key = reply.element[i];
        const redisReply* value = reply.element[i + 1];
        if (key->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
        if (std::string(key->str, key->len) == name) return std::string(value->str, value->len);
    }
    return std::nullopt;
}

}  // namespace

EvictionCheck eviction_unchecked(const std::string& why) {
    return {Verdict::unchecked,
            "cannot read Redis's maxmemory-policy (" + why +
                "); make sure it is noeviction, or Redis may evict codes, rate-limit counters and "
                "refresh-token families"};
}

EvictionCheck judge_eviction(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY) return eviction_unchecked("unexpected reply to CONFIG GET");
    const auto maxmemory = setting(reply, "maxmemory");
    const auto policy = setting(reply, "maxmemory-policy");
    if (!maxmemory || !policy) return eviction_unchecked("CONFIG GET maxmemory* named no maxmemory-policy");
    if (*maxmemory == "0") return {Verdict::safe, "no maxmemory: Redis evicts nothing"};
    if (*policy == "noeviction") {
        return {Verdict::safe, "maxmemory " + *maxmemory + " with noeviction: a full Redis refuses writes"};
    }
    return {Verdict::unsafe,
            "Redis has maxmemory " + *maxmemory + " with maxmemory-policy " + *policy +
                ": when full it evicts keys, and would silently drop codes, rate-limit counters and "
                "refresh-token families (volatile-* policies too: every key the store writes has a TTL). "
                "Set maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy noeviction), "
                "or set store.redis.allow_eviction: true to accept losing them"};
}

}  // namespace testino::plugins
