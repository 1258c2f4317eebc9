#include "redis_pool.hpp"

#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace testino::plugins {
namespace {

using Clock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::milliseconds duration) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
    return tv;
}

bool starts_with(const std::string& text, const char* prefix) {
    return text.rfind(prefix, 0) == 0;
}

std::string lowercase_first(std::string text) {
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
    return text;
}

// The failure a broken context reports. hiredis says "Resource temporarily unavailable"
// for a command timeout (SO_RCVTIMEO); name it for what it is.
RedisFailure timed_out(std::chrono::milliseconds timeout);

RedisFailure transport_failure(const redisContext& context, std::chrono::milliseconds timeout) {
    const int error = errno;
    if (context.err == REDIS_ERR_IO && (error == EAGAIN || error == EWOULDBLOCK ||
                                        std::strstr(context.errstr, "temporarily unavailable"))) {
        return timed_out(timeout);
    }
    RedisFailure failure;
    failure.fault = RedisFault::unreachable;
    failure.detail = lowercase_first(context.errstr[0] ? context.errstr : "connection failed");
    failure.stale_connection =
        context.err == REDIS_ERR_EOF ||
        (context.err == REDIS_ERR_IO && (error == ECONNRESET || error == EPIPE ||
                                         std::strstr(context.errstr, "reset by peer") ||
                                         std::strstr(context.errstr, "Broken pipe")));
    return failure;
}

// Classifies an error reply to the connection handshake.
RedisFailure handshake_failure(const std::string& command, const std::string& error, long long db) {
    RedisFailure failure;
    if (starts_with(error, "NOAUTH") || starts_with(error, "WRONGPASS") ||
        error.find("invalid password") != std::string::npos ||
        error.find("without any password configured") != std::string::npos ||
        (command == "AUTH" && starts_with(error, "ERR"))) {
        failure.fault = RedisFault::auth_failed;
        failure.detail = "authentication failed (" + error + ")";
    } else if (command == "SELECT") {
        failure.fault = RedisFault::invalid_db;
        failure.detail = "invalid DB index " + std::to_string(db) + " (" + error + ")";
    } else {
        failure.fault = RedisFault::reply_error;
        failure.detail = command + " failed: " + error;
    }
    return failure;
}

RedisFailure timed_out(std::chrono::milliseconds timeout) {
    return {RedisFault::unreachable,
            "no answer within the command timeout (" + std::to_string(timeout.count()) + " ms)", false};
}

// Sends one command on `context` and reads the reply, giving up at `deadline` (the socket
// timeout is set to the time left before each command). On a transport error returns
// nullptr, sets `failure`, and closes the context (hiredis leaves it broken: never reuse it).
RedisReplyPtr send_command(redisContext*& context, const std::vector<std::string>& args,
                           Clock::time_point deadline, std::chrono::milliseconds command_timeout,
                           RedisFailure& failure) {
    if (!context) {
        failure = {RedisFault::unreachable, "connection already closed", false};
        return nullptr;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
        failure = timed_out(command_timeout);  // nothing sent: the connection stays usable
        return nullptr;
    }
    if (redisSetTimeout(context, to_timeval(left)) != REDIS_OK) {
        failure = {RedisFault::unreachable, "cannot set the command timeout", false};
        redisFree(context);
        context = nullptr;
        return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> argv_sizes;
    argv.reserve(args.size());
    argv_sizes.reserve(args.size());
    for (const auto& arg : args) {
        argv.push_back(arg.data());
        argv_sizes.push_back(arg.size());
    }
    errno = 0;
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), argv_sizes.data()));
    if (!reply || context->err) {
        if (reply) freeReplyObject(reply);
        failure = transport_failure(*context, command_timeout);
        redisFree(context);
        context = nullptr;
        return nullptr;
    }
    return RedisReplyPtr(reply);
}

}  // namespace

// ---- RedisLease ----

RedisLease::RedisLease(RedisLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      context_(std::exchange(other.context_, nullptr)),
      fresh_(other.fresh_),
      deadline_(other.deadline_) {}

RedisLease::~RedisLease() {
    if (pool_) pool_->release(context_);
}

RedisReplyPtr RedisLease::command(const std::vector<std::string>& args, RedisFailure& failure) {
    return send_command(context_, args, deadline_, pool_->options().command_timeout, failure);
}

// ---- RedisPool ----

RedisPool::RedisPool(RedisPoolOptions options)
    : options_(std::move(options)), free_slots_(options_.size == 0 ? 1 : options_.size) {
    idle_.reserve(free_slots_);
}

RedisPool::~RedisPool() {
    for (redisContext* context : idle_) redisFree(context);
}

void RedisPool::drop_idle() {
    std::vector<redisContext*> closing;
    {
        std::lock_guard lock(mutex_);
        closing.swap(idle_);
    }
    for (redisContext* context : closing) redisFree(context);
}

void RedisPool::release(redisContext* context) {
    {
        std::lock_guard lock(mutex_);
        if (context) idle_.push_back(context);
        ++free_slots_;
    }
    slot_freed_.notify_one();
}

std::optional<RedisLease> RedisPool::acquire(Clock::time_point deadline, RedisFailure& failure) {
    redisContext* context = nullptr;
    {
        std::unique_lock lock(mutex_);
        if (!slot_freed_.wait_until(lock, deadline, [this] { return free_slots_ > 0; })) {
            failure = {RedisFault::unreachable,
                       "no free connection within the command timeout (" +
                           std::to_string(options_.command_timeout.count()) + " ms, pool of " +
                           std::to_string(options_.size) + ")",
                       false};
            return std::nullopt;
        }
        --free_slots_;
        if (!idle_.empty()) {
            context = idle_.back();
            idle_.pop_back();
            return RedisLease(*this, context, false, deadline);
        }
        if (down_) {
            // Don't hammer a dead Redis: one caller probes per backoff window.
            const auto now = Clock::now();
            if (now < next_probe_) {
                failure = last_connect_failure_;
                ++free_slots_;
                lock.unlock();
                slot_freed_.notify_one();
                return std::nullopt;
            }
            next_probe_ = now + options_.reconnect_backoff;
        }
    }

    // The slot is ours; connect outside the lock. Connecting has its own timeout, which
    // does not eat into the command's.
    context = connect(deadline, failure);
    std::lock_guard lock(mutex_);
    if (!context) {
        down_ = true;
        next_probe_ = Clock::now() + options_.reconnect_backoff;
        last_connect_failure_ = failure;
        ++free_slots_;
        slot_freed_.notify_one();
        return std::nullopt;
    }
    down_ = false;
    return RedisLease(*this, context, true, deadline);
}

redisContext* RedisPool::connect(Clock::time_point& deadline, RedisFailure& failure) {
    const RedisEndpoint& endpoint = options_.endpoint;
    const auto connect_started = Clock::now();
    const timeval connect_timeout = to_timeval(options_.connect_timeout);
    errno = 0;
    redisContext* context =
        endpoint.transport == RedisEndpoint::Transport::unix_socket
            ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), connect_timeout)
            : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect_timeout);
    if (!context) {
        failure = {RedisFault::unreachable, "out of memory allocating a connection", false};
        return nullptr;
    }
    if (context->err) {
        failure = {RedisFault::unreachable,
                   "cannot connect: " + lowercase_first(context->errstr), false};
        redisFree(context);
        return nullptr;
    }
    deadline += Clock::now() - connect_started;
    // TCP keep-alive notices a peer that vanished while the connection was idle. (On a Unix
    // socket it fails, and hiredis would then mark the context as broken.)
    if (endpoint.transport == RedisEndpoint::Transport::tcp && redisEnableKeepAlive(context) != REDIS_OK) {
        failure = {RedisFault::unreachable, "cannot enable TCP keep-alive", false};
        redisFree(context);
        return nullptr;
    }

    // The handshake, with the command's own time (the connect time is not counted):
    // authenticate, select the database, or at least PING, so that a bad
    // password or index shows now, as such, and not as the first command's error.
    std::vector<std::pair<std::string, std::vector<std::string>>> steps;
    if (!endpoint.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!endpoint.username.empty()) auth.push_back(endpoint.username);
        auth.push_back(endpoint.password);
        steps.emplace_back("AUTH", std::move(auth));
    }
    if (endpoint.db != 0) steps.emplace_back("SELECT", std::vector<std::string>{"SELECT", std::to_string(endpoint.db)});
    if (steps.empty()) steps.emplace_back("PING", std::vector<std::string>{"PING"});

    for (const auto& [name, args] : steps) {
        RedisReplyPtr reply = send_command(context, args, deadline, options_.command_timeout, failure);
        if (!reply) {
            if (context) redisFree(context);  // out of time before sending: still open
            return nullptr;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            failure = handshake_failure(name, std::string(reply->str, reply->len), endpoint.db);
            redisFree(context);
            return nullptr;
        }
    }
    return context;
}

}  // namespace testino::plugins
