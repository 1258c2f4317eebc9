// One request's context and its single reply, shared by the public and the admin listener:
// the headers every reply carries (request id, nosniff, CORS, Connection), the access log
// line, and closing a connection that must not persist. Internal to core/src/http.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pistache/http.h>

#include "domain/errors.hpp"
#include "observability/request_trace.hpp"

namespace testino {

// What one request carries from its start to its single reply.
struct RequestContext {
    std::string request_id;
    // Its W3C trace (continued or started here); the reply's traceresponse, the trace_id of
    // its log lines. Null only in unit tests that build a context by hand.
    std::shared_ptr<const RequestTrace> trace;
    std::string method;
    std::string path;
    std::string peer;
    std::string client_ip;    // the peer, or what trusted proxies say the client is
    std::string client_key;   // what the per-address limits count: client_ip, IPv6 as its network
    std::string cors_origin;  // the Origin to echo, when allowed
    bool cors_wildcard = false;
    bool cors_credentials = false;  // server.cors_allow_credentials, for a listed origin
    bool keep_alive = true;
    bool http10 = false;  // HTTP/1.0 persists only when the reply says keep-alive
    bool auth_route = false;
    // The public listener over HTTPS: the Strict-Transport-Security value; "" = none.
    std::string strict_transport_security;
    const char* listener = "public";         // "admin" on the admin listener, for the access log
    std::atomic<long>* in_flight = nullptr;  // counted in it until the reply is out
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

struct Reply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

Reply json_reply(int status, std::string body);
Reply error_reply(const ApiError& error);
// A bug: the client learns the request id, the log learns the rest.
Reply internal_error_reply(const RequestContext& ctx);

// RFC 9112 §9.3: HTTP/1.1 persists unless the client says close; HTTP/1.0 only on keep-alive.
bool wants_keep_alive(const Pistache::Http::Request& request);
bool valid_request_id(const std::string& id);
// A client-chosen path as a log value: bytes outside printable ASCII become '?', so a log
// line stays valid UTF-8 JSON whatever was sent.
std::string printable(std::string text);

// Logs the access line, writes the reply, and closes the connection when it must not
// persist. The one way out of every request, on any thread.
void send_reply(Pistache::Http::ResponseWriter& writer, const RequestContext& ctx, Reply reply);

}  // namespace testino
