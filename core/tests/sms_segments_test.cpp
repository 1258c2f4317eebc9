#include "domain/sms_segments.hpp"

#include <gtest/gtest.h>

#include <string>

namespace testino {
namespace {

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

TEST(SmsSegments, PureAsciiIsOneGsmSmsUpTo160) {
    const SmsSegments one = count_sms_segments(std::string(160, 'a'));
    EXPECT_EQ(one.encoding, SmsEncoding::gsm7);
    EXPECT_EQ(one.units, 160u);
    EXPECT_EQ(one.segments, 1);
    const SmsSegments two = count_sms_segments(std::string(161, 'a'));
    EXPECT_EQ(two.units, 161u);
    EXPECT_EQ(two.segments, 2);
    EXPECT_EQ(count_sms_segments(std::string(306, 'a')).segments, 2);  // 2 x 153
    EXPECT_EQ(count_sms_segments(std::string(307, 'a')).segments, 3);
    EXPECT_EQ(count_sms_segments("").segments, 1);
}

TEST(SmsSegments, TheExtensionTableCostsTwoSeptets) {
    EXPECT_EQ(count_sms_segments("{}[]~^|\\\f").units, 18u);
    const SmsSegments euro = count_sms_segments("\xE2\x82\xAC");  // €
    EXPECT_EQ(euro.encoding, SmsEncoding::gsm7);
    EXPECT_EQ(euro.units, 2u);
    // 159 + an escaped character: 161 septets, two SMS.
    EXPECT_EQ(count_sms_segments(std::string(159, 'a') + "{").segments, 2);
    EXPECT_EQ(count_sms_segments(std::string(158, 'a') + "{").segments, 1);
    // An escape and its character never straddle two parts: 152 + "{" puts "{" in part 2.
    const SmsSegments straddle = count_sms_segments(std::string(152, 'a') + "{" + std::string(152, 'a'));
    EXPECT_EQ(straddle.units, 306u);
    EXPECT_EQ(straddle.segments, 3);
}

TEST(SmsSegments, GsmLettersOutsideAsciiStayGsm7) {
    const SmsSegments s = count_sms_segments("é è à ñ ü Ä Ø Å ß Δ Ω £ ¥ § ¿ ¡ Ç");
    EXPECT_EQ(s.encoding, SmsEncoding::gsm7);
    EXPECT_EQ(s.units, 33u);  // 17 letters, 16 spaces
    EXPECT_EQ(count_sms_segments("@$_").encoding, SmsEncoding::gsm7);
}

TEST(SmsSegments, AnythingElseMakesTheWholeTextUcs2) {
    EXPECT_EQ(count_sms_segments("código").encoding, SmsEncoding::ucs2) << "ó is not GSM-7";
    EXPECT_EQ(count_sms_segments("a`b").encoding, SmsEncoding::ucs2) << "nor is the backtick";
    EXPECT_EQ(count_sms_segments("a\tb").encoding, SmsEncoding::ucs2) << "nor tab";
    const SmsSegments hindi = count_sms_segments("आपका कोड");  // 8 code points, all in the BMP
    EXPECT_EQ(hindi.encoding, SmsEncoding::ucs2);
    EXPECT_EQ(hindi.units, 8u);
    EXPECT_EQ(count_sms_segments(repeat("验", 70)).segments, 1);
    EXPECT_EQ(count_sms_segments(repeat("验", 71)).segments, 2);
    EXPECT_EQ(count_sms_segments(repeat("验", 134)).segments, 2);  // 2 x 67
    EXPECT_EQ(count_sms_segments(repeat("验", 135)).segments, 3);
    // The extension table's € counts one UCS-2 unit once the text is UCS-2.
    EXPECT_EQ(count_sms_segments("验\xE2\x82\xAC").units, 2u);
}

TEST(SmsSegments, CharactersOutsideTheBmpCountTwoUnits) {
    const SmsSegments emoji = count_sms_segments("\xF0\x9F\x94\x91");  // 🔑
    EXPECT_EQ(emoji.encoding, SmsEncoding::ucs2);
    EXPECT_EQ(emoji.units, 2u);
    EXPECT_EQ(count_sms_segments(repeat("\xF0\x9F\x94\x91", 35)).segments, 1);
    EXPECT_EQ(count_sms_segments(repeat("\xF0\x9F\x94\x91", 35) + "a").segments, 2);
    // A surrogate pair is not split: 66 units + an emoji puts the emoji in part 2.
    const SmsSegments pair = count_sms_segments(std::string(66, 'a') + "\xF0\x9F\x94\x91" + repeat("验", 66));
    EXPECT_EQ(pair.units, 134u);
    EXPECT_EQ(pair.segments, 3);
}

TEST(SmsSegments, MalformedUtf8CountsAsUcs2) {
    const SmsSegments s = count_sms_segments("ab\xff");
    EXPECT_EQ(s.encoding, SmsEncoding::ucs2);
    EXPECT_EQ(s.units, 3u);
    EXPECT_EQ(count_sms_segments("\xE2\x82").units, 2u) << "a truncated sequence";
    EXPECT_STREQ(to_string(SmsEncoding::gsm7), "gsm7");
    EXPECT_STREQ(to_string(SmsEncoding::ucs2), "ucs2");
}

}  // namespace
}  // namespace testino
