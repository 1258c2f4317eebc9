#include "sns_xml.hpp"

#include <cstdint>
#include <cstdlib>

namespace testino::plugins::sns {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string trim(const std::string& text) {
    std::size_t begin = 0;
    std::size_t end = text.size();
    while (begin < end && is_space(text[begin])) ++begin;
    while (end > begin && is_space(text[end - 1])) --end;
    return text.substr(begin, end - begin);
}

void append_utf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
        out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
}

// Character data with the five predefined entities and numeric references decoded; an
// unknown or malformed reference is kept as written.
std::string decode_text(const std::string& raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const std::size_t semicolon = raw[i] == '&' ? raw.find(';', i) : std::string::npos;
        if (semicolon == std::string::npos || semicolon - i > 10) {
            out.push_back(raw[i]);
            continue;
        }
        const std::string entity = raw.substr(i + 1, semicolon - i - 1);
        if (entity == "amp")
            out.push_back('&');
        else if (entity == "lt")
            out.push_back('<');
        else if (entity == "gt")
            out.push_back('>');
        else if (entity == "quot")
            out.push_back('"');
        else if (entity == "apos")
            out.push_back('\'');
        else if (entity.size() > 1 && entity[0] == '#') {
            const bool hex = entity[1] == 'x' || entity[1] == 'X';
            const std::string digits = entity.substr(hex ? 2 : 1);
            char* end = nullptr;
            const unsigned long value = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
            if (digits.empty() || *end != '\0' || value == 0 || value > 0x10FFFF) {
                out.push_back(raw[i]);
                continue;
            }
            append_utf8(out, static_cast<std::uint32_t>(value));
        } else {
            out.push_back(raw[i]);
            continue;
        }
        i = semicolon;
    }
    return out;
}

// "sns:MessageId foo='x'" -> "MessageId".
std::string local_name(const std::string& tag) {
    std::size_t end = 0;
    while (end < tag.size() && !is_space(tag[end]) && tag[end] != '/') ++end;
    const std::string qualified = tag.substr(0, end);
    const std::size_t colon = qualified.rfind(':');
    return colon == std::string::npos ? qualified : qualified.substr(colon + 1);
}

// The '>' that ends the tag opened at `open`, skipping quoted attribute values.
std::size_t tag_end(const std::string& xml, std::size_t open) {
    char quote = 0;
    for (std::size_t i = open + 1; i < xml.size(); ++i) {
        const char c = xml[i];
        if (quote != 0) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i;
        }
    }
    return std::string::npos;
}

bool ends_with_path(const std::vector<std::string>& stack, const std::vector<std::string>& path) {
    if (path.empty() || stack.size() < path.size()) return false;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (stack[stack.size() - path.size() + i] != path[i]) return false;
    }
    return true;
}

bool starts_at(const std::string& xml, std::size_t at, const char* prefix) {
    return xml.compare(at, std::char_traits<char>::length(prefix), prefix) == 0;
}

}  // namespace

std::optional<std::string> xml_text(const std::string& xml, const std::vector<std::string>& path) {
    std::vector<std::string> stack;
    std::string text;
    std::size_t capture_depth = 0;  // 0: not inside the element we look for
    std::size_t i = 0;
    while (i < xml.size()) {
        if (xml[i] != '<') {
            const std::size_t next = std::min(xml.find('<', i), xml.size());
            if (capture_depth != 0) text += decode_text(xml.substr(i, next - i));
            i = next;
            continue;
        }
        if (starts_at(xml, i, "<!--")) {
            const std::size_t end = xml.find("-->", i + 4);
            if (end == std::string::npos) return std::nullopt;
            i = end + 3;
            continue;
        }
        if (starts_at(xml, i, "<![CDATA[")) {
            const std::size_t end = xml.find("]]>", i + 9);
            if (end == std::string::npos) return std::nullopt;
            if (capture_depth != 0) text += xml.substr(i + 9, end - i - 9);
            i = end + 3;
            continue;
        }
        const std::size_t close = tag_end(xml, i);
        if (close == std::string::npos) return std::nullopt;
        const std::string tag = xml.substr(i + 1, close - i - 1);
        i = close + 1;
        if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;  // declaration, DOCTYPE
        if (tag[0] == '/') {
            const std::string name = local_name(trim(tag.substr(1)));
            if (stack.empty() || stack.back() != name) return std::nullopt;  // not well formed
            if (capture_depth == stack.size()) return trim(text);
            stack.pop_back();
            continue;
        }
        const std::string trimmed = trim(tag);
        if (trimmed.empty() || is_space(tag[0])) return std::nullopt;  // "< >" is not a tag
        stack.push_back(local_name(trimmed));
        const bool self_closing = trimmed.back() == '/';
        if (capture_depth == 0 && ends_with_path(stack, path)) {
            if (self_closing) return std::string();
            capture_depth = stack.size();
        }
        if (self_closing) stack.pop_back();
    }
    return std::nullopt;
}

std::optional<std::string> publish_message_id(const std::string& xml) {
    auto id = xml_text(xml, {"PublishResult", "MessageId"});
    if (!id || id->empty()) return std::nullopt;
    return id;
}

std::optional<AwsError> parse_error(const std::string& xml) {
    auto code = xml_text(xml, {"Error", "Code"});
    if (!code || code->empty()) return std::nullopt;
    AwsError error;
    error.code = *code;
    error.message = xml_text(xml, {"Error", "Message"}).value_or("");
    error.type = xml_text(xml, {"Error", "Type"}).value_or("");
    error.request_id = xml_text(xml, {"RequestId"}).value_or("");
    return error;
}

}  // namespace testino::plugins::sns
