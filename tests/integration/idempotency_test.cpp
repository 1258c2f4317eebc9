// Idempotent sends through the real server: the same Idempotency-Key and request within the
// code's lifetime replay the first reply and send no second message; the same key with
// another request is a 422; a refused send frees the key; concurrent repeats send one SMS.
#include <future>
#include <set>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

std::size_t sent_to(const ServerProcess& server, const std::string& e164) {
    std::size_t n = 0;
    for (const auto& entry : outbox_entries(server)) n += json_string(entry, "to") == e164 ? 1 : 0;
    return n;
}

class IdempotencyTest : public SharedServerTest<IdempotencyTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.use_test_sink();
        return config;
    }
};

TEST_F(IdempotencyTest, TheSameKeyAndRequestReplayTheFirstReplyAndSendNothing) {
    const std::vector<std::string> key{"Idempotency-Key: 5d0c1c9e-3f5b-4c1e-9a53-1d8b7c0e2f01"};
    const auto first = client_->post_json(kSendOtp, send_body("+1", "2025550180"), key);
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.header("Idempotent-Replayed"), "");
    const auto again = client_->post_json(kSendOtp, send_body("+1", "2025550180"), key);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.body, first.body) << "the first reply, verification_id and all";
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(sent_to(*server_, "+12025550180"), 1u) << "no second SMS";
    // Whitespace in the body is not a different request; another key is.
    const auto spaced =
        client_->post_json(kSendOtp, "{ \"country_code\": \"+1\",  \"mobile_number\": \"2025550180\" }", key);
    EXPECT_EQ(spaced.body, first.body);
    const auto other =
        client_->post_json(kSendOtp, send_body("+1", "2025550180"), {"Idempotency-Key: 0b7e0d1a-other-key"});
    ASSERT_EQ(other.status, 200);
    EXPECT_NE(other.body, first.body);
    EXPECT_EQ(sent_to(*server_, "+12025550180"), 2u);
    EXPECT_NE(admin_->get(kMetrics).body.find("\ntestino_idempotent_replays_total 2\n"), std::string::npos);
}

TEST_F(IdempotencyTest, TheSameKeyWithAnotherRequestIsA422) {
    const std::vector<std::string> key{"Idempotency-Key: key-for-two-bodies"};
    ASSERT_EQ(client_->post_json(kSendOtp, send_body("+1", "2025550181"), key).status, 200);
    const auto changed = client_->post_json(kSendOtp, send_body("+1", "2025550182"), key);
    EXPECT_TRUE(is_api_error(changed, 422, "VALIDATION_ERROR", "Idempotency-Key"));
    EXPECT_NE(changed.body.find("different request"), std::string::npos) << changed.body;
    EXPECT_EQ(sent_to(*server_, "+12025550182"), 0u);
}

TEST_F(IdempotencyTest, AMalformedKeyIsA422) {
    for (const std::string& bad : {std::string(256, 'k'), std::string("has space")}) {
        const auto answer =
            client_->post_json(kSendOtp, send_body("+1", "2025550183"), {"Idempotency-Key: " + bad});
        EXPECT_TRUE(is_api_error(answer, 422, "VALIDATION_ERROR", "Idempotency-Key")) << bad;
    }
    EXPECT_EQ(sent_to(*server_, "+12025550183"), 0u);
}

TEST_F(IdempotencyTest, ARefusedRequestFreesItsKey) {
    const std::vector<std::string> key{"Idempotency-Key: refused-then-fixed"};
    // Not a mobile number: refused, so the key holds nothing.
    EXPECT_EQ(client_->post_json(kSendOtp, send_body("+1", "12"), key).status, 422);
    const auto fixed = client_->post_json(kSendOtp, send_body("+1", "12"), key);
    EXPECT_EQ(fixed.status, 422) << "the same request is refused again, not replayed as in progress";
}

TEST_F(IdempotencyTest, ConcurrentRepeatsSendOneSms) {
    const std::vector<std::string> key{"Idempotency-Key: concurrent-repeats"};
    std::vector<std::future<HttpResponse>> answers;
    for (int i = 0; i < 6; ++i) {
        answers.push_back(std::async(std::launch::async, [&] {
            HttpClient client(server_->port());
            return client.post_json(kSendOtp, send_body("+1", "2025550184"), key);
        }));
    }
    std::set<std::string> bodies;
    for (auto& a : answers) {
        const HttpResponse r = a.get();
        if (r.status == 200) {
            bodies.insert(r.body);
        } else {
            EXPECT_TRUE(is_api_error(r, 409, "REQUEST_IN_PROGRESS")) << r.body;
            EXPECT_EQ(r.header("Retry-After"), "1");
        }
    }
    EXPECT_EQ(bodies.size(), 1u) << "every 200 is the same reply";
    EXPECT_EQ(sent_to(*server_, "+12025550184"), 1u);
}

}  // namespace
}  // namespace testino::test
