// The client's address: the socket peer, unless the peer is a trusted proxy, in which case
// the configured forwarding header (X-Forwarded-For, or RFC 7239 Forwarded) is read from the
// right up to the first hop we do not trust. Also the key the per-address limits count
// under: an IPv4 address, or an IPv6 client's network (its /64 by default, what one
// subscriber is usually given), so hopping between one's own addresses gains nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace testino {

// An IPv4 or IPv6 address; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is that IPv4 one.
struct IpAddress {
    int family = 0;  // AF_INET or AF_INET6
    unsigned char bytes[16] = {};

    // nullopt when `text` is not an address literal.
    static std::optional<IpAddress> parse(std::string_view text);
    std::string to_string() const;  // canonical text (inet_ntop)
};

// An IPv4 or IPv6 network ("10.0.0.0/8", "::1/128", or a bare address).
class Network {
public:
    // nullopt when `text` is not an address or network.
    static std::optional<Network> parse(std::string_view text);
    bool contains(std::string_view address) const;

private:
    IpAddress base_;
    int prefix_ = 0;
};

// One hop a forwarding header names, left to right. `address` is canonical, or "" when the
// hop names no address: "unknown", an obfuscated identifier ("_hidden"), no for=, garbage.
struct ForwardedHop {
    std::string address;
};

// One X-Forwarded-For line: "203.0.113.7, 10.0.0.2". Ports ("192.0.2.1:443",
// "[2001:db8::1]:443") are tolerated; empty list elements are skipped (RFC 9110 §5.6.1).
std::vector<ForwardedHop> parse_x_forwarded_for(std::string_view line);
// One Forwarded line (RFC 7239): the for= of each element, as in
// `for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https`. Parameter names are
// case-insensitive; an element with a malformed pair or two for= names no address.
std::vector<ForwardedHop> parse_forwarded(std::string_view line);

// Who sent a request: `ip` for logs, `key` for the per-address limits ("" = unknown).
struct ClientAddress {
    std::string ip;
    std::string key;
};

class ClientIpResolver {
public:
    ClientIpResolver() = default;
    ClientIpResolver(std::vector<Network> trusted_proxies, ClientAddressHeader header,
                     int ipv6_prefix_length);

    // Whether the forwarding header of a request from `peer` is read at all.
    bool trusts(std::string_view peer) const;
    bool trusts_anyone() const { return !trusted_.empty(); }
    // The configured header's name: "X-Forwarded-For" or "Forwarded".
    const char* header_name() const;

    // `header_lines`: every line of the configured header, in arrival order. Several lines
    // are one list, as if joined with "," (RFC 9110 §5.3), except that a quote one line
    // leaves open does not swallow the next line.
    ClientAddress resolve(std::string_view peer, const std::vector<std::string>& header_lines) const;
    // The limits key of an address: IPv4 as it is, IPv6 as its network ("2001:db8:1:2::/64").
    std::string key_of(std::string_view address) const;

private:
    std::vector<Network> trusted_;
    ClientAddressHeader header_ = ClientAddressHeader::x_forwarded_for;
    int ipv6_prefix_length_ = 64;
};

}  // namespace testino
