// GET /metrics on the real server's admin listener: after a send, a right and a wrong verify and a 404, the
// exposition is parsed line by line with a strict parser of the Prometheus text format 0.0.4
// (comments, HELP and TYPE, name{labels} value, label escaping, histogram rules), and the
// series those requests must have moved are checked.
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
};

struct Family {
    std::string type;
    std::string help;
};

struct Exposition {
    std::map<std::string, Family> families;
    std::vector<Sample> samples;

    // The value of one series; nullopt when absent.
    std::optional<double> value(const std::string& name, const Labels& labels = {}) const {
        for (const Sample& s : samples) {
            if (s.name == name && s.labels == labels) return s.value;
        }
        return std::nullopt;
    }
};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// A strict reader of the text format: every line must be a comment, HELP, TYPE or sample
// line; anything else fails the parse with the line number and what was wrong.
class Parser {
public:
    explicit Parser(std::string text) : text_(std::move(text)) {}

    ::testing::AssertionResult parse(Exposition& out) {
        if (text_.empty() || text_.back() != '\n') return fail(0, "the exposition must end with a newline");
        std::istringstream in(text_);
        std::string line;
        std::size_t number = 0;
        std::string current_family;  // the family whose samples are being read
        std::set<std::string> finished_families;
        std::set<std::string> series_seen;
        while (std::getline(in, line)) {
            ++number;
            if (line.empty()) return fail(number, "empty line");
            if (line[0] == '#') {
                if (auto r = comment(line, number, out); !r) return r;
                continue;
            }
            Sample sample;
            std::size_t at = 0;
            if (auto r = metric_name(line, at, sample.name); !r) return fail(number, r.message());
            if (at < line.size() && line[at] == '{') {
                if (auto r = labels(line, ++at, sample.labels); !r) return fail(number, r.message());
            }
            if (at >= line.size() || line[at] != ' ')
                return fail(number, "expected a space before the value");
            ++at;
            const std::size_t end = line.find(' ', at);
            const std::string value_text =
                line.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (!float_value(value_text, sample.value))
                return fail(number, "bad value \"" + value_text + "\"");
            if (end != std::string::npos) {  // an optional integer timestamp
                const std::string ts = line.substr(end + 1);
                if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) {
                    return fail(number, "bad timestamp \"" + ts + "\"");
                }
            }
            const std::string family = family_of(sample.name, out);
            if (family.empty()) return fail(number, sample.name + " has no # TYPE line before it");
            if (family != current_family) {
                if (finished_families.count(family))
                    return fail(number, family + "'s samples are not together");
                if (!current_family.empty()) finished_families.insert(current_family);
                current_family = family;
            }
            std::string key = sample.name + "{";
            for (const auto& [k, v] : sample.labels) key += k + "=" + v + ",";
            if (!series_seen.insert(key).second) return fail(number, "duplicate series " + key);
            out.samples.push_back(std::move(sample));
        }
        return check_histograms(out);
    }

private:
    static ::testing::AssertionResult fail(std::size_t line, const std::string& why) {
        return ::testing::AssertionFailure() << "line " << line << ": " << why;
    }

    static ::testing::AssertionResult metric_name(const std::string& line, std::size_t& at,
                                                  std::string& name) {
        const std::size_t start = at;
        if (at >= line.size() || !is_name_start(line[at]))
            return ::testing::AssertionFailure() << "bad metric name";
        while (at < line.size() && is_name_char(line[at])) ++at;
        name = line.substr(start, at - start);
        return ::testing::AssertionSuccess();
    }

    // After '{': name="value" pairs separated by commas (a trailing comma allowed), then '}'.
    static ::testing::AssertionResult labels(const std::string& line, std::size_t& at, Labels& out) {
        while (true) {
            if (at < line.size() && line[at] == '}') {
                ++at;
                return ::testing::AssertionSuccess();
            }
            const std::size_t start = at;
            if (at >= line.size() ||
                !(std::isalpha(static_cast<unsigned char>(line[at])) || line[at] == '_')) {
                return ::testing::AssertionFailure() << "bad label name at column " << at;
            }
            while (at < line.size() &&
                   (std::isalnum(static_cast<unsigned char>(line[at])) || line[at] == '_'))
                ++at;
            const std::string name = line.substr(start, at - start);
            if (name.rfind("__", 0) == 0)
                return ::testing::AssertionFailure() << "reserved label name " << name;
            if (line.compare(at, 2, "=\"") != 0)
                return ::testing::AssertionFailure() << "expected =\" after " << name;
            at += 2;
            std::string value;
            for (;;) {
                if (at >= line.size())
                    return ::testing::AssertionFailure() << "unterminated value of " << name;
                const char c = line[at++];
                if (c == '"') break;
                if (c == '\\') {
                    if (at >= line.size()) return ::testing::AssertionFailure() << "dangling escape";
                    const char e = line[at++];
                    if (e == '\\')
                        value += '\\';
                    else if (e == '"')
                        value += '"';
                    else if (e == 'n')
                        value += '\n';
                    else
                        return ::testing::AssertionFailure() << "bad escape \\" << e << " in " << name;
                } else {
                    value += c;
                }
            }
            if (!out.emplace(name, value).second)
                return ::testing::AssertionFailure() << "label " << name << " twice";
            if (at < line.size() && line[at] == ',')
                ++at;
            else if (at >= line.size() || line[at] != '}')
                return ::testing::AssertionFailure() << "expected , or }";
        }
    }

    static bool float_value(const std::string& text, double& value) {
        if (text == "+Inf") {
            value = HUGE_VAL;
            return true;
        }
        if (text == "-Inf") {
            value = -HUGE_VAL;
            return true;
        }
        if (text == "NaN") {
            value = std::nan("");
            return true;
        }
        if (text.empty() || text.find_first_not_of("+-0123456789.eE") != std::string::npos) return false;
        char* end = nullptr;
        value = std::strtod(text.c_str(), &end);
        return end == text.c_str() + text.size();
    }

    ::testing::AssertionResult comment(const std::string& line, std::size_t number, Exposition& out) {
        std::istringstream words(line.substr(1));
        std::string keyword;
        if (line.rfind("# HELP ", 0) != 0 && line.rfind("# TYPE ", 0) != 0) {
            return ::testing::AssertionSuccess();  // a plain comment
        }
        const bool help = line[2] == 'H';
        std::size_t at = 7;
        std::string name;
        if (auto r = metric_name(line, at, name); !r) return fail(number, r.message());
        if (at >= line.size() || line[at] != ' ') return fail(number, "expected a space after " + name);
        const std::string rest = line.substr(at + 1);
        Family& family = out.families[name];
        if (help) {
            if (!family.help.empty()) return fail(number, "second HELP for " + name);
            for (std::size_t i = 0; i < rest.size(); ++i) {
                if (rest[i] == '\\' &&
                    (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n'))) {
                    return fail(number, "bad escape in HELP of " + name);
                }
                if (rest[i] == '\\') ++i;
            }
            family.help = rest.empty() ? " " : rest;
            return ::testing::AssertionSuccess();
        }
        if (!family.type.empty()) return fail(number, "second TYPE for " + name);
        static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!types.count(rest)) return fail(number, "unknown type \"" + rest + "\"");
        for (const Sample& s : out.samples) {
            if (family_of(s.name, out) == name) return fail(number, "TYPE of " + name + " after its samples");
        }
        family.type = rest;
        return ::testing::AssertionSuccess();
    }

    // The declared family a sample belongs to: its own name, or for histograms the name
    // without _bucket/_sum/_count. "" when none is declared.
    static std::string family_of(const std::string& sample, const Exposition& out) {
        auto typed = [&](const std::string& name) {
            const auto it = out.families.find(name);
            return it == out.families.end() ? std::string() : it->second.type;
        };
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            const std::string s = suffix;
            if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
                const std::string base = sample.substr(0, sample.size() - s.size());
                const std::string type = typed(base);
                if (type == "histogram" || (type == "summary" && s != "_bucket")) return base;
            }
        }
        const std::string type = typed(sample);
        return type.empty() || type == "histogram" ? std::string() : sample;
    }

    // Per histogram series: buckets with increasing le, non-decreasing counts, a +Inf
    // bucket equal to _count, and a _sum.
    static ::testing::AssertionResult check_histograms(const Exposition& out) {
        for (const auto& [name, family] : out.families) {
            if (family.type != "histogram") continue;
            std::map<Labels, std::vector<std::pair<double, double>>> buckets;
            std::map<Labels, double> counts, sums;
            for (const Sample& s : out.samples) {
                if (s.name == name + "_bucket") {
                    Labels rest = s.labels;
                    const auto le = rest.find("le");
                    if (le == rest.end())
                        return ::testing::AssertionFailure() << name << "_bucket without le";
                    double bound = 0;
                    if (!float_value(le->second, bound))
                        return ::testing::AssertionFailure() << "bad le " << le->second;
                    rest.erase(le);
                    buckets[rest].emplace_back(bound, s.value);
                } else if (s.name == name + "_count") {
                    counts[s.labels] = s.value;
                } else if (s.name == name + "_sum") {
                    sums[s.labels] = s.value;
                }
            }
            if (buckets.empty()) return ::testing::AssertionFailure() << name << " has no buckets";
            for (const auto& [labels, list] : buckets) {
                for (std::size_t i = 1; i < list.size(); ++i) {
                    if (!(list[i].first > list[i - 1].first))
                        return ::testing::AssertionFailure() << name << ": le not increasing";
                    if (list[i].second < list[i - 1].second)
                        return ::testing::AssertionFailure() << name << ": buckets not cumulative";
                }
                if (!std::isinf(list.back().first))
                    return ::testing::AssertionFailure() << name << ": no +Inf bucket";
                if (!counts.count(labels) || !sums.count(labels))
                    return ::testing::AssertionFailure() << name << ": _count or _sum missing";
                if (counts.at(labels) != list.back().second)
                    return ::testing::AssertionFailure() << name << ": _count is not the +Inf bucket";
                if (sums.at(labels) < 0) return ::testing::AssertionFailure() << name << ": negative _sum";
            }
            if (counts.size() != buckets.size() || sums.size() != buckets.size()) {
                return ::testing::AssertionFailure() << name << ": _count/_sum without buckets";
            }
        }
        return ::testing::AssertionSuccess();
    }

    std::string text_;
};

::testing::AssertionResult parse_exposition(const std::string& text, Exposition& out) {
    auto result = Parser(text).parse(out);
    if (!result) result << "\n--- exposition ---\n" << text;
    return result;
}

TEST(MetricsParserTest, RejectsWhatTheFormatForbids) {
    const std::string head = "# HELP m_total help\n# TYPE m_total counter\n";
    for (const std::string& bad : {
             head + "m_total{a=\"b} 1\n",            // unterminated value
             head + "m_total{a=\"\\x\"} 1\n",        // unknown escape
             head + "m_total{a=\"b\",a=\"c\"} 1\n",  // label twice
             head + "m_total 1\nm_total 2\n",        // duplicate series
             head + "m_total one\n",                 // not a number
             head + "m_total  1\n",                  // two spaces
             std::string("other_total 1\n"),         // no TYPE
             head + "m_total 1",                     // no final newline
             head + "\nm_total 1\n",                 // empty line
             head + "# TYPE m_total gauge\n",        // second TYPE
         }) {
        Exposition e;
        EXPECT_FALSE(Parser(bad).parse(e)) << bad;
    }
    Exposition ok;
    EXPECT_TRUE(
        Parser(head + "# a comment\nm_total{a=\"q\\\"\\\\\\n\",b=\"\",} 1.5e3 1700000000\n").parse(ok));
    ASSERT_EQ(ok.samples.size(), 1u);
    EXPECT_EQ(ok.samples[0].labels.at("a"), "q\"\\\n");
    EXPECT_EQ(ok.samples[0].value, 1500);
}

class MetricsTest : public SharedServerTest<MetricsTest> {
public:
    static TestConfig suite_config() { return TestConfig(); }
};

TEST_F(MetricsTest, ExpositionCountsTheRequestsMade) {
    const std::string code =
        send_and_read_console_code(*server_, *client_, "+1", "2025550161", "+12025550161");
    ASSERT_EQ(code.size(), 6u);
    const std::string wrong =
        std::string(1, code[0] == '9' ? '0' : static_cast<char>(code[0] + 1)) + code.substr(1);
    ASSERT_EQ(client_->post_json(kVerifyOtp, verify_body("+1", "2025550161", wrong)).status, 400);
    ASSERT_EQ(client_->post_json(kVerifyOtp, verify_body("+1", "2025550161", code)).status, 200);
    ASSERT_EQ(client_->get("/no/such/path").status, 404);

    ASSERT_TRUE(admin_);
    const HttpResponse response = admin_->get(kMetrics);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
        << response.header("Content-Type");
    EXPECT_FALSE(response.header("X-Request-Id").empty());

    Exposition e;
    ASSERT_TRUE(parse_exposition(response.body, e));

    const std::map<std::string, std::string> families = {
        {"testino_http_requests_total", "counter"},
        {"testino_http_request_duration_seconds", "histogram"},
        {"testino_sms_sent_total", "counter"},
        {"testino_sms_failed_total", "counter"},
        {"testino_sms_failovers_total", "counter"},
        {"testino_otp_verify_total", "counter"},
        {"testino_rate_limit_refusals_total", "counter"},
        {"testino_store_errors_total", "counter"},
        {"testino_store_operation_duration_seconds", "histogram"},
        {"testino_otp_sent_to_verified_ratio", "gauge"},
    };
    for (const auto& [name, type] : families) {
        ASSERT_TRUE(e.families.count(name)) << name << " missing";
        EXPECT_EQ(e.families.at(name).type, type) << name;
        EXPECT_FALSE(e.families.at(name).help.empty()) << name << " has no HELP";
    }
    for (const auto& [name, family] : e.families) EXPECT_EQ(name.rfind("testino_", 0), 0u) << name;

    auto requests = [&](const std::string& route, const std::string& method, const std::string& status) {
        return e.value("testino_http_requests_total",
                       {{"route", route}, {"method", method}, {"status", status}});
    };
    EXPECT_EQ(requests(kSendOtp, "POST", "200"), 1.0);
    EXPECT_EQ(requests(kVerifyOtp, "POST", "400"), 1.0);
    EXPECT_EQ(requests(kVerifyOtp, "POST", "200"), 1.0);
    EXPECT_EQ(requests("other", "GET", "404"), 1.0);
    // This scrape is counted once its reply is out, so it is not in its own body.
    EXPECT_EQ(requests("/metrics", "GET", "200"), std::nullopt);
    EXPECT_EQ(e.value("testino_http_request_duration_seconds_count", {{"route", kSendOtp}}), 1.0);
    EXPECT_EQ(e.value("testino_http_request_duration_seconds_count", {{"route", kVerifyOtp}}), 2.0);
    EXPECT_EQ(e.value("testino_http_request_duration_seconds_count", {{"route", "other"}}), 1.0);
    EXPECT_EQ(e.value("testino_http_request_duration_seconds_count", {{"route", "/api/v1/health"}}), 0.0);
    EXPECT_GT(e.value("testino_http_request_duration_seconds_sum", {{"route", kVerifyOtp}}).value_or(0), 0.0);

    EXPECT_EQ(e.value("testino_sms_sent_total", {{"provider", "console"}, {"country", "1"}}), 1.0);
    for (const Sample& s : e.samples) EXPECT_NE(s.name, "testino_sms_failed_total") << "no send failed";

    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "verified"}}), 1.0);
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "invalid"}}), 1.0);
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "too_many_attempts"}}), 0.0);
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "rate_limited"}}), 0.0);
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "store_unavailable"}}), 0.0);
    for (const char* limit : {"ip_sends", "ip_verifies", "ip_refreshes", "number_cooldown", "number_sends",
                              "number_failed_verifies", "number_failed_verifies_all_addresses",
                              "country_sends", "budget_hour", "budget_day"}) {
        EXPECT_EQ(e.value("testino_rate_limit_refusals_total", {{"limit", limit}}), 0.0) << limit;
    }
    for (const char* op : {"put_code", "verify_and_consume", "remove_code", "hit_counter", "create_refresh",
                           "rotate_refresh", "revoke_refresh"}) {
        EXPECT_EQ(e.value("testino_store_errors_total", {{"operation", op}}), 0.0) << op;
    }
    EXPECT_EQ(e.value("testino_store_operation_duration_seconds_count", {{"operation", "put_code"}}), 1.0);
    EXPECT_EQ(
        e.value("testino_store_operation_duration_seconds_count", {{"operation", "verify_and_consume"}}),
        2.0);
    EXPECT_EQ(e.value("testino_otp_sent_to_verified_ratio"), 1.0);

    // The next scrape sees the first one.
    Exposition again;
    ASSERT_TRUE(parse_exposition(admin_->get(kMetrics).body, again));
    EXPECT_EQ(again.value("testino_http_requests_total",
                          {{"route", "/metrics"}, {"method", "GET"}, {"status", "200"}}),
              1.0);
}

TEST_F(MetricsTest, OnlyGetIsAllowed) {
    ASSERT_TRUE(admin_);
    const HttpResponse response = admin_->request("POST", kMetrics, "{}", {"Content-Type: application/json"});
    EXPECT_TRUE(is_api_error(response, 405, "METHOD_NOT_ALLOWED"));
    EXPECT_EQ(response.header("Allow"), "GET");
}

TEST_F(MetricsTest, ThePublicListenerDoesNotServeThem) {
    EXPECT_TRUE(is_api_error(client_->get(kMetrics), 404, "NOT_FOUND"));
}

// A failed send, a verify limit and its refusals, through the scriptable test provider.
TEST(MetricsFailuresTest, FailedSendsAndRefusalsAreCounted) {
    TestConfig config;
    config.use_test_sink();
    config.sms_sections["test_sink"]["fail_with"] = "unavailable";
    config.limits["ip_verifies_per_window"] = "1";
    const auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550162")).status, 502);
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550162", "123456")).status, 400);
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550162", "123456")).status, 429);

    Exposition e;
    ASSERT_TRUE(parse_exposition(HttpClient(server->admin_port()).get(kMetrics).body, e));
    EXPECT_EQ(e.value("testino_sms_failed_total",
                      {{"provider", "test_sink"}, {"country", "1"}, {"reason", "unavailable"}}),
              1.0);
    for (const Sample& s : e.samples) EXPECT_NE(s.name, "testino_sms_sent_total") << "nothing was sent";
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "invalid"}}), 1.0);
    EXPECT_EQ(e.value("testino_otp_verify_total", {{"outcome", "rate_limited"}}), 1.0);
    EXPECT_EQ(e.value("testino_rate_limit_refusals_total", {{"limit", "ip_verifies"}}), 1.0);
    // The failed send removed its code.
    EXPECT_EQ(e.value("testino_store_operation_duration_seconds_count", {{"operation", "remove_code"}}), 1.0);
    EXPECT_EQ(e.value("testino_http_requests_total",
                      {{"route", kVerifyOtp}, {"method", "POST"}, {"status", "429"}}),
              1.0);
    EXPECT_EQ(e.value("testino_otp_sent_to_verified_ratio"), 0.0);
}

TEST(MetricsDisabledTest, MetricsEnabledFalseRemovesTheRoute) {
    TestConfig config;
    config.server["metrics_enabled"] = "false";
    const auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient admin(server->admin_port());
    EXPECT_TRUE(is_api_error(admin.get(kMetrics), 404, "NOT_FOUND"));
    EXPECT_EQ(admin.get(kAdminHealth).status, 200) << "the admin listener still serves health";
    EXPECT_TRUE(is_api_error(HttpClient(server->port()).get(kMetrics), 404, "NOT_FOUND"));
}

}  // namespace
}  // namespace testino::test
