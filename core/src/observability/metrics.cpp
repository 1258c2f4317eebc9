#include "observability/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace testino::metrics {

// --- Histogram ---

void Histogram::observe(std::chrono::nanoseconds duration) {
    const auto ns = std::max<std::int64_t>(duration.count(), 0);
    const double seconds = static_cast<double>(ns) / 1e9;
    const auto* bound = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
    buckets_[static_cast<std::size_t>(bound - kLatencyBuckets.begin())].fetch_add(1,
                                                                                  std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

void Histogram::observe_seconds(double seconds) {
    if (!(seconds >= 0)) seconds = 0;  // NaN and negatives count as 0
    observe(std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(seconds, 1e9) * 1e9)));
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = running;
    }
    s.count = running;
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

// --- Labels ---

namespace {

constexpr std::array<const char*, static_cast<std::size_t>(Route::count_)> kRouteNames = {
    "/api/v1/health",
    "/api/v1/auth/send-otp",
    "/api/v1/auth/verify-otp",
    "/openapi.json",
    "/metrics",
    "/health",
    "other"};
constexpr std::array<const char*, static_cast<std::size_t>(Method::count_)> kMethodNames = {
    "GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH", "other"};
constexpr std::array<const char*, static_cast<std::size_t>(VerifyOutcome::count_)> kOutcomeNames = {
    "verified", "invalid", "too_many_attempts", "rate_limited", "store_unavailable"};
constexpr std::array<const char*, static_cast<std::size_t>(Limit::count_)> kLimitNames = {
    "ip_sends",
    "ip_verifies",
    "ip_refreshes",
    "fraud_guard",
    "number_cooldown",
    "number_sends",
    "number_failed_verifies",
    "number_failed_verifies_all_addresses",
    "country_sends",
    "budget_hour",
    "budget_day"};
constexpr std::array<const char*, static_cast<std::size_t>(StoreOperation::count_)> kOperationNames = {
    "put_code",       "verify_and_consume", "remove_code",   "hit_counter",
    "create_refresh", "rotate_refresh",     "revoke_refresh"};
constexpr std::array<const char*, static_cast<std::size_t>(StoreTable::count_)> kTableNames = {
    "codes", "counters", "refresh_families"};
constexpr std::array<const char*, static_cast<std::size_t>(SmsFailure::count_)> kFailureNames = {
    "invalid_recipient", "misconfigured", "unavailable", "queue_full", "uncertain"};

template <typename Names, typename E>
const char* name_of(const Names& names, E e) {
    const auto i = static_cast<std::size_t>(e);
    return i < names.size() ? names[i] : "other";
}

}  // namespace

const char* to_string(Route route) { return name_of(kRouteNames, route); }
const char* to_string(Method method) { return name_of(kMethodNames, method); }
const char* to_string(VerifyOutcome outcome) { return name_of(kOutcomeNames, outcome); }
const char* to_string(Limit limit) { return name_of(kLimitNames, limit); }
const char* to_string(StoreOperation operation) { return name_of(kOperationNames, operation); }
const char* to_string(StoreTable table) { return name_of(kTableNames, table); }
const char* to_string(SmsFailure reason) { return name_of(kFailureNames, reason); }

Route route_of(std::string_view path) {
    for (std::size_t i = 0; i + 1 < kRouteNames.size(); ++i) {
        if (path == kRouteNames[i]) return static_cast<Route>(i);
    }
    return Route::other;
}

Method method_of(std::string_view method) {
    for (std::size_t i = 0; i + 1 < kMethodNames.size(); ++i) {
        if (method == kMethodNames[i]) return static_cast<Method>(i);
    }
    return Method::other;
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string escape_help(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    // The shortest %g form that reads back as the same double ("0.0005", "2.5", "1e-06").
    char buffer[32];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
        if (std::strtod(buffer, nullptr) == value) break;
    }
    return buffer;
}

// --- Registry ---

Registry::Registry()
    : requests_(new Counter[kRoutes * kMethods * kStatuses]),
      sms_sent_(new Counter[kProviderSlots * kCountrySlots]),
      sms_failed_(new Counter[kProviderSlots * kCountrySlots * kFailures]),
      sms_segments_(new Counter[kCountrySlots]),
      fraud_blocks_(new Counter[kCountrySlots * 2]),
      fraud_refusals_(new Counter[kCountrySlots]),
      fraud_conversion_(new std::atomic<double>[kCountrySlots]) {
    for (std::size_t i = 0; i < kCountrySlots; ++i)
        fraud_conversion_[i].store(-1.0, std::memory_order_relaxed);
    for (auto& slot : country_of_code_) slot.store(-1, std::memory_order_relaxed);
}

std::size_t Registry::add_sms_provider(std::string_view name) {
    std::lock_guard<std::mutex> lock(providers_mutex_);
    const std::size_t count = provider_count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
        if (provider_names_[i] == name) return i;
    }
    if (count == kMaxProviders) return kMaxProviders;
    provider_names_[count] = std::string(name);
    provider_count_.store(count + 1, std::memory_order_release);  // publishes the name
    return count;
}

std::size_t Registry::sms_provider_id(std::string_view name) const {
    const std::size_t count = provider_count_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < count; ++i) {
        if (provider_names_[i] == name) return i;
    }
    return kMaxProviders;
}

void Registry::http_request(std::string_view path, std::string_view method, int status,
                            std::chrono::nanoseconds latency) {
    const auto route = index(route_of(path));
    const auto m = index(method_of(method));
    const auto s = static_cast<std::size_t>(std::clamp(status, kMinStatus, kMaxStatus) - kMinStatus);
    requests_[(route * kMethods + m) * kStatuses + s].inc();
    request_duration_[route].observe(latency);
}

std::size_t Registry::country_slot(std::string_view calling_code) {
    if (calling_code.empty() || calling_code.size() > 3 || calling_code.front() == '0') return kMaxCountries;
    int code = 0;
    for (const char c : calling_code) {
        if (c < '0' || c > '9') return kMaxCountries;
        code = code * 10 + (c - '0');
    }
    std::atomic<int>& entry = country_of_code_[static_cast<std::size_t>(code)];
    int slot = entry.load(std::memory_order_acquire);
    if (slot >= 0) return static_cast<std::size_t>(slot);
    if (next_country_.load(std::memory_order_relaxed) >= kMaxCountries) return kMaxCountries;
    const std::size_t claimed = next_country_.fetch_add(1, std::memory_order_relaxed);
    if (claimed >= kMaxCountries) return kMaxCountries;
    // A racing thread may have given this code a slot first: use its slot (ours stays empty).
    int expected = -1;
    if (entry.compare_exchange_strong(expected, static_cast<int>(claimed), std::memory_order_acq_rel)) {
        return claimed;
    }
    return static_cast<std::size_t>(expected);
}

void Registry::sms_result(std::size_t provider_id, std::string_view calling_code, sdk::SendStatus status) {
    const std::size_t provider = std::min(provider_id, kMaxProviders);
    const std::size_t country = country_slot(calling_code);
    SmsFailure reason;
    switch (status) {
        case sdk::SendStatus::sent: sms_sent_[provider * kCountrySlots + country].inc(); return;
        case sdk::SendStatus::invalid_recipient: reason = SmsFailure::invalid_recipient; break;
        case sdk::SendStatus::misconfigured: reason = SmsFailure::misconfigured; break;
        case sdk::SendStatus::uncertain: reason = SmsFailure::uncertain; break;
        default: reason = SmsFailure::unavailable; break;
    }
    sms_failed_[(provider * kCountrySlots + country) * kFailures + index(reason)].inc();
}

void Registry::sms_queue_full(std::size_t provider_id, std::string_view calling_code) {
    const std::size_t provider = std::min(provider_id, kMaxProviders);
    const std::size_t country = country_slot(calling_code);
    sms_failed_[(provider * kCountrySlots + country) * kFailures + index(SmsFailure::queue_full)].inc();
}

void Registry::store_operation(StoreOperation operation, std::chrono::nanoseconds duration, bool failed) {
    store_duration_[index(operation)].observe(duration);
    if (failed) store_errors_[index(operation)].inc();
}

void Registry::fraud_block(std::string_view calling_code, bool shadow) {
    fraud_blocks_[country_slot(calling_code) * 2 + (shadow ? 1 : 0)].inc();
}

void Registry::fraud_conversion(std::string_view calling_code, double conversion) {
    fraud_conversion_[country_slot(calling_code)].store(conversion, std::memory_order_relaxed);
}

std::uint64_t Registry::sms_sent_total() const {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < kProviderSlots * kCountrySlots; ++i) total += sms_sent_[i].value();
    return total;
}

void family(std::ostringstream& out, const char* name, const char* type, std::string_view help) {
    out << "# HELP " << name << ' ' << escape_help(help) << '\n' << "# TYPE " << name << ' ' << type << '\n';
}

std::string label(const char* key, std::string_view value) {
    return std::string(key) + "=\"" + escape_label_value(value) + "\"";
}

namespace {

// `labels` is the already formatted `key="value",...` list, without braces.
void histogram_series(std::ostringstream& out, const char* name, const std::string& labels,
                      const Histogram::Snapshot& s) {
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
        const std::string le = i < kLatencyBuckets.size() ? format_value(kLatencyBuckets[i]) : "+Inf";
        out << name << "_bucket{" << prefix << "le=\"" << le << "\"} " << s.cumulative[i] << '\n';
    }
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out << name << "_sum" << braces << ' ' << format_value(s.sum_seconds) << '\n';
    out << name << "_count" << braces << ' ' << s.count << '\n';
}

}  // namespace

std::string Registry::exposition() const {
    std::ostringstream out;

    family(out, "testino_http_requests_total", "counter",
           "HTTP replies sent, by route (the known paths, else other), method and status code.");
    for (std::size_t r = 0; r < kRoutes; ++r) {
        for (std::size_t m = 0; m < kMethods; ++m) {
            for (std::size_t s = 0; s < kStatuses; ++s) {
                const std::uint64_t v = requests_[(r * kMethods + m) * kStatuses + s].value();
                if (v == 0) continue;
                out << "testino_http_requests_total{" << label("route", kRouteNames[r]) << ','
                    << label("method", kMethodNames[m]) << ','
                    << label("status", std::to_string(kMinStatus + static_cast<int>(s))) << "} " << v << '\n';
            }
        }
    }

    family(out, "testino_http_request_duration_seconds", "histogram",
           "Time from a request's arrival to its reply, by route; send-otp includes the SMS provider call.");
    for (std::size_t r = 0; r < kRoutes; ++r) {
        histogram_series(out, "testino_http_request_duration_seconds", label("route", kRouteNames[r]),
                         request_duration_[r].snapshot());
    }

    // Country slots in calling-code order, then "other".
    std::vector<std::pair<std::size_t, std::string>> countries;
    for (std::size_t code = 1; code < country_of_code_.size(); ++code) {
        const int slot = country_of_code_[code].load(std::memory_order_acquire);
        if (slot >= 0) countries.emplace_back(static_cast<std::size_t>(slot), std::to_string(code));
    }
    countries.emplace_back(kMaxCountries, "other");
    write_sms(out, countries);

    family(out, "testino_otp_verify_total", "counter",
           "Verify attempts that reached the code check or a limit, by outcome.");
    for (std::size_t i = 0; i < verify_.size(); ++i) {
        out << "testino_otp_verify_total{" << label("outcome", kOutcomeNames[i]) << "} " << verify_[i].value()
            << '\n';
    }

    family(out, "testino_rate_limit_refusals_total", "counter",
           "Requests refused by an abuse limit, by limit (the budgets answer 503, the others 429).");
    for (std::size_t i = 0; i < refusals_.size(); ++i) {
        out << "testino_rate_limit_refusals_total{" << label("limit", kLimitNames[i]) << "} "
            << refusals_[i].value() << '\n';
    }

    write_store(out);

    write_fraud_guard(out, countries);

    write_channels(out);
    write_webhooks(out);
    write_receipts(out);

    family(out, "testino_otp_sent_to_verified_ratio", "gauge",
           "SMS sent divided by codes verified since start (divided by 1 before the first verify). "
           "Honest traffic stays near 1 to 2; a high value means SMS are sent that nobody verifies: "
           "SMS pumping.");
    const double sent = static_cast<double>(sms_sent_total());
    const double verified = static_cast<double>(verified_total());
    out << "testino_otp_sent_to_verified_ratio " << format_value(sent / std::max(verified, 1.0)) << '\n';

    return out.str();
}

void Registry::write_sms(std::ostringstream& out,
                         const std::vector<std::pair<std::size_t, std::string>>& countries) const {
    const std::size_t providers = provider_count_.load(std::memory_order_acquire);
    auto provider_name = [&](std::size_t p) -> std::string_view {
        return p < providers ? std::string_view(provider_names_[p]) : std::string_view("other");
    };
    std::vector<std::size_t> provider_slots;
    for (std::size_t p = 0; p < providers; ++p) provider_slots.push_back(p);
    provider_slots.push_back(kMaxProviders);

    family(
        out, "testino_sms_sent_total", "counter",
        "SMS the provider accepted, by provider and country calling code (at most 300 codes, then other).");
    for (const std::size_t p : provider_slots) {
        for (const auto& [slot, code] : countries) {
            const std::uint64_t v = sms_sent_[p * kCountrySlots + slot].value();
            if (v == 0) continue;
            out << "testino_sms_sent_total{" << label("provider", provider_name(p)) << ','
                << label("country", code) << "} " << v << '\n';
        }
    }

    family(out, "testino_sms_failed_total", "counter",
           "SMS not confirmed sent, by provider, country calling code and reason (invalid_recipient, "
           "misconfigured, unavailable, queue_full: certainly not sent; uncertain: may have been sent).");
    for (const std::size_t p : provider_slots) {
        for (const auto& [slot, code] : countries) {
            for (std::size_t f = 0; f < kFailures; ++f) {
                const std::uint64_t v = sms_failed_[(p * kCountrySlots + slot) * kFailures + f].value();
                if (v == 0) continue;
                out << "testino_sms_failed_total{" << label("provider", provider_name(p)) << ','
                    << label("country", code) << ',' << label("reason", kFailureNames[f]) << "} " << v
                    << '\n';
            }
        }
    }

    family(out, "testino_sms_failovers_total", "counter",
           "Sends a provider could not make (timeout, outage, misconfiguration) that went on to "
           "the next provider of their route, by the provider that failed.");
    for (const std::size_t p : provider_slots) {
        const std::uint64_t v = sms_failovers_[p].value();
        if (v == 0) continue;
        out << "testino_sms_failovers_total{" << label("provider", provider_name(p)) << "} " << v << '\n';
    }

    family(out, "testino_sms_segments_total", "counter",
           "SMS segments of the texts providers accepted (GSM-7: 160 characters, 153 per part of a long "
           "one; UCS-2: 70, 67 per part), by country calling code: what providers bill.");
    for (const auto& [slot, code] : countries) {
        const std::uint64_t v = sms_segments_[slot].value();
        if (v != 0) out << "testino_sms_segments_total{" << label("country", code) << "} " << v << '\n';
    }
}

void Registry::write_store(std::ostringstream& out) const {
    family(out, "testino_store_errors_total", "counter",
           "Store plugin calls that failed (unavailable or full), by operation.");
    for (std::size_t i = 0; i < store_errors_.size(); ++i) {
        out << "testino_store_errors_total{" << label("operation", kOperationNames[i]) << "} "
            << store_errors_[i].value() << '\n';
    }

    family(out, "testino_store_full_total", "counter",
           "Store plugin calls refused for want of room (STORE_FULL), by what had none: codes "
           "(put_code), rate-limit counters (hit_counter) or refresh-token families (create_refresh).");
    for (std::size_t i = 0; i < store_full_.size(); ++i) {
        out << "testino_store_full_total{" << label("table", kTableNames[i]) << "} " << store_full_[i].value()
            << '\n';
    }

    family(out, "testino_store_operation_duration_seconds", "histogram",
           "Time of one store plugin call, by operation.");
    for (std::size_t i = 0; i < store_duration_.size(); ++i) {
        histogram_series(out, "testino_store_operation_duration_seconds",
                         label("operation", kOperationNames[i]), store_duration_[i].snapshot());
    }
}

void Registry::write_fraud_guard(std::ostringstream& out,
                                 const std::vector<std::pair<std::size_t, std::string>>& countries) const {
    family(out, "testino_fraud_guard_blocks_total", "counter",
           "Number prefixes the fraud guard blocked (mode block), or would have blocked in shadow mode "
           "(mode shadow), by country calling code.");
    for (const auto& [slot, code] : countries) {
        for (int mode = 0; mode < 2; ++mode) {
            const std::uint64_t v = fraud_blocks_[slot * 2 + static_cast<std::size_t>(mode)].value();
            if (v == 0) continue;
            out << "testino_fraud_guard_blocks_total{" << label("country", code) << ','
                << label("mode", mode == 0 ? "block" : "shadow") << "} " << v << '\n';
        }
    }
    family(out, "testino_fraud_guard_refusals_total", "counter",
           "Sends refused because their number prefix is blocked, by country calling code.");
    for (const auto& [slot, code] : countries) {
        const std::uint64_t v = fraud_refusals_[slot].value();
        if (v != 0)
            out << "testino_fraud_guard_refusals_total{" << label("country", code) << "} " << v << '\n';
    }
    family(out, "testino_fraud_guard_conversion", "gauge",
           "Codes verified divided by codes sent over the fraud guard's window, by country calling code, "
           "as this instance saw them; honest traffic is well above limits.fraud_guard.min_conversion.");
    for (const auto& [slot, code] : countries) {
        const double v = fraud_conversion_[slot].load(std::memory_order_relaxed);
        if (v >= 0)
            out << "testino_fraud_guard_conversion{" << label("country", code) << "} " << format_value(v)
                << '\n';
    }
}

Registry& global() {
    static Registry registry;
    return registry;
}

}  // namespace testino::metrics
