// The store contract, continued (plugin ABI 6): refresh-token families. A family's current
// token rotates to the next one; a token it rotated away from, replayed, revokes the whole
// family (reuse detection), except the one rotated away from last within `grace` (two
// refreshes racing); logout revokes with any of its tokens.
#include <array>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "otp_store_contract.hpp"

namespace testino::sdk {

void PrintTo(RefreshOutcome outcome, std::ostream* out) {
    switch (outcome) {
        case RefreshOutcome::rotated: *out << "rotated"; return;
        case RefreshOutcome::revoked: *out << "revoked"; return;
        case RefreshOutcome::reused: *out << "reused"; return;
        case RefreshOutcome::raced: *out << "raced"; return;
        case RefreshOutcome::not_found: *out << "not_found"; return;
        case RefreshOutcome::unavailable: *out << "unavailable"; return;
    }
    *out << "RefreshOutcome(" << static_cast<int>(outcome) << ")";
}

}  // namespace testino::sdk

namespace testino::contract {

using namespace std::chrono_literals;
using sdk::RefreshOutcome;
using sdk::StoreStatus;

namespace {

constexpr const char* kSubject = "+19995550100";

}  // namespace

std::string OtpStoreContract::unique_family() {
    // unique_key()'s digits, which are unique per run and test, without the '+'.
    return "fam" + unique_key().substr(1);
}

sdk::RefreshDigest OtpStoreContract::token_of(unsigned seed) {
    sdk::RefreshDigest token = digest_of(seed);
    for (auto& byte : token) byte ^= 0x5A;  // unlike any code digest (and flow tag, ^0xA5)
    return token;
}

sdk::StoreStatus OtpStoreContract::create_family(const std::string& family, unsigned seed,
                                                 std::chrono::seconds ttl, std::chrono::seconds max_age) {
    const auto created = store_->create_refresh(family, {token_of(seed), kSubject, ttl, max_age});
    EXPECT_EQ(created.status, StoreStatus::ok) << created.detail;
    return created.status;
}

sdk::RefreshOutcome OtpStoreContract::rotate(const std::string& family, unsigned from, unsigned to,
                                             std::chrono::seconds grace) {
    return store_->rotate_refresh(family, token_of(from), token_of(to), 60s, grace).outcome;
}

sdk::RefreshOutcome OtpStoreContract::revoke(const std::string& family, unsigned seed) {
    return store_->revoke_refresh(family, token_of(seed)).outcome;
}

namespace {

TEST_P(OtpStoreContract, ACurrentTokenRotatesWithTheSubjectAndTheNextOneRotatesAgain) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);

    const auto rotated = store_->rotate_refresh(family, token_of(1), token_of(2), 60s, 0s);
    EXPECT_EQ(rotated.outcome, RefreshOutcome::rotated) << rotated.detail;
    EXPECT_EQ(rotated.subject, kSubject);
    EXPECT_GE(rotated.expires_in.count(), 59);
    EXPECT_LE(rotated.expires_in.count(), 60);
    EXPECT_EQ(rotate(family, 2, 3), RefreshOutcome::rotated);
}

TEST_P(OtpStoreContract, ARotatedAwayTokenReplayedOutsideTheGraceRevokesTheFamily) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);

    EXPECT_EQ(rotate(family, 1, 9), RefreshOutcome::reused);
    EXPECT_EQ(rotate(family, 2, 3), RefreshOutcome::not_found) << "the current token went with the family";
    EXPECT_EQ(revoke(family, 2), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, WithinTheGraceTheTokenRotatedAwayFromLastIsRacedAndChangesNothing) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2, 60s), RefreshOutcome::rotated);

    const auto raced = store_->rotate_refresh(family, token_of(1), token_of(3), 60s, 60s);
    EXPECT_EQ(raced.outcome, RefreshOutcome::raced);
    EXPECT_TRUE(raced.subject.empty()) << "the subject is for a rotation only";
    EXPECT_EQ(rotate(family, 3, 4, 60s), RefreshOutcome::not_found) << "the raced rotation stored nothing";
    EXPECT_EQ(rotate(family, 2, 5, 60s), RefreshOutcome::rotated) << "the winner's token still rotates";
}

TEST_P(OtpStoreContract, OnlyTheTokenRotatedAwayFromLastGetsTheGrace) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2, 60s), RefreshOutcome::rotated);
    ASSERT_EQ(rotate(family, 2, 3, 60s), RefreshOutcome::rotated);

    EXPECT_EQ(rotate(family, 1, 9, 60s), RefreshOutcome::reused);
    EXPECT_EQ(rotate(family, 3, 4, 60s), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, AnUnknownTokenIsNotFoundAndLeavesTheFamilyIntact) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    auto almost = token_of(1);
    almost.back() ^= 0x01;

    EXPECT_EQ(store_->rotate_refresh(family, almost, token_of(2), 60s, 0s).outcome,
              RefreshOutcome::not_found);
    EXPECT_EQ(rotate(family, 9, 2), RefreshOutcome::not_found);
    EXPECT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);
}

TEST_P(OtpStoreContract, AnUnknownFamilyIsNotFound) {
    const auto family = unique_family();
    EXPECT_EQ(rotate(family, 1, 2), RefreshOutcome::not_found);
    EXPECT_EQ(revoke(family, 1), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, RevokingWithTheCurrentTokenDeletesTheFamily) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);

    EXPECT_EQ(revoke(family, 2), RefreshOutcome::revoked);
    EXPECT_EQ(rotate(family, 2, 3), RefreshOutcome::not_found);
    EXPECT_EQ(rotate(family, 1, 3), RefreshOutcome::not_found) << "no reuse is detected in a revoked family";
    EXPECT_EQ(revoke(family, 2), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, RevokingWithAnOldTokenDeletesTheFamily) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);

    EXPECT_EQ(revoke(family, 1), RefreshOutcome::revoked);
    EXPECT_EQ(rotate(family, 2, 3), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, RevokingWithAnUnknownTokenChangesNothing) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);

    EXPECT_EQ(revoke(family, 9), RefreshOutcome::not_found);
    EXPECT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);
}

TEST_P(OtpStoreContract, CreatingAnExistingFamilyReplacesItWhole) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 2), RefreshOutcome::rotated);
    ASSERT_EQ(create_family(family, 5), StoreStatus::ok);

    EXPECT_EQ(rotate(family, 1, 9), RefreshOutcome::not_found) << "its history went with it";
    EXPECT_EQ(rotate(family, 2, 9), RefreshOutcome::not_found);
    EXPECT_EQ(rotate(family, 5, 6), RefreshOutcome::rotated);
}

TEST_P(OtpStoreContract, ATokenExpiresAfterItsTtlAndNoneOutlivesTheFamilysMaxAge) {
    const auto short_ttl = unique_family();
    const auto short_life = unique_family();
    ASSERT_EQ(create_family(short_ttl, 1, 1s, 1h), StoreStatus::ok);
    ASSERT_EQ(create_family(short_life, 1, 60s, 1s), StoreStatus::ok);

    const auto capped = store_->rotate_refresh(short_life, token_of(1), token_of(2), 60s, 0s);
    EXPECT_EQ(capped.outcome, RefreshOutcome::rotated) << capped.detail;
    EXPECT_LE(capped.expires_in.count(), 1) << "the family ends 1 s after sign-in, rotated or not";
    EXPECT_GE(capped.expires_in.count(), 0);

    std::this_thread::sleep_for(1500ms);

    EXPECT_EQ(rotate(short_ttl, 1, 2), RefreshOutcome::not_found);
    EXPECT_EQ(rotate(short_life, 2, 3), RefreshOutcome::not_found);
    EXPECT_EQ(revoke(short_life, 1), RefreshOutcome::not_found) << "an ended family detects no reuse";
}

TEST_P(OtpStoreContract, ConcurrentRotationsOfOneTokenRotateExactlyOnce) {
    constexpr int kThreads = 16;
    for (const auto grace : {60s, 0s}) {
        const auto family = unique_family();
        ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
        std::array<std::atomic<int>, 6> outcomes{};  // indexed by RefreshOutcome
        run_concurrently(kThreads, [&](int i) {
            const auto next = token_of(100 + static_cast<unsigned>(i));
            const auto result = store_->rotate_refresh(family, token_of(1), next, 60s, grace);
            outcomes[static_cast<std::size_t>(result.outcome)].fetch_add(1);
        });
        const auto count = [&](RefreshOutcome outcome) {
            return outcomes[static_cast<std::size_t>(outcome)].load();
        };
        EXPECT_EQ(count(RefreshOutcome::rotated), 1) << "grace " << grace.count();
        if (grace > 0s) {
            EXPECT_EQ(count(RefreshOutcome::raced), kThreads - 1);
        } else {
            // The first replay revokes the family; the later ones find none.
            EXPECT_EQ(count(RefreshOutcome::reused), 1);
            EXPECT_EQ(count(RefreshOutcome::not_found), kThreads - 2);
        }
    }
}

TEST_P(OtpStoreContract, AllOfTheLastRotatedAwayTokensAreStillRecognisedAsReused) {
    const auto family = unique_family();
    ASSERT_EQ(create_family(family, 0), StoreStatus::ok);
    constexpr auto kRotations = static_cast<unsigned>(sdk::kRefreshHistoryMin);
    for (unsigned i = 0; i < kRotations; ++i)
        ASSERT_EQ(rotate(family, i, i + 1), RefreshOutcome::rotated) << i;

    EXPECT_EQ(rotate(family, 0, 99), RefreshOutcome::reused)
        << "the oldest of the last kRefreshHistoryMin rotated-away tokens";
    EXPECT_EQ(rotate(family, kRotations, 99), RefreshOutcome::not_found);
}

TEST_P(OtpStoreContract, FamiliesAreIndependentOfCodesCountersAndEachOther) {
    const auto number = unique_key();
    const auto family = unique_family();
    const auto other = unique_family();
    ASSERT_EQ(put(number, 1, 60s, 3), StoreStatus::ok);
    ASSERT_EQ(store_->hit_counter(family, 60s, 1).count, 1) << "a counter named like the family";
    ASSERT_EQ(create_family(family, 1), StoreStatus::ok);
    ASSERT_EQ(create_family(other, 2), StoreStatus::ok);
    ASSERT_EQ(rotate(family, 1, 3), RefreshOutcome::rotated);

    EXPECT_EQ(rotate(family, 2, 4), RefreshOutcome::not_found) << "another family's token";
    EXPECT_EQ(rotate(family, 1, 4), RefreshOutcome::reused);
    EXPECT_EQ(rotate(other, 2, 5), RefreshOutcome::rotated) << "the other family lives on";
    EXPECT_EQ(store_->hit_counter(family, 60s, 0).count, 1);
    EXPECT_EQ(verify(number, 1), sdk::VerifyOutcome::verified);
}

TEST_P(OtpStoreContract, ManyRefreshOperationsInFlightAtOnceAllComplete) {
    constexpr int kFamilies = 200;
    struct Tally {
        std::mutex mutex;
        std::condition_variable all_done;
        int completions = 0;
        int good = 0;
    };
    std::vector<std::string> families;
    for (int i = 0; i < kFamilies; ++i) families.push_back(unique_family());
    // Each wave is started back to back without waiting, as reactor threads start them.
    const auto wave = [&](const char* what, auto start) {
        auto tally = std::make_shared<Tally>();
        for (int i = 0; i < kFamilies; ++i) start(families[static_cast<std::size_t>(i)], tally);
        std::unique_lock lock(tally->mutex);
        ASSERT_TRUE(tally->all_done.wait_for(lock, 20s, [&] { return tally->completions >= kFamilies; }))
            << what << ": " << tally->completions << " of " << kFamilies << " completions came";
        lock.unlock();
        std::this_thread::sleep_for(50ms);  // a second completion of any of them would show now
        lock.lock();
        EXPECT_EQ(tally->completions, kFamilies) << what << ": each completes exactly once";
        EXPECT_EQ(tally->good, kFamilies) << what;
    };
    const auto count = [](const std::shared_ptr<Tally>& tally, bool good) {
        std::lock_guard lock(tally->mutex);
        ++tally->completions;
        if (good) ++tally->good;
        tally->all_done.notify_all();
    };
    sdk::OtpStore& store = store_->async();
    wave("create_refresh", [&](const std::string& family, const std::shared_ptr<Tally>& tally) {
        store.create_refresh(
            family, {token_of(1), kSubject, 60s, 1h},
            [tally, count](sdk::StoreResult result) { count(tally, result.status == StoreStatus::ok); });
    });
    wave("rotate_refresh", [&](const std::string& family, const std::shared_ptr<Tally>& tally) {
        store.rotate_refresh(family, token_of(1), token_of(2), 60s, 0s,
                             [tally, count](sdk::RefreshResult result) {
                                 count(tally, result.outcome == RefreshOutcome::rotated);
                             });
    });
    wave("revoke_refresh", [&](const std::string& family, const std::shared_ptr<Tally>& tally) {
        store.revoke_refresh(family, token_of(1), [tally, count](sdk::RefreshResult result) {
            count(tally, result.outcome == RefreshOutcome::revoked);
        });
    });
}

TEST_P(OtpStoreContract, ARefreshCompletionMayStartTheNextRefreshOperation) {
    const auto family = unique_family();
    auto finished = std::make_shared<std::promise<RefreshOutcome>>();
    auto outcome = finished->get_future();
    sdk::OtpStore& store = store_->async();
    const sdk::NewRefreshFamily first{token_of(1), kSubject, 60s, 1h};
    store.create_refresh(family, first, [&store, family, finished](sdk::StoreResult created) {
        if (created.status != StoreStatus::ok) {
            finished->set_value(RefreshOutcome::unavailable);
            return;
        }
        store.rotate_refresh(family, token_of(1), token_of(2), 60s, 0s,
                             [&store, family, finished](sdk::RefreshResult rotated) {
                                 if (rotated.outcome != RefreshOutcome::rotated) {
                                     finished->set_value(rotated.outcome);
                                     return;
                                 }
                                 store.revoke_refresh(family, token_of(2),
                                                      [finished](sdk::RefreshResult revoked) {
                                                          finished->set_value(revoked.outcome);
                                                      });
                             });
    });
    ASSERT_EQ(outcome.wait_for(10s), std::future_status::ready)
        << "a chain of three refresh operations started from completions did not finish";
    EXPECT_EQ(outcome.get(), RefreshOutcome::revoked);
}

}  // namespace
}  // namespace testino::contract
