// A fixed-size pool of blocking hiredis connections with bounded waits everywhere:
//   - each store operation has a deadline, `command_timeout` from its start: waiting for a
//     free connection and every command it sends (redisSetTimeout, set to the time left:
//     the only protection against a frozen Redis, where the TCP connect still succeeds)
//     end by then;
//   - a connect takes at most `connect_timeout` on top (then AUTH / SELECT / PING);
//   - after a failed connect, callers fail fast for `reconnect_backoff` instead of each
//     trying again (one caller probes per backoff window).
// After any transport error a connection is closed, never reused: hiredis leaves the
// context broken. Connections are made lazily and remade as needed, so the pool recovers
// by itself when Redis comes back.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "redis_url.hpp"

namespace testino::plugins {

struct RedisPoolOptions {
    RedisEndpoint endpoint;
    std::size_t size = 8;
    std::chrono::milliseconds connect_timeout{500};
    std::chrono::milliseconds command_timeout{500};
    std::chrono::milliseconds reconnect_backoff{100};
};

// Why Redis could not be used. Every kind means "store unavailable" to a caller; the kind
// picks the log level and the health detail.
enum class RedisFault {
    unreachable,   // refused, reset, closed, timed out, pool exhausted
    auth_failed,   // NOAUTH / WRONGPASS / AUTH without a configured password
    invalid_db,    // SELECT refused the index
    reply_error,   // Redis answered a command with an error (a bug or a misconfigured server)
};

struct RedisFailure {
    RedisFault fault = RedisFault::unreachable;
    std::string detail;  // for logs and health; never a password
    // A reused connection that the server had closed (Redis restarted): nothing ran, so
    // the command can be sent again on a fresh connection.
    bool stale_connection = false;
};

struct RedisReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisPool;

// One connection, borrowed from the pool; returned (or closed, if broken) on destruction.
class RedisLease {
public:
    RedisLease(RedisLease&& other) noexcept;
    RedisLease& operator=(RedisLease&&) = delete;
    RedisLease(const RedisLease&) = delete;
    ~RedisLease();

    // Sends one command (binary-safe arguments) and reads its reply. On a transport error
    // returns nullptr with `failure` set, and the connection is closed. An error *reply*
    // (type REDIS_REPLY_ERROR) is returned as a reply: the connection is still fine.
    RedisReplyPtr command(const std::vector<std::string>& args, RedisFailure& failure);

    // True when the connection was made for this lease rather than taken from the idle set.
    bool fresh() const { return fresh_; }

private:
    friend class RedisPool;
    RedisLease(RedisPool& pool, redisContext* context, bool fresh,
               std::chrono::steady_clock::time_point deadline)
        : pool_(&pool), context_(context), fresh_(fresh), deadline_(deadline) {}

    RedisPool* pool_;
    redisContext* context_;
    bool fresh_;
    std::chrono::steady_clock::time_point deadline_;  // commands give up at this time
};

class RedisPool {
public:
    explicit RedisPool(RedisPoolOptions options);
    ~RedisPool();  // closes the idle connections; every lease must be gone
    RedisPool(const RedisPool&) = delete;
    RedisPool& operator=(const RedisPool&) = delete;

    // A connected, authenticated connection with its database selected, or the reason
    // there is none. Waits for a free slot until `deadline`; a connect made meanwhile takes
    // up to connect_timeout more, and moves the lease's deadline back by its duration.
    // The lease's commands give up at its deadline.
    std::optional<RedisLease> acquire(std::chrono::steady_clock::time_point deadline,
                                      RedisFailure& failure);

    // Closes every idle connection: after one was found dead (Redis restarted), the others
    // were opened to the same dead server.
    void drop_idle();

    const RedisPoolOptions& options() const { return options_; }

private:
    friend class RedisLease;
    void release(redisContext* context);  // nullptr: the slot's connection was closed
    // Connects (connect_timeout), moves `deadline` back by the time that took, and runs
    // the handshake within it.
    redisContext* connect(std::chrono::steady_clock::time_point& deadline, RedisFailure& failure);

    const RedisPoolOptions options_;

    std::mutex mutex_;
    std::condition_variable slot_freed_;
    std::size_t free_slots_;               // slots not leased
    std::vector<redisContext*> idle_;      // connections of free slots (fewer when closed)
    bool down_ = false;                    // the last connect failed
    std::chrono::steady_clock::time_point next_probe_{};  // while down: no connect before this
    RedisFailure last_connect_failure_;
};

}  // namespace testino::plugins
