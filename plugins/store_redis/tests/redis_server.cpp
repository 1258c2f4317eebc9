#include "redis_server.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

// hiredis writes with write(2): a test that writes to a killed Redis must not die of
// SIGPIPE (testino-server ignores it the same way, in main).
const bool kSigpipeIgnored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

std::string reply_text(const redisReply* reply) {
    switch (reply->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS: return std::string(reply->str, reply->len);
        case REDIS_REPLY_ERROR: return "ERR: " + std::string(reply->str, reply->len);
        case REDIS_REPLY_INTEGER: return std::to_string(reply->integer);
        case REDIS_REPLY_NIL: return "(nil)";
        case REDIS_REPLY_ARRAY: {
            std::string text;
            for (std::size_t i = 0; i < reply->elements; ++i) {
                text += (i ? "\n" : "") + reply_text(reply->element[i]);
            }
            return text;
        }
        default: return "ERR: unknown reply type";
    }
}

// One command on a new connection; "ERR: ..." on failure.
std::string run_command(int port, const std::string& password, const std::vector<std::string>& args, int db) {
    (void)kSigpipeIgnored;
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeval{1, 0});
    if (!context || context->err) {
        std::string error = context ? context->errstr : "out of memory";
        if (context) redisFree(context);
        return "ERR: " + error;
    }
    redisSetTimeout(context, timeval{2, 0});
    std::vector<std::vector<std::string>> commands;
    if (!password.empty()) commands.push_back({"AUTH", password});
    if (db != 0) commands.push_back({"SELECT", std::to_string(db)});
    commands.push_back(args);
    std::string result;
    for (const auto& command : commands) {
        std::vector<const char*> argv;
        std::vector<std::size_t> sizes;
        for (const auto& arg : command) {
            argv.push_back(arg.data());
            sizes.push_back(arg.size());
        }
        auto* reply = static_cast<redisReply*>(
            redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), sizes.data()));
        if (!reply) {
            result = std::string("ERR: ") + context->errstr;
            break;
        }
        result = reply_text(reply);
        freeReplyObject(reply);
        if (result.rfind("ERR: ", 0) == 0) break;
    }
    redisFree(context);
    return result;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
    port_ = free_loopback_port();
    if (!options_.start) return;
    start_on_a_free_port(port_, [this] { start(); });
}

RedisServer::~RedisServer() { kill(); }

std::string RedisServer::url(int db) const { return url_with_password(options_.password, db); }

std::string RedisServer::url_with_password(const std::string& password, int db) const {
    return "redis://" + (password.empty() ? std::string() : ":" + password + "@") +
           "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

// The program, its config file (written at the first start; a restart keeps what the
// program rewrote there), then the options.
std::vector<std::string> RedisServer::command_line() const {
    std::vector<std::string> args{options_.program};
    if (!options_.config.empty()) {
        const std::string config_file = dir_.file("redis.conf");
        if (access(config_file.c_str(), F_OK) != 0) dir_.write("redis.conf", options_.config);
        args.push_back(config_file);
    }
    const std::vector<std::string> common{
        "--port",    std::to_string(port_),  "--bind",       "127.0.0.1",   "--save",
        "",          "--appendonly",         "no",           "--dir",       dir_.path(),
        "--logfile", dir_.file("redis.log"), "--unixsocket", socket_path(), "--unixsocketperm",
        "700"};
    args.insert(args.end(), common.begin(), common.end());
    if (!options_.password.empty()) {
        args.push_back("--requirepass");
        args.push_back(options_.password);
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    return args;
}

void RedisServer::start() {
    if (pid_ > 0) return;
    std::vector<std::string> args = command_line();
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        execvp(options_.program.c_str(), argv.data());
        _exit(127);
    }
    pid_ = pid;

    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < give_up) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error(options_.program + " exited at start (is it installed?): " + log());
        }
        if (command({"PING"}) == "PONG") return;
        std::this_thread::sleep_for(10ms);
    }
    kill();
    throw std::runtime_error(options_.program + " did not answer PING within 10 s: " + log());
}

std::string RedisServer::log() const { return read_text_file(dir_.file("redis.log")); }

void RedisServer::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a frozen server must be able to die
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

void RedisServer::freeze() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string RedisServer::command(const std::vector<std::string>& args, int db) const {
    return run_command(port_, options_.password, args, db);
}

int RedisServer::connected_clients() const {
    const std::string list = command({"CLIENT", "LIST"});
    if (list.rfind("ERR: ", 0) == 0) return -1;
    int lines = 0;
    for (const char c : list) lines += c == '\n' ? 1 : 0;
    return list.empty() ? 0 : lines + (list.back() == '\n' ? 0 : 1);
}

}  // namespace testino::test
