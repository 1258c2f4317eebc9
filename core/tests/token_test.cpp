#include "domain/token.hpp"

#include <gtest/gtest.h>
#include <jwt.h>

#include <ctime>
#include <memory>

namespace testino {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

using JwtPtr = std::unique_ptr<jwt_t, decltype(&jwt_free)>;

JwtPtr decode(const std::string& token, const std::string& key) {
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                              static_cast<int>(key.size()));
    return JwtPtr(rc == 0 ? raw : nullptr, &jwt_free);
}

TEST(Token, IsASignedHs256JwtWithTheDocumentedClaims) {
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(3600));
    const long before = static_cast<long>(std::time(nullptr));
    const Expected<IssuedToken> token = issuer.issue("+12025550123");
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->expires_in.count(), 3600);

    const JwtPtr jwt = decode(token->jwt, kSecret);
    ASSERT_TRUE(jwt) << "the signature does not verify";
    EXPECT_EQ(jwt_get_alg(jwt.get()), JWT_ALG_HS256);
    EXPECT_STREQ(jwt_get_grant(jwt.get(), "sub"), "+12025550123");
    EXPECT_STREQ(jwt_get_grant(jwt.get(), "iss"), "testino-auth");
    const long iat = jwt_get_grant_int(jwt.get(), "iat");
    EXPECT_GE(iat, before);
    EXPECT_LE(iat, before + 5);
    EXPECT_EQ(jwt_get_grant_int(jwt.get(), "exp"), iat + 3600);
    ASSERT_NE(jwt_get_grant(jwt.get(), "jti"), nullptr);
    EXPECT_EQ(std::string(jwt_get_grant(jwt.get(), "jti")).size(), 32u);
}

TEST(Token, DoesNotVerifyUnderAnotherKey) {
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(60));
    const Expected<IssuedToken> token = issuer.issue("+12025550123");
    ASSERT_TRUE(token.ok());
    EXPECT_FALSE(decode(token->jwt, std::string(32, 'x')));
}

TEST(Token, EachTokenHasItsOwnId) {
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(60));
    const JwtPtr a = decode(issuer.issue("+12025550123")->jwt, kSecret);
    const JwtPtr b = decode(issuer.issue("+12025550123")->jwt, kSecret);
    ASSERT_TRUE(a && b);
    EXPECT_STRNE(jwt_get_grant(a.get(), "jti"), jwt_get_grant(b.get(), "jti"));
}

}  // namespace
}  // namespace testino
