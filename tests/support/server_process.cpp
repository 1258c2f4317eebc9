#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

// The child gets a small, predictable environment: the test's own PORT, DEBUG or
// TOKEN_SECRET must not leak into the server under test. Sanitizer settings do pass.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> env;
    for (const char* name :
         {"PATH", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
        if (const char* value = std::getenv(name)) env[name] = value;
    }
    for (const auto& [name, value] : extra) env[name] = value;
    std::vector<std::string> entries;
    for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
    return entries;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Writes the config and .env into the dir, then forks and execs the binary there.
pid_t spawn(const ProcessSpec& spec, const TempDir& dir) {
    std::vector<std::string> argv{spec.binary};
    if (spec.config_yaml) {
        dir.write("config.yaml", replace_all(*spec.config_yaml, "@TMP@", dir.path()));
        argv.push_back("--config");
        argv.push_back(dir.file("config.yaml"));
    }
    if (spec.dotenv) dir.write(".env", replace_all(*spec.dotenv, "@TMP@", dir.path()));
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    std::vector<std::string> envp = child_environment(spec.env);

    // Everything the child touches is prepared here: after fork only async-signal-safe calls.
    std::vector<char*> argv_c = c_strings(argv);
    std::vector<char*> envp_c = c_strings(envp);
    const std::string stdout_path = dir.file("stdout.log");
    const std::string stderr_path = dir.file("stderr.log");
    const std::string& cwd = dir.path();
    const pid_t parent = getpid();

    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // A crashed or killed test run must not leave servers behind.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        const int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || err < 0 || in < 0 || chdir(cwd.c_str()) != 0) _exit(127);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
        // The test runner may block signals in its threads; the server expects defaults.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(argv_c[0], argv_c.data(), envp_c.data());
        _exit(127);
    }
    return pid;
}

int decode_wait_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1;
}

// A port the server.listening line names: "port", or the admin listener's "admin_port".
std::optional<int> listening_port(const std::string& line, const char* field = "port") {
    if (!is_log_event(line, "server.listening")) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    if (!doc.HasMember(field) || !doc[field].IsInt()) return std::nullopt;
    return doc[field].GetInt();
}

}  // namespace

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/testino-it-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    if (std::getenv("TESTINO_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

void TempDir::write(const std::string& name, const std::string& content) const {
    std::ofstream out(file(name), std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + file(name));
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> complete_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

bool is_log_event(const std::string& line, const std::string& event) {
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) return false;
    const auto found = doc.FindMember("event");
    return found != doc.MemberEnd() && found->value.IsString() && event == found->value.GetString();
}

ServerProcess::ServerProcess(const ProcessSpec& spec, bool wait_until_listening,
                             std::chrono::milliseconds start_timeout) {
    pid_ = spawn(spec, dir_);
    if (!wait_until_listening) return;
    const auto line =
        wait_for_log([](const std::string& l) { return listening_port(l).has_value(); }, start_timeout);
    if (!line) {
        const bool exited = !running();
        throw std::runtime_error(
            std::string("testino-server did not log server.listening") +
            (exited ? " (exited with " + std::to_string(*exit_code_) + ")" : " (timed out)") +
            "\n--- stdout ---\n" + stdout_text() + "--- stderr ---\n" + stderr_text());
    }
    port_ = *listening_port(*line);
    admin_port_ = listening_port(*line, "admin_port").value_or(0);
}

ServerProcess::~ServerProcess() {
    if (!running()) return;
    send_signal(SIGTERM);
    if (!wait_exit(std::chrono::seconds(5))) {
        send_signal(SIGKILL);
        wait_exit(std::chrono::seconds(5));
    }
}

std::vector<std::string> ServerProcess::log_lines() const { return complete_lines(stdout_text()); }

std::string ServerProcess::stdout_text() const { return read_text_file(dir_.file("stdout.log")); }

std::string ServerProcess::stderr_text() const { return read_text_file(dir_.file("stderr.log")); }

std::optional<std::string> ServerProcess::wait_for_log(const LinePredicate& predicate,
                                                       std::chrono::milliseconds timeout) {
    return wait_for_log_count(predicate, 1, timeout);
}

std::optional<std::string> ServerProcess::wait_for_log_count(const LinePredicate& predicate,
                                                             std::size_t count,
                                                             std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        // Check liveness first, so a process that wrote its last line and exited is still read.
        const bool alive = running();
        std::size_t matches = 0;
        for (const auto& line : log_lines()) {
            if (predicate(line) && ++matches == count) return line;
        }
        if (!alive || Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
}

void ServerProcess::send_signal(int signal_number) const {
    if (pid_ > 0 && !exit_code_) kill(pid_, signal_number);
}

bool ServerProcess::reap(bool block) {
    if (exit_code_) return true;
    int status = 0;
    pid_t got;
    do {
        got = waitpid(pid_, &status, block ? 0 : WNOHANG);
    } while (got < 0 && errno == EINTR);
    if (got == pid_) {
        exit_code_ = decode_wait_status(status);
        return true;
    }
    return false;
}

bool ServerProcess::running() { return pid_ > 0 && !reap(false); }

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
    return exit_code_;
}

ProcessResult ServerProcess::run_to_exit(const ProcessSpec& spec, std::chrono::milliseconds timeout) {
    ProcessResult result;
    ServerProcess process(spec, false);
    if (auto code = process.wait_exit(timeout)) {
        result.exit_code = *code;
    } else {
        result.timed_out = true;
        process.send_signal(SIGKILL);
        result.exit_code = process.wait_exit(std::chrono::seconds(5)).value_or(-1);
    }
    result.stdout_text = process.stdout_text();
    result.stderr_text = process.stderr_text();
    return result;
}

}  // namespace testino::test
