// Text rules of HTTP fields that the HTTP layer's parsers share. Internal to core/src/http.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

namespace testino::http_text {

// Without the optional whitespace (spaces and tabs) around a field value or list element.
inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// ASCII case-insensitive equality, as field and parameter names compare.
inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace testino::http_text
