// Access tokens signed with private keys: GET /.well-known/jwks.json, tokens checked by an
// independent verifier (PyJWT fetching our JWKS, tools/pyjwt_verify.py), a key rotation
// performed step by step on two instances, and the start-up errors for bad keys.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kHmacSecret = "integration-otp-hmac-secret-0123456789";

// `openssl genpkey` arguments for each algorithm's key.
std::vector<std::string> genpkey_args(const std::string& algorithm) {
    if (algorithm == "EdDSA") return {"-algorithm", "ED25519"};
    if (algorithm == "RS256") return {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"};
    if (algorithm == "RS1024") return {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"};
    if (algorithm == "P-384") return {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"};
    return {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"};
}

// A fresh PEM private key at dir/name.
std::string make_key(const TempDir& dir, const std::string& name, const std::string& algorithm) {
    const std::string path = dir.file(name);
    ProcessSpec spec;
    spec.binary = "/usr/bin/openssl";
    spec.args = {"genpkey"};
    for (const auto& a : genpkey_args(algorithm)) spec.args.push_back(a);
    spec.args.push_back("-out");
    spec.args.push_back(path);
    const ProcessResult r = ServerProcess::run_to_exit(spec, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    return path;
}

struct Key {
    std::string kid;
    std::string file;
};

TestConfig config_with_keys(const std::string& algorithm, const std::vector<Key>& keys,
                            const std::string& signing_kid = "") {
    TestConfig config;
    config.token.erase("secret");
    config.token["algorithm"] = algorithm;
    std::string list = "[";
    for (const Key& k : keys) {
        list += (list.size() > 1 ? ", " : "") + std::string("{kid: \"") + k.kid + "\", private_key_file: \"" +
                k.file + "\"}";
    }
    config.token["keys"] = list + "]";
    if (!signing_kid.empty()) config.token["signing_kid"] = "\"" + signing_kid + "\"";
    config.otp["hmac_secret"] = std::string("\"") + kHmacSecret + "\"";
    return config;
}

std::string sign_in(ServerProcess& server, const std::string& number) {
    HttpClient client(server.port());
    const std::string e164 = "+1" + number;
    const std::string code = send_and_read_console_code(server, client, "+1", number, e164);
    const HttpResponse r = client.post_json(kVerifyOtp, verify_body("+1", number, code));
    EXPECT_EQ(r.status, 200) << r.body;
    return json_string(parse_json(r.body), "access_token");
}

std::string jwks_url(const ServerProcess& server) {
    return "http://127.0.0.1:" + std::to_string(server.port()) + "/.well-known/jwks.json";
}

// What PyJWT says of `token` with `server`'s JWKS: "verified <sub>" or "refused <why>".
std::string pyjwt(const ServerProcess& server, const std::string& token,
                  std::vector<std::string> extra = {}) {
    ProcessSpec spec;
    spec.binary = "/usr/bin/python3";
    spec.args = {std::string(TESTINO_SOURCE_DIR) + "/tests/integration/tools/pyjwt_verify.py",
                 jwks_url(server), token, "testino-auth"};
    for (auto& e : extra) spec.args.push_back(std::move(e));
    const ProcessResult r = ServerProcess::run_to_exit(spec, std::chrono::seconds(30));
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.stdout_text << r.stderr_text;
    std::string line = r.stdout_text;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

std::vector<std::string> published_kids(ServerProcess& server) {
    HttpClient client(server.port());
    const HttpResponse r = client.get("/.well-known/jwks.json");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> kids;
    const auto doc = parse_json(r.body);
    if (!doc.IsObject() || !doc.HasMember("keys") || !doc["keys"].IsArray()) return kids;
    for (const auto& k : doc["keys"].GetArray()) kids.push_back(json_string(k, "kid"));
    return kids;
}

class TokenKeysTest : public ::testing::TestWithParam<const char*> {
protected:
    TempDir keys_;
};

// Each algorithm: the token names its key, PyJWT verifies it from our JWKS alone, and
// refuses it tampered, under another kid, as alg none, and once expired.
TEST_P(TokenKeysTest, AnIndependentVerifierAcceptsOurTokensAndRefusesForgeries) {
    const std::string algorithm = GetParam();
    const std::string key = make_key(keys_, "a.pem", algorithm);
    auto server = start_server(config_with_keys(algorithm, {{"key-a", key}}));
    ASSERT_TRUE(server);
    const std::string token = sign_in(*server, "2025550140");
    const auto jwt = decode_jwt(token, "");
    ASSERT_TRUE(jwt) << token;
    EXPECT_EQ(json_string(jwt->header, "alg"), algorithm);
    EXPECT_EQ(json_string(jwt->header, "kid"), "key-a");
    EXPECT_EQ(json_string(jwt->header, "typ"), "JWT");

    EXPECT_EQ(pyjwt(*server, token), "verified +12025550140");
    EXPECT_EQ(pyjwt(*server, token, {"--alter", "payload"}).rfind("refused InvalidSignatureError", 0), 0u);
    EXPECT_EQ(pyjwt(*server, token, {"--alter", "kid"}).rfind("refused PyJWKClientError", 0), 0u);
    EXPECT_EQ(pyjwt(*server, token, {"--alter", "alg-none"}).rfind("refused InvalidAlgorithmError", 0), 0u);
    // token.ttl_seconds is 3600 by default: an hour and a second later it has expired.
    EXPECT_EQ(pyjwt(*server, token, {"--later", "3601"}).rfind("refused ExpiredSignatureError", 0), 0u);
    EXPECT_EQ(pyjwt(*server, token, {"--later", "3500"}), "verified +12025550140");
}

INSTANTIATE_TEST_SUITE_P(Algorithms, TokenKeysTest, ::testing::Values("ES256", "EdDSA", "RS256"));

TEST(TokenJwksTest, ServesThePublicKeysWithCacheControlAndNoPrivatePart) {
    TempDir keys;
    const std::string a = make_key(keys, "a.pem", "ES256");
    const std::string b = make_key(keys, "b.pem", "ES256");
    TestConfig config = config_with_keys("ES256", {{"key-a", a}, {"key-b", b}});
    config.token["jwks_max_age_seconds"] = "120";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const HttpResponse r = client.get("/.well-known/jwks.json");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "public, max-age=120");
    EXPECT_NE(r.header("Content-Type").find("application/json"), std::string::npos);
    const auto doc = parse_json(r.body);
    ASSERT_TRUE(doc.IsObject() && doc["keys"].IsArray() && doc["keys"].Size() == 2u) << r.body;
    for (const auto& k : doc["keys"].GetArray()) {
        EXPECT_EQ(json_string(k, "kty"), "EC");
        EXPECT_EQ(json_string(k, "crv"), "P-256");
        EXPECT_EQ(json_string(k, "alg"), "ES256");
        EXPECT_EQ(json_string(k, "use"), "sig");
        EXPECT_EQ(json_string(k, "x").size(), 43u);
        EXPECT_FALSE(k.HasMember("d")) << "the private key is published: " << r.body;
    }
    EXPECT_EQ(published_kids(*server), (std::vector<std::string>{"key-a", "key-b"}));
    EXPECT_EQ(client.request("POST", "/.well-known/jwks.json").status, 405);
}

TEST(TokenJwksTest, HS256PublishesNoKey) {
    auto server = start_server(TestConfig{});
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const HttpResponse r = client.get("/.well-known/jwks.json");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"keys":[]})");
    const auto jwt = decode_jwt(sign_in(*server, "2025550141"), kTokenSecret);
    ASSERT_TRUE(jwt);
    EXPECT_TRUE(jwt->signature_valid);
    EXPECT_FALSE(json_string(jwt->header, "kid").empty()) << "every token carries a kid";
}

// README "Rotating the signing key", on two instances restarted one at a time (a rolling
// deploy): at every moment one instance serves, and every token issued so far verifies
// against either instance's JWKS until its key is removed.
TEST(TokenRotationTest, AddSwitchRemoveWithoutDowntime) {
    TempDir keys;
    const Key old_key{"2026-11", make_key(keys, "old.pem", "ES256")};
    const Key new_key{"2026-12", make_key(keys, "new.pem", "ES256")};
    std::unique_ptr<ServerProcess> fleet[2];
    auto roll = [&](const TestConfig& config) {
        for (auto& instance : fleet) {
            instance.reset();  // the other instance serves meanwhile
            instance = start_server(config);
            ASSERT_TRUE(instance);
        }
    };
    roll(config_with_keys("ES256", {old_key}));
    const std::string old_token = sign_in(*fleet[0], "2025550142");
    EXPECT_EQ(published_kids(*fleet[1]), (std::vector<std::string>{"2026-11"}));

    // Step 1: publish the new key everywhere; the old one still signs.
    roll(config_with_keys("ES256", {old_key, new_key}, "2026-11"));
    EXPECT_EQ(json_string(decode_jwt(sign_in(*fleet[1], "2025550143"), "")->header, "kid"), "2026-11");
    for (auto& instance : fleet) {
        EXPECT_EQ(published_kids(*instance), (std::vector<std::string>{"2026-11", "2026-12"}));
        EXPECT_EQ(pyjwt(*instance, old_token), "verified +12025550142");
    }

    // Step 2 (after jwks_max_age_seconds): the new key signs; the old one stays published.
    roll(config_with_keys("ES256", {old_key, new_key}, "2026-12"));
    const std::string new_token = sign_in(*fleet[0], "2025550144");
    EXPECT_EQ(json_string(decode_jwt(new_token, "")->header, "kid"), "2026-12");
    for (auto& instance : fleet) {
        EXPECT_EQ(pyjwt(*instance, old_token), "verified +12025550142");
        EXPECT_EQ(pyjwt(*instance, new_token), "verified +12025550144");
    }

    // Step 3 (after token.ttl_seconds): remove the old key. Its tokens stop verifying.
    roll(config_with_keys("ES256", {new_key}));
    for (auto& instance : fleet) {
        EXPECT_EQ(published_kids(*instance), (std::vector<std::string>{"2026-12"}));
        EXPECT_EQ(pyjwt(*instance, old_token).rfind("refused PyJWKClientError", 0), 0u);
        EXPECT_EQ(pyjwt(*instance, new_token), "verified +12025550144");
    }
}

// A bad key stops start-up with a message that names the key and what is wrong, and never
// prints the key.
TEST(TokenKeyStartupTest, BadKeysStopStartUpWithAClearMessage) {
    TempDir keys;
    const std::string p256 = make_key(keys, "p256.pem", "ES256");
    const std::string ed = make_key(keys, "ed.pem", "EdDSA");
    const std::string p384 = make_key(keys, "p384.pem", "P-384");
    const std::string rsa1024 = make_key(keys, "rsa1024.pem", "RS1024");
    keys.write("garbage.pem", "not a key\n");

    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", ed}}).yaml()),
                               {"token.keys[0].private_key_file", "Ed25519", "ES256"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", p384}}).yaml()),
                               {"token.keys[0].private_key_file", "P-256"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("RS256", {{"a", rsa1024}}).yaml()),
                               {"token.keys[0].private_key_file", "1024", "2048"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", keys.file("garbage.pem")}}).yaml()),
                               {"token.keys[0].private_key_file"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", keys.file("missing.pem")}}).yaml()),
                               {"token.keys[0].private_key_file", "cannot read", "openssl genpkey"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", p256}, {"a", p256}}).yaml()),
                               {"token.keys[1]", "\"a\"", "two keys"}));
    EXPECT_TRUE(fails_to_start(run(config_with_keys("ES256", {{"a", p256}}, "b").yaml()),
                               {"token.signing_kid", "\"b\"", "\"a\""}));

    TestConfig no_key = config_with_keys("ES256", {{"a", p256}});
    no_key.token.erase("keys");
    EXPECT_TRUE(fails_to_start(run(no_key.yaml()), {"no signing key", "TOKEN_PRIVATE_KEY_FILE"}));
    TestConfig no_hmac = config_with_keys("ES256", {{"a", p256}});
    no_hmac.otp.erase("hmac_secret");
    EXPECT_TRUE(fails_to_start(run(no_hmac.yaml()), {"otp.hmac_secret", "OTP_HMAC_SECRET", "ES256"}));

    // The private key's text never reaches the output.
    const std::string pem = read_text_file(p256);
    const std::string body_line = pem.substr(pem.find('\n') + 1, 40);
    const ProcessResult r = run(config_with_keys("RS256", {{"a", p256}}).yaml());
    EXPECT_TRUE(fails_to_start(r, {"token.keys[0].private_key_file", "RS256"}));
    EXPECT_EQ((r.stdout_text + r.stderr_text).find(body_line), std::string::npos);
}

// The environment forms: TOKEN_PRIVATE_KEY_FILE, and TOKEN_PRIVATE_KEY holding the PEM.
TEST(TokenKeyStartupTest, KeysFromTheEnvironment) {
    TempDir keys;
    const std::string file = make_key(keys, "env.pem", "ES256");
    TestConfig config = config_with_keys("ES256", {});
    config.token.erase("keys");
    {
        auto server =
            start_server(config, {{"TOKEN_PRIVATE_KEY_FILE", file}, {"TOKEN_KID", "from-env-file"}});
        ASSERT_TRUE(server);
        EXPECT_EQ(published_kids(*server), (std::vector<std::string>{"from-env-file"}));
        EXPECT_EQ(pyjwt(*server, sign_in(*server, "2025550145")), "verified +12025550145");
    }
    {
        auto server = start_server(config, {{"TOKEN_PRIVATE_KEY", read_text_file(file)}});
        ASSERT_TRUE(server);
        const std::vector<std::string> kids = published_kids(*server);
        ASSERT_EQ(kids.size(), 1u);
        EXPECT_EQ(kids[0].size(), 43u) << "default kid: the RFC 7638 thumbprint, " << kids[0];
    }
    {
        // --check-config masks the PEM and says which key signs.
        const std::string pem = read_text_file(file);
        ProcessSpec spec = config.spec({{"TOKEN_PRIVATE_KEY", pem}});
        spec.args.push_back("--check-config");
        const ProcessResult check = ServerProcess::run_to_exit(spec);
        EXPECT_EQ(check.exit_code, 0) << check.stderr_text;
        EXPECT_NE(check.stdout_text.find("token.private_key: \"***\""), std::string::npos)
            << check.stdout_text;
        EXPECT_NE(check.stdout_text.find("# token key: ES256 kid"), std::string::npos) << check.stdout_text;
        EXPECT_EQ(check.stdout_text.find(pem.substr(pem.find('\n') + 1, 40)), std::string::npos);
    }
}

}  // namespace
}  // namespace testino::test
