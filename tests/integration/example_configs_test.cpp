// Every example config in config/ and config/examples/ passes `testino-server --check-config` with the
// secrets given as fake environment values of the right shape; no secret reaches the output, and none is
// written in the files themselves.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "integration_common.hpp"

namespace testino::test {
namespace {

const std::string kConfigDir = std::string(TESTINO_SOURCE_DIR) + "/config";

// Fake credentials shaped like the real ones.
const std::string kTokenSecret64 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const std::string kTwilioSid = "AC0123456789abcdef0123456789abcdef";
const std::string kTwilioToken = "feedfacecafebeef0123456789abcdef";
const std::string kAwsKeyId = "AKIAIOSFODNN7EXAMPLE";
const std::string kAwsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const std::string kRedisPassword = "redis-pass-4f9c2a";
const std::string kSentinelPassword = "sentinel-pass-7d1e0b";
const std::string kPostgresPassword = "postgres-pass-2c8a51";

std::map<std::string, std::string> twilio_env() {
    return {{"TWILIO_ACCOUNT_SID", kTwilioSid},
            {"TWILIO_AUTH_TOKEN", kTwilioToken},
            {"TWILIO_PHONE_NUMBER", "+15005550006"}};
}

std::map<std::string, std::string> sns_env() {
    return {
        {"AWS_REGION", "eu-west-1"}, {"AWS_ACCESS_KEY_ID", kAwsKeyId}, {"AWS_SECRET_ACCESS_KEY", kAwsSecret}};
}

struct Example {
    std::string file;
    std::map<std::string, std::string> env;  // besides the signing secrets
    std::string sms_plugin;                  // the .so --check-config must report
    std::string store_plugin;
};

const std::vector<Example>& examples() {
    static const std::vector<Example> list = [] {
        std::map<std::string, std::string> redis = twilio_env();
        redis["REDIS_URL"] = "redis://:" + kRedisPassword + "@127.0.0.1:6379/0";
        std::map<std::string, std::string> cluster = twilio_env();
        cluster["REDIS_URL"] = "redis-cluster://:" + kRedisPassword + "@127.0.0.1:7001,127.0.0.1:7002";
        std::map<std::string, std::string> sentinel = twilio_env();
        sentinel["REDIS_URL"] =
            "redis-sentinel://:" + kRedisPassword + "@127.0.0.1:26379,127.0.0.1:26380/testino";
        sentinel["REDIS_SENTINEL_PASSWORD"] = kSentinelPassword;
        std::map<std::string, std::string> postgres = twilio_env();
        // Nothing listens there in the test: --check-config needs no database.
        postgres["POSTGRES_DSN"] = "postgresql://testino:" + kPostgresPassword + "@127.0.0.1:1/testino";
        std::map<std::string, std::string> both = twilio_env();
        for (const auto& [name, value] : sns_env()) both[name] = value;
        return std::vector<Example>{
            {"default.yaml", {}, "sms_console.so", "store_memory.so"},
            {"examples/twilio.yaml", twilio_env(), "sms_twilio.so", "store_memory.so"},
            {"examples/sns.yaml", sns_env(), "sms_sns.so", "store_memory.so"},
            {"examples/redis.yaml", redis, "sms_twilio.so", "store_redis.so"},
            {"examples/failover.yaml", both, "sms_sns.so", "store_memory.so"},
            {"examples/redis-cluster.yaml", cluster, "sms_twilio.so", "store_redis.so"},
            {"examples/redis-sentinel.yaml", sentinel, "sms_twilio.so", "store_redis.so"},
            {"examples/postgres.yaml", postgres, "sms_twilio.so", "store_postgres.so"},
        };
    }();
    return list;
}

const std::vector<std::string> kSecrets = {kTokenSecret64, kTwilioToken,      kAwsSecret,
                                           kRedisPassword, kSentinelPassword, kPostgresPassword};

// What every example needs beside its own: an ES256 key (made once, for this process) and
// OTP_HMAC_SECRET.
void add_signing_secrets(std::map<std::string, std::string>& env) {
    static const TempDir keys;
    static const std::string key_file = [] {
        ProcessSpec spec;
        spec.binary = "/usr/bin/openssl";
        spec.args = {"genpkey",
                     "-algorithm",
                     "EC",
                     "-pkeyopt",
                     "ec_paramgen_curve:P-256",
                     "-out",
                     keys.file("token-key.pem")};
        const ProcessResult r = ServerProcess::run_to_exit(spec, std::chrono::seconds(30));
        EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
        return keys.file("token-key.pem");
    }();
    env["TOKEN_PRIVATE_KEY_FILE"] = key_file;
    env["OTP_HMAC_SECRET"] = kTokenSecret64;
}

ProcessResult check_config(const Example& example, std::map<std::string, std::string> env) {
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.args = {"--config", kConfigDir + "/" + example.file, "--check-config"};
    spec.env = std::move(env);
    // The binary finds the plugins beside it (<bin>/../lib/testino/plugins), as installed.
    return ServerProcess::run_to_exit(spec);
}

void expect_valid(const Example& example) {
    std::map<std::string, std::string> env = example.env;
    add_signing_secrets(env);
    const ProcessResult result = check_config(example, env);
    ASSERT_FALSE(result.timed_out);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text << result.stdout_text;
    EXPECT_NE(result.stdout_text.find(example.file + ": valid"), std::string::npos) << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("# token key: ES256 kid"), std::string::npos) << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("# sms plugin: "), std::string::npos);
    EXPECT_NE(result.stdout_text.find("/" + example.sms_plugin), std::string::npos) << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("/" + example.store_plugin), std::string::npos) << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("***"), std::string::npos) << "secrets are shown masked";
    for (const std::string& secret : kSecrets) {
        EXPECT_EQ(result.stdout_text.find(secret), std::string::npos) << secret << " on stdout";
        EXPECT_EQ(result.stderr_text.find(secret), std::string::npos) << secret << " on stderr";
    }
}

const Example& example(const std::string& file) {
    for (const Example& e : examples()) {
        if (e.file == file) return e;
    }
    throw std::runtime_error("no example " + file);
}

TEST(ExampleConfig, DefaultIsValid) { expect_valid(example("default.yaml")); }
TEST(ExampleConfig, TwilioIsValid) { expect_valid(example("examples/twilio.yaml")); }
TEST(ExampleConfig, SnsIsValid) { expect_valid(example("examples/sns.yaml")); }
TEST(ExampleConfig, RedisIsValid) { expect_valid(example("examples/redis.yaml")); }
TEST(ExampleConfig, RedisClusterIsValid) { expect_valid(example("examples/redis-cluster.yaml")); }
TEST(ExampleConfig, RedisSentinelIsValid) { expect_valid(example("examples/redis-sentinel.yaml")); }
TEST(ExampleConfig, PostgresIsValid) { expect_valid(example("examples/postgres.yaml")); }
TEST(ExampleConfig, FailoverIsValidAndRoutesPlusOneThroughTwilioThenSns) {
    const Example& e = example("examples/failover.yaml");
    expect_valid(e);
    std::map<std::string, std::string> env = e.env;
    add_signing_secrets(env);
    const ProcessResult result = check_config(e, env);
    EXPECT_NE(result.stdout_text.find("/sms_twilio.so"), std::string::npos) << "both providers load";
    EXPECT_NE(result.stdout_text.find("# sms route, every number: sns\n"), std::string::npos)
        << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("# sms route, +1: twilio -> sns\n"), std::string::npos)
        << result.stdout_text;
}

// The credentials really come from the environment: without them the check fails and
// names what is missing.
TEST(ExampleConfig, ProviderCredentialsComeFromTheEnvironment) {
    struct Missing {
        std::string file, variable, key;
    };
    for (const Missing& m :
         {Missing{"examples/twilio.yaml", "TWILIO_AUTH_TOKEN", "auth_token"},
          Missing{"examples/sns.yaml", "AWS_SECRET_ACCESS_KEY", "secret_access_key"},
          Missing{"examples/redis.yaml", "TWILIO_ACCOUNT_SID", "account_sid"},
          Missing{"examples/postgres.yaml", "POSTGRES_DSN", "dsn"},
          Missing{"examples/failover.yaml", "TWILIO_AUTH_TOKEN", "auth_token"},
          Missing{"examples/failover.yaml", "AWS_SECRET_ACCESS_KEY", "secret_access_key"}}) {
        std::map<std::string, std::string> env = example(m.file).env;
        add_signing_secrets(env);
        env.erase(m.variable);
        const ProcessResult result = check_config(example(m.file), env);
        EXPECT_EQ(result.exit_code, 2) << m.file << ": " << result.stdout_text;
        EXPECT_NE(result.stderr_text.find(m.key), std::string::npos) << m.file << ": " << result.stderr_text;
    }
}

// No example holds a secret: the keys that carry one appear only in comments.
TEST(ExampleConfig, FilesHoldNoSecrets) {
    const std::vector<std::string> secret_keys = {
        "secret:",        "hmac_secret:", "auth_token:",  "secret_access_key:",
        "session_token:", "url:",         "account_sid:", "private_key:"};
    for (const Example& e : examples()) {
        std::ifstream in(kConfigDir + "/" + e.file);
        ASSERT_TRUE(in) << e.file;
        std::string line;
        int number = 0;
        while (std::getline(in, line)) {
            ++number;
            const std::string code = line.substr(0, line.find('#'));
            for (const std::string& key : secret_keys) {
                EXPECT_EQ(code.find(key), std::string::npos) << e.file << ":" << number << ": " << line;
            }
        }
    }
}

// The benchmark's config starts too (bench/run.sh is not part of the suite, so nothing else
// would notice a stricter check that refuses it).
TEST(ExampleConfig, TheBenchmarkConfigIsValid) {
    ProcessSpec spec;
    spec.binary = server_binary();
    spec.args = {"--config", std::string(TESTINO_SOURCE_DIR) + "/bench/bench.yaml", "--check-config"};
    const ProcessResult result = ServerProcess::run_to_exit(spec);
    ASSERT_FALSE(result.timed_out);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("bench.yaml: valid"), std::string::npos) << result.stdout_text;
}

// A new example in config/ must be added to this test.
TEST(ExampleConfig, EveryFileInConfigIsChecked) {
    std::set<std::string> tested;
    for (const Example& e : examples()) tested.insert(e.file);
    for (const auto& entry : std::filesystem::directory_iterator(kConfigDir)) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml") {
            EXPECT_TRUE(tested.count(name)) << "config/" << name << " is not checked by this test";
        }
    }
}

}  // namespace
}  // namespace testino::test
