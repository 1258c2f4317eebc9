#include "pg_connection.hpp"

#include <poll.h>

#include <cerrno>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace testino::plugins {
namespace {

constexpr unsigned kByteaOid = 17;  // pg_type.oid of bytea, for binary parameters

int remaining_ms(PgClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PgClock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// SQLSTATE classes: 57014 is a statement_timeout (or cancel); 53 is insufficient resources
// (disk full, out of memory); 08 is a connection exception.
PgFailure classify(const PGresult* result) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const std::string sqlstate = state ? state : "";
    const std::string detail =
        one_line(PQresultErrorMessage(result)) + (sqlstate.empty() ? "" : " [" + sqlstate + "]");
    if (sqlstate == "57014") return {PgFault::timeout, detail};
    if (sqlstate.rfind("53", 0) == 0) return {PgFault::full, detail};
    if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0) return {PgFault::unreachable, detail};
    return {PgFault::query_error, detail};
}

}  // namespace

std::string one_line(const char* message) {
    std::string text = message ? message : "";
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text.empty() ? "unknown libpq error" : text;
}

std::string PgRows::text(int row, int column) const {
    const char* value = PQgetvalue(result_.get(), row, column);
    return std::string(value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::int64_t PgRows::integer(int row, int column) const {
    const std::string value = text(row, column);
    std::size_t used = 0;
    const long long parsed = std::stoll(value, &used);
    if (used != value.size()) throw std::runtime_error("not an integer: " + value);
    return parsed;
}

PgConnection::PgConnection(std::string conninfo, std::string sslmode)
    : conninfo_(std::move(conninfo)), sslmode_(std::move(sslmode)) {}

PgConnection::~PgConnection() { close(); }

void PgConnection::close() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
}

void PgConnection::drop_if_closed() {
    if (!conn_) return;
    pollfd descriptor{PQsocket(conn_), POLLIN, 0};
    // An idle connection has nothing to read unless the server closed it (EOF, or its FATAL
    // message first) or sent a notice; reading tells which.
    if (::poll(&descriptor, 1, 0) <= 0) return;
    if (!PQconsumeInput(conn_) || PQstatus(conn_) == CONNECTION_BAD) close();
}

PgFailure PgConnection::broken(const std::string& what) {
    PgFailure failure{PgFault::unreachable, what + ": " + one_line(conn_ ? PQerrorMessage(conn_) : nullptr)};
    close();
    return failure;
}

bool PgConnection::wait_socket(short events, PgClock::time_point deadline) const {
    pollfd descriptor{PQsocket(conn_), events, 0};
    while (true) {
        const int ready = ::poll(&descriptor, 1, remaining_ms(deadline));
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) return true;  // let libpq find and report the error
    }
}

std::optional<PgFailure> PgConnection::connect(PgClock::time_point deadline) {
    close();
    // Keywords after the expanded dbname (the DSN) override its values: sslmode, when set,
    // wins over the DSN's. libpq's own connect_timeout counts whole seconds (at least 2); the
    // deadline here is ours, in milliseconds.
    std::vector<const char*> keys{"dbname", "application_name"};
    std::vector<const char*> values{conninfo_.c_str(), "testino"};
    if (!sslmode_.empty()) {
        keys.push_back("sslmode");
        values.push_back(sslmode_.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectStartParams(keys.data(), values.data(), 1);
    if (!conn_) return PgFailure{PgFault::unreachable, "connect: out of memory"};
    if (PQstatus(conn_) == CONNECTION_BAD) return broken("connect");
    // libpq prints the server's notices (e.g. "relation ... already exists, skipping") on
    // stderr by default, which would break the server's one-JSON-object-a-line output.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;  // libpq's documented start
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) return broken("connect");
        if (!wait_socket(state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            close();
            return PgFailure{PgFault::timeout, "connect: no answer before the deadline"};
        }
        state = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) return broken("connect");
    return std::nullopt;
}

std::optional<PgFailure> PgConnection::send(const std::string& sql, const std::vector<PgParam>& params,
                                            PgClock::time_point deadline) {
    int sent = 0;
    if (params.empty()) {
        sent = PQsendQuery(conn_, sql.c_str());
    } else {
        std::vector<unsigned> types;
        std::vector<const char*> values;
        std::vector<int> lengths;
        std::vector<int> formats;
        for (const auto& param : params) {
            types.push_back(param.binary ? kByteaOid : 0);
            values.push_back(param.null ? nullptr : param.value.data());
            lengths.push_back(static_cast<int>(param.value.size()));
            formats.push_back(param.binary ? 1 : 0);
        }
        sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(),
                                 values.data(), lengths.data(), formats.data(), 0);
    }
    if (!sent) return broken("send");
    // Non-blocking: the query may not all fit in the socket buffer at once.
    while (true) {
        const int flushed = PQflush(conn_);
        if (flushed == 0) return std::nullopt;
        if (flushed < 0) return broken("send");
        if (!wait_socket(POLLIN | POLLOUT, deadline)) {
            close();
            return PgFailure{PgFault::timeout, "send: the deadline passed"};
        }
        if (!PQconsumeInput(conn_)) return broken("send");
    }
}

PgOutcome PgConnection::collect(PgClock::time_point deadline) {
    PgOutcome outcome;
    std::optional<PgFailure> error;
    while (true) {
        while (PQisBusy(conn_)) {
            if (!wait_socket(POLLIN, deadline)) {
                // The server's statement_timeout cancels the statement there; the connection,
                // mid-reply, cannot be used again.
                close();
                outcome.failure = {PgFault::timeout, "query: no answer before the deadline"};
                return outcome;
            }
            if (!PQconsumeInput(conn_)) {
                outcome.failure = broken("query");
                return outcome;
            }
        }
        PGresult* result = PQgetResult(conn_);
        if (!result) break;
        const ExecStatusType status = PQresultStatus(result);
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            outcome.rows.emplace(result);
        } else {
            if (!error) error = classify(result);
            PQclear(result);
        }
    }
    if (PQstatus(conn_) == CONNECTION_BAD) {
        PgFailure failure = broken("query");
        if (!error) error = failure;
    }
    if (error) {
        outcome.rows.reset();
        outcome.failure = *error;
    } else if (!outcome.rows) {
        outcome.failure = {PgFault::query_error, "query: no result"};
    }
    return outcome;
}

PgOutcome PgConnection::run(const std::string& sql, const std::vector<PgParam>& params,
                            PgClock::time_point deadline) {
    PgOutcome outcome;
    if (!conn_) {
        outcome.failure = {PgFault::unreachable, "not connected"};
        return outcome;
    }
    if (auto failure = send(sql, params, deadline)) {
        outcome.failure = *failure;
        return outcome;
    }
    return collect(deadline);
}

}  // namespace testino::plugins
