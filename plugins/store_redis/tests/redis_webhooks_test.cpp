// The real testino-server with lifecycle webhooks on `store.backend: redis`: the outbox is in
// Redis, so an event filed while the receiver is down outlives the server process (killed,
// like a crash) and is delivered, with the same id, by the server started after it.
#include <atomic>
#include <csignal>

#include "fake_http_server.hpp"
#include "integration_common.hpp"
#include "redis_server.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOutboxDue = "testino:q:webhooks:{outbox}:due";

TestConfig webhooks_on_redis(const std::string& redis_url, const std::string& receiver_url) {
    TestConfig config;
    config.use_test_sink();
    config.store["backend"] = "redis";
    config.store_sections["redis"]["url"] = "\"" + redis_url + "\"";
    // A short delivery timeout keeps the lease of an item claimed at the kill short (2x + 5 s).
    config.extra_yaml = "webhooks:\n  urls: [\"" + receiver_url +
                        "\"]\n  secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n  events: [otp.sent]\n"
                        "  timeout_ms: 500\n  max_attempts: 100\n  backoff_initial_ms: 50\n"
                        "  backoff_max_ms: 200\n  poll_interval_ms: 50\n";
    return config;
}

TEST(RedisWebhooksTest, AnEventFiledWhileTheReceiverIsDownIsDeliveredAfterAServerRestart) {
    RedisServer redis;
    std::atomic<bool> receiver_up{false};
    FakeHttpServer receiver([&](const ReceivedRequest&) {
        return receiver_up ? ScriptedReply{204, "", "text/plain", 0ms}
                           : ScriptedReply{503, "", "text/plain", 0ms};
    });
    const TestConfig config = webhooks_on_redis(redis.url(), receiver.base_url() + "/hooks");
    {
        auto server = start_server(config);
        ASSERT_TRUE(server);
        HttpClient client(server->port());
        const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550180"));
        ASSERT_EQ(sent.status, 200) << sent.body;
        ASSERT_TRUE(eventually([&] { return receiver.request_count() >= 2; })) << server->stdout_text();
        server->send_signal(SIGKILL);  // a crash: nothing is flushed or handed over
        ASSERT_TRUE(server->wait_exit(10s).has_value());
    }
    EXPECT_EQ(redis.command({"ZCARD", kOutboxDue}), "1") << "the undelivered event is in Redis";
    const std::string id = receiver.requests().front().header("webhook-id").value_or("");
    ASSERT_FALSE(id.empty());
    receiver.clear_requests();
    receiver_up = true;

    auto restarted = start_server(config);
    ASSERT_TRUE(restarted);
    ASSERT_TRUE(eventually([&] { return receiver.request_count() >= 1; }, 20s))
        << "delivered by the new process: " << restarted->stdout_text();
    const auto delivered = receiver.requests().front();
    EXPECT_EQ(delivered.header("webhook-id").value_or(""), id) << "the same event, not a new one";
    EXPECT_EQ(json_string(parse_json(delivered.body), "type"), "otp.sent");
    EXPECT_TRUE(eventually([&] {
        return redis.command({"ZCARD", kOutboxDue}) == "0";
    })) << "acked once delivered";
    EXPECT_EQ(redis.command({"ZCARD", "testino:q:webhooks:{dead}:due"}), "0") << "nothing dead-lettered";
}

}  // namespace
}  // namespace testino::test
