// Whether Redis may evict the store's keys. With `maxmemory` set and any policy but
// `noeviction`, a full Redis drops keys to make room: codes, rate-limit counters and
// refresh-token families (sessions) would vanish without a word (every key the store writes
// has a TTL, so the volatile-* policies take them too). The store asks `CONFIG GET maxmemory*` when it
// connects and judges the answer here.
#pragma once

#include <hiredis/hiredis.h>

#include <string>

namespace testino::plugins {

struct EvictionCheck {
    enum class Verdict {
        safe,       // no maxmemory, or noeviction
        unsafe,     // Redis may evict our keys
        unchecked,  // CONFIG refused (a managed Redis, a renamed command, an ACL) or unreadable
    };
    Verdict verdict = Verdict::unchecked;
    std::string detail;  // for logs, health and the start-up error
};

// The answer to CONFIG GET maxmemory* (a pattern: Redis before 7 takes only one), judged.
EvictionCheck judge_eviction(const redisReply& reply);
// CONFIG could not be run; `why` is Redis's error.
EvictionCheck eviction_unchecked(const std::string& why);

}  // namespace testino::plugins
