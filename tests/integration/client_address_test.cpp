// The client address behind trusted proxies, through the real server: every line of a
// repeated X-Forwarded-For (sent on raw sockets, as a proxy that adds its own line does),
// the RFC 7239 Forwarded header when it is the configured one, and IPv6 clients limited
// per /64. Each test lets one send per address, so a 429 shows two requests shared a key.
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

// One send per client address; 127.0.0.1 (the test) is a trusted proxy.
TestConfig behind_proxy(std::map<std::string, std::string> limits = {}) {
    TestConfig config;
    config.limits["ip_sends_per_window"] = "1";
    config.limits["trusted_proxies"] = "[\"127.0.0.1\"]";
    for (auto& [key, value] : limits) config.limits[key] = value;
    return config;
}

// A send-otp on its own connection, with `header_lines` ("Name: value\r\n" each) exactly as
// given, repeated names included; the reply's status, 0 when none came.
int raw_send(const ServerProcess& server, const std::string& number, const std::string& header_lines) {
    const std::string body = send_body("+1", number);
    RawConnection connection(server.port());
    if (!connection.send(std::string("POST ") + kSendOtp +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + header_lines +
                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body)) {
        return 0;
    }
    const auto response = connection.read_response(5s);
    return response ? response->status : 0;
}

int send(HttpClient& client, const std::string& number, const std::vector<std::string>& headers) {
    return static_cast<int>(client.post_json(kSendOtp, send_body("+1", number), headers).status);
}

// Some access line names this client.
bool logged_client(ServerProcess& server, const std::string& client_ip) {
    return wait_for_event_where(server, "http.access", "client_ip", client_ip).has_value();
}

// The client puts its own X-Forwarded-For line first; the proxy adds a line of its own. The
// lines are one list, so the proxy's view (the last line) names the client, whatever the
// client wrote. Pistache keeps only the first line of a name: this fails if that is read.
TEST(ClientAddressTest, ARepeatedForwardedForHeaderIsReadLineByLineAndTheProxysLineWins) {
    auto server = start_server(behind_proxy());
    ASSERT_TRUE(server);
    EXPECT_EQ(
        raw_send(*server, "2025550101", "X-Forwarded-For: 6.6.6.1\r\nX-Forwarded-For: 198.51.100.7\r\n"),
        200);
    EXPECT_TRUE(logged_client(*server, "198.51.100.7")) << server->stdout_text();
    EXPECT_EQ(
        raw_send(*server, "2025550102", "X-Forwarded-For: 6.6.6.2\r\nx-forwarded-for: 198.51.100.7\r\n"), 429)
        << "a new first line is no new client";
    EXPECT_EQ(raw_send(*server, "2025550103", "X-Forwarded-For: 6.6.6.3, 198.51.100.7\r\n"), 429)
        << "one line or two, the same list";
    EXPECT_EQ(
        raw_send(*server, "2025550104", "X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-For: 198.51.100.8\r\n"),
        200)
        << "another client behind the proxy";
    EXPECT_TRUE(logged_client(*server, "198.51.100.8"));
}

// The lines may arrive in several reads: the head is kept until the request is whole.
TEST(ClientAddressTest, HeaderLinesSplitAcrossReadsAreAllSeen) {
    auto server = start_server(behind_proxy());
    ASSERT_TRUE(server);
    const std::string body = send_body("+1", "2025550105");
    RawConnection connection(server->port());
    const std::string head = std::string("POST ") + kSendOtp +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 6.6.6.1\r\nContent-Type: "
                             "application/json\r\nX-Forwarded-For: 198.51";
    ASSERT_TRUE(connection.send(head));
    std::this_thread::sleep_for(100ms);  // lets the server read the first part on its own
    ASSERT_TRUE(
        connection.send(".100.9\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto response = connection.read_response(5s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(logged_client(*server, "198.51.100.9")) << server->stdout_text();
}

// Only the configured header is read: a proxy that writes Forwarded passes a client's
// X-Forwarded-For through untouched.
TEST(ClientAddressTest, ForwardedIsReadWhenConfiguredAndXForwardedForIsThenIgnored) {
    auto server = start_server(behind_proxy({{"client_address_header", "forwarded"}}));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(
        send(client, "2025550111", {"Forwarded: for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\";proto=https"}),
        200);
    EXPECT_TRUE(logged_client(*server, "2001:db8:cafe::17")) << server->stdout_text();
    EXPECT_EQ(raw_send(*server, "2025550112",
                       "Forwarded: for=\"6.6.6.7\r\nforwarded: for=\"[2001:db8:cafe::99]\";by=127.0.0.1\r\n"),
              429)
        << "the proxy's own line, after a client line left open: the same /64";
    EXPECT_EQ(send(client, "2025550113", {"X-Forwarded-For: 198.51.100.20"}), 200)
        << "X-Forwarded-For is not read: the proxy itself (127.0.0.1) is the client";
    EXPECT_EQ(send(client, "2025550114", {"X-Forwarded-For: 198.51.100.21"}), 429)
        << "...and stays the client whatever X-Forwarded-For says";
    EXPECT_EQ(send(client, "2025550115", {"Forwarded: for=192.0.2.43"}), 200);
}

// A hop the proxy could not name ("unknown", an obfuscated identifier) ends the walk; the
// proxy stands for that client, so it does not escape the per-address limits.
TEST(ClientAddressTest, AnUnnamedForwardedClientCountsAsTheProxy) {
    auto server = start_server(behind_proxy({{"client_address_header", "forwarded"}}));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550121", {"Forwarded: for=unknown"}), 200);
    EXPECT_TRUE(logged_client(*server, "127.0.0.1"));
    EXPECT_EQ(send(client, "2025550122", {"Forwarded: for=\"_hidden\""}), 429);
    EXPECT_EQ(send(client, "2025550123", {"Forwarded: for=6.6.6.6;for=7.7.7.7"}), 429) << "malformed";
}

TEST(ClientAddressTest, Ipv6ClientsShareTheLimitsOfTheirSlash64) {
    auto server = start_server(behind_proxy());
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550131", {"X-Forwarded-For: 2001:db8:1:2::10"}), 200);
    EXPECT_EQ(send(client, "2025550132", {"X-Forwarded-For: 2001:db8:1:2:ffff:ffff:ffff:ffff"}), 429)
        << "another address in the same /64";
    EXPECT_EQ(send(client, "2025550133", {"X-Forwarded-For: 2001:db8:1:3::10"}), 200) << "the next /64";
    EXPECT_TRUE(logged_client(*server, "2001:db8:1:2::10")) << "the log keeps the whole address";
    EXPECT_EQ(send(client, "2025550134", {"X-Forwarded-For: ::ffff:198.51.100.40"}), 200);
    EXPECT_EQ(send(client, "2025550135", {"X-Forwarded-For: 198.51.100.40"}), 429)
        << "an IPv4-mapped address is that IPv4 client";
    EXPECT_EQ(send(client, "2025550136", {"X-Forwarded-For: 198.51.100.41"}), 200) << "IPv4 is keyed by /32";
}

TEST(ClientAddressTest, Ipv6PrefixLengthIsConfigurable) {
    auto server = start_server(behind_proxy({{"ipv6_prefix_length", "128"}}));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(send(client, "2025550141", {"X-Forwarded-For: 2001:db8:1:2::10"}), 200);
    EXPECT_EQ(send(client, "2025550142", {"X-Forwarded-For: 2001:db8:1:2::11"}), 200) << "/128: each address";
    EXPECT_EQ(send(client, "2025550143", {"X-Forwarded-For: 2001:db8:1:2:0::10"}), 429) << "the same address";
}

}  // namespace
}  // namespace testino::test
