// The Postgres OTP store: pending codes, rate-limit counters and refresh-token families in
// PostgreSQL tables, shared by every server instance on the same database and kept across
// restarts (and, unlike Redis without AOF, across a database restart: every write is
// committed to the WAL before its completion).
//
// Tables (pg_schema_v1.sql.inc; versioned by pg_migrations.hpp):
//   testino_codes             one row per phone number: current code, previous code while
//                             its overlap lasts, shared attempts, row_expires_at
//   testino_counters          key, value, expires_at (the fixed window's end)
//   testino_refresh_families  family, subject, current digest, rotated-away digests, expiry
//   testino_records           key, value, expires_at (pg_schema_v2.sql.inc)
//   testino_queue_items       queue, id, payload, attempts, due_at
// Each operation is one statement: a call of a PL/pgSQL function that locks the key's row
// (verify, put, remove, rotate) or a single INSERT ... ON CONFLICT DO UPDATE / UPDATE /
// DELETE ... RETURNING (counters, create and revoke of a family), so it is atomic across
// connections and instances. Times come from the database's clock, which every instance
// shares.
//
// Asynchronous: an operation only queues a job for the worker pool (pg_pool.hpp); a worker
// runs it on its own connection and calls `done`, with `unavailable` when Postgres failed
// or the deadline (query_timeout, from the call) passed. The server enforces the same
// deadline as statement_timeout. A sweeper thread deletes expired rows in bounded batches.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_connection.hpp"
#include "pg_pool.hpp"
#include "testino/host.hpp"
#include "testino/otp_store.hpp"

namespace testino::plugins {

struct PgStoreOptions {
    PgPoolOptions pool;  // dsn, sslmode, size, queue, connect_timeout
    // The deadline of one operation from its call: queueing, connecting, the query. Also the
    // statement_timeout of the store's sessions.
    std::chrono::milliseconds query_timeout{1000};
    // How long start-up (or a later first connection) may take to apply migrations,
    // waiting for another instance's migration lock included.
    std::chrono::milliseconds migrate_timeout{30000};
    // The sweeper: every `sweep_interval`, up to `sweep_max_batches` batches of at most
    // `sweep_batch` expired rows per table. Interval 0: no sweeper (tests sweep by hand).
    std::chrono::milliseconds sweep_interval{10000};
    int sweep_batch = 1000;
    int sweep_max_batches = 10;
    // Items one queue may hold; an enqueue of a new item beyond it is `full`, as in Redis.
    long long max_queue_items = 100000;
};

// The store cannot start: the database was reached at start-up and refused the schema (a
// newer version than this binary knows, or a migration failed). The message names the
// target without the password.
class PgStartError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class PgStore final : public sdk::OtpStore {
public:
    // Applies pending migrations if Postgres can be reached now (throws PgStartError when
    // it refuses them); otherwise starts, reports unhealthy, and migrates on the first
    // connection that succeeds. `host` logs state changes.
    PgStore(PgStoreOptions options, sdk::Host& host);
    // Stops the sweeper; answers every queued operation `unavailable` and waits for those
    // running (each bounded by its deadline).
    ~PgStore() override;

    void put_code(const std::string& key, const sdk::NewCode& code,
                  sdk::StoreCompletion<sdk::StoreResult> done) override;
    void verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                            const std::optional<sdk::FlowTag>& flow,
                            sdk::StoreCompletion<sdk::VerifyResult> done) override;
    void remove_code(const std::string& key, const sdk::CodeDigest& digest,
                     sdk::StoreCompletion<sdk::StoreResult> done) override;
    void hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                     sdk::StoreCompletion<sdk::CounterResult> done) override;
    void create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                        sdk::StoreCompletion<sdk::StoreResult> done) override;
    void rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        const sdk::RefreshDigest& next, std::chrono::seconds ttl, std::chrono::seconds grace,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override;
    void revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override;
    void health(sdk::StoreCompletion<sdk::HealthReport> done) override;

    // Records and queues (ABI 8): testino_records and testino_queue_items (schema v2).
    bool keeps_records() const override { return true; }
    void claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                      sdk::StoreCompletion<sdk::RecordResult> done) override;
    void put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                    sdk::StoreCompletion<sdk::StoreResult> done) override;
    void get_record(const std::string& key, sdk::StoreCompletion<sdk::RecordResult> done) override;
    void remove_record(const std::string& key, sdk::StoreCompletion<sdk::StoreResult> done) override;
    void enqueue(const std::string& queue, const sdk::QueueItem& item, std::chrono::milliseconds delay,
                 sdk::StoreCompletion<sdk::StoreResult> done) override;
    void claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                   sdk::StoreCompletion<sdk::QueueBatch> done) override;
    void ack(const std::string& queue, const std::string& id,
             sdk::StoreCompletion<sdk::StoreResult> done) override;
    void queue_length(const std::string& queue, sdk::StoreCompletion<sdk::CounterResult> done) override;

    // "user@host:port/db", never the password.
    const std::string& target() const { return target_; }
    // One sweeper pass now, on the sweeper's connection; the rows it deleted, or nullopt when
    // Postgres failed. For tests and the sweeper thread.
    std::optional<long long> sweep_once();

private:
    // Queues `sql` with `params`; on the worker, `convert` turns the rows into the result.
    template <typename Result, typename Convert>
    void submit(const char* operation, std::string sql, std::vector<PgParam> params,
                sdk::StoreCompletion<Result> done, Convert convert);
    template <typename Result>
    Result failure_result(const PgFailure& failure) const;

    // A new connection's settings, and the schema check the first time one succeeds.
    std::optional<PgFailure> prepare(PgConnection& connection, PgClock::time_point deadline);
    std::optional<PgFailure> ensure_schema(PgConnection& connection, PgClock::time_point deadline);
    // Applies the migrations on `connection`; true when the schema can be used. A refusal
    // (a newer schema) is kept: every operation then fails with it.
    bool migrate(PgConnection& connection, std::optional<PgFailure>& failure);
    std::string schema_refusal();

    void note_up();
    void note_failure(const PgFailure& failure);
    void observe(const PgOutcome& outcome);
    void sweep_loop();
    long long sweep_table(const char* table, const char* column);

    const PgStoreOptions options_;
    const std::string target_;  // for logs and health, without credentials
    sdk::Host& host_;

    std::timed_mutex schema_mutex_;  // one migration at a time in this process
    std::atomic<bool> schema_ready_{false};
    std::string schema_refused_;  // under schema_mutex_: why the schema cannot be used
    std::atomic<bool> refused_{false};

    std::mutex state_mutex_;
    bool logged_state_known_ = false;
    bool logged_up_ = false;
    PgFault logged_fault_ = PgFault::unreachable;
    std::atomic<bool> up_logged_{false};

    std::mutex sweep_mutex_;  // the sweeper thread's stop flag
    std::condition_variable sweep_wake_;
    bool sweep_stop_ = false;
    std::mutex sweep_connection_mutex_;
    PgConnection sweep_connection_;
    std::thread sweeper_;

    // Last: destroyed first, while everything its completions use still exists.
    std::unique_ptr<PgPool> pool_;
};

}  // namespace testino::plugins
