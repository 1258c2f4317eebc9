#include "domain/token.hpp"

#include <gtest/gtest.h>
#include <jwt.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "domain/jwt_hs256.hpp"

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

TEST(Token, HeaderSaysHs256Jwt) {
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(60));
    const std::string token = issuer.issue("+12025550123")->jwt;
    const JwtPtr jwt = decode(token, kSecret);
    ASSERT_TRUE(jwt);
    EXPECT_STREQ(jwt_get_header(jwt.get(), "alg"), "HS256");
    EXPECT_STREQ(jwt_get_header(jwt.get(), "typ"), "JWT");
    EXPECT_EQ(token.find('='), std::string::npos) << "base64url has no padding";
}

TEST(Token, ATamperedTokenDoesNotVerify) {
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(60));
    std::string token = issuer.issue("+12025550123")->jwt;
    const std::size_t dot = token.find('.');
    token[dot + 5] = token[dot + 5] == 'A' ? 'B' : 'A';  // a byte of the claims
    EXPECT_FALSE(decode(token, kSecret));
}

TEST(Token, ClaimsAreJsonEscaped) {
    const TokenIssuer issuer(kSecret, "a \"quoted\" issuer\\", std::chrono::seconds(60));
    const JwtPtr jwt = decode(issuer.issue("+12025550123")->jwt, kSecret);
    ASSERT_TRUE(jwt);
    EXPECT_STREQ(jwt_get_grant(jwt.get(), "iss"), "a \"quoted\" issuer\\");
}

TEST(Base64Url, Rfc4648Vectors) {
    // RFC 4648 §10, in the URL-safe alphabet without padding.
    EXPECT_EQ(base64url(""), "");
    EXPECT_EQ(base64url("f"), "Zg");
    EXPECT_EQ(base64url("fo"), "Zm8");
    EXPECT_EQ(base64url("foo"), "Zm9v");
    EXPECT_EQ(base64url("foob"), "Zm9vYg");
    EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64url("\xfb\xff\xbf"), "-_-_") << "the URL-safe characters";
}

// A verifier independent of both libjwt and our signer: PyJWT (Debian's python3-jwt).
TEST(Token, VerifiesWithPyJwt) {
    if (std::system("/usr/bin/python3 -c 'import jwt' 2>/dev/null") != 0) {
        GTEST_SKIP() << "python3-jwt is not installed (scripts/setup.sh installs it)";
    }
    const TokenIssuer issuer(kSecret, "testino-auth", std::chrono::seconds(3600));
    const std::string token = issuer.issue("+12025550123")->jwt;
    // Token and key are base64url and hex: safe on a command line.
    const std::string command =
        "/usr/bin/python3 -c \"import jwt, sys; c = jwt.decode(sys.argv[1], sys.argv[2], "
        "algorithms=['HS256'], issuer='testino-auth'); "
        "print(c['sub'], c['exp'] - c['iat'], len(c['jti']))\" " +
        token + " " + kSecret + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    EXPECT_EQ(pclose(pipe), 0) << out;
    EXPECT_EQ(out, "+12025550123 3600 32\n");

    const std::string wrong_key =
        "/usr/bin/python3 -c \"import jwt, sys; jwt.decode(sys.argv[1], 'x' * 32, "
        "algorithms=['HS256'])\" " +
        token + " >/dev/null 2>&1";
    EXPECT_NE(std::system(wrong_key.c_str()), 0) << "PyJWT refuses it under another key";
}

}  // namespace
}  // namespace testino
