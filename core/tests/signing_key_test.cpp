#include "domain/signing_key.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <jwt.h>
#include <rapidjson/document.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "openssl_test_keys.hpp"

namespace testino {
namespace {

using test::Pkey;
using ::testing::HasSubstr;
using ::testing::Not;

JwtClaims sample_claims() {
    JwtClaims claims;
    claims.sub = "+12025550123";
    claims.iss = "testino-auth";
    claims.jti = "0123456789abcdef0123456789abcdef";
    claims.iat = 1700000000;
    claims.exp = 1700003600;
    return claims;
}

rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    EXPECT_FALSE(doc.HasParseError()) << text;
    return doc;
}

std::string member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject() || !object.HasMember(name) || !object[name].IsString()) return "<missing>";
    return object[name].GetString();
}

// The token's header, decoded and parsed.
rapidjson::Document header_of(const std::string& token) {
    return parse_json(test::base64url_decode(token.substr(0, token.find('.'))).value_or(""));
}

std::string segment(const std::string& token, int index) {
    std::size_t start = 0;
    for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
    return token.substr(start, token.find('.', start) - start);
}

// libjwt 1.10 verifies HS256, RS256 and ES256 (with a PEM public key); it has no EdDSA.
bool libjwt_verifies(const std::string& token, const std::string& key) {
    jwt_t* jwt = nullptr;
    const int rc = jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                              static_cast<int>(key.size()));
    jwt_free(jwt);
    return rc == 0;
}

std::string message_of(const std::function<void()>& load) {
    try {
        load();
    } catch (const KeyError& e) {
        return e.what();
    }
    return "<no KeyError>";
}

std::string refusal(JwtAlgorithm algorithm, const std::string& pem) {
    return message_of([&] { SigningKey::from_pem(algorithm, "", pem); });
}

// --- algorithms ---

TEST(SigningKeyAlgorithm, ParsesTheJwsNamesExactly) {
    for (const JwtAlgorithm a :
         {JwtAlgorithm::hs256, JwtAlgorithm::es256, JwtAlgorithm::eddsa, JwtAlgorithm::rs256}) {
        EXPECT_EQ(parse_jwt_algorithm(to_string(a)), a);
    }
    EXPECT_STREQ(to_string(JwtAlgorithm::eddsa), "EdDSA");
    EXPECT_FALSE(parse_jwt_algorithm("es256"));
    EXPECT_FALSE(parse_jwt_algorithm("none"));
    EXPECT_FALSE(parse_jwt_algorithm("ES384"));
    EXPECT_FALSE(parse_jwt_algorithm(""));
    EXPECT_FALSE(is_asymmetric(JwtAlgorithm::hs256));
    EXPECT_TRUE(is_asymmetric(JwtAlgorithm::es256) && is_asymmetric(JwtAlgorithm::eddsa) &&
                is_asymmetric(JwtAlgorithm::rs256));
}

// --- asymmetric keys, one test run per algorithm ---

struct Case {
    JwtAlgorithm algorithm;
    const char* alg;
    std::function<Pkey()> make;
    bool libjwt_knows;
};

class SigningKeyAsymmetric : public ::testing::TestWithParam<Case> {};

TEST_P(SigningKeyAsymmetric, TokensVerifyWithOpenSslAndLibjwt) {
    const Pkey pkey = GetParam().make();
    ASSERT_TRUE(pkey);
    const SigningKey key = SigningKey::from_pem(GetParam().algorithm, "key-1", test::private_pem(pkey.get()));
    EXPECT_EQ(key.kid(), "key-1");
    EXPECT_EQ(key.algorithm(), GetParam().algorithm);
    const std::string token = key.sign_jwt(sample_claims());

    const rapidjson::Document header = header_of(token);
    EXPECT_EQ(member(header, "alg"), GetParam().alg);
    EXPECT_EQ(member(header, "typ"), "JWT");
    EXPECT_EQ(member(header, "kid"), "key-1");
    EXPECT_EQ(header.MemberCount(), 3u);
    EXPECT_EQ(segment(token, 1), segment(sign_hs256_jwt(std::string(32, 'k'), sample_claims()), 1))
        << "the same claims as HS256";

    EXPECT_TRUE(test::openssl_verifies(pkey.get(), GetParam().alg, token));
    if (GetParam().libjwt_knows) {
        EXPECT_TRUE(libjwt_verifies(token, test::public_pem(pkey.get())));
    } else {
        EXPECT_FALSE(libjwt_verifies(token, test::public_pem(pkey.get()))) << "libjwt 1.10 has no EdDSA";
    }
    std::string tampered = token;
    tampered[token.find('.') + 3] ^= 1;
    EXPECT_FALSE(test::openssl_verifies(pkey.get(), GetParam().alg, tampered));
    const Pkey other = GetParam().make();
    EXPECT_FALSE(test::openssl_verifies(other.get(), GetParam().alg, token)) << "not under another key";
}

TEST_P(SigningKeyAsymmetric, JwkRoundTripsIntoOpenSslAndVerifiesItsTokens) {
    const SigningKey key = SigningKey::generate(GetParam().algorithm, "");
    const rapidjson::Document jwk = parse_json(key.public_jwk());
    const std::string kty = member(jwk, "kty");
    EXPECT_EQ(member(jwk, "alg"), GetParam().alg);
    EXPECT_EQ(member(jwk, "use"), "sig");
    EXPECT_EQ(member(jwk, "kid"), key.kid());
    EXPECT_FALSE(jwk.HasMember("d") || jwk.HasMember("p") || jwk.HasMember("q")) << "no private part";

    Pkey from_jwk;
    std::vector<std::pair<std::string, std::string>> required{{"kty", kty}};
    if (kty == "EC") {
        EXPECT_EQ(member(jwk, "crv"), "P-256");
        from_jwk = test::public_key_from_jwk(kty, member(jwk, "x"), member(jwk, "y"));
        required.insert(required.end(), {{"crv", "P-256"}, {"x", member(jwk, "x")}, {"y", member(jwk, "y")}});
    } else if (kty == "OKP") {
        EXPECT_EQ(member(jwk, "crv"), "Ed25519");
        from_jwk = test::public_key_from_jwk(kty, member(jwk, "x"), "");
        required.insert(required.end(), {{"crv", "Ed25519"}, {"x", member(jwk, "x")}});
    } else {
        EXPECT_EQ(kty, "RSA");
        from_jwk = test::public_key_from_jwk(kty, member(jwk, "n"), member(jwk, "e"));
        required.insert(required.end(), {{"n", member(jwk, "n")}, {"e", member(jwk, "e")}});
    }
    ASSERT_TRUE(from_jwk) << key.public_jwk();
    EXPECT_TRUE(test::openssl_verifies(from_jwk.get(), GetParam().alg, key.sign_jwt(sample_claims())));
    EXPECT_EQ(key.thumbprint(), jwk_thumbprint(required));
    EXPECT_EQ(key.kid(), key.thumbprint()) << "the default kid is the RFC 7638 thumbprint";
    EXPECT_EQ(key.thumbprint().size(), 43u);
}

TEST_P(SigningKeyAsymmetric, SignsFromManyThreadsAtOnce) {
    const SigningKey key = SigningKey::generate(GetParam().algorithm, "k");
    const rapidjson::Document jwk = parse_json(key.public_jwk());
    const bool rsa = GetParam().algorithm == JwtAlgorithm::rs256;
    const Pkey verifier = test::public_key_from_jwk(member(jwk, "kty"), member(jwk, rsa ? "n" : "x"),
                                                    member(jwk, rsa ? "e" : "y"));
    ASSERT_TRUE(verifier);
    const int per_thread = rsa ? 20 : 200;
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            std::vector<std::string> tokens;
            for (int i = 0; i < per_thread; ++i) tokens.push_back(key.sign_jwt(sample_claims()));
            for (const std::string& token : tokens) {
                if (!test::openssl_verifies(verifier.get(), GetParam().alg, token)) ++bad;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(bad.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    SigningKey, SigningKeyAsymmetric,
    ::testing::Values(Case{JwtAlgorithm::es256, "ES256", [] { return test::keygen_ec("P-256"); }, true},
                      Case{JwtAlgorithm::eddsa, "EdDSA", [] { return test::keygen("ED25519"); }, false},
                      Case{JwtAlgorithm::rs256, "RS256", [] { return test::keygen_rsa(2048); }, true}),
    [](const auto& info) { return std::string(info.param.alg); });

TEST(SigningKey, ReadsTraditionalPemsAndSkipsOtherBlocks) {
    const Pkey ec = test::keygen_ec("P-256");
    const Pkey rsa = test::keygen_rsa(2048);
    // As `openssl ecparam -genkey` writes it: an "EC PARAMETERS" block, then "EC PRIVATE KEY".
    const std::string ecparam =
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    const std::string ec_pem = ecparam + test::traditional_pem(ec.get());
    ASSERT_THAT(ec_pem, HasSubstr("BEGIN EC PRIVATE KEY"));
    const SigningKey es = SigningKey::from_pem(JwtAlgorithm::es256, "", ec_pem);
    EXPECT_TRUE(test::openssl_verifies(ec.get(), "ES256", es.sign_jwt(sample_claims())));

    const std::string rsa_pem = test::traditional_pem(rsa.get());
    ASSERT_THAT(rsa_pem, HasSubstr("BEGIN RSA PRIVATE KEY"));
    const SigningKey rs = SigningKey::from_pem(JwtAlgorithm::rs256, "", rsa_pem);
    EXPECT_TRUE(test::openssl_verifies(rsa.get(), "RS256", rs.sign_jwt(sample_claims())));

    // A certificate followed by its key (a common bundle).
    const SigningKey bundle = SigningKey::from_pem(
        JwtAlgorithm::es256, "", test::certificate_pem(ec.get()) + test::private_pem(ec.get()));
    EXPECT_EQ(bundle.thumbprint(), es.thumbprint());
}

TEST(SigningKey, EcCoordinatesAreAlways32Bytes) {
    // About 1 key in 128 has an x or y below 2^248; look for one so that the padding is tested.
    int short_coordinates = 0;
    for (int i = 0; i < 3000 && short_coordinates < 2; ++i) {
        const SigningKey key = SigningKey::generate(JwtAlgorithm::es256, "k");
        const rapidjson::Document jwk = parse_json(key.public_jwk());
        for (const char* name : {"x", "y"}) {
            const std::string bytes = test::base64url_decode(member(jwk, name)).value_or("");
            ASSERT_EQ(bytes.size(), 32u) << key.public_jwk();
            if (bytes[0] == '\0') ++short_coordinates;
        }
    }
    EXPECT_GT(short_coordinates, 0) << "no key with a leading zero byte came up";
}

TEST(SigningKey, RsaModulusHasNoLeadingZeroByte) {
    const SigningKey key = SigningKey::generate(JwtAlgorithm::rs256, "");
    const rapidjson::Document jwk = parse_json(key.public_jwk());
    const std::string n = test::base64url_decode(member(jwk, "n")).value_or("");
    ASSERT_EQ(n.size(), 256u);
    EXPECT_NE(n[0], '\0');
    EXPECT_EQ(member(jwk, "e"), "AQAB");
}

TEST(SigningKey, EachEs256SignatureIsFresh) {
    const SigningKey key = SigningKey::generate(JwtAlgorithm::es256, "k");
    EXPECT_NE(key.sign_jwt(sample_claims()), key.sign_jwt(sample_claims())) << "ECDSA takes a new nonce";
    EXPECT_EQ(test::base64url_decode(segment(key.sign_jwt(sample_claims()), 2))->size(), 64u)
        << "r||s, not DER";
}

TEST(SigningKey, MovedKeySignsOn) {
    SigningKey key = SigningKey::generate(JwtAlgorithm::eddsa, "k");
    const std::string jwk = key.public_jwk();
    SigningKey moved = std::move(key);
    EXPECT_EQ(moved.public_jwk(), jwk);
    EXPECT_EQ(segment(moved.sign_jwt(sample_claims()), 1),
              segment(sign_hs256_jwt(std::string(32, 'k'), sample_claims()), 1));
}

// --- HS256 ---

TEST(SigningKeyHs256, IsSignHs256JwtWithAKid) {
    const std::string secret = "0123456789abcdef0123456789abcdef";
    const SigningKey key = SigningKey::from_secret("hs-1", secret);
    const std::string token = key.sign_jwt(sample_claims());
    const std::string plain = sign_hs256_jwt(secret, sample_claims());
    EXPECT_EQ(test::base64url_decode(segment(token, 0)), R"({"alg":"HS256","typ":"JWT","kid":"hs-1"})");
    EXPECT_EQ(segment(token, 1), segment(plain, 1)) << "the same claims, byte for byte";
    EXPECT_TRUE(libjwt_verifies(token, secret));
    EXPECT_FALSE(libjwt_verifies(token, std::string(32, 'x')));
    EXPECT_EQ(key.signature(segment(plain, 0) + "." + segment(plain, 1)), segment(plain, 2));
    EXPECT_EQ(key.public_jwk(), "") << "a symmetric key is never published";
    EXPECT_EQ(key.thumbprint(), "");
}

TEST(SigningKeyHs256, AudienceIsAClaimWhenSet) {
    const std::string secret(32, 's');
    JwtClaims claims = sample_claims();
    EXPECT_THAT(*test::base64url_decode(segment(sign_hs256_jwt(secret, claims), 1)), Not(HasSubstr("aud")));
    claims.aud = "api.example.com";
    const std::string token = SigningKey::from_secret("k", secret).sign_jwt(claims);
    const rapidjson::Document payload = parse_json(*test::base64url_decode(segment(token, 1)));
    EXPECT_EQ(member(payload, "aud"), "api.example.com");
    EXPECT_TRUE(libjwt_verifies(token, secret));
}

TEST(SigningKeyHs256, DefaultKidIsDerivedAndRevealsNothing) {
    const std::string secret = "0123456789abcdef0123456789abcdef";
    const SigningKey a = SigningKey::from_secret("", secret);
    EXPECT_EQ(a.kid().size(), 16u);
    EXPECT_EQ(a.kid(), SigningKey::from_secret("", secret).kid()) << "stable across restarts";
    EXPECT_NE(a.kid(), SigningKey::from_secret("", std::string(32, 'x')).kid());
    EXPECT_THAT(secret, Not(HasSubstr(a.kid())));
    EXPECT_THAT(a.kid(), Not(HasSubstr("0123")));
}

TEST(SigningKeyHs256, GeneratedSecretSigns) {
    const SigningKey key = SigningKey::generate(JwtAlgorithm::hs256, "dev");
    EXPECT_EQ(member(header_of(key.sign_jwt(sample_claims())), "kid"), "dev");
}

// --- refusals ---

TEST(SigningKeyRefusal, ShortSecret) {
    const std::string secret = "0123456789abcdef0123456789abcde";  // 31 bytes
    const std::string message = message_of([&] { SigningKey::from_secret("", secret); });
    EXPECT_THAT(message, HasSubstr("HS256 needs a secret of at least 32 bytes; this one has 31"));
    EXPECT_THAT(message, Not(HasSubstr(secret)));
}

TEST(SigningKeyRefusal, NotPem) {
    EXPECT_THAT(refusal(JwtAlgorithm::es256, "not a key at all"), HasSubstr("not PEM"));
    EXPECT_THAT(refusal(JwtAlgorithm::es256, ""), HasSubstr("not PEM"));
    EXPECT_THAT(message_of([] { SigningKey::from_pem(JwtAlgorithm::hs256, "", "x"); }),
                HasSubstr("HS256 takes a secret"));
}

TEST(SigningKeyRefusal, PublicKeyAndCertificate) {
    const Pkey ec = test::keygen_ec("P-256");
    EXPECT_THAT(refusal(JwtAlgorithm::es256, test::public_pem(ec.get())),
                HasSubstr("a public key (PEM \"PUBLIC KEY\"), not a private key"));
    EXPECT_THAT(refusal(JwtAlgorithm::es256, test::certificate_pem(ec.get())), HasSubstr("a certificate"));
}

TEST(SigningKeyRefusal, EncryptedPemWithoutPrompting) {
    // stdin is not read and no terminal is opened: the password callback refuses at once.
    const Pkey ec = test::keygen_ec("P-256");
    const std::string pkcs8 = test::encrypted_pkcs8_pem(ec.get());
    ASSERT_THAT(pkcs8, HasSubstr("BEGIN ENCRYPTED PRIVATE KEY"));
    EXPECT_THAT(refusal(JwtAlgorithm::es256, pkcs8),
                HasSubstr("encrypted, and passphrases are not supported"));
    const std::string legacy = test::encrypted_traditional_pem(ec.get());
    ASSERT_THAT(legacy, HasSubstr("Proc-Type: 4,ENCRYPTED"));
    EXPECT_THAT(refusal(JwtAlgorithm::es256, legacy),
                HasSubstr("encrypted, and passphrases are not supported"));
}

// OpenSSL's default password callback prompts on the controlling terminal ("Enter PEM pass
// phrase:") and waits. A child on a pseudo-terminal loads both encrypted forms: it must
// end at once with KeyErrors, and print nothing there.
TEST(SigningKeyRefusal, EncryptedPemNeverPromptsOnATerminal) {
    const Pkey ec = test::keygen_ec("P-256");
    const std::string pkcs8 = test::encrypted_pkcs8_pem(ec.get());
    const std::string legacy = test::encrypted_traditional_pem(ec.get());
    int terminal = -1;
    const pid_t child = forkpty(&terminal, nullptr, nullptr, nullptr);
    ASSERT_GE(child, 0);
    if (child == 0) {
        int refused = 0;
        for (const std::string* pem : {&pkcs8, &legacy}) {
            try {
                SigningKey::from_pem(JwtAlgorithm::es256, "", *pem);
            } catch (const KeyError&) {
                ++refused;
            }
        }
        _exit(refused == 2 ? 0 : 1);
    }
    std::string shown;
    int status = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            status = -1;
            break;
        }
        pollfd fd{terminal, POLLIN, 0};
        char buffer[256];
        if (poll(&fd, 1, 50) > 0) {
            const ssize_t n = read(terminal, buffer, sizeof buffer);
            if (n > 0) shown.append(buffer, static_cast<std::size_t>(n));
        }
    }
    close(terminal);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "still waiting after 10 s, or not refused";
    EXPECT_THAT(shown, Not(HasSubstr("pass phrase")));
}

TEST(SigningKeyRefusal, CorruptPrivateKey) {
    const std::string pem = "-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
    EXPECT_THAT(refusal(JwtAlgorithm::es256, pem), HasSubstr("the PEM private key could not be read"));
}

TEST(SigningKeyRefusal, WrongCurveForEs256) {
    const Pkey p384 = test::keygen_ec("P-384");
    EXPECT_THAT(refusal(JwtAlgorithm::es256, test::private_pem(p384.get())),
                HasSubstr("ES256 needs an EC key on P-256 (prime256v1); this one is on P-384 (secp384r1)"));
    const Pkey k1 = test::keygen_ec("secp256k1");
    EXPECT_THAT(refusal(JwtAlgorithm::es256, test::private_pem(k1.get())),
                HasSubstr("this one is on secp256k1"));
}

TEST(SigningKeyRefusal, WeakRsa) {
    const Pkey rsa = test::keygen_rsa(1024);
    const std::string pem = test::private_pem(rsa.get());
    const std::string message = refusal(JwtAlgorithm::rs256, pem);
    EXPECT_THAT(message, HasSubstr("RS256 needs an RSA key of at least 2048 bits; this one has 1024"));
    std::istringstream lines(pem);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("-----", 0) != 0) {
            EXPECT_THAT(message, Not(HasSubstr(line))) << "no key bytes in messages";
        }
    }
}

TEST(SigningKeyRefusal, KeyOfAnotherAlgorithm) {
    const std::string ed25519 = test::private_pem(test::keygen("ED25519").get());
    const std::string ed448 = test::private_pem(test::keygen("ED448").get());
    const std::string p256 = test::private_pem(test::keygen_ec("P-256").get());
    const std::string rsa = test::private_pem(test::keygen_rsa(2048).get());
    EXPECT_THAT(refusal(JwtAlgorithm::es256, ed25519),
                HasSubstr("an Ed25519 key, but the algorithm is ES256"));
    EXPECT_THAT(refusal(JwtAlgorithm::es256, rsa),
                HasSubstr("a 2048-bit RSA key, but the algorithm is ES256"));
    EXPECT_THAT(refusal(JwtAlgorithm::eddsa, ed448),
                HasSubstr("an Ed448 key, but the algorithm is EdDSA, which needs an Ed25519 key"));
    EXPECT_THAT(refusal(JwtAlgorithm::eddsa, p256),
                HasSubstr("an EC key on P-256 (prime256v1), but the algorithm is EdDSA"));
    EXPECT_THAT(refusal(JwtAlgorithm::rs256, p256),
                HasSubstr("but the algorithm is RS256, which needs an RSA key"));
    EXPECT_THAT(refusal(JwtAlgorithm::rs256, ed25519),
                HasSubstr("an Ed25519 key, but the algorithm is RS256"));
}

// --- JWKS and the RFC vectors ---

TEST(SigningKeyJwks, ListsTheAsymmetricKeysOnly) {
    const SigningKey es = SigningKey::generate(JwtAlgorithm::es256, "es");
    const SigningKey hs = SigningKey::generate(JwtAlgorithm::hs256, "hs");
    const SigningKey ed = SigningKey::generate(JwtAlgorithm::eddsa, "ed");
    const rapidjson::Document doc = parse_json(jwks_document({&es, &hs, nullptr, &ed}));
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("keys") && doc["keys"].IsArray());
    ASSERT_EQ(doc["keys"].Size(), 2u);
    EXPECT_EQ(member(doc["keys"][0], "kid"), "es");
    EXPECT_EQ(member(doc["keys"][1], "kid"), "ed");
    EXPECT_EQ(jwks_document({&hs}), R"({"keys":[]})");
}

rapidjson::Document vector_file(const std::string& name) {
    std::ifstream in(std::string(TESTINO_JOSE_VECTORS_DIR) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return parse_json(text.str());
}

TEST(SigningKeyVectors, Rfc7638Thumbprint) {
    const rapidjson::Document v = vector_file("rfc7638-rsa.json");
    const rapidjson::Value& jwk = v["jwk"];
    const std::string expected = member(v, "thumbprint");
    EXPECT_EQ(jwk_thumbprint({{"kty", "RSA"}, {"n", member(jwk, "n")}, {"e", member(jwk, "e")}}), expected);
    EXPECT_EQ(jwk_thumbprint({{"e", member(jwk, "e")}, {"n", member(jwk, "n")}, {"kty", "RSA"}}), expected)
        << "any order in, sorted inside";
    EXPECT_TRUE(test::public_key_from_jwk("RSA", member(jwk, "n"), member(jwk, "e")))
        << "a valid RSA public key";
}

TEST(SigningKeyVectors, Rfc8037Ed25519) {
    const rapidjson::Document v = vector_file("rfc8037-ed25519.json");
    const std::string d = test::base64url_decode(member(v["private_jwk"], "d")).value_or("");
    const Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(d.data()), d.size()));
    ASSERT_TRUE(pkey);
    const SigningKey key = SigningKey::from_pem(JwtAlgorithm::eddsa, "", test::private_pem(pkey.get()));
    const rapidjson::Document jwk = parse_json(key.public_jwk());
    EXPECT_EQ(member(jwk, "x"), member(v["private_jwk"], "x"));
    EXPECT_EQ(key.thumbprint(), member(v, "thumbprint"));
    EXPECT_EQ(key.signature(member(v, "signing_input")), member(v, "signature"))
        << "Ed25519 is deterministic";
}

}  // namespace
}  // namespace testino
