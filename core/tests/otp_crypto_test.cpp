#include "domain/otp_crypto.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>

namespace testino {
namespace {

TEST(GenerateCode, HasTheRequestedNumberOfDigits) {
    for (int length : {4, 6, 8, 10}) {
        const std::string code = generate_code(length);
        EXPECT_EQ(code.size(), static_cast<std::size_t>(length));
        EXPECT_EQ(code.find_first_not_of("0123456789"), std::string::npos) << code;
    }
}

TEST(GenerateCode, KeepsLeadingZeros) {
    // 1 in 10 codes starts with 0; over 2000 draws, missing them all means zeros are dropped.
    bool leading_zero = false;
    for (int i = 0; i < 2000 && !leading_zero; ++i) leading_zero = generate_code(6)[0] == '0';
    EXPECT_TRUE(leading_zero);
}

TEST(GenerateCode, DigitsAreUniform) {
    // Chi-squared over the 10 digits of 20,000 6-digit codes; df = 9, p = 0.0001 at 33.7.
    std::array<int, 10> counts{};
    const int codes = 20000;
    for (int i = 0; i < codes; ++i) {
        for (char c : generate_code(6)) ++counts[static_cast<std::size_t>(c - '0')];
    }
    const double expected = codes * 6 / 10.0;
    double chi2 = 0;
    for (int n : counts) chi2 += (n - expected) * (n - expected) / expected;
    EXPECT_LT(chi2, 33.7);
}

TEST(GenerateCode, DoesNotRepeatMuch) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(generate_code(10));
    EXPECT_GT(seen.size(), 995u);
}

TEST(DigestCode, IsHmacSha256OfNumberAndCode) {
    // Computed independently: printf '+12025550123:123456' | openssl dgst -sha256 -hmac key
    const sdk::CodeDigest d = digest_code("key", "+12025550123", "123456");
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (auto b : d) text += {hex[b >> 4], hex[b & 15]};
    EXPECT_EQ(text, "9321d55680988e53a0bdf2be1d1c3e4382d71b69c4a74517e19eb3b94c561ecc");
}

TEST(DigestCode, DependsOnKeyNumberAndCode) {
    const auto base = digest_code("key", "+12025550123", "123456");
    EXPECT_NE(base, digest_code("key2", "+12025550123", "123456"));
    EXPECT_NE(base, digest_code("key", "+12025550124", "123456"));
    EXPECT_NE(base, digest_code("key", "+12025550123", "123457"));
    EXPECT_EQ(base, digest_code("key", "+12025550123", "123456"));
}

TEST(RandomHex, HasTwoCharactersPerByte) {
    const std::string a = random_hex(16);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a, random_hex(16));
}

}  // namespace
}  // namespace testino
