// Prometheus metrics without a client library: a fixed set of counters and histograms
// held in atomics, and their text exposition (format 0.0.4) for GET /metrics.
//
// Recording is lock-free and cheap: every label is a small fixed set (routes, methods,
// statuses, outcomes, limits, store operations) or a bounded one (SMS providers registered
// at start-up; calling codes, at most kMaxCountries distinct, then "other"), so each series
// is an array slot found by index, and a counter increment is one relaxed atomic add. A
// histogram observation is two (its bucket and its sum); the cumulative buckets and the
// count are computed when the exposition is written, so a scrape always sees them agree.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "testino/otp_store.hpp"
#include "testino/sms_provider.hpp"

namespace testino::metrics {

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// Upper bounds in seconds, 0.5 ms to 5 s; the +Inf bucket comes after them.
inline constexpr std::array<double, 13> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,  5.0};

class Histogram {
public:
    void observe(std::chrono::nanoseconds duration);
    void observe_seconds(double seconds);

    struct Snapshot {
        std::array<std::uint64_t, kLatencyBuckets.size() + 1> cumulative{};  // last: +Inf
        std::uint64_t count = 0;                                             // equals the +Inf bucket
        double sum_seconds = 0;
    };
    Snapshot snapshot() const;

private:
    // Per-bucket (not cumulative) counts; the sum in nanoseconds, so adding is integral.
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// The label sets. Each enum's last value is its count.
// admin_health is the admin listener's GET /health; metrics is on the admin listener too.
enum class Route { health, send_otp, verify_otp, openapi, metrics, admin_health, other, count_ };
enum class Method { get, post, options, head, put, del, patch, other, count_ };
enum class VerifyOutcome { verified, invalid, too_many_attempts, rate_limited, store_unavailable, count_ };
enum class Limit {
    ip_sends,
    ip_verifies,
    ip_refreshes,  // refreshes and logouts
    fraud_guard,   // a blocked number prefix
    number_cooldown,
    number_sends,
    number_failed_verifies,
    number_failed_verifies_all_addresses,
    country_sends,
    budget_hour,
    budget_day,
    count_
};
enum class StoreOperation {
    put_code,
    verify_and_consume,
    remove_code,
    hit_counter,
    create_refresh,
    rotate_refresh,
    revoke_refresh,
    count_
};
enum class StoreTable { codes, counters, refresh_families, count_ };  // what a store had no room for
enum class SmsFailure { invalid_recipient, misconfigured, unavailable, queue_full, uncertain, count_ };

// A label enum value as an array index.
template <typename E>
constexpr std::size_t index(E e) {
    return static_cast<std::size_t>(e);
}

const char* to_string(Route route);
const char* to_string(Method method);
const char* to_string(VerifyOutcome outcome);
const char* to_string(Limit limit);
const char* to_string(StoreOperation operation);
const char* to_string(StoreTable table);
const char* to_string(SmsFailure reason);

Route route_of(std::string_view path);
Method method_of(std::string_view method);

// Label values and HELP text as the exposition format wants them: a label value escapes
// backslash, double quote and newline; HELP text escapes backslash and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);
// A sample value: integers as integers, NaN as "NaN", infinities as "+Inf"/"-Inf".
std::string format_value(double value);
// A family's HELP and TYPE lines, and one `key="value"` label, escaped.
void family(std::ostringstream& out, const char* name, const char* type, std::string_view help);
std::string label(const char* key, std::string_view value);

class Registry {
public:
    static constexpr std::size_t kMaxProviders = 8;
    static constexpr std::size_t kMaxCountries = 300;  // distinct calling codes; then "other"
    static constexpr int kMinStatus = 100;
    static constexpr int kMaxStatus = 599;

    Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Gives an SMS provider its label and returns its id; call at start-up. The same name
    // twice gives the same id; past kMaxProviders names share the "other" id.
    std::size_t add_sms_provider(std::string_view name);
    // The id of a provider by name (the "other" id when it was never added). Lock-free.
    std::size_t sms_provider_id(std::string_view name) const;

    // One HTTP reply: path and method as received, the status sent, the time it took.
    void http_request(std::string_view path, std::string_view method, int status,
                      std::chrono::nanoseconds latency);
    // One provider answer (or a send never attempted, as queue_full). `calling_code` is the
    // country's calling code without '+', e.g. "44".
    void sms_result(std::size_t provider_id, std::string_view calling_code, sdk::SendStatus status);
    void sms_queue_full(std::size_t provider_id, std::string_view calling_code);
    // The SMS segments (GSM-7 or UCS-2 parts, what providers bill) of a text the provider accepted.
    void sms_segments(std::string_view calling_code, int segments) {
        sms_segments_[country_slot(calling_code)].inc(static_cast<std::uint64_t>(segments));
    }
    // A send this provider failed for the operator's reasons, passed on to the next provider.
    void sms_failover(std::size_t provider_id) { sms_failovers_[std::min(provider_id, kMaxProviders)].inc(); }
    void verify_outcome(VerifyOutcome outcome) { verify_[index(outcome)].inc(); }
    void rate_limit_refusal(Limit limit) { refusals_[index(limit)].inc(); }
    // One store call: its duration, and whether it failed.
    void store_operation(StoreOperation operation, std::chrono::nanoseconds duration, bool failed);
    // A store call refused with StoreStatus::full: no room for a new code or counter.
    void store_full(StoreTable table) { store_full_[index(table)].inc(); }

    // The fraud guard, by country calling code: a block it placed (in shadow mode, one it
    // would have placed), a send it refused, and the conversion (verified / sent) this instance
    // saw over the guard's window.
    void fraud_block(std::string_view calling_code, bool shadow);
    void fraud_refusal(std::string_view calling_code) { fraud_refusals_[country_slot(calling_code)].inc(); }
    void fraud_conversion(std::string_view calling_code, double conversion);

    // Codes by channel: one a provider accepted, one verified (counted toward the channel
    // that carried it), and a workflow step that failed and went on to the next channel.
    void code_sent(sdk::Channel channel) { codes_sent_[channel_slot(channel)].inc(); }
    void code_verified(sdk::Channel channel) { codes_verified_[channel_slot(channel)].inc(); }
    void channel_fallback(sdk::Channel from, sdk::Channel to) {
        channel_fallbacks_[channel_slot(from) * kChannels + channel_slot(to)].inc();
    }

    // The webhook outbox (metrics_webhooks.cpp): events filed, deliveries by what became of
    // them, events it could not file, and the outbox's depth as last read.
    void webhook_filed() { webhook_filed_.inc(); }
    void webhook_delivered() { webhook_delivered_.inc(); }
    void webhook_retried() { webhook_retried_.inc(); }
    void webhook_dead_lettered() { webhook_dead_lettered_.inc(); }
    void webhook_lost() { webhook_lost_.inc(); }
    void webhook_depth(std::int64_t pending, std::int64_t dead) {
        webhook_pending_.store(pending, std::memory_order_relaxed);
        webhook_dead_.store(dead, std::memory_order_relaxed);
    }
    // A send-otp with an Idempotency-Key answered from the first send's reply.
    void idempotent_replay() { idempotent_replays_.inc(); }

    // A delivery receipt from a provider (metrics_webhooks.cpp): delivered, failed, or about a
    // message this server does not remember (unknown).
    enum class Receipt { delivered, failed, unknown, count_ };
    void sms_receipt(std::size_t provider_id, Receipt status) {
        sms_receipts_[std::min(provider_id, kMaxProviders) * index(Receipt::count_) + index(status)].inc();
    }
    std::uint64_t sms_receipts(std::string_view provider, Receipt status) const {
        return sms_receipts_[sms_provider_id(provider) * index(Receipt::count_) + index(status)].value();
    }

    // The whole exposition, format 0.0.4.
    std::string exposition() const;

    // For tests.
    std::uint64_t sms_sent_total() const;
    std::uint64_t sms_failovers(std::string_view provider) const {
        return sms_failovers_[sms_provider_id(provider)].value();
    }
    std::uint64_t verified_total() const { return verify_[index(VerifyOutcome::verified)].value(); }

private:
    // The country slot of a calling code: claimed on first use, kMaxCountries ("other")
    // when the table is full or the code is not 1-3 digits.
    std::size_t country_slot(std::string_view calling_code);
    // The exposition's SMS families (sent, failed, segments, failovers) and store families.
    void write_sms(std::ostringstream& out,
                   const std::vector<std::pair<std::size_t, std::string>>& countries) const;
    void write_store(std::ostringstream& out) const;
    void write_channels(std::ostringstream& out) const;  // metrics_channels.cpp
    void write_webhooks(std::ostringstream& out) const;  // metrics_webhooks.cpp
    void write_receipts(std::ostringstream& out) const;  // metrics_webhooks.cpp
    static constexpr std::size_t kChannels = std::size(sdk::kAllChannels);
    static std::size_t channel_slot(sdk::Channel channel) {
        return std::min(static_cast<std::size_t>(channel), kChannels - 1);
    }
    void write_fraud_guard(std::ostringstream& out,
                           const std::vector<std::pair<std::size_t, std::string>>& countries) const;

    static constexpr std::size_t kRoutes = index(Route::count_);
    static constexpr std::size_t kMethods = index(Method::count_);
    static constexpr std::size_t kStatuses = kMaxStatus - kMinStatus + 1;
    static constexpr std::size_t kProviderSlots = kMaxProviders + 1;  // + "other"
    static constexpr std::size_t kCountrySlots = kMaxCountries + 1;   // + "other"
    static constexpr std::size_t kFailures = index(SmsFailure::count_);

    std::unique_ptr<Counter[]> requests_;  // [route][method][status]
    std::array<Histogram, kRoutes> request_duration_;
    std::unique_ptr<Counter[]> sms_sent_;                // [provider][country]
    std::unique_ptr<Counter[]> sms_failed_;              // [provider][country][reason]
    std::array<Counter, kProviderSlots> sms_failovers_;  // [provider it failed over from]
    std::unique_ptr<Counter[]> sms_segments_;            // [country]
    std::array<Counter, index(VerifyOutcome::count_)> verify_;
    std::array<Counter, index(Limit::count_)> refusals_;
    std::array<Counter, index(StoreOperation::count_)> store_errors_;
    std::array<Histogram, index(StoreOperation::count_)> store_duration_;
    std::array<Counter, index(StoreTable::count_)> store_full_;
    std::unique_ptr<Counter[]> fraud_blocks_;                  // [country][block, shadow]
    std::unique_ptr<Counter[]> fraud_refusals_;                // [country]
    std::unique_ptr<std::atomic<double>[]> fraud_conversion_;  // [country]; < 0 until judged
    std::array<Counter, kChannels> codes_sent_;
    std::array<Counter, kChannels> codes_verified_;
    std::array<Counter, kChannels * kChannels> channel_fallbacks_;  // [from][to]
    Counter webhook_filed_;
    Counter webhook_delivered_;
    Counter webhook_retried_;
    Counter webhook_dead_lettered_;
    Counter webhook_lost_;
    std::atomic<std::int64_t> webhook_pending_{0};
    std::atomic<std::int64_t> webhook_dead_{0};
    Counter idempotent_replays_;
    std::array<Counter, kProviderSlots * index(Receipt::count_)> sms_receipts_;  // [provider][status]

    // Calling code (1..999) -> its country slot, -1 while unseen.
    std::array<std::atomic<int>, 1000> country_of_code_;
    std::atomic<std::size_t> next_country_{0};

    std::mutex providers_mutex_;  // only add_sms_provider takes it
    std::array<std::string, kMaxProviders> provider_names_;
    std::atomic<std::size_t> provider_count_{0};
};

// The server's registry: the HTTP server, the OTP service and main record into it.
Registry& global();

}  // namespace testino::metrics
