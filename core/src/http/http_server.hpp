// The REST API on Pistache: routing, CORS, limits, keep-alive, access logs, draining.
// Routes know nothing of plugins or OTP rules: they parse, call the OtpFlow, and reply
// when its flow completes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace Pistache::Http {
class Endpoint;
}

namespace testino {

class OtpFlow;

// Every route as (method, path), whatever the config switches off, for the check against
// openapi.json. The files the docs pages load (/docs/assets/..., /redoc/assets/...) are
// not routes of the API and are not listed.
std::vector<std::pair<std::string, std::string>> http_routes();

class HttpServer {
public:
    HttpServer(const ServerConfig& config, const std::vector<std::string>& trusted_proxies, OtpFlow& flow);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and serves on background threads. Throws StartupError when it cannot bind.
    void start();
    std::uint16_t port() const;

    // From now on every request is answered 503 SHUTTING_DOWN with Connection: close.
    void begin_drain();
    // Waits until no request is in flight; false when `timeout` passed first.
    bool wait_idle(std::chrono::milliseconds timeout) const;
    void stop();

    struct State;

private:
    std::shared_ptr<State> state_;
    std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
};

}  // namespace testino
