// The real testino-server on a real Redis Cluster and a real Sentinel group, started by the
// tests on loopback: two instances across a 3-primary cluster, a slot migrated mid-run, a
// primary killed and its replica promoted, a Sentinel failover under load. Each case counts
// the acknowledged sends (200 from send-otp) whose code no longer verifies: Redis
// replicates asynchronously, so a code written just before its primary dies can be lost.
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "integration_common.hpp"
#include "redis_cluster.hpp"
#include "redis_cluster_routing.hpp"
#include "redis_sentinel.hpp"

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;
using plugins::cluster_key_slot;

constexpr const char* kCode = "424242";

// A UK mobile number, as the API takes it and as the store keys it.
struct Number {
    std::string mobile;  // "7400123456"
    std::string e164;    // "+447400123456"
};

// `count` numbers whose code key falls in a slot `wanted` accepts, from `start` on.
std::vector<Number> numbers_where(const std::function<bool(int slot)>& wanted, std::size_t count,
                                  int start = 100000) {
    std::vector<Number> numbers;
    for (int n = start; numbers.size() < count && n < 1000000; ++n) {
        const std::string mobile = "7400" + std::to_string(n);
        if (wanted(cluster_key_slot("testino:{+44" + mobile + "}:code")))
            numbers.push_back({mobile, "+44" + mobile});
    }
    return numbers;
}

bool in_shard(int slot, int shard) {
    return slot >= RedisCluster::first_slot(shard) && slot <= RedisCluster::last_slot(shard);
}

// Redis store, fast timeouts, and every number a test number with the code 424242 (no SMS,
// same store writes), so the tests know each code without reading logs.
TestConfig scale_out_config(const std::string& url, const std::vector<Number>& numbers) {
    TestConfig config;
    config.store["backend"] = "redis";
    config.store_sections["redis"]["url"] = "\"" + url + "\"";
    config.store_sections["redis"]["command_timeout_ms"] = "300";
    config.store_sections["redis"]["connect_timeout_ms"] = "300";
    config.extra_yaml = "test_numbers:\n";
    for (const Number& number : numbers) {
        config.extra_yaml +=
            "  - {number: \"" + number.e164 + "\", code: \"" + kCode + "\", expires: \"2099-12-31\"}\n";
    }
    return config;
}

std::string store_detail(const ServerProcess& server) {
    const auto response = HttpClient(server.admin_port()).get(kAdminHealth);
    const auto body = parse_json(response.body);
    if (body.HasParseError() || !body.IsObject() || !body.HasMember("plugins")) return "";
    for (const auto& plugin : body["plugins"].GetArray()) {
        if (json_string(plugin, "kind") == "otp_store") return json_string(plugin, "detail");
    }
    return "";
}

long send(HttpClient& client, const Number& number) {
    return client.post_json(kSendOtp, send_body("+44", number.mobile)).status;
}

long verify(HttpClient& client, const Number& number, const std::string& code = kCode) {
    return client.post_json(kVerifyOtp, verify_body("+44", number.mobile, code)).status;
}

// What clients saw during a run with faults.
struct Tally {
    std::atomic<int> acknowledged{0};                   // sends answered 200
    std::atomic<int> verified{0};                       // verifies answered 200
    std::atomic<int> unavailable{0};                    // 503 STORE_UNAVAILABLE
    std::atomic<int> unexpected{0};                     // anything else
    std::atomic<int> lost{0};                           // acknowledged, then INVALID_OTP for the right code
    std::atomic<long long> first_success_after_ms{-1};  // since the run started
};

// Each client thread sends to its own numbers and verifies with the right code, in turn,
// until `stop`. A successful verify consumes the code, so each loop is a whole sign-in.
class Load {
public:
    Load(int port, std::vector<Number> numbers, int threads) : numbers_(std::move(numbers)) {
        started_ = Clock::now();
        for (int t = 0; t < threads; ++t)
            threads_.emplace_back([this, port, t, threads] { run(port, t, threads); });
    }
    ~Load() { stop(); }
    void stop() {
        stop_.store(true);
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    // Marks a moment; first_success_after_ms counts from the first success after it.
    void mark() {
        mark_ms_.store(elapsed_ms());
        tally.first_success_after_ms.store(-1);
    }
    long long elapsed_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    }
    Tally tally;

private:
    void run(int port, int first, int step) {
        HttpClient client(port);
        for (std::size_t i = static_cast<std::size_t>(first); !stop_.load();
             i += static_cast<std::size_t>(step)) {
            const Number& number = numbers_[i % numbers_.size()];
            const bool sent = record(client.post_json(kSendOtp, send_body("+44", number.mobile)));
            if (sent) tally.acknowledged.fetch_add(1);
            const auto verified = client.post_json(kVerifyOtp, verify_body("+44", number.mobile, kCode));
            if (record(verified)) {
                tally.verified.fetch_add(1);
            } else if (sent && is_api_error(verified, 400, "INVALID_OTP")) {
                tally.lost.fetch_add(1);  // acknowledged, then not found: the code was lost
            }
        }
    }
    // Whether it succeeded; a 503 is a store outage; a 400 is a verify without a code.
    bool record(const HttpResponse& response) {
        const long long now = elapsed_ms();
        if (response.status == 200) {
            long long none = -1;
            if (now >= mark_ms_.load()) tally.first_success_after_ms.compare_exchange_strong(none, now);
            return true;
        }
        if (is_api_error(response, 503, "STORE_UNAVAILABLE")) {
            tally.unavailable.fetch_add(1);
        } else if (!is_api_error(response, 400, "INVALID_OTP")) {
            tally.unexpected.fetch_add(1);
            ADD_FAILURE() << response.status << " " << response.body << response.error;
        }
        return false;
    }
    std::vector<Number> numbers_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{false};
    std::atomic<long long> mark_ms_{0};
    Clock::time_point started_;
};

// Reports a figure both in the test's XML properties and on stdout (ctest -V shows it).
void report(const std::string& name, long long value) {
    ::testing::Test::RecordProperty(name, std::to_string(value));
    std::cout << "[ figure ] " << name << " = " << value << "\n";
}

// --- Redis Cluster ---------------------------------------------------------------------------

TEST(RedisScaleOutTest, TwoServersSendAndVerifyAcrossAThreePrimaryCluster) {
    RedisCluster cluster;
    std::vector<Number> numbers;
    for (int shard = 0; shard < 3; ++shard) {
        const auto in_it =
            numbers_where([shard](int slot) { return in_shard(slot, shard); }, 8, 100000 + shard * 7);
        numbers.insert(numbers.end(), in_it.begin(), in_it.end());
    }
    // One seed is enough: the others are found from its slot map.
    const TestConfig config =
        scale_out_config("redis-cluster://127.0.0.1:" + std::to_string(cluster.primary(1).port()), numbers);
    auto first = start_server(config);
    auto second = start_server(config);
    ASSERT_TRUE(first && second);
    HttpClient a(first->port());
    HttpClient b(second->port());

    for (const Number& number : numbers) EXPECT_EQ(send(a, number), 200) << number.e164;
    for (int shard = 0; shard < 3; ++shard) {
        EXPECT_EQ(cluster.primary(shard).command({"DBSIZE"}), "8")
            << "shard " << shard << " holds its numbers' codes";
    }
    for (const Number& number : numbers) {
        EXPECT_EQ(verify(b, number, "000000"), 400) << number.e164;
        EXPECT_EQ(verify(b, number), 200)
            << number.e164 << ": sent through one server, verified through the other";
        EXPECT_EQ(verify(a, number), 400) << number.e164 << ": single use";
    }
    const std::string detail = store_detail(*first);
    EXPECT_NE(detail.find("3 primaries (127.0.0.1:"), std::string::npos) << detail;
    EXPECT_NE(detail.find("16384 of 16384 slots served"), std::string::npos) << detail;
}

TEST(RedisScaleOutTest, ASlotMigratedMidRunLosesNoRequest) {
    RedisCluster cluster;
    const int slot = cluster_key_slot("testino:{+447400100000}:code");
    const int from = slot <= RedisCluster::last_slot(0) ? 0 : slot <= RedisCluster::last_slot(1) ? 1 : 2;
    const int to = (from + 1) % 3;
    // Every number of the run in the migrating slot: each request meets the migration.
    const auto numbers = numbers_where([slot](int s) { return s == slot; }, 4);
    ASSERT_EQ(numbers.size(), 4u);
    auto server = start_server(scale_out_config("redis-cluster://" + cluster.seeds(), numbers));
    ASSERT_TRUE(server);

    Load load(server->port(), numbers, 2);
    auto progressed = [&](int by) {
        const int target = load.tally.verified.load() + by;
        return eventually([&] { return load.tally.verified.load() >= target; }, 20s);
    };
    EXPECT_TRUE(progressed(20));
    cluster.begin_migration(slot, from, to);  // the source answers ASK for keys it no longer has
    EXPECT_TRUE(progressed(20));
    cluster.move_keys(slot);
    EXPECT_TRUE(progressed(20));
    cluster.move_keys(slot);         // what was written meanwhile
    cluster.finish_migration(slot);  // MOVED from now on
    EXPECT_TRUE(progressed(20));
    load.stop();

    EXPECT_EQ(cluster.owner_port(slot), cluster.shard_primary(to).port());
    EXPECT_EQ(load.tally.unavailable.load(), 0) << "no request failed during the migration";
    EXPECT_EQ(load.tally.unexpected.load(), 0);
    report("migration_acknowledged_sends", load.tally.acknowledged.load());
    report("migration_lost_sends", load.tally.lost.load());
    EXPECT_EQ(load.tally.acknowledged.load(), load.tally.verified.load())
        << "every acknowledged code verified";
    EXPECT_EQ(load.tally.lost.load(), 0);
}

TEST(RedisScaleOutTest, AKilledPrimaryFailsFastThenItsPromotedReplicaServes) {
    RedisCluster cluster(RedisClusterOptions{3, true});
    // Six numbers whose codes are acknowledged before the crash, and one to probe with.
    const auto on_shard0 = numbers_where([](int slot) { return in_shard(slot, 0); }, 7);
    const Number probe = on_shard0.back();
    const std::vector<Number> acknowledged(on_shard0.begin(), on_shard0.end() - 1);
    auto server = start_server(scale_out_config("redis-cluster://" + cluster.seeds(), on_shard0));
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    // Codes acknowledged before the crash, and on the replica by then (replication is
    // asynchronous: this test is about the failover keeping what was replicated).
    for (const Number& number : acknowledged) ASSERT_EQ(send(client, number), 200);
    ASSERT_TRUE(eventually(
        [&] { return cluster.replica(0).command({"DBSIZE"}) == std::to_string(acknowledged.size()); }, 10s))
        << "the replica never got the codes: " << cluster.replica(0).command({"DBSIZE"}) << "\n"
        << cluster.describe();
    cluster.kill_primary(0);

    // No owner for shard 0's slots until the replica takes over: 503 at once, no hang.
    int unavailable = 0;
    long long slowest_ms = 0;
    const auto killed = Clock::now();
    while (Clock::now() - killed < 1500ms) {
        const auto started = Clock::now();
        const auto response = client.post_json(kSendOtp, send_body("+44", probe.mobile));
        slowest_ms = std::max<long long>(
            slowest_ms,
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
        if (is_api_error(response, 503, "STORE_UNAVAILABLE")) ++unavailable;
    }
    EXPECT_GT(unavailable, 0);
    EXPECT_LT(slowest_ms, 1000) << "each answer within the 300 ms command timeout and some slack";

    ASSERT_TRUE(cluster.wait_promoted(0, 30s)) << cluster.describe();
    const auto promoted = Clock::now();
    EXPECT_TRUE(eventually([&] { return send(client, probe) == 200; }, 10s))
        << "the server found the new owner by itself";
    report("cluster_recovery_after_promotion_ms",
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - promoted).count());
    int lost = 0;
    for (const Number& number : acknowledged) {
        const long status = verify(client, number);
        EXPECT_TRUE(status == 200 || status == 400) << number.e164 << ": " << status;
        lost += status == 200 ? 0 : 1;
    }
    report("cluster_failover_lost_sends", lost);
    EXPECT_EQ(lost, 0) << "codes the replica had before the crash";
    const std::string detail = store_detail(*server);
    EXPECT_NE(detail.find("127.0.0.1:" + std::to_string(cluster.replica(0).port())), std::string::npos)
        << detail;
}

// --- Sentinel --------------------------------------------------------------------------------

TEST(RedisScaleOutTest, ASentinelFailoverUnderLoadIsFollowedWithoutARestart) {
    RedisSentinelOptions options;
    options.password = "data-secret";
    options.sentinel_password = "sentinel-secret";
    RedisSentinelGroup group(options);
    const auto numbers = numbers_where([](int) { return true; }, 8);
    const std::string url =
        "redis-sentinel://:" + options.password + "@" + group.sentinels() + "/" + group.master_name();
    // The sentinels' own password from the environment, as ops would set it.
    auto server = start_server(scale_out_config(url, numbers),
                               {{"REDIS_SENTINEL_PASSWORD", options.sentinel_password}});
    ASSERT_TRUE(server);
    const std::string before = store_detail(*server);
    EXPECT_NE(before.find("primary 127.0.0.1:" + std::to_string(group.primary().port())), std::string::npos)
        << before;

    Load load(server->port(), numbers, 2);
    EXPECT_TRUE(eventually([&] { return load.tally.verified.load() >= 40; }, 20s));
    group.kill_primary();
    load.mark();
    const long long killed_ms = load.elapsed_ms();
    ASSERT_TRUE(group.wait_failover(30s)) << group.describe();
    const long long failed_over_ms = load.elapsed_ms();
    const int verified_then = load.tally.verified.load();
    EXPECT_TRUE(eventually([&] { return load.tally.verified.load() >= verified_then + 40; }, 20s))
        << "the server uses the new primary by itself";
    load.stop();

    const long long back_ms = load.tally.first_success_after_ms.load();
    report("sentinel_failover_ms", failed_over_ms - killed_ms);
    report("sentinel_back_after_failover_ms", back_ms - failed_over_ms);
    EXPECT_LE(back_ms - failed_over_ms, 300 + 1000)
        << "within one command timeout (300 ms) and the reconnect backoff of the sentinels' answer";
    EXPECT_EQ(load.tally.unexpected.load(), 0);
    const std::string after = store_detail(*server);
    EXPECT_NE(after.find("primary 127.0.0.1:" + std::to_string(group.replica().port())), std::string::npos)
        << after;
    // Loss: sends acknowledged that never verified. Under load, the last writes before the
    // crash may not have reached the replica (asynchronous replication).
    report("sentinel_acknowledged_sends", load.tally.acknowledged.load());
    report("sentinel_lost_sends", load.tally.lost.load());

    server->send_signal(SIGTERM);
    server->wait_exit(10s);
    for (const std::string& secret : {options.password, options.sentinel_password}) {
        EXPECT_EQ(server->stdout_text().find(secret), std::string::npos) << "never logged";
    }
}

// SENTINEL FAILOVER: the replica is promoted and the old primary, still running, becomes
// its replica. Writes that reach the old one are refused READONLY; the server asks the
// sentinels again (and hears their +switch-master) and moves to the new primary. Returns
// the acknowledged sends lost: a write the old primary took after the promotion is gone
// when it resyncs from the new one, unless WAIT held its acknowledgement back.
int switchover_under_load(int wait_replicas) {
    RedisSentinelGroup group;
    const auto numbers = numbers_where([](int) { return true; }, 8);
    TestConfig config =
        scale_out_config("redis-sentinel://" + group.sentinels() + "/" + group.master_name(), numbers);
    config.store_sections["redis"]["wait_replicas"] = std::to_string(wait_replicas);
    auto server = start_server(config);
    if (!server) return -1;
    Load load(server->port(), numbers, 2);
    EXPECT_TRUE(eventually([&] { return load.tally.verified.load() >= 40; }, 20s));
    EXPECT_EQ(group.sentinel(0).command({"SENTINEL", "FAILOVER", group.master_name()}), "OK");
    EXPECT_TRUE(group.wait_failover(30s)) << group.describe();
    const int verified_then = load.tally.verified.load();
    EXPECT_TRUE(eventually([&] { return load.tally.verified.load() >= verified_then + 40; }, 20s));
    load.stop();
    EXPECT_TRUE(group.primary().running()) << "the old primary stayed up";
    EXPECT_EQ(load.tally.unexpected.load(), 0);
    const std::string detail = store_detail(*server);
    EXPECT_NE(detail.find("primary 127.0.0.1:" + std::to_string(group.replica().port())), std::string::npos)
        << detail;
    report("switchover_wait_replicas_" + std::to_string(wait_replicas) + "_acknowledged_sends",
           load.tally.acknowledged.load());
    return load.tally.lost.load();
}

TEST(RedisScaleOutTest, APlannedSentinelSwitchoverIsFollowedWhileTheOldPrimaryStaysUp) {
    const int lost = switchover_under_load(0);
    report("switchover_lost_sends", lost);
    EXPECT_GE(lost, 0);
    EXPECT_LE(lost, 4) << "at most the writes in flight while the roles changed (2 clients)";
}

TEST(RedisScaleOutTest, WithWaitReplicasASwitchoverLosesNoAcknowledgedSend) {
    const int lost = switchover_under_load(1);
    report("switchover_wait_replicas_lost_sends", lost);
    EXPECT_EQ(lost, 0);
}

TEST(RedisScaleOutTest, AnIdleServerHearsTheSentinelsSwitchMaster) {
    // No request fails here (the old primary stays up and answers PING as a replica), so
    // only the sentinels' +switch-master can tell the server about the new primary.
    RedisSentinelGroup group;
    auto server = start_server(
        scale_out_config("redis-sentinel://" + group.sentinels() + "/" + group.master_name(), {}));
    ASSERT_TRUE(server);
    const std::string new_primary = "primary 127.0.0.1:" + std::to_string(group.replica().port());
    EXPECT_EQ(store_detail(*server).find(new_primary), std::string::npos);
    EXPECT_EQ(group.sentinel(1).command({"SENTINEL", "FAILOVER", group.master_name()}), "OK");
    ASSERT_TRUE(group.wait_failover(30s)) << group.describe();
    EXPECT_TRUE(wait_for_event_where(*server, "store.redis.topology", "primaries",
                                     "127.0.0.1:" + std::to_string(group.replica().port()), 10s));
    EXPECT_NE(store_detail(*server).find(new_primary), std::string::npos) << store_detail(*server);
}

// Once the replica has loaded its first copy it acknowledges WAIT; until then sends fail.
bool replica_acknowledges(HttpClient& client, const Number& number) {
    return eventually([&] { return send(client, number) == 200; }, 5s);
}

// Behind the group's sentinels, each send waiting (WAIT) up to 100 ms for the replica.
TestConfig waiting_for_a_replica(const RedisSentinelGroup& group, const std::vector<Number>& numbers) {
    TestConfig config =
        scale_out_config("redis-sentinel://" + group.sentinels() + "/" + group.master_name(), numbers);
    config.store_sections["redis"]["wait_replicas"] = "1";
    config.store_sections["redis"]["wait_timeout_ms"] = "100";
    return config;
}

TEST(RedisScaleOutTest, WithWaitReplicasAnAcknowledgedCodeSurvivesTheFailover) {
    RedisSentinelGroup group;
    const auto numbers = numbers_where([](int) { return true; }, 20);
    auto server = start_server(waiting_for_a_replica(group, numbers));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_TRUE(replica_acknowledges(client, numbers[0]));
    // Sends right up to the crash: each 200 came after the replica had the code.
    std::vector<const Number*> acknowledged;
    for (const Number& number : numbers) {
        if (send(client, number) == 200) acknowledged.push_back(&number);
    }
    ASSERT_EQ(acknowledged.size(), numbers.size());
    group.kill_primary();
    ASSERT_TRUE(group.wait_failover(30s)) << group.describe();
    int lost = 0;
    for (const Number* number : acknowledged) {
        long status = 0;
        eventually([&] { return (status = verify(client, *number)) != 503; }, 10s);
        lost += status == 200 ? 0 : 1;
    }
    report("wait_replicas_lost_sends", lost);
    EXPECT_EQ(lost, 0);
}

TEST(RedisScaleOutTest, WaitReplicasRefusesASendNoReplicaTook) {
    RedisSentinelGroup group;
    const auto numbers = numbers_where([](int) { return true; }, 1);
    auto server = start_server(waiting_for_a_replica(group, numbers));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_TRUE(replica_acknowledges(client, numbers[0]));
    group.replica().freeze();  // connected, takes nothing
    const auto response = client.post_json(kSendOtp, send_body("+44", numbers[0].mobile));
    group.replica().thaw();
    EXPECT_TRUE(is_api_error(response, 503, "STORE_UNAVAILABLE")) << response.body;
    EXPECT_EQ(send(client, numbers[0]), 200) << "and takes sends again once the replica does";
}

}  // namespace
}  // namespace testino::test
