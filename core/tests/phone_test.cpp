#include "domain/phone.hpp"

#include <gtest/gtest.h>
#include <phonenumbers/phonenumberutil.h>

namespace testino {
namespace {

std::string e164(std::string_view cc, std::string_view number) {
    const Expected<std::string> r = normalize_phone(cc, number);
    return r ? r.value() : "error:" + r.error().field;
}

TEST(Phone, NormalisesToE164WithOrWithoutPlus) {
    EXPECT_EQ(e164("+1", "2025550123"), "+12025550123");
    EXPECT_EQ(e164("1", "2025550123"), "+12025550123");
}

TEST(Phone, AcceptsSpacesDashesDotsAndParentheses) {
    EXPECT_EQ(e164("+1", "202-555-0143"), "+12025550143");
    EXPECT_EQ(e164("+1", "(202) 555 0199"), "+12025550199");
    EXPECT_EQ(e164("+1", "202.555.0123"), "+12025550123");
    EXPECT_EQ(e164("+44", "7400 123456"), "+447400123456");
}

TEST(Phone, InvalidNumbersNameTheField) {
    EXPECT_EQ(e164("+1", "1234567890"), "error:mobile_number") << "area code 123 does not exist";
    EXPECT_EQ(e164("+1", "12"), "error:mobile_number");
    EXPECT_EQ(e164("+1", "2025550123456789"), "error:mobile_number");
    EXPECT_EQ(e164("+1", "202555012a"), "error:mobile_number");
    EXPECT_EQ(e164("+1", "+12025550123"), "error:mobile_number");
    EXPECT_EQ(e164("+1", ""), "error:mobile_number");
    EXPECT_EQ(e164("+1", "２０２５５５０１２３"), "error:mobile_number") << "full-width digits";
}

TEST(Phone, InvalidCountryCodesNameTheField) {
    EXPECT_EQ(e164("", "2025550123"), "error:country_code");
    EXPECT_EQ(e164("+", "2025550123"), "error:country_code");
    EXPECT_EQ(e164("+0", "2025550123"), "error:country_code");
    EXPECT_EQ(e164("1234", "2025550123"), "error:country_code");
    EXPECT_EQ(e164("US", "2025550123"), "error:country_code");
    EXPECT_EQ(e164("+999", "2025550123"), "error:country_code") << "not assigned";
}

TEST(Phone, NumberMustBelongToTheGivenCountry) {
    EXPECT_EQ(e164("+44", "2025550123"), "error:mobile_number");
}

TEST(Phone, NumbersThatCannotReceiveSmsAreRefused) {
    EXPECT_EQ(e164("+44", "2079460000"), "error:mobile_number") << "UK fixed line";
    EXPECT_EQ(e164("+44", "9098790000"), "error:mobile_number") << "UK premium rate";
}

TEST(Phone, ARepeatedNumberGetsTheSameVerdict) {
    // The second call of each is answered from the verdict cache.
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(e164("+1", "202 555 0123"), "+12025550123");
        EXPECT_EQ(e164("1", "(202) 555-0123"), "+12025550123") << "same digits, other spelling";
        EXPECT_EQ(e164("+1", "1234567890"), "error:mobile_number");
        EXPECT_EQ(e164("+44", "2079460000"), "error:mobile_number");
        EXPECT_EQ(e164("+44", "7400 123456"), "+447400123456");
    }
    const Expected<std::string> fixed = normalize_phone("+44", "2079460000");
    ASSERT_FALSE(fixed);
    EXPECT_EQ(fixed.error().message, "mobile_number cannot receive SMS messages");
    const Expected<std::string> invalid = normalize_phone("+1", "1234567890");
    ASSERT_FALSE(invalid);
    EXPECT_EQ(invalid.error().message, "mobile_number is not a valid phone number for +1");
}

TEST(Phone, VoipNumbersAreRefusedUnlessThePolicyAllowsThem) {
    // +44 56 is the UK's VOIP range (libphonenumber's example number). Asked twice each way,
    // so the answer from the verdict cache follows the policy too.
    for (int round = 0; round < 2; ++round) {
        const Expected<std::string> refused = normalize_phone("+44", "5612345678");
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().field, "mobile_number");
        EXPECT_EQ(refused.error().message, "mobile_number is a VOIP number, which cannot receive codes here");
        const Expected<std::string> allowed = normalize_phone("+44", "5612345678", NumberPolicy{true});
        ASSERT_TRUE(allowed);
        EXPECT_EQ(allowed.value(), "+445612345678");
    }
    EXPECT_FALSE(normalize_e164("+445612345678"));
    EXPECT_TRUE(normalize_e164("+445612345678", NumberPolicy{true}));
    EXPECT_TRUE(normalize_phone("+44", "7400123456")) << "a mobile is not affected";
}

TEST(Phone, TheCacheKeySeparatesCallingCodeFromDigits) {
    // "+1" "4420794600" and "+44" "20794600..." share the digit string "1442079460...".
    EXPECT_EQ(e164("+44", "7400123456"), "+447400123456");
    EXPECT_EQ(e164("+4", "47400123456"), "error:country_code");
    EXPECT_EQ(e164("+1", "447400123456"), "error:mobile_number");
}

TEST(Phone, KnownCallingCodesAreLibphonenumbersRegions) {
    // The start-up table of calling codes says what GetRegionCodeForCountryCode() says.
    const auto& util = *i18n::phonenumbers::PhoneNumberUtil::GetInstance();
    for (int code = 1; code < 1000; ++code) {
        std::string region;
        util.GetRegionCodeForCountryCode(code, &region);
        const bool refused = e164(std::to_string(code), "2025550123") == "error:country_code";
        EXPECT_EQ(refused, region == "ZZ") << "+" << code;
    }
}

}  // namespace
}  // namespace testino
