// An HTTP client for SMS provider plugins that call a provider's HTTPS API (Twilio, SNS),
// on libcurl: POST with a deadline, connection reuse, and bounded retries with backoff.
//
// TLS: certificates and host names are always verified for https:// URLs (the system CA
// store); plain http:// is for tests against loopback fakes. Proxies: the usual environment
// variables (https_proxy, HTTPS_PROXY, no_proxy, ...) are honoured for real hosts, so a
// server behind an egress proxy works, while 127.0.0.1, ::1 and localhost never go through
// one. Redirects are not followed; only http and https are allowed.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testino::plugins::http {

struct Request {
    std::string url;
    std::string body;
    std::string content_type = "application/x-www-form-urlencoded";
    std::vector<std::string> headers;                               // "Name: value"
    std::optional<std::pair<std::string, std::string>> basic_auth;  // user, password
    // The request's W3C traceparent (SmsMessage::traceparent), or "": each post() sends a
    // child of it, with a new span id per HTTP call (retries included).
    std::string traceparent;
};

struct Response {
    long status = 0;  // 0 when no HTTP answer arrived
    std::string body;
    bool timed_out = false;  // the connect or total timeout was hit
    // True only when no byte of the request left this process, so the server cannot have acted
    // on it: the host was not found, the connection was refused, the connect or TLS handshake
    // failed or timed out, or the deadline had passed. False for every HTTP answer, and for a
    // timeout, reset or close after any request byte went out (the server may have acted).
    bool nothing_sent = false;
    std::string transport_error;  // curl's message when no answer arrived ("" otherwise); never
                                  // contains credentials (they never go into the URL)
};

struct ClientOptions {
    std::chrono::milliseconds connect_timeout{2000};
    // Never false in production: no plugin offers it as a setting.
    bool verify_tls = true;
    std::string user_agent = "testino-auth/0.1";
    // Bodies larger than this are cut off and reported as a transport error.
    std::size_t max_response_bytes = 1 << 20;
};

// Thread-safe. Keeps a small pool of curl handles, each with its own connection cache, so
// consecutive requests to the same host reuse a kept-alive connection.
class Client {
public:
    explicit Client(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // POSTs request.body. The total timeout is the time left until `deadline` (a deadline
    // already passed gives timed_out without sending); the connect timeout is the smaller
    // of options.connect_timeout and that. Never throws for network failures.
    Response post(const Request& request, std::chrono::steady_clock::time_point deadline);

private:
    struct Pool;
    ClientOptions options_;
    std::unique_ptr<Pool> pool_;
};

// application/x-www-form-urlencoded: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~)
// are kept, every other byte is %XX (upper-case hex), pairs are joined with '&'.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

struct RetryPolicy {
    int max_attempts = 3;  // attempts in all, the first one included
    std::chrono::milliseconds base_backoff{200};
    std::chrono::milliseconds max_backoff{2000};
};

// The pause before retry number `retry` (1 = after the first attempt): exponential
// (base * 2^(retry-1), capped at max_backoff) with "equal jitter": a uniformly random
// value between half of that and all of it.
std::chrono::milliseconds backoff_before_retry(const RetryPolicy& policy, int retry);

// Posts until a response `retryable` says no to, the attempts run out, or the next backoff
// would end at or past the deadline; returns the last response. on_retry(attempt, response)
// is called with the failed attempt's number (1-based) and response before each pause.
Response post_with_retries(Client& client, const Request& request,
                           std::chrono::steady_clock::time_point deadline, const RetryPolicy& policy,
                           const std::function<bool(const Response&)>& retryable,
                           const std::function<void(int attempt, const Response&)>& on_retry = {});

}  // namespace testino::plugins::http
