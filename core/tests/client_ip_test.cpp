#include "http/client_ip.hpp"

#include <gtest/gtest.h>

namespace testino {
namespace {

std::vector<Network> networks(std::initializer_list<const char*> texts) {
    std::vector<Network> out;
    for (const char* t : texts) out.push_back(*Network::parse(t));
    return out;
}

TEST(Network, ParsesAddressesAndCidrs) {
    EXPECT_TRUE(Network::parse("10.0.0.0/8"));
    EXPECT_TRUE(Network::parse("127.0.0.1"));
    EXPECT_TRUE(Network::parse("2001:db8::/32"));
    EXPECT_FALSE(Network::parse("10.0.0.0/33"));
    EXPECT_FALSE(Network::parse("10.0.0/8"));
    EXPECT_FALSE(Network::parse("example.com"));
    EXPECT_FALSE(Network::parse("10.0.0.0/x"));
}

TEST(Network, MatchesByPrefix) {
    const Network n = *Network::parse("10.2.0.0/15");  // 10.2.0.0 - 10.3.255.255
    EXPECT_TRUE(n.contains("10.2.0.0"));
    EXPECT_TRUE(n.contains("10.3.255.255"));
    EXPECT_FALSE(n.contains("10.1.255.255"));
    EXPECT_FALSE(n.contains("10.4.0.0"));
    EXPECT_FALSE(n.contains("::1"));
    EXPECT_FALSE(n.contains("not an address"));
    EXPECT_TRUE(Network::parse("2001:db8::/32")->contains("2001:db8:1::5"));
    EXPECT_FALSE(Network::parse("2001:db8::/32")->contains("2001:db9::5"));
    EXPECT_TRUE(Network::parse("127.0.0.1")->contains("::ffff:127.0.0.1")) << "IPv4-mapped";
}

TEST(ClientIp, UntrustedPeersHeaderIsIgnored) {
    const ClientIpResolver resolver(networks({"10.0.0.0/8"}));
    EXPECT_EQ(resolver.resolve("203.0.113.9", "1.2.3.4"), "203.0.113.9");
    EXPECT_EQ(ClientIpResolver().resolve("127.0.0.1", "1.2.3.4"), "127.0.0.1");
}

TEST(ClientIp, ReadsFromTheRightUpToTheFirstUntrustedHop) {
    const ClientIpResolver resolver(networks({"10.0.0.0/8", "192.0.2.1"}));
    EXPECT_EQ(resolver.resolve("10.0.0.1", "198.51.100.7"), "198.51.100.7");
    EXPECT_EQ(resolver.resolve("10.0.0.1", "1.2.3.4, 198.51.100.7, 192.0.2.1, 10.9.9.9"), "198.51.100.7");
    EXPECT_EQ(resolver.resolve("10.0.0.1", ""), "10.0.0.1");
    EXPECT_EQ(resolver.resolve("10.0.0.1", "10.0.0.5, 10.0.0.6"), "10.0.0.5") << "all trusted: the leftmost";
    EXPECT_EQ(resolver.resolve("10.0.0.1", "garbage, 10.0.0.6"), "10.0.0.6") << "stops at garbage";
    EXPECT_EQ(resolver.resolve("10.0.0.1", " 198.51.100.7 "), "198.51.100.7");
}

}  // namespace
}  // namespace testino
