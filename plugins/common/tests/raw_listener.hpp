// Loopback TCP listeners that fail on purpose, for the transport failures a provider must
// tell apart: "nothing was sent" (connects that hang, a TLS handshake that never ends) from
// "the request went out, no answer came" (a server that reads it and hangs up).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace testino::test {

enum class RawBehaviour {
    never_accept,         // the accept queue is full: a connect hangs until the client's timeout
    silent,               // accepts and reads, never writes: an https client waits in its handshake
    close_after_request,  // reads one HTTP request (head and Content-Length body), then closes
};

class RawListener {
public:
    explicit RawListener(RawBehaviour behaviour);
    ~RawListener();
    RawListener(const RawListener&) = delete;
    RawListener& operator=(const RawListener&) = delete;

    int port() const;
    std::string http_url() const;           // "http://127.0.0.1:<port>"
    std::string https_url() const;          // "https://127.0.0.1:<port>"
    std::size_t connections() const;        // connections accepted so far
    std::size_t complete_requests() const;  // close_after_request: requests read whole

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace testino::test
