// The benchmark floor: the least a Pistache 0.0.5 server can do for
// POST /api/v1/auth/send-otp. It answers a fixed JSON body and does nothing else, so
// bench/run.sh can report every figure of testino-server as a ratio to this one,
// measured in the same run on the same machine.
//
// For a fair comparison it matches testino-server where the transport is concerned:
// the same reactor thread count (server.threads default 2) and the same HTTP/1.1
// keep-alive fix (Pistache 0.0.5 answers "Connection: Close" to an HTTP/1.1 request
// that sent no Connection header; see shared/design-notes.md).
//
// Usage: bench_floor_server [PORT] [THREADS]   (PORT 0 = any free port)
// Prints one JSON line {"event":"floor.listening","host":"127.0.0.1","port":N} on stdout
// once it accepts connections; exits 0 on SIGTERM or SIGINT.

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using namespace Pistache;

constexpr const char* kSendOtpPath = "/api/v1/auth/send-otp";
constexpr const char* kFixedBody = R"({"success":true,"message":"OTP sent successfully","expires_in":300})";

// HTTP/1.1 keeps the connection open unless the client asked to close; HTTP/1.0 keeps
// Pistache's rule (whatever onInput copied from the request, or Close).
void keepHttp11Alive(const Http::Request& request, Http::ResponseWriter& response) {
    if (request.version() != Http::Version::Http11) return;
    auto asked = request.headers().tryGet<Http::Header::Connection>();
    if (asked && asked->control() == Http::ConnectionControl::Close) return;
    response.headers().remove<Http::Header::Connection>();
    response.headers().add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
}

class FloorHandler : public Http::Handler {
public:
    HTTP_PROTOTYPE(FloorHandler)

    void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
        keepHttp11Alive(request, response);
        if (request.method() == Http::Method::Post && request.resource() == kSendOtpPath) {
            response.send(Http::Code::Ok, kFixedBody, MIME(Application, Json));
            return;
        }
        response.send(Http::Code::Not_Found, R"({"success":false,"error":"NOT_FOUND","message":"not found"})",
                      MIME(Application, Json));
    }
};

int parseOr(const char* text, int fallback) {
    if (text == nullptr) return fallback;
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0 || value > 65535) {
        std::fprintf(stderr, "bench_floor_server: not a number in range: %s\n", text);
        std::exit(2);
    }
    return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
    const int port = parseOr(argc > 1 ? argv[1] : nullptr, 0);
    const int threads = parseOr(argc > 2 ? argv[2] : nullptr, 2);

    // Block the stop signals before Pistache starts its threads, so only sigwait sees them.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    Http::Endpoint endpoint(Address(IP::loopback(), Port(static_cast<uint16_t>(port))));
    endpoint.init(
        Http::Endpoint::options().threads(threads).flags(Tcp::Options::ReuseAddr).maxRequestSize(4096));
    endpoint.setHandler(Http::make_handler<FloorHandler>());
    endpoint.bind();
    endpoint.serveThreaded();

    std::printf(R"({"event":"floor.listening","host":"127.0.0.1","port":%u})"
                "\n",
                static_cast<unsigned>(static_cast<uint16_t>(endpoint.getPort())));
    std::fflush(stdout);

    int received = 0;
    sigwait(&stopSignals, &received);
    endpoint.shutdown();
    return 0;
}
