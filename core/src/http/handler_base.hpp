// What the public and the admin listener's handlers share: Pistache's input handling
// replaced (HTTP/1.1 keep-alive by default, protocol errors in the JSON error shape, every
// line of the client-address header kept), each request's context, and flows answered
// through a shared writer. Internal to core/src/http.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pistache/http.h>

#include "app/otp_flow.hpp"
#include "domain/otp_crypto.hpp"
#include "http/client_ip.hpp"
#include "http/docs_pages.hpp"
#include "http/header_lines.hpp"
#include "http/http_reply.hpp"
#include "http/http_server.hpp"
#include "observability/logging.hpp"

namespace testino {

struct HttpServer::State {
    ServerConfig config;
    OtpFlow* flow = nullptr;
    DocsPages docs;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<bool> draining{false};
    std::atomic<long> in_flight{0};  // requests of both listeners not yet answered
    ClientIpResolver client_ip;
    std::string request_id_prefix = random_hex(4);
    std::atomic<std::uint64_t> request_counter{0};
    // The public listener's Strict-Transport-Security value (HTTPS with an HSTS max-age); "" = none.
    std::string strict_transport_security;
};

class HandlerBase : public Pistache::Http::Handler {
public:
    enum class Listener { public_api, admin };

    HandlerBase(std::shared_ptr<HttpServer::State> state, Listener listener);

    // Replaces Pistache's own onInput so that HTTP/1.1 connections persist by default,
    // protocol errors get the API's JSON error shape and a closed connection, and a trusted
    // proxy's every client-address header line is seen.
    void onInput(const char* buffer, size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter response) override;

protected:
    using SharedWriter = std::shared_ptr<Pistache::Http::ResponseWriter>;

    // Answers one request; every way out ends in send_reply().
    virtual void route(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter& response,
                       RequestContext& ctx) = 0;

    // A flow's completion that replies with `success(value)` or the error, and turns an
    // exception in either into INTERNAL_ERROR.
    template <typename T, typename Success>
    FlowDone<T> replier(SharedWriter writer, const RequestContext& ctx, Success success) {
        return [state = state_, writer = std::move(writer), ctx, success](Expected<T> result) {
            try {
                send_reply(*writer, ctx, result ? success(result.value()) : error_reply(result.error()));
            } catch (const std::exception& e) {
                log_error("http.internal_error", {{"request_id", ctx.request_id}, {"detail", e.what()}});
                send_reply(*writer, ctx, internal_error_reply(ctx));
            }
        };
    }

    // Starts a flow that answers through `writer`. The response has moved into the writer,
    // so a flow that throws before it started anything is answered here, not by onRequest.
    template <typename Start>
    void start_flow(const SharedWriter& writer, const RequestContext& ctx, Start start) {
        try {
            start();
        } catch (const std::exception& e) {
            log_error("http.internal_error", {{"request_id", ctx.request_id}, {"detail", e.what()}});
            send_reply(*writer, ctx, internal_error_reply(ctx));
        }
    }

    // A health check: the status alone (public), or with the version, uptime and every
    // plugin's report (`details`, the admin listener). 503 when the server cannot serve.
    void health(Pistache::Http::ResponseWriter response, const RequestContext& ctx, bool details);

    std::shared_ptr<HttpServer::State> state_;

private:
    // The head of the request in progress on a connection from a trusted proxy, fed the
    // bytes the parser is fed; nullptr for any other connection.
    RequestHeadCapture* head_capture(const std::shared_ptr<Pistache::Tcp::Peer>& peer) const;
    void handle(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter response,
                const std::vector<std::string>& address_header_lines);
    RequestContext context_for(const Pistache::Http::Request& request,
                               const std::vector<std::string>& address_header_lines);
    void reply_protocol_error(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                              Pistache::Http::Version version, const ApiError& error);

    Listener listener_;
};

}  // namespace testino
