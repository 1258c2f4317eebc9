// The store contract, continued (plugin ABI 5): a code that replaces another with an overlap,
// codes bound to a flow, remove_code restoring the code a failed send replaced, and the
// attempts two codes share.
#include <array>
#include <atomic>
#include <thread>

#include "otp_store_contract.hpp"

namespace testino::contract {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using sdk::VerifyOutcome;

// --- overlap ------------------------------------------------------------------------------

TEST_P(OtpStoreContract, WithinTheOverlapTheReplacedCodeStillVerifiesAndTakesTheNewOneWithIt) {
    const auto key = unique_key();
    ASSERT_NO_FATAL_FAILURE(put_two_codes(key));

    EXPECT_EQ(verify(key, 1), VerifyOutcome::verified) << "the owner typed the code they had";
    EXPECT_EQ(verify(key, 2), VerifyOutcome::not_found) << "one verify consumes both codes";
}

TEST_P(OtpStoreContract, VerifyingTheNewCodeConsumesTheReplacedOneToo) {
    const auto key = unique_key();
    ASSERT_NO_FATAL_FAILURE(put_two_codes(key));

    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, TheReplacedCodeStopsAtTheOverlapsEndOrItsOwnExpiryWhicheverComesFirst) {
    const auto overlap_ends = unique_key();
    const auto own_expiry_ends = unique_key();
    const auto restored = unique_key();
    ASSERT_EQ(put(overlap_ends, 1, 60s, 5), StoreStatus::ok);
    ASSERT_EQ(put_replacing(overlap_ends, 2, 60s, 5, 1s), StoreStatus::ok);
    ASSERT_EQ(put(own_expiry_ends, 1, 1s, 5), StoreStatus::ok);
    ASSERT_EQ(put_replacing(own_expiry_ends, 2, 60s, 5, 60s), StoreStatus::ok);
    // A replacement whose SMS failed: the old code comes back with its own 60 s, not the 1 s.
    ASSERT_EQ(put(restored, 1, 60s, 5), StoreStatus::ok);
    ASSERT_EQ(put_replacing(restored, 2, 60s, 5, 1s), StoreStatus::ok);
    ASSERT_EQ(store_->remove_code(restored, digest_of(2)).status, StoreStatus::ok);

    std::this_thread::sleep_for(1500ms);

    for (const auto& key : {overlap_ends, own_expiry_ends}) {
        const auto old_code = store_->verify_and_consume(key, digest_of(1));
        EXPECT_EQ(old_code.outcome, VerifyOutcome::mismatch) << key;
        EXPECT_EQ(old_code.attempts_left, 4) << key;
        EXPECT_EQ(verify(key, 2), VerifyOutcome::verified) << "the new code lives on: " << key;
    }
    EXPECT_EQ(verify(restored, 1), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, OnlyTheLastReplacedCodeIsKept) {
    const auto key = unique_key();
    ASSERT_NO_FATAL_FAILURE(put_two_codes(key));
    ASSERT_EQ(put_replacing(key, 3, 60s, 5, 60s), StoreStatus::ok);

    EXPECT_EQ(verify(key, 1), VerifyOutcome::mismatch) << "the oldest code was dropped";
    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
    EXPECT_EQ(verify(key, 3), VerifyOutcome::not_found);
}

TEST_P(OtpStoreContract, ADeadCodeIsNotKeptBesideItsReplacement) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 1), StoreStatus::ok);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(put_replacing(key, 2, 60s, 5, 60s), StoreStatus::ok);

    const auto old_code = store_->verify_and_consume(key, digest_of(1));
    EXPECT_EQ(old_code.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(old_code.attempts_left, 4);
    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
}

// --- shared attempts ------------------------------------------------------------------------

TEST_P(OtpStoreContract, BothCodesShareTheAttemptsTheReplacementReset) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 3), StoreStatus::ok);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(put_replacing(key, 2, 30s, 3, 60s), StoreStatus::ok);

    for (int expected_left : {2, 1, 0}) {
        const auto wrong = store_->verify_and_consume(key, digest_of(9));
        EXPECT_EQ(wrong.outcome, VerifyOutcome::mismatch);
        EXPECT_EQ(wrong.attempts_left, expected_left);
    }
    for (unsigned seed : {1u, 2u}) {
        const auto right = store_->verify_and_consume(key, digest_of(seed));
        EXPECT_EQ(right.outcome, VerifyOutcome::attempts_exhausted) << "code " << seed;
        EXPECT_GT(right.retry_after.count(), 0);
        EXPECT_LE(right.retry_after.count(), 30) << "dead until the current code's expiry";
    }
}

TEST_P(OtpStoreContract, ConcurrentRightGuessesForEitherCodeVerifyExactlyOnce) {
    const auto key = unique_key();
    ASSERT_NO_FATAL_FAILURE(put_two_codes(key));

    std::array<std::atomic<int>, 5> outcomes{};
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < 20; ++i) {
        threads.emplace_back([&, i] {
            const auto result = store_->verify_and_consume(key, digest_of(1 + i % 2));
            outcomes[static_cast<std::size_t>(result.outcome)].fetch_add(1);
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::verified)].load(), 1);
    EXPECT_EQ(outcomes[static_cast<std::size_t>(VerifyOutcome::not_found)].load(), 19);
}

// --- flow binding ---------------------------------------------------------------------------

TEST_P(OtpStoreContract, TheRightCodeInAnotherFlowIsAMismatchAndCostsAnAttempt) {
    const auto key = unique_key();
    ASSERT_EQ(put_replacing(key, 1, 60s, 3, 0s, 10), StoreStatus::ok);

    const auto elsewhere = verify_in_flow(key, 1, 11);
    EXPECT_EQ(elsewhere.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(elsewhere.attempts_left, 2);
    EXPECT_EQ(verify_in_flow(key, 1, 10).outcome, VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, WithoutAFlowTagTheCodeVerifiesInAnyFlow) {
    const auto key = unique_key();
    ASSERT_EQ(put_replacing(key, 1, 60s, 3, 0s, 10), StoreStatus::ok);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, EachOfTwoCodesVerifiesOnlyInItsOwnFlow) {
    const auto key = unique_key();
    ASSERT_EQ(put_replacing(key, 1, 60s, 5, 0s, 10), StoreStatus::ok);
    ASSERT_EQ(put_replacing(key, 2, 60s, 5, 60s, 20), StoreStatus::ok);

    EXPECT_EQ(verify_in_flow(key, 1, 20).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(verify_in_flow(key, 2, 10).outcome, VerifyOutcome::mismatch);
    const auto right = verify_in_flow(key, 1, 10);
    EXPECT_EQ(right.outcome, VerifyOutcome::verified);
    EXPECT_EQ(right.attempts_left, 3) << "the two mismatches were counted";
    EXPECT_EQ(verify_in_flow(key, 2, 20).outcome, VerifyOutcome::not_found);
}

// --- remove_code with two codes -------------------------------------------------------------

TEST_P(OtpStoreContract, RemovingTheReplacementBringsBackTheCodeItReplaced) {
    const auto key = unique_key();
    ASSERT_EQ(put_replacing(key, 1, 60s, 5, 0s, 10), StoreStatus::ok);
    ASSERT_EQ(put_replacing(key, 2, 60s, 5, 60s, 20), StoreStatus::ok);

    ASSERT_EQ(store_->remove_code(key, digest_of(2)).status, StoreStatus::ok);
    EXPECT_EQ(verify_in_flow(key, 2, 20).outcome, VerifyOutcome::mismatch) << "the unsent code is gone";
    EXPECT_EQ(verify_in_flow(key, 1, 10).outcome, VerifyOutcome::verified) << "with its own flow tag";
}

TEST_P(OtpStoreContract, TheRestoredCodeGetsNoMoreAttemptsThanItHadLeft) {
    const auto key = unique_key();
    ASSERT_EQ(put(key, 1, 60s, 3), StoreStatus::ok);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(verify(key, 9), VerifyOutcome::mismatch);
    ASSERT_EQ(put_replacing(key, 2, 60s, 3, 60s), StoreStatus::ok);
    ASSERT_EQ(store_->remove_code(key, digest_of(2)).status, StoreStatus::ok);

    const auto wrong = store_->verify_and_consume(key, digest_of(9));
    EXPECT_EQ(wrong.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(wrong.attempts_left, 0) << "a failed resend does not reset the old code's attempts";
    EXPECT_EQ(verify(key, 1), VerifyOutcome::attempts_exhausted);
}

TEST_P(OtpStoreContract, RemovingTheReplacedCodeLeavesTheNewOne) {
    const auto key = unique_key();
    ASSERT_NO_FATAL_FAILURE(put_two_codes(key));

    ASSERT_EQ(store_->remove_code(key, digest_of(1)).status, StoreStatus::ok);
    EXPECT_EQ(verify(key, 1), VerifyOutcome::mismatch);
    EXPECT_EQ(verify(key, 2), VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, RemovingAnotherDigestLeavesBothCodes) {
    for (unsigned seed : {1u, 2u}) {
        const auto key = unique_key();
        ASSERT_NO_FATAL_FAILURE(put_two_codes(key));
        ASSERT_EQ(store_->remove_code(key, digest_of(3)).status, StoreStatus::ok);
        EXPECT_EQ(verify(key, seed), VerifyOutcome::verified) << "code " << seed;
    }
}

}  // namespace
}  // namespace testino::contract
