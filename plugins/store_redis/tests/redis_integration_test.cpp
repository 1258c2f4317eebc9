// The real testino-server with `store.backend: redis` against a private redis-server:
// two instances sharing codes and attempt limits, a server restart, Redis down at start-up,
// Redis killed under load, and a refused password.
#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "integration_common.hpp"
#include "redis_server.hpp"

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;

TestConfig redis_config(const std::string& url) {
    TestConfig config;
    config.store["backend"] = "redis";
    config.store_sections["redis"]["url"] = "\"" + url + "\"";
    config.store_sections["redis"]["command_timeout_ms"] = "300";
    config.store_sections["redis"]["connect_timeout_ms"] = "300";
    return config;
}

bool wait_until_healthy(const ServerProcess& server) { return wait_until_store_healthy(server); }

std::string wrong_code(const std::string& code) { return code == "000000" ? "111111" : "000000"; }

// Two servers on one Redis, and a client to each.
class TwoServersTest : public ::testing::Test {
protected:
    // `adjust` changes the config both servers run.
    void start(const std::function<void(TestConfig&)>& adjust = {}) {
        TestConfig config = redis_config(redis.url());
        if (adjust) adjust(config);
        first = start_server(config);
        second = start_server(config);
        ASSERT_TRUE(first && second);
        to_first = std::make_unique<HttpClient>(first->port());
        to_second = std::make_unique<HttpClient>(second->port());
    }

    RedisServer redis;
    std::unique_ptr<ServerProcess> first, second;
    std::unique_ptr<HttpClient> to_first, to_second;
};

TEST_F(TwoServersTest, CodeSentThroughOneServerVerifiesThroughTheOther) {
    ASSERT_NO_FATAL_FAILURE(start());
    HttpClient& to_first = *this->to_first;
    HttpClient& to_second = *this->to_second;
    EXPECT_EQ(store_health(*first).state, "up");
    EXPECT_EQ(store_health(*first).name, "redis");

    const std::string code = send_and_read_console_code(*first, to_first, "+1", "2025550123", "+12025550123");
    ASSERT_EQ(code.size(), 6u);
    const auto verified = to_second.post_json(kVerifyOtp, verify_body("+1", "2025550123", code));
    EXPECT_EQ(verified.status, 200) << verified.body;
    // Single use across instances too.
    EXPECT_TRUE(is_api_error(to_first.post_json(kVerifyOtp, verify_body("+1", "2025550123", code)), 400,
                             "INVALID_OTP"));
}

// A sign-in lives in Redis: it refreshes through either server, and a reuse on one revokes
// it on both.
TEST_F(TwoServersTest, ASignInRefreshesThroughEitherServerAndAReuseRevokesItEverywhere) {
    ASSERT_NO_FATAL_FAILURE(start());
    HttpClient& to_first = *this->to_first;
    HttpClient& to_second = *this->to_second;
    const std::string code = send_and_read_console_code(*first, to_first, "+1", "2025550124", "+12025550124");
    const auto verified = to_first.post_json(kVerifyOtp, verify_body("+1", "2025550124", code));
    ASSERT_EQ(verified.status, 200) << verified.body;
    const std::string token = json_string(parse_json(verified.body), "refresh_token");
    auto body = [](const std::string& t) { return R"({"refresh_token":")" + t + R"("})"; };

    const auto rotated = to_second.post_json("/api/v1/auth/refresh", body(token));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    const std::string next = json_string(parse_json(rotated.body), "refresh_token");
    EXPECT_TRUE(
        is_api_error(to_first.post_json("/api/v1/auth/refresh", body(token)), 401, "REFRESH_TOKEN_REUSED"));
    EXPECT_TRUE(
        is_api_error(to_second.post_json("/api/v1/auth/refresh", body(next)), 401, "INVALID_REFRESH_TOKEN"));
}

// The fraud guard's counts live in Redis: sends through two servers add up to one block,
// which both then enforce.
TEST_F(TwoServersTest, TheFraudGuardCountsAcrossBothServers) {
    ASSERT_NO_FATAL_FAILURE(start([](TestConfig& config) {
        config.limits["fraud_guard"] =
            "{enabled: true, min_sends: 4, min_conversion: 0.5, block_seconds: 600}";
    }));
    HttpClient& to_first = *this->to_first;
    HttpClient& to_second = *this->to_second;
    auto send = [](HttpClient& client, const std::string& number) {
        return client.post_json(kSendOtp, send_body("+44", number)).status;
    };
    EXPECT_EQ(send(to_first, "7400123401"), 200);
    EXPECT_EQ(send(to_second, "7400123402"), 200);
    EXPECT_EQ(send(to_first, "7400123403"), 200);
    EXPECT_EQ(send(to_second, "7400123404"), 429) << "the fourth send, counted across both servers";
    EXPECT_EQ(send(to_first, "7400123405"), 429);
}

TEST(RedisIntegrationTest, AttemptLimitHoldsAcrossBothServers) {
    RedisServer redis;
    TestConfig config = redis_config(redis.url());
    config.otp["max_attempts"] = "5";
    auto first = start_server(config);
    auto second = start_server(config);
    ASSERT_TRUE(first && second);
    HttpClient to_first(first->port());
    const std::string code = send_and_read_console_code(*first, to_first, "+1", "2025550142", "+12025550142");
    ASSERT_EQ(code.size(), 6u);

    // Ten wrong guesses at once, five through each server.
    std::atomic<bool> go{false};
    std::atomic<int> invalid{0};
    std::atomic<int> too_many{0};
    std::atomic<int> other{0};
    std::vector<std::thread> guessers;
    for (int i = 0; i < 10; ++i) {
        const int port = (i % 2 ? first : second)->port();
        guessers.emplace_back([&, port] {
            HttpClient client(port);
            while (!go.load()) std::this_thread::yield();
            const auto response =
                client.post_json(kVerifyOtp, verify_body("+1", "2025550142", wrong_code(code)));
            if (is_api_error(response, 400, "INVALID_OTP")) {
                invalid.fetch_add(1);
            } else if (is_api_error(response, 429, "TOO_MANY_ATTEMPTS")) {
                too_many.fetch_add(1);
            } else {
                other.fetch_add(1);
            }
        });
    }
    go.store(true);
    for (auto& guesser : guessers) guesser.join();
    EXPECT_EQ(invalid.load(), 5);
    EXPECT_EQ(too_many.load(), 5);
    EXPECT_EQ(other.load(), 0);

    EXPECT_EQ(redis.command({"HGET", "testino:{+12025550142}:code", "a"}), "0") << "no attempt left";
    HttpClient to_second(second->port());
    const auto right = to_second.post_json(kVerifyOtp, verify_body("+1", "2025550142", code));
    // Refused: TOO_MANY_ATTEMPTS from the store, or RATE_LIMITED when the server's own
    // failed-verify limit answers first.
    EXPECT_EQ(right.status, 429) << right.body;
}

TEST(RedisIntegrationTest, RateLimitsHoldAcrossBothServers) {
    RedisServer redis;
    TestConfig config = redis_config(redis.url());
    config.limits["number_cooldown_seconds"] = "30";
    config.limits["ip_sends_per_window"] = "3";
    config.limits["number_failed_verifies_per_window"] = "2";
    auto first = start_server(config);
    auto second = start_server(config);
    HttpClient a(first->port());
    HttpClient b(second->port());

    // The cooldown set through one instance holds on the other.
    EXPECT_EQ(a.post_json(kSendOtp, send_body("+1", "2025550131")).status, 200);
    EXPECT_TRUE(is_api_error(b.post_json(kSendOtp, send_body("+1", "2025550131")), 429, "RATE_LIMITED"));
    // The per-address cap counts sends on both: 2 charged so far (the refused one too).
    EXPECT_EQ(b.post_json(kSendOtp, send_body("+1", "2025550132")).status, 200);
    EXPECT_TRUE(is_api_error(a.post_json(kSendOtp, send_body("+1", "2025550133")), 429, "RATE_LIMITED"));
    // Failed verifies for one number add up across instances.
    EXPECT_TRUE(
        is_api_error(a.post_json(kVerifyOtp, verify_body("+1", "2025550131", "000000")), 400, "INVALID_OTP"));
    EXPECT_TRUE(
        is_api_error(b.post_json(kVerifyOtp, verify_body("+1", "2025550131", "000000")), 400, "INVALID_OTP"));
    EXPECT_TRUE(is_api_error(a.post_json(kVerifyOtp, verify_body("+1", "2025550131", "000000")), 429,
                             "RATE_LIMITED"));
}

TEST(RedisIntegrationTest, ServerRestartLosesNoPendingCode) {
    RedisServer redis;
    const TestConfig config = redis_config(redis.url());
    std::string code;
    {
        auto server = start_server(config);
        ASSERT_TRUE(server);
        HttpClient client(server->port());
        code = send_and_read_console_code(*server, client, "+44", "7400123456", "+447400123456");
        ASSERT_EQ(code.size(), 6u);
        server->send_signal(SIGTERM);
        ASSERT_EQ(server->wait_exit(10s), 0);
    }
    auto restarted = start_server(config);
    ASSERT_TRUE(restarted);
    HttpClient client(restarted->port());
    const auto response = client.post_json(kVerifyOtp, verify_body("+44", "7400123456", code));
    EXPECT_EQ(response.status, 200) << response.body;
}

TEST(RedisIntegrationTest, RedisDownAtStartUpThenBackWithoutARestart) {
    RedisServer redis(RedisServerOptions{"", false});  // its port, nothing listening yet
    auto server = start_server(redis_config(redis.url()));
    ASSERT_TRUE(server) << "the server starts without Redis";
    HttpClient client(server->port());

    const auto health = store_health(*server);
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.state, "down");
    EXPECT_NE(health.detail.find("refused"), std::string::npos) << health.detail;

    // Answered within 2 s with a 300 ms command timeout.
    EXPECT_TRUE(store_unavailable_within(client, "2025550150", 2s));

    redis.start();
    ASSERT_TRUE(wait_until_healthy(*server)) << store_health(*server).detail;
    EXPECT_TRUE(sends_and_verifies(*server, client, "2025550150"));
}

TEST(RedisIntegrationTest, RedisKilledUnderLoadThenRestarted) {
    RedisServer redis;
    auto server = start_server(redis_config(redis.url()));
    ASSERT_TRUE(server);

    StoreLoad load(server->port());
    EXPECT_TRUE(reaches(load.store_answered, 20));
    redis.kill();
    EXPECT_TRUE(reaches(load.unavailable, 20));
    redis.start();
    const int answered_before = load.store_answered.load();
    EXPECT_TRUE(reaches(load.store_answered, answered_before + 20))
        << "the server uses Redis again by itself";
    load.stop();

    EXPECT_EQ(load.unexpected.load(), 0);
    EXPECT_EQ(load.slow.load(), 0) << "no request pair took over 3 s (command timeout 300 ms)";
    EXPECT_TRUE(server->running());
    EXPECT_TRUE(wait_until_healthy(*server));
    server->send_signal(SIGTERM);
    EXPECT_EQ(server->wait_exit(10s), 0) << "clean shutdown after the faults";
}

TEST(RedisIntegrationTest, WrongPasswordFromTheEnvironmentShowsInHealthButNeverThePassword) {
    RedisServer redis(RedisServerOptions{"the-right-one"});
    const TestConfig config = redis_config(redis.url_with_password("not-it"));
    // REDIS_URL overrides the file.
    auto server = start_server(config, {{"REDIS_URL", redis.url_with_password("still-not-it")}});
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto health = store_health(*server);
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.state, "down");
    EXPECT_NE(health.detail.find("authentication failed"), std::string::npos) << health.detail;
    EXPECT_TRUE(
        is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550170")), 503, "STORE_UNAVAILABLE"));

    server->send_signal(SIGTERM);
    server->wait_exit(10s);
    for (const std::string secret : {"not-it", "the-right-one"}) {
        EXPECT_EQ(server->stdout_text().find(secret), std::string::npos) << secret;
        EXPECT_EQ(server->stderr_text().find(secret), std::string::npos) << secret;
    }
    EXPECT_EQ(health.detail.find("still-not-it"), std::string::npos);

    // --check-config masks the URL, which holds the password.
    ProcessSpec spec = config.spec();
    spec.args = {"--check-config"};
    const auto checked = ServerProcess::run_to_exit(spec);
    EXPECT_EQ(checked.exit_code, 0) << checked.stderr_text;
    EXPECT_EQ(checked.stdout_text.find("not-it"), std::string::npos) << checked.stdout_text;
}

TEST(RedisIntegrationTest, MalformedUrlStopsStartUpNamingTheKey) {
    const TestConfig config = redis_config("redis://:hunter2@127.0.0.1:99999/0");
    const auto result = ServerProcess::run_to_exit(config.spec());
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.stderr_text.find("store.redis.url"), std::string::npos) << result.stderr_text;
    EXPECT_EQ(result.stderr_text.find("hunter2"), std::string::npos) << result.stderr_text;
}

TEST(RedisIntegrationTest, AFrozenRedisHoldsNoReactorThread) {
    // One reactor thread and a Redis that accepts commands but never answers: every store
    // call waits out the command timeout. A core that waited for Redis on the reactor would
    // answer the sends one after another and nothing else meanwhile; the asynchronous core
    // keeps serving while they wait, and they time out together.
    RedisServer redis;
    TestConfig config = redis_config(redis.url());
    config.server["threads"] = "1";
    config.store_sections["redis"]["command_timeout_ms"] = "1500";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    ASSERT_TRUE(wait_until_healthy(*server));

    redis.freeze();
    constexpr int kSends = 4;
    const StalledSends sends = sends_while_the_store_stalls(server->port(), "202555014", kSends);
    redis.thaw();

    EXPECT_EQ(sends.document_status, 200);
    EXPECT_EQ(sends.store_unavailable, kSends);
    EXPECT_LT(sends.document_ms, sends.first_send_ms)
        << "GET /openapi.json waited for a send that was waiting for Redis";
    EXPECT_LT(sends.last_send_ms, 2 * 1500)
        << "the sends were answered one after another (each waited " << 1500 << " ms), not together";
}

// --- Redis that may evict the store's keys --------------------------------------------------

RedisServerOptions evicting(bool start = true) {
    return {"", start, {"--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"}};
}

TEST(RedisIntegrationTest, ARedisThatMayEvictStopsStartUpNamingThePolicyAndTheFix) {
    RedisServer redis(evicting());
    const auto result = ServerProcess::run_to_exit(redis_config(redis.url()).spec());
    EXPECT_EQ(result.exit_code, 2) << result.stdout_text;
    for (const char* part :
         {"maxmemory-policy allkeys-lru", "noeviction", "store.redis.allow_eviction: true"}) {
        EXPECT_NE(result.stderr_text.find(part), std::string::npos) << part << " in: " << result.stderr_text;
    }
}

TEST(RedisIntegrationTest, WithAllowEvictionTheServerStartsAndWarns) {
    RedisServer redis(evicting());
    TestConfig config = redis_config(redis.url());
    config.store_sections["redis"]["allow_eviction"] = "true";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(store_health(*server).status, 200);
    const auto warning = wait_for_event(*server, "store.redis.eviction_allowed", 5s);
    ASSERT_TRUE(warning);
    EXPECT_NE(warning->find("\"level\":\"warn\""), std::string::npos) << *warning;
}

TEST(RedisIntegrationTest, ARedisRefusingConfigIsWarnedAboutAndServes) {
    RedisServer redis(RedisServerOptions{"", true, {"--rename-command", "CONFIG", ""}});
    auto server = start_server(redis_config(redis.url()));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto warning = wait_for_event(*server, "store.redis.maxmemory_policy_unchecked", 5s);
    ASSERT_TRUE(warning);
    EXPECT_NE(warning->find("\"level\":\"warn\""), std::string::npos) << *warning;
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550180", "+12025550180");
    ASSERT_EQ(code.size(), 6u);
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550180", code)).status, 200);
}

TEST(RedisIntegrationTest, AnEvictingRedisFirstReachedAfterStartUpTurnsHealthDown) {
    RedisServer redis(evicting(false));  // down while the server starts
    auto server = start_server(redis_config(redis.url()));
    ASSERT_TRUE(server) << "the server starts without Redis, as ever";
    HttpClient client(server->port());
    EXPECT_EQ(store_health(*server).status, 503);

    redis.start();
    EXPECT_TRUE(eventually([&] {
        return store_health(*server).detail.find("allkeys-lru") != std::string::npos;
    })) << store_health(*server).detail;
    const auto health = store_health(*server);
    EXPECT_EQ(health.status, 503);
    EXPECT_EQ(health.state, "down");
    const auto error = wait_for_event(*server, "store.redis.eviction_unsafe", 5s);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("\"level\":\"error\""), std::string::npos) << *error;
}

}  // namespace
}  // namespace testino::test
