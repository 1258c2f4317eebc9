#include "http/http_server.hpp"

#include <algorithm>
#include <thread>

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include "app/delivery_receipts.hpp"
#include "app/otp_flow.hpp"
#include "domain/errors.hpp"
#include "http/admin_fraud_routes.hpp"
#include "http/client_ip.hpp"
#include "http/handler_base.hpp"
#include "http/request_parsing.hpp"
#include "http/response_bodies.hpp"
#include "http/tls_minimum.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {

std::string_view openapi_document();  // generated from core/openapi.json

namespace {

using namespace Pistache;
using Clock = std::chrono::steady_clock;

constexpr const char* kHealthPath = "/api/v1/health";
constexpr const char* kSendOtpPath = "/api/v1/auth/send-otp";
constexpr const char* kVerifyOtpPath = "/api/v1/auth/verify-otp";
constexpr const char* kRefreshPath = "/api/v1/auth/refresh";
constexpr const char* kLogoutPath = "/api/v1/auth/logout";
constexpr const char* kJwksPath = "/.well-known/jwks.json";
constexpr const char* kOpenApiPath = "/openapi.json";
// + <plugin name>: delivery receipts, for each SMS provider that takes them.
constexpr std::string_view kCallbacksPrefix = "/api/v1/callbacks/";
// The admin listener's paths.
constexpr const char* kMetricsPath = "/metrics";  // only with server.metrics_enabled
constexpr const char* kAdminHealthPath = "/health";

struct Route {
    const char* path;
    Http::Method method;
};
constexpr Route kRoutes[] = {
    {kHealthPath, Http::Method::Get},
    {kSendOtpPath, Http::Method::Post},
    {kVerifyOtpPath, Http::Method::Post},
    {kRefreshPath, Http::Method::Post},
    {kLogoutPath, Http::Method::Post},
    {kJwksPath, Http::Method::Get},
    {kOpenApiPath, Http::Method::Get},
    // Only with server.docs_enabled; so are the files they load (DocsPages::serves).
    {DocsPages::kDocsPath, Http::Method::Get},
    {DocsPages::kRedocPath, Http::Method::Get},
};

bool is_docs_route(const char* path) {
    return path == std::string_view(DocsPages::kDocsPath) || path == std::string_view(DocsPages::kRedocPath);
}

Reply not_found_reply(const RequestContext& ctx) {
    return error_reply(make_error(ErrorCode::not_found, "No such endpoint: " + printable(ctx.path)));
}

Reply method_not_allowed_reply(const RequestContext& ctx, std::vector<std::string> allowed_methods) {
    ApiError e = make_error(ErrorCode::method_not_allowed, ctx.method + " is not allowed on " + ctx.path);
    e.allow = std::move(allowed_methods);
    return error_reply(e);
}

Reply shutting_down_reply() {
    return error_reply(
        make_error(ErrorCode::shutting_down, "The server is shutting down; retry on another instance"));
}

// The public listener: the API, its document and docs pages.
class ApiHandler final : public HandlerBase {
public:
    HTTP_PROTOTYPE(ApiHandler)

    explicit ApiHandler(std::shared_ptr<HttpServer::State> state)
        : HandlerBase(std::move(state), Listener::public_api) {}

private:
    void route(const Http::Request& request, Http::ResponseWriter& response, RequestContext& ctx) override {
        if (state_->draining.load()) return send_reply(response, ctx, shutting_down_reply());
        if (const std::string provider = callback_provider(ctx.path); !provider.empty()) {
            return callback(request, std::move(response), ctx, provider);
        }
        std::vector<std::string> allowed_methods;
        for (const Route& r : kRoutes) {
            if (is_docs_route(r.path) && !state_->docs.enabled()) continue;
            if (ctx.path == r.path) allowed_methods.push_back(Http::methodString(r.method));
        }
        if (allowed_methods.empty() && state_->docs.serves(ctx.path)) allowed_methods.push_back("GET");
        if (allowed_methods.empty()) return send_reply(response, ctx, not_found_reply(ctx));
        allowed_methods.push_back("OPTIONS");
        if (request.method() == Http::Method::Options) {
            return preflight(request, response, ctx, allowed_methods);
        }
        if (std::find(allowed_methods.begin(), allowed_methods.end(), ctx.method) == allowed_methods.end()) {
            return send_reply(response, ctx, method_not_allowed_reply(ctx, allowed_methods));
        }
        if (ctx.path == kHealthPath) return health(std::move(response), ctx, false);
        if (ctx.path == kOpenApiPath) {
            return send_reply(response, ctx, json_reply(200, std::string(openapi_document())));
        }
        if (ctx.path == kJwksPath) return send_reply(response, ctx, jwks_reply());
        if (auto page = state_->docs.get(ctx.path)) {
            return send_reply(response, ctx,
                              Reply{page->status, std::move(page->body), std::move(page->headers)});
        }
        if (auto error = check_json_body(request)) return send_reply(response, ctx, error_reply(*error));
        if (ctx.path == kSendOtpPath) return send_otp(request, std::move(response), ctx);
        if (ctx.path == kVerifyOtpPath) return verify_otp(request, std::move(response), ctx);
        return refresh_or_logout(request, std::move(response), ctx);
    }

    // RFC 7517 section 5, cached by verifiers for jwks_max_age (RFC 9111 section 5.2.2.1).
    Reply jwks_reply() const {
        SessionFlow& sessions = state_->flow->sessions();
        Reply reply = json_reply(200, sessions.jwks());
        reply.headers.emplace_back("Cache-Control",
                                   "public, max-age=" + std::to_string(sessions.jwks_max_age().count()));
        return reply;
    }

    std::optional<ApiError> check_json_body(const Http::Request& request) const {
        const auto type = request.headers().tryGet<Http::Header::ContentType>();
        if (!type || type->mime().top() != Http::Mime::Type::Application ||
            type->mime().sub() != Http::Mime::Subtype::Json) {
            return make_error(ErrorCode::unsupported_media_type, "Content-Type must be application/json");
        }
        return check_body_size(request);
    }

    std::optional<ApiError> check_body_size(const Http::Request& request) const {
        if (request.body().size() > state_->config.max_body_bytes) {
            return make_error(
                ErrorCode::payload_too_large,
                "Request body is larger than " + std::to_string(state_->config.max_body_bytes) + " bytes");
        }
        return std::nullopt;
    }

    // The provider a callback path names, when it takes callbacks; "" for any other path
    // (which then gets the 404 of an unknown path).
    std::string callback_provider(const std::string& path) const {
        if (path.rfind(kCallbacksPrefix, 0) != 0) return {};
        const DeliveryReceipts* receipts = state_->flow->receipts();
        const std::string name = path.substr(kCallbacksPrefix.size());
        return receipts != nullptr && receipts->takes(name) ? name : std::string();
    }

    // Not JSON: the provider's service posts its own format, and the provider reads it.
    void callback(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx,
                  const std::string& provider) {
        if (request.method() != Http::Method::Post) {
            return send_reply(response, ctx, method_not_allowed_reply(ctx, {"POST"}));
        }
        if (auto error = check_body_size(request)) return send_reply(response, ctx, error_reply(*error));
        sdk::CallbackRequest callback;
        callback.url = ctx.path + request.query().as_str();
        callback.body = request.body();
        for (const auto& header : request.headers().rawList()) {
            std::string name = header.first;
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (name == "content-type") callback.content_type = header.second.value();
            callback.headers.emplace_back(std::move(name), header.second.value());
        }
        if (const auto type = request.headers().tryGet<Http::Header::ContentType>()) {
            callback.content_type = type->mime().toString();
        }
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->receipts()->handle(provider, callback, ctx.request_id,
                                             [writer, ctx](const CallbackAnswer& answer) {
                                                 send_reply(*writer, ctx, callback_reply(answer));
                                             });
        });
    }

    static Reply callback_reply(const CallbackAnswer& answer) {
        switch (answer.kind) {
            case CallbackAnswer::Kind::taken: return Reply{answer.http_status, "", {}};
            case CallbackAnswer::Kind::rejected:
                return error_reply(make_error(ErrorCode::callback_rejected,
                                              "The callback is not signed by the provider's service"));
            case CallbackAnswer::Kind::store_unavailable:
                return error_reply(make_error(ErrorCode::store_unavailable, "The store could not be read"));
            case CallbackAnswer::Kind::malformed: break;
        }
        return error_reply(
            make_error(ErrorCode::callback_malformed, "The provider could not read the callback"));
    }

    void preflight(const Http::Request& request, Http::ResponseWriter& response, const RequestContext& ctx,
                   const std::vector<std::string>& allowed_methods) {
        std::string allow;
        for (const auto& m : allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        const bool is_preflight = request.headers().tryGetRaw("Access-Control-Request-Method").has_value();
        if (is_preflight && ctx.cors_origin.empty()) {
            return send_reply(response, ctx,
                              error_reply(make_error(ErrorCode::cors_origin_not_allowed,
                                                     "This origin is not allowed to call the API")));
        }
        Reply reply{204, "", {{"Allow", allow}}};
        if (is_preflight) {
            reply.headers.emplace_back("Access-Control-Allow-Methods", allow);
            reply.headers.emplace_back(
                "Access-Control-Allow-Headers",
                "Content-Type, Authorization, X-Request-Id, Idempotency-Key, traceparent");
            reply.headers.emplace_back("Access-Control-Max-Age", "600");
        }
        send_reply(response, ctx, std::move(reply));
    }

    void send_otp(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx) {
        Expected<SendOtpRequest> parsed = parse_send_otp(request.body());
        if (!parsed) return send_reply(response, ctx, error_reply(parsed.error()));
        if (const auto languages = request.headers().tryGetRaw("Accept-Language")) {
            parsed.value().accept_language = languages->value();
        }
        if (const auto key = request.headers().tryGetRaw("Idempotency-Key")) {
            parsed.value().idempotency_key = key->value();
            // Present but empty is a bad key, not an absent one.
            if (parsed.value().idempotency_key.empty()) parsed.value().idempotency_key = " ";
        }
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->send(parsed.value(), {ctx.request_id, ctx.client_ip, ctx.client_key, ctx.trace},
                               replier<SendAccepted>(writer, ctx, [](const SendAccepted& sent) {
                                   Reply reply = json_reply(200, success_send_body(sent));
                                   if (sent.replayed)
                                       reply.headers.emplace_back("Idempotent-Replayed", "true");
                                   return reply;
                               }));
        });
    }

    void verify_otp(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx) {
        Expected<VerifyOtpRequest> parsed = parse_verify_otp(request.body(), state_->flow->code_length());
        if (!parsed) return send_reply(response, ctx, error_reply(parsed.error()));
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            state_->flow->verify(parsed.value(), {ctx.request_id, ctx.client_ip, ctx.client_key, ctx.trace},
                                 replier<VerifiedLogin>(writer, ctx, [](const VerifiedLogin& login) {
                                     return json_reply(200, success_verify_body(login.tokens));
                                 }));
        });
    }

    void refresh_or_logout(const Http::Request& request, Http::ResponseWriter response,
                           const RequestContext& ctx) {
        Expected<RefreshRequest> parsed = parse_refresh(request.body());
        if (!parsed) return send_reply(response, ctx, error_reply(parsed.error()));
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        SessionFlow& sessions = state_->flow->sessions();
        const RequestInfo info{ctx.request_id, ctx.client_ip, ctx.client_key, ctx.trace};
        if (ctx.path == kLogoutPath) {
            return start_flow(writer, ctx, [&] {
                sessions.logout(parsed.value(), info, replier<SignedOut>(writer, ctx, [](const SignedOut&) {
                                    return json_reply(200, success_logout_body());
                                }));
            });
        }
        start_flow(writer, ctx, [&] {
            sessions.refresh(parsed.value(), info,
                             replier<TokenPair>(writer, ctx, [](const TokenPair& tokens) {
                                 return json_reply(200, success_refresh_body(tokens));
                             }));
        });
    }
};

// The admin listener: what ops and monitoring read, and nobody else should.
class AdminHandler final : public HandlerBase {
public:
    HTTP_PROTOTYPE(AdminHandler)

    explicit AdminHandler(std::shared_ptr<HttpServer::State> state)
        : HandlerBase(std::move(state), Listener::admin) {}

private:
    void route(const Http::Request& request, Http::ResponseWriter& response, RequestContext& ctx) override {
        if (is_fraud_admin_path(ctx.path) && state_->flow->fraud_guard().config().admin_api) {
            return fraud_guard(request, std::move(response), ctx);
        }
        const bool metrics = ctx.path == kMetricsPath && state_->config.metrics_enabled;
        if (!metrics && ctx.path != kAdminHealthPath) return send_reply(response, ctx, not_found_reply(ctx));
        if (request.method() != Http::Method::Get) {
            return send_reply(response, ctx, method_not_allowed_reply(ctx, {"GET"}));
        }
        if (metrics) {
            return send_reply(
                response, ctx,
                Reply{200, metrics::global().exposition(), {{"Content-Type", metrics::kContentType}}});
        }
        if (state_->draining.load()) return send_reply(response, ctx, shutting_down_reply());
        health(std::move(response), ctx, true);
    }

    // Served while draining too, like /metrics: the blocks live in the store, not here.
    void fraud_guard(const Http::Request& request, Http::ResponseWriter response, const RequestContext& ctx) {
        FraudAdminParse parsed = parse_fraud_admin(request, ctx, state_->config.admin_token);
        if (!parsed.request) return send_reply(response, ctx, std::move(parsed.refusal));
        auto writer = std::make_shared<Http::ResponseWriter>(std::move(response));
        start_flow(writer, ctx, [&] {
            run_fraud_admin(*parsed.request, state_->flow->fraud_guard(), ctx,
                            replier<Reply>(writer, ctx, [](const Reply& reply) { return reply; }));
        });
    }
};

bool is_wildcard(const std::string& host) { return host == "0.0.0.0" || host == "::" || host == "[::]"; }

// Binds `host`:`port` and serves `handler` on `threads` background threads, over TLS when
// `tls` is given.
std::unique_ptr<Http::Endpoint> listen(const ServerConfig& c, const std::string& host, std::uint16_t port,
                                       int threads, std::size_t max_request_bytes,
                                       std::shared_ptr<Http::Handler> handler, const TlsConfig* tls) {
    // Pistache reads "host:port", so an IPv6 address needs its brackets.
    const bool bare_ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    auto endpoint =
        std::make_unique<Http::Endpoint>(Address(bare_ipv6 ? "[" + host + "]" : host, Port(port)));
    auto options =
        Http::Endpoint::options()
            .threads(threads)
            // Over TLS a reply leaves as more than one record, and Nagle held the
            // second until the client's delayed ACK: 40 ms on each new connection's
            // first request. Linux hands TCP_NODELAY on to accepted sockets.
            .flags(tls != nullptr ? Tcp::Options::ReuseAddr | Tcp::Options::NoDelay : Tcp::Options::ReuseAddr)
            .maxRequestSize(max_request_bytes)
            .headerTimeout(c.header_timeout)
            .bodyTimeout(c.body_timeout)
            .keepaliveTimeout(c.keepalive_timeout);
    endpoint->init(options);
    // After init(), which resets Pistache's SSL switch. The files were checked at config load;
    // what can still fail here (a file replaced since) throws, and start() names the keys.
    if (tls != nullptr) endpoint->useSSL(tls->cert_file, tls->key_file);
    endpoint->setHandler(std::move(handler));
    endpoint->serveThreaded();
    return endpoint;
}

// What an operator must know before relying on the built-in TLS (README "HTTPS").
void log_tls_limits(const ServerConfig& c, std::uint16_t port) {
    log_warn("tls.limitations",
             {{"port", static_cast<int>(port)},
              {"cert_file", c.tls.cert_file},
              {"detail",
               "HTTPS is served by Pistache 0.0.5, which makes the TLS handshakes one at a time on its "
               "accepting thread: a client that connects and sends nothing holds every new connection for "
               "up to 10 s (Debian's patch; more if it trickles bytes), and the certificate is read once, so "
               "replacing it needs a restart. Fine for trusted networks; for public traffic terminate TLS at "
               "a proxy. See README, section HTTPS"}});
}

}  // namespace

HttpServer::HttpServer(const ServerConfig& config, const LimitsConfig& limits, OtpFlow& flow)
    : state_(std::make_shared<State>()) {
    state_->config = config;
    std::vector<Network> networks;
    for (const auto& proxy : limits.trusted_proxies) {
        if (auto n = Network::parse(proxy)) networks.push_back(*n);  // validated with the config
    }
    state_->client_ip =
        ClientIpResolver(std::move(networks), limits.client_address_header, limits.ipv6_prefix_length);
    state_->flow = &flow;
    // RFC 6797: browsers heed it only over HTTPS, so plain HTTP never sends it.
    if (config.tls.enabled() && config.tls.hsts_max_age.count() > 0) {
        state_->strict_transport_security = "max-age=" + std::to_string(config.tls.hsts_max_age.count());
    }
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
    routes.emplace_back("POST", std::string(kCallbacksPrefix) + "{provider}");
    return routes;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
    const ServerConfig& c = state_->config;
    const TlsConfig* tls = c.tls.enabled() ? &c.tls : nullptr;
    if (tls != nullptr) require_tls12_minimum();  // before useSSL makes its context
    try {
        // Room for the headers on top of the body limit; the body limit itself is checked
        // per request for a precise 413.
        endpoint_ = listen(c, c.host, c.port, c.threads, c.max_body_bytes + 8192,
                           std::make_shared<ApiHandler>(state_), tls);
    } catch (const std::exception& e) {
        throw StartupError("cannot listen on " + c.host + ":" + std::to_string(c.port) +
                           (tls != nullptr ? " with TLS (server.tls.cert_file, server.tls.key_file)" : "") +
                           ": " + e.what());
    }
    if (tls != nullptr) log_tls_limits(c, port());
    if (c.admin_port == 0) return;
    try {
        // GET and DELETE requests only: no body to make room for.
        admin_endpoint_ =
            listen(c, c.admin_host, c.admin_port, 1, 8192, std::make_shared<AdminHandler>(state_), nullptr);
    } catch (const std::exception& e) {
        throw StartupError("cannot listen on " + c.admin_host + ":" + std::to_string(c.admin_port) +
                           " (server.admin_host, server.admin_port): " + e.what());
    }
    if (is_wildcard(c.admin_host)) {
        log_warn("server.admin_exposed",
                 {{"host", c.admin_host},
                  {"port", static_cast<int>(admin_port())},
                  {"detail",
                   "the admin listener (GET /metrics, GET /health with plugin details) answers on every "
                   "interface without authentication (only its /fraud-guard routes need server.admin_token); "
                   "firewall it, or bind server.admin_host to a private address"}});
    }
}

std::uint16_t HttpServer::port() const {
    return endpoint_ ? static_cast<std::uint16_t>(endpoint_->getPort()) : 0;
}

std::uint16_t HttpServer::admin_port() const {
    return admin_endpoint_ ? static_cast<std::uint16_t>(admin_endpoint_->getPort()) : 0;
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
    for (auto* endpoint : {&admin_endpoint_, &endpoint_}) {
        if (*endpoint) {
            (*endpoint)->shutdown();
            endpoint->reset();
        }
    }
}

}  // namespace testino
