// Helpers for the PgStore tests: store options for a test server, a store with a blocking
// view (testino::contract::BlockingStore, which checks exactly-once and the deadline), and
// small checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "blocking_store.hpp"
#include "pg_store.hpp"

namespace testino::plugins::pg_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline sdk::CodeDigest digest_of(std::uint8_t seed) {
    sdk::CodeDigest digest{};
    for (std::size_t i = 0; i < digest.size(); ++i) digest[i] = static_cast<std::uint8_t>(seed + i);
    return digest;
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// No sweeper thread (tests sweep by hand); short deadlines so faults answer quickly.
inline PgStoreOptions store_options(const std::string& dsn, std::chrono::milliseconds query_timeout = 500ms,
                                    std::size_t pool_size = 2) {
    PgStoreOptions options;
    options.pool.dsn = dsn;
    options.pool.size = pool_size;
    options.pool.connect_timeout = 500ms;
    options.query_timeout = query_timeout;
    options.migrate_timeout = 10s;
    options.sweep_interval = 0ms;
    return options;
}

// The blocking view, plus the PgStore itself for its own accessors.
class TestStore : public contract::BlockingStore {
public:
    explicit TestStore(std::shared_ptr<PgStore> store) : BlockingStore(store), pg_(store.get()) {}
    PgStore& pg() { return *pg_; }

private:
    PgStore* pg_;
};

inline std::unique_ptr<TestStore> make_store(PgStoreOptions options, sdk::Host& host) {
    return std::make_unique<TestStore>(std::make_shared<PgStore>(std::move(options), host));
}

// Milliseconds since `start`.
inline long long elapsed_ms(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace testino::plugins::pg_test
