#include "http/header_lines.hpp"

#include "http/http_text.hpp"

namespace testino {

using http_text::iequals;
using http_text::trim_ows;

std::vector<std::string> header_values(std::string_view head, std::string_view name) {
    std::vector<std::string> values;
    bool continues_match = false;  // the last field line was `name`: an obs-fold continues it
    // Lines end with CRLF, as Pistache's parser wants; the first one is the request line.
    for (auto at = head.find("\r\n"); at != std::string_view::npos;) {
        at += 2;
        const auto end = head.find("\r\n", at);
        if (end == std::string_view::npos) break;  // a line still arriving
        const std::string_view line = head.substr(at, end - at);
        if (line.empty()) break;  // the end of the head
        if (line.front() == ' ' || line.front() == '\t') {
            if (continues_match) values.back().append(" ").append(trim_ows(line));
        } else {
            const auto colon = line.find(':');
            continues_match = colon != std::string_view::npos && iequals(line.substr(0, colon), name);
            if (continues_match) values.emplace_back(trim_ows(line.substr(colon + 1)));
        }
        at = end;
    }
    return values;
}

void RequestHeadCapture::append(const char* data, std::size_t size) {
    if (complete_) return;
    const std::size_t from = head_.size() < 3 ? 0 : head_.size() - 3;
    head_.append(data, size);
    const auto end = head_.find("\r\n\r\n", from);
    if (end != std::string::npos) {
        head_.resize(end + 4);
        complete_ = true;
    }
}

void RequestHeadCapture::clear() {
    head_.clear();
    complete_ = false;
}

}  // namespace testino
