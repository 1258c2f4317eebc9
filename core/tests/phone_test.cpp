#include "domain/phone.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace testino
