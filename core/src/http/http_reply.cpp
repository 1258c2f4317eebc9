#include "http/http_reply.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <pistache/peer.h>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

using namespace Pistache;

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

void add_common_headers(Http::Header::Collection& headers, const RequestContext& ctx) {
    headers.remove<Http::Header::Connection>();
    if (!ctx.keep_alive) {
        headers.add<Http::Header::Connection>(Http::ConnectionControl::Close);
    } else if (ctx.http10) {
        headers.add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
    }
    add_header(headers, "X-Request-Id", ctx.request_id);
    // W3C Trace Context Level 2: which trace, and which span of it, answered.
    if (ctx.trace) add_header(headers, "traceresponse", ctx.trace->traceparent());
    add_header(headers, "X-Content-Type-Options", "nosniff");
    if (ctx.auth_route) add_header(headers, "Cache-Control", "no-store");
    if (!ctx.strict_transport_security.empty()) {
        add_header(headers, "Strict-Transport-Security", ctx.strict_transport_security);
    }
    if (!ctx.cors_origin.empty()) {
        add_header(headers, "Access-Control-Allow-Origin", ctx.cors_origin);
        add_header(headers, "Vary", "Origin");
        // Credentialed requests (cookies, HTTP auth) only where ops asked for them; never
        // with "*", which browsers refuse together with credentials anyway.
        if (ctx.cors_credentials && !ctx.cors_wildcard) {
            add_header(headers, "Access-Control-Allow-Credentials", "true");
        }
        add_header(headers, "Access-Control-Expose-Headers",
                   "X-Request-Id, traceresponse, Retry-After, Idempotent-Replayed");
    }
}

}  // namespace

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

Reply internal_error_reply(const RequestContext& ctx) {
    return error_reply(
        make_error(ErrorCode::internal_error, "Internal server error (request id " + ctx.request_id + ")"));
}

bool wants_keep_alive(const Http::Request& request) {
    const auto connection = request.headers().tryGet<Http::Header::Connection>();
    if (request.version() == Http::Version::Http11) {
        return !(connection && connection->control() == Http::ConnectionControl::Close);
    }
    return connection && connection->control() == Http::ConnectionControl::KeepAlive;
}

bool valid_request_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

std::string printable(std::string text) {
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return text;
}

void send_reply(Http::ResponseWriter& writer, const RequestContext& ctx, Reply reply) {
    auto& headers = writer.headers();
    add_common_headers(headers, ctx);
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
    const auto latency = std::chrono::steady_clock::now() - ctx.start;
    metrics::global().http_request(ctx.path, ctx.method, reply.status, latency);
    const double latency_ms = std::chrono::duration<double, std::milli>(latency).count();
    static const TraceContext kNoTrace;
    const TraceContext& trace = ctx.trace ? ctx.trace->context() : kNoTrace;
    Logger::write(LogLevel::info, "http.access",
                  {{"request_id", ctx.request_id},
                   {"trace_id", trace.trace_id},
                   {"span_id", trace.span_id},
                   {"listener", ctx.listener},
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

    if (ctx.in_flight != nullptr) ctx.in_flight->fetch_sub(1);
}

}  // namespace testino
