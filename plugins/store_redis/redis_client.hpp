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
//
// The endpoint's topology picks where a request goes (redis_client_topology.cpp):
//   - single: the one node;
//   - cluster: the primary that owns the slot of the request's key, from the slot map
//     (CLUSTER SLOTS, read from a seed or a known node); MOVED updates the map and asks for
//     a fresh one, ASK sends that one request to the importing node after ASKING; a slot
//     without an owner fails at once; a node that cannot be reached gets the map re-read;
//   - sentinel: the primary the sentinels name; asked again on -READONLY, when the primary
//     cannot be reached, and on the +switch-master a subscribed sentinel announces.
// Each data node has `connections` pipelined connections of its own.
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
#include <optional>
#include <string>
#include <vector>

#include "redis_cluster_routing.hpp"
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
    // Cluster: the key whose slot picks the node; empty: any node. Other topologies ignore it.
    std::string key;
    // Cluster: send to this node only (health and the eviction check, per primary).
    std::optional<RedisHostPort> node;
    // Once the command succeeded, WAIT for this many replicas (0: no WAIT) on the same
    // connection, at most `wait_timeout`; the outcome is then WAIT's reply (the count).
    int wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{0};
    // Called exactly once, on the loop thread (or in submit() when refused), with no lock
    // of the client held. Must not throw.
    std::function<void(const RedisOutcome&)> done;
};

// What the client tells its owner, on the loop thread.
struct RedisClientHooks {
    std::function<void(const RedisScript&)> script_loaded;  // after each SCRIPT LOAD
    // The primaries changed: a cluster's slot map names other owners, or the sentinels
    // name another primary.
    std::function<void()> topology_changed;
};

// Where the data is, as the client knows it now.
struct RedisTopologyView {
    std::vector<RedisHostPort> primaries;  // single: the node; cluster: the slots' owners
    std::size_t slots_served = 0;          // cluster: slots with an owner
    bool known = false;                    // cluster: a map was read; sentinel: a primary named
};

class RedisClient final : private RedisConnection::Listener {
public:
    RedisClient(RedisClientOptions options, RedisClientHooks hooks);
    // Refuses new requests, answers every queued and in-flight one (kind `stopped`), joins
    // the loop thread. Must not run on the loop thread (inside a completion).
    ~RedisClient() override;
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Any thread; returns at once.
    void submit(RedisRequest request) noexcept;

    const RedisClientOptions& options() const { return options_; }
    // Any thread: a copy of the last topology the loop published.
    RedisTopologyView topology() const;

private:
    using Clock = std::chrono::steady_clock;
    struct Op;
    struct Node;

    // Loop thread.
    void on_wake();
    void process();  // send what waits, open connections, arm the deadline timer
    void dispatch_waiting();
    void open_connections();
    void open_for(Node& node);
    void arm_deadline_timer();
    void expire_overdue();
    void shutdown();
    bool send(Op& op, RedisConnection& connection, const std::vector<std::string>& command);
    bool send_request(Op& op, RedisConnection& connection);  // ASKING first when redirected
    void load_script(Op& op, RedisConnection& connection);
    void script_loaded(Op& op, RedisConnection& connection, const redisReply& reply);
    void retry_or_fail(Op& op, const RedisFailure& why);
    // Answers the requests waiting for `node` (nullptr: for the topology to be known).
    void fail_waiting(const Node* node, const RedisFailure& why);
    void complete(std::uint64_t id, const RedisOutcome& outcome);
    void requeue(Op& op);  // sent again soon (a redirect, a new primary, a lost connection)
    static RedisConnection* least_busy_ready(const Node& node);
    static bool any_connection_in(const Node& node, RedisConnection::State state);
    Node* node_of(const RedisConnection& connection) const;
    static void on_deadline_timer(int fd, short what, void* self);
    void add_connections(Node& node, std::size_t count);

    // Routing (redis_client_topology.cpp), loop thread.
    Node& node_at(const RedisHostPort& address, bool sentinel);
    // Where `op` goes now; nullptr: wait (the topology is being read), or `op` was answered.
    Node* route(Op& op);
    void refresh_topology();  // when asked for and not too soon: CLUSTER SLOTS or a sentinel
    void want_refresh() { refresh_wanted_ = true; }
    void read_slot_map(Node& from);
    void slot_map_read(const RedisHostPort& from, const RedisOutcome& outcome);
    void ask_sentinel(Node& sentinel);
    void sentinel_answered(const RedisHostPort& sentinel, const RedisOutcome& outcome);
    void set_primary(const RedisHostPort& address);
    void watch_sentinel();  // keep a subscription to +switch-master
    void on_switch_master(const redisReply& message);
    // A reply error that is about where the data is; true when `op` was taken care of.
    bool follow_topology_error(Op& op, Node& node, const std::string& error);
    void follow_redirect(Op& op, Node& from, const ClusterRedirect& redirect);
    void fail_unavailable(Op& op, const Node& node, const std::string& why);
    bool publish_topology();  // true when the primaries changed
    // A node's connect failed: in a cluster its slots may have moved, behind Sentinel the
    // primary may have changed.
    void node_unreachable(Node& node);
    // Internal requests (the map, the sentinels), submitted on the loop thread.
    void submit_internal(RedisRequest request, Node& node);

    // RedisConnection::Listener
    void on_ready(RedisConnection& connection) override;
    void on_connect_failed(RedisConnection& connection, const RedisFailure& why) override;
    void on_lost(RedisConnection& connection) override;
    void on_reply(RedisConnection& connection, std::uint64_t tag, const redisReply* reply,
                  const RedisFailure& why) override;
    void on_message(RedisConnection& connection, const redisReply& message) override;

    const RedisClientOptions options_;
    const RedisClientHooks hooks_;
    RedisEventLoop loop_;  // before the connections: their events die first
    event* deadline_timer_;
    // Never removed while the client lives: ops and connections point into them.
    std::vector<std::unique_ptr<Node>> nodes_;

    // Topology, loop thread only.
    Node* single_ = nullptr;   // single: the node
    Node* primary_ = nullptr;  // sentinel: the primary named last
    SlotMap slot_map_;         // cluster
    bool topology_known_ = false;
    bool topology_failed_ = false;  // the last attempt to learn it failed: fail fast until the next
    RedisFailure topology_failure_;
    bool refresh_wanted_ = true;
    bool refreshing_ = false;
    Clock::time_point next_refresh_{};
    std::size_t next_source_ = 0;  // which node or seed to ask next
    std::unique_ptr<RedisConnection> sentinel_watch_;
    std::size_t watched_sentinel_ = 0;
    Clock::time_point next_watch_{};

    // Loop thread only. Ids grow with submission time and every request has the same
    // timeout, so the map's order is deadline order.
    std::map<std::uint64_t, std::unique_ptr<Op>> ops_;  // submitted, not yet answered
    std::deque<std::uint64_t> waiting_;  // ids waiting for a ready connection (answered ones skipped)
    std::uint64_t next_id_ = 1;
    bool shut_down_ = false;

    // Shared with submitting threads.
    std::mutex mutex_;
    std::vector<std::unique_ptr<Op>> incoming_;
    bool wake_pending_ = false;
    bool stopping_ = false;
    std::atomic<std::size_t> outstanding_{0};  // submitted, not yet answered
    mutable std::mutex topology_mutex_;
    RedisTopologyView published_;
};

}  // namespace testino::plugins
