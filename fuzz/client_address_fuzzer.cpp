// Fuzzes what a client (or a proxy in front of it) controls in the client address: the bytes
// of a request head, read as the server reads a trusted proxy's request (header_values for
// X-Forwarded-For and Forwarded, each line parsed, the walk from the right, the limits key).
// Every proxy is trusted (0.0.0.0/0, ::/0), so the walk goes as deep as the header does.
// Invariants beyond "no crash, no sanitizer report":
// - every hop is "" or a canonical address (parsing it and printing it gives it back);
// - the client is the peer or one of the hops, and its key is the IPv4 address or an IPv6
//   network whose text ends in the prefix length;
// - a head that arrives in two reads is captured as when it arrives in one.
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/client_ip.hpp"
#include "http/header_lines.hpp"

namespace {

using namespace testino;

constexpr const char* kPeer = "192.0.2.1";

void check_hops(const std::vector<ForwardedHop>& hops, std::vector<std::string>& named) {
    for (const ForwardedHop& hop : hops) {
        if (hop.address.empty()) continue;
        const auto address = IpAddress::parse(hop.address);
        FUZZ_CHECK(address.has_value());
        FUZZ_CHECK(address->to_string() == hop.address);
        named.push_back(hop.address);
    }
}

void check_resolve(ClientAddressHeader header, int prefix, std::string_view head) {
    const std::vector<Network> everyone = {*Network::parse("0.0.0.0/0"), *Network::parse("::/0")};
    const ClientIpResolver resolver(everyone, header, prefix);
    const std::vector<std::string> lines = header_values(head, resolver.header_name());
    std::vector<std::string> named = {kPeer};
    for (const std::string& line : lines) {
        check_hops(
            header == ClientAddressHeader::forwarded ? parse_forwarded(line) : parse_x_forwarded_for(line),
            named);
    }
    const ClientAddress client = resolver.resolve(kPeer, lines);
    FUZZ_CHECK(std::find(named.begin(), named.end(), client.ip) != named.end());
    const auto address = IpAddress::parse(client.ip);
    FUZZ_CHECK(address.has_value());
    if (address->family == AF_INET) {
        FUZZ_CHECK(client.key == client.ip);
    } else {
        const std::string suffix = "/" + std::to_string(prefix);
        FUZZ_CHECK(client.key.size() > suffix.size() &&
                   client.key.compare(client.key.size() - suffix.size(), suffix.size(), suffix) == 0);
        FUZZ_CHECK(IpAddress::parse(client.key.substr(0, client.key.size() - suffix.size())).has_value());
    }
}

void check_capture(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const auto* bytes = reinterpret_cast<const char*>(data);
    RequestHeadCapture whole;
    whole.append(bytes, size);
    RequestHeadCapture split;
    const size_t cut = data[0] % size;
    split.append(bytes, cut);
    split.append(bytes + cut, size - cut);
    FUZZ_CHECK(whole.head() == split.head());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view head(reinterpret_cast<const char*>(data), size);
    const int prefix = size == 0 ? 64 : 1 + data[size - 1] % 128;
    check_resolve(ClientAddressHeader::x_forwarded_for, prefix, head);
    check_resolve(ClientAddressHeader::forwarded, prefix, head);
    check_capture(data, size);
    return 0;
}
