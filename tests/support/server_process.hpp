// Starting the real testino-server binary for integration tests: a fresh temp dir per
// process holding its config, its .env and its captured stdout/stderr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace testino::test {

// What to run. Every occurrence of "@TMP@" in config_yaml and dotenv is replaced by the
// process's temp dir (absolute), so a config can name files the test reads afterwards.
struct ProcessSpec {
    std::string binary;                      // path to testino-server
    std::optional<std::string> config_yaml;  // written to <tmp>/config.yaml, passed as --config
    std::vector<std::string> args;           // further arguments, after --config
    std::map<std::string, std::string> env;  // added to a minimal environment
    std::optional<std::string> dotenv;       // written to <tmp>/.env (the server's cwd)
};

// A directory under $TMPDIR (or /tmp), removed with everything in it on destruction,
// unless TESTINO_KEEP_TEST_DIRS is set in the test's environment (for post-mortems).
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    void write(const std::string& name, const std::string& content) const;

private:
    std::string path_;
};

// Reads a whole file; "" when it does not exist.
std::string read_text_file(const std::string& path);
// The complete lines of a text (a trailing partial line is left out).
std::vector<std::string> complete_lines(const std::string& text);

struct ProcessResult {
    int exit_code = -1;  // exit status, or -signal when killed by a signal
    bool timed_out = false;
    std::string stdout_text;
    std::string stderr_text;
};

class ServerProcess {
public:
    using LinePredicate = std::function<bool(const std::string& line)>;

    // Starts the server and, when wait_until_listening, waits (bounded) for the
    // `server.listening` log line; throws std::runtime_error with the captured output if the
    // process exits or stays silent instead.
    explicit ServerProcess(const ProcessSpec& spec, bool wait_until_listening = true,
                           std::chrono::milliseconds start_timeout = std::chrono::seconds(10));
    // SIGTERM, then SIGKILL if it has not exited within a few seconds; always reaps.
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    int port() const { return port_; }
    int admin_port() const { return admin_port_; }  // the admin listener's; 0 when it is off
    pid_t pid() const { return pid_; }
    const std::string& temp_dir() const { return dir_.path(); }
    std::string temp_file(const std::string& name) const { return dir_.file(name); }

    std::vector<std::string> log_lines() const;  // stdout, complete lines so far
    std::string stdout_text() const;
    std::string stderr_text() const;

    // Polls stdout until a line satisfies the predicate; returns that line, or nullopt on
    // timeout or when the process exits without writing one.
    std::optional<std::string> wait_for_log(const LinePredicate& predicate,
                                            std::chrono::milliseconds timeout);
    // As above, but waits until at least `count` lines match; returns the count-th match.
    std::optional<std::string> wait_for_log_count(const LinePredicate& predicate, std::size_t count,
                                                  std::chrono::milliseconds timeout);

    void send_signal(int signal_number) const;
    // The exit code (or -signal), or nullopt if still running after the timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running();

    // Runs the binary to completion (for --check-config, --list-plugins, start-up failures);
    // SIGKILLs it after the timeout and reports timed_out.
    static ProcessResult run_to_exit(const ProcessSpec& spec,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
    bool reap(bool block);

    TempDir dir_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    int port_ = 0;
    int admin_port_ = 0;
};

// True when a log line is a JSON object whose "event" equals the given name.
bool is_log_event(const std::string& line, const std::string& event);

}  // namespace testino::test
