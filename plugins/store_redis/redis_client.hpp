// The asynchronous Redis client under the store: requests from any thread go into a
// mutex-protected queue; the loop thread sends them on a few connections (the least busy
// ready one), pipelined, and answers each exactly once on the loop thread:
//   - every request has a deadline, `command_timeout` from its submission (queue wait,
//     connect and handshake included), enforced by a timer on the loop: hiredis 0.14 has no
//     command timeout. A connection whose command timed out is taken for frozen and
//     dropped; its other commands are answered `unavailable`; it reconnects lazily;
//   - a script answered NOSCRIPT is loaded (SCRIPT LOAD) and run again;
//   - after a failed connect, requests fail fast for `reconnect_backoff` (one probe per
//     window) instead of each waiting for a connect of its own;
//   - a working connection the server closed (Redis restarted) costs no failed request:
//     its requests are sent once more on a fresh connection.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis_connection.hpp"
#include "redis_event_loop.hpp"

namespace testino::plugins {

struct RedisScript {
    const char* name;
    std::string body;
    std::string sha1;  // hex, as EVALSHA wants it
};

// The answer to one request: a reply (valid during the call only), or why there is none.
// An error reply is a failure (kind reply_error).
struct RedisOutcome {
    const redisReply* reply = nullptr;
    RedisFailure failure;
};

struct RedisRequest {
    const char* name = "";  // for error details: the script's name or the command
    std::vector<std::string> command;
    const RedisScript* script = nullptr;  // the command is EVALSHA of it: reload on NOSCRIPT
    // Called exactly once, on the loop thread (or in submit() when refused), with no lock
    // of the client held. Must not throw.
    std::function<void(const RedisOutcome&)> done;
};

class RedisClient final : private RedisConnection::Listener {
public:
    // `on_script_loaded` runs on the loop thread after each SCRIPT LOAD.
    RedisClient(RedisClientOptions options, std::function<void(const RedisScript&)> on_script_loaded);
    // Refuses new requests, answers every queued and in-flight one (kind `stopped`), joins
    // the loop thread. Must not run on the loop thread (inside a completion).
    ~RedisClient() override;
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Any thread; returns at once.
    void submit(RedisRequest request) noexcept;

    const RedisClientOptions& options() const { return options_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Op;

    // Loop thread.
    void on_wake();
    void process();  // send what waits, open connections, arm the deadline timer
    void dispatch_waiting();
    void open_connections();
    void arm_deadline_timer();
    void expire_overdue();
    void shutdown();
    bool send(Op& op, RedisConnection& connection, const std::vector<std::string>& command);
    void load_script(Op& op, RedisConnection& connection);
    void script_loaded(Op& op, RedisConnection& connection, const redisReply& reply);
    void retry_or_fail(Op& op, const RedisFailure& why);
    void fail_waiting(const RedisFailure& why);
    void complete(std::uint64_t id, const RedisOutcome& outcome);
    RedisConnection* least_busy_ready() const;
    bool any_connection_in(RedisConnection::State state) const;
    static void on_deadline_timer(int fd, short what, void* self);

    // RedisConnection::Listener
    void on_ready(RedisConnection& connection) override;
    void on_connect_failed(RedisConnection& connection, const RedisFailure& why) override;
    void on_lost(RedisConnection& connection) override;
    void on_reply(RedisConnection& connection, std::uint64_t tag, const redisReply* reply,
                  const RedisFailure& why) override;

    const RedisClientOptions options_;
    const std::function<void(const RedisScript&)> on_script_loaded_;
    RedisEventLoop loop_;  // before the connections: their events die first
    event* deadline_timer_;
    std::vector<std::unique_ptr<RedisConnection>> connections_;

    // Loop thread only. Ids grow with submission time and every request has the same
    // timeout, so the map's order is deadline order.
    std::map<std::uint64_t, std::unique_ptr<Op>> ops_;  // submitted, not yet answered
    std::deque<std::uint64_t> waiting_;  // ids waiting for a ready connection (answered ones skipped)
    std::uint64_t next_id_ = 1;
    bool down_ = false;  // the last connect failed
    Clock::time_point next_probe_{};
    RedisFailure last_failure_;
    bool shut_down_ = false;

    // Shared with submitting threads.
    std::mutex mutex_;
    std::vector<std::unique_ptr<Op>> incoming_;
    bool wake_pending_ = false;
    bool stopping_ = false;
    std::atomic<std::size_t> outstanding_{0};  // submitted, not yet answered
};

}  // namespace testino::plugins
