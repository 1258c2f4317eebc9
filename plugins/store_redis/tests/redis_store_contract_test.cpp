// The Redis store against the contract every OTP store must pass (the memory store runs
// the same suite), on one private redis-server for the whole program.
#include <memory>

#include "otp_store_contract.hpp"
#include "plugin_doubles.hpp"
#include "redis_server.hpp"
#include "redis_store.hpp"

namespace {

using namespace std::chrono_literals;

std::shared_ptr<testino::sdk::OtpStore> make_redis_store() {
    // Started on first use, killed at exit; each store gets fresh connections.
    static testino::test::RedisServer redis;
    static testino::test_support::RecordingHost host;
    testino::plugins::RedisStoreOptions options;
    options.client.endpoint = testino::plugins::parse_redis_url(redis.url());
    options.client.connections = 2;
    // Generous: a hundred threads share two connections on a loaded CI machine.
    options.client.command_timeout = 5000ms;
    return std::make_shared<testino::plugins::RedisStore>(std::move(options), host);
}

}  // namespace

using testino::contract::OtpStoreContract;

INSTANTIATE_TEST_SUITE_P(Redis, OtpStoreContract,
                         ::testing::Values(testino::contract::OtpStoreFactory(make_redis_store)));
