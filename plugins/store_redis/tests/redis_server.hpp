// A private redis-server (or redis-sentinel) for a test: loopback only, a free port, no
// persistence, its own temp dir (log, Unix socket, config file). Started by the constructor (waits until PING
// answers), killed by the destructor. Tests stop, freeze and restart it to play Redis faults.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration_common.hpp"
#include "server_process.hpp"

namespace testino::test {

struct RedisServerOptions {
    std::string password;  // --requirepass when not empty
    bool start = true;     // false: pick the port, start later with start()
    // Appended to the command line, e.g. {"--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"}.
    std::vector<std::string> extra_args = {};
    // The program run: "redis-server", or "redis-sentinel" (then `config` names what it monitors).
    std::string program = "redis-server";
    // When not empty: written to <dir>/redis.conf and passed as the first argument, before the
    // command-line options; the file stays writable (Sentinel rewrites its config file).
    std::string config = {};
};

class RedisServer {
public:
    explicit RedisServer(RedisServerOptions options = {});
    ~RedisServer();  // SIGKILL and reap
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const { return port_; }
    std::string socket_path() const { return dir_.file("redis.sock"); }
    // Its own temp dir (also its --dir: relative file names in its config land here).
    const std::string& dir() const { return dir_.path(); }
    std::string log() const;  // its log file so far
    // redis://[:password@]127.0.0.1:<port>/<db>
    std::string url(int db = 0) const;
    std::string url_with_password(const std::string& password, int db = 0) const;

    // Starts redis-server (empty: persistence is off) and waits until PING answers; throws
    // std::runtime_error with its log if it does not.
    void start();
    void kill();    // SIGKILL, like a crash; the data is gone
    void freeze();  // SIGSTOP: connections open, nothing answers
    void thaw();    // SIGCONT
    bool running() const { return pid_ > 0; }

    // Runs one command on a fresh admin connection (authenticated, db selected);
    // returns the reply as text (integers in decimal, arrays one element a line),
    // or "ERR: ..." for an error reply or a connection failure.
    std::string command(const std::vector<std::string>& args, int db = 0) const;
    // Clients connected now (CLIENT LIST lines), the admin connection included.
    int connected_clients() const;

private:
    std::vector<std::string> command_line() const;

    RedisServerOptions options_;
    TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// eventually() and reaches() are in integration_common.hpp.

}  // namespace testino::test
