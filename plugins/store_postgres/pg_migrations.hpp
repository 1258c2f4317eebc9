// Versioned migrations of the store's schema. The database records the versions applied in
// testino_schema_version; at start-up (and whenever a connection finds the schema not yet
// checked) the store applies the ones it lacks, each in its own transaction, under a
// session advisory lock, so that instances starting together apply each migration once. A
// database whose version is newer than this binary knows is refused (PgFault::schema):
// an older binary must not write rows a newer schema reads differently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_connection.hpp"

namespace testino::plugins {

struct PgMigration {
    int version;
    std::string description;
    std::string sql;
};

// Every migration this binary knows, in order (versions 1, 2, ...).
const std::vector<PgMigration>& pg_migrations();
int pg_known_schema_version();

// The advisory lock key migrations hold (pg_advisory_lock), "testino" in ASCII.
inline constexpr long long kPgMigrationLock = 0x74657374696e6fLL;

struct PgMigrationResult {
    int from = 0;  // the database's version before
    int to = 0;    // and after
    std::optional<PgFailure> failure;
};

// Applies the pending migrations of `migrations` (pg_migrations() outside tests) by
// `deadline`. A statement_timeout of the time left applies while it runs; the caller sets its
// own again afterwards.
PgMigrationResult apply_migrations(PgConnection& connection, PgClock::time_point deadline,
                                   const std::vector<PgMigration>& migrations = pg_migrations());

}  // namespace testino::plugins
