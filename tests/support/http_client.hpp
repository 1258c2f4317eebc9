// HTTP clients for integration tests, loopback only: a libcurl one for ordinary requests
// and a raw-socket one for keep-alive, HTTP/1.0 and malformed-HTTP cases.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testino::test {

// Response headers in arrival order, looked up case-insensitively.
class HeaderList {
public:
    void add(std::string name, std::string value);
    void clear() { entries_.clear(); }
    std::optional<std::string> get(const std::string& name) const;  // the first one
    bool has(const std::string& name) const { return get(name).has_value(); }
    std::size_t count(const std::string& name) const;
    const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

private:
    std::vector<std::pair<std::string, std::string>> entries_;
};

struct HttpResponse {
    long status = 0;  // 0: no response (see error)
    HeaderList headers;
    std::string body;
    std::string error;  // libcurl's message when the transfer failed

    std::string header(const std::string& name) const { return headers.get(name).value_or(""); }
};

// One libcurl easy handle to http://127.0.0.1:<port>; it reuses its connection between
// requests like a real client. Not thread-safe: use one per thread.
class HttpClient {
public:
    explicit HttpClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // headers are "Name: value" lines. curl's default Content-Type and Expect headers are
    // suppressed unless given, so the request carries exactly what the test says.
    HttpResponse request(const std::string& method, const std::string& path, const std::string& body = "",
                         const std::vector<std::string>& headers = {});
    HttpResponse get(const std::string& path, const std::vector<std::string>& headers = {});
    // POST with Content-Type: application/json.
    HttpResponse post_json(const std::string& path, const std::string& body,
                           const std::vector<std::string>& headers = {});

    // From now on https://127.0.0.1:<port>, trusting only the CA certificate(s) in `ca_file`
    // (a self-signed server certificate is its own CA); the name 127.0.0.1 is verified too.
    void use_https(std::string ca_file) { ca_file_ = std::move(ca_file); }

private:
    void* curl_;  // CURL*, kept out of the header
    int port_;
    std::string ca_file_;  // "" = plain HTTP
    std::chrono::milliseconds timeout_;
};

struct RawResponse {
    int status = 0;
    std::string version;  // "HTTP/1.1"
    HeaderList headers;
    std::string body;
};

// A plain TCP connection to 127.0.0.1:<port> (or [::1]) speaking bytes the test writes itself.
class RawConnection {
public:
    // `loopback` is "127.0.0.1" or "::1"; throws std::runtime_error if it cannot connect.
    explicit RawConnection(int port, const std::string& loopback = "127.0.0.1");
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    bool send(const std::string& bytes);  // false if the peer is gone
    // Reads one response (headers, then Content-Length bytes of body, or to EOF without
    // one); nullopt on timeout or if the peer closed before a full response.
    std::optional<RawResponse> read_response(std::chrono::milliseconds timeout);
    // True if the peer closes (EOF or reset) within the timeout; any bytes that arrive
    // meanwhile are kept for read_response.
    bool peer_closed_within(std::chrono::milliseconds timeout);

private:
    // Appends what arrives within the timeout to buffer_; false on EOF/error.
    bool fill(std::chrono::milliseconds timeout);

    int fd_ = -1;
    std::string buffer_;
    bool eof_ = false;
};

}  // namespace testino::test
