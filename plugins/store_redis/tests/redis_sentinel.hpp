// A private Sentinel setup for a test: a primary, its replica (--replicaof) and three
// sentinels (quorum 2, down-after 1 s, failover-timeout 5 s) on free loopback ports, each
// in its own temp dir with a writable config file there. The constructor returns once the
// replica's link is up and every sentinel knows the replica and the two other sentinels;
// it throws with the logs when that does not happen within 30 s. Nothing is persisted.
//
// primary() and replica() are the nodes as they were created: after a failover replica()
// is the primary (current_primary_port() tells which one is now).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace testino::test {

struct RedisSentinelOptions {
    std::string master_name = "testino";
    std::string password = {};           // requirepass and masterauth on the data nodes when not empty
    std::string sentinel_password = {};  // requirepass on the sentinels (and sentinel-pass) when not empty
    int sentinels = 3;
    int quorum = 2;
    std::chrono::milliseconds down_after = std::chrono::milliseconds(1000);
    std::chrono::milliseconds failover_timeout = std::chrono::milliseconds(5000);
};

class RedisSentinelGroup {
public:
    explicit RedisSentinelGroup(RedisSentinelOptions options = {});
    ~RedisSentinelGroup();
    RedisSentinelGroup(const RedisSentinelGroup&) = delete;
    RedisSentinelGroup& operator=(const RedisSentinelGroup&) = delete;

    // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    std::string sentinels() const;
    RedisServer& sentinel(int i) { return *sentinels_.at(static_cast<std::size_t>(i)); }
    const std::string& master_name() const { return options_.master_name; }
    const std::string& password() const { return options_.password; }
    const std::string& sentinel_password() const { return options_.sentinel_password; }
    RedisServer& primary() { return *primary_; }
    RedisServer& replica() { return *replica_; }

    // The primary's port as the first sentinel that answers names it
    // (SENTINEL get-master-addr-by-name); 0 when none answers.
    int current_primary_port() const;
    // The same, asked of one sentinel.
    int primary_port_of(const RedisServer& sentinel) const;
    // SENTINEL MASTER's fields, from one sentinel ("num-slaves", "num-other-sentinels", "flags").
    std::map<std::string, std::string> master_state(const RedisServer& sentinel) const;

    void kill_primary();  // SIGKILL of the node created as the primary
    // Whether, within the timeout, every running sentinel names the node created as the
    // replica and it reports role:master.
    bool wait_failover(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Each node's port, role and log: for failure messages.
    std::string describe() const;

private:
    std::string sentinel_config(int primary_port) const;
    bool settled() const;

    RedisSentinelOptions options_;
    std::unique_ptr<RedisServer> primary_;
    std::unique_ptr<RedisServer> replica_;
    std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

}  // namespace testino::test
