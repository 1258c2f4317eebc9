#include "observability/logging.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "log_capture.hpp"

namespace testino {
namespace {

rapidjson::Document parse(const std::string& line) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    return doc;
}

TEST(Logging, ALineIsJsonWithTimestampLevelEventAndFields) {
    const LogCapture capture;
    log_info("test.event", {{"text", "a \"quoted\" value"}, {"n", 42}, {"ok", true}, {"ms", 1.5}});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    const auto doc = parse(lines[0]);
    ASSERT_FALSE(doc.HasParseError()) << lines[0];
    EXPECT_TRUE(
        std::regex_match(doc["ts"].GetString(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << doc["ts"].GetString();
    EXPECT_STREQ(doc["level"].GetString(), "info");
    EXPECT_STREQ(doc["event"].GetString(), "test.event");
    EXPECT_STREQ(doc["text"].GetString(), "a \"quoted\" value");
    EXPECT_EQ(doc["n"].GetInt(), 42);
    EXPECT_TRUE(doc["ok"].GetBool());
}

TEST(Logging, ALongLineIsWrittenWhole) {
    const LogCapture capture;
    const std::string big(20000, 'x');  // beyond the on-stack buffer and the batch limit
    log_info("test.big", {{"text", big}});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(parse(lines[0])["text"].GetStringLength(), big.size());
}

TEST(Logging, ABatchWritesItsLinesWhenItCloses) {
    const LogCapture capture;
    {
        const LogBatch batch;
        log_info("test.one");
        {
            const LogBatch inner;
            log_info("test.two");
        }
        EXPECT_TRUE(capture.lines().empty()) << "held until the outermost batch closes";
    }
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_STREQ(parse(lines[0])["event"].GetString(), "test.one");
    EXPECT_STREQ(parse(lines[1])["event"].GetString(), "test.two");
}

TEST(Logging, ABigBatchIsWrittenBeforeItCloses) {
    const LogCapture capture;
    const LogBatch batch;
    const std::string text(1000, 'y');
    for (int i = 0; i < 40; ++i) log_info("test.many", {{"text", text}});
    EXPECT_FALSE(capture.lines().empty()) << "at most 16 KiB wait";
}

TEST(Logging, ABatchHoldsOnlyItsOwnThreadsLines) {
    const LogCapture capture;
    const LogBatch batch;
    log_info("test.held");
    std::thread([] { log_info("test.other_thread"); }).join();
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_STREQ(parse(lines[0])["event"].GetString(), "test.other_thread");
}

TEST(Logging, FlushWritesHeldLinesAndTheBatchStaysOpen) {
    const LogCapture capture;
    const LogBatch batch;
    log_info("test.before_reply");
    LogBatch::flush();
    EXPECT_EQ(capture.lines().size(), 1u);
    log_info("test.after_reply");
    EXPECT_EQ(capture.lines().size(), 1u) << "still batched";
}

}  // namespace
}  // namespace testino
