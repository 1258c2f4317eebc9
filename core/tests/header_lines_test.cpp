#include "http/header_lines.hpp"

#include <gtest/gtest.h>

namespace testino {
namespace {

using Values = std::vector<std::string>;

TEST(HeaderLines, EveryLineOfANameInOrder) {
    const std::string head =
        "GET / HTTP/1.1\r\n"
        "Host: a\r\n"
        "X-Forwarded-For: 6.6.6.6\r\n"
        "x-forwarded-for:198.51.100.7 \t\r\n"
        "X-Forwarded-Forwarded: no\r\n"
        "X-FORWARDED-FOR:  10.0.0.2, 10.0.0.3\r\n"
        "\r\n"
        "X-Forwarded-For: the body, not a header\r\n";
    EXPECT_EQ(header_values(head, "X-Forwarded-For"),
              (Values{"6.6.6.6", "198.51.100.7", "10.0.0.2, 10.0.0.3"}));
    EXPECT_EQ(header_values(head, "host"), Values{"a"});
    EXPECT_TRUE(header_values(head, "Forwarded").empty());
}

TEST(HeaderLines, RequestLineAndMalformedLinesAreNoFields) {
    EXPECT_TRUE(header_values("Forwarded: for=1.2.3.4 HTTP/1.1\r\n\r\n", "Forwarded").empty())
        << "the first line is the request line";
    EXPECT_TRUE(header_values("GET / HTTP/1.1\r\nForwarded for=1.2.3.4\r\n\r\n", "Forwarded").empty());
    EXPECT_TRUE(header_values("GET / HTTP/1.1\r\nForwarded : for=1.2.3.4\r\n\r\n", "Forwarded").empty())
        << "no space before the colon (RFC 9112 §5.1)";
    EXPECT_TRUE(header_values("GET / HTTP/1.1\r\nForwarded: for=1.2.3.4", "Forwarded").empty())
        << "a line still arriving";
    EXPECT_TRUE(header_values("", "Forwarded").empty());
}

TEST(HeaderLines, ObsFoldContinuesItsField) {
    const std::string head =
        "GET / HTTP/1.1\r\n"
        "X-Forwarded-For: 6.6.6.6,\r\n"
        "\t198.51.100.7\r\n"
        "Host: a\r\n"
        " folded host\r\n"
        "\r\n";
    EXPECT_EQ(header_values(head, "X-Forwarded-For"), Values{"6.6.6.6, 198.51.100.7"});
    EXPECT_EQ(header_values(head, "Host"), Values{"a folded host"});
}

TEST(RequestHeadCapture, KeepsTheHeadAcrossChunksAndNotTheBody) {
    RequestHeadCapture capture;
    for (const char* chunk :
         {"POST / HTTP/1.1\r\nX-Forwarded-For: 1.2", ".3.4\r", "\n\r", "\nbody bytes", "more"}) {
        capture.append(chunk, std::char_traits<char>::length(chunk));
    }
    EXPECT_EQ(capture.head(), "POST / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
    EXPECT_EQ(header_values(capture.head(), "X-Forwarded-For"), Values{"1.2.3.4"});
    capture.clear();
    EXPECT_TRUE(capture.head().empty());
    const std::string next = "GET / HTTP/1.1\r\n\r\n";
    capture.append(next.data(), next.size());
    EXPECT_EQ(capture.head(), next) << "the next request starts afresh";
}

}  // namespace
}  // namespace testino
