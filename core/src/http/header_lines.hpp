// Every line of a request header, which Pistache 0.0.5 cannot give: its header collection is
// a map that keeps the first line of a name and drops the later ones (Collection::addRaw
// inserts), so a line a proxy appends after the client's own would be lost. The handler
// keeps the head of each request as it arrives and reads the lines from it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace testino {

// The value of every `name` field line of a request head (request line, field lines, blank
// line), in order. Names match case-insensitively; values are trimmed of spaces and tabs;
// an obs-fold continuation line is joined to its field with a space (RFC 9112 §5.2).
std::vector<std::string> header_values(std::string_view head, std::string_view name);

// The head of the request in progress on one connection, fed the same bytes as Pistache's
// parser; the body is not kept.
class RequestHeadCapture {
public:
    void append(const char* data, std::size_t size);
    std::string_view head() const { return head_; }
    void clear();

private:
    std::string head_;
    bool complete_ = false;  // the blank line that ends the head has arrived
};

}  // namespace testino
