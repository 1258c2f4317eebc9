// The client's request and node records, shared by redis_client.cpp (the queue, sending,
// replies, deadlines) and redis_client_topology.cpp (where each request goes).
#pragma once

#include <memory>
#include <vector>

#include "redis_client.hpp"

namespace testino::plugins {

struct RedisClient::Op {
    enum class Stage { waiting, sent, loading, resent, replicating };

    std::uint64_t id = 0;
    Clock::time_point deadline;
    RedisRequest request;
    Stage stage = Stage::waiting;
    RedisConnection* connection = nullptr;  // where its command is pending, if any
    bool retried = false;                   // sent again after its connection was lost
    Node* queued_for = nullptr;             // the node it waits for a connection to
    Node* ask = nullptr;                    // cluster: ASK named this node for it
    bool asking = false;                    // send ASKING first (it goes to `ask`)
    int redirects = 0;                      // MOVED, ASK, READONLY followed so far
    Node* target = nullptr;                 // the client's own requests: this node only
};

// One Redis process: a data node (its pipelined connections) or a sentinel (one).
struct RedisClient::Node {
    RedisHostPort address;
    RedisClientOptions options;  // its endpoint: this address, the credentials for its role
    bool sentinel = false;
    std::vector<std::unique_ptr<RedisConnection>> connections;
    bool down = false;  // the last connect failed
    Clock::time_point next_probe{};
    RedisFailure last_failure;
    std::size_t waiting = 0;  // requests waiting for a connection to it, at the last dispatch
};

}  // namespace testino::plugins
