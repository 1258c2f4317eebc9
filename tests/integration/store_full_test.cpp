// A store with no room, over HTTP, on the memory store with tiny tables: a live counter or
// code is never evicted, a new one is refused (fail closed) with 503 STORE_FULL, an error
// log line and testino_store_full_total.
#include "integration_common.hpp"

namespace testino::test {
namespace {

// A line of /metrics, which the admin listener serves.
bool metrics_line(ServerProcess& server, const std::string& line) {
    HttpClient admin(server.admin_port());
    const std::string body = admin.get("/metrics").body;
    return body.find("\n" + line + "\n") != std::string::npos;
}

TEST(StoreFullTest, AFullCounterTableRefusesNewCountersAndKeepsTheLiveOnes) {
    TestConfig config;
    config.limits["number_sends_per_window"] = "5";  // one counter per number
    config.store_sections["memory"]["max_counters"] = "1";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550101")).status, 200);
    const auto refused = client.post_json(kSendOtp, send_body("+1", "2025550102"));
    EXPECT_TRUE(is_api_error(refused, 503, "STORE_FULL")) << refused.body;
    EXPECT_FALSE(refused.header("Retry-After").empty());
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550101")).status, 200)
        << "the live counter still counts: nothing was evicted to make room";

    const auto logged = wait_for_event(*server, "store.counter_failed", 5s);
    ASSERT_TRUE(logged);
    EXPECT_NE(logged->find("\"level\":\"error\""), std::string::npos) << *logged;
    EXPECT_NE(logged->find("store.memory.max_counters"), std::string::npos) << *logged;
    EXPECT_TRUE(metrics_line(*server, "testino_store_full_total{table=\"counters\"} 1"));
    EXPECT_TRUE(metrics_line(*server, "testino_store_full_total{table=\"codes\"} 0"));
}

TEST(StoreFullTest, AFullCodeTableRefusesANewNumberWithStoreFull) {
    TestConfig config;
    config.store_sections["memory"]["max_codes"] = "1";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());

    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550101")).status, 200);
    EXPECT_TRUE(is_api_error(client.post_json(kSendOtp, send_body("+1", "2025550102")), 503, "STORE_FULL"));
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550101")).status, 200)
        << "a resend has its slot";
    EXPECT_TRUE(wait_for_event(*server, "store.put_failed", 5s));
    EXPECT_TRUE(metrics_line(*server, "testino_store_full_total{table=\"codes\"} 1"));
}

}  // namespace
}  // namespace testino::test
