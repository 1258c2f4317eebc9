// One asynchronous hiredis connection on the client's libevent loop, with its handshake
// (AUTH, SELECT or PING) and a timer that bounds connect plus handshake: hiredis 0.14's
// async connect has no timeout of its own.
//
// Everything here runs on the loop thread. hiredis frees a context by itself when the
// server closes it or a read fails; the static callbacks compare the context they are
// given with the one this object holds, so a context being freed never reaches a newer one.
#pragma once

#include <hiredis/async.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "redis_url.hpp"

struct event;
struct event_base;

namespace testino::plugins {

struct RedisClientOptions {
    RedisEndpoint endpoint;
    std::size_t connections = 2;  // pipelined connections
    std::chrono::milliseconds connect_timeout{500};
    std::chrono::milliseconds command_timeout{500};
    std::chrono::milliseconds reconnect_backoff{100};
    std::size_t max_pending = 65536;  // operations queued or in flight; more are refused
};

// Why Redis could not be used. Every kind means "store unavailable" to a caller; the kind
// picks the log level and the health detail.
enum class RedisFault {
    unreachable,  // refused, reset, closed, timed out, too many operations waiting
    auth_failed,  // NOAUTH / WRONGPASS / AUTH without a configured password
    invalid_db,   // SELECT refused the index
    reply_error,  // Redis answered a command with an error (a bug or a misconfigured server)
    stopped,      // the store is being destroyed: not a Redis fault, never logged
};

struct RedisFailure {
    RedisFault fault = RedisFault::unreachable;
    std::string detail;  // for logs and health; never a password
    // The server closed a working connection (Redis restarted): the operation may be
    // sent once more on a fresh connection.
    bool retryable = false;
};

RedisFailure command_timed_out(std::chrono::milliseconds timeout);

class RedisConnection {
public:
    // What the connection tells its owner. Called on the loop thread, possibly from
    // inside a hiredis callback: a listener must not connect or free a connection there.
    class Listener {
    public:
        virtual ~Listener() = default;
        virtual void on_ready(RedisConnection& connection) = 0;
        // Connect or handshake failed; the connection is empty again.
        virtual void on_connect_failed(RedisConnection& connection, const RedisFailure& why) = 0;
        // A ready connection was closed by the server; its commands were answered first.
        virtual void on_lost(RedisConnection& connection) = 0;
        // The reply to send(tag); nullptr when the connection closed first (`why` says why).
        virtual void on_reply(RedisConnection& connection, std::uint64_t tag, const redisReply* reply,
                              const RedisFailure& why) = 0;
        // A message on a channel subscribe() asked for (the subscription's own replies too).
        virtual void on_message(RedisConnection& /*connection*/, const redisReply& /*message*/) {}
    };

    enum class State { empty, connecting, ready };

    RedisConnection(event_base& base, const RedisClientOptions& options, Listener& listener);
    ~RedisConnection();  // closes: pending commands are answered nullptr (kind `stopped`)
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Starts connecting (empty only). Failing at once is reported through on_connect_failed
    // before this returns.
    void connect();
    // Queues one command (binary-safe arguments) on a ready connection; false if hiredis
    // refused it (the connection is going away).
    bool send(const std::vector<std::string>& args, std::uint64_t tag);
    // SUBSCRIBE on a ready connection, which then takes no other command; messages go to
    // on_message. False if hiredis refused it.
    bool subscribe(const std::string& channel);
    // Frees the context: every pending command is answered nullptr with `why`. No listener
    // call other than on_reply. Safe inside a reply callback (hiredis defers the free).
    void close(const RedisFailure& why);

    State state() const { return state_; }
    std::size_t pending() const { return pending_; }

private:
    static void on_connect(const redisAsyncContext* context, int status);
    static void on_disconnect(const redisAsyncContext* context, int status);
    static void on_handshake_reply(redisAsyncContext* context, void* reply, void* step);
    static void on_command_reply(redisAsyncContext* context, void* reply, void* tag);
    static void on_subscribed_message(redisAsyncContext* context, void* reply, void* unused);
    static void on_timer(int fd, short what, void* self);

    bool start_handshake();
    void handshake_reply(std::size_t step, const redisReply* reply);
    void fail_connect(const RedisFailure& why);  // close, then tell the listener
    // Why the server-side close happened, from hiredis's error on `context`.
    RedisFailure lost_failure(const redisAsyncContext& context) const;

    event_base& base_;
    const RedisClientOptions& options_;
    Listener& listener_;
    event* timer_;  // connect, then handshake
    redisAsyncContext* context_ = nullptr;
    State state_ = State::empty;
    bool tcp_connected_ = false;
    std::vector<std::string> handshake_names_;  // "AUTH", "SELECT", "PING": steps in order
    std::size_t pending_ = 0;                   // commands sent, not yet answered
    RedisFailure closing_;                      // set by close(): the answer to pending ones
    bool closing_set_ = false;
};

}  // namespace testino::plugins
