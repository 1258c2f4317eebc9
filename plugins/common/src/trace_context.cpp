#include "testino/plugins/trace_context.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace testino::plugins {
namespace {

bool lower_hex(const std::string& text, std::size_t from, std::size_t count) {
    return std::all_of(text.begin() + static_cast<std::ptrdiff_t>(from),
                       text.begin() + static_cast<std::ptrdiff_t>(from + count),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A span id needs to be unique, not secret: the kernel's random source through
// std::random_device is enough, and keeps OpenSSL out of every plugin that calls HTTP.
std::string new_span_id() {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::random_device source;
    std::uint64_t value = 0;
    while (value == 0) value = (std::uint64_t{source()} << 32) | source();  // all zero is invalid
    std::string id(16, '0');
    for (int i = 15; i >= 0; --i, value >>= 4) id[static_cast<std::size_t>(i)] = kDigits[value & 0xf];
    return id;
}

}  // namespace

std::string child_traceparent(const std::string& parent) {
    // The server only ever hands over version 00, which it has validated.
    if (parent.size() != 55 || parent.compare(0, 3, "00-") != 0 || parent[35] != '-' || parent[52] != '-' ||
        !lower_hex(parent, 3, 32) || !lower_hex(parent, 53, 2)) {
        return {};
    }
    return parent.substr(0, 36) + new_span_id() + parent.substr(52);
}

}  // namespace testino::plugins
