// RedisStore's asynchronous side against a real, private redis-server: many operations
// pipelined on few connections, deadlines of queued and in-flight operations, the queue's
// bound, shutdown with operations in flight, and completions that start operations.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "redis_store.hpp"
#include "store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::CounterResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;
using test::RedisServer;
using test_helpers::contains;
using test_helpers::digest_of;
using test_helpers::make_store;
using test_helpers::store_options;
using test_helpers::Tally;
using test_support::RecordingHost;
using Clock = std::chrono::steady_clock;

constexpr const char* kNumber = "+12025550123";

TEST(RedisStoreAsyncTest, ThousandsOfConcurrentOperationsArePipelinedOnTwoConnections) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host, 5000ms, 2);
    constexpr int kThreads = 8;
    constexpr int kPerThread = 250;
    constexpr int kKeys = 10;
    auto tally = Tally<CounterResult>::of(kThreads * kPerThread);

    // Started without waiting, as reactor threads start them.
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const int op = t * kPerThread + i;
                store->async().hit_counter("c:{" + std::to_string(op % kKeys) + "}", 60s, 1,
                                           tally->slot(static_cast<std::size_t>(op)));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(tally->wait_all()) << tally->answered() << " of " << kThreads * kPerThread << " answered";
    EXPECT_EQ(tally->repeated(), 0u) << "each completion exactly once";
    int ok = 0;
    for (const auto& result : tally->results()) ok += result.status == StoreStatus::ok ? 1 : 0;
    EXPECT_EQ(ok, kThreads * kPerThread);

    // Every hit was counted once: no lost or doubled command.
    for (int key = 0; key < kKeys; ++key) {
        EXPECT_EQ(redis.command({"GET", "testino:count:c:{" + std::to_string(key) + "}"}),
                  std::to_string(kThreads * kPerThread / kKeys))
            << "key " << key;
    }
    EXPECT_LE(redis.connected_clients(), 2 + 1) << "two store connections and the admin one";
}

TEST(RedisStoreAsyncTest, OperationsQueuedForAConnectionTimeOutAtTheirDeadline) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host, 300ms, 1);
    ASSERT_TRUE(store->health().healthy);

    redis.freeze();
    // The first operation times out on the ready connection, which is then dropped as
    // frozen. The next ones wait in the queue while a new connection's handshake hangs.
    EXPECT_EQ(store->put_code(kNumber, digest_of(1), 60s, 5).status, StoreStatus::unavailable);
    constexpr int kQueued = 20;
    auto tally = Tally<VerifyResult>::of(kQueued);
    const auto started = Clock::now();
    for (int i = 0; i < kQueued; ++i) {
        store->async().verify_and_consume(kNumber, digest_of(1), std::nullopt,
                                          tally->slot(static_cast<std::size_t>(i)));
    }
    ASSERT_TRUE(tally->wait_all(5s));
    const auto waited = Clock::now() - started;
    redis.thaw();

    EXPECT_EQ(tally->repeated(), 0u);
    for (const auto& result : tally->results()) {
        EXPECT_EQ(result.outcome, VerifyOutcome::unavailable);
        EXPECT_TRUE(contains(result.detail, "no answer within the command timeout (300 ms)"))
            << result.detail;
    }
    EXPECT_GE(waited, 250ms) << "they waited for Redis, up to their deadline, not failed at once";
    EXPECT_LT(waited, 2s) << "and no longer than about the command timeout";
}

TEST(RedisStoreAsyncTest, TooManyWaitingOperationsAreRefusedAtOnce) {
    // The asynchronous counterpart of an exhausted pool: a bounded queue.
    RedisServer redis;
    RecordingHost host;
    RedisStoreOptions options = store_options(redis.url(), 300ms, 2);
    options.client.max_pending = 4;
    auto store = make_store(std::move(options), host);
    ASSERT_TRUE(store->health().healthy);

    redis.freeze();
    auto tally = Tally<CounterResult>::of(10);
    for (std::size_t i = 0; i < 10; ++i) store->async().hit_counter("c:{1}", 60s, 1, tally->slot(i));
    // The six over the bound were answered inside hit_counter, before it returned.
    EXPECT_EQ(tally->answered(), 6u);
    ASSERT_TRUE(tally->wait_all(5s));
    redis.thaw();
    EXPECT_EQ(tally->repeated(), 0u);
    const auto results = tally->results();
    for (std::size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].status, StoreStatus::unavailable) << i;
        const char* expected = i < 4 ? "no answer within the command timeout" : "too many operations waiting";
        EXPECT_TRUE(contains(results[i].detail, expected)) << i << ": " << results[i].detail;
    }
}

TEST(RedisStoreAsyncTest, DestroyingTheStoreAnswersEveryOperationInFlight) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host, 10000ms, 2);
    ASSERT_TRUE(store->health().healthy);

    redis.freeze();  // nothing will answer: every operation is still in flight at the end
    constexpr std::size_t kOperations = 100;
    auto tally = Tally<VerifyResult>::of(kOperations);
    for (std::size_t i = 0; i < kOperations; ++i) {
        store->async().verify_and_consume(kNumber, digest_of(1), std::nullopt, tally->slot(i));
    }
    const auto started = Clock::now();
    store.reset();
    const auto took = Clock::now() - started;
    redis.thaw();

    EXPECT_EQ(tally->answered(), kOperations) << "all answered by the time the destructor returned";
    EXPECT_EQ(tally->repeated(), 0u);
    EXPECT_LT(took, 2s) << "without waiting for the 10 s deadline";
    for (const auto& result : tally->results()) {
        EXPECT_EQ(result.outcome, VerifyOutcome::unavailable);
        EXPECT_TRUE(contains(result.detail, "shutting down")) << result.detail;
    }
    EXPECT_EQ(host.count("store.redis.unavailable"), 0u) << "a shutdown is no Redis failure";
}

TEST(RedisStoreAsyncTest, DestroyingTheStoreUnderLoadAnswersEachOperationOnce) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host, 5000ms, 2);
    constexpr std::size_t kOperations = 2000;
    auto tally = Tally<CounterResult>::of(kOperations);
    for (std::size_t i = 0; i < kOperations; ++i) store->async().hit_counter("c:{1}", 60s, 1, tally->slot(i));
    store.reset();  // some answered, some in flight, some still queued

    EXPECT_EQ(tally->answered(), kOperations);
    EXPECT_EQ(tally->repeated(), 0u);
    std::int64_t ok = 0;
    for (const auto& result : tally->results()) {
        if (result.status == StoreStatus::ok) {
            ++ok;
        } else {
            EXPECT_TRUE(contains(result.detail, "shutting down")) << result.detail;
        }
    }
    // What Redis counted is what was reported ok, or more: a command sent but not yet
    // answered when the store stopped may still have run.
    const std::string counted = redis.command({"GET", "testino:count:c:{1}"});
    EXPECT_GE(counted == "(nil)" ? 0 : std::stoll(counted), ok);
    EXPECT_TRUE(test::eventually([&] { return redis.connected_clients() == 1; }))
        << "the store closed its connections";
}

TEST(RedisStoreAsyncTest, ACompletionMayStartTheNextOperation) {
    RedisServer redis;
    RecordingHost host;
    auto store = make_store(redis.url(), host);
    // A chain of 100 hits, each started from the previous one's completion, on the loop
    // thread: a store that held a lock there would deadlock.
    struct Chain {
        sdk::OtpStore* store;
        int left = 100;
        std::promise<std::int64_t> last;
        void next(std::int64_t count) {
            if (left-- == 0) {
                last.set_value(count);
                return;
            }
            store->hit_counter("chain:{1}", 60s, 1, [this](CounterResult result) {
                if (result.status != StoreStatus::ok) {
                    last.set_value(-1);
                    return;
                }
                next(result.count);
            });
        }
    };
    auto chain = std::make_shared<Chain>();
    chain->store = &store->async();
    auto counted = chain->last.get_future();
    chain->next(0);
    ASSERT_EQ(counted.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(counted.get(), 100);
}

}  // namespace
}  // namespace testino::plugins
