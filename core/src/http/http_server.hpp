// The REST API on Pistache: routing, CORS, limits, keep-alive, access logs, draining; and
// the admin listener (GET /metrics, GET /health with the plugins' details), by default on
// 127.0.0.1 only, since neither is for the public. Routes know nothing of plugins or OTP
// rules: they parse, call the OtpFlow, and reply when its flow completes.
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

// Every route of the public listener as (method, path), whatever the config switches off,
// for the check against openapi.json. The files the docs pages load (/docs/assets/...,
// /redoc/assets/...) are not routes of the API and are not listed.
std::vector<std::pair<std::string, std::string>> http_routes();

class HttpServer {
public:
    HttpServer(const ServerConfig& config, const LimitsConfig& limits, OtpFlow& flow);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds both listeners and serves on background threads. Throws StartupError when it
    // cannot bind.
    void start();
    std::uint16_t port() const;
    std::uint16_t admin_port() const;  // 0 when server.admin_port is 0

    // From now on every request is answered 503 SHUTTING_DOWN with Connection: close, but
    // the admin listener's GET /metrics, so the last counts can still be scraped.
    void begin_drain();
    // Waits until no request is in flight; false when `timeout` passed first.
    bool wait_idle(std::chrono::milliseconds timeout) const;
    void stop();

    struct State;

private:
    std::shared_ptr<State> state_;
    std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
    std::unique_ptr<Pistache::Http::Endpoint> admin_endpoint_;
};

}  // namespace testino
