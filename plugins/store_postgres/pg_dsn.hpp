// The Postgres DSN: a libpq connection string ("host=... dbname=...") or URI
// ("postgresql://user:password@host:port/db?sslmode=..."). It may hold the password, so it
// is a secret: logs and health name the target through describe_dsn(), which leaves the
// password out.
#pragma once

#include <stdexcept>
#include <string>

namespace testino::plugins {

// A DSN libpq cannot parse. The message never repeats the DSN.
class PgDsnError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws PgDsnError unless libpq can parse `dsn`.
void check_dsn(const std::string& dsn);

// "user@host:port/dbname" from the DSN, with libpq's defaults for what it leaves out; never
// the password. Throws PgDsnError for a DSN libpq cannot parse.
std::string describe_dsn(const std::string& dsn);

// Throws PgDsnError unless `sslmode` is empty or one of libpq's modes.
void check_sslmode(const std::string& sslmode);

}  // namespace testino::plugins
