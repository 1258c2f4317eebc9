// Where the client sends each request: the one node, the primary a Redis Cluster's slot map
// names for the request's key, or the primary the sentinels name. Also following what
// Redis says when the data is elsewhere (MOVED, ASK, CLUSTERDOWN, READONLY) and the
// +switch-master a sentinel announces. All on the loop thread.
#include <algorithm>
#include <charconv>
#include <sstream>

#include "redis_client.hpp"
#include "redis_client_parts.hpp"

namespace testino::plugins {
namespace {

// A request follows at most this many redirects before it fails: more means the cluster's
// nodes disagree for longer than a request should wait.
constexpr int kMaxRedirects = 5;

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

std::optional<int> port_number(const std::string& text) {
    int port = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (error != std::errc() || end != text.data() + text.size() || port <= 0 || port > 65535) {
        return std::nullopt;
    }
    return port;
}

std::string reply_string(const redisReply& reply) { return std::string(reply.str, reply.len); }

}  // namespace

RedisClient::Node& RedisClient::node_at(const RedisHostPort& address, bool sentinel) {
    for (auto& node : nodes_) {
        if (node->sentinel == sentinel && node->address == address) return *node;
    }
    auto node = std::make_unique<Node>();
    node->address = address;
    node->sentinel = sentinel;
    node->options = options_;
    RedisEndpoint& endpoint = node->options.endpoint;
    endpoint.topology = RedisEndpoint::Topology::single;
    endpoint.transport = RedisEndpoint::Transport::tcp;
    endpoint.host = address.host;
    endpoint.port = address.port;
    endpoint.seeds.clear();
    if (sentinel) {  // a sentinel has its own credentials and no databases
        endpoint.username = options_.endpoint.sentinel_username;
        endpoint.password = options_.endpoint.sentinel_password;
        endpoint.db = 0;
    }
    endpoint.sentinel_username.clear();
    endpoint.sentinel_password.clear();
    add_connections(*node, sentinel ? 1 : std::max<std::size_t>(1, options_.connections));
    nodes_.push_back(std::move(node));
    return *nodes_.back();
}

RedisClient::Node* RedisClient::route(Op& op) {
    if (op.target) return op.target;
    if (single_) return single_;
    if (!topology_known_) {
        want_refresh();
        // The last attempt to learn where the data is failed: fail fast until the next one.
        if (topology_failed_ && Clock::now() < next_refresh_) complete(op.id, {nullptr, topology_failure_});
        return nullptr;
    }
    if (options_.endpoint.topology == RedisEndpoint::Topology::sentinel) return primary_;
    if (op.ask) return op.ask;
    if (op.request.node) return &node_at(*op.request.node, false);
    const std::uint16_t slot = cluster_key_slot(op.request.key);
    if (const ClusterNode* owner = slot_map_.owner(slot)) return &node_at(*owner, false);
    if (op.request.key.empty() && !slot_map_.nodes().empty())
        return &node_at(slot_map_.nodes().front(), false);
    // Its primary failed and no replica took over yet (or the cluster is being set up).
    want_refresh();
    complete(op.id, {nullptr,
                     {RedisFault::unreachable,
                      "hash slot " + std::to_string(slot) + " has no primary in the cluster now", false}});
    return nullptr;
}

void RedisClient::refresh_topology() {
    if (single_ || refreshing_ || !refresh_wanted_ || shut_down_) return;
    const auto now = Clock::now();
    if (now < next_refresh_) return;
    refresh_wanted_ = false;
    next_refresh_ = now + options_.reconnect_backoff;
    const auto& seeds = options_.endpoint.seeds;
    if (options_.endpoint.topology == RedisEndpoint::Topology::sentinel) {
        ask_sentinel(node_at(seeds[next_source_++ % seeds.size()], true));
        return;
    }
    // Known nodes first (they are current), then the seeds; a node known to be down last.
    std::vector<RedisHostPort> sources = slot_map_.nodes();
    for (const RedisHostPort& seed : seeds) {
        if (std::find(sources.begin(), sources.end(), seed) == sources.end()) sources.push_back(seed);
    }
    for (std::size_t tried = 0; tried < sources.size(); ++tried) {
        Node& node = node_at(sources[next_source_++ % sources.size()], false);
        if (!node.down || tried + 1 == sources.size()) {
            read_slot_map(node);
            return;
        }
    }
}

void RedisClient::read_slot_map(Node& from) {
    RedisRequest request;
    request.name = "CLUSTER SLOTS";
    request.command = {"CLUSTER", "SLOTS"};
    request.done = [this, address = from.address](const RedisOutcome& outcome) {
        slot_map_read(address, outcome);
    };
    refreshing_ = true;
    submit_internal(std::move(request), from);
}

void RedisClient::slot_map_read(const RedisHostPort& from, const RedisOutcome& outcome) {
    refreshing_ = false;
    std::optional<SlotMap> map;
    if (outcome.reply) map = slot_map_from_cluster_slots(*outcome.reply, from.host);
    if (!map) {
        want_refresh();  // from the next source, after the backoff
        if (topology_known_) return;
        topology_failed_ = true;
        topology_failure_ =
            outcome.reply
                ? RedisFailure{RedisFault::reply_error,
                               "CLUSTER SLOTS from " + from.describe() + ": a reply of another shape", false}
                : outcome.failure;
        if (!outcome.reply) topology_failure_.detail = from.describe() + ": " + topology_failure_.detail;
        topology_failure_.retryable = false;
        fail_waiting(nullptr, topology_failure_);
        return;
    }
    slot_map_ = std::move(*map);
    topology_known_ = true;
    topology_failed_ = false;
    if (publish_topology() && hooks_.topology_changed) hooks_.topology_changed();
    loop_.kick();
}

void RedisClient::ask_sentinel(Node& sentinel) {
    RedisRequest request;
    request.name = "SENTINEL get-master-addr-by-name";
    request.command = {"SENTINEL", "get-master-addr-by-name", options_.endpoint.master_name};
    request.done = [this, address = sentinel.address](const RedisOutcome& outcome) {
        refreshing_ = false;
        sentinel_answered(address, outcome);
    };
    refreshing_ = true;
    submit_internal(std::move(request), sentinel);
}

void RedisClient::sentinel_answered(const RedisHostPort& sentinel, const RedisOutcome& outcome) {
    const redisReply* reply = outcome.reply;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING) {
        if (const auto port = port_number(reply_string(*reply->element[1]))) {
            set_primary({reply_string(*reply->element[0]), *port});
            return;
        }
    }
    RedisFailure failure = outcome.failure;
    if (reply) {
        failure = {RedisFault::reply_error,
                   reply->type == REDIS_REPLY_NIL
                       ? "the sentinel knows no master named '" + options_.endpoint.master_name + "'"
                       : "SENTINEL get-master-addr-by-name: a reply of another shape",
                   false};
    }
    failure.detail = "sentinel " + sentinel.describe() + ": " + failure.detail;
    failure.retryable = false;
    want_refresh();               // the next sentinel, after the backoff
    if (topology_known_) return;  // keep the primary named last
    topology_failed_ = true;
    topology_failure_ = failure;
    fail_waiting(nullptr, failure);
}

void RedisClient::set_primary(const RedisHostPort& address) {
    primary_ = &node_at(address, false);
    topology_known_ = true;
    topology_failed_ = false;
    if (publish_topology() && hooks_.topology_changed) hooks_.topology_changed();
    loop_.kick();
}

void RedisClient::watch_sentinel() {
    if (options_.endpoint.topology != RedisEndpoint::Topology::sentinel || shut_down_) return;
    if (sentinel_watch_ && sentinel_watch_->state() != RedisConnection::State::empty) return;
    const auto now = Clock::now();
    if (now < next_watch_) return;
    next_watch_ = now + options_.reconnect_backoff;
    const auto& sentinels = options_.endpoint.seeds;
    Node& sentinel = node_at(sentinels[watched_sentinel_ % sentinels.size()], true);
    sentinel_watch_ =
        std::make_unique<RedisConnection>(loop_.base(), sentinel.options, static_cast<Listener&>(*this));
    sentinel_watch_->connect();
}

void RedisClient::on_message(RedisConnection& connection, const redisReply& message) {
    if (&connection != sentinel_watch_.get()) return;
    // ["message", "+switch-master", "<name> <old-ip> <old-port> <new-ip> <new-port>"]
    if (message.type != REDIS_REPLY_ARRAY || message.elements != 3 ||
        message.element[0]->type != REDIS_REPLY_STRING || message.element[2]->type != REDIS_REPLY_STRING ||
        reply_string(*message.element[0]) != "message") {
        return;  // the subscription's confirmation
    }
    std::istringstream words(reply_string(*message.element[2]));
    std::string name, old_host, old_port, host, port;
    if (!(words >> name >> old_host >> old_port >> host >> port)) return;
    if (name != options_.endpoint.master_name) return;
    if (const auto number = port_number(port)) set_primary({host, *number});
}

bool RedisClient::follow_topology_error(Op& op, Node& node, const std::string& error) {
    using Topology = RedisEndpoint::Topology;
    const Topology topology = options_.endpoint.topology;
    const auto redirect = parse_cluster_redirect(error);
    const bool readonly = starts_with(error, "READONLY");
    if (topology == Topology::single && redirect) {
        // redis:// pointed at one node of a cluster.
        complete(op.id, {nullptr,
                         {RedisFault::reply_error,
                          std::string(op.request.name) + " failed: " + error +
                              " (this Redis is a Redis Cluster node: list the cluster's nodes with "
                              "redis-cluster://host:port,host:port)",
                          false}});
        return true;
    }
    const bool moved_on =
        (topology == Topology::cluster && redirect) || (topology == Topology::sentinel && readonly);
    if (moved_on && ++op.redirects > kMaxRedirects) {
        fail_unavailable(op, node,
                         "still redirected after " + std::to_string(kMaxRedirects) + " tries: " + error);
        return true;
    }
    if (topology == Topology::cluster && redirect) {
        follow_redirect(op, node, *redirect);
        return true;
    }
    if (topology == Topology::sentinel && readonly) {
        // Written to a replica: the primary we knew was demoted. Ask the sentinels again;
        // nothing was written, so the request goes out again once they have answered.
        if (&node == primary_) {
            primary_ = nullptr;
            topology_known_ = false;
            next_refresh_ = Clock::now();
            want_refresh();
        }
        requeue(op);
        return true;
    }
    // Redis is there but cannot serve now: a cluster without a slot's owner, a replica
    // loading its data. Unavailable, as for a node that is down.
    for (const char* busy : {"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN"}) {
        if (!starts_with(error, busy)) continue;
        if (topology == Topology::cluster) want_refresh();
        fail_unavailable(op, node, error);
        return true;
    }
    return false;
}

void RedisClient::follow_redirect(Op& op, Node& from, const ClusterRedirect& redirect) {
    RedisHostPort to = redirect.node;
    if (to.host.empty()) to.host = from.address.host;
    op.ask = nullptr;
    op.asking = false;
    if (redirect.kind == ClusterRedirect::Kind::moved) {
        slot_map_.assign(redirect.slot, redirect.slot, to);  // at once; the whole map soon
        want_refresh();
        if (publish_topology() && hooks_.topology_changed) hooks_.topology_changed();
    } else {
        op.ask = &node_at(to, false);
        op.asking = true;
    }
    requeue(op);
}

void RedisClient::fail_unavailable(Op& op, const Node& node, const std::string& why) {
    complete(op.id, {nullptr,
                     {RedisFault::unreachable,
                      node.address.describe() + ": " + op.request.name + " failed: " + why, false}});
}

void RedisClient::node_unreachable(Node& node) {
    if (node.sentinel) return;  // the next sentinel is asked on the next refresh
    // A cluster's slot may have a new owner; the sentinels may name a new primary.
    if (!single_) want_refresh();
}

bool RedisClient::publish_topology() {
    RedisTopologyView view;
    view.known = topology_known_;
    if (single_) {
        view.primaries.push_back(single_->address);
    } else if (options_.endpoint.topology == RedisEndpoint::Topology::sentinel) {
        if (primary_) view.primaries.push_back(primary_->address);
    } else {
        for (std::uint32_t slot = 0; slot < kClusterSlots; ++slot) {
            const ClusterNode* owner = slot_map_.owner(static_cast<std::uint16_t>(slot));
            if (owner &&
                std::find(view.primaries.begin(), view.primaries.end(), *owner) == view.primaries.end()) {
                view.primaries.push_back(*owner);
            }
        }
        view.slots_served = slot_map_.covered();
    }
    std::lock_guard lock(topology_mutex_);
    const bool changed = view.primaries != published_.primaries;
    published_ = std::move(view);
    return changed;
}

void RedisClient::submit_internal(RedisRequest request, Node& node) {
    auto op = std::make_unique<Op>();
    op->id = next_id_++;
    op->deadline = Clock::now() + options_.command_timeout;
    op->request = std::move(request);
    op->target = &node;
    outstanding_.fetch_add(1);
    waiting_.push_front(op->id);
    ops_.emplace(op->id, std::move(op));
    loop_.kick();
}

}  // namespace testino::plugins
