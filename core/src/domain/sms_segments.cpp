#include "domain/sms_segments.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace testino {
namespace {

constexpr std::size_t kGsmSingle = 160;
constexpr std::size_t kGsmPart = 153;
constexpr std::size_t kUcsSingle = 70;
constexpr std::size_t kUcsPart = 67;

// The GSM 7-bit default alphabet (TS 23.038 §6.2.1) outside ASCII, as code points. Of
// printable ASCII, all is in it but the backtick; of the controls, LF and CR (and form feed,
// in the extension table).
constexpr char32_t kBasicNonAscii[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8, 0x00C5, 0x00E5, 0x0394,
    0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0};

// Septets a code point takes in GSM-7: 1 (default alphabet), 2 (extension table), 0 (none).
int gsm_septets(char32_t c) {
    switch (c) {
        case 0x0C:
        case '^':
        case '{':
        case '}':
        case '\\':
        case '[':
        case '~':
        case ']':
        case '|':
        case 0x20AC:  // €
            return 2;
        case '\n':
        case '\r': return 1;
        case '`': return 0;  // not in the alphabet (its position holds ¿)
        default: break;
    }
    if (c >= 0x20 && c < 0x7F) return 1;
    return std::find(std::begin(kBasicNonAscii), std::end(kBasicNonAscii), c) != std::end(kBasicNonAscii) ? 1
                                                                                                          : 0;
}

// Decodes UTF-8 leniently: a malformed sequence is one U+FFFD per byte that starts it.
std::vector<char32_t> code_points(std::string_view text) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto b = static_cast<unsigned char>(text[i]);
        const int extra = b < 0x80           ? 0
                          : (b >> 5) == 0x6  ? 1
                          : (b >> 4) == 0xE  ? 2
                          : (b >> 3) == 0x1E ? 3
                                             : -1;
        char32_t c = extra == 0 ? b : extra == 1 ? (b & 0x1F) : extra == 2 ? (b & 0x0F) : (b & 0x07);
        bool ok = extra >= 0 && i + static_cast<std::size_t>(extra) < text.size();
        for (int k = 1; ok && k <= extra; ++k) {
            const auto cont = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
            ok = (cont & 0xC0) == 0x80;
            c = (c << 6) | (cont & 0x3F);
        }
        if (!ok) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(c);
        i += static_cast<std::size_t>(extra) + 1;
    }
    return out;
}

// Parts needed for characters of the given unit costs, none split across parts.
int pack(const std::vector<int>& costs, std::size_t total, std::size_t single, std::size_t part) {
    if (total <= single) return 1;
    int parts = 1;
    std::size_t used = 0;
    for (const int cost : costs) {
        if (used + static_cast<std::size_t>(cost) > part) {
            ++parts;
            used = 0;
        }
        used += static_cast<std::size_t>(cost);
    }
    return parts;
}

}  // namespace

const char* to_string(SmsEncoding encoding) { return encoding == SmsEncoding::gsm7 ? "gsm7" : "ucs2"; }

SmsSegments count_sms_segments(std::string_view text) {
    const std::vector<char32_t> chars = code_points(text);
    std::vector<int> costs;
    costs.reserve(chars.size());
    SmsSegments result;
    for (const char32_t c : chars) {
        const int septets = gsm_septets(c);
        if (septets == 0) {
            result.encoding = SmsEncoding::ucs2;
            break;
        }
        costs.push_back(septets);
        result.units += static_cast<std::size_t>(septets);
    }
    if (result.encoding == SmsEncoding::gsm7) {
        result.segments = pack(costs, result.units, kGsmSingle, kGsmPart);
        return result;
    }
    costs.clear();
    result.units = 0;
    for (const char32_t c : chars) {
        const int units = c > 0xFFFF ? 2 : 1;
        costs.push_back(units);
        result.units += static_cast<std::size_t>(units);
    }
    result.segments = pack(costs, result.units, kUcsSingle, kUcsPart);
    return result;
}

}  // namespace testino
