// A private PostgreSQL server for a test (Debian's postgresql package): initdb into its own
// temp dir, the postmaster on a free loopback port (listen_addresses 127.0.0.1, its Unix
// socket in the temp dir), fsync off for speed (a killed postgres loses nothing the OS got; commits
// still wait for their WAL write). Password authentication over TCP (the
// superuser "testino" with kPassword), so tests can check the password never shows.
// Running as root, initdb and postgres refuse to start: they then run as `nobody`, owning
// the temp dir. Started by the constructor (waits until it accepts connections), killed by
// the destructor. Tests kill and restart it to play Postgres faults.
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "integration_common.hpp"
#include "server_process.hpp"

namespace testino::test {

// Skips the calling test when the PostgreSQL server binaries are not installed.
#define TESTINO_REQUIRE_POSTGRES()                                                                       \
    do {                                                                                                 \
        if (!::testino::test::PostgresServer::bin_dir()) {                                               \
            GTEST_SKIP() << "PostgreSQL server binaries (initdb, postgres) not found under "             \
                            "/usr/lib/postgresql/*/bin: install Debian's postgresql (scripts/setup.sh)"; \
        }                                                                                                \
    } while (false)

class PostgresServer {
public:
    static constexpr const char* kUser = "testino";
    static constexpr const char* kPassword = "pg-test-secret-4b1d";

    // The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres.
    static std::optional<std::string> bin_dir();

    // initdb now; start() too unless `start` is false (then the port is chosen, nothing listens).
    explicit PostgresServer(bool start = true);
    ~PostgresServer();  // SIGKILL and reap
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    int port() const { return port_; }
    std::string log() const;
    // postgresql://testino:<password>@127.0.0.1:<port>/<db>
    std::string dsn(const std::string& db = "postgres") const;
    std::string dsn_with_password(const std::string& password, const std::string& db = "postgres") const;

    // Starts the postmaster and waits until it accepts connections; throws
    // std::runtime_error with its log if it does not.
    void start();
    // SIGKILL to the postmaster and every backend, like a crash (the data stays: the next
    // start recovers it).
    void kill();
    bool running() const { return pid_ > 0; }

    // Runs `sql` on a fresh connection to `db`; the rows as text (columns '|', rows '\n'),
    // or "ERR: ..." for an error or a connection failure.
    std::string query(const std::string& sql, const std::string& db = "postgres") const;
    // A new, empty database with a name no other call returned.
    std::string create_database();

private:
    TempDir dir_;
    std::string bin_;
    int port_ = 0;
    pid_t pid_ = -1;
    int databases_ = 0;
};

// A connection a test holds open, e.g. to keep a LOCK while the store waits for it.
class PgSession {
public:
    explicit PgSession(const std::string& dsn);
    ~PgSession();
    PgSession(const PgSession&) = delete;
    PgSession& operator=(const PgSession&) = delete;
    // As PostgresServer::query.
    std::string query(const std::string& sql);

private:
    PGconn* conn_ = nullptr;
};

}  // namespace testino::test
