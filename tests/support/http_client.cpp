#include "http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;

bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(),
                      [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

bool has_header_named(const std::vector<std::string>& headers, const std::string& name) {
    return std::any_of(headers.begin(), headers.end(), [&](const std::string& line) {
        const auto colon = line.find(':');
        return colon != std::string::npos && iequals(trim(line.substr(0, colon)), name);
    });
}

// Parses "Name: value" into the list; a status line starts a new header block (after a
// 100 Continue, or a redirect), so the list only ever holds the final response's headers.
void parse_header_line(const std::string& line, HeaderList& headers) {
    if (line.rfind("HTTP/", 0) == 0) {
        headers.clear();
        return;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) return;
    headers.add(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    parse_header_line(std::string(data, size * count), *static_cast<HeaderList*>(user));
    return size * count;
}

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

void HeaderList::add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> HeaderList::get(const std::string& name) const {
    for (const auto& [n, v] : entries_) {
        if (iequals(n, name)) return v;
    }
    return std::nullopt;
}

std::size_t HeaderList::count(const std::string& name) const {
    return static_cast<std::size_t>(std::count_if(
        entries_.begin(), entries_.end(), [&](const auto& entry) { return iequals(entry.first, name); }));
}

HttpClient::HttpClient(int port, std::chrono::milliseconds timeout)
    : curl_(nullptr), port_(port), timeout_(timeout) {
    global_init_once();
    curl_ = curl_easy_init();
    if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::vector<std::string>& headers) {
    CURL* curl = static_cast<CURL*>(curl_);
    curl_easy_reset(curl);  // keeps the connection cache, drops the last request's options
    HttpResponse response;
    const std::string url =
        (ca_file_.empty() ? "http" : "https") + std::string("://127.0.0.1:") + std::to_string(port_) + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    if (!ca_file_.empty()) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
        curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);  // the system's CAs are not asked
    }
    // Never through a proxy from the environment: loopback only.
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);

    if (method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "POST" || !body.empty()) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
        if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    curl_slist* list = nullptr;
    for (const auto& line : headers) list = curl_slist_append(list, line.c_str());
    // "Name:" with no value removes a header curl would otherwise add on its own.
    if (!has_header_named(headers, "Content-Type")) list = curl_slist_append(list, "Content-Type:");
    if (!has_header_named(headers, "Expect")) list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

    const CURLcode result = curl_easy_perform(curl);
    if (result == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
        response.error = curl_easy_strerror(result);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        response.status = status;  // a response may have arrived before the send failed
    }
    curl_slist_free_all(list);
    return response;
}

HttpResponse HttpClient::get(const std::string& path, const std::vector<std::string>& headers) {
    return request("GET", path, "", headers);
}

HttpResponse HttpClient::post_json(const std::string& path, const std::string& body,
                                   const std::vector<std::string>& headers) {
    std::vector<std::string> all{"Content-Type: application/json"};
    all.insert(all.end(), headers.begin(), headers.end());
    return request("POST", path, body, all);
}

RawConnection::RawConnection(int port, const std::string& loopback) {
    sockaddr_storage address{};
    socklen_t size = 0;
    if (loopback == "::1") {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        v6->sin6_addr = in6addr_loopback;
        size = sizeof *v6;
    } else if (loopback == "127.0.0.1") {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        size = sizeof *v4;
    } else {
        throw std::runtime_error("RawConnection speaks to loopback only, not " + loopback);
    }
    fd_ = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0) {
        const std::string reason = std::strerror(errno);
        close(fd_);
        throw std::runtime_error("connect to " + loopback + " port " + std::to_string(port) + ": " + reason);
    }
}

RawConnection::~RawConnection() {
    if (fd_ >= 0) close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

bool RawConnection::fill(std::chrono::milliseconds timeout) {
    if (eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready <= 0) return ready == 0 || errno == EINTR;  // nothing yet, still open
    char chunk[16384];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
        if (n < 0 && errno == EINTR) return true;
        eof_ = true;  // orderly close (0) or reset (<0)
        return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::optional<RawResponse> RawConnection::read_response(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    auto remaining = [&] {
        return std::max(std::chrono::milliseconds(0),
                        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    };
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(std::min(remaining(), std::chrono::milliseconds(50))) || Clock::now() >= deadline) {
            if ((header_end = buffer_.find("\r\n\r\n")) != std::string::npos) break;
            return std::nullopt;
        }
    }
    RawResponse response;
    const std::string head = buffer_.substr(0, header_end);
    std::size_t line_start = 0;
    bool first = true;
    while (line_start <= head.size()) {
        auto line_end = head.find("\r\n", line_start);
        if (line_end == std::string::npos) line_end = head.size();
        const std::string line = head.substr(line_start, line_end - line_start);
        if (first) {
            // "HTTP/1.1 200 OK"
            const auto space = line.find(' ');
            response.version = line.substr(0, space);
            if (space != std::string::npos) response.status = std::atoi(line.c_str() + space + 1);
            first = false;
        } else {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                response.headers.add(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
            }
        }
        line_start = line_end + 2;
    }
    std::size_t body_start = header_end + 4;
    const auto length = response.headers.get("Content-Length");
    if (response.status == 204 || response.status == 304 || response.status / 100 == 1) {
        buffer_.erase(0, body_start);  // no body by definition
    } else if (length) {
        const std::size_t want = std::stoul(*length);
        while (buffer_.size() - body_start < want) {
            if (!fill(std::min(remaining(), std::chrono::milliseconds(50))) && eof_) return std::nullopt;
            if (Clock::now() >= deadline) return std::nullopt;
        }
        response.body = buffer_.substr(body_start, want);
        buffer_.erase(0, body_start + want);
    } else {
        // No length: the body runs to the end of the connection.
        while (!eof_ && Clock::now() < deadline) fill(std::min(remaining(), std::chrono::milliseconds(50)));
        response.body = buffer_.substr(body_start);
        buffer_.clear();
    }
    return response;
}

bool RawConnection::peer_closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!eof_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        fill(std::min(left, std::chrono::milliseconds(50)));
    }
    return true;
}

}  // namespace testino::test
