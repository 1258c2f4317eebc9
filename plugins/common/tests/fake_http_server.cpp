#include "fake_http_server.hpp"

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace testino::test {

using namespace Pistache;

std::optional<std::string> ReceivedRequest::header(const std::string& lower_case_name) const {
    const auto found = headers.find(lower_case_name);
    if (found == headers.end()) return std::nullopt;
    return found->second;
}

struct FakeHttpServer::State {
    mutable std::mutex mutex;
    Handler handler;
    std::vector<ReceivedRequest> received;
};

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

class RecordingHandler final : public Http::Handler {
public:
    HTTP_PROTOTYPE(RecordingHandler)

    explicit RecordingHandler(std::shared_ptr<FakeHttpServer::State> state) : state_(std::move(state)) {}

    void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
        ReceivedRequest received;
        received.method = Http::methodString(request.method());
        received.path = request.resource();
        received.body = request.body();
        received.peer_port = static_cast<std::uint16_t>(request.address().port());
        for (const auto& typed : request.headers().list()) {
            std::ostringstream value;
            typed->write(value);
            received.headers[lower(typed->name())] = value.str();
        }
        for (const auto& [name, raw] : request.headers().rawList()) {
            received.headers[lower(name)] = raw.value();
        }

        FakeHttpServer::Handler handler;
        {
            std::lock_guard lock(state_->mutex);
            state_->received.push_back(received);
            handler = state_->handler;
        }
        ScriptedReply reply;
        try {
            reply = handler ? handler(received) : ScriptedReply{404, "{}"};
        } catch (const std::exception& error) {
            reply = {500, std::string("fake handler threw: ") + error.what(), "text/plain"};
        }
        if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);

        // Pistache answers "Connection: Close" to HTTP/1.1 requests without a Connection
        // header; a real API keeps the connection open, and clients' reuse depends on it.
        const auto asked = request.headers().tryGet<Http::Header::Connection>();
        if (request.version() == Http::Version::Http11 &&
            !(asked && asked->control() == Http::ConnectionControl::Close)) {
            response.headers().remove<Http::Header::Connection>();
            response.headers().add<Http::Header::Connection>(Http::ConnectionControl::KeepAlive);
        }
        response.headers().add<Http::Header::ContentType>(
            Http::Mime::MediaType::fromString(reply.content_type));
        response.send(static_cast<Http::Code>(reply.status), reply.body);
    }

private:
    std::shared_ptr<FakeHttpServer::State> state_;
};

}  // namespace

struct FakeHttpServer::Impl {
    Http::Endpoint endpoint{Address(IP::loopback(), Port(0))};
};

FakeHttpServer::FakeHttpServer(Handler handler, int threads)
    : state_(std::make_shared<State>()), impl_(std::make_unique<Impl>()) {
    state_->handler = std::move(handler);
    impl_->endpoint.init(Http::Endpoint::options().threads(threads).maxRequestSize(1 << 20));
    impl_->endpoint.setHandler(Http::make_handler<RecordingHandler>(state_));
    impl_->endpoint.serveThreaded();
}

FakeHttpServer::~FakeHttpServer() { impl_->endpoint.shutdown(); }

std::uint16_t FakeHttpServer::port() const { return static_cast<std::uint16_t>(impl_->endpoint.getPort()); }

std::string FakeHttpServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

void FakeHttpServer::set_handler(Handler handler) {
    std::lock_guard lock(state_->mutex);
    state_->handler = std::move(handler);
}

std::vector<ReceivedRequest> FakeHttpServer::requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->received;
}

std::size_t FakeHttpServer::request_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->received.size();
}

void FakeHttpServer::clear_requests() {
    std::lock_guard lock(state_->mutex);
    state_->received.clear();
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                   hex_value(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::optional<std::string> base64_decode(const std::string& text) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (const char c : text) {
        if (c == '=') break;
        const auto index = kAlphabet.find(c);
        if (index == std::string::npos) return std::nullopt;
        buffer = (buffer << 6) | static_cast<unsigned>(index);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> decode_basic_auth(const std::string& header_value) {
    const std::string prefix = "Basic ";
    if (header_value.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    const auto decoded = base64_decode(header_value.substr(prefix.size()));
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::vector<std::pair<std::string, std::string>> parse_form(const std::string& body) {
    std::vector<std::pair<std::string, std::string>> fields;
    std::size_t start = 0;
    while (start <= body.size() && !body.empty()) {
        const auto end = std::min(body.find('&', start), body.size());
        const std::string pair = body.substr(start, end - start);
        const auto equals = pair.find('=');
        if (equals == std::string::npos) {
            fields.emplace_back(percent_decode(pair), "");
        } else {
            fields.emplace_back(percent_decode(pair.substr(0, equals)),
                                percent_decode(pair.substr(equals + 1)));
        }
        start = end + 1;
    }
    return fields;
}

}  // namespace testino::test
