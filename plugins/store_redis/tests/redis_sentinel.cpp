#include "redis_sentinel.hpp"

#include <sstream>
#include <stdexcept>

#include "redis_fixture_text.hpp"

namespace testino::test {

namespace replies = fixture_text;

namespace {

constexpr std::chrono::seconds kStartTimeout(30);

// A value written into a config file as one word.
const std::string& config_word(const std::string& value, const char* what) {
    if (value.find_first_of(" \t\r\n\"'") != std::string::npos)
        throw std::invalid_argument(std::string("RedisSentinelGroup: no blanks or quotes in the ") + what);
    return value;
}

}  // namespace

RedisSentinelGroup::RedisSentinelGroup(RedisSentinelOptions options) : options_(std::move(options)) {
    config_word(options_.master_name, "master name");
    config_word(options_.password, "password");
    config_word(options_.sentinel_password, "sentinel password");
    // Both data nodes can be a replica (the primary after a failover): both take masterauth.
    // The initial sync starts at once (no wait for more replicas) and nothing else is saved.
    std::vector<std::string> args{"--repl-diskless-sync-delay", "0", "--replica-announce-ip", "127.0.0.1"};
    if (!options_.password.empty()) args.insert(args.end(), {"--masterauth", options_.password});
    primary_ = std::make_unique<RedisServer>(RedisServerOptions{options_.password, true, args});
    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(primary_->port())});
    replica_ = std::make_unique<RedisServer>(RedisServerOptions{options_.password, true, args});
    for (int i = 0; i < options_.sentinels; ++i) {
        sentinels_.push_back(std::make_unique<RedisServer>(RedisServerOptions{
            options_.sentinel_password, true, {}, "redis-sentinel", sentinel_config(primary_->port())}));
    }
    if (!eventually([&] { return settled(); }, kStartTimeout)) {
        throw std::runtime_error(
            "RedisSentinelGroup: the replica and the sentinels did not find each other within " +
            std::to_string(kStartTimeout.count()) + " s\n" + describe());
    }
}

RedisSentinelGroup::~RedisSentinelGroup() = default;

std::string RedisSentinelGroup::sentinel_config(int primary_port) const {
    const std::string& name = options_.master_name;
    std::string config =
        "bind 127.0.0.1\n"
        "sentinel announce-ip 127.0.0.1\n"
        "sentinel monitor " +
        name + " 127.0.0.1 " + std::to_string(primary_port) + " " + std::to_string(options_.quorum) +
        "\n"
        "sentinel down-after-milliseconds " +
        name + " " + std::to_string(options_.down_after.count()) +
        "\n"
        "sentinel failover-timeout " +
        name + " " + std::to_string(options_.failover_timeout.count()) + "\n";
    if (!options_.password.empty()) config += "sentinel auth-pass " + name + " " + options_.password + "\n";
    if (!options_.sentinel_password.empty())
        config += "sentinel sentinel-pass " + options_.sentinel_password + "\n";
    return config;
}

// The replica's link is up and every sentinel sees the primary up, the replica and the others.
bool RedisSentinelGroup::settled() const {
    if (!replies::has_line(replica_->command({"INFO", "replication"}), "master_link_status:up")) return false;
    for (const auto& sentinel : sentinels_) {
        const auto state = master_state(*sentinel);
        const auto field = [&](const std::string& key) {
            const auto found = state.find(key);
            return found == state.end() ? std::string() : found->second;
        };
        if (field("flags") != "master" || field("num-slaves") != "1" ||
            field("num-other-sentinels") != std::to_string(options_.sentinels - 1))
            return false;
    }
    return true;
}

std::string RedisSentinelGroup::sentinels() const { return replies::addresses(sentinels_); }

int RedisSentinelGroup::primary_port_of(const RedisServer& sentinel) const {
    if (!sentinel.running()) return 0;
    // Two lines: the host, the port.
    const std::string reply = sentinel.command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.master_name});
    const auto newline = reply.find('\n');
    if (newline == std::string::npos || reply.substr(0, newline) != "127.0.0.1") return 0;
    try {
        return std::stoi(reply.substr(newline + 1));
    } catch (const std::exception&) {
        return 0;
    }
}

int RedisSentinelGroup::current_primary_port() const {
    for (const auto& sentinel : sentinels_) {
        const int port = primary_port_of(*sentinel);
        if (port != 0) return port;
    }
    return 0;
}

std::map<std::string, std::string> RedisSentinelGroup::master_state(const RedisServer& sentinel) const {
    std::map<std::string, std::string> fields;
    if (!sentinel.running()) return fields;
    std::istringstream lines(sentinel.command({"SENTINEL", "MASTER", options_.master_name}));
    for (std::string key, value; std::getline(lines, key) && std::getline(lines, value);) fields[key] = value;
    return fields;
}

void RedisSentinelGroup::kill_primary() { primary_->kill(); }

bool RedisSentinelGroup::wait_failover(std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
            for (const auto& sentinel : sentinels_) {
                if (sentinel->running() && primary_port_of(*sentinel) != replica_->port()) return false;
            }
            return replies::is_master(*replica_);
        },
        timeout);
}

std::string RedisSentinelGroup::describe() const {
    std::string text;
    const auto add = [&](const char* what, const RedisServer& node) {
        text += std::string("--- ") + what + " " + std::to_string(node.port()) +
                (node.running() ? "" : " (not running)") + "\n" + replies::tail(node.log(), 3000) + "\n";
    };
    add("primary", *primary_);
    add("replica", *replica_);
    for (const auto& sentinel : sentinels_) add("sentinel", *sentinel);
    return text;
}

}  // namespace testino::test
