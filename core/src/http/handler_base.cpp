#include "http/handler_base.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <pistache/peer.h>

#include "http/response_bodies.hpp"

namespace testino {
namespace {

using namespace Pistache;

// Peer data: whether the connection comes from a trusted proxy, and if so the head of its
// request in progress.
const std::string kConnectionHead = "testino.request_head";
struct ConnectionHead {
    bool from_trusted_proxy = false;
    RequestHeadCapture head;
};

}  // namespace

HandlerBase::HandlerBase(std::shared_ptr<HttpServer::State> state, Listener listener)
    : state_(std::move(state)), listener_(listener) {}

RequestHeadCapture* HandlerBase::head_capture(const std::shared_ptr<Tcp::Peer>& peer) const {
    if (listener_ != Listener::public_api || !state_->client_ip.trusts_anyone()) return nullptr;
    // Made on the connection's first input: Pistache's onConnection, which makes the
    // parser, is private to Http::Handler and cannot be extended.
    auto data = std::static_pointer_cast<ConnectionHead>(peer->tryGetData(kConnectionHead));
    if (!data) {
        data = std::make_shared<ConnectionHead>();
        data->from_trusted_proxy = state_->client_ip.trusts(peer->address().host());
        peer->putData(kConnectionHead, data);
    }
    return data->from_trusted_proxy ? &data->head : nullptr;
}

void HandlerBase::onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
    // A request answered on this thread (memory store, inline SMS provider) writes its log
    // lines with one write(2).
    const LogBatch batch;
    auto parser = getParser(peer);
    auto& request = parser->request;
    RequestHeadCapture* capture = head_capture(peer);  // held by the peer
    auto reset = [&] {
        parser->reset();
        if (capture) capture->clear();
    };
    try {
        if (!parser->feed(buffer, len)) {
            const auto version = request.version();
            reset();
            reply_protocol_error(
                peer, version,
                make_error(ErrorCode::payload_too_large, "Request is larger than the server accepts (" +
                                                             std::to_string(state_->config.max_body_bytes) +
                                                             " bytes of body)"));
            return;
        }
        if (capture) capture->append(buffer, len);
        const auto state = parser->parse();
        if (state == Http::Private::State::Again &&
            parser->step()->id() == Http::Private::RequestLineStep::Id &&
            std::memchr(buffer, '\n', len) != nullptr) {
            // Pistache 0.0.5 waits forever for a space in a request line such as
            // "GARBAGE": a finished line it still cannot parse is malformed.
            throw Http::HttpError(Http::Code::Bad_Request, "malformed request line");
        }
        if (state == Http::Private::State::Done) {
            Http::ResponseWriter response(request.version(), transport(), this, peer);
            request.copyAddress(peer->address());
            peer->setIdle(false);
            std::vector<std::string> address_lines;
            if (capture) address_lines = header_values(capture->head(), state_->client_ip.header_name());
            handle(request, std::move(response), address_lines);
            reset();
        }
    } catch (const Http::HttpError& e) {
        const auto version = request.version();
        reset();
        const bool too_large = e.code() == static_cast<int>(Http::Code::Request_Entity_Too_Large);
        reply_protocol_error(
            peer, version,
            too_large ? make_error(ErrorCode::payload_too_large, "Request is too large")
                      : make_error(ErrorCode::bad_request, "Malformed HTTP request: " + e.reason()));
    } catch (const std::exception& e) {
        reset();
        log_error("http.input_failed", {{"detail", e.what()}});
        reply_protocol_error(peer, Http::Version::Http11,
                             make_error(ErrorCode::bad_request, "Malformed HTTP request"));
    }
}

void HandlerBase::onRequest(const Http::Request& request, Http::ResponseWriter response) {
    handle(request, std::move(response), {});
}

void HandlerBase::handle(const Http::Request& request, Http::ResponseWriter response,
                         const std::vector<std::string>& address_header_lines) {
    RequestContext ctx = context_for(request, address_header_lines);
    ctx.in_flight = &state_->in_flight;
    state_->in_flight.fetch_add(1);
    try {
        route(request, response, ctx);
    } catch (const std::exception& e) {
        log_error("http.internal_error", {{"request_id", ctx.request_id}, {"detail", e.what()}});
        send_reply(response, ctx, internal_error_reply(ctx));
    }
}

RequestContext HandlerBase::context_for(const Http::Request& request,
                                        const std::vector<std::string>& address_header_lines) {
    RequestContext ctx;
    const auto given = request.headers().tryGetRaw("X-Request-Id");
    if (given && valid_request_id(given->value())) {
        ctx.request_id = given->value();
    } else {
        char counter[17];
        std::snprintf(counter, sizeof counter, "%llx",
                      static_cast<unsigned long long>(state_->request_counter.fetch_add(1)));
        ctx.request_id = state_->request_id_prefix + "-" + counter;
    }
    const auto traceparent_header = request.headers().tryGetRaw("traceparent");
    const std::string traceparent = traceparent_header ? traceparent_header->value() : std::string();
    ctx.trace = std::make_shared<const RequestTrace>(
        ctx.request_id, trace_for_request(traceparent_header ? &traceparent : nullptr));
    ctx.method = Http::methodString(request.method());
    ctx.path = request.resource();
    ctx.peer = request.address().host();
    ctx.keep_alive = wants_keep_alive(request) && !state_->draining.load();
    ctx.http10 = request.version() == Http::Version::Http10;
    if (listener_ == Listener::admin) {
        ctx.listener = "admin";
        ctx.client_ip = ctx.peer;
        return ctx;  // no proxies, no browsers: no forwarding headers, no CORS
    }
    ctx.strict_transport_security = state_->strict_transport_security;
    ClientAddress client = state_->client_ip.resolve(ctx.peer, address_header_lines);
    ctx.client_ip = std::move(client.ip);
    ctx.client_key = std::move(client.key);
    ctx.auth_route = ctx.path.rfind("/api/v1/auth/", 0) == 0;
    const auto origin = request.headers().tryGetRaw("Origin");
    if (origin) {
        const std::string& value = origin->value();
        const auto& allowed = state_->config.cors_origins;
        if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
            ctx.cors_origin = value;
            ctx.cors_credentials = state_->config.cors_allow_credentials;
        } else if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
            ctx.cors_origin = "*";
            ctx.cors_wildcard = true;
        }
    }
    return ctx;
}

void HandlerBase::reply_protocol_error(const std::shared_ptr<Tcp::Peer>& peer, Http::Version version,
                                       const ApiError& error) {
    Http::ResponseWriter response(version, transport(), this, peer);
    RequestContext ctx;
    ctx.request_id = state_->request_id_prefix + "-protocol";
    ctx.trace = std::make_shared<const RequestTrace>(ctx.request_id, trace_for_request(nullptr));
    ctx.method = "-";
    ctx.path = "-";
    ctx.peer = peer->address().host();
    ctx.listener = listener_ == Listener::admin ? "admin" : "public";
    if (listener_ == Listener::public_api) ctx.strict_transport_security = state_->strict_transport_security;
    ctx.keep_alive = false;
    send_reply(response, ctx, error_reply(error));
}

void HandlerBase::health(Http::ResponseWriter response, const RequestContext& ctx, bool details) {
    auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
    start_flow(writer, ctx, [&] {
        state_->flow->health([state = state_, writer, ctx, details](HealthSummary summary) {
            const int status = summary.status == HealthSummary::Status::unhealthy ? 503 : 200;
            const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::steady_clock::now() - state->started);
            send_reply(*writer, ctx,
                       json_reply(status, details ? health_body(summary, state->flow->plugins(), uptime)
                                                  : health_status_body(summary)));
        });
    });
}

}  // namespace testino
