// The store contract (otp_store_contract.hpp) on a 3-primary Redis Cluster and on the
// primary behind a Sentinel group. On the cluster, the contract's keys spread over every
// node: its passing shows that no script crosses slots (the cluster would refuse with
// CROSSSLOT, or redirect a key a script touched without declaring), the queue scripts'
// two keys included. One process runs them all (CMakeLists.txt), so the cluster and the
// group start once.
#include <memory>

#include "otp_store_contract.hpp"
#include "plugin_doubles.hpp"
#include "redis_cluster.hpp"
#include "redis_sentinel.hpp"
#include "redis_store.hpp"

namespace {

using namespace std::chrono_literals;

std::shared_ptr<testino::sdk::OtpStore> make_store_on(const std::string& url) {
    static testino::test_support::RecordingHost host;
    testino::plugins::RedisStoreOptions options;
    options.client.endpoint = testino::plugins::parse_redis_url(url);
    options.client.connections = 2;
    // Generous: a hundred threads share the connections on a loaded CI machine.
    options.client.command_timeout = 5000ms;
    return std::make_shared<testino::plugins::RedisStore>(std::move(options), host);
}

std::shared_ptr<testino::sdk::OtpStore> make_cluster_store() {
    static testino::test::RedisCluster cluster;
    return make_store_on("redis-cluster://" + cluster.seeds());
}

std::shared_ptr<testino::sdk::OtpStore> make_sentinel_store() {
    static testino::test::RedisSentinelGroup group;
    return make_store_on("redis-sentinel://" + group.sentinels() + "/" + group.master_name());
}

}  // namespace

using testino::contract::OtpStoreContract;

INSTANTIATE_TEST_SUITE_P(RedisCluster, OtpStoreContract,
                         ::testing::Values(testino::contract::OtpStoreFactory(make_cluster_store)));
INSTANTIATE_TEST_SUITE_P(RedisSentinel, OtpStoreContract,
                         ::testing::Values(testino::contract::OtpStoreFactory(make_sentinel_store)));
