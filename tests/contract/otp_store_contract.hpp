// The contract every OTP store plugin must pass, as a value-parameterised GoogleTest
// suite. A store's own test instantiates it with a factory for fresh stores:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, OtpStoreContract,
//       ::testing::Values(testino::contract::OtpStoreFactory([] { return make_store(); })));
//
// Keys are unique per test and per run, so a store shared between tests (one Redis)
// works too.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "blocking_store.hpp"
#include "testino/otp_store.hpp"

namespace testino::contract {

using OtpStoreFactory = std::function<std::shared_ptr<sdk::OtpStore>()>;

// Runs `body(i)` on `count` threads released together, to make the calls overlap.
template <typename Body>
void run_concurrently(int count, Body body) {
    std::atomic<bool> go{false};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        threads.emplace_back([&, i] {
            ready.fetch_add(1);
            while (!go.load()) std::this_thread::yield();
            body(i);
        });
    }
    while (ready.load() < count) std::this_thread::yield();
    go.store(true);
    for (auto& thread : threads) thread.join();
}

class OtpStoreContract : public ::testing::TestWithParam<OtpStoreFactory> {
protected:
    void SetUp() override;

    // A key no other test (or earlier run) uses, shaped like an E.164 number.
    static std::string unique_key();
    // A digest that differs from every other `digest_of` value with another seed.
    static sdk::CodeDigest digest_of(unsigned seed);

    // Shorthands: store / verify the code `digest_of(seed)`.
    sdk::StoreStatus put(const std::string& key, unsigned seed, std::chrono::seconds ttl, int max_attempts);
    sdk::VerifyOutcome verify(const std::string& key, unsigned seed);

    // A flow tag that differs from every other `flow_of` value, and from every digest.
    static sdk::FlowTag flow_of(unsigned seed);
    // Stores digest_of(seed) bound to flow_of(flow_seed); the key's code (if any) stays
    // valid beside it for `overlap`.
    sdk::StoreStatus put_replacing(const std::string& key, unsigned seed, std::chrono::seconds ttl,
                                   int max_attempts, std::chrono::seconds overlap, unsigned flow_seed = 0);
    // Code 1, then code 2 replacing it with a 60 s overlap; both live 60 s, with 5 attempts.
    void put_two_codes(const std::string& key);
    // Verifies digest_of(seed) within the flow flow_of(flow_seed).
    sdk::VerifyResult verify_in_flow(const std::string& key, unsigned seed, unsigned flow_seed);

    // Refresh-token families (otp_store_contract_refresh.cpp). A family id no other test (or
    // earlier run) uses, URL-safe like the server's.
    static std::string unique_family();
    // A token digest that differs from every other `token_of` value, and from every code
    // digest and flow tag.
    static sdk::RefreshDigest token_of(unsigned seed);
    // Starts `family` with token_of(seed) for the subject "+19995550100".
    sdk::StoreStatus create_family(const std::string& family, unsigned seed,
                                   std::chrono::seconds ttl = std::chrono::seconds(60),
                                   std::chrono::seconds max_age = std::chrono::hours(1));
    // Rotates token_of(from) to token_of(to), valid 60 s.
    sdk::RefreshOutcome rotate(const std::string& family, unsigned from, unsigned to,
                               std::chrono::seconds grace = std::chrono::seconds(0));
    sdk::RefreshOutcome revoke(const std::string& family, unsigned seed);

    // The store under test; each call waits for the store's completion and checks that
    // it came exactly once. `store_->async()` is the store itself.
    std::unique_ptr<BlockingStore> store_;
};

}  // namespace testino::contract

namespace testino::sdk {
// Readable outcomes in assertion failures.
void PrintTo(VerifyOutcome outcome, std::ostream* out);
void PrintTo(StoreStatus status, std::ostream* out);
void PrintTo(RefreshOutcome outcome, std::ostream* out);
// The suite's parameter (found by ADL through OtpStore): a fixed text instead of the
// std::function's bytes, which hold addresses and would make test names change per run.
void PrintTo(const testino::contract::OtpStoreFactory& factory, std::ostream* out);
}  // namespace testino::sdk
