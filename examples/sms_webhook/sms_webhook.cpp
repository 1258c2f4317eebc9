// sms_webhook.so: an SMS provider that POSTs each message as JSON to a URL you run.
//
//   POST <url>   Content-Type: application/json   [Authorization: Bearer <bearer_token>]
//   {"to":"+12025550123","text":"Your Testino code is 123456. ...","request_id":"5f1c02aa-0"}
//
// 2xx: sent. 3xx/4xx: misconfigured (wrong URL or token: an operator must act).
// 5xx, timeout, connection failure: unavailable (retrying later may work).
//
// Written against the installed SDK only, as any third-party plugin would be.
#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include <testino/plugin.hpp>

namespace {

namespace sdk = testino::sdk;
using Clock = std::chrono::steady_clock;

// JSON string literal for `text` (RFC 8259: quote, backslash and control characters escaped).
std::string json_quote(const std::string& text) {
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted.push_back('"');
    for (const unsigned char c : text) {
        if (c == '"' || c == '\\') {
            quoted.push_back('\\');
            quoted.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
            char escape[7];
            std::snprintf(escape, sizeof escape, "\\u%04x", c);
            quoted += escape;
        } else {
            quoted.push_back(static_cast<char>(c));
        }
    }
    quoted.push_back('"');
    return quoted;
}

// Loopback never goes through a proxy (the environment's no_proxy list is kept for the rest).
std::string no_proxy_hosts() {
    std::string hosts = "127.0.0.1,::1,localhost";
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
        const char* value = std::getenv(name);
        if (value != nullptr && *value != '\0') return std::string(value) + "," + hosts;
    }
    return hosts;
}

extern "C" std::size_t discard_body(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

class WebhookProvider final : public sdk::SmsProvider {
public:
    WebhookProvider(std::string url, std::string bearer_token, std::chrono::milliseconds connect_timeout)
        : url_(std::move(url)),
          bearer_token_(std::move(bearer_token)),
          connect_timeout_(connect_timeout),
          no_proxy_(no_proxy_hosts()) {}

    // Thread-safe: one curl handle per call, nothing shared but counters.
    sdk::SendResult send(const sdk::SmsMessage& message, Clock::time_point deadline) override {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return failed(sdk::SendStatus::unavailable, "webhook: deadline passed");

        std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
        if (!curl) return failed(sdk::SendStatus::unavailable, "webhook: curl_easy_init failed");

        const std::string body = "{\"to\":" + json_quote(message.to) +
                                 ",\"text\":" + json_quote(message.text) +
                                 ",\"request_id\":" + json_quote(message.request_id) + "}";
        std::unique_ptr<curl_slist, CurlDeleter> headers;
        auto add_header = [&headers](const std::string& header) {
            headers.reset(curl_slist_append(headers.release(), header.c_str()));
        };
        add_header("Content-Type: application/json");
        if (!bearer_token_.empty()) add_header("Authorization: Bearer " + bearer_token_);
        if (message.request_id.find_first_of("\r\n") == std::string::npos) {
            add_header("X-Request-Id: " + message.request_id);
        }

        CURL* handle = curl.get();
        curl_easy_setopt(handle, CURLOPT_URL, url_.c_str());
        curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM timeouts
        curl_easy_setopt(handle, CURLOPT_NOPROXY, no_proxy_.c_str());
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard_body);
        curl_easy_setopt(handle, CURLOPT_USERAGENT, "testino-sms-webhook/1.0");
        // The whole exchange must end by the deadline; connecting gets no more than that.
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(std::min(left, connect_timeout_).count()));

        const CURLcode code = curl_easy_perform(handle);
        if (code != CURLE_OK) {
            // Before any request byte went out (DNS, refused, connect timeout) the receiver
            // certainly has nothing: the server may try another provider. After, it may have
            // sent the SMS: uncertain, never tried twice. curl's message names the host and
            // the failure, never the token (a header).
            long request_bytes = 1;
            curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &request_bytes);
            const std::string why = std::string("webhook: ") + curl_easy_strerror(code);
            if (request_bytes == 0) return failed(sdk::SendStatus::unavailable, why);
            return failed(sdk::SendStatus::uncertain, why + " (after the request was sent)");
        }
        long status = 0;
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            const auto number = sent_.fetch_add(1) + 1;
            return {sdk::SendStatus::sent, {}, "webhook-" + std::to_string(number)};
        }
        const std::string answered = "webhook: answered HTTP " + std::to_string(status);
        if (status == 429) return failed(sdk::SendStatus::unavailable, answered);
        if (status >= 300 && status < 500) {
            return failed(sdk::SendStatus::misconfigured, answered + " (check url and bearer_token)");
        }
        return failed(sdk::SendStatus::uncertain, answered);  // a 5xx may come after the SMS went out
    }

    // Always up: the receiver's state shows in each send. The counts help operators.
    sdk::HealthReport health() override {
        return {true, std::to_string(sent_.load()) + " sent, " + std::to_string(failed_.load()) + " failed"};
    }

private:
    sdk::SendResult failed(sdk::SendStatus status, std::string detail) {
        failed_.fetch_add(1);
        return {status, std::move(detail), {}};
    }

    const std::string url_;
    const std::string bearer_token_;
    const std::chrono::milliseconds connect_timeout_;
    const std::string no_proxy_;
    std::atomic<unsigned long> sent_{0};
    std::atomic<unsigned long> failed_{0};
};

sdk::PluginDescriptor webhook_descriptor() {
    const sdk::ConfigKey url = sdk::mark_required(sdk::string_key(
        "url", "", "where each SMS is POSTed as JSON (http:// or https://)", "SMS_WEBHOOK_URL"));
    const sdk::ConfigKey token = sdk::mark_secret(sdk::string_key(
        "bearer_token", "", "sent as \"Authorization: Bearer <token>\"", "SMS_WEBHOOK_BEARER_TOKEN"));
    const sdk::ConfigKey connect =
        sdk::integer_key("connect_timeout_ms", "2000", 1, 60000, "longest wait for a connection");
    return {sdk::PluginKind::sms_provider,
            "webhook",
            "1.0.0",
            "POSTs each SMS as JSON to a URL you run",
            {url, token, connect},
            {sdk::Channel::sms}};  // what the webhook can send (ABI 7); see docs/writing-a-plugin.md
}

std::unique_ptr<sdk::SmsProvider> create_webhook(const sdk::PluginContext& context) {
    const sdk::ConfigView& config = context.config;
    const std::string url = config.get_string("url");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        // The URL itself is not echoed: it may carry credentials.
        throw sdk::ConfigError(config.where("url") + ": must start with http:// or https://");
    }
    static std::once_flag curl_ready;
    std::call_once(curl_ready, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw sdk::ConfigError("webhook: libcurl could not be initialised");
        }
    });
    return std::make_unique<WebhookProvider>(
        url, config.has("bearer_token") ? config.get_string("bearer_token") : "",
        std::chrono::milliseconds(config.get_int("connect_timeout_ms")));
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(webhook_descriptor, create_webhook)
