#include "testino/plugins/http_client.hpp"

#include "testino/plugins/trace_context.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace testino::plugins::http {
namespace {

using Clock = std::chrono::steady_clock;

// Idle handles kept for reuse; more threads than this still work, their handles are freed.
constexpr std::size_t kMaxIdleHandles = 8;

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

// Loopback never goes through a proxy; real hosts keep the environment's no_proxy list.
std::string no_proxy_list() {
    std::string list = "127.0.0.1,::1,localhost";
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
        const char* value = std::getenv(name);
        if (value != nullptr && *value != '\0') return std::string(value) + "," + list;
    }
    return list;
}

struct SListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SList = std::unique_ptr<curl_slist, SListDeleter>;

struct Sink {
    std::string* body;
    std::size_t limit;
    bool overflowed = false;
};

extern "C" std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t bytes = size * count;
    if (sink->body->size() + bytes > sink->limit) {
        sink->overflowed = true;
        return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    sink->body->append(data, bytes);
    return bytes;
}

// Whether curl handed any request byte to the connection. CURLINFO_REQUEST_SIZE counts the
// header (and inline body) bytes written, CURLINFO_SIZE_UPLOAD_T the body bytes written after
// it; both add up over curl's own resend on a fresh connection when a reused one died. Nothing
// counted means the failure came before the request (DNS, connect, TLS handshake), whatever
// the error code; a count, even of a partial request, is treated as "may have arrived".
bool sent_any_request_byte(CURL* handle) {
    long request_bytes = 0;
    curl_off_t body_bytes = 0;
    if (curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &request_bytes) != CURLE_OK ||
        curl_easy_getinfo(handle, CURLINFO_SIZE_UPLOAD_T, &body_bytes) != CURLE_OK) {
        return true;  // cannot tell: assume the worst
    }
    return request_bytes > 0 || body_bytes > 0;
}

long clamp_ms(std::chrono::milliseconds value) {
    return static_cast<long>(std::clamp<std::chrono::milliseconds::rep>(value.count(), 1, 86'400'000));
}

}  // namespace

struct Client::Pool {
    std::mutex mutex;
    std::vector<CURL*> idle;

    CURL* acquire() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                CURL* handle = idle.back();
                idle.pop_back();
                return handle;
            }
        }
        return curl_easy_init();
    }

    void release(CURL* handle) {
        {
            std::lock_guard lock(mutex);
            if (idle.size() < kMaxIdleHandles) {
                idle.push_back(handle);
                return;
            }
        }
        curl_easy_cleanup(handle);
    }

    ~Pool() {
        for (CURL* handle : idle) curl_easy_cleanup(handle);
    }
};

Client::Client(ClientOptions options) : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
    global_init_once();
}

Client::~Client() = default;

Response Client::post(const Request& request, Clock::time_point deadline) {
    Response response;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
        response.timed_out = true;
        response.nothing_sent = true;
        response.transport_error = "the deadline passed before the request was sent";
        return response;
    }

    CURL* handle = pool_->acquire();
    if (handle == nullptr) {
        response.nothing_sent = true;
        response.transport_error = "cannot create a curl handle";
        return response;
    }
    // Clears the previous request's options; the handle's connection cache survives.
    curl_easy_reset(handle);

    SList headers;
    auto append_header = [&headers](const std::string& line) {
        curl_slist* extended = curl_slist_append(headers.get(), line.c_str());
        if (extended != nullptr) {
            (void)headers.release();
            headers.reset(extended);
        }
    };
    append_header("Content-Type: " + request.content_type);
    append_header("Accept: application/json");
    append_header("Expect:");  // no 100-continue round trip for small bodies
    for (const auto& line : request.headers) append_header(line);
    if (!request.traceparent.empty()) {
        const std::string child = child_traceparent(request.traceparent);
        if (!child.empty()) append_header("traceparent: " + child);
    }

    char error_buffer[CURL_ERROR_SIZE] = {};
    Sink sink{&response.body, options_.max_response_bytes};
    const std::string no_proxy = no_proxy_list();
    const long verify = options_.verify_tls ? 1L : 0L;

    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, verify);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, verify * 2L);
    curl_easy_setopt(handle, CURLOPT_NOPROXY, no_proxy.c_str());
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, clamp_ms(left));
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(std::min(left, options_.connect_timeout)));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &write_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    if (request.basic_auth) {
        curl_easy_setopt(handle, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(handle, CURLOPT_USERNAME, request.basic_auth->first.c_str());
        curl_easy_setopt(handle, CURLOPT_PASSWORD, request.basic_auth->second.c_str());
    }

    const CURLcode result = curl_easy_perform(handle);
    if (result == CURLE_OK) {
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
        response.status = 0;
        response.body.clear();
        response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
        response.nothing_sent = !sent_any_request_byte(handle);
        if (sink.overflowed) {
            response.transport_error =
                "the response body is larger than " + std::to_string(options_.max_response_bytes) + " bytes";
        } else {
            response.transport_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
        }
    }
    // Nothing on the handle may point at this call's buffers once it goes back to the pool.
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(handle, CURLOPT_PASSWORD, "");
    pool_->release(handle);
    return response;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    auto encode = [&out](const std::string& text) {
        for (const char c : text) {
            const auto byte = static_cast<unsigned char>(c);
            const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                                    (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                                    byte == '_' || byte == '~';
            if (unreserved) {
                out += c;
            } else {
                out += '%';
                out += kHex[byte >> 4];
                out += kHex[byte & 0x0F];
            }
        }
    };
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += '&';
        encode(fields[i].first);
        out += '=';
        encode(fields[i].second);
    }
    return out;
}

std::chrono::milliseconds backoff_before_retry(const RetryPolicy& policy, int retry) {
    using std::chrono::milliseconds;
    const milliseconds base = std::max(policy.base_backoff, milliseconds(0));
    const milliseconds cap = std::max(policy.max_backoff, milliseconds(0));
    milliseconds full = base;
    for (int i = 1; i < retry && full < cap; ++i) full *= 2;
    full = std::min(full, cap);
    if (full.count() <= 1) return full;
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uniform_int_distribution<milliseconds::rep> jitter(full.count() / 2, full.count());
    return milliseconds(jitter(random));
}

Response post_with_retries(Client& client, const Request& request, Clock::time_point deadline,
                           const RetryPolicy& policy, const std::function<bool(const Response&)>& retryable,
                           const std::function<void(int attempt, const Response&)>& on_retry) {
    const int attempts = std::max(policy.max_attempts, 1);
    for (int attempt = 1;; ++attempt) {
        Response response = client.post(request, deadline);
        if (attempt >= attempts || !retryable(response)) return response;
        const auto pause = backoff_before_retry(policy, attempt);
        if (Clock::now() + pause >= deadline) return response;
        if (on_retry) on_retry(attempt, response);
        std::this_thread::sleep_for(pause);
    }
}

}  // namespace testino::plugins::http
