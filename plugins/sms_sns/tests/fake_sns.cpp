#include "fake_sns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "test_files.hpp"

namespace testino::plugins::sns::test {
namespace {

constexpr const char* kXmlns = "http://sns.amazonaws.com/doc/2010-03-31/";
constexpr const char* kFixtureMessageId = "567910cd-659e-55d4-8ccb-5aaf14679dc0";
constexpr auto kMaxClockSkew = std::chrono::minutes(15);

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string trim(const std::string& text) {
    const auto begin = text.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
    std::ostringstream out;
    for (std::size_t i = 0; i < size; ++i) {
        static const char* digits = "0123456789abcdef";
        out << digits[bytes[i] >> 4] << digits[bytes[i] & 0x0F];
    }
    return out.str();
}

// Deliberately not the plugin's helpers: OpenSSL 3's one-shot EVP_Q_* calls.
std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    std::size_t size = 0;
    if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), digest, &size) != 1) {
        throw std::runtime_error("fake SNS: EVP_Q_digest failed");
    }
    return to_hex(digest, size);
}

std::string hmac(const std::string& key, const std::string& data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t size = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, sizeof mac,
                  &size) == nullptr) {
        throw std::runtime_error("fake SNS: EVP_Q_mac failed");
    }
    return std::string(reinterpret_cast<const char*>(mac), size);
}

std::map<std::string, std::string> parse_form(const std::string& body) {
    std::map<std::string, std::string> fields;
    std::istringstream pairs(body);
    std::string pair;
    while (std::getline(pairs, pair, '&')) {
        const auto equals = pair.find('=');
        fields[percent_decode(pair.substr(0, equals), true)] =
            equals == std::string::npos ? "" : percent_decode(pair.substr(equals + 1), true);
    }
    return fields;
}

std::string error_xml(const std::string& type, const std::string& code, const std::string& message) {
    return std::string("<ErrorResponse xmlns=\"") + kXmlns + "\">\n  <Error>\n    <Type>" + type +
           "</Type>\n    <Code>" + code + "</Code>\n    <Message>" + message +
           "</Message>\n  </Error>\n  <RequestId>fake-request</RequestId>\n</ErrorResponse>\n";
}

std::optional<std::chrono::system_clock::time_point> parse_amz_date(const std::string& text) {
    std::tm utc{};
    if (text.size() != 16 || strptime(text.c_str(), "%Y%m%dT%H%M%SZ", &utc) == nullptr) {
        return std::nullopt;
    }
    return std::chrono::system_clock::from_time_t(timegm(&utc));
}

// "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/sns/aws4_request, SignedHeaders=a;b,
// Signature=hex" -> {Credential: ..., SignedHeaders: ..., Signature: ...}
std::optional<std::map<std::string, std::string>> parse_authorization(const std::string& value) {
    const std::string algorithm = "AWS4-HMAC-SHA256 ";
    if (value.rfind(algorithm, 0) != 0) return std::nullopt;
    std::map<std::string, std::string> parts;
    std::istringstream items(value.substr(algorithm.size()));
    std::string item;
    while (std::getline(items, item, ',')) {
        item = trim(item);
        const auto equals = item.find('=');
        if (equals == std::string::npos) return std::nullopt;
        parts[item.substr(0, equals)] = item.substr(equals + 1);
    }
    if (parts.count("Credential") == 0 || parts.count("SignedHeaders") == 0 ||
        parts.count("Signature") == 0) {
        return std::nullopt;
    }
    return parts;
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> pieces;
    std::istringstream in(text);
    std::string piece;
    while (std::getline(in, piece, separator)) pieces.push_back(piece);
    return pieces;
}

std::string collapse_spaces(const std::string& value) {
    std::string out;
    for (const char c : trim(value)) {
        if ((c == ' ' || c == '\t') && !out.empty() && out.back() == ' ') continue;
        out.push_back(c == '\t' ? ' ' : c);
    }
    return out;
}

struct Verdict {
    int status = 0;  // 0: the request passed
    std::string body;
    std::string code;
};

Verdict reject(int status, const std::string& code, std::string body) {
    return {status, std::move(body), code};
}

}  // namespace

std::optional<std::string> ReceivedPublish::header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
        if (lower(key) == lower(name)) return value;
    }
    return std::nullopt;
}

FakeReply error_fixture_reply(const std::string& aws_code) {
    const std::string file = "error-" + aws_code + ".xml";
    FakeReply reply;
    reply.body = read_required_file(sns_fixture(file));
    reply.status = 0;
    std::istringstream statuses(read_required_file(sns_fixture("error-status.txt")));
    std::string name, http;
    int status = 0;
    while (statuses >> name >> http >> status) {
        if (name == file) reply.status = status;
    }
    if (reply.status == 0) {
        ADD_FAILURE() << "no HTTP status for " << file << " in " << sns_fixture("error-status.txt");
        reply.status = 500;
    }
    return reply;
}

struct FakeSns::Impl {
    FakeSnsKeys keys;
    std::string success_template;
    int listen_fd = -1;
    int port = 0;
    std::thread acceptor;

    mutable std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    std::deque<FakeReply> script;
    std::vector<ReceivedPublish> received;
    std::vector<int> open_fds;  // -1 once closed
    std::vector<std::thread> workers;
    int connections = 0;
    int next_message = 0;

    // The fake's own SigV4 check over the request as it arrived.
    Verdict check(const ReceivedPublish& request) const {
        const auto forbidden = [](const std::string& code, const std::string& message) {
            return reject(403, code, error_xml("Sender", code, message));
        };
        const auto authorization = request.header("Authorization");
        if (!authorization)
            return forbidden("MissingAuthenticationToken", "Request is missing Authentication Token");
        const auto parts = parse_authorization(*authorization);
        if (!parts)
            return reject(400, "IncompleteSignature",
                          error_xml("Sender", "IncompleteSignature", "Authorization header is malformed"));
        const auto credential = split(parts->at("Credential"), '/');
        if (credential.size() != 5)
            return reject(400, "IncompleteSignature",
                          error_xml("Sender", "IncompleteSignature", "bad Credential"));
        if (credential[0] != keys.access_key_id) {
            return reject(403, "InvalidClientTokenId",
                          read_required_file(sns_fixture("error-InvalidClientTokenId.xml")));
        }
        const auto token = request.header("X-Amz-Security-Token");
        if (token.value_or("") != keys.session_token) {
            return reject(403, "InvalidClientTokenId",
                          read_required_file(sns_fixture("error-InvalidClientTokenId.xml")));
        }
        const auto amz_date = request.header("X-Amz-Date");
        const auto signed_at = parse_amz_date(amz_date.value_or(""));
        if (!signed_at) return forbidden("IncompleteSignature", "X-Amz-Date missing or malformed");
        const auto skew = std::chrono::system_clock::now() - *signed_at;
        if (skew > kMaxClockSkew || skew < -kMaxClockSkew) {
            return reject(400, "RequestExpired",
                          error_xml("Sender", "RequestExpired", "Request has expired."));
        }

        const auto signature_mismatch = [] {
            return reject(403, "SignatureDoesNotMatch",
                          read_required_file(sns_fixture("error-SignatureDoesNotMatch.xml")));
        };
        if (credential[1] != amz_date->substr(0, 8) || credential[2] != keys.region ||
            credential[3] != "sns" || credential[4] != "aws4_request") {
            return signature_mismatch();
        }
        // What must be signed: host, the date, the body's type, and the token if there is one.
        const auto signed_names = split(parts->at("SignedHeaders"), ';');
        for (const char* must : {"content-type", "host", "x-amz-date"}) {
            if (std::find(signed_names.begin(), signed_names.end(), must) == signed_names.end()) {
                return signature_mismatch();
            }
        }
        if (token && std::find(signed_names.begin(), signed_names.end(), "x-amz-security-token") ==
                         signed_names.end()) {
            return signature_mismatch();
        }
        if (!std::is_sorted(signed_names.begin(), signed_names.end())) return signature_mismatch();

        const auto words = split(request.request_line, ' ');
        std::string canonical = words.at(0) + "\n" + words.at(1) + "\n\n";
        for (const auto& name : signed_names) {
            std::string joined;
            bool found = false;
            for (const auto& [key, value] : request.headers) {
                if (lower(key) != name) continue;
                joined += (found ? "," : "") + collapse_spaces(value);
                found = true;
            }
            if (!found) return signature_mismatch();
            canonical += name + ":" + joined + "\n";
        }
        canonical += "\n" + parts->at("SignedHeaders") + "\n" + sha256_hex(request.body);
        const std::string scope =
            credential[1] + "/" + credential[2] + "/" + credential[3] + "/" + credential[4];
        const std::string to_sign =
            "AWS4-HMAC-SHA256\n" + *amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
        std::string key = "AWS4" + keys.secret_access_key;
        for (const auto& step : {credential[1], credential[2], credential[3], credential[4]}) {
            key = hmac(key, step);
        }
        const std::string expected = hmac(key, to_sign);
        if (to_hex(reinterpret_cast<const unsigned char*>(expected.data()), expected.size()) !=
            parts->at("Signature")) {
            return signature_mismatch();
        }

        const auto bad_request = [](const std::string& why) {
            return reject(400, "InvalidParameter", error_xml("Sender", "InvalidParameter", why));
        };
        if (words.at(1) != "/") return bad_request("path must be /");
        if (lower(request.header("Content-Type").value_or(""))
                .rfind("application/x-www-form-urlencoded", 0) != 0) {
            return bad_request("Content-Type must be application/x-www-form-urlencoded");
        }
        const auto param = [&](const char* name) {
            const auto found = request.params.find(name);
            return found == request.params.end() ? std::string() : found->second;
        };
        if (param("Action") != "Publish" || param("Version") != "2010-03-31") {
            return bad_request("Action must be Publish, Version 2010-03-31");
        }
        if (param("PhoneNumber").empty() || param("Message").empty()) {
            return bad_request("PhoneNumber and Message are required");
        }
        return {};
    }

    std::string success_reply(std::string& message_id) {
        message_id = "fake-message-" + std::to_string(++next_message);
        std::string body = success_template;
        const auto at = body.find(kFixtureMessageId);
        if (at != std::string::npos) body.replace(at, std::string(kFixtureMessageId).size(), message_id);
        return body;
    }

    static bool write_all(int fd, const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Reads one request (head and Content-Length body); false when the peer closed.
    static bool read_request(int fd, std::string& buffer, ReceivedPublish& request) {
        char chunk[4096];
        std::size_t head_end;
        while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
        const auto lines = split(buffer.substr(0, head_end), '\n');
        std::size_t content_length = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            std::string line = lines[i];
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (i == 0) {
                request.request_line = line;
                continue;
            }
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            request.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
            if (lower(line.substr(0, colon)) == "content-length") {
                const std::string digits = trim(line.substr(colon + 1));
                if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
                    digits.size() > 7) {
                    return false;  // not what a client under test may send: drop the connection
                }
                content_length = std::stoul(digits);
            }
        }
        buffer.erase(0, head_end + 4);
        while (buffer.size() < content_length) {
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
        request.body = buffer.substr(0, content_length);
        buffer.erase(0, content_length);
        request.params = parse_form(request.body);
        return true;
    }

    void serve(int fd, int connection) {
        std::string buffer;
        for (;;) {
            ReceivedPublish request;
            request.connection = connection;
            if (!read_request(fd, buffer, request)) break;

            FakeReply reply;
            Verdict verdict;
            try {
                verdict = check(request);
            } catch (const std::exception& error) {
                verdict = reject(500, "InternalError", error_xml("Receiver", "InternalError", error.what()));
            }
            {
                std::lock_guard lock(mutex);
                if (verdict.status != 0) {
                    reply.status = verdict.status;
                    reply.body = verdict.body;
                    request.rejected_with = verdict.code;
                } else if (!script.empty()) {
                    reply = script.front();
                    script.pop_front();
                }
                if (reply.status == 200 && reply.body.empty() && !reply.close_without_answer) {
                    reply.body = success_reply(request.message_id);
                }
                received.push_back(request);
            }
            if (reply.delay.count() > 0) {
                std::unique_lock lock(mutex);
                wake.wait_for(lock, reply.delay, [this] { return stopping; });
            }
            if (reply.close_without_answer) break;
            const std::string response =
                "HTTP/1.1 " + std::to_string(reply.status) + (reply.status == 200 ? " OK" : " Error") +
                "\r\nContent-Type: text/xml\r\nContent-Length: " + std::to_string(reply.body.size()) +
                "\r\n\r\n" + reply.body;
            if (!write_all(fd, response)) break;
            if (lower(request.header("Connection").value_or("")) == "close") break;
        }
        std::lock_guard lock(mutex);
        for (int& open : open_fds) {
            if (open == fd) open = -1;
        }
        ::close(fd);
    }

    void accept_loop() {
        for (;;) {
            const int fd = ::accept(listen_fd, nullptr, nullptr);
            std::lock_guard lock(mutex);
            if (stopping) {
                if (fd >= 0) ::close(fd);
                return;
            }
            if (fd < 0) continue;
            open_fds.push_back(fd);
            const int connection = ++connections;
            workers.emplace_back([this, fd, connection] { serve(fd, connection); });
        }
    }
};

FakeSns::FakeSns(FakeSnsKeys keys) : impl_(std::make_unique<Impl>()) {
    impl_->keys = std::move(keys);
    impl_->success_template = read_required_file(sns_fixture("publish-response.xml"));
    impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (impl_->listen_fd < 0 ||
        ::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(impl_->listen_fd, 64) != 0 ||
        ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
        throw std::runtime_error("fake SNS: cannot listen on 127.0.0.1");
    }
    impl_->port = ntohs(address.sin_port);
    impl_->acceptor = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

FakeSns::~FakeSns() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
        ::shutdown(impl_->listen_fd, SHUT_RDWR);  // wakes accept()
        for (const int fd : impl_->open_fds) {
            if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes recv()
        }
    }
    impl_->wake.notify_all();
    impl_->acceptor.join();
    for (auto& worker : impl_->workers) worker.join();
    ::close(impl_->listen_fd);
}

int FakeSns::port() const { return impl_->port; }

std::string FakeSns::endpoint() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

void FakeSns::script(std::vector<FakeReply> replies) {
    std::lock_guard lock(impl_->mutex);
    impl_->script.assign(replies.begin(), replies.end());
}

std::vector<ReceivedPublish> FakeSns::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->received;
}

std::size_t FakeSns::request_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->received.size();
}

int FakeSns::connection_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections;
}

std::map<std::string, std::string> sns_section(const FakeSns& fake, const FakeSnsKeys& keys) {
    auto quoted = [](const std::string& text) { return "\"" + text + "\""; };
    std::map<std::string, std::string> section = {{"region", keys.region},
                                                  {"access_key_id", keys.access_key_id},
                                                  {"secret_access_key", quoted(keys.secret_access_key)},
                                                  {"endpoint", quoted(fake.endpoint())}};
    return section;
}

}  // namespace testino::plugins::sns::test
