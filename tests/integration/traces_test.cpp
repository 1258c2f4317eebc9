// W3C Trace Context through the real server: a caller's traceparent is continued (same
// trace id, our own span id in traceresponse), a missing or invalid one starts a trace;
// every reply carries traceresponse (errors, CORS preflight, the admin listener too); the
// request's log lines carry its trace id; the webhook and the real Twilio and SNS plugins'
// calls carry a traceparent of the same trace.
#include <chrono>
#include <regex>
#include <thread>

#include "fake_http_server.hpp"
#include "integration_common.hpp"

#ifdef TESTINO_TRACES_WITH_TWILIO
#include "fake_twilio.hpp"
#endif
#ifdef TESTINO_TRACES_WITH_SNS
#include "fake_sns.hpp"
#endif

namespace testino::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParentId = "00f067aa0ba902b7";
const std::string kTraceparent = std::string("00-") + kTraceId + "-" + kParentId + "-01";
constexpr const char* kOrigin = "https://app.example.com";
const std::regex kShape("00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})");

struct Traced {
    std::string trace_id, span_id, flags;
};

// The reply's traceresponse, which must be well formed and not all zero.
std::optional<Traced> traceresponse(const HttpResponse& response) {
    std::smatch m;
    const std::string value = response.header("traceresponse");
    if (!std::regex_match(value, m, kShape)) return std::nullopt;
    if (m[1] == std::string(32, '0') || m[2] == std::string(16, '0')) return std::nullopt;
    return Traced{m[1], m[2], m[3]};
}

// Every log line about one request (its request_id).
std::vector<rapidjson::Document> lines_of(const ServerProcess& server, const std::string& request_id) {
    std::vector<rapidjson::Document> found;
    for (const auto& line : server.log_lines()) {
        rapidjson::Document doc = parse_json(line);
        if (!doc.HasParseError() && doc.IsObject() && json_string(doc, "request_id") == request_id) {
            found.push_back(std::move(doc));
        }
    }
    return found;
}

class TracesTest : public SharedServerTest<TracesTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.use_test_sink();
        config.server["cors_origins"] = std::string("[\"") + kOrigin + "\"]";
        return config;
    }
};

TEST_F(TracesTest, ACallersTraceIsContinuedWithOurOwnSpan) {
    const auto sent =
        client_->post_json(kSendOtp, send_body("+1", "2025550140"), {"traceparent: " + kTraceparent});
    ASSERT_EQ(sent.status, 200) << sent.body;
    const auto trace = traceresponse(sent);
    ASSERT_TRUE(trace) << sent.header("traceresponse");
    EXPECT_EQ(trace->trace_id, kTraceId);
    EXPECT_NE(trace->span_id, kParentId) << "our span, not the caller's";
    EXPECT_EQ(trace->flags, "01");

    // Every line about the request: the access line, the flow's, the dispatcher's.
    const auto lines = lines_of(*server_, sent.header("X-Request-Id"));
    ASSERT_GE(lines.size(), 2u) << server_->stdout_text();
    for (const auto& line : lines) {
        EXPECT_EQ(json_string(line, "trace_id"), kTraceId) << json_string(line, "event");
        if (json_string(line, "event") == "http.access") {
            EXPECT_EQ(json_string(line, "span_id"), trace->span_id);
        }
    }
}

TEST_F(TracesTest, WithoutATraceparentEachRequestStartsATrace) {
    const auto first = client_->get(kHealth);
    const auto second = client_->get(kHealth);
    const auto a = traceresponse(first);
    const auto b = traceresponse(second);
    ASSERT_TRUE(a && b) << first.header("traceresponse") << " / " << second.header("traceresponse");
    EXPECT_NE(a->trace_id, b->trace_id);
    EXPECT_EQ(a->flags, "01");
    const auto lines = lines_of(*server_, first.header("X-Request-Id"));
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(json_string(lines[0], "trace_id"), a->trace_id);
}

TEST_F(TracesTest, AnInvalidTraceparentIsReplacedByANewTrace) {
    for (const std::string& invalid :
         {std::string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
          std::string("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
          std::string("ff-") + kTraceId + "-" + kParentId + "-01", std::string("junk")}) {
        const auto response = client_->get(kHealth, {"traceparent: " + invalid});
        const auto trace = traceresponse(response);
        ASSERT_TRUE(trace) << invalid << ": " << response.header("traceresponse");
        EXPECT_NE(trace->trace_id, kTraceId) << invalid;
    }
}

TEST_F(TracesTest, ErrorRepliesCarryTheTraceToo) {
    const auto invalid = client_->post_json(kSendOtp, "{}", {"traceparent: " + kTraceparent});
    // Header names are case-insensitive (RFC 9110 §5.1).
    const auto missing = client_->get("/no/such/path", {"TraceParent: " + kTraceparent});
    for (const auto* response : {&invalid, &missing}) {
        EXPECT_GE(response->status, 400);
        const auto trace = traceresponse(*response);
        ASSERT_TRUE(trace) << response->body;
        EXPECT_EQ(trace->trace_id, kTraceId);
        const auto lines = lines_of(*server_, response->header("X-Request-Id"));
        ASSERT_FALSE(lines.empty());
        for (const auto& line : lines) EXPECT_EQ(json_string(line, "trace_id"), kTraceId);
    }
}

TEST_F(TracesTest, ThePreflightAndTheAdminListenerAnswerWithATrace) {
    const auto preflight =
        client_->request("OPTIONS", kSendOtp, "",
                         {std::string("Origin: ") + kOrigin, "Access-Control-Request-Method: POST",
                          "Access-Control-Request-Headers: traceparent", "traceparent: " + kTraceparent});
    EXPECT_EQ(preflight.status, 204);
    ASSERT_TRUE(traceresponse(preflight)) << preflight.header("traceresponse");
    EXPECT_EQ(traceresponse(preflight)->trace_id, kTraceId);
    EXPECT_NE(preflight.header("Access-Control-Allow-Headers").find("traceparent"), std::string::npos);

    // A browser may read it on a cross-origin reply.
    const auto cors = client_->get(kHealth, {std::string("Origin: ") + kOrigin});
    EXPECT_NE(cors.header("Access-Control-Expose-Headers").find("traceresponse"), std::string::npos);

    const auto admin = admin_->get(kAdminHealth, {"traceparent: " + kTraceparent});
    ASSERT_TRUE(traceresponse(admin)) << admin.header("traceresponse");
    EXPECT_EQ(traceresponse(admin)->trace_id, kTraceId);
}

// A request the server cannot even parse still gets a trace of its own.
TEST_F(TracesTest, AProtocolErrorIsAnsweredWithATrace) {
    RawConnection connection(server_->port());
    ASSERT_TRUE(connection.send("GARBAGE\r\n\r\n"));
    const auto response = connection.read_response(5s);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    const std::string value = response->headers.get("traceresponse").value_or("");
    EXPECT_TRUE(std::regex_match(value, kShape)) << value;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// A send with the caller's traceparent, to a server just started on `config`.
HttpResponse traced_send(const ServerProcess& server, const std::string& number) {
    return HttpClient(server.port())
        .post_json(kSendOtp, send_body("+1", number), {"traceparent: " + kTraceparent});
}

// An outbound call's traceparent: well formed, the caller's trace and flags, a span id that
// is neither the caller's nor (when given) the server's own.
::testing::AssertionResult continues_the_trace(const std::optional<std::string>& header,
                                               const std::string& server_span = "") {
    std::smatch m;
    const std::string value = header.value_or("");
    if (!std::regex_match(value, m, kShape)) return ::testing::AssertionFailure() << "malformed: " << value;
    if (m[1] != kTraceId || m[3] != "01") return ::testing::AssertionFailure() << "another trace: " << value;
    if (m[2] == kParentId || m[2] == server_span)
        return ::testing::AssertionFailure() << "a reused span: " << value;
    return ::testing::AssertionSuccess();
}

TEST(TracesWebhooks, TheWebhookOfARequestContinuesItsTrace) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{204, "", "text/plain", 0ms}; });
    TestConfig config;
    config.use_test_sink();
    config.extra_yaml =
        "webhooks:\n  urls: [\"" + receiver.base_url() +
        "/hooks\"]\n  secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n  poll_interval_ms: 50\n";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    const auto sent = traced_send(*server, "2025550141");
    ASSERT_EQ(sent.status, 200) << sent.body;
    ASSERT_TRUE(wait_until([&] { return !receiver.requests().empty(); })) << server->stdout_text();
    EXPECT_TRUE(continues_the_trace(receiver.requests().at(0).header("traceparent")));
}

#ifdef TESTINO_TRACES_WITH_TWILIO
TEST(TracesTwilio, TheRealTwilioPluginsCallCarriesTheTrace) {
    FakeTwilio twilio;
    TestConfig config;
    config.sms["provider"] = "twilio";
    config.sms_sections["twilio"] = twilio_section(twilio);
    auto server = start_server(config);
    ASSERT_TRUE(server);
    const auto sent = traced_send(*server, "2025550142");
    ASSERT_EQ(sent.status, 200) << sent.body << server->stdout_text();
    const auto requests = twilio.requests();
    ASSERT_EQ(requests.size(), 1u);
    ASSERT_TRUE(traceresponse(sent));
    EXPECT_TRUE(continues_the_trace(requests[0].header("traceparent"), traceresponse(sent)->span_id));
    // The plugin's own line about the send carries the trace id too.
    bool plugin_line = false;
    for (const auto& line : lines_of(*server, sent.header("X-Request-Id"))) {
        if (json_string(line, "plugin") != "twilio") continue;
        plugin_line = true;
        EXPECT_EQ(json_string(line, "trace_id"), kTraceId) << json_string(line, "event");
    }
    EXPECT_TRUE(plugin_line) << server->stdout_text();
}
#endif

#ifdef TESTINO_TRACES_WITH_SNS
TEST(TracesSns, TheRealSnsPluginsCallCarriesTheTrace) {
    const plugins::sns::test::FakeSnsKeys keys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                                               "us-east-1"};
    plugins::sns::test::FakeSns sns(keys);
    TestConfig config;
    config.sms["provider"] = "sns";
    config.sms_sections["sns"] = plugins::sns::test::sns_section(sns, keys);
    auto server = start_server(config);
    ASSERT_TRUE(server);
    const auto sent = traced_send(*server, "2025550143");
    ASSERT_EQ(sent.status, 200) << sent.body << server->stdout_text();
    const auto requests = sns.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].rejected_with, "") << "the header does not break the signature";
    ASSERT_TRUE(traceresponse(sent));
    EXPECT_TRUE(continues_the_trace(requests[0].header("traceparent"), traceresponse(sent)->span_id));
}
#endif

}  // namespace
}  // namespace testino::test
