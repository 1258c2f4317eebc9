#include "redis_cluster.hpp"

#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "redis_fixture_text.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;
using fixture_text::has_line;
using fixture_text::is_master;
using fixture_text::tail;

// A cluster node's bus listens on its port + 10000, which must stay a valid port.
constexpr int kHighestClusterPort = 65535 - 10000;
constexpr std::chrono::seconds kStartTimeout(30);
constexpr std::chrono::seconds kSlotAgreementTimeout(10);

bool is_error(const std::string& reply) { return reply.rfind("ERR: ", 0) == 0; }

// `reply` must be `expected`; otherwise a std::runtime_error naming what was asked.
void expect_reply(const std::string& reply, const std::string& expected, const std::string& what) {
    if (reply != expected) throw std::runtime_error(what + ": " + reply);
}

bool cluster_ok(const RedisServer& node) {
    return has_line(node.command({"CLUSTER", "INFO"}), "cluster_state:ok");
}

std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> result;
    std::istringstream in(line);
    for (std::string word; in >> word;) result.push_back(word);
    return result;
}

// "127.0.0.1:7000@17000[,hostname]" → 7000; 0 when it is not of that shape.
int port_of_address(const std::string& address) {
    const auto at = address.find('@');
    const auto colon = address.rfind(':', at);
    if (at == std::string::npos || colon == std::string::npos) return 0;
    try {
        return std::stoi(address.substr(colon + 1, at - colon - 1));
    } catch (const std::exception&) {
        return 0;
    }
}

// "5461-10922" or "5460"; a migration's "[5460->-id]" or "[5460-<-id]" is left out.
bool parse_slot_range(const std::string& word, std::pair<int, int>& range) {
    if (word.empty() || word[0] == '[') return false;
    const auto dash = word.find('-');
    try {
        range.first = std::stoi(word.substr(0, dash));
        range.second = dash == std::string::npos ? range.first : std::stoi(word.substr(dash + 1));
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

}  // namespace

bool ClusterNodeView::owns(int slot) const {
    for (const auto& [first, last] : slots) {
        if (slot >= first && slot <= last) return true;
    }
    return false;
}

RedisCluster::RedisCluster(RedisClusterOptions options) : options_(std::move(options)) {
    if (options_.primaries < 1 || options_.primaries > 100)
        throw std::invalid_argument("RedisCluster: 1 to 100 primaries");
    const auto give_up = std::chrono::steady_clock::now() + kStartTimeout;
    for (int i = 0; i < options_.primaries; ++i) primaries_.push_back(start_node());
    for (int i = 0; options_.replicas && i < options_.primaries; ++i) replicas_.push_back(start_node());
    for (const RedisServer* node : nodes()) {
        const std::string id = node->command({"CLUSTER", "MYID"});
        if (is_error(id) || id.empty()) throw std::runtime_error("CLUSTER MYID: " + id);
        ids_[node->port()] = id;
    }
    assign_slots();
    meet_all();
    wait_until(
        [&] {
            for (const RedisServer* node : nodes()) {
                if (view(*node).size() != ids_.size()) return false;
            }
            return true;
        },
        "every node knowing every other", give_up);
    attach_replicas();
    wait_until([&] { return healthy(); }, "cluster_state:ok and the replicas' links up", give_up);
    // Slots were assigned before the nodes met, so their config epochs start equal and are
    // bumped apart by gossip. A replica that still holds its primary's old epoch is denied
    // every vote after a failure ("slot epoch (4) > reqEpoch (2)"): wait until all agree.
    wait_until([&] { return epochs_agree(); }, "every node agreeing on every primary's config epoch",
               give_up);
}

bool RedisCluster::epochs_agree() const {
    std::map<std::string, std::string> first;
    bool have_first = false;
    for (const RedisServer* node : nodes()) {
        std::map<std::string, std::string> epochs;
        std::set<std::string> distinct;
        for (const ClusterNodeView& n : view(*node)) {
            if (n.primary_id != "-") continue;
            epochs[n.id] = n.config_epoch;
            distinct.insert(n.config_epoch);
        }
        if (static_cast<int>(epochs.size()) != size() || static_cast<int>(distinct.size()) != size())
            return false;
        if (have_first && epochs != first) return false;
        first = std::move(epochs);
        have_first = true;
    }
    return true;
}

RedisCluster::~RedisCluster() = default;

// A cluster-enabled node whose port leaves room for its bus port; a port taken meanwhile
// or too high is replaced by another.
std::unique_ptr<RedisServer> RedisCluster::start_node() const {
    std::vector<std::string> args{"--cluster-enabled", "yes", "--cluster-config-file",
                                  "nodes.conf",  // in its --dir
                                  "--cluster-node-timeout", std::to_string(options_.node_timeout.count()),
                                  // a replica's first sync starts at once, not after 5 s
                                  "--repl-diskless-sync-delay", "0"};
    if (!options_.password.empty()) {
        args.push_back("--masterauth");
        args.push_back(options_.password);
    }
    std::string last_error = "no port at or below " + std::to_string(kHighestClusterPort);
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto node = std::make_unique<RedisServer>(RedisServerOptions{options_.password, false, args});
        if (node->port() > kHighestClusterPort) continue;
        try {
            node->start();
            return node;
        } catch (const std::runtime_error& error) {
            last_error = error.what();
        }
    }
    throw std::runtime_error("RedisCluster: a node did not start: " + last_error);
}

void RedisCluster::assign_slots() {
    for (int i = 0; i < size(); ++i) {
        const std::string first = std::to_string(first_slot(i, size()));
        const std::string last = std::to_string(last_slot(i, size()));
        expect_reply(primary(i).command({"CLUSTER", "ADDSLOTSRANGE", first, last}), "OK",
                     "CLUSTER ADDSLOTSRANGE " + first + " " + last);
    }
}

void RedisCluster::meet_all() {
    for (const RedisServer* node : nodes()) {
        if (node == &primary(0)) continue;
        const std::string port = std::to_string(node->port());
        expect_reply(primary(0).command({"CLUSTER", "MEET", "127.0.0.1", port}), "OK",
                     "CLUSTER MEET " + port);
    }
}

void RedisCluster::attach_replicas() {
    for (int i = 0; i < static_cast<int>(replicas_.size()); ++i) {
        const std::string id = node_id(primary(i));
        expect_reply(replica(i).command({"CLUSTER", "REPLICATE", id}), "OK", "CLUSTER REPLICATE " + id);
    }
}

void RedisCluster::wait_until(const std::function<bool()>& condition, const std::string& what,
                              std::chrono::steady_clock::time_point give_up) const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    if (!eventually(condition, std::max(left, std::chrono::milliseconds(0))))
        throw std::runtime_error("RedisCluster: no " + what + " within " +
                                 std::to_string(kStartTimeout.count()) + " s\n" + describe());
}

RedisServer& RedisCluster::primary(int shard) { return *primaries_.at(static_cast<std::size_t>(shard)); }

RedisServer& RedisCluster::replica(int shard) { return *replicas_.at(static_cast<std::size_t>(shard)); }

RedisServer& RedisCluster::shard_primary(int shard) const {
    RedisServer* candidates[] = {
        primaries_.at(static_cast<std::size_t>(shard)).get(),
        replicas_.empty() ? nullptr : replicas_.at(static_cast<std::size_t>(shard)).get()};
    for (RedisServer* node : candidates) {
        if (node && is_master(*node)) return *node;
    }
    throw std::runtime_error("RedisCluster: shard " + std::to_string(shard) + " has no running primary");
}

std::vector<RedisServer*> RedisCluster::nodes() const {
    std::vector<RedisServer*> all;
    for (const auto& node : primaries_) all.push_back(node.get());
    for (const auto& node : replicas_) all.push_back(node.get());
    return all;
}

std::string RedisCluster::seeds() const { return fixture_text::addresses(primaries_); }

int RedisCluster::first_slot(int shard, int primaries) { return shard * kSlots / primaries; }

int RedisCluster::last_slot(int shard, int primaries) { return (shard + 1) * kSlots / primaries - 1; }

std::string RedisCluster::node_id(const RedisServer& node) const {
    const auto known = ids_.find(node.port());
    if (known != ids_.end()) return known->second;
    return node.command({"CLUSTER", "MYID"});
}

std::vector<ClusterNodeView> RedisCluster::view(const RedisServer& node) const {
    std::vector<ClusterNodeView> result;
    if (!node.running()) return result;
    const std::string text = node.command({"CLUSTER", "NODES"});
    if (is_error(text)) return result;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        const std::vector<std::string> fields = words(line);
        if (fields.size() < 8) continue;
        ClusterNodeView entry{fields[0], port_of_address(fields[1]), fields[2], fields[3], fields[6], {}};
        for (std::size_t i = 8; i < fields.size(); ++i) {
            std::pair<int, int> range;
            if (parse_slot_range(fields[i], range)) entry.slots.push_back(range);
        }
        result.push_back(std::move(entry));
    }
    return result;
}

int RedisCluster::owner_port(int slot, const RedisServer* asked) const {
    for (const RedisServer* node : nodes()) {
        if (!asked && node->running()) asked = node;
    }
    if (!asked) return 0;
    for (const ClusterNodeView& entry : view(*asked)) {
        if (entry.owns(slot)) return entry.port;
    }
    return 0;
}

void RedisCluster::begin_migration(int slot, int from, int to) {
    RedisServer& source = shard_primary(from);
    RedisServer& target = shard_primary(to);
    const std::string text = std::to_string(slot);
    expect_reply(target.command({"CLUSTER", "SETSLOT", text, "IMPORTING", node_id(source)}), "OK",
                 "CLUSTER SETSLOT " + text + " IMPORTING");
    expect_reply(source.command({"CLUSTER", "SETSLOT", text, "MIGRATING", node_id(target)}), "OK",
                 "CLUSTER SETSLOT " + text + " MIGRATING");
    migrations_[slot] = Migration{&source, &target};
}

int RedisCluster::move_keys(int slot) {
    const auto migration = migrations_.find(slot);
    if (migration == migrations_.end()) throw std::logic_error("move_keys: no begin_migration for the slot");
    const RedisServer& source = *migration->second.source;
    const RedisServer& target = *migration->second.target;
    int moved = 0;
    for (;;) {
        const std::string keys = source.command({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
        if (is_error(keys)) throw std::runtime_error("CLUSTER GETKEYSINSLOT: " + keys);
        if (keys.empty()) return moved;
        std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(target.port()), "", "0", "5000"};
        if (!options_.password.empty()) args.insert(args.end(), {"AUTH", options_.password});
        args.push_back("KEYS");
        std::istringstream lines(keys);
        for (std::string key; std::getline(lines, key); ++moved) args.push_back(key);
        const std::string reply = source.command(args);
        if (reply != "OK" && reply != "NOKEY") throw std::runtime_error("MIGRATE: " + reply);
    }
}

void RedisCluster::finish_migration(int slot) {
    const auto migration = migrations_.find(slot);
    if (migration == migrations_.end())
        throw std::logic_error("finish_migration: no begin_migration for the slot");
    RedisServer* const source = migration->second.source;
    RedisServer* const target = migration->second.target;
    const std::vector<std::string> assign{"CLUSTER", "SETSLOT", std::to_string(slot), "NODE",
                                          node_id(*target)};
    std::vector<RedisServer*> order{target, source};
    for (RedisServer* node : nodes()) {
        if (node != target && node != source && is_master(*node)) order.push_back(node);
    }
    for (RedisServer* node : order) {
        expect_reply(node->command(assign), "OK",
                     "CLUSTER SETSLOT " + assign[2] + " NODE on " + std::to_string(node->port()));
    }
    migrations_.erase(migration);
    const bool agreed = eventually(
        [&] {
            for (const RedisServer* node : nodes()) {
                if (node->running() && owner_port(slot, node) != target->port()) return false;
            }
            return true;
        },
        kSlotAgreementTimeout);
    if (!agreed)
        throw std::runtime_error("finish_migration: the nodes do not agree on the new owner\n" + describe());
}

void RedisCluster::migrate_slot(int slot, int from, int to) {
    begin_migration(slot, from, to);
    move_keys(slot);
    finish_migration(slot);
}

void RedisCluster::kill_primary(int shard) { primary(shard).kill(); }

void RedisCluster::force_failover(int shard) {
    expect_reply(replica(shard).command({"CLUSTER", "FAILOVER", "TAKEOVER"}), "OK",
                 "CLUSTER FAILOVER TAKEOVER");
}

bool RedisCluster::promoted(int shard) const {
    const RedisServer& replacement = *replicas_.at(static_cast<std::size_t>(shard));
    if (!is_master(replacement)) return false;
    const std::string old_id = node_id(*primaries_.at(static_cast<std::size_t>(shard)));
    const std::string new_id = node_id(replacement);
    for (const RedisServer* node : nodes()) {
        if (!node->running()) continue;
        if (!cluster_ok(*node)) return false;
        bool replacement_owns = false;
        for (const ClusterNodeView& entry : view(*node)) {
            if (entry.id == old_id && !entry.slots.empty()) return false;
            if (entry.id == new_id && !entry.slots.empty()) replacement_owns = true;
        }
        if (!replacement_owns) return false;
    }
    return true;
}

bool RedisCluster::wait_promoted(int shard, std::chrono::milliseconds timeout) {
    return eventually([&] { return promoted(shard); }, timeout);
}

bool RedisCluster::healthy() const {
    for (const RedisServer* node : nodes()) {
        if (!node->running()) continue;
        if (!cluster_ok(*node)) return false;
        const std::string replication = node->command({"INFO", "replication"});
        if (has_line(replication, "role:slave") && !has_line(replication, "master_link_status:up"))
            return false;
    }
    return true;
}

std::string RedisCluster::describe() const {
    std::string text;
    for (const RedisServer* node : nodes()) {
        text += "--- node " + std::to_string(node->port()) + (node->running() ? "" : " (not running)") + "\n";
        if (node->running()) {
            const std::string info = node->command({"CLUSTER", "INFO"});
            text += info.substr(0, info.find("cluster_slots_assigned")) +
                    node->command({"CLUSTER", "NODES"}) + "\n";
        }
        text += tail(node->log(), 3000) + "\n";
    }
    return text;
}

}  // namespace testino::test
