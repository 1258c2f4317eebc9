#include "http/client_ip.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace testino {
namespace {

std::vector<Network> networks(std::initializer_list<const char*> texts) {
    std::vector<Network> out;
    for (const char* t : texts) out.push_back(*Network::parse(t));
    return out;
}

// The addresses a parser found, "" for a hop that names none.
template <typename Parse>
std::vector<std::string> addresses(Parse parse, std::string_view line) {
    std::vector<std::string> out;
    for (const ForwardedHop& hop : parse(line)) out.push_back(hop.address);
    return out;
}

using Lines = std::vector<std::string>;
using Strings = std::vector<std::string>;

ClientIpResolver xff_resolver(std::initializer_list<const char*> trusted) {
    return ClientIpResolver(networks(trusted), ClientAddressHeader::x_forwarded_for, 64);
}

ClientIpResolver forwarded_resolver(std::initializer_list<const char*> trusted) {
    return ClientIpResolver(networks(trusted), ClientAddressHeader::forwarded, 64);
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

TEST(IpAddress, CanonicalTextAndMappedIpv4) {
    EXPECT_EQ(IpAddress::parse("2001:DB8:0:0::1")->to_string(), "2001:db8::1");
    EXPECT_EQ(IpAddress::parse("::ffff:192.0.2.1")->to_string(), "192.0.2.1");
    EXPECT_EQ(IpAddress::parse("192.0.2.1")->to_string(), "192.0.2.1");
    EXPECT_FALSE(IpAddress::parse("192.0.2.1:80"));
    EXPECT_FALSE(IpAddress::parse("[::1]"));
    EXPECT_FALSE(IpAddress::parse(""));
}

TEST(XForwardedFor, ParsesEachElement) {
    EXPECT_EQ(addresses(parse_x_forwarded_for, "203.0.113.7, 10.0.0.2"),
              (Strings{"203.0.113.7", "10.0.0.2"}));
    EXPECT_EQ(addresses(parse_x_forwarded_for, " 2001:DB8::1 ,\t::ffff:10.0.0.2 "),
              (Strings{"2001:db8::1", "10.0.0.2"}));
    EXPECT_EQ(addresses(parse_x_forwarded_for, "192.0.2.1:443, [2001:db8::1]:8443, [2001:db8::2]"),
              (Strings{"192.0.2.1", "2001:db8::1", "2001:db8::2"}))
        << "ports and brackets, as some proxies write them";
    EXPECT_EQ(addresses(parse_x_forwarded_for, "1.2.3.4,, ,5.6.7.8,"), (Strings{"1.2.3.4", "5.6.7.8"}))
        << "empty list elements are skipped";
    EXPECT_EQ(addresses(parse_x_forwarded_for, "unknown, garbage, 1.2.3.4:x, [1.2.3.4], \"1.2.3.4\""),
              (Strings{"", "", "", "", ""}));
    EXPECT_TRUE(parse_x_forwarded_for("").empty());
}

TEST(Forwarded, ParsesForOfEachElement) {
    EXPECT_EQ(addresses(parse_forwarded, "for=192.0.2.43"), Strings{"192.0.2.43"});
    // RFC 7239 §4's examples.
    EXPECT_EQ(addresses(parse_forwarded, "for=\"_gazonk\""), Strings{""});
    EXPECT_EQ(addresses(parse_forwarded, "For=\"[2001:db8:cafe::17]:4711\""), Strings{"2001:db8:cafe::17"});
    EXPECT_EQ(addresses(parse_forwarded, "for=192.0.2.60;proto=http;by=203.0.113.43"), Strings{"192.0.2.60"});
    EXPECT_EQ(addresses(parse_forwarded, "for=192.0.2.43, for=198.51.100.17"),
              (Strings{"192.0.2.43", "198.51.100.17"}));
    EXPECT_EQ(addresses(parse_forwarded, "for=unknown, FOR=\"192.0.2.43:47011\", for=\"[2001:db8::1]\""),
              (Strings{"", "192.0.2.43", "2001:db8::1"}));
    EXPECT_EQ(addresses(parse_forwarded, "for=\"192.0.2.43:_port\""), Strings{"192.0.2.43"})
        << "obfuscated port";
    EXPECT_EQ(addresses(parse_forwarded, "proto=https;for=\"[::ffff:192.0.2.9]:80\";host=\"a,b\""),
              Strings{"192.0.2.9"})
        << "a comma inside a quoted string separates nothing";
    EXPECT_EQ(addresses(parse_forwarded, "for=\"\\[2001:db8::3\\]\""), Strings{"2001:db8::3"})
        << "quoted-pair";
    EXPECT_EQ(addresses(parse_forwarded, "for=2001:db8::4"), Strings{"2001:db8::4"})
        << "a bare IPv6 address, as proxies configured without brackets send it";
}

TEST(Forwarded, MalformedElementsNameNoAddress) {
    for (const char* bad : {
             "by=203.0.113.43",               // no for=
             "for=192.0.2.1;for=192.0.2.2",   // for= twice
             "for=",                          // empty value
             "for",                           // no '='
             "=192.0.2.1",                    // no name
             "for=192.0.2.1;proto",           // a pair without '='
             "for=\"192.0.2.1",               // the quote never closes
             "for=\"192.0.2.1\"x",            // bytes after the quote
             "for=192.0.2.1 x",               // a space inside a token
             "for = 192.0.2.1",               // spaces around '='
             "for=\"[192.0.2.1]\"",           // brackets hold IPv6 only
             "for=\"[2001:db8::1]x\"",        // garbage after the brackets
             "for=\"[2001:db8::1]:\"",        // an empty port
             "for=\"[2001:db8::1]:123456\"",  // a port of six digits
             "for=\"192.0.2.1:_\"",           // an empty obfuscated port
             "for=\"[2001:db8::1\"",          // an unclosed bracket
             "for=\"fe80::1%eth0\"",          // a zone: not an address we can key
             "for=_hidden",                   // an obfuscated node
             "for=unknown",                   // RFC 7239's unknown
         }) {
        EXPECT_EQ(addresses(parse_forwarded, bad), Strings{""}) << bad;
    }
    EXPECT_EQ(addresses(parse_forwarded, " , for=192.0.2.1 ,"), Strings{"192.0.2.1"})
        << "empty elements skipped";
    EXPECT_EQ(addresses(parse_forwarded, "for=\"a,b\", for=192.0.2.2"), (Strings{"", "192.0.2.2"}));
    EXPECT_EQ(addresses(parse_forwarded, "for=192.0.2.1, for=\"x, for=192.0.2.2"), (Strings{"192.0.2.1", ""}))
        << "an open quote swallows the rest of its line";
}

TEST(ClientIp, UntrustedPeersHeaderIsIgnored) {
    const auto resolver = xff_resolver({"10.0.0.0/8"});
    EXPECT_EQ(resolver.resolve("203.0.113.9", Lines{"1.2.3.4"}).ip, "203.0.113.9");
    EXPECT_EQ(ClientIpResolver().resolve("127.0.0.1", Lines{"1.2.3.4"}).ip, "127.0.0.1");
    EXPECT_FALSE(resolver.trusts("203.0.113.9"));
    EXPECT_TRUE(resolver.trusts("10.1.1.1"));
    EXPECT_TRUE(resolver.trusts_anyone());
    EXPECT_FALSE(ClientIpResolver().trusts_anyone());
}

TEST(ClientIp, ReadsFromTheRightUpToTheFirstUntrustedHop) {
    const auto resolver = xff_resolver({"10.0.0.0/8", "192.0.2.1"});
    auto ip = [&](Lines lines) { return resolver.resolve("10.0.0.1", lines).ip; };
    EXPECT_EQ(ip({"198.51.100.7"}), "198.51.100.7");
    EXPECT_EQ(ip({"1.2.3.4, 198.51.100.7, 192.0.2.1, 10.9.9.9"}), "198.51.100.7");
    EXPECT_EQ(ip({}), "10.0.0.1");
    EXPECT_EQ(ip({""}), "10.0.0.1");
    EXPECT_EQ(ip({"10.0.0.5, 10.0.0.6"}), "10.0.0.5") << "all trusted: the leftmost";
    EXPECT_EQ(ip({"garbage, 10.0.0.6"}), "10.0.0.6") << "stops at garbage";
    EXPECT_EQ(ip({"198.51.100.7, garbage"}), "10.0.0.1") << "garbage the proxy passed on: the proxy";
    EXPECT_EQ(ip({" 198.51.100.7 "}), "198.51.100.7");
}

// A proxy that adds its own header line instead of appending to the client's: the lines
// are one list, in order, so the proxy's line (the last) is read first.
TEST(ClientIp, SeveralLinesAreOneListInOrder) {
    const auto resolver = xff_resolver({"10.0.0.0/8"});
    EXPECT_EQ(resolver.resolve("10.0.0.1", Lines{"6.6.6.6", "198.51.100.7"}).ip, "198.51.100.7");
    EXPECT_EQ(resolver.resolve("10.0.0.1", Lines{"6.6.6.6", "198.51.100.7, 10.0.0.9"}).ip, "198.51.100.7");
    EXPECT_EQ(resolver.resolve("10.0.0.1", Lines{"6.6.6.6, 10.0.0.3", "10.0.0.9"}).ip, "6.6.6.6")
        << "trusted hops on both lines";
    const auto forwarded = forwarded_resolver({"10.0.0.0/8"});
    EXPECT_EQ(forwarded.resolve("10.0.0.1", Lines{"for=\"6.6.6.6", "for=198.51.100.7"}).ip, "198.51.100.7")
        << "a quote the client leaves open does not swallow the proxy's line";
}

TEST(ClientIp, ForwardedIsReadWhenConfiguredAndOnlyThen) {
    const auto forwarded = forwarded_resolver({"10.0.0.0/8"});
    EXPECT_EQ(forwarded.header_name(), std::string("Forwarded"));
    EXPECT_EQ(xff_resolver({}).header_name(), std::string("X-Forwarded-For"));
    auto ip = [&](Lines lines) { return forwarded.resolve("10.0.0.1", lines).ip; };
    EXPECT_EQ(ip({"for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.2"}),
              "2001:db8:cafe::17");
    EXPECT_EQ(ip({"for=198.51.100.7;by=10.0.0.1"}), "198.51.100.7");
    // A hop named "unknown" or obfuscated stops the walk: the trusted proxy that passed it
    // on stands for the client, so an unnamed client still meets a limit.
    EXPECT_EQ(ip({"for=6.6.6.6, for=unknown"}), "10.0.0.1");
    EXPECT_EQ(ip({"for=6.6.6.6, for=_hidden, for=10.0.0.2"}), "10.0.0.2");
    EXPECT_EQ(ip({"for=6.6.6.6;for=7.7.7.7"}), "10.0.0.1") << "malformed";
    // The X-Forwarded-For syntax is no Forwarded element.
    EXPECT_EQ(ip({"198.51.100.7"}), "10.0.0.1");
}

TEST(ClientIp, PeerAndClientAreCanonical) {
    const auto resolver = xff_resolver({"127.0.0.1"});
    EXPECT_EQ(resolver.resolve("::ffff:127.0.0.1", Lines{"2001:DB8::0:7"}).ip, "2001:db8::7")
        << "an IPv4-mapped peer is the IPv4 address, and is trusted as such";
    EXPECT_EQ(resolver.resolve("::ffff:198.51.100.7", {}).ip, "198.51.100.7");
}

TEST(ClientIp, LimitsKeyIsTheIpv4AddressOrTheIpv6Network) {
    const auto resolver = xff_resolver({});
    EXPECT_EQ(resolver.key_of("198.51.100.7"), "198.51.100.7");
    EXPECT_EQ(resolver.key_of("::ffff:198.51.100.7"), "198.51.100.7") << "IPv4-mapped counts as IPv4";
    EXPECT_EQ(resolver.key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(resolver.key_of("2001:db8:1:2::1"), resolver.key_of("2001:db8:1:2:ffff::9")) << "one /64";
    EXPECT_NE(resolver.key_of("2001:db8:1:2::1"), resolver.key_of("2001:db8:1:3::1"));
    EXPECT_EQ(resolver.key_of(""), "") << "unknown";
    EXPECT_EQ(resolver.resolve("2001:db8:1:2::77", {}).key, "2001:db8:1:2::/64");
    EXPECT_EQ(resolver.resolve("2001:db8:1:2::77", {}).ip, "2001:db8:1:2::77") << "logs keep the address";

    auto key = [](int prefix, const char* address) {
        return ClientIpResolver({}, ClientAddressHeader::x_forwarded_for, prefix).key_of(address);
    };
    EXPECT_EQ(key(128, "2001:db8::1"), "2001:db8::1/128");
    EXPECT_EQ(key(56, "2001:db8:1:2ff::1"), "2001:db8:1:200::/56");
    EXPECT_EQ(key(60, "2001:db8:1:2ff::1"), "2001:db8:1:2f0::/60") << "a prefix inside a byte";
    EXPECT_EQ(key(1, "ffff::1"), "8000::/1");
    EXPECT_EQ(key(48, "198.51.100.7"), "198.51.100.7") << "IPv4 is always /32";
}

}  // namespace
}  // namespace testino
