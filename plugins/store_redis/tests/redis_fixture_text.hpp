// Small readers of Redis's text replies, shared by the cluster and sentinel fixtures.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"

namespace testino::test::fixture_text {

// Whether `text` (INFO or CLUSTER INFO: "\r\n" or "\n" lines) has `line` as a whole line.
inline bool has_line(const std::string& text, const std::string& line) {
    for (std::size_t at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) {
        const std::size_t end = at + line.size();
        const bool starts = at == 0 || text[at - 1] == '\n';
        const bool ends = end == text.size() || text[end] == '\r' || text[end] == '\n';
        if (starts && ends) return true;
    }
    return false;
}

// Running, and INFO replication says role:master.
inline bool is_master(const RedisServer& node) {
    return node.running() && has_line(node.command({"INFO", "replication"}), "role:master");
}

// The last `size` characters of a log, for failure messages.
inline std::string tail(const std::string& text, std::size_t size) {
    return text.size() <= size ? text : "..." + text.substr(text.size() - size);
}

// "127.0.0.1:p1,127.0.0.1:p2,..." for the nodes.
inline std::string addresses(const std::vector<std::unique_ptr<RedisServer>>& nodes) {
    std::string text;
    for (const auto& node : nodes)
        text += (text.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(node->port());
    return text;
}

}  // namespace testino::test::fixture_text
