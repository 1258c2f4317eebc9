#include "redis_client.hpp"

#include "redis_client_parts.hpp"

#include <event2/event.h>
#include <sys/time.h>

#include <algorithm>
#include <new>
#include <utility>

namespace testino::plugins {
namespace {

RedisFailure stopped_failure() { return {RedisFault::stopped, "redis store: shutting down", false}; }

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

void answer(const std::function<void(const RedisOutcome&)>& done, const RedisOutcome& outcome) noexcept {
    try {
        if (done) done(outcome);
    } catch (...) {
        // A completion must not throw; if one does, the loop thread must survive it.
    }
}

}  // namespace

RedisClient::RedisClient(RedisClientOptions options, RedisClientHooks hooks)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      deadline_timer_(evtimer_new(&loop_.base(), on_deadline_timer, this)) {
    if (options_.endpoint.topology == RedisEndpoint::Topology::single) {
        auto node = std::make_unique<Node>();
        node->options = options_;
        node->address = {options_.endpoint.host, options_.endpoint.port};
        add_connections(*node, std::max<std::size_t>(1, options_.connections));
        single_ = node.get();
        nodes_.push_back(std::move(node));
        topology_known_ = true;
        publish_topology();
    }
    loop_.start([this] { on_wake(); });
}

void RedisClient::add_connections(Node& node, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        node.connections.push_back(
            std::make_unique<RedisConnection>(loop_.base(), node.options, static_cast<Listener&>(*this)));
    }
}

RedisClient::~RedisClient() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    loop_.wake();
    loop_.join();
    sentinel_watch_.reset();
    nodes_.clear();
    event_free(deadline_timer_);
}

void RedisClient::submit(RedisRequest request) noexcept {
    std::unique_ptr<Op> op;
    try {
        op = std::make_unique<Op>();
    } catch (const std::bad_alloc&) {
        answer(request.done, {nullptr, {RedisFault::unreachable, "redis store: out of memory", false}});
        return;
    }
    op->request = std::move(request);
    RedisFailure refused;
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            refused = stopped_failure();
        } else if (outstanding_.load() >= options_.max_pending) {
            refused = {RedisFault::unreachable,
                       "too many operations waiting for Redis (" + std::to_string(options_.max_pending) + ")",
                       false};
        } else {
            try {
                // The deadline is taken under the lock, so queue order is deadline order.
                op->deadline = Clock::now() + options_.command_timeout;
                incoming_.push_back(std::move(op));  // strong guarantee: `op` intact if it throws
                outstanding_.fetch_add(1);
                wake = !std::exchange(wake_pending_, true);
            } catch (const std::bad_alloc&) {
                refused = {RedisFault::unreachable, "redis store: out of memory", false};
            }
        }
    }
    if (op) {
        answer(op->request.done, {nullptr, refused});
        return;
    }
    if (wake) loop_.wake();
}

void RedisClient::on_wake() {
    if (shut_down_) return;
    std::vector<std::unique_ptr<Op>> arrived;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        arrived.swap(incoming_);
        wake_pending_ = false;
        stopping = stopping_;
    }
    for (auto& op : arrived) {
        op->id = next_id_++;
        waiting_.push_back(op->id);
        ops_.emplace(op->id, std::move(op));
    }
    if (stopping) {
        shutdown();
        return;
    }
    process();
}

void RedisClient::process() {
    refresh_topology();
    watch_sentinel();
    dispatch_waiting();
    open_connections();
    arm_deadline_timer();
}

void RedisClient::dispatch_waiting() {
    // Each request waits only for its own node: one node connecting holds up no other.
    for (auto& node : nodes_) node->waiting = 0;
    std::deque<std::uint64_t> still_waiting;
    while (!waiting_.empty()) {
        const std::uint64_t id = waiting_.front();
        waiting_.pop_front();
        const auto it = ops_.find(id);
        if (it == ops_.end()) continue;  // answered meanwhile (timed out)
        Op& op = *it->second;
        Node* node = route(op);
        if (ops_.find(id) == ops_.end()) continue;  // routing answered it (a slot without owner)
        op.queued_for = node;
        RedisConnection* connection = node ? least_busy_ready(*node) : nullptr;
        if (!connection) {
            if (node) ++node->waiting;
            still_waiting.push_back(id);
            continue;
        }
        op.queued_for = nullptr;
        op.stage = Op::Stage::sent;
        send_request(op, *connection);
    }
    waiting_.swap(still_waiting);
}

void RedisClient::open_connections() {
    // Lazily: only for work. While a node is up, every slot is filled; while it is down,
    // one probe per backoff window, and its requests fail fast in between.
    for (std::size_t i = 0; i < nodes_.size(); ++i) {  // open_for may add nodes
        if (nodes_[i]->waiting > 0) open_for(*nodes_[i]);
    }
}

void RedisClient::open_for(Node& node) {
    if (!node.down) {
        for (auto& connection : node.connections) {
            if (node.down) break;  // connect() may fail at once (a missing Unix socket)
            if (connection->state() == RedisConnection::State::empty) connection->connect();
        }
        return;
    }
    if (any_connection_in(node, RedisConnection::State::connecting)) return;
    const auto now = Clock::now();
    if (now >= node.next_probe) {
        node.next_probe = now + options_.reconnect_backoff;
        for (auto& connection : node.connections) {
            if (connection->state() != RedisConnection::State::empty) continue;
            connection->connect();
            break;
        }
        return;
    }
    if (!any_connection_in(node, RedisConnection::State::ready)) fail_waiting(&node, node.last_failure);
}

void RedisClient::arm_deadline_timer() {
    if (ops_.empty()) {
        evtimer_del(deadline_timer_);
        return;
    }
    auto wake_at = ops_.begin()->second->deadline;
    // A topology read that waits out its backoff is due before the requests' deadlines.
    if (!single_ && refresh_wanted_ && !refreshing_) wake_at = std::min(wake_at, next_refresh_);
    const auto left = std::max(Clock::duration::zero(), wake_at - Clock::now());
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(left).count() + 1;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(micros / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(micros % 1000000);
    evtimer_add(deadline_timer_, &tv);
}

void RedisClient::on_deadline_timer(int, short, void* self) {
    auto* client = static_cast<RedisClient*>(self);
    client->expire_overdue();
    client->process();
}

void RedisClient::expire_overdue() {
    const auto now = Clock::now();
    const RedisFailure timed_out = command_timed_out(options_.command_timeout);
    std::vector<RedisConnection*> frozen;
    while (!ops_.empty() && ops_.begin()->second->deadline <= now) {
        const Op& op = *ops_.begin()->second;
        if (op.connection && std::find(frozen.begin(), frozen.end(), op.connection) == frozen.end()) {
            frozen.push_back(op.connection);
        }
        complete(op.id, {nullptr, timed_out});  // a late reply finds no op and is dropped
    }
    // No answer in time: take the connection for frozen. Its other commands are answered
    // now rather than each waiting for its own deadline; the next request reconnects.
    for (RedisConnection* connection : frozen) connection->close(timed_out);
}

void RedisClient::shutdown() {
    shut_down_ = true;
    evtimer_del(deadline_timer_);
    const RedisFailure stopped = stopped_failure();
    if (sentinel_watch_) sentinel_watch_->close(stopped);
    for (auto& node : nodes_) {
        for (auto& connection : node->connections)
            connection->close(stopped);  // in flight: on_reply(nullptr)
    }
    while (!ops_.empty()) complete(ops_.begin()->first, {nullptr, stopped});
    waiting_.clear();
    loop_.exit();
}

bool RedisClient::send(Op& op, RedisConnection& connection, const std::vector<std::string>& command) {
    if (!connection.send(command, op.id)) {
        complete(op.id,
                 {nullptr, {RedisFault::unreachable, "cannot send the command: connection closing", false}});
        return false;
    }
    op.connection = &connection;
    return true;
}

bool RedisClient::send_request(Op& op, RedisConnection& connection) {
    // ASK: this one command goes to the importing node, which takes it after ASKING. The
    // ASKING reply has tag 0, which no request has.
    if (op.asking && !connection.send({"ASKING"}, 0)) {
        complete(op.id,
                 {nullptr, {RedisFault::unreachable, "cannot send the command: connection closing", false}});
        return false;
    }
    return send(op, connection, op.request.command);
}

void RedisClient::on_reply(RedisConnection& connection, std::uint64_t tag, const redisReply* reply,
                           const RedisFailure& why) {
    const auto it = ops_.find(tag);
    if (it == ops_.end() || it->second->connection != &connection) return;  // late: answered already
    Op& op = *it->second;
    op.connection = nullptr;
    if (!reply) {
        retry_or_fail(op, why);
        return;
    }
    if (op.stage == Op::Stage::loading) {
        script_loaded(op, connection, *reply);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        const std::string error(reply->str, reply->len);
        Node* node = node_of(connection);
        if (node && follow_topology_error(op, *node, error)) return;
        if (op.request.script && op.stage == Op::Stage::sent && starts_with(error, "NOSCRIPT")) {
            load_script(op, connection);
            return;
        }
        complete(
            op.id,
            {nullptr, {RedisFault::reply_error, std::string(op.request.name) + " failed: " + error, false}});
        return;
    }
    if (op.request.wait_replicas > 0 && op.stage != Op::Stage::replicating) {
        // WAIT counts the replicas that have this connection's writes so far: ours included.
        op.stage = Op::Stage::replicating;
        send(op, connection,
             {"WAIT", std::to_string(op.request.wait_replicas),
              std::to_string(op.request.wait_timeout.count())});
        return;
    }
    complete(op.id, {reply, {}});
}

void RedisClient::load_script(Op& op, RedisConnection& connection) {
    // Redis lost its script cache (restart, SCRIPT FLUSH, failover): load, then run again.
    op.stage = Op::Stage::loading;
    send(op, connection, {"SCRIPT", "LOAD", op.request.script->body});
}

void RedisClient::script_loaded(Op& op, RedisConnection& connection, const redisReply& reply) {
    const RedisScript& script = *op.request.script;
    if (reply.type != REDIS_REPLY_STRING || std::string(reply.str, reply.len) != script.sha1) {
        complete(op.id,
                 {nullptr,
                  {RedisFault::reply_error,
                   std::string(script.name) + " script: unexpected reply type " + std::to_string(reply.type),
                   false}});
        return;
    }
    try {
        if (hooks_.script_loaded) hooks_.script_loaded(script);
    } catch (...) {
        // Counting and logging only: the request goes on.
    }
    op.stage = Op::Stage::resent;
    send_request(op, connection);
}

void RedisClient::retry_or_fail(Op& op, const RedisFailure& why) {
    // The server closed a working connection (restart): send once more on a fresh one.
    if (why.retryable && !op.retried) {
        op.retried = true;
        requeue(op);
        return;
    }
    complete(op.id, {nullptr, why});
}

void RedisClient::requeue(Op& op) {
    op.stage = Op::Stage::waiting;
    op.connection = nullptr;
    waiting_.push_front(op.id);
    loop_.kick();  // not from inside hiredis: the connection may be being freed
}

void RedisClient::fail_waiting(const Node* node, const RedisFailure& why) {
    std::deque<std::uint64_t> ids;
    ids.swap(waiting_);
    for (const std::uint64_t id : ids) {
        const auto it = ops_.find(id);
        if (it == ops_.end()) continue;
        if (it->second->queued_for == node) {
            complete(id, {nullptr, why});
        } else {
            waiting_.push_back(id);
        }
    }
}

void RedisClient::complete(std::uint64_t id, const RedisOutcome& outcome) {
    const auto it = ops_.find(id);
    if (it == ops_.end()) return;
    const std::unique_ptr<Op> op = std::move(it->second);
    ops_.erase(it);  // first: the completion may submit, and nothing answers twice
    outstanding_.fetch_sub(1);
    answer(op->request.done, outcome);
}

RedisConnection* RedisClient::least_busy_ready(const Node& node) {
    RedisConnection* best = nullptr;
    for (const auto& connection : node.connections) {
        if (connection->state() != RedisConnection::State::ready) continue;
        if (!best || connection->pending() < best->pending()) best = connection.get();
    }
    return best;
}

bool RedisClient::any_connection_in(const Node& node, RedisConnection::State state) {
    return std::any_of(node.connections.begin(), node.connections.end(),
                       [state](const auto& connection) { return connection->state() == state; });
}

RedisClient::Node* RedisClient::node_of(const RedisConnection& connection) const {
    for (const auto& node : nodes_) {
        for (const auto& own : node->connections) {
            if (own.get() == &connection) return node.get();
        }
    }
    return nullptr;
}

void RedisClient::on_ready(RedisConnection& connection) {
    if (&connection == sentinel_watch_.get()) {
        if (!connection.subscribe("+switch-master")) connection.close({RedisFault::unreachable, "", false});
        return;
    }
    if (Node* node = node_of(connection)) node->down = false;
    loop_.kick();
}

void RedisClient::on_connect_failed(RedisConnection& connection, const RedisFailure& why) {
    if (&connection == sentinel_watch_.get()) {
        next_watch_ = Clock::now() + options_.reconnect_backoff;
        ++watched_sentinel_;
        loop_.kick();
        return;
    }
    Node* node = node_of(connection);
    if (!node) return;
    node->down = true;
    node->next_probe = Clock::now() + options_.reconnect_backoff;
    node->last_failure = why;
    node_unreachable(*node);
    // Nothing else can serve its waiting requests soon: answer them now, not at their deadline.
    if (!any_connection_in(*node, RedisConnection::State::ready) &&
        !any_connection_in(*node, RedisConnection::State::connecting)) {
        fail_waiting(node, why);
    }
}

void RedisClient::on_lost(RedisConnection& connection) {
    if (&connection == sentinel_watch_.get()) next_watch_ = Clock::now() + options_.reconnect_backoff;
    loop_.kick();
}

RedisTopologyView RedisClient::topology() const {
    std::lock_guard lock(topology_mutex_);
    return published_;
}

}  // namespace testino::plugins
