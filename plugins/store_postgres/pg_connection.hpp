// One libpq connection, driven without blocking past a deadline: connecting
// (PQconnectStartParams + PQconnectPoll) and each query (PQsendQueryParams, then poll(2) on
// the socket) give up when their deadline passes, so a Postgres that hangs holds a worker
// for at most one operation's deadline. Used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace testino::plugins {

using PgClock = std::chrono::steady_clock;

// Why an operation on Postgres failed; the store maps each to a typed store result.
enum class PgFault {
    unreachable,  // connecting failed, or the connection broke
    timeout,      // the deadline passed (client side) or statement_timeout cancelled it
    full,         // the server is out of disk or memory (SQLSTATE class 53)
    query_error,  // the server refused the statement (a bug, a permission, a schema problem)
    schema,       // the database's schema is not one this binary can use
    busy,         // no connection was free before the deadline (the queue was full or slow)
    stopped,      // the store is shutting down
};

struct PgFailure {
    PgFault fault = PgFault::unreachable;
    std::string detail;  // never holds the password: libpq's messages do not repeat it
};

// A parameter: text, or bytes sent in binary format as bytea; null when `null` is set.
struct PgParam {
    std::string value;
    bool binary = false;
    bool null = false;

    static PgParam text(std::string value) { return {std::move(value), false, false}; }
    static PgParam bytes(std::string value) { return {std::move(value), true, false}; }
    static PgParam none() { return {{}, false, true}; }
};

// The rows of one statement, in text format.
class PgRows {
public:
    explicit PgRows(PGresult* result) : result_(result, &PQclear) {}
    int size() const { return PQntuples(result_.get()); }
    int columns() const { return PQnfields(result_.get()); }
    bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
    std::string text(int row, int column) const;
    // Throws std::runtime_error for a value that is not an integer.
    std::int64_t integer(int row, int column) const;

private:
    std::shared_ptr<PGresult> result_;
};

struct PgOutcome {
    std::optional<PgRows> rows;  // set on success
    PgFailure failure;           // meaningful when !rows

    bool ok() const { return rows.has_value(); }
};

class PgConnection {
public:
    // `conninfo` is a libpq connection string or URI; `sslmode`, when not empty, overrides
    // the one it holds.
    PgConnection(std::string conninfo, std::string sslmode);
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    bool connected() const { return conn_ != nullptr; }
    // Opens a fresh connection, or fails by `deadline`.
    std::optional<PgFailure> connect(PgClock::time_point deadline);
    void close();
    // Closes a connection the server has closed (restart, idle timeout, terminated backend)
    // while it was idle: without sending anything, so a statement never runs twice. Cheap:
    // one poll(2) with no wait.
    void drop_if_closed();

    // Runs `sql` (one statement with $n parameters; with none, several statements may be
    // separated by ';'), waiting at most until `deadline`. On a timeout or a broken
    // connection the connection is closed: the next use reconnects. The first error of a
    // multi-statement text is the outcome.
    PgOutcome run(const std::string& sql, const std::vector<PgParam>& params, PgClock::time_point deadline);
    PgOutcome run(const std::string& sql, PgClock::time_point deadline) { return run(sql, {}, deadline); }

private:
    // Waits until the socket is ready for `events` (POLLIN/POLLOUT); false on the deadline.
    bool wait_socket(short events, PgClock::time_point deadline) const;
    std::optional<PgFailure> send(const std::string& sql, const std::vector<PgParam>& params,
                                  PgClock::time_point deadline);
    PgOutcome collect(PgClock::time_point deadline);
    PgFailure broken(const std::string& what);  // closes; the failure names libpq's reason

    const std::string conninfo_;
    const std::string sslmode_;
    PGconn* conn_ = nullptr;
};

// libpq's message on one line, without its trailing newline.
std::string one_line(const char* message);

}  // namespace testino::plugins
