// The store's operations: each is one statement (pg_store.hpp), queued for the pool, and
// its rows turned into a result. The store's life, state, health and sweeper are in
// pg_store_state.cpp.
#include "pg_store.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <utility>

#include "testino/plugins/store_results.hpp"

namespace testino::plugins {
namespace {

using sdk::RefreshOutcome;
using sdk::RefreshResult;
using sdk::StoreResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;
using store_results::failed;

constexpr const char* kLabel = "postgres store";

// Longer TTLs are clamped (ten years), as in the Redis store.
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365 * 10);

PgParam milliseconds(std::chrono::seconds duration, std::chrono::seconds at_least) {
    const auto clamped = std::clamp(duration, at_least, kMaxTtl);
    return PgParam::text(
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(clamped).count()));
}

template <std::size_t N>
PgParam bytes(const std::array<std::uint8_t, N>& value) {
    return PgParam::bytes(std::string(reinterpret_cast<const char*>(value.data()), value.size()));
}

// Milliseconds left, rounded up to whole seconds, never below 1.
std::chrono::seconds whole_seconds(long long ms) {
    return std::chrono::seconds(std::max(1LL, (ms + 999) / 1000));
}

void expect_row(const PgRows& rows, int columns) {
    if (rows.size() != 1 || rows.columns() != columns) {
        throw std::runtime_error("unexpected result: " + std::to_string(rows.size()) + " rows of " +
                                 std::to_string(rows.columns()) + " columns");
    }
}

VerifyResult verify_result(const PgRows& rows) {
    expect_row(rows, 3);
    const int left = static_cast<int>(std::clamp<std::int64_t>(rows.integer(0, 1), 0, 0xFFFF));
    switch (rows.integer(0, 0)) {
        case 1: return {VerifyOutcome::verified, left, {}, {}};
        case 2: return {VerifyOutcome::mismatch, left, {}, {}};
        case 3: return {VerifyOutcome::attempts_exhausted, 0, whole_seconds(rows.integer(0, 2)), {}};
        default: return {VerifyOutcome::not_found, 0, {}, {}};
    }
}

RefreshResult rotate_result(const PgRows& rows) {
    expect_row(rows, 3);
    switch (rows.integer(0, 0)) {
        // Rounded down: `next` is surely valid that long.
        case 1:
            return {RefreshOutcome::rotated,
                    rows.text(0, 2),
                    std::chrono::seconds(std::max<std::int64_t>(0, rows.integer(0, 1) / 1000)),
                    {}};
        case 2: return {RefreshOutcome::reused, {}, {}, {}};
        case 3: return {RefreshOutcome::raced, {}, {}, {}};
        default: return {RefreshOutcome::not_found, {}, {}, {}};
    }
}

// A counter's value and the ms left in its window; no row: a counter at 0 with a new window.
sdk::CounterResult counter_result(const PgRows& rows, std::chrono::seconds window) {
    if (rows.size() == 0) return {StoreStatus::ok, 0, std::max(window, std::chrono::seconds(1)), {}};
    expect_row(rows, 2);
    return {StoreStatus::ok, rows.integer(0, 0), whole_seconds(rows.integer(0, 1)), {}};
}

constexpr const char* kWindowLeft = "ceil(extract(epoch FROM expires_at - now()) * 1000)::bigint";

// A live counter grows; a missing or ended one starts again at `amount` with a new window.
const std::string kCounterAdd = std::string(R"sql(
INSERT INTO testino_counters AS c (key, value, expires_at)
VALUES ($1, $3::bigint, now() + $2::bigint * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET
  value = CASE WHEN c.expires_at <= now() THEN EXCLUDED.value ELSE greatest(c.value + EXCLUDED.value, 0) END,
  expires_at = CASE WHEN c.expires_at <= now() THEN EXCLUDED.expires_at ELSE c.expires_at END
RETURNING value, )sql") + kWindowLeft;
// A refund or a read creates nothing and never goes below 0.
const std::string kCounterRefund = std::string(
                                       "UPDATE testino_counters SET value = greatest(value + $2::bigint, 0) "
                                       "WHERE key = $1 AND expires_at > now() RETURNING value, ") +
                                   kWindowLeft;
const std::string kCounterRead = std::string("SELECT value, ") + kWindowLeft +
                                 " FROM testino_counters WHERE key = $1 AND expires_at > now()";

// A family id is never reused: an existing one is replaced whole.
constexpr const char* kRefreshCreate = R"sql(
INSERT INTO testino_refresh_families (family, subject, current, history, rotated_at, ends_at, expires_at)
VALUES ($1, $2, $3, '{}', NULL, now() + $5::bigint * interval '1 millisecond',
        least(now() + $4::bigint * interval '1 millisecond', now() + $5::bigint * interval '1 millisecond'))
ON CONFLICT (family) DO UPDATE SET
  subject = EXCLUDED.subject, current = EXCLUDED.current, history = '{}', rotated_at = NULL,
  ends_at = EXCLUDED.ends_at, expires_at = EXCLUDED.expires_at)sql";

constexpr const char* kRefreshRevoke = R"sql(
DELETE FROM testino_refresh_families
WHERE family = $1 AND expires_at > now()
  AND (testino_same(current, $2) OR EXISTS (SELECT 1 FROM unnest(history) AS h(d) WHERE testino_same(h.d, $2)))
RETURNING 1)sql";

// A delay or lease: never negative, clamped like TTLs.
PgParam milliseconds(std::chrono::milliseconds duration) {
    const auto clamped =
        std::clamp<std::chrono::milliseconds>(duration, std::chrono::milliseconds(0), kMaxTtl);
    return PgParam::text(std::to_string(clamped.count()));
}

StoreResult written(const PgRows&) { return StoreResult{}; }

sdk::RecordResult record_result(const PgRows& rows) {
    if (rows.size() == 0) return {};
    expect_row(rows, 1);
    return {StoreStatus::ok, false, true, rows.text(0, 0), {}};
}

constexpr const char* kRecordPut = R"sql(
INSERT INTO testino_records (key, value, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at)sql";

// A new item only while the queue holds fewer than $6; replacing one is always allowed. Under
// concurrent enqueues of new items the bound may be passed by a few (each counts alone).
constexpr const char* kEnqueue = R"sql(
INSERT INTO testino_queue_items AS q (queue, id, payload, attempts, due_at)
SELECT $1, $2, $3, $4::int, now() + $5::bigint * interval '1 millisecond'
WHERE EXISTS (SELECT 1 FROM testino_queue_items WHERE queue = $1 AND id = $2)
   OR (SELECT count(*) FROM testino_queue_items WHERE queue = $1) < $6::bigint
ON CONFLICT (queue, id) DO UPDATE SET
  payload = EXCLUDED.payload, attempts = EXCLUDED.attempts, due_at = EXCLUDED.due_at
RETURNING 1)sql";

// SKIP LOCKED: a row another claim holds is not due for this one; a row it already moved
// is re-checked against due_at <= now() after the lock and dropped. Earliest due first.
constexpr const char* kClaimDue = R"sql(
WITH due AS (
  SELECT queue, id, due_at FROM testino_queue_items
  WHERE queue = $1 AND due_at <= now() ORDER BY due_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED),
claimed AS (
  UPDATE testino_queue_items AS q
  SET due_at = now() + $3::bigint * interval '1 millisecond', attempts = q.attempts + 1
  FROM due WHERE q.queue = due.queue AND q.id = due.id
  RETURNING q.id, q.payload, q.attempts, due.due_at AS was_due)
SELECT id, payload, attempts FROM claimed ORDER BY was_due, id)sql";

sdk::QueueBatch batch_result(const PgRows& rows) {
    sdk::QueueBatch batch;
    if (rows.size() > 0 && rows.columns() != 3) expect_row(rows, 3);
    batch.items.reserve(static_cast<std::size_t>(rows.size()));
    for (int row = 0; row < rows.size(); ++row) {
        const auto attempts = std::clamp<std::int64_t>(rows.integer(row, 2), 0, 0x7FFFFFFF);
        batch.items.push_back({rows.text(row, 0), rows.text(row, 1), static_cast<int>(attempts)});
    }
    return batch;
}

}  // namespace

template <typename Result>
Result PgStore::failure_result(const PgFailure& failure) const {
    std::string detail = "postgres " + target_ + ": " + failure.detail;
    // Out of disk or memory refuses writes: the store is full (STORE_FULL), not down.
    if constexpr (std::is_same_v<Result, StoreResult>) {
        if (failure.fault == PgFault::full) return {StoreStatus::full, std::move(detail)};
    } else if constexpr (std::is_same_v<Result, sdk::CounterResult>) {
        if (failure.fault == PgFault::full) return {StoreStatus::full, 0, {}, std::move(detail)};
    } else if constexpr (std::is_same_v<Result, sdk::RecordResult>) {
        if (failure.fault == PgFault::full) return {StoreStatus::full, false, false, {}, std::move(detail)};
    } else if constexpr (std::is_same_v<Result, sdk::QueueBatch>) {
        if (failure.fault == PgFault::full) return {StoreStatus::full, {}, std::move(detail)};
    }
    return failed<Result>(std::move(detail));
}

template <typename Result, typename Convert>
void PgStore::submit(const char* operation, std::string sql, std::vector<PgParam> params,
                     sdk::StoreCompletion<Result> done, Convert convert) {
    auto completion = std::make_shared<sdk::StoreCompletion<Result>>(std::move(done));
    PgJob job;
    job.deadline = PgClock::now() + options_.query_timeout;
    job.fail = [this, completion, operation](const PgFailure& failure) {
        PgFailure named = failure;
        named.detail = std::string(operation) + ": " + failure.detail;
        store_results::finish_with(
            *completion, [&] { return failure_result<Result>(named); }, kLabel);
    };
    job.run = [this, completion, operation, sql = std::move(sql), params = std::move(params),
               convert = std::move(convert)](PgConnection& connection, PgClock::time_point deadline) {
        PgOutcome outcome;
        if (refused_.load()) {
            outcome.failure = {PgFault::schema, schema_refusal()};
        } else {
            outcome = connection.run(sql, params, deadline);
            observe(outcome);
        }
        store_results::finish_with(
            *completion,
            [&]() -> Result {
                if (outcome.ok()) return convert(*outcome.rows);
                PgFailure named = outcome.failure;
                named.detail = std::string(operation) + ": " + named.detail;
                return failure_result<Result>(named);
            },
            kLabel);
    };
    pool_->submit(std::move(job));
}

void PgStore::put_code(const std::string& key, const sdk::NewCode& code,
                       sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>("put_code", "SELECT testino_put_code($1, $2, $3, $4, $5, $6)",
                        {PgParam::text(key), bytes(code.digest), bytes(code.flow),
                         milliseconds(code.ttl, std::chrono::seconds(0)),
                         PgParam::text(std::to_string(std::clamp(code.max_attempts, 0, 0xFFFF))),
                         milliseconds(code.overlap, std::chrono::seconds(0))},
                        std::move(done), [](const PgRows&) { return StoreResult{}; });
}

void PgStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                 const std::optional<sdk::FlowTag>& flow,
                                 sdk::StoreCompletion<VerifyResult> done) {
    submit<VerifyResult>("verify_and_consume",
                         "SELECT o_outcome, o_left, o_retry_ms FROM testino_verify($1, $2, $3)",
                         {PgParam::text(key), bytes(candidate), flow ? bytes(*flow) : PgParam::none()},
                         std::move(done), verify_result);
}

void PgStore::remove_code(const std::string& key, const sdk::CodeDigest& digest,
                          sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>("remove_code", "SELECT testino_remove_code($1, $2)",
                        {PgParam::text(key), bytes(digest)}, std::move(done),
                        [](const PgRows&) { return StoreResult{}; });
}

void PgStore::hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                          sdk::StoreCompletion<sdk::CounterResult> done) {
    auto convert = [window](const PgRows& rows) { return counter_result(rows, window); };
    if (amount > 0) {
        submit<sdk::CounterResult>("hit_counter", kCounterAdd,
                                   {PgParam::text(key), milliseconds(window, std::chrono::seconds(1)),
                                    PgParam::text(std::to_string(amount))},
                                   std::move(done), convert);
    } else if (amount < 0) {
        submit<sdk::CounterResult>("hit_counter", kCounterRefund,
                                   {PgParam::text(key), PgParam::text(std::to_string(amount))},
                                   std::move(done), convert);
    } else {
        submit<sdk::CounterResult>("hit_counter", kCounterRead, {PgParam::text(key)}, std::move(done),
                                   convert);
    }
}

void PgStore::create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                             sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>("create_refresh", kRefreshCreate,
                        {PgParam::text(family), PgParam::text(first.subject), bytes(first.digest),
                         milliseconds(first.ttl, std::chrono::seconds(0)),
                         milliseconds(first.max_age, std::chrono::seconds(0))},
                        std::move(done), [](const PgRows&) { return StoreResult{}; });
}

void PgStore::rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                             const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                             std::chrono::seconds grace, sdk::StoreCompletion<RefreshResult> done) {
    submit<RefreshResult>(
        "rotate_refresh",
        "SELECT o_outcome, o_expires_ms, o_subject FROM testino_rotate_refresh($1, $2, $3, $4, $5, $6)",
        {PgParam::text(family), bytes(presented), bytes(next), milliseconds(ttl, std::chrono::seconds(0)),
         milliseconds(grace, std::chrono::seconds(0)),
         PgParam::text(std::to_string(sdk::kRefreshHistoryMin))},
        std::move(done), rotate_result);
}

void PgStore::revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                             sdk::StoreCompletion<RefreshResult> done) {
    submit<RefreshResult>(
        "revoke_refresh", kRefreshRevoke, {PgParam::text(family), bytes(presented)}, std::move(done),
        [](const PgRows& rows) {
            return RefreshResult{
                rows.size() > 0 ? RefreshOutcome::revoked : RefreshOutcome::not_found, {}, {}, {}};
        });
}

void PgStore::health(sdk::StoreCompletion<sdk::HealthReport> done) {
    submit<sdk::HealthReport>("health", "SELECT 1", {}, std::move(done), [this](const PgRows&) {
        return sdk::HealthReport{true, "postgres " + target_};
    });
}

// --- records and queues ------------------------------------------------------------------

void PgStore::claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                           sdk::StoreCompletion<sdk::RecordResult> done) {
    submit<sdk::RecordResult>(
        "claim_record", "SELECT o_created, o_value FROM testino_claim_record($1, $2, $3)",
        {PgParam::text(key), PgParam::text(value), milliseconds(ttl, std::chrono::seconds(1))},
        std::move(done), [](const PgRows& rows) {
            expect_row(rows, 2);
            return sdk::RecordResult{StoreStatus::ok, rows.text(0, 0) == "t", true, rows.text(0, 1), {}};
        });
}

void PgStore::put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                         sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>(
        "put_record", kRecordPut,
        {PgParam::text(key), PgParam::text(value), milliseconds(ttl, std::chrono::seconds(1))},
        std::move(done), written);
}

void PgStore::get_record(const std::string& key, sdk::StoreCompletion<sdk::RecordResult> done) {
    submit<sdk::RecordResult>("get_record",
                              "SELECT value FROM testino_records WHERE key = $1 AND expires_at > now()",
                              {PgParam::text(key)}, std::move(done), record_result);
}

void PgStore::remove_record(const std::string& key, sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>("remove_record", "DELETE FROM testino_records WHERE key = $1", {PgParam::text(key)},
                        std::move(done), written);
}

void PgStore::enqueue(const std::string& queue, const sdk::QueueItem& item, std::chrono::milliseconds delay,
                      sdk::StoreCompletion<StoreResult> done) {
    const long long bound = options_.max_queue_items;
    const std::string full = "postgres " + target_ + ": the queue " + queue + " holds " +
                             std::to_string(bound) + " items (max_queue_items)";
    submit<StoreResult>("enqueue", kEnqueue,
                        {PgParam::text(queue), PgParam::text(item.id), PgParam::text(item.payload),
                         PgParam::text(std::to_string(std::max(item.attempts, 0))), milliseconds(delay),
                         PgParam::text(std::to_string(bound))},
                        std::move(done), [full](const PgRows& rows) {
                            if (rows.size() == 0) return StoreResult{StoreStatus::full, full};
                            return StoreResult{};
                        });
}

void PgStore::claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                        sdk::StoreCompletion<sdk::QueueBatch> done) {
    if (max <= 0) {
        store_results::finish_with(
            done, [] { return sdk::QueueBatch{}; }, kLabel);
        return;
    }
    submit<sdk::QueueBatch>("claim_due", kClaimDue,
                            {PgParam::text(queue), PgParam::text(std::to_string(max)), milliseconds(lease)},
                            std::move(done), batch_result);
}

void PgStore::ack(const std::string& queue, const std::string& id, sdk::StoreCompletion<StoreResult> done) {
    submit<StoreResult>("ack", "DELETE FROM testino_queue_items WHERE queue = $1 AND id = $2",
                        {PgParam::text(queue), PgParam::text(id)}, std::move(done), written);
}

void PgStore::queue_length(const std::string& queue, sdk::StoreCompletion<sdk::CounterResult> done) {
    submit<sdk::CounterResult>(
        "queue_length", "SELECT count(*) FROM testino_queue_items WHERE queue = $1", {PgParam::text(queue)},
        std::move(done), [](const PgRows& rows) {
            expect_row(rows, 1);
            return sdk::CounterResult{StoreStatus::ok, rows.integer(0, 0), std::chrono::seconds(0), {}};
        });
}

}  // namespace testino::plugins
