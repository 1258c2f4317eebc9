// The memory store's two-code entries to the tick, on a fake clock: where an overlap ends,
// what a restored code gets back, and how the entry's end moves with its codes (which is
// what the expiry index and the table bound follow). The shared contract covers the rest.
#include <gtest/gtest.h>

#include "memory_store.hpp"
#include "memory_store_test_support.hpp"

namespace testino::plugins {
namespace {

using namespace std::chrono_literals;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using test_helpers::code;
using test_helpers::digest_of;
using test_helpers::FakeClock;
using test_helpers::flow_of;
using test_helpers::options;

constexpr const char* kNumber = "+12025550123";

class MemoryStoreOverlapTest : public ::testing::Test {
protected:
    FakeClock clock;
    MemoryStore store{options(), clock.as_function()};
};

TEST_F(MemoryStoreOverlapTest, TheReplacedCodeVerifiesUntilJustBeforeTheOverlapEnds) {
    for (const char* key : {"+12025550001", "+12025550002"}) {
        ASSERT_EQ(store.put_code(key, code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
        ASSERT_EQ(store.put_code(key, code(digest_of(2), 300s, 5, 60s)).status, StoreStatus::ok);
    }

    clock.advance(60s - 1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550001", digest_of(1)).outcome, VerifyOutcome::verified);
    clock.advance(1ms);
    EXPECT_EQ(store.verify_and_consume("+12025550002", digest_of(1)).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(store.verify_and_consume("+12025550002", digest_of(2)).outcome, VerifyOutcome::verified);
}

TEST_F(MemoryStoreOverlapTest, AReplacedCodeOutlivingTheNewOneKeepsTheEntryUntilItEnds) {
    MemoryStore store(options(1), clock.as_function());  // room for one number
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 10s, 5, 60s)).status, StoreStatus::ok);

    clock.advance(30s);  // the new code expired, the old one's overlap runs on
    EXPECT_EQ(store.sweep_expired(), 0u);
    EXPECT_EQ(store.put_code("+12025550999", code(digest_of(3), 10s, 5)).status, StoreStatus::full);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(2)).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::verified);
    EXPECT_EQ(store.size(), 0u);
}

TEST_F(MemoryStoreOverlapTest, ARemovedReplacementRestoresTheOldCodesOwnExpiryAndAttempts) {
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 5, 0s, flow_of(1))).status, StoreStatus::ok);
    ASSERT_EQ(store.verify_and_consume(kNumber, digest_of(9)).attempts_left, 4);
    clock.advance(100s);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 300s, 5, 10s, flow_of(2))).status, StoreStatus::ok);
    ASSERT_EQ(store.remove_code(kNumber, digest_of(2)).status, StoreStatus::ok);

    clock.advance(200s - 1ms);  // long past the overlap; 1 ms before the old code's own end
    const auto wrong = store.verify_and_consume(kNumber, digest_of(9), flow_of(1));
    EXPECT_EQ(wrong.outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(wrong.attempts_left, 3) << "the 4 it had when replaced, less this one";
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), flow_of(2)).outcome, VerifyOutcome::mismatch)
        << "the restored code keeps its own flow tag";
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), flow_of(1)).outcome, VerifyOutcome::verified);
}

TEST_F(MemoryStoreOverlapTest, ARemovalAfterTheOverlapEndedLeavesNothing) {
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 300s, 5, 10s)).status, StoreStatus::ok);
    clock.advance(10s);
    ASSERT_EQ(store.remove_code(kNumber, digest_of(2)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST_F(MemoryStoreOverlapTest, ExhaustingTheAttemptsEndsTheEntryWithTheCurrentCode) {
    MemoryStore store(options(1), clock.as_function());  // room for one number
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 2)).status, StoreStatus::ok);
    clock.advance(100s);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 100s, 2, 300s)).status, StoreStatus::ok);
    ASSERT_EQ(store.verify_and_consume(kNumber, digest_of(9)).outcome, VerifyOutcome::mismatch);
    ASSERT_EQ(store.verify_and_consume(kNumber, digest_of(9)).outcome, VerifyOutcome::mismatch);

    const auto dead = store.verify_and_consume(kNumber, digest_of(1));
    EXPECT_EQ(dead.outcome, VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(dead.retry_after, 100s) << "the new code's end, not the old one's (200 s)";
    clock.advance(100s);
    EXPECT_EQ(store.sweep_expired(), 1u) << "the dead entry was refiled at the new code's end";
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::not_found);
}

TEST_F(MemoryStoreOverlapTest, ZeroAttemptsKeepNoReplacedCodeBesideTheDeadOne) {
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 60s, 0, 300s)).status, StoreStatus::ok);
    const auto dead = store.verify_and_consume(kNumber, digest_of(1));
    EXPECT_EQ(dead.outcome, VerifyOutcome::attempts_exhausted);
    EXPECT_EQ(dead.retry_after, 60s);
}

TEST_F(MemoryStoreOverlapTest, AnExpiredCodeIsNotKeptBesideItsReplacement) {
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 10s, 5)).status, StoreStatus::ok);
    clock.advance(10s);
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(2), 300s, 5, 60s)).status, StoreStatus::ok);
    EXPECT_EQ(store.size(), 1u) << "the expired entry's slot was reused";
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1)).outcome, VerifyOutcome::mismatch);
}

TEST_F(MemoryStoreOverlapTest, AFlowTagOfAllZerosIsATagLikeAnyOther) {
    ASSERT_EQ(store.put_code(kNumber, code(digest_of(1), 300s, 5)).status, StoreStatus::ok);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), flow_of(1)).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), sdk::FlowTag{}).outcome,
              VerifyOutcome::verified);
}

// The store keeps a tag's first 16 bytes (code_entry.hpp): a difference in the last of them
// is still another flow.
TEST_F(MemoryStoreOverlapTest, ATagDifferingInItsSixteenthByteIsAnotherFlow) {
    sdk::NewCode sent = code(digest_of(1), 300s, 5);
    sent.flow = flow_of(7);
    ASSERT_EQ(store.put_code(kNumber, sent).status, StoreStatus::ok);
    sdk::FlowTag other = sent.flow;
    other[15] ^= 0x80;
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), other).outcome, VerifyOutcome::mismatch);
    EXPECT_EQ(store.verify_and_consume(kNumber, digest_of(1), sent.flow).outcome, VerifyOutcome::verified);
}

}  // namespace
}  // namespace testino::plugins
