// The provider HTTP client against a fake server on loopback: what goes on the wire, what
// comes back, timeouts, refused connections, retries and form encoding.
#include "testino/plugins/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "fake_http_server.hpp"
#include "raw_listener.hpp"

namespace testino::plugins::http {
namespace {

using namespace std::chrono_literals;
using test::FakeHttpServer;
using test::RawBehaviour;
using test::RawListener;
using test::ReceivedRequest;
using test::ScriptedReply;
using Clock = std::chrono::steady_clock;

Request post_to(const FakeHttpServer& server, const std::string& path = "/v1/send") {
    Request request;
    request.url = server.base_url() + path;
    request.body = "To=%2B12025550123&Body=hello";
    return request;
}

auto in(std::chrono::milliseconds duration) { return Clock::now() + duration; }

// A loopback port nothing listens on: bound to port 0, then closed.
int closed_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

bool retry_on_5xx(const Response& response) { return response.status >= 500; }

TEST(HttpClientTest, PassesStatusAndBodyThrough) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{201, R"({"sid":"SM1"})"}; });
    Client client({});

    const Response response = client.post(post_to(server), in(5s));

    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(response.body, R"({"sid":"SM1"})");
    EXPECT_FALSE(response.timed_out);
    EXPECT_FALSE(response.nothing_sent);
    EXPECT_EQ(response.transport_error, "");
}

TEST(HttpClientTest, ErrorStatusesAreAnswersNotTransportErrors) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{400, R"({"code":21211})"}; });
    Client client({});

    const Response response = client.post(post_to(server), in(5s));

    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, R"({"code":21211})");
    EXPECT_FALSE(response.nothing_sent) << "an answer means the request arrived";
    EXPECT_EQ(response.transport_error, "");
}

TEST(HttpClientTest, SendsMethodPathBodyContentTypeUserAgentAndExtraHeaders) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{200, "{}"}; });
    ClientOptions options;
    options.user_agent = "testino-test/9";
    Client client(options);
    Request request = post_to(server, "/2010-04-01/Accounts/AC1/Messages.json");
    request.headers.push_back("X-Amz-Date: 20261126T080000Z");

    ASSERT_EQ(client.post(request, in(5s)).status, 200);

    const auto received = server.requests();
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0].method, "POST");
    EXPECT_EQ(received[0].path, "/2010-04-01/Accounts/AC1/Messages.json");
    EXPECT_EQ(received[0].body, "To=%2B12025550123&Body=hello");
    EXPECT_EQ(received[0].header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(received[0].header("user-agent"), "testino-test/9");
    EXPECT_EQ(received[0].header("x-amz-date"), "20261126T080000Z");
    EXPECT_FALSE(received[0].header("authorization")) << "no credentials unless asked";
}

TEST(HttpClientTest, SendsBasicAuthCredentials) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{200, "{}"}; });
    Client client({});
    Request request = post_to(server);
    request.basic_auth = std::make_pair("AC0123", "s3cret:with colon");

    ASSERT_EQ(client.post(request, in(5s)).status, 200);

    const auto authorization = server.requests().at(0).header("authorization");
    ASSERT_TRUE(authorization);
    const auto credentials = test::decode_basic_auth(*authorization);
    ASSERT_TRUE(credentials) << *authorization;
    EXPECT_EQ(credentials->first, "AC0123");
    EXPECT_EQ(credentials->second, "s3cret:with colon");
}

TEST(HttpClientTest, ReusesTheConnectionForConsecutiveRequests) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{200, "{}"}; });
    Client client({});

    ASSERT_EQ(client.post(post_to(server), in(5s)).status, 200);
    ASSERT_EQ(client.post(post_to(server), in(5s)).status, 200);

    const auto received = server.requests();
    ASSERT_EQ(received.size(), 2u);
    EXPECT_EQ(received[0].peer_port, received[1].peer_port) << "a new connection was opened";
}

TEST(HttpClientTest, ASlowAnswerTimesOutAtTheDeadline) {
    FakeHttpServer server([](const ReceivedRequest&) {
        return ScriptedReply{200, "{}", "application/json", 1500ms};
    });
    Client client({});

    const Response response = client.post(post_to(server), in(200ms));

    EXPECT_TRUE(response.timed_out);
    EXPECT_EQ(response.status, 0);
    EXPECT_FALSE(response.nothing_sent) << "the server has the request: it may have acted on it";
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_NE(response.transport_error, "");
}

TEST(HttpClientTest, ADeadlineAlreadyPassedSendsNothing) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{200, "{}"}; });
    Client client({});

    const Response response = client.post(post_to(server), Clock::now() - 1ms);

    EXPECT_TRUE(response.timed_out);
    EXPECT_TRUE(response.nothing_sent);
    EXPECT_EQ(response.status, 0);
    EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpClientTest, ARefusedConnectionIsATransportErrorWithoutCredentials) {
    Client client({});
    Request request;
    request.url = "http://127.0.0.1:" + std::to_string(closed_loopback_port()) + "/v1/send";
    request.basic_auth = std::make_pair("AC0123", "the-auth-token");

    const Response response = client.post(request, in(5s));

    EXPECT_EQ(response.status, 0);
    EXPECT_FALSE(response.timed_out);
    EXPECT_TRUE(response.nothing_sent) << "a refused connection carried nothing";
    EXPECT_NE(response.transport_error, "");
    EXPECT_EQ(response.transport_error.find("the-auth-token"), std::string::npos);
}

// A POST that gives up connecting after 200 ms, with plenty of time for the rest.
Response post_with_short_connect_timeout(const std::string& base_url) {
    ClientOptions options;
    options.connect_timeout = 200ms;
    Client client(options);
    Request request;
    request.url = base_url + "/v1/send";
    return client.post(request, in(5s));
}

// The failures before any request byte goes out: the server cannot have acted on them.
TEST(HttpClientTest, AConnectThatTimesOutSentNothing) {
    RawListener full_queue(RawBehaviour::never_accept);

    const Response response = post_with_short_connect_timeout(full_queue.http_url());

    EXPECT_EQ(response.status, 0);
    EXPECT_TRUE(response.timed_out) << response.transport_error;
    EXPECT_TRUE(response.nothing_sent);
    EXPECT_EQ(full_queue.connections(), 0u);
}

TEST(HttpClientTest, ATlsHandshakeThatNeverEndsSentNothing) {
    RawListener silent(RawBehaviour::silent);

    const Response response = post_with_short_connect_timeout(silent.https_url());

    EXPECT_EQ(response.status, 0);
    EXPECT_TRUE(response.timed_out) << response.transport_error;
    EXPECT_TRUE(response.nothing_sent) << "the TLS hello is not the request";
    EXPECT_EQ(silent.connections(), 1u) << "the TCP connection was made";
}

// After the whole request went out, silence or a hang-up leaves it unknown whether the server
// acted on it.
TEST(HttpClientTest, AHangUpAfterTheRequestMayHaveBeenActedOn) {
    RawListener hangs_up(RawBehaviour::close_after_request);
    Client client({});
    Request request;
    request.url = hangs_up.http_url() + "/v1/send";
    request.body = "To=%2B12025550123&Body=hello";

    const Response response = client.post(request, in(5s));

    EXPECT_EQ(response.status, 0);
    EXPECT_FALSE(response.timed_out);
    EXPECT_FALSE(response.nothing_sent);
    EXPECT_NE(response.transport_error, "");
    EXPECT_EQ(hangs_up.complete_requests(), 1u);
}

TEST(HttpClientTest, SilenceAfterTheRequestTimesOutAndMayHaveBeenActedOn) {
    RawListener silent(RawBehaviour::silent);
    Client client({});
    Request request;
    request.url = silent.http_url() + "/v1/send";

    const Response response = client.post(request, in(300ms));

    EXPECT_EQ(response.status, 0);
    EXPECT_TRUE(response.timed_out);
    EXPECT_FALSE(response.nothing_sent);
}

TEST(HttpClientTest, AnOversizedBodyIsATransportError) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{200, std::string(4096, 'x')}; });
    ClientOptions options;
    options.max_response_bytes = 1024;
    Client client(options);

    const Response response = client.post(post_to(server), in(5s));

    EXPECT_EQ(response.status, 0);
    EXPECT_EQ(response.body, "");
    EXPECT_NE(response.transport_error.find("1024"), std::string::npos) << response.transport_error;
}

TEST(HttpClientTest, ConcurrentPostsFromManyThreadsAllArrive) {
    FakeHttpServer server([](const ReceivedRequest& request) { return ScriptedReply{200, request.body}; });
    Client client({});
    constexpr int kThreads = 4;
    constexpr int kPostsPerThread = 10;
    std::atomic<int> matched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPostsPerThread; ++i) {
                Request request = post_to(server);
                request.body = "n=" + std::to_string(t * 100 + i);
                const Response response = client.post(request, in(10s));
                if (response.status == 200 && response.body == request.body) ++matched;
            }
        });
    }
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(matched.load(), kThreads * kPostsPerThread);
    EXPECT_EQ(server.request_count(), static_cast<std::size_t>(kThreads * kPostsPerThread));
}

TEST(PostWithRetriesTest, RetriesA503ThenReturnsTheSuccess) {
    std::atomic<int> calls{0};
    FakeHttpServer server([&calls](const ReceivedRequest&) {
        return ++calls <= 2 ? ScriptedReply{503, R"({"code":20500})"} : ScriptedReply{201, "{}"};
    });
    Client client({});
    std::vector<std::pair<int, long>> retries;

    const Response response = post_with_retries(
        client, post_to(server), in(10s), {3, 5ms, 20ms}, retry_on_5xx,
        [&retries](int attempt, const Response& failed) { retries.emplace_back(attempt, failed.status); });

    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(server.request_count(), 3u);
    const std::vector<std::pair<int, long>> expected{{1, 503}, {2, 503}};
    EXPECT_EQ(retries, expected);
}

TEST(PostWithRetriesTest, StopsWhenTheAttemptsRunOut) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{503, "{}"}; });
    Client client({});

    const Response response =
        post_with_retries(client, post_to(server), in(10s), {3, 1ms, 5ms}, retry_on_5xx);

    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(server.request_count(), 3u);
}

TEST(PostWithRetriesTest, DoesNotRetryWhatRetryableRejects) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{400, "{}"}; });
    Client client({});
    int retries = 0;

    const Response response = post_with_retries(client, post_to(server), in(10s), {3, 1ms, 5ms}, retry_on_5xx,
                                                [&retries](int, const Response&) { ++retries; });

    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_EQ(retries, 0);
}

TEST(PostWithRetriesTest, NoRetryWhenTheBackoffWouldPassTheDeadline) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{503, "{}"}; });
    Client client({});
    int retries = 0;

    // The first pause is at least 1 s (half of the 2 s base); the deadline is 300 ms away.
    const Response response =
        post_with_retries(client, post_to(server), in(300ms), {5, 2000ms, 4000ms}, retry_on_5xx,
                          [&retries](int, const Response&) { ++retries; });

    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_EQ(retries, 0);
}

TEST(PostWithRetriesTest, ZeroAttemptsStillMakesOne) {
    FakeHttpServer server([](const ReceivedRequest&) { return ScriptedReply{201, "{}"}; });
    Client client({});

    EXPECT_EQ(post_with_retries(client, post_to(server), in(5s), {0, 1ms, 1ms}, retry_on_5xx).status, 201);
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(BackoffTest, DoublesFromTheBaseWithJitterAndStopsAtTheCap) {
    const RetryPolicy policy{10, 100ms, 1000ms};
    for (int sample = 0; sample < 50; ++sample) {
        const auto first = backoff_before_retry(policy, 1);
        EXPECT_GE(first, 50ms);
        EXPECT_LE(first, 100ms);
        const auto third = backoff_before_retry(policy, 3);
        EXPECT_GE(third, 200ms);
        EXPECT_LE(third, 400ms);
        const auto late = backoff_before_retry(policy, 9);
        EXPECT_GE(late, 500ms);
        EXPECT_LE(late, 1000ms);
    }
    EXPECT_EQ(backoff_before_retry({3, 0ms, 0ms}, 2), 0ms);
}

TEST(FormEncodeTest, KeepsUnreservedCharactersAndPercentEncodesTheRest) {
    EXPECT_EQ(form_encode({}), "");
    EXPECT_EQ(form_encode({{"To", "+12025550123"}}), "To=%2B12025550123");
    EXPECT_EQ(form_encode({{"a", "AZaz09-._~"}, {"b", ""}}), "a=AZaz09-._~&b=");
    EXPECT_EQ(form_encode({{"Body", "Your code is 1 2&3=4*/?%"}}),
              "Body=Your%20code%20is%201%202%263%3D4%2A%2F%3F%25");
    EXPECT_EQ(form_encode({{"k y", "\xC3\xA9\n"}}), "k%20y=%C3%A9%0A");
}

TEST(FakeHttpServerTest, ParseFormUndoesFormEncode) {
    const std::vector<std::pair<std::string, std::string>> fields{
        {"To", "+447400123456"}, {"Body", "Your code: 12 & 34 = ok?"}, {"Empty", ""}};
    EXPECT_EQ(test::parse_form(form_encode(fields)), fields);
    EXPECT_EQ(test::parse_form("a=b+c"), (std::vector<std::pair<std::string, std::string>>{{"a", "b c"}}));
}

}  // namespace
}  // namespace testino::plugins::http
