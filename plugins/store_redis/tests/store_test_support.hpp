// Helpers for the RedisStore tests: a store with a blocking view (testino::contract::
// BlockingStore, which checks exactly-once and the deadline), and a tally of many
// asynchronous completions that records how often each one came.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blocking_store.hpp"
#include "redis_store.hpp"

namespace testino::plugins::test_helpers {

using namespace std::chrono_literals;

inline sdk::CodeDigest digest_of(std::uint8_t seed) {
    sdk::CodeDigest digest{};
    for (std::size_t i = 0; i < digest.size(); ++i) digest[i] = static_cast<std::uint8_t>(seed + i);
    return digest;
}

inline std::string bytes(const sdk::CodeDigest& digest) {
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

inline RedisStoreOptions store_options(const std::string& url,
                                       std::chrono::milliseconds command_timeout = 500ms,
                                       std::size_t connections = 2) {
    RedisStoreOptions options;
    options.client.endpoint = parse_redis_url(url);
    options.client.connections = connections;
    options.client.connect_timeout = 500ms;
    options.client.command_timeout = command_timeout;
    return options;
}

// The blocking view, plus the RedisStore itself for its own accessors.
class TestStore : public contract::BlockingStore {
public:
    explicit TestStore(std::shared_ptr<RedisStore> store) : BlockingStore(store), redis_(store.get()) {}
    RedisStore& redis() { return *redis_; }

private:
    RedisStore* redis_;
};

inline std::unique_ptr<TestStore> make_store(RedisStoreOptions options, sdk::Host& host) {
    return std::make_unique<TestStore>(std::make_shared<RedisStore>(std::move(options), host));
}

inline std::unique_ptr<TestStore> make_store(const std::string& url, sdk::Host& host,
                                             std::chrono::milliseconds command_timeout = 500ms,
                                             std::size_t connections = 2) {
    return make_store(store_options(url, command_timeout, connections), host);
}

// `count` completions of one result type: slot(i) is the i-th operation's `done`.
template <typename Result>
class Tally : public std::enable_shared_from_this<Tally<Result>> {
public:
    static std::shared_ptr<Tally> of(std::size_t count) { return std::shared_ptr<Tally>(new Tally(count)); }

    sdk::StoreCompletion<Result> slot(std::size_t i) {
        return [self = this->shared_from_this(), i](Result result) {
            std::lock_guard lock(self->mutex_);
            if (++self->calls_[i] == 1) {
                self->results_[i] = std::move(result);
                ++self->answered_;
            }
            self->changed_.notify_all();
        };
    }
    // Whether every operation was answered within `limit`.
    bool wait_all(std::chrono::milliseconds limit = 20s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return answered_ == calls_.size(); });
    }
    std::size_t answered() {
        std::lock_guard lock(mutex_);
        return answered_;
    }
    // Operations answered more than once.
    std::size_t repeated() {
        std::lock_guard lock(mutex_);
        std::size_t repeated = 0;
        for (const int calls : calls_) repeated += calls > 1 ? 1 : 0;
        return repeated;
    }
    std::vector<Result> results() {
        std::lock_guard lock(mutex_);
        return results_;
    }

private:
    explicit Tally(std::size_t count) : calls_(count, 0), results_(count) {}

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<int> calls_;
    std::vector<Result> results_;
    std::size_t answered_ = 0;
};

}  // namespace testino::plugins::test_helpers
