// For the HTTP providers' tests: the traceparent a fake service received on one call is a
// child of the message's: version 00, the same trace id and flags, a span id of its own.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>

namespace testino::test {

inline ::testing::AssertionResult is_child_traceparent(const std::optional<std::string>& received,
                                                       const std::string& parent) {
    static const std::regex kShape("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");
    if (!received) return ::testing::AssertionFailure() << "no traceparent header";
    if (!std::regex_match(*received, kShape))
        return ::testing::AssertionFailure() << "malformed: " << *received;
    if (received->substr(0, 36) != parent.substr(0, 36)) {
        return ::testing::AssertionFailure() << "another trace: " << *received << " for " << parent;
    }
    if (received->substr(52) != parent.substr(52))
        return ::testing::AssertionFailure() << "other flags: " << *received;
    const std::string span = received->substr(36, 16);
    if (span == parent.substr(36, 16))
        return ::testing::AssertionFailure() << "the parent's span id: " << *received;
    if (span == std::string(16, '0')) return ::testing::AssertionFailure() << "an all-zero span id";
    return ::testing::AssertionSuccess();
}

}  // namespace testino::test
