#include "http/client_ip.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "http/http_text.hpp"

namespace testino {
namespace {

using http_text::iequals;
using http_text::trim_ows;

// RFC 7239 §6: a port, or an obfuscated one ("_" then letters, digits, ".", "_", "-").
bool valid_node_port(std::string_view port) {
    if (port.empty()) return false;
    if (port.front() == '_') {
        return port.size() > 1 && std::all_of(port.begin() + 1, port.end(), [](unsigned char c) {
                   return std::isalnum(c) || c == '.' || c == '_' || c == '-';
               });
    }
    return port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A node as forwarding headers write it: "192.0.2.43", "192.0.2.43:47011",
// "[2001:db8::17]", "[2001:db8::17]:4711", or a bare IPv6 address (what a proxy configured
// without brackets sends). The canonical address, or "" for "unknown", an obfuscated
// identifier, or anything else.
std::string node_address(std::string_view node) {
    std::string_view host = node;
    std::string_view port;
    bool has_port = false;
    if (!node.empty() && node.front() == '[') {
        const auto close = node.find(']');
        if (close == std::string_view::npos) return "";
        host = node.substr(1, close - 1);
        if (host.find(':') == std::string_view::npos) return "";  // brackets hold IPv6 only
        const std::string_view rest = node.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return "";
            has_port = true;
            port = rest.substr(1);
        }
    } else if (std::count(node.begin(), node.end(), ':') == 1) {
        const auto colon = node.find(':');
        host = node.substr(0, colon);
        has_port = true;
        port = node.substr(colon + 1);
    }
    if (has_port && !valid_node_port(port)) return "";
    const auto address = IpAddress::parse(host);
    return address ? address->to_string() : "";
}

// Splits at `separator` outside quoted strings; a quote left open runs to the end.
std::vector<std::string_view> split_outside_quotes(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '\\') {
                ++i;  // a quoted-pair: the next byte is literal
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == separator) {
            parts.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    parts.push_back(text.substr(start));
    return parts;
}

// A forwarded-pair's value: a token, or a quoted-string with its escapes undone; nullopt
// when malformed. Tokens may hold ':' and brackets, which RFC 7239 wants quoted, because
// the address they spell is still unambiguous.
std::optional<std::string> pair_value(std::string_view value) {
    if (value.empty()) return std::nullopt;
    if (value.front() != '"') {
        const bool plain = std::none_of(value.begin(), value.end(), [](unsigned char c) {
            return c <= ' ' || c == '"' || c == '\\' || c == 0x7f;
        });
        return plain ? std::optional<std::string>(value) : std::nullopt;
    }
    std::string out;
    for (std::size_t i = 1; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '\\') {
            if (++i == value.size()) return std::nullopt;
            out += value[i];
        } else if (c == '"') {
            return i + 1 == value.size() ? std::optional<std::string>(out) : std::nullopt;
        } else {
            out += c;
        }
    }
    return std::nullopt;  // the quote never closes
}

// One forwarded-element: `for=...;proto=...;by=...`.
ForwardedHop forwarded_element(std::string_view element) {
    std::optional<std::string> node;
    for (std::string_view pair : split_outside_quotes(element, ';')) {
        pair = trim_ows(pair);
        if (pair.empty()) continue;
        const auto equals = pair.find('=');
        if (equals == std::string_view::npos || equals == 0) return {};
        const auto value = pair_value(pair.substr(equals + 1));
        if (!value) return {};
        if (!iequals(pair.substr(0, equals), "for")) continue;
        if (node) return {};  // for= twice: which one would be true?
        node = *value;
    }
    return {node ? node_address(*node) : ""};
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    const std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.bytes) != 1) return std::nullopt;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes, mapped, sizeof mapped) == 0) {
        std::memmove(a.bytes, a.bytes + 12, 4);
        std::memset(a.bytes + 4, 0, 12);
        a.family = AF_INET;
    } else {
        a.family = AF_INET6;
    }
    return a;
}

std::string IpAddress::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(family, bytes, text, sizeof text) == nullptr) return "";
    return text;
}

std::optional<Network> Network::parse(std::string_view text) {
    text = trim_ows(text);
    const auto slash = text.find('/');
    const auto base = IpAddress::parse(text.substr(0, slash));
    if (!base) return std::nullopt;
    Network n;
    n.base_ = *base;
    const int bits = base->family == AF_INET ? 32 : 128;
    n.prefix_ = bits;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n.prefix_);
        if (ec != std::errc() || end != p.data() + p.size() || n.prefix_ < 0 || n.prefix_ > bits) {
            return std::nullopt;
        }
    }
    return n;
}

bool Network::contains(std::string_view address) const {
    const auto a = IpAddress::parse(trim_ows(address));
    if (!a || a->family != base_.family) return false;
    const int full = prefix_ / 8;
    if (std::memcmp(a->bytes, base_.bytes, static_cast<std::size_t>(full)) != 0) return false;
    const int rest = prefix_ % 8;
    if (rest == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a->bytes[full] & mask) == (base_.bytes[full] & mask);
}

std::vector<ForwardedHop> parse_x_forwarded_for(std::string_view line) {
    std::vector<ForwardedHop> hops;
    while (true) {  // X-Forwarded-For has no quoting: every comma separates
        const auto comma = line.find(',');
        const std::string_view element = trim_ows(line.substr(0, comma));
        if (!element.empty()) hops.push_back({node_address(element)});
        if (comma == std::string_view::npos) return hops;
        line.remove_prefix(comma + 1);
    }
}

std::vector<ForwardedHop> parse_forwarded(std::string_view line) {
    std::vector<ForwardedHop> hops;
    for (std::string_view element : split_outside_quotes(line, ',')) {
        element = trim_ows(element);
        if (!element.empty()) hops.push_back(forwarded_element(element));
    }
    return hops;
}

ClientIpResolver::ClientIpResolver(std::vector<Network> trusted_proxies, ClientAddressHeader header,
                                   int ipv6_prefix_length)
    : trusted_(std::move(trusted_proxies)), header_(header), ipv6_prefix_length_(ipv6_prefix_length) {}

bool ClientIpResolver::trusts(std::string_view peer) const {
    return std::any_of(trusted_.begin(), trusted_.end(), [&](const Network& n) { return n.contains(peer); });
}

const char* ClientIpResolver::header_name() const {
    return header_ == ClientAddressHeader::forwarded ? "Forwarded" : "X-Forwarded-For";
}

ClientAddress ClientIpResolver::resolve(std::string_view peer,
                                        const std::vector<std::string>& header_lines) const {
    const auto peer_address = IpAddress::parse(peer);
    std::string client = peer_address ? peer_address->to_string() : std::string(peer);
    // A header from an untrusted peer is whatever the client chose to write: ignore it.
    if (!header_lines.empty() && trusts(client)) {
        std::vector<ForwardedHop> hops;
        for (const std::string& line : header_lines) {
            auto more = header_ == ClientAddressHeader::forwarded ? parse_forwarded(line)
                                                                  : parse_x_forwarded_for(line);
            hops.insert(hops.end(), more.begin(), more.end());
        }
        for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
            // A hop that names no address ends the walk; the trusted hop that passed it on
            // stands for it, so an unnamed client cannot step outside every limit.
            if (hop->address.empty()) break;
            client = hop->address;
            if (!trusts(client)) break;  // the first untrusted hop from the right is the client
        }
    }
    return {client, key_of(client)};
}

std::string ClientIpResolver::key_of(std::string_view address) const {
    auto a = IpAddress::parse(address);
    if (!a) return std::string(address);  // not an address (never from a socket): counted as given
    if (a->family == AF_INET) return a->to_string();
    const int full = ipv6_prefix_length_ / 8;
    const int rest = ipv6_prefix_length_ % 8;
    if (full < 16) {
        a->bytes[full] &= static_cast<unsigned char>(0xff << (8 - rest));
        std::memset(a->bytes + full + 1, 0, static_cast<std::size_t>(15 - full));
    }
    return a->to_string() + "/" + std::to_string(ipv6_prefix_length_);
}

}  // namespace testino
