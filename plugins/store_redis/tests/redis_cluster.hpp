// A private Redis Cluster for a test: N cluster-enabled redis-servers as primaries (the
// 16384 slots split evenly, in order), optionally one replica each, on free loopback ports,
// each node in its own temp dir with its cluster config file there. Built by hand
// (ADDSLOTSRANGE, MEET, CLUSTER REPLICATE); the constructor returns once every node says
// cluster_state:ok and every replica's link to its primary is up, and throws with the nodes'
// logs when that does not happen within 30 s. Nothing is persisted.
//
// Shard i is primary(i) and replica(i) as they were created: after a failover replica(i) is
// the primary of shard i (owner_port() tells who owns a slot now).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace testino::test {

struct RedisClusterOptions {
    // A replica is promoted on its own only with most primaries alive to vote: 3 or more
    // for a test that kills one and waits (force_failover() needs no vote).
    int primaries = 3;
    bool replicas = false;  // one replica per primary
    // --cluster-node-timeout: how long a node may be silent before it is counted as failing.
    std::chrono::milliseconds node_timeout = std::chrono::milliseconds(2000);
    std::string password = {};  // requirepass and masterauth on every node when not empty
};

// One node's view of another node, from a CLUSTER NODES line.
struct ClusterNodeView {
    std::string id;
    int port = 0;
    std::string flags;                       // "myself,master", "slave", "master,fail", ...
    std::string primary_id;                  // "-" for a primary
    std::string config_epoch;                // who wins a slot: a replica asks votes with its primary's
    std::vector<std::pair<int, int>> slots;  // ranges owned (first, last); migrations left out
    bool owns(int slot) const;
};

class RedisCluster {
public:
    static constexpr int kSlots = 16384;

    explicit RedisCluster(RedisClusterOptions options = {});
    ~RedisCluster();
    RedisCluster(const RedisCluster&) = delete;
    RedisCluster& operator=(const RedisCluster&) = delete;

    int size() const { return options_.primaries; }
    RedisServer& primary(int shard);
    RedisServer& replica(int shard);  // throws std::out_of_range without replicas
    // Whichever of the shard's running nodes reports role:master now; throws when none does.
    RedisServer& shard_primary(int shard) const;
    // Every node, primaries first; kill()ed ones included.
    std::vector<RedisServer*> nodes() const;
    // "127.0.0.1:p1,127.0.0.1:p2,..." for the primaries.
    std::string seeds() const;
    const std::string& password() const { return options_.password; }

    // The slots shard i was created with.
    static int first_slot(int shard, int primaries = 3);
    static int last_slot(int shard, int primaries = 3);

    // The node's cluster id (known from the start, so a killed node's too).
    std::string node_id(const RedisServer& node) const;
    // The port of the node that owns `slot` in the view of `asked` (the first running node
    // when null); 0 when no node owns it there or nobody answers.
    int owner_port(int slot, const RedisServer* asked = nullptr) const;
    // CLUSTER NODES of `node`, parsed; empty when it does not answer.
    std::vector<ClusterNodeView> view(const RedisServer& node) const;

    // Moving a slot between shards (their shard_primary() now), in steps a test can interleave with
    // its own commands. Each step checks every reply and throws std::runtime_error on an error.
    // IMPORTING on the target, then MIGRATING on the source: the source now answers ASK for
    // the slot's keys it no longer has.
    void begin_migration(int slot, int from, int to);
    // Moves every key of the slot (CLUSTER GETKEYSINSLOT, MIGRATE ... KEYS); returns how many.
    // Keys with a newline in them are not supported (RedisServer::command's text replies).
    int move_keys(int slot);
    // SETSLOT NODE on the target, the source and the other primaries; returns once every
    // running node names the target as the owner (the others answer MOVED to it).
    void finish_migration(int slot);
    void migrate_slot(int slot, int from, int to);  // all three

    void kill_primary(int shard);    // SIGKILL, like a crash
    void force_failover(int shard);  // CLUSTER FAILOVER TAKEOVER on the replica, no vote
    // Whether, within the timeout, replica(shard) reports role:master and every running node
    // says cluster_state:ok with none of the slots left on the old primary and the replica
    // owning some.
    bool wait_promoted(int shard, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Whether every running node says cluster_state:ok and every running replica's link is up.
    bool healthy() const;
    // Every node sees the same, distinct config epoch for every primary.
    bool epochs_agree() const;
    // Each node's port, role, CLUSTER INFO state and log: for failure messages.
    std::string describe() const;

private:
    std::unique_ptr<RedisServer> start_node() const;
    void assign_slots();
    void meet_all();
    void attach_replicas();
    void wait_until(const std::function<bool()>& condition, const std::string& what,
                    std::chrono::steady_clock::time_point give_up) const;
    bool promoted(int shard) const;

    RedisClusterOptions options_;
    std::vector<std::unique_ptr<RedisServer>> primaries_;
    std::vector<std::unique_ptr<RedisServer>> replicas_;
    std::map<int, std::string> ids_;  // port → cluster node id
    struct Migration {
        RedisServer* source;
        RedisServer* target;
    };
    std::map<int, Migration> migrations_;  // slot → its nodes, between begin and finish
};

}  // namespace testino::test
