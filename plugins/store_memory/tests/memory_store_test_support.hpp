// Shared by the memory store's unit tests: a fake clock, digests, flow tags and codes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "memory_store.hpp"

namespace testino::plugins::test_helpers {

using namespace std::chrono_literals;
using sdk::CodeDigest;

class FakeClock {
public:
    MemoryStore::Clock::time_point now() const {
        return MemoryStore::Clock::time_point(MemoryStore::Clock::duration(ticks_.load()));
    }
    void advance(MemoryStore::Clock::duration by) { ticks_.fetch_add(by.count()); }
    MemoryStore::Now as_function() {
        return [this] { return now(); };
    }

private:
    // Far from zero, so "expires at 0" bugs cannot pass by accident.
    std::atomic<MemoryStore::Clock::rep> ticks_{
        std::chrono::duration_cast<MemoryStore::Clock::duration>(1000h).count()};
};

inline CodeDigest digest_of(std::uint8_t seed) {
    CodeDigest digest{};
    digest.fill(seed);
    return digest;
}

inline sdk::FlowTag flow_of(std::uint8_t seed) {
    sdk::FlowTag flow{};
    flow.fill(static_cast<std::uint8_t>(0x80 | seed));
    return flow;
}

inline sdk::NewCode code(const CodeDigest& digest, std::chrono::seconds ttl, int max_attempts,
                         std::chrono::seconds overlap = 0s, const sdk::FlowTag& flow = {}) {
    return {digest, flow, ttl, max_attempts, overlap};
}

inline MemoryStoreOptions options(std::size_t max_codes = 1000, std::size_t shards = 4,
                                  std::chrono::milliseconds sweep_interval = 1h) {
    MemoryStoreOptions result;
    result.max_codes = max_codes;
    result.shards = shards;
    result.sweep_interval = sweep_interval;  // 1 h: the sweeper stays out of the way
    return result;
}

}  // namespace testino::plugins::test_helpers
