#include "domain/locale.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace testino {
namespace {

bool all_of(std::string_view s, int (*pred)(int)) {
    return std::all_of(s.begin(), s.end(),
                       [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}
bool alpha(std::string_view s) { return all_of(s, isalpha); }
bool digits(std::string_view s) { return all_of(s, isdigit); }
bool alnum(std::string_view s) { return all_of(s, isalnum); }

std::vector<std::string_view> subtags(std::string_view tag) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dash = tag.find('-', start);
        out.push_back(
            tag.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
        if (dash == std::string_view::npos) return out;
        start = dash + 1;
    }
}

bool ascii_only(std::string_view tag) {
    return std::all_of(tag.begin(), tag.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// privateuse = "x" 1*("-" (1*8alphanum))
bool private_use(const std::vector<std::string_view>& parts, std::size_t from) {
    if (from + 1 >= parts.size()) return false;
    for (std::size_t i = from + 1; i < parts.size(); ++i) {
        if (parts[i].empty() || parts[i].size() > 8 || !alnum(parts[i])) return false;
    }
    return true;
}

// extension = singleton 1*("-" (2*8alphanum)); then more extensions or a private use.
bool extensions(const std::vector<std::string_view>& parts, std::size_t i) {
    while (i < parts.size()) {
        const std::string_view singleton = parts[i];
        if (singleton.size() != 1 || !alnum(singleton)) return false;
        if (singleton == "x" || singleton == "X") return private_use(parts, i);
        std::size_t n = i + 1;
        while (n < parts.size() && parts[n].size() >= 2 && parts[n].size() <= 8 && alnum(parts[n])) ++n;
        if (n == i + 1) return false;
        i = n;
    }
    return true;
}

bool variant(std::string_view s) {
    if (!alnum(s)) return false;
    return (s.size() >= 5 && s.size() <= 8) ||
           (s.size() == 4 && std::isdigit(static_cast<unsigned char>(s[0])));
}

}  // namespace

bool is_well_formed_locale(std::string_view tag) {
    if (tag.empty() || tag.size() > 64 || !ascii_only(tag)) return false;
    const std::vector<std::string_view> parts = subtags(tag);
    const std::string_view language = parts[0];
    if (language == "x" || language == "X") return private_use(parts, 0);
    if (language.size() < 2 || language.size() > 8 || !alpha(language)) return false;
    std::size_t i = 1;
    // extlang: up to three 3-letter subtags after a 2-3 letter language.
    if (language.size() <= 3) {
        for (int n = 0; n < 3 && i < parts.size() && parts[i].size() == 3 && alpha(parts[i]); ++n) ++i;
    }
    if (i < parts.size() && parts[i].size() == 4 && alpha(parts[i])) ++i;  // script
    if (i < parts.size() &&
        ((parts[i].size() == 2 && alpha(parts[i])) || (parts[i].size() == 3 && digits(parts[i]))))
        ++i;  // region
    while (i < parts.size() && variant(parts[i])) ++i;
    return extensions(parts, i);
}

std::string canonical_locale(std::string_view tag) {
    std::string out;
    out.reserve(tag.size());
    const std::vector<std::string_view> parts = subtags(tag);
    bool after_singleton = false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::string part(parts[i]);
        std::transform(part.begin(), part.end(), part.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (i > 0 && !after_singleton) {
            if (part.size() == 2 && alpha(part)) {  // region
                std::transform(part.begin(), part.end(), part.begin(),
                               [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            } else if (part.size() == 4 && alpha(part)) {  // script
                part[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(part[0])));
            }
        }
        if (part.size() == 1) after_singleton = true;
        if (i > 0) out += '-';
        out += part;
    }
    return out;
}

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if malformed.
int parse_qvalue(std::string_view q) {
    if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1')) return -1;
    if (q.size() == 1) return q[0] == '1' ? 1000 : 0;
    if (q[1] != '.') return -1;
    const std::string_view decimals = q.substr(2);
    if (!digits(decimals)) return -1;
    if (q[0] == '1') return decimals.find_first_not_of('0') == std::string_view::npos ? 1000 : -1;
    int value = 0;
    for (std::size_t i = 0; i < 3; ++i) value = value * 10 + (i < decimals.size() ? decimals[i] - '0' : 0);
    return value;
}

// language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"
bool language_range(std::string_view range) {
    if (range == "*") return true;
    if (range.empty() || !ascii_only(range)) return false;
    const std::vector<std::string_view> parts = subtags(range);
    if (parts[0].empty() || parts[0].size() > 8 || !alpha(parts[0])) return false;
    return std::all_of(parts.begin() + 1, parts.end(),
                       [](std::string_view p) { return !p.empty() && p.size() <= 8 && alnum(p); });
}

}  // namespace

std::vector<std::string> parse_accept_language(std::string_view header) {
    struct Entry {
        std::string range;
        int q;
    };
    std::vector<Entry> entries;
    std::size_t start = 0;
    for (int read = 0; read < 32 && start <= header.size(); ++read) {
        const std::size_t comma = header.find(',', start);
        const std::string_view element = trim_ows(header.substr(start, comma - start));
        start = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
        if (element.empty()) continue;  // "#" lists allow empty elements
        const std::size_t semi = element.find(';');
        const std::string_view range = trim_ows(element.substr(0, semi));
        int q = 1000;
        if (semi != std::string_view::npos) {
            const std::string_view weight = trim_ows(element.substr(semi + 1));
            q = weight.size() > 2 && (weight[0] == 'q' || weight[0] == 'Q') && weight[1] == '='
                    ? parse_qvalue(weight.substr(2))
                    : -1;
        }
        if (q <= 0 || range == "*" || !language_range(range)) continue;
        entries.push_back({canonical_locale(range), q});
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.q > b.q; });
    std::vector<std::string> out;
    out.reserve(entries.size());
    for (Entry& e : entries) out.push_back(std::move(e.range));
    return out;
}

std::string lookup_locale(std::string_view tag, const std::vector<std::string>& available) {
    auto has = [&](const std::string& t) {
        return std::find(available.begin(), available.end(), t) != available.end();
    };
    std::string candidate = canonical_locale(tag);
    const std::vector<std::string_view> parts = subtags(candidate);
    if (parts.size() >= 2 && parts[0] == "zh" && (parts[1] == "TW" || parts[1] == "HK" || parts[1] == "MO") &&
        has("zh-Hant")) {
        return "zh-Hant";
    }
    while (!candidate.empty()) {
        if (has(candidate)) return candidate;
        std::size_t dash = candidate.rfind('-');
        if (dash == std::string::npos) break;
        candidate.erase(dash);
        // RFC 4647 §3.4: a singleton left at the end goes with the subtag after it.
        dash = candidate.rfind('-');
        if (dash != std::string::npos && candidate.size() - dash == 2) candidate.erase(dash);
    }
    return "";
}

}  // namespace testino
