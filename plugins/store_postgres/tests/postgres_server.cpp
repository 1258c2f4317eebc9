#include "postgres_server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

constexpr uid_t kNobody = 65534;  // Debian's nobody and nogroup

bool running_as_root() { return geteuid() == 0; }

// Runs `args` (a path, then its arguments) with stdout and stderr to `log`, as nobody when
// we are root; `own_group`: in a process group of its own. Returns the child's pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid > 0) return pid;
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
    }
    if (running_as_root()) {
        // initdb and postgres refuse to run as root.
        if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
}

int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The pids whose parent is `parent` (the postmaster's backends and helpers).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int ppid = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) {
            children.push_back(static_cast<pid_t>(std::stoi(name)));
        }
    }
    return children;
}

// Gone, or a zombie: it holds no shared memory any more.
bool gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto close = line.rfind(')');
    return close == std::string::npos || line.find('Z', close) == close + 2;
}

std::string result_text(PGconn* conn, PGresult* result) {
    if (!result) return "ERR: " + std::string(PQerrorMessage(conn));
    const ExecStatusType status = PQresultStatus(result);
    std::string text;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        text = "ERR: " + std::string(PQresultErrorMessage(result));
    } else {
        for (int row = 0; row < PQntuples(result); ++row) {
            for (int column = 0; column < PQnfields(result); ++column) {
                text += (column ? "|" : "") + std::string(PQgetvalue(result, row, column));
            }
            if (row + 1 < PQntuples(result)) text += "\n";
        }
    }
    PQclear(result);
    return text;
}

}  // namespace

std::optional<std::string> PostgresServer::bin_dir() {
    std::vector<std::filesystem::path> found;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
        const auto bin = entry.path() / "bin";
        if (access((bin / "initdb").c_str(), X_OK) == 0 && access((bin / "postgres").c_str(), X_OK) == 0) {
            found.push_back(bin);
        }
    }
    if (found.empty()) return std::nullopt;
    // Numeric versions: "15" before "16", and "9.6" before both.
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        return std::stod(a.parent_path().filename().string()) <
               std::stod(b.parent_path().filename().string());
    });
    return found.back().string();
}

PostgresServer::PostgresServer(bool start_now) {
    const auto bin = bin_dir();
    if (!bin)
        throw std::runtime_error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin");
    bin_ = *bin;
    port_ = free_loopback_port();
    dir_.write("pwfile", std::string(kPassword) + "\n");
    if (running_as_root()) {
        for (const auto& path : {dir_.path(), dir_.file("pwfile")}) {
            if (chown(path.c_str(), kNobody, kNobody) != 0)
                throw std::runtime_error("chown " + path + " failed");
        }
    }
    const int status = wait_exit(
        spawn({bin_ + "/initdb", "-D", dir_.file("data"), "-U", kUser, "--pwfile=" + dir_.file("pwfile"),
               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"},
              dir_.file("initdb.log")));
    if (status != 0) throw std::runtime_error("initdb failed: " + read_text_file(dir_.file("initdb.log")));
    if (!start_now) return;
    start_on_a_free_port(port_, [this] { start(); });
}

PostgresServer::~PostgresServer() { kill(); }

std::string PostgresServer::log() const { return read_text_file(dir_.file("postgres.log")); }

std::string PostgresServer::dsn(const std::string& db) const { return dsn_with_password(kPassword, db); }

std::string PostgresServer::dsn_with_password(const std::string& password, const std::string& db) const {
    return std::string("postgresql://") + kUser + ":" + password + "@127.0.0.1:" + std::to_string(port_) +
           "/" + db;
}

void PostgresServer::start() {
    if (pid_ > 0) return;
    pid_ = spawn({bin_ + "/postgres", "-D", dir_.file("data"), "-p", std::to_string(port_), "-k", dir_.path(),
                  "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                  "max_connections=200", "-c", "shared_buffers=16MB"},
                 dir_.file("postgres.log"));
    const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                             " dbname=postgres user=" + kUser + " connect_timeout=2";
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < give_up) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("postgres exited at start: " + log());
        }
        if (PQping(ping.c_str()) == PQPING_OK) return;
        std::this_thread::sleep_for(20ms);
    }
    kill();
    throw std::runtime_error("postgres did not accept connections within 30 s: " + log());
}

void PostgresServer::kill() {
    if (pid_ <= 0) return;
    const std::vector<pid_t> children = children_of(pid_);
    ::kill(pid_, SIGKILL);
    for (const pid_t child : children) ::kill(child, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
    // The next start refuses while an old backend still holds the shared memory.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    for (const pid_t child : children) {
        while (!gone(child) && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(5ms);
    }
}

std::string PostgresServer::query(const std::string& sql, const std::string& db) const {
    PgSession session(dsn(db));
    return session.query(sql);
}

std::string PostgresServer::create_database() {
    const std::string name = "testino_" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
    const std::string created = query("CREATE DATABASE " + name);
    if (created.rfind("ERR: ", 0) == 0) throw std::runtime_error("CREATE DATABASE " + name + ": " + created);
    return name;
}

PgSession::PgSession(const std::string& dsn) : conn_(PQconnectdb((dsn + "?connect_timeout=2").c_str())) {}

PgSession::~PgSession() { PQfinish(conn_); }

std::string PgSession::query(const std::string& sql) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
        return "ERR: " + std::string(conn_ ? PQerrorMessage(conn_) : "");
    return result_text(conn_, PQexec(conn_, sql.c_str()));
}

}  // namespace testino::test
