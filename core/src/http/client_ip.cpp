#include "http/client_ip.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace testino {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Parses an address into `out` (16 bytes); returns AF_INET, AF_INET6 or 0.
int parse_address(std::string_view text, unsigned char* out) {
    const std::string s(text);
    if (inet_pton(AF_INET, s.c_str(), out) == 1) return AF_INET;
    if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is that IPv4 address.
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out, mapped, 12) == 0) {
            std::memmove(out, out + 12, 4);
            return AF_INET;
        }
        return AF_INET6;
    }
    return 0;
}

}  // namespace

std::optional<Network> Network::parse(std::string_view text) {
    text = trim(text);
    Network n;
    const auto slash = text.find('/');
    n.family_ = parse_address(text.substr(0, slash), n.bytes_);
    if (n.family_ == 0) return std::nullopt;
    const int bits = n.family_ == AF_INET ? 32 : 128;
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
    unsigned char bytes[16] = {};
    if (parse_address(trim(address), bytes) != family_) return false;
    const int full = prefix_ / 8;
    if (std::memcmp(bytes, bytes_, static_cast<std::size_t>(full)) != 0) return false;
    const int rest = prefix_ % 8;
    if (rest == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (bytes[full] & mask) == (bytes_[full] & mask);
}

ClientIpResolver::ClientIpResolver(std::vector<Network> trusted_proxies)
    : trusted_(std::move(trusted_proxies)) {}

bool ClientIpResolver::trusted(std::string_view address) const {
    for (const auto& n : trusted_) {
        if (n.contains(address)) return true;
    }
    return false;
}

std::string ClientIpResolver::resolve(const std::string& peer, std::string_view forwarded_for) const {
    // A header from an untrusted peer is whatever the client chose to write: ignore it.
    if (forwarded_for.empty() || !trusted(peer)) return peer;
    std::string client = peer;
    while (!forwarded_for.empty()) {
        const auto comma = forwarded_for.rfind(',');
        const std::string_view hop =
            trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for = comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
        unsigned char bytes[16];
        if (parse_address(hop, bytes) == 0) break;  // garbage: stop at the last good hop
        client = std::string(hop);
        if (!trusted(hop)) break;  // the first untrusted hop from the right is the client
    }
    return client;
}

}  // namespace testino
