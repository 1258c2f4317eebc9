// W3C Trace Context: the traceparent examples of the spec (Level 1, §3.2 and §4.3), the
// trace a request gets from them, and the trace id the logger adds to a request's lines.
#include "observability/trace_context.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "log_capture.hpp"
#include "observability/logging.hpp"
#include "observability/request_trace.hpp"

namespace testino {
namespace {

const std::string kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const std::regex kTraceparent("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");

TEST(Traceparent, TheSpecsExampleIsRead) {
    const auto trace = parse_traceparent(kSpecExample);
    ASSERT_TRUE(trace);
    EXPECT_EQ(trace->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(trace->parent_id, "00f067aa0ba902b7");
    EXPECT_EQ(trace->flags, "01");
    EXPECT_TRUE(trace->span_id.empty());
    EXPECT_EQ(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->flags, "00");
}

TEST(Traceparent, SurroundingWhitespaceIsNotPartOfTheValue) {
    EXPECT_TRUE(parse_traceparent(" " + kSpecExample + "\t"));
}

TEST(Traceparent, MalformedValuesAreInvalid) {
    for (const std::string& bad : {
             std::string(), std::string("00"), kSpecExample.substr(0, 54),  // too short
             kSpecExample + "-00",                                          // version 00 is exactly 55
             std::string("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),  // upper case
             std::string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),  // zero trace id
             std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),  // zero parent id
             std::string("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),  // version ff
             std::string("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),  // version not hex
             std::string("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"),  // wrong separators
             std::string("00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01"),  // trace id not hex
             std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01"),  // parent not hex
             std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"),  // flags not hex
         }) {
        EXPECT_FALSE(parse_traceparent(bad)) << bad;
    }
}

TEST(Traceparent, AHigherVersionIsReadLeniently) {
    // §4.3: a later version's first four fields are read; more may follow after a '-'.
    const auto longer =
        parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-next");
    ASSERT_TRUE(longer);
    EXPECT_EQ(longer->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(longer->flags, "01");  // we answer in version 00: only its "sampled" flag
    EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    EXPECT_FALSE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00x"));
}

TEST(RequestTraceContext, AValidHeaderIsContinuedWithANewSpan) {
    const TraceContext trace = trace_for_request(&kSpecExample);
    EXPECT_EQ(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(trace.parent_id, "00f067aa0ba902b7");
    EXPECT_EQ(trace.flags, "01");
    EXPECT_NE(trace.span_id, "00f067aa0ba902b7");
    EXPECT_TRUE(std::regex_match(trace.traceparent(), kTraceparent)) << trace.traceparent();
    EXPECT_EQ(trace.traceparent().substr(0, 36), kSpecExample.substr(0, 36));
}

TEST(RequestTraceContext, NoOrAnInvalidHeaderStartsAFreshSampledTrace) {
    const std::string invalid = "00-00000000000000000000000000000000-00f067aa0ba902b7-00";
    std::set<std::string> trace_ids;
    for (const std::string* header : {static_cast<const std::string*>(nullptr), &invalid}) {
        const TraceContext trace = trace_for_request(header);
        EXPECT_TRUE(parse_traceparent(trace.traceparent())) << trace.traceparent();
        EXPECT_TRUE(trace.parent_id.empty());
        EXPECT_EQ(trace.flags, "01");
        trace_ids.insert(trace.trace_id);
    }
    EXPECT_EQ(trace_ids.size(), 2u);
}

TEST(RequestTraceContext, LinesWithTheRequestIdCarryItsTraceIdWhileItLasts) {
    const LogCapture capture;
    {
        const RequestTrace trace("req-trace-1", trace_for_request(&kSpecExample));
        log_info("flow.step", {{"request_id", "req-trace-1"}});
        log_info("flow.other", {{"request_id", "req-trace-2"}});
        Logger::write_plugin(LogLevel::info, "twilio", "sms.twilio.sent", {{"request_id", "req-trace-1"}});
    }
    log_info("flow.late", {{"request_id", "req-trace-1"}});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 4u);
    const std::string expected =
        "\"request_id\":\"req-trace-1\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"";
    EXPECT_NE(lines[0].find(expected), std::string::npos) << lines[0];
    EXPECT_EQ(lines[1].find("trace_id"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find(expected), std::string::npos) << lines[2];
    EXPECT_EQ(lines[3].find("trace_id"), std::string::npos) << lines[3];
}

}  // namespace
}  // namespace testino
