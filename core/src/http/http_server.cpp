#include "http/http_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include "app/otp_flow.hpp"
#include "domain/errors.hpp"
#include "domain/otp_crypto.hpp"
#include "http/client_ip.hpp"
#include "http/docs_pages.hpp"
#include "http/request_parsing.hpp"
#include "http/response_bodies.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "testino/version.hpp"

namespace testino {

std::string_view openapi_document();  // generated from core/openapi.json

namespace {

using namespace Pistache;
using Clock = std::chrono::steady_clock;

constexpr const char* kHealthPath = "/api/v1/health";
constexpr const char* kSendOtpPath = "/api/v1/auth/send-otp";
constexpr const char* kVerifyOtpPath = "/api/v1/auth/verify-otp";
constexpr const char* kOpenApiPath = "/openapi.json";
constexpr const char* kMetricsPath = "/metrics";

struct Route {
    const char* path;
    Http::Method method;
};
constexpr Route kRoutes[] = {
    {kHealthPath, Http::Method::Get},
    {kSendOtpPath, Http::Method::Post},
    {kVerifyOtpPath, Http::Method::Post},
    {kOpenApiPath, Http::Method::Get},
    {kMetricsPath, Http::Method::Get},  // only with server.metrics_enabled
    // Only with server.docs_enabled; so are the files they load (DocsPages::serves).
    {DocsPages::kDocsPath, Http::Method::Get},
    {DocsPages::kRedocPath, Http::Method::Get},
};

bool is_docs_route(const char* path) {
    return path == std::string_view(DocsPages::kDocsPath) || path == std::string_view(DocsPages::kRedocPath);
}

}  // namespace

struct HttpServer::State {
    ServerConfig config;
    OtpFlow* flow;
    DocsPages docs;
    Clock::time_point started = Clock::now();
    std::atomic<bool> draining{false};
    std::atomic<long> in_flight{0};
    ClientIpResolver client_ip;
    std::string request_id_prefix = random_hex(4);
    std::atomic<std::uint64_t> request_counter{0};
};

namespace {

using State = HttpServer::State;

// What one request carries from its start to its single reply.
struct RequestContext {
    std::string request_id;
    std::string method;
    std::string path;
    std::string peer;
    std::string client_ip;    // the peer, or what a trusted proxy says the client is
    std::string cors_origin;  // the Origin to echo, when allowed
    bool cors_wildcard = false;
    bool keep_alive = true;
    bool http10 = false;  // HTTP/1.0 persists only when the reply says keep-alive
    bool auth_route = false;
    bool counted = false;  // counted in State::in_flight
    Clock::time_point start = Clock::now();
};

struct Reply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// A response header with a name chosen at run time. Pistache 0.0.5 parses raw headers on
// requests but writes only typed ones on responses, so every extra header is one of these.
class NamedHeader final : public Http::Header::Header {
public:
    NamedHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
    const char* name() const override { return name_.c_str(); }
    // Pistache checks this hash before casting to a typed header; 0 matches no typed header.
    uint64_t hash() const override { return 0; }
    void parse(const std::string& data) override { value_ = data; }
    void write(std::ostream& os) const override { os << value_; }

private:
    std::string name_;
    std::string value_;
};

void add_header(Http::Header::Collection& headers, std::string name, std::string value) {
    headers.add(std::make_shared<NamedHeader>(std::move(name), std::move(value)));
}

Reply json_reply(int status, std::string body) { return Reply{status, std::move(body), {}}; }

Reply error_reply(const ApiError& error) {
    Reply reply{error.status(), error_body(error), {}};
    if (error.retry_after.count() > 0) {
        reply.headers.emplace_back("Retry-After", std::to_string(error.retry_after.count()));
    }
    if (!error.allow.empty()) {
        std::string allow;
        for (const auto& m : error.allow) allow += (allow.empty() ? "" : ", ") + m;
        reply.headers.emplace_back("Allow", allow);
    }
    return reply;
}

bool wants_keep_alive(const Http::Request& request) {
    const auto connection = request.headers().tryGet<Http::Header::Connection>();
    if (request.version() == Http::Version::Http11) {
        // RFC 9112 §9.3: HTTP/1.1 connections persist unless either side says close.
        return !(connection && connection->control() == Http::ConnectionControl::Close);
    }
    return connection && connection->control() == Http::ConnectionControl::KeepAlive;
}

bool valid_request_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

// A client-chosen path as a log value: bytes outside printable ASCII become '?', so a log
// line stays valid UTF-8 JSON whatever was sent.
std::string printable(std::string text) {
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return text;
}

// Logs the access line, writes the reply, and closes the connection when it must not
// persist. The one way out of every request, on any thread.
void send_reply(State& state, Http::ResponseWriter& writer, const RequestContext& ctx, Reply reply) {
    auto& headers = writer.headers();
    headers.remove<Http::Header::Connection>();
    if (!ctx.keep_alive) {
        headers.add<Http::Header::Connection>(Http::ConnectionControl::Close);
    } else if (ctx.http10) {
        headers.add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
    }
    add_header(headers, "X-Request-Id", ctx.request_id);
    add_header(headers, "X-Content-Type-Options", "nosniff");
    if (ctx.auth_route) add_header(headers, "Cache-Control", "no-store");
    if (!ctx.cors_origin.empty()) {
        add_header(headers, "Access-Control-Allow-Origin", ctx.cors_origin);
        add_header(headers, "Vary", "Origin");
        if (!ctx.cors_wildcard) {
            add_header(headers, "Access-Control-Allow-Credentials", "true");
        }
        add_header(headers, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    }
    bool typed = false;  // the reply names its own Content-Type (GET /metrics)
    for (auto& [name, value] : reply.headers) {
        typed = typed || name == "Content-Type";
        add_header(headers, name, value);
    }
    if (!reply.body.empty() && !typed) writer.setMime(MIME(Application, Json));

    std::weak_ptr<Tcp::Peer> peer;
    if (!ctx.keep_alive) {
        try {
            peer = writer.peer();
        } catch (const std::exception&) {
            // the client is already gone
        }
    }
    // Counted before the reply leaves, so a client's next request already sees it.
    const auto latency = Clock::now() - ctx.start;
    metrics::global().http_request(ctx.path, ctx.method, reply.status, latency);
    const double latency_ms = std::chrono::duration<double, std::milli>(latency).count();
    Logger::write(LogLevel::info, "http.access",
                  {{"request_id", ctx.request_id},
                   {"method", ctx.method},
                   {"path", printable(ctx.path)},
                   {"status", reply.status},
                   {"latency_ms", latency_ms},
                   {"peer", ctx.peer},
                   {"client_ip", ctx.client_ip}});
    // The request's lines are out before the client can see the reply and look for them.
    LogBatch::flush();
    writer.send(static_cast<Http::Code>(reply.status), reply.body)
        .then(
            [peer](ssize_t) {
                // Pistache 0.0.5 never closes a connection itself; end it once the reply is out.
                if (auto p = peer.lock()) ::shutdown(p->fd(), SHUT_RDWR);
            },
            [](std::exception_ptr) {});

    if (ctx.counted) state.in_flight.fetch_sub(1);
}

// A bug: the client learns the request id, the log learns the rest.
Reply internal_error_reply(const RequestContext& ctx) {
    return error_reply(
        make_error(ErrorCode::internal_error, "Internal server error (request id " + ctx.request_id + ")"));
}

class ApiHandler final : public Http::Handler {
public:
    HTTP_PROTOTYPE(ApiHandler)

    explicit ApiHandler(std::shared_ptr<State> state) : state_(std::move(state)) {}

    // Replaces Pistache's own onInput so that HTTP/1.1 connections persist by default,
    // and protocol errors get the API's JSON error shape and a closed connection.
    void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
        // A request answered on this thread (memory store, inline SMS provider) writes its
        // log lines with one write(2).
        const LogBatch batch;
        auto parser = getParser(peer);
        auto& request = parser->request;
        try {
            if (!parser->feed(buffer, len)) {
                const auto version = request.version();
                parser->reset();
                reply_protocol_error(
                    peer, version,
                    make_error(ErrorCode::payload_too_large,
                               "Request is larger than the server accepts (" +
                                   std::to_string(state_->config.max_body_bytes) + " bytes of body)"));
                return;
            }
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
                onRequest(request, std::move(response));
                parser->reset();
            }
        } catch (const Http::HttpError& e) {
            const auto version = request.version();
            parser->reset();
            const bool too_large = e.code() == static_cast<int>(Http::Code::Request_Entity_Too_Large);
            reply_protocol_error(
                peer, version,
                too_large ? make_error(ErrorCode::payload_too_large, "Request is too large")
                          : make_error(ErrorCode::bad_request, "Malformed HTTP request: " + e.reason()));
        } catch (const std::exception& e) {
            parser->reset();
            log_error("http.input_failed", {{"detail", e.what()}});
            reply_protocol_error(peer, Http::Version::Http11,
                                 make_error(ErrorCode::bad_request, "Malformed HTTP request"));
        }
    }

    void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
        RequestContext ctx = context_for(request);
        ctx.counted = true;
        state_->in_flight.fetch_add(1);
        try {
            route(request, response, ctx);
        } catch (const std::exception& e) {
            // A bug: the client learns the request id, the log learns the rest.
            log_error("http.internal_error", {{"request_id", ctx.request_id}, {"detail", e.what()}});
            send_reply(*state_, response, ctx, internal_error_reply(ctx));
        }
    }

private:
    RequestContext context_for(const Http::Request& request) {
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
        ctx.method = Http::methodString(request.method());
        ctx.path = request.resource();
        ctx.peer = request.address().host();
        const auto forwarded = request.headers().tryGetRaw("X-Forwarded-For");
        ctx.client_ip = state_->client_ip.resolve(ctx.peer, forwarded ? forwarded->value() : "");
        ctx.keep_alive = wants_keep_alive(request) && !state_->draining.load();
        ctx.http10 = request.version() == Http::Version::Http10;
        ctx.auth_route = ctx.path.rfind("/api/v1/auth/", 0) == 0;
        const auto origin = request.headers().tryGetRaw("Origin");
        if (origin) {
            const std::string& value = origin->value();
            const auto& allowed = state_->config.cors_origins;
            if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
                ctx.cors_origin = value;
            } else if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
                ctx.cors_origin = "*";
                ctx.cors_wildcard = true;
            }
        }
        return ctx;
    }

    void reply_protocol_error(const std::shared_ptr<Tcp::Peer>& peer, Http::Version version,
                              const ApiError& error) {
        Http::ResponseWriter response(version, transport(), this, peer);
        RequestContext ctx;
        ctx.request_id = state_->request_id_prefix + "-protocol";
        ctx.method = "-";
        ctx.path = "-";
        ctx.peer = peer->address().host();
        ctx.keep_alive = false;
        send_reply(*state_, response, ctx, error_reply(error));
    }

    void route(const Http::Request& request, Http::ResponseWriter& response, RequestContext& ctx) {
        if (state_->draining.load()) {
            send_reply(*state_, response, ctx,
                       error_reply(make_error(ErrorCode::shutting_down,
                                              "The server is shutting down; retry on another instance")));
            return;
        }
        std::vector<std::string> allowed_methods;
        for (const Route& r : kRoutes) {
            if (r.path == kMetricsPath && !state_->config.metrics_enabled) continue;
            if (is_docs_route(r.path) && !state_->docs.enabled()) continue;
            if (ctx.path == r.path) allowed_methods.push_back(Http::methodString(r.method));
        }
        if (allowed_methods.empty() && state_->docs.serves(ctx.path)) allowed_methods.push_back("GET");
        if (allowed_methods.empty()) {
            send_reply(
                *state_, response, ctx,
                error_reply(make_error(ErrorCode::not_found, "No such endpoint: " + printable(ctx.path))));
            return;
        }
        allowed_methods.push_back("OPTIONS");
        if (request.method() == Http::Method::Options) {
            preflight(request, response, ctx, allowed_methods);
            return;
        }
        if (std::find(allowed_methods.begin(), allowed_methods.end(), ctx.method) == allowed_methods.end()) {
            ApiError e =
                make_error(ErrorCode::method_not_allowed, ctx.method + " is not allowed on " + ctx.path);
            e.allow = allowed_methods;
            send_reply(*state_, response, ctx, error_reply(e));
            return;
        }
        if (ctx.path == kHealthPath) return health(std::move(response), ctx);
        if (ctx.path == kOpenApiPath) {
            return send_reply(*state_, response, ctx, json_reply(200, std::string(openapi_document())));
        }
        if (auto page = state_->docs.get(ctx.path)) {
            return send_reply(*state_, response, ctx,
                              Reply{page->status, std::move(page->body), std::move(page->headers)});
        }
        if (ctx.path == kMetricsPath) {
            return send_reply(
                *state_, response, ctx,
                Reply{200, metrics::global().exposition(), {{"Content-Type", metrics::kContentType}}});
        }
        if (auto error = check_json_body(request)) {
            return send_reply(*state_, response, ctx, error_reply(*error));
        }
        if (ctx.path == kSendOtpPath) return send_otp(request, std::move(response), ctx);
        return verify_otp(request, std::move(response), ctx);
    }

    std::optional<ApiError> check_json_body(const Http::Request& request) const {
        const auto type = request.headers().tryGet<Http::Header::ContentType>();
        if (!type || type->mime().top() != Http::Mime::Type::Application ||
            type->mime().sub() != Http::Mime::Subtype::Json) {
            return make_error(ErrorCode::unsupported_media_type, "Content-Type must be application/json");
        }
        if (request.body().size() > state_->config.max_body_bytes) {
            return make_error(
                ErrorCode::payload_too_large,
                "Request body is larger than " + std::to_string(state_->config.max_body_bytes) + " bytes");
        }
        return std::nullopt;
    }

    void preflight(const Http::Request& request, Http::ResponseWriter& response, const RequestContext& ctx,
                   const std::vector<std::string>& allowed_methods) {
        std::string allow;
        for (const auto& m : allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        const bool is_preflight = request.headers().tryGetRaw("Access-Control-Request-Method").has_value();
        if (is_preflight && ctx.cors_origin.empty()) {
            return send_reply(*state_, response, ctx,
                              error_reply(make_error(ErrorCode::cors_origin_not_allowed,
                                                     "This origin is not allowed to call the API")));
        }
        Reply reply{204, "", {{"Allow", allow}}};
        if (is_preflight) {
            reply.headers.emplace_back("Access-Control-Allow-Methods", allow);
            reply.headers.emplace_back("Access-Control-Allow-Headers",
                                       "Content-Type, Authorization, X-Request-Id");
            reply.headers.emplace_back("Access-Control-Max-Age", "600");
        }
        send_reply(*state_, response, ctx, std::move(reply));
    }

    // The reply to a flow is written when the flow completes, on whichever thread that is;
    // the writer waits in a shared_ptr until then.
    using SharedWriter = std::shared_ptr<Http::ResponseWriter>;

    // A flow's completion that replies with `success(value)` or the error, and turns an
    // exception in either into INTERNAL_ERROR.
    template <typename T, typename Success>
    FlowDone<T> replier(SharedWriter writer, const RequestContext& ctx, Success success) {
        return [state = state_, writer = std::move(writer), ctx, success](Expected<T> result) {
            try {
                send_reply(*state, *writer, ctx,
                           result ? success(result.value()) : error_reply(result.error()));
            } catch (const std::exception& e) {
                log_error("http.internal_error", {{"request_id", ctx.request_id}, {"detail", e.what()}});
                send_reply(*state, *writer, ctx, internal_error_reply(ctx));
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
            send_reply(*state_, *writer, ctx, internal_error_reply(ctx));
        }
    }

    void health(Http::ResponseWriter response, const RequestContext& ctx) {
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->health([state = state_, writer, ctx](HealthSummary summary) {
                send_reply(*state, *writer, ctx,
                           json_reply(summary.status == HealthSummary::Status::unhealthy ? 503 : 200,
                                      health_body(summary, state->flow->plugins(),
                                                  std::chrono::duration_cast<std::chrono::seconds>(
                                                      Clock::now() - state->started))));
            });
        });
    }

    void send_otp(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx) {
        Expected<SendOtpRequest> parsed = parse_send_otp(request.body());
        if (!parsed) return send_reply(*state_, response, ctx, error_reply(parsed.error()));
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->send(parsed.value(), {ctx.request_id, ctx.client_ip},
                               replier<SendAccepted>(writer, ctx, [](const SendAccepted& sent) {
                                   return json_reply(
                                       200, success_send_body(sent.expires_in, sent.verification_id));
                               }));
        });
    }

    void verify_otp(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx) {
        Expected<VerifyOtpRequest> parsed = parse_verify_otp(request.body(), state_->flow->code_length());
        if (!parsed) return send_reply(*state_, response, ctx, error_reply(parsed.error()));
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->verify(parsed.value(), {ctx.request_id, ctx.client_ip},
                                 replier<VerifiedLogin>(writer, ctx, [](const VerifiedLogin& login) {
                                     return json_reply(200, success_verify_body(login.token));
                                 }));
        });
    }

    std::shared_ptr<State> state_;
};

}  // namespace

HttpServer::HttpServer(const ServerConfig& config, const std::vector<std::string>& trusted_proxies,
                       OtpFlow& flow)
    : state_(std::make_shared<State>()) {
    state_->config = config;
    std::vector<Network> networks;
    for (const auto& proxy : trusted_proxies) {
        if (auto n = Network::parse(proxy)) networks.push_back(*n);  // validated with the config
    }
    state_->client_ip = ClientIpResolver(std::move(networks));
    state_->flow = &flow;
    if (config.docs_enabled) {
        state_->docs = DocsPages::load(config.docs_assets_dir);
        if (!state_->docs.missing().empty()) {
            log_warn("docs.assets_missing",
                     {{"dir", state_->docs.assets_dir().string()},
                      {"missing", state_->docs.missing()},
                      {"detail",
                       "GET /docs and /redoc explain how to install them: scripts/setup.sh, "
                       "or npm ci in docs/api-ui, and server.docs_assets_dir"}});
        }
    }
}

std::vector<std::pair<std::string, std::string>> http_routes() {
    std::vector<std::pair<std::string, std::string>> routes;
    for (const Route& r : kRoutes) routes.emplace_back(Http::methodString(r.method), r.path);
    return routes;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
    const ServerConfig& c = state_->config;
    try {
        endpoint_ = std::make_unique<Http::Endpoint>(Address(c.host, Port(c.port)));
        auto options = Http::Endpoint::options()
                           .threads(c.threads)
                           .flags(Tcp::Options::ReuseAddr)
                           // Room for the headers on top of the body limit; the body limit
                           // itself is checked per request for a precise 413.
                           .maxRequestSize(c.max_body_bytes + 8192)
                           .headerTimeout(c.header_timeout)
                           .bodyTimeout(c.body_timeout)
                           .keepaliveTimeout(c.keepalive_timeout);
        endpoint_->init(options);
        endpoint_->setHandler(std::make_shared<ApiHandler>(state_));
        endpoint_->serveThreaded();
    } catch (const std::exception& e) {
        endpoint_.reset();
        throw StartupError("cannot listen on " + c.host + ":" + std::to_string(c.port) + ": " + e.what());
    }
}

std::uint16_t HttpServer::port() const {
    return endpoint_ ? static_cast<std::uint16_t>(endpoint_->getPort()) : 0;
}

void HttpServer::begin_drain() { state_->draining = true; }

bool HttpServer::wait_idle(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (state_->in_flight.load() > 0) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void HttpServer::stop() {
    if (endpoint_) {
        endpoint_->shutdown();
        endpoint_.reset();
    }
}

}  // namespace testino
