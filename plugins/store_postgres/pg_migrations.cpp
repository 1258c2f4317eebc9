#include "pg_migrations.hpp"

#include <algorithm>

namespace testino::plugins {
namespace {

constexpr const char* kVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS testino_schema_version (
  version integer PRIMARY KEY,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

std::string quoted(const std::string& text) {
    std::string out = "'";
    for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

long long left_ms(PgClock::time_point deadline) {
    return std::max<long long>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PgClock::now()).count());
}

std::optional<PgFailure> failed(const PgOutcome& outcome, const std::string& what) {
    if (outcome.ok()) return std::nullopt;
    PgFailure failure = outcome.failure;
    failure.detail = what + ": " + failure.detail;
    return failure;
}

// Everything after the lock is taken; the caller releases it.
PgMigrationResult migrate_locked(PgConnection& connection, PgClock::time_point deadline,
                                 const std::vector<PgMigration>& migrations) {
    PgMigrationResult result;
    if ((result.failure = failed(connection.run(kVersionTable, deadline), "schema version table")))
        return result;
    const PgOutcome current =
        connection.run("SELECT coalesce(max(version), 0) FROM testino_schema_version", deadline);
    if ((result.failure = failed(current, "schema version"))) return result;
    result.from = result.to = static_cast<int>(current.rows->integer(0, 0));
    const int known = migrations.empty() ? 0 : migrations.back().version;
    if (result.from > known) {
        result.failure = PgFailure{PgFault::schema,
                                   "the database schema is at version " + std::to_string(result.from) +
                                       ", newer than this testino-server knows (" + std::to_string(known) +
                                       "): run a testino-server at least as new as the one that migrated it"};
        return result;
    }
    for (const auto& migration : migrations) {
        if (migration.version <= result.to) continue;
        const std::string text = "BEGIN;\n" + migration.sql +
                                 ";\nINSERT INTO testino_schema_version (version, description) VALUES (" +
                                 std::to_string(migration.version) + ", " + quoted(migration.description) +
                                 ");\nCOMMIT;";
        const PgOutcome applied = connection.run(text, deadline);
        if (!applied.ok()) {
            // A failed statement leaves the transaction open and aborted.
            if (connection.connected()) connection.run("ROLLBACK", deadline);
            result.failure = failed(applied, "migration " + std::to_string(migration.version) + " (" +
                                                 migration.description + ")");
            return result;
        }
        result.to = migration.version;
    }
    return result;
}

}  // namespace

const std::vector<PgMigration>& pg_migrations() {
    static const std::vector<PgMigration> migrations{
        {
            1,
            "codes, counters, refresh families and their functions",
#include "pg_schema_v1.sql.inc"
        },
        {
            2,
            "records and queues",
#include "pg_schema_v2.sql.inc"
        },
    };
    return migrations;
}

int pg_known_schema_version() { return pg_migrations().back().version; }

PgMigrationResult apply_migrations(PgConnection& connection, PgClock::time_point deadline,
                                   const std::vector<PgMigration>& migrations) {
    PgMigrationResult result;
    // Waiting for another instance's lock counts against the deadline too.
    const PgOutcome timeout =
        connection.run("SET statement_timeout = " + std::to_string(left_ms(deadline)), deadline);
    if ((result.failure = failed(timeout, "migrations"))) return result;
    const PgOutcome locked =
        connection.run("SELECT pg_advisory_lock(" + std::to_string(kPgMigrationLock) + ")", deadline);
    if ((result.failure = failed(locked, "migration lock"))) return result;
    result = migrate_locked(connection, deadline, migrations);
    // A broken connection released the session's lock with it.
    if (connection.connected()) {
        connection.run("SELECT pg_advisory_unlock(" + std::to_string(kPgMigrationLock) + ")", deadline);
    }
    return result;
}

}  // namespace testino::plugins
