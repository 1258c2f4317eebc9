#include "otp_store_contract.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace testino::sdk {

void PrintTo(VerifyOutcome outcome, std::ostream* out) {
    switch (outcome) {
        case VerifyOutcome::verified: *out << "verified"; return;
        case VerifyOutcome::mismatch: *out << "mismatch"; return;
        case VerifyOutcome::not_found: *out << "not_found"; return;
        case VerifyOutcome::attempts_exhausted: *out << "attempts_exhausted"; return;
        case VerifyOutcome::unavailable: *out << "unavailable"; return;
    }
    *out << "VerifyOutcome(" << static_cast<int>(outcome) << ")";
}

void PrintTo(StoreStatus status, std::ostream* out) {
    switch (status) {
        case StoreStatus::ok: *out << "ok"; return;
        case StoreStatus::unavailable: *out << "unavailable"; return;
        case StoreStatus::full: *out << "full"; return;
    }
    *out << "StoreStatus(" << static_cast<int>(status) << ")";
}

void PrintTo(const testino::contract::OtpStoreFactory&, std::ostream* out) { *out << "store"; }

}  // namespace testino::sdk

namespace testino::contract {

using namespace std::chrono_literals;
using sdk::CodeDigest;
using sdk::StoreStatus;
using sdk::VerifyOutcome;

void OtpStoreContract::SetUp() {
    std::shared_ptr<sdk::OtpStore> store = GetParam()();
    ASSERT_NE(store, nullptr) << "the store factory returned no store";
    store_ = std::make_unique<BlockingStore>(std::move(store));
}

std::string OtpStoreContract::unique_key() {
    // A per-process random prefix keeps runs apart in a persistent store; the counter
    // keeps tests and threads apart within a run.
    static const std::uint64_t run = std::random_device{}() % 100000;
    static std::atomic<std::uint64_t> counter{0};
    std::string digits = std::to_string(run * 100000 + counter.fetch_add(1) % 100000);
    digits.insert(0, 10 - std::min<std::size_t>(digits.size(), 10), '0');
    return "+1999" + digits;
}

CodeDigest OtpStoreContract::digest_of(unsigned seed) {
    CodeDigest digest{};
    for (std::size_t i = 0; i < digest.size(); ++i) {
        digest[i] = static_cast<std::uint8_t>(seed * 31u + i * 7u + (seed >> 8));
    }
    digest[0] = static_cast<std::uint8_t>(seed);
    digest[1] = static_cast<std::uint8_t>(seed >> 8);
    return digest;
}

sdk::StoreStatus OtpStoreContract::put(const std::string& key, unsigned seed, std::chrono::seconds ttl,
                                       int max_attempts) {
    return store_->put_code(key, digest_of(seed), ttl, max_attempts).status;
}

sdk::VerifyOutcome OtpStoreContract::verify(const std::string& key, unsigned seed) {
    return store_->verify_and_consume(key, digest_of(seed)).outcome;
}

sdk::FlowTag OtpStoreContract::flow_of(unsigned seed) {
    // Unlike any digest_of value, so a digest passed as a flow tag (or back) never matches.
    sdk::FlowTag flow = digest_of(seed);
    for (auto& byte : flow) byte ^= 0xA5;
    return flow;
}

sdk::StoreStatus OtpStoreContract::put_replacing(const std::string& key, unsigned seed,
                                                 std::chrono::seconds ttl, int max_attempts,
                                                 std::chrono::seconds overlap, unsigned flow_seed) {
    return store_
        ->put_code(key, sdk::NewCode{digest_of(seed), flow_of(flow_seed), ttl, max_attempts, overlap})
        .status;
}

void OtpStoreContract::put_two_codes(const std::string& key) {
    ASSERT_EQ(put(key, 1, 60s, 5), StoreStatus::ok);
    ASSERT_EQ(put_replacing(key, 2, 60s, 5, 60s), StoreStatus::ok);
}

sdk::VerifyResult OtpStoreContract::verify_in_flow(const std::string& key, unsigned seed,
                                                   unsigned flow_seed) {
    return store_->verify_and_consume(key, digest_of(seed), flow_of(flow_seed));
}

TEST_P(OtpStoreContract, RightCodeVerifiesOnceThenIsGone) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 5), StoreStatus::ok);

    EXPECT_EQ(verify(key, 1), VerifyOutcome::verified);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, UnknownKeyIsNotFound) {
    EXPECT_EQ(store_->verify_and_consume(unique_key(), digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, WrongCodeConsumesOneAttemptAndReportsTheRest) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 3), StoreStatus::ok);

    for (int expected_left : {2, 1}) {
        const auto result = store_->verify_and_consume(key, digest_of(2));
        EXPECT_EQ(result.outcome, VerifyOutcome::mismatch);
        EXPECT_EQ(result.attempts_left, expected_left);
    }
    // An attempt remains, so the right code still works.
    EXPECT_EQ(verify(key, 1), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, DigestsDifferingInOneByteDoNotMatch) {
    const auto key = unique_key();
    auto stored = digest_of(1);
    auto candidate = stored;
    candidate.back() ^= 0x01;
    ASSERT_EQ(store_->put_code(key, stored, 60s, 5).status, StoreStatus::ok);

    EXPECT_EQ(store_->verify_and_consume(key, candidate).outcome, VerifyOutcome::mismatch);
}

TEST_P(OtpStoreContract, AfterMaxAttemptsTheRightCodeIsRefusedUntilExpiry) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 3), StoreStatus::ok);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(verify(key, 2), VerifyOutcome::mismatch);
    }

    const auto right = store_->verify_and_consume(key, digest_of(1));
    EXPECT_EQ(right.outcome, VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(right.attempts_left, 0);
    EXPECT_GT(right.retry_after.count(), 0);
    EXPECT_LE(right.retry_after.count(), 60);
    // Further guesses, right or wrong, stay refused: the dead code is kept, not deleted.
    EXPECT_EQ(verify(key, 2), VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::attempts_exhausted);
}

TEST_P(OtpStoreContract, NewCodeReplacesOldOneAndResetsAttempts) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 3), StoreStatus::ok);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);

    ASSERT_EQ(put(key, 2, 60s, 3), StoreStatus::ok);

    const auto old_code = store_->verify_and_consume(key, digest_of(1));
    EXPECT_EQ(old_code.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(old_code.attempts_left, 2);  // counted from the new code's 3, not the old 1
    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, NewCodeRevivesADeadOne) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 1), StoreStatus::ok);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(verify(key, 1), VerifyOutcome::attempts_exhausted);

    ASSERT_EQ(put(key, 2, 60s, 1), StoreStatus::ok);
    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, CodeExpiresAfterItsTtl) {
    const auto key = unique_key();
    const auto dead_key = unique_key();
    ASSERT_EQ(put(key, 1, 1s, 5), StoreStatus::ok);
    ASSERT_EQ(put(dead_key, 1, 1s, 1), StoreStatus::ok);
    ASSERT_EQ(verify(dead_key, 2), VerifyOutcome::mismatch);

    std::this_thread::sleep_for(1500ms);

    EXPECT_EQ(verify(key, 1), VerifyOutcome::not_found);
    // A dead code is gone once it expires too.
    EXPECT_EQ(verify(dead_key, 1), VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, RemoveCodeDeletesOnlyTheMatchingDigest) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 5), StoreStatus::ok);

    // A newer code (digest 1) survives removal of an older one (digest 2).
    EXPECT_EQ(store_->remove_code(key, digest_of(2)).status, StoreStatus::ok);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::verified);

    ASSERT_EQ(put(key, 3, 60s, 5), StoreStatus::ok);
    EXPECT_EQ(store_->remove_code(key, digest_of(3)).status, StoreStatus::ok);
    EXPECT_EQ(verify(key, 3), VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, RemovingAMissingCodeIsOk) {
    EXPECT_EQ(store_->remove_code(unique_key(), digest_of(1)).status, StoreStatus::ok);
}

TEST_P(OtpStoreContract, KeysAreIndependent) {
    const auto first = unique_key();
    const auto second = unique_key();
    ASSERT_EQ(put(first, 1, 60s, 1), StoreStatus::ok);
    ASSERT_EQ(put(second, 2, 60s, 1), StoreStatus::ok);

    // The second key's code is wrong for the first key, and exhausts only the first.
    EXPECT_EQ(verify(first, 2), VerifyOutcome::mismatch);
    EXPECT_EQ(store_->remove_code(second, digest_of(1)).status, StoreStatus::ok);

    EXPECT_EQ(verify(second, 2), VerifyOutcome::verified);
    EXPECT_EQ(verify(first, 1), VerifyOutcome::attempts_exhausted);
}

TEST_P(OtpStoreContract, ReportsHealthy) { EXPECT_TRUE(store_->health().healthy); }

TEST_P(OtpStoreContract, ConcurrentWrongGuessesGetExactlyMaxAttemptsMismatches) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 5), StoreStatus::ok);

    std::array<std::atomic<int>, 5> outcomes{};              // indexed by VerifyOutcome
    std::array<std::atomic<int>, 5> mismatches_reporting{};  // indexed by attempts_left
    std::atomic<int> bad_attempts_left{0};
    run_concurrently(100, [&](int i) {
        const auto result = store_->verify_and_consume(key, digest_of(100 + static_cast<unsigned>(i)));
        outcomes[static_cast<std::size_t>(result.outcome)].fetch_add(1);
        if (result.outcome == VerifyOutcome::mismatch) {
            if (result.attempts_left >= 0 && result.attempts_left < 5) {
                mismatches_reporting[static_cast<std::size_t>(result.attempts_left)].fetch_add(1);
            } else {
                bad_attempts_left.fetch_add(1);
            }
        }
    });

    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::mismatch)].load(), 5);
    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::attempts_exhausted)].load(), 95);
    // Each of 4, 3, 2, 1, 0 attempts left is reported exactly once: no lost update.
    for (std::size_t left = 0; left < 5; ++left) {
        EXPECT_EQ(mismatches_reporting[left].load(), 1) << "attempts_left " << left;
    }
    EXPECT_EQ(bad_attempts_left.load(), 0);
}

TEST_P(OtpStoreContract, ConcurrentRightGuessesVerifyExactlyOnce) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 5), StoreStatus::ok);

    std::array<std::atomic<int>, 5> outcomes{};
    run_concurrently(50, [&](int) {
        const auto result = store_->verify_and_consume(key, digest_of(1));
        outcomes[static_cast<std::size_t>(result.outcome)].fetch_add(1);
    });

    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::verified)].load(), 1);
    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::not_found)].load(), 49);
}

TEST_P(OtpStoreContract, ConcurrentMixedOperationsOnManyKeysStayConsistent) {
    constexpr int kThreads = 8;
    constexpr int kKeys = 64;
    constexpr int kOperationsPerThread = 400;
    std::vector<std::string> keys;
    for (int i = 0; i < kKeys; ++i) keys.push_back(unique_key());

    std::atomic<int> failures{0};
    run_concurrently(kThreads, [&](int thread) {
        std::mt19937 random(static_cast<unsigned>(thread) + 1);
        for (int op = 0; op < kOperationsPerThread; ++op) {
            const auto& key = keys[random() % kKeys];
            const auto digest = digest_of(random() % 4);
            switch (random() % 4) {
                case 0:
                case 1:
                    if (store_->put_code(key, digest, 60s, 3).status != StoreStatus::ok) {
                        failures.fetch_add(1);
                    }
                    break;
                case 2: {
                    const auto result = store_->verify_and_consume(key, digest);
                    if (result.outcome == VerifyOutcome::unavailable || result.attempts_left < 0 ||
                        result.attempts_left > 3) {
                        failures.fetch_add(1);
                    }
                    break;
                }
                default:
                    if (store_->remove_code(key, digest).status != StoreStatus::ok) {
                        failures.fetch_add(1);
                    }
            }
        }
    });
    EXPECT_EQ(failures.load(), 0);

    // Every key still behaves: a fresh code verifies once.
    for (const auto& key : keys) {
        ASSERT_EQ(put(key, 7, 60s, 3), StoreStatus::ok);
        EXPECT_EQ(verify(key, 7), VerifyOutcome::verified);
    }
}

}  // namespace testino::contract

// --- rate-limit counters -----------------------------------------------------------------
namespace testino::contract {
namespace {

using namespace std::chrono_literals;

TEST_P(OtpStoreContract, CounterCountsWithinItsWindow) {
    const std::string key = "rl:{" + unique_key() + "}:send";
    auto first = store_->hit_counter(key, 60s, 1);
    ASSERT_EQ(first.status, sdk::StoreStatus::ok) << first.detail;
    EXPECT_EQ(first.count, 1);
    EXPECT_GE(first.reset_in.count(), 59);
    EXPECT_LE(first.reset_in.count(), 60);
    EXPECT_EQ(store_->hit_counter(key, 60s, 1).count, 2);
    EXPECT_EQ(store_->hit_counter(key, 60s, 3).count, 5);
    EXPECT_EQ(store_->hit_counter(key, 60s, 0).count, 5) << "amount 0 reads";
    EXPECT_EQ(store_->hit_counter(key, 60s, -2).count, 3) << "a negative amount refunds";
    EXPECT_EQ(store_->hit_counter(key, 60s, -10).count, 0) << "never below zero";
}

TEST_P(OtpStoreContract, ReadingAMissingCounterCreatesNothing) {
    const std::string key = "rl:{" + unique_key() + "}:read";
    EXPECT_EQ(store_->hit_counter(key, 60s, 0).count, 0);
    EXPECT_EQ(store_->hit_counter(key, 60s, -1).count, 0);
    EXPECT_EQ(store_->hit_counter(key, 60s, 1).count, 1);
}

TEST_P(OtpStoreContract, CounterKeepsItsFirstWindowAndStartsAfreshAfterIt) {
    const std::string key = "rl:{" + unique_key() + "}:window";
    EXPECT_EQ(store_->hit_counter(key, 1s, 1).count, 1);
    // A later hit with a longer window does not extend the running one.
    EXPECT_LE(store_->hit_counter(key, 60s, 1).reset_in.count(), 1);
    std::this_thread::sleep_for(1100ms);
    const auto fresh = store_->hit_counter(key, 60s, 1);
    EXPECT_EQ(fresh.count, 1);
    EXPECT_GE(fresh.reset_in.count(), 59);
}

TEST_P(OtpStoreContract, CountersAreIndependentOfCodesAndOfEachOther) {
    const std::string number = unique_key();
    ASSERT_EQ(put(number, 1, 60s, 3), sdk::StoreStatus::ok);
    EXPECT_EQ(store_->hit_counter("a:{" + number + "}", 60s, 1).count, 1);
    EXPECT_EQ(store_->hit_counter("b:{" + number + "}", 60s, 1).count, 1);
    EXPECT_EQ(verify(number, 1), sdk::VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, ConcurrentHitsAreAllCounted) {
    const std::string key = "rl:{" + unique_key() + "}:concurrent";
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) store_->hit_counter(key, 60s, 1);
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(store_->hit_counter(key, 60s, 0).count, 200);
}

// --- the asynchronous interface (plugin ABI 4) -----------------------------------------

TEST_P(OtpStoreContract, ManyOperationsInFlightAtOnceAllComplete) {
    // Started back to back without waiting, as reactor threads start them: a store that
    // pipelines or queues them must answer every one, each exactly once.
    constexpr int kOperations = 400;
    const auto key = unique_key();
    // One attempt fewer than guesses: the last guess finds the code dead.
    ASSERT_EQ(put(key, 1, 60s, kOperations - 1), StoreStatus::ok);
    struct Tally {
        std::mutex mutex;
        std::condition_variable all_done;
        int completions = 0;
        int mismatches = 0;
    };
    auto tally = std::make_shared<Tally>();
    for (int i = 0; i < kOperations; ++i) {
        store_->async().verify_and_consume(key, digest_of(2), std::nullopt,
                                           [tally](sdk::VerifyResult result) {
                                               std::lock_guard lock(tally->mutex);
                                               ++tally->completions;
                                               if (result.outcome == VerifyOutcome::mismatch)
                                                   ++tally->mismatches;
                                               tally->all_done.notify_all();
                                           });
    }
    std::unique_lock lock(tally->mutex);
    ASSERT_TRUE(tally->all_done.wait_for(lock, 20s, [&] { return tally->completions >= kOperations; }))
        << tally->completions << " of " << kOperations << " completions came";
    lock.unlock();
    std::this_thread::sleep_for(50ms);  // a second completion of any of them would show now
    lock.lock();
    EXPECT_EQ(tally->completions, kOperations) << "each operation completes exactly once";
    EXPECT_EQ(tally->mismatches, kOperations - 1) << "every attempt but none more was used";
}

TEST_P(OtpStoreContract, ACompletionMayStartTheNextOperation) {
    // The server chains its steps this way (a counter, then the code): a store must not
    // hold a lock of its own while it runs a completion.
    const auto key = unique_key();
    const auto digest = digest_of(7);
    auto verified = std::make_shared<std::promise<VerifyOutcome>>();
    auto outcome = verified->get_future();
    sdk::OtpStore& store = store_->async();
    store.hit_counter(
        "chain:{" + key + "}", 60s, 1, [&store, key, digest, verified](sdk::CounterResult counted) {
            if (counted.status != StoreStatus::ok) {
                verified->set_value(VerifyOutcome::unavailable);
                return;
            }
            const sdk::NewCode code{digest, {}, 60s, 3, {}};
            store.put_code(key, code, [&store, key, digest, verified](sdk::StoreResult stored) {
                if (stored.status != StoreStatus::ok) {
                    verified->set_value(VerifyOutcome::unavailable);
                    return;
                }
                store.verify_and_consume(key, digest, std::nullopt, [verified](sdk::VerifyResult result) {
                    verified->set_value(result.outcome);
                });
            });
        });
    ASSERT_EQ(outcome.wait_for(10s), std::future_status::ready)
        << "a chain of three operations started from completions did not finish";
    EXPECT_EQ(outcome.get(), VerifyOutcome::verified);
}

}  // namespace
}  // namespace testino::contract
