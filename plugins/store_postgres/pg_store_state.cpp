// The Postgres store's life and state: migrating at start-up (or on the first connection
// that succeeds), preparing each new connection, logging when Postgres goes down or comes
// back, and the sweeper of expired rows.
#include <utility>

#include "pg_dsn.hpp"
#include "pg_migrations.hpp"
#include "pg_store.hpp"

namespace testino::plugins {
namespace {

struct SweptTable {
    const char* table;
    const char* expiry_column;
};

// Expired rows are already invisible to every operation; the sweeper only frees the room.
constexpr SweptTable kSweptTables[] = {
    {"testino_codes", "row_expires_at"},
    {"testino_counters", "expires_at"},
    {"testino_refresh_families", "expires_at"},
    {"testino_records", "expires_at"},
};

}  // namespace

PgStore::PgStore(PgStoreOptions options, sdk::Host& host)
    : options_(std::move(options)),
      target_(describe_dsn(options_.pool.dsn)),
      host_(host),
      sweep_connection_(options_.pool.dsn, options_.pool.sslmode) {
    // Connect and migrate once now, so that a database that refuses the schema stops
    // start-up with a clear error, and the start-up log says whether Postgres is usable. The
    // server builds its store before serving: waiting here holds no reactor thread.
    {
        PgConnection first(options_.pool.dsn, options_.pool.sslmode);
        std::optional<PgFailure> failure = first.connect(PgClock::now() + options_.pool.connect_timeout);
        if (!failure) {
            std::lock_guard lock(schema_mutex_);
            if (!migrate(first, failure) &&
                (failure->fault == PgFault::schema || failure->fault == PgFault::query_error)) {
                throw PgStartError("postgres " + target_ + ": " + failure->detail);
            }
        }
        if (failure) {
            note_failure(*failure);  // unreachable now: migrate on the first connection later
        } else {
            note_up();
        }
    }
    pool_ = std::make_unique<PgPool>(
        options_.pool,
        [this](PgConnection& connection, PgClock::time_point deadline) {
            return prepare(connection, deadline);
        },
        [this](const PgFailure& failure) { note_failure(failure); });
    if (options_.sweep_interval.count() > 0) sweeper_ = std::thread([this] { sweep_loop(); });
}

PgStore::~PgStore() {
    {
        std::lock_guard lock(sweep_mutex_);
        sweep_stop_ = true;
    }
    sweep_wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
    pool_.reset();
}

bool PgStore::migrate(PgConnection& connection, std::optional<PgFailure>& failure) {
    const PgMigrationResult result = apply_migrations(connection, PgClock::now() + options_.migrate_timeout);
    failure = result.failure;
    if (failure) {
        if (failure->fault == PgFault::schema) {
            schema_refused_ = failure->detail;
            refused_.store(true);
            host_.log(sdk::LogLevel::error, "store.postgres.schema_refused",
                      {{"postgres", target_}, {"detail", failure->detail}});
        }
        return false;
    }
    if (result.from != result.to) {
        host_.log(sdk::LogLevel::info, "store.postgres.migrated",
                  {{"postgres", target_},
                   {"from", std::to_string(result.from)},
                   {"to", std::to_string(result.to)}});
    }
    schema_ready_.store(true);
    return true;
}

std::string PgStore::schema_refusal() {
    std::lock_guard lock(schema_mutex_);
    return schema_refused_;
}

std::optional<PgFailure> PgStore::ensure_schema(PgConnection& connection, PgClock::time_point deadline) {
    if (schema_ready_.load()) return std::nullopt;
    // Another worker migrating (the first connections after a start without Postgres): wait
    // for it, but not past this job's deadline.
    std::unique_lock lock(schema_mutex_, std::defer_lock);
    if (!lock.try_lock_until(deadline)) return PgFailure{PgFault::busy, "the schema is being migrated"};
    if (schema_ready_.load()) return std::nullopt;
    if (refused_.load()) return PgFailure{PgFault::schema, schema_refused_};
    std::optional<PgFailure> failure;
    migrate(connection, failure);
    return failure;
}

std::optional<PgFailure> PgStore::prepare(PgConnection& connection, PgClock::time_point deadline) {
    if (auto failure = ensure_schema(connection, deadline)) return failure;
    // The server gives up on a statement when the caller's deadline would: no work goes on
    // for an answer nobody waits for. Set after migrating, which sets its own.
    const PgOutcome set =
        connection.run("SET statement_timeout = " + std::to_string(options_.query_timeout.count()), deadline);
    if (!set.ok()) return set.failure;
    return std::nullopt;
}

void PgStore::note_up() {
    if (up_logged_.load(std::memory_order_acquire)) return;  // the common case: no lock
    std::lock_guard lock(state_mutex_);
    if (logged_state_known_ && logged_up_) return;
    host_.log(sdk::LogLevel::info,
              logged_state_known_ ? "store.postgres.recovered" : "store.postgres.connected",
              {{"postgres", target_}});
    logged_state_known_ = true;
    logged_up_ = true;
    up_logged_.store(true, std::memory_order_release);
}

void PgStore::note_failure(const PgFailure& failure) {
    // Shutting down, or a busy moment (every connection in use), is no Postgres fault.
    if (failure.fault == PgFault::stopped || failure.fault == PgFault::busy) return;
    try {
        std::lock_guard lock(state_mutex_);
        if (logged_state_known_ && !logged_up_ && logged_fault_ == failure.fault) return;
        // A refused statement or schema is an operator's (or our) mistake: an error. An
        // unreachable or slow Postgres may be a restart: a warning.
        const bool mistake = failure.fault == PgFault::query_error || failure.fault == PgFault::schema;
        host_.log(mistake ? sdk::LogLevel::error : sdk::LogLevel::warn, "store.postgres.unavailable",
                  {{"postgres", target_}, {"detail", failure.detail}});
        logged_state_known_ = true;
        logged_up_ = false;
        up_logged_.store(false, std::memory_order_release);
        logged_fault_ = failure.fault;
    } catch (...) {
        // Logging only.
    }
}

void PgStore::observe(const PgOutcome& outcome) {
    if (outcome.ok()) {
        note_up();
    } else {
        note_failure(outcome.failure);
    }
}

// --- the sweeper ----------------------------------------------------------------------------

void PgStore::sweep_loop() {
    std::unique_lock lock(sweep_mutex_);
    while (!sweep_wake_.wait_for(lock, options_.sweep_interval, [this] { return sweep_stop_; })) {
        lock.unlock();
        sweep_once();
        lock.lock();
    }
}

long long PgStore::sweep_table(const char* table, const char* column) {
    // ctid picks the rows found without a second index lookup; SKIP LOCKED leaves rows an
    // operation holds (it may be renewing them) for a later pass, and lets sweepers of
    // several instances share the work.
    const std::string sql = std::string("WITH swept AS (DELETE FROM ") + table +
                            " WHERE ctid IN (SELECT ctid FROM " + table + " WHERE " + column +
                            " < now() LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) " +
                            "SELECT count(*) FROM swept";
    long long total = 0;
    for (int batch = 0; batch < options_.sweep_max_batches; ++batch) {
        const PgOutcome outcome =
            sweep_connection_.run(sql, {PgParam::text(std::to_string(options_.sweep_batch))},
                                  PgClock::now() + options_.query_timeout);
        observe(outcome);
        if (!outcome.ok()) return -1;
        const long long deleted = outcome.rows->integer(0, 0);
        total += deleted;
        if (deleted < options_.sweep_batch) break;
    }
    return total;
}

std::optional<long long> PgStore::sweep_once() {
    std::lock_guard lock(sweep_connection_mutex_);
    if (!schema_ready_.load()) return std::nullopt;  // the first connection migrates, not the sweeper
    if (!sweep_connection_.connected()) {
        auto failure = sweep_connection_.connect(PgClock::now() + options_.pool.connect_timeout);
        if (!failure) failure = prepare(sweep_connection_, PgClock::now() + options_.query_timeout);
        if (failure) {
            sweep_connection_.close();
            note_failure(*failure);
            return std::nullopt;
        }
    }
    long long total = 0;
    for (const auto& swept : kSweptTables) {
        const long long deleted = sweep_table(swept.table, swept.expiry_column);
        if (deleted < 0) return std::nullopt;
        total += deleted;
    }
    if (total > 0) {
        host_.log(sdk::LogLevel::debug, "store.postgres.swept",
                  {{"postgres", target_}, {"rows", std::to_string(total)}});
    }
    return total;
}

}  // namespace testino::plugins
