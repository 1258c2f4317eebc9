// Redis Cluster's routing rules, the part no packaged C++ client gives us (issue 15): which
// of the 16,384 hash slots a key belongs to, what a MOVED or ASK redirect says, and which
// node owns each slot. Pure functions and a plain table, no I/O: the client that uses them
// reads CLUSTER SLOTS into a SlotMap and follows redirects. The rules are those of the
// Redis Cluster specification ("Keys distribution model", "Redirection and resharding").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis_url.hpp"

struct redisReply;  // hiredis

namespace testino::plugins {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no reflection), the checksum
// Redis Cluster hashes keys with.
std::uint16_t crc16_xmodem(std::string_view bytes);

// The slot of `key`: CRC16 of its hash tag (the text between the first '{' and the first
// '}' after it, when not empty), else of the whole key, modulo 16,384. Keys that share a tag
// share a slot, which is what lets one Lua script touch them all.
std::uint16_t cluster_key_slot(std::string_view key);

// A node's address as a redirect or CLUSTER SLOTS names it.
using ClusterNode = RedisHostPort;

// "-MOVED <slot> <host>:<port>" (the slot lives there now: refresh the map) and
// "-ASK <slot> <host>:<port>" (this one command goes there, after ASKING; the map stays).
struct ClusterRedirect {
    enum class Kind { moved, ask };
    Kind kind = Kind::moved;
    std::uint16_t slot = 0;
    ClusterNode node;  // host empty: the same host as the node that answered
};

// The redirect an error reply's text names (with or without the leading '-'), or nullopt
// when it is another error or malformed. IPv6 hosts come bare ("::1:7001"): the port is
// after the last ':'.
std::optional<ClusterRedirect> parse_cluster_redirect(std::string_view error);

// Which node serves each slot: filled from CLUSTER SLOTS, changed by MOVED.
class SlotMap {
public:
    // Slots first..last (inclusive, below 16,384) are served by `node`.
    void assign(std::uint16_t first, std::uint16_t last, const ClusterNode& node);
    // The node serving `slot`, or nullptr when none does (a slot without an owner, as after
    // its primary failed and before a replica took over).
    const ClusterNode* owner(std::uint16_t slot) const;
    // Every node named so far, in the order first assigned (one that lost its slots to a
    // MOVED stays until clear()).
    const std::vector<ClusterNode>& nodes() const { return nodes_; }
    // Slots with an owner.
    std::size_t covered() const;
    void clear();

private:
    static constexpr std::uint16_t kNone = 0xFFFF;
    std::vector<ClusterNode> nodes_;
    std::array<std::uint16_t, kClusterSlots> owner_ = make_empty();
    static std::array<std::uint16_t, kClusterSlots> make_empty();
};

// The map a CLUSTER SLOTS reply describes (each entry: first slot, last slot, then the
// primary as [host, port, id, ...], then its replicas, which are not used). A primary
// named with an empty host or "?" is on `asked_host`, the node that answered. nullopt when
// the reply is not of that shape.
std::optional<SlotMap> slot_map_from_cluster_slots(const redisReply& reply, const std::string& asked_host);

}  // namespace testino::plugins
