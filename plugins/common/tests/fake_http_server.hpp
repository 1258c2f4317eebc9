// A scriptable HTTP server on 127.0.0.1 (a free port) inside the test process, standing in
// for a provider's API: it records every request and answers what the test's handler says.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testino::test {

struct ReceivedRequest {
    std::string method;                          // "POST"
    std::string path;                            // "/2010-04-01/Accounts/AC.../Messages.json"
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::uint16_t peer_port = 0;  // the client's source port: equal ports = a reused connection

    std::optional<std::string> header(const std::string& lower_case_name) const;
};

struct ScriptedReply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::chrono::milliseconds delay{0};  // wait before answering (the client may give up)
};

class FakeHttpServer {
public:
    using Handler = std::function<ScriptedReply(const ReceivedRequest&)>;

    // Listens at once; `threads` bounds how many delayed replies can wait side by side.
    explicit FakeHttpServer(Handler handler, int threads = 4);
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    std::uint16_t port() const;
    std::string base_url() const;  // "http://127.0.0.1:<port>"

    void set_handler(Handler handler);
    std::vector<ReceivedRequest> requests() const;  // in arrival order
    std::size_t request_count() const;
    void clear_requests();

    struct State;  // shared with the server's handler objects

private:
    std::shared_ptr<State> state_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Basic auth credentials from an "Authorization: Basic ..." value; nullopt if malformed.
std::optional<std::pair<std::string, std::string>> decode_basic_auth(const std::string& header_value);

// Fields of an application/x-www-form-urlencoded body, in order ('+' is a space).
std::vector<std::pair<std::string, std::string>> parse_form(const std::string& body);

}  // namespace testino::test
