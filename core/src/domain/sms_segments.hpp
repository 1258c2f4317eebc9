// How many SMS segments a text costs (3GPP TS 23.038, the GSM 03.38 alphabet; TS 23.040 for
// concatenation). A text wholly in the GSM 7-bit default alphabet is sent in GSM-7: one septet
// a character, two for the extension table's (form feed and ^{}\[~]|€, escaped), 160 septets
// in a single SMS and 153 in each part of a long one (the rest is the 6-byte concatenation
// header). Any other character makes the whole text UCS-2: one UTF-16 code unit a character,
// two outside the BMP (emoji), 70 units in a single SMS and 67 per part.
//
// Parts are packed as handsets and providers split them: an escaped GSM-7 pair or a UTF-16
// surrogate pair is never cut in two, so a part can hold one unit less than its maximum.
#pragma once

#include <cstddef>
#include <string_view>

namespace testino {

enum class SmsEncoding { gsm7, ucs2 };

const char* to_string(SmsEncoding encoding);

struct SmsSegments {
    SmsEncoding encoding = SmsEncoding::gsm7;
    std::size_t units = 0;  // septets (GSM-7) or UTF-16 code units (UCS-2)
    int segments = 1;       // an empty text is still one SMS
};

// `text` is UTF-8; a byte that does not decode counts as one UCS-2 unit (U+FFFD).
SmsSegments count_sms_segments(std::string_view text);

}  // namespace testino
