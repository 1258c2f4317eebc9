// The store contract, continued (plugin ABI 8): records and queues. A claim creates a
// record once, whoever races for it; records expire; a queue hands each due item to one
// claimer per lease, earliest due first, counts its attempts, brings back an item whose
// lease ran out, and forgets it once acked. A store that does not keep records skips these.
#include <algorithm>
#include <atomic>
#include <set>

#include "otp_store_contract.hpp"

namespace testino::contract {

using namespace std::chrono_literals;
using sdk::StoreStatus;

namespace {

std::string queue_name() {
    return "wh:{" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "}";
}

}  // namespace

#define SKIP_WITHOUT_RECORDS() \
    if (!store_->async().keeps_records()) GTEST_SKIP() << "this store keeps no records"

TEST_P(OtpStoreContract, AClaimCreatesARecordOnceAndThenShowsIt) {
    SKIP_WITHOUT_RECORDS();
    const std::string key = "idem:{" + unique_key() + "}";
    const auto first = store_->claim_record(key, "first", 60s);
    ASSERT_EQ(first.status, StoreStatus::ok) << first.detail;
    EXPECT_TRUE(first.created);
    EXPECT_EQ(first.value, "first");
    const auto second = store_->claim_record(key, "second", 60s);
    ASSERT_EQ(second.status, StoreStatus::ok) << second.detail;
    EXPECT_FALSE(second.created);
    EXPECT_TRUE(second.found);
    EXPECT_EQ(second.value, "first");
    EXPECT_EQ(store_->get_record(key).value, "first");
}

TEST_P(OtpStoreContract, OfManyConcurrentClaimsExactlyOneIsCreated) {
    SKIP_WITHOUT_RECORDS();
    const std::string key = "idem:{" + unique_key() + "}";
    std::atomic<int> created{0};
    std::atomic<int> failed{0};
    run_concurrently(16, [&](int i) {
        const auto r = await_completion<sdk::RecordResult>("claim_record", [&](auto done) {
            store_->async().claim_record(key, "v" + std::to_string(i), 60s, std::move(done));
        });
        if (r.status != StoreStatus::ok) ++failed;
        if (r.created) ++created;
    });
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(created.load(), 1);
}

TEST_P(OtpStoreContract, PutReplacesGetReadsAndRemoveDeletesARecord) {
    SKIP_WITHOUT_RECORDS();
    const std::string key = "rec:{" + unique_key() + "}";
    const auto missing = store_->get_record(key);
    ASSERT_EQ(missing.status, StoreStatus::ok) << missing.detail;
    EXPECT_FALSE(missing.found);
    ASSERT_EQ(store_->put_record(key, "one", 60s).status, StoreStatus::ok);
    ASSERT_EQ(store_->put_record(key, std::string(4000, 'x'), 60s).status, StoreStatus::ok);
    const auto read = store_->get_record(key);
    EXPECT_TRUE(read.found);
    EXPECT_EQ(read.value, std::string(4000, 'x'));
    EXPECT_EQ(store_->remove_record(key).status, StoreStatus::ok);
    EXPECT_FALSE(store_->get_record(key).found);
    EXPECT_EQ(store_->remove_record(key).status, StoreStatus::ok) << "missing is ok";
    EXPECT_TRUE(store_->claim_record(key, "again", 60s).created) << "a removed key can be claimed";
}

TEST_P(OtpStoreContract, ARecordExpiresAndItsKeyCanBeClaimedAgain) {
    SKIP_WITHOUT_RECORDS();
    const std::string key = "idem:{" + unique_key() + "}";
    ASSERT_TRUE(store_->claim_record(key, "first", 1s).created);
    std::this_thread::sleep_for(1100ms);
    EXPECT_FALSE(store_->get_record(key).found);
    const auto again = store_->claim_record(key, "second", 60s);
    EXPECT_TRUE(again.created);
    EXPECT_EQ(again.value, "second");
}

TEST_P(OtpStoreContract, AQueueHandsOutDueItemsEarliestFirstAndCountsAttempts) {
    SKIP_WITHOUT_RECORDS();
    const std::string q = queue_name() + unique_key();
    ASSERT_EQ(store_->enqueue(q, {"b", "payload b", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_EQ(store_->enqueue(q, {"later", "not yet", 0}, 60s).status, StoreStatus::ok);
    std::this_thread::sleep_for(5ms);
    ASSERT_EQ(store_->enqueue(q, {"c", std::string(20000, 'p'), 0}, 0ms).status, StoreStatus::ok);
    EXPECT_EQ(store_->queue_length(q).count, 3);

    const auto batch = store_->claim_due(q, 10, 60s);
    ASSERT_EQ(batch.status, StoreStatus::ok) << batch.detail;
    ASSERT_EQ(batch.items.size(), 2u) << "the item due later is not handed out";
    EXPECT_EQ(batch.items[0].id, "b");
    EXPECT_EQ(batch.items[0].payload, "payload b");
    EXPECT_EQ(batch.items[0].attempts, 1);
    EXPECT_EQ(batch.items[1].id, "c");
    EXPECT_EQ(batch.items[1].payload, std::string(20000, 'p'));
    EXPECT_TRUE(store_->claim_due(q, 10, 60s).items.empty()) << "leased: not handed out again";

    EXPECT_EQ(store_->ack(q, "b").status, StoreStatus::ok);
    EXPECT_EQ(store_->ack(q, "b").status, StoreStatus::ok) << "missing is ok";
    EXPECT_EQ(store_->queue_length(q).count, 2);
}

TEST_P(OtpStoreContract, AnItemWhoseLeaseEndsComesBackAndReplacingItKeepsOneCopy) {
    SKIP_WITHOUT_RECORDS();
    const std::string q = queue_name() + unique_key();
    ASSERT_EQ(store_->enqueue(q, {"x", "v1", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_EQ(store_->claim_due(q, 1, 200ms).items.size(), 1u);
    std::this_thread::sleep_for(300ms);
    const auto back = store_->claim_due(q, 5, 60s);
    ASSERT_EQ(back.items.size(), 1u) << "the lease ran out";
    EXPECT_EQ(back.items[0].attempts, 2);
    // A retry files it again with a delay: one item, the new payload, the attempts it says.
    ASSERT_EQ(store_->enqueue(q, {"x", "v2", back.items[0].attempts}, 150ms).status, StoreStatus::ok);
    EXPECT_EQ(store_->queue_length(q).count, 1);
    EXPECT_TRUE(store_->claim_due(q, 5, 60s).items.empty()) << "not due yet";
    std::this_thread::sleep_for(250ms);
    const auto retried = store_->claim_due(q, 5, 60s);
    ASSERT_EQ(retried.items.size(), 1u);
    EXPECT_EQ(retried.items[0].payload, "v2");
    EXPECT_EQ(retried.items[0].attempts, 3);
}

TEST_P(OtpStoreContract, ConcurrentClaimersNeverShareAnItem) {
    SKIP_WITHOUT_RECORDS();
    const std::string q = queue_name() + unique_key();
    for (int i = 0; i < 40; ++i) {
        ASSERT_EQ(store_->enqueue(q, {"i" + std::to_string(i), "p", 0}, 0ms).status, StoreStatus::ok);
    }
    std::mutex mutex;
    std::multiset<std::string> seen;
    run_concurrently(8, [&](int) {
        const auto batch = await_completion<sdk::QueueBatch>(
            "claim_due", [&](auto done) { store_->async().claim_due(q, 10, 60s, std::move(done)); });
        std::lock_guard lock(mutex);
        for (const auto& item : batch.items) seen.insert(item.id);
    });
    EXPECT_EQ(seen.size(), 40u) << "every item handed out";
    for (const auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id << " handed out twice";
}

TEST_P(OtpStoreContract, QueuesAreSeparate) {
    SKIP_WITHOUT_RECORDS();
    const std::string a = queue_name() + unique_key();
    const std::string b = queue_name() + unique_key();
    ASSERT_EQ(store_->enqueue(a, {"same-id", "in a", 0}, 0ms).status, StoreStatus::ok);
    ASSERT_EQ(store_->enqueue(b, {"same-id", "in b", 0}, 0ms).status, StoreStatus::ok);
    const auto from_b = store_->claim_due(b, 5, 60s);
    ASSERT_EQ(from_b.items.size(), 1u);
    EXPECT_EQ(from_b.items[0].payload, "in b");
    EXPECT_EQ(store_->queue_length(a).count, 1);
    EXPECT_EQ(store_->queue_length("wh:{never-used}" + unique_key()).count, 0);
}

}  // namespace testino::contract
