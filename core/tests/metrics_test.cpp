// The metrics registry and its Prometheus text exposition (format 0.0.4).
#include "observability/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testino::metrics {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool has_line(const std::string& text, const std::string& line) {
    for (const auto& l : lines_of(text)) {
        if (l == line) return true;
    }
    return false;
}

// The lines of one histogram series, in order: buckets, _sum, _count.
std::vector<std::string> series_lines(const std::string& text, const std::string& name,
                                      const std::string& label) {
    std::vector<std::string> out;
    for (const auto& l : lines_of(text)) {
        if (l.rfind(name, 0) == 0 && l.find(label) != std::string::npos) out.push_back(l);
    }
    return out;
}

TEST(Metrics, EscapesLabelValuesAndHelpText) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");  // quotes stay in HELP
}

TEST(Metrics, FormatsValuesAsPrometheusReadsThem) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(3), "3");
    EXPECT_EQ(format_value(0.0005), "0.0005");
    EXPECT_EQ(format_value(2.5), "2.5");
    EXPECT_EQ(format_value(0.1 + 0.2), "0.30000000000000004");  // round-trips exactly
    EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(Metrics, MapsRoutesAndMethodsToFixedSets) {
    EXPECT_EQ(route_of("/api/v1/health"), Route::health);
    EXPECT_EQ(route_of("/api/v1/auth/send-otp"), Route::send_otp);
    EXPECT_EQ(route_of("/api/v1/auth/verify-otp"), Route::verify_otp);
    EXPECT_EQ(route_of("/openapi.json"), Route::openapi);
    EXPECT_EQ(route_of("/metrics"), Route::metrics);
    EXPECT_EQ(route_of("/health"), Route::admin_health);
    EXPECT_EQ(route_of("/api/v1/health/"), Route::other);
    EXPECT_EQ(route_of("/wp-login.php"), Route::other);
    EXPECT_EQ(route_of("-"), Route::other);
    EXPECT_EQ(method_of("GET"), Method::get);
    EXPECT_EQ(method_of("DELETE"), Method::del);
    EXPECT_EQ(method_of("BREW"), Method::other);
}

TEST(Metrics, CountsRequestsByRouteMethodAndStatus) {
    Registry r;
    r.http_request("/api/v1/auth/send-otp", "POST", 200, 1ms);
    r.http_request("/api/v1/auth/send-otp", "POST", 200, 1ms);
    r.http_request("/api/v1/auth/send-otp", "POST", 422, 1ms);
    r.http_request("/nope", "GET", 404, 1ms);
    r.http_request("/also-nope", "GET", 404, 1ms);
    r.http_request("-", "-", 400, 1ms);
    r.http_request("/metrics", "GET", 99, 1ms);  // clamped into 100..599
    r.http_request("/metrics", "GET", 1000, 1ms);
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(
        text,
        "testino_http_requests_total{route=\"/api/v1/auth/send-otp\",method=\"POST\",status=\"200\"} 2"))
        << text;
    EXPECT_TRUE(has_line(
        text,
        "testino_http_requests_total{route=\"/api/v1/auth/send-otp\",method=\"POST\",status=\"422\"} 1"));
    EXPECT_TRUE(
        has_line(text, "testino_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"} 2"));
    EXPECT_TRUE(
        has_line(text, "testino_http_requests_total{route=\"other\",method=\"other\",status=\"400\"} 1"));
    EXPECT_TRUE(
        has_line(text, "testino_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"100\"} 1"));
    EXPECT_TRUE(
        has_line(text, "testino_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"599\"} 1"));
    // Series never hit are not written.
    EXPECT_EQ(text.find("route=\"/api/v1/health\",method"), std::string::npos);
    EXPECT_TRUE(
        has_line(text, "testino_http_request_duration_seconds_count{route=\"/api/v1/auth/send-otp\"} 3"));
    EXPECT_TRUE(has_line(text, "testino_http_request_duration_seconds_count{route=\"/api/v1/health\"} 0"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
    Registry r;
    r.store_operation(StoreOperation::put_code, 300us, false);  // le 0.0005
    r.store_operation(StoreOperation::put_code, 1ms, false);    // exactly on le 0.001
    r.store_operation(StoreOperation::put_code, 300ms, false);  // le 0.5
    r.store_operation(StoreOperation::put_code, 10s, true);     // only +Inf
    const std::string text = r.exposition();
    const auto lines =
        series_lines(text, "testino_store_operation_duration_seconds", "operation=\"put_code\"");
    const std::vector<std::string> expected = {
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.0005"} 1)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.001"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.0025"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.005"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.01"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.025"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.05"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.1"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.25"} 2)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="0.5"} 3)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="1"} 3)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="2.5"} 3)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="5"} 3)",
        R"(testino_store_operation_duration_seconds_bucket{operation="put_code",le="+Inf"} 4)",
        R"(testino_store_operation_duration_seconds_sum{operation="put_code"} 10.3013)",
        R"(testino_store_operation_duration_seconds_count{operation="put_code"} 4)",
    };
    EXPECT_EQ(lines, expected) << text;
    EXPECT_TRUE(has_line(text, "testino_store_errors_total{operation=\"put_code\"} 1"));
    EXPECT_TRUE(has_line(text, "testino_store_errors_total{operation=\"hit_counter\"} 0"));
    EXPECT_TRUE(
        has_line(text, "testino_store_operation_duration_seconds_count{operation=\"verify_and_consume\"} 0"));
    for (const char* refresh : {"create_refresh", "rotate_refresh", "revoke_refresh"}) {
        EXPECT_TRUE(
            has_line(text, std::string("testino_store_errors_total{operation=\"") + refresh + "\"} 0"))
            << refresh;
    }
    EXPECT_STREQ(to_string(StoreOperation::rotate_refresh), "rotate_refresh");
}

TEST(Metrics, StoreFullRefusalsAreCountedByTable) {
    Registry r;
    EXPECT_TRUE(has_line(r.exposition(), "testino_store_full_total{table=\"codes\"} 0"))
        << "listed from the start";
    EXPECT_TRUE(has_line(r.exposition(), "testino_store_full_total{table=\"counters\"} 0"));
    EXPECT_TRUE(has_line(r.exposition(), "testino_store_full_total{table=\"refresh_families\"} 0"));
    r.store_full(StoreTable::refresh_families);
    r.store_full(StoreTable::counters);
    r.store_full(StoreTable::counters);
    r.store_full(StoreTable::codes);
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(text, "testino_store_full_total{table=\"codes\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "testino_store_full_total{table=\"counters\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "testino_store_full_total{table=\"refresh_families\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE testino_store_full_total counter"));
    EXPECT_STREQ(to_string(StoreTable::counters), "counters");
}

TEST(Metrics, HistogramTreatsNegativeAndNaNAsZero) {
    Histogram h;
    h.observe_seconds(-1);
    h.observe_seconds(0.0 / 0.0);
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative.front(), 2u);
    EXPECT_EQ(s.count, 2u);
    EXPECT_EQ(s.sum_seconds, 0.0);
}

TEST(Metrics, EveryFamilyHasHelpThenTypeBeforeItsSamples) {
    Registry r;
    const auto lines = lines_of(r.exposition());
    std::string family;  // of the latest TYPE line
    std::size_t types = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (line.rfind("# HELP ", 0) == 0) {
            const std::string name = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_EQ(name.rfind("testino_", 0), 0u) << line;
            ASSERT_LT(i + 1, lines.size());
            EXPECT_EQ(lines[i + 1].rfind("# TYPE " + name + " ", 0), 0u) << lines[i + 1];
        } else if (line.rfind("# TYPE ", 0) == 0) {
            family = line.substr(7, line.find(' ', 7) - 7);
            ++types;
        } else {
            EXPECT_FALSE(family.empty()) << line;
            EXPECT_EQ(line.rfind(family, 0), 0u) << line << " is not in " << family;
        }
    }
    // 12, the fraud guard's blocks, refusals and conversion, and codes sent and verified and
    // channel fallbacks, the webhook outbox's six, idempotent replays and delivery receipts.
    EXPECT_EQ(types, 26u);
}

TEST(Metrics, CountsCodesByChannelAndFallbacksByBothChannels) {
    Registry r;
    r.code_sent(sdk::Channel::whatsapp);
    r.code_sent(sdk::Channel::whatsapp);
    r.code_sent(sdk::Channel::sms);
    r.code_verified(sdk::Channel::whatsapp);
    r.channel_fallback(sdk::Channel::whatsapp, sdk::Channel::sms);
    const std::string text = r.exposition();
    for (const char* line :
         {"testino_codes_sent_total{channel=\"whatsapp\"} 2", "testino_codes_sent_total{channel=\"sms\"} 1",
          "testino_codes_sent_total{channel=\"voice\"} 0",
          "testino_codes_verified_total{channel=\"whatsapp\"} 1",
          "testino_codes_verified_total{channel=\"sms\"} 0",
          "testino_channel_fallbacks_total{from=\"whatsapp\",to=\"sms\"} 1"}) {
        EXPECT_NE(text.find(std::string("\n") + line + "\n"), std::string::npos) << line << " in\n" << text;
    }
    EXPECT_EQ(text.find("testino_channel_fallbacks_total{from=\"sms\""), std::string::npos)
        << "only fallbacks that happened are listed";
}

TEST(Metrics, CountsSmsSegmentsByCountry) {
    Registry r;
    r.sms_segments("91", 2);
    r.sms_segments("91", 1);
    r.sms_segments("1", 1);
    const std::string text = r.exposition();
    EXPECT_NE(text.find("# TYPE testino_sms_segments_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("testino_sms_segments_total{country=\"91\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("testino_sms_segments_total{country=\"1\"} 1\n"), std::string::npos);
}

TEST(Metrics, CountsSmsByProviderCountryAndReason) {
    Registry r;
    const std::size_t twilio = r.add_sms_provider("twilio");
    const std::size_t sns = r.add_sms_provider("sns");
    EXPECT_EQ(r.add_sms_provider("twilio"), twilio);
    EXPECT_EQ(r.sms_provider_id("sns"), sns);
    EXPECT_EQ(r.sms_provider_id("nobody"), Registry::kMaxProviders);
    r.sms_result(twilio, "1", sdk::SendStatus::sent);
    r.sms_result(twilio, "1", sdk::SendStatus::sent);
    r.sms_result(twilio, "44", sdk::SendStatus::invalid_recipient);
    r.sms_result(sns, "44", sdk::SendStatus::sent);
    r.sms_result(sns, "44", sdk::SendStatus::unavailable);
    r.sms_result(sns, "44", sdk::SendStatus::misconfigured);
    r.sms_result(sns, "44", sdk::SendStatus::uncertain);
    r.sms_queue_full(sns, "44");
    r.sms_result(Registry::kMaxProviders, "x1", sdk::SendStatus::sent);  // malformed code
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="twilio",country="1"} 2)")) << text;
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="sns",country="44"} 1)"));
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="other",country="other"} 1)"));
    EXPECT_TRUE(has_line(
        text, R"(testino_sms_failed_total{provider="twilio",country="44",reason="invalid_recipient"} 1)"));
    EXPECT_TRUE(
        has_line(text, R"(testino_sms_failed_total{provider="sns",country="44",reason="unavailable"} 1)"));
    EXPECT_TRUE(
        has_line(text, R"(testino_sms_failed_total{provider="sns",country="44",reason="misconfigured"} 1)"));
    EXPECT_TRUE(
        has_line(text, R"(testino_sms_failed_total{provider="sns",country="44",reason="queue_full"} 1)"));
    EXPECT_TRUE(
        has_line(text, R"(testino_sms_failed_total{provider="sns",country="44",reason="uncertain"} 1)"));
    EXPECT_EQ(r.sms_sent_total(), 4u) << "an uncertain send is not counted as sent";
    EXPECT_EQ(text.find("testino_sms_failovers_total{"), std::string::npos) << "no failover yet";
}

TEST(Metrics, CountsFailoversByTheProviderThatFailed) {
    Registry r;
    const std::size_t twilio = r.add_sms_provider("twilio");
    r.add_sms_provider("sns");
    r.sms_failover(twilio);
    r.sms_failover(twilio);
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(text, R"(testino_sms_failovers_total{provider="twilio"} 2)")) << text;
    EXPECT_EQ(text.find(R"(testino_sms_failovers_total{provider="sns"})"), std::string::npos);
    EXPECT_EQ(r.sms_failovers("twilio"), 2u);
}

TEST(Metrics, ProviderNamesAreEscapedAndBounded) {
    Registry r;
    const std::size_t odd = r.add_sms_provider("my \"best\"\\provider");
    r.sms_result(odd, "7", sdk::SendStatus::sent);
    for (std::size_t i = 1; i < Registry::kMaxProviders; ++i) r.add_sms_provider("p" + std::to_string(i));
    EXPECT_EQ(r.add_sms_provider("one-too-many"), Registry::kMaxProviders);
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="my \"best\"\\provider",country="7"} 1)"))
        << text;
}

TEST(Metrics, CountryCardinalityIsBounded) {
    Registry r;
    const std::size_t p = r.add_sms_provider("console");
    for (int code = 1; code <= 350; ++code) r.sms_result(p, std::to_string(code), sdk::SendStatus::sent);
    const std::string text = r.exposition();
    std::size_t series = 0;
    for (const auto& l : lines_of(text)) series += l.rfind("testino_sms_sent_total{", 0) == 0;
    EXPECT_EQ(series, Registry::kMaxCountries + 1);  // 300 codes, then "other"
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="console",country="300"} 1)"));
    EXPECT_TRUE(has_line(text, R"(testino_sms_sent_total{provider="console",country="other"} 50)"));
    // A code seen before the table filled keeps its own series.
    r.sms_result(p, "1", sdk::SendStatus::sent);
    EXPECT_TRUE(has_line(r.exposition(), R"(testino_sms_sent_total{provider="console",country="1"} 2)"));
    for (const char* bad : {"", "0", "01", "1234", "+1", "abc"}) {
        r.sms_result(p, bad, sdk::SendStatus::sent);
    }
    EXPECT_TRUE(has_line(r.exposition(), R"(testino_sms_sent_total{provider="console",country="other"} 56)"));
}

TEST(Metrics, VerifyOutcomesAndRefusalsAreAlwaysListed) {
    Registry r;
    r.verify_outcome(VerifyOutcome::verified);
    r.verify_outcome(VerifyOutcome::invalid);
    r.verify_outcome(VerifyOutcome::invalid);
    r.rate_limit_refusal(Limit::budget_day);
    const std::string text = r.exposition();
    EXPECT_TRUE(has_line(text, R"(testino_otp_verify_total{outcome="verified"} 1)"));
    EXPECT_TRUE(has_line(text, R"(testino_otp_verify_total{outcome="invalid"} 2)"));
    EXPECT_TRUE(has_line(text, R"(testino_otp_verify_total{outcome="too_many_attempts"} 0)"));
    EXPECT_TRUE(has_line(text, R"(testino_otp_verify_total{outcome="rate_limited"} 0)"));
    EXPECT_TRUE(has_line(text, R"(testino_otp_verify_total{outcome="store_unavailable"} 0)"));
    EXPECT_TRUE(has_line(text, R"(testino_rate_limit_refusals_total{limit="budget_day"} 1)"));
    EXPECT_TRUE(has_line(text, R"(testino_rate_limit_refusals_total{limit="ip_sends"} 0)"));
}

TEST(Metrics, SentToVerifiedRatio) {
    Registry r;
    EXPECT_TRUE(has_line(r.exposition(), "testino_otp_sent_to_verified_ratio 0"));
    const std::size_t p = r.add_sms_provider("console");
    for (int i = 0; i < 3; ++i) r.sms_result(p, "1", sdk::SendStatus::sent);
    r.sms_result(p, "1", sdk::SendStatus::unavailable);                             // not sent: not counted
    EXPECT_TRUE(has_line(r.exposition(), "testino_otp_sent_to_verified_ratio 3"));  // no verify yet
    r.verify_outcome(VerifyOutcome::verified);
    r.verify_outcome(VerifyOutcome::verified);
    r.verify_outcome(VerifyOutcome::invalid);
    EXPECT_TRUE(has_line(r.exposition(), "testino_otp_sent_to_verified_ratio 1.5"));
}

TEST(Metrics, ConcurrentRecordingLosesNothing) {
    Registry r;
    const std::size_t p = r.add_sms_provider("console");
    constexpr int kThreads = 4;
    constexpr int kEach = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                r.http_request("/api/v1/health", "GET", 200, std::chrono::microseconds(i % 2000));
                r.sms_result(p, std::to_string(1 + (i + t) % 50), sdk::SendStatus::sent);
            }
        });
    }
    for (auto& t : threads) t.join();
    const std::string text = r.exposition();
    const std::string total = std::to_string(kThreads * kEach);
    EXPECT_TRUE(has_line(
        text,
        "testino_http_requests_total{route=\"/api/v1/health\",method=\"GET\",status=\"200\"} " + total));
    EXPECT_TRUE(has_line(
        text, "testino_http_request_duration_seconds_bucket{route=\"/api/v1/health\",le=\"+Inf\"} " + total));
    EXPECT_EQ(r.sms_sent_total(), static_cast<std::uint64_t>(kThreads * kEach));
    std::size_t series = 0;
    for (const auto& l : lines_of(text)) series += l.rfind("testino_sms_sent_total{", 0) == 0;
    EXPECT_EQ(series, 50u);  // racing first uses of one code still give it one series
}

TEST(Metrics, CountsDeliveryReceiptsByProviderAndStatus) {
    Registry registry;
    const std::size_t twilio = registry.add_sms_provider("twilio");
    registry.sms_receipt(twilio, Registry::Receipt::delivered);
    registry.sms_receipt(twilio, Registry::Receipt::delivered);
    registry.sms_receipt(twilio, Registry::Receipt::unknown);
    const std::string text = registry.exposition();
    EXPECT_NE(text.find("testino_sms_receipts_total{provider=\"twilio\",status=\"delivered\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("testino_sms_receipts_total{provider=\"twilio\",status=\"unknown\"} 1\n"),
              std::string::npos);
    EXPECT_EQ(text.find("testino_sms_receipts_total{provider=\"twilio\",status=\"failed\"}"),
              std::string::npos);
}

}  // namespace
}  // namespace testino::metrics
