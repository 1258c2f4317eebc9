// The client's address: the socket peer, unless the peer is a trusted proxy, in which
// case X-Forwarded-For is read from the right up to the first address we do not trust.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace testino {

// An IPv4 or IPv6 network ("10.0.0.0/8", "::1/128", or a bare address).
class Network {
public:
    // nullopt when `text` is not an address or network.
    static std::optional<Network> parse(std::string_view text);
    bool contains(std::string_view address) const;

private:
    int family_ = 0;
    unsigned char bytes_[16] = {};
    int prefix_ = 0;
};

class ClientIpResolver {
public:
    explicit ClientIpResolver(std::vector<Network> trusted_proxies = {});
    // `forwarded_for` is the X-Forwarded-For header's value ("" when absent).
    std::string resolve(const std::string& peer, std::string_view forwarded_for) const;

private:
    bool trusted(std::string_view address) const;
    std::vector<Network> trusted_;
};

}  // namespace testino
