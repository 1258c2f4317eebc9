// Lifecycle webhooks through the real server: each event reaches a receiver on loopback,
// signed per Standard Webhooks (checked here with our own HMAC, as a receiver would), with
// the number masked and no code; a failing receiver gets retries with backoff, then the
// dead letters; a slow one never holds a request; the events filter; the start-up errors.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <thread>

#include "fake_http_server.hpp"
#include "integration_common.hpp"

namespace testino::test {
namespace {

using namespace std::chrono_literals;

// The spec's example secret: 24 bytes.
constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// What a receiver does: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the decoded secret.
std::string expected_signature(const ReceivedRequest& r) {
    std::string key(24, '\0');
    const std::string text = std::string(kSecret).substr(6);
    EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                    reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    const std::string content =
        r.header("webhook-id").value_or("") + "." + r.header("webhook-timestamp").value_or("") + "." + r.body;
    unsigned char mac[32];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &size);
    return "v1," + base64(mac, size);
}

TestConfig with_webhooks(const std::string& url, const std::string& extra = "") {
    TestConfig config;
    config.use_test_sink();
    config.extra_yaml = "webhooks:\n  urls: [\"" + url + "\"]\n  secret: \"" + kSecret +
                        "\"\n  backoff_initial_ms: 50\n  backoff_max_ms: 200\n  poll_interval_ms: 50\n" +
                        extra;
    return config;
}

// The receiver's requests whose body has "type":"<type>".
std::vector<ReceivedRequest> of_type(const FakeHttpServer& receiver, const std::string& type) {
    std::vector<ReceivedRequest> found;
    for (const auto& r : receiver.requests()) {
        if (json_string(parse_json(r.body), "type") == type) found.push_back(r);
    }
    return found;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return done();
}

std::string code_sent_to(const ServerProcess& server, const std::string& e164) {
    std::string code;
    for (const auto& entry : outbox_entries(server)) {
        if (json_string(entry, "to") == e164) code = json_string(entry, "code");
    }
    return code;
}

std::string metric_line(HttpClient& admin, const std::string& name) {
    const std::string body = admin.get(kMetrics).body;
    const std::size_t at = body.find("\n" + name + " ");
    return at == std::string::npos ? "" : body.substr(at + 1, body.find('\n', at + 1) - at - 1);
}

TEST(WebhooksTest, SentAndVerifiedArriveSignedMaskedAndWithoutTheCode) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{204, "", "text/plain", 0ms}; });
    auto server = start_server(with_webhooks(receiver.base_url() + "/hooks"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto sent = client.post_json(kSendOtp, send_body("+1", "2025550170"));
    ASSERT_EQ(sent.status, 200) << sent.body;
    const std::string verification_id = json_string(parse_json(sent.body), "verification_id");
    const std::string code = code_sent_to(*server, "+12025550170");
    ASSERT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550170", code)).status, 200);
    ASSERT_TRUE(wait_until([&] { return of_type(receiver, "otp.verified").size() == 1; }))
        << server->stdout_text();

    const auto deliveries = of_type(receiver, "otp.sent");
    ASSERT_EQ(deliveries.size(), 1u);
    const ReceivedRequest& r = deliveries[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/hooks");
    EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
    EXPECT_EQ(r.header("webhook-id").value_or("").rfind("msg_", 0), 0u);
    const long long timestamp = std::stoll(r.header("webhook-timestamp").value_or("0"));
    const long long now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    EXPECT_LE(std::llabs(now - timestamp), 60);
    EXPECT_EQ(r.header("webhook-signature").value_or(""), expected_signature(r));

    const auto body = parse_json(r.body);
    ASSERT_TRUE(body.IsObject()) << r.body;
    EXPECT_FALSE(json_string(body, "timestamp").empty());
    const auto& data = body["data"];
    EXPECT_EQ(json_string(data, "phone_number"), "+120******70");
    EXPECT_EQ(json_string(data, "verification_id"), verification_id);
    EXPECT_EQ(json_string(data, "channel"), "sms");
    EXPECT_EQ(json_string(data, "provider"), "test_sink");
    EXPECT_EQ(json_string(data, "request_id"), sent.header("X-Request-Id"));
    EXPECT_EQ(json_int(data, "expires_in"), 300);
    EXPECT_EQ(json_string(data, "id"), r.header("webhook-id").value_or(""));
    for (const auto& any : receiver.requests()) {
        EXPECT_EQ(any.body.find(code), std::string::npos) << "the code leaked: " << any.body;
        EXPECT_EQ(any.body.find("2025550170"), std::string::npos) << "the number leaked: " << any.body;
    }
    HttpClient admin(server->admin_port());
    EXPECT_EQ(metric_line(admin, "testino_webhook_deliveries_total"), "testino_webhook_deliveries_total 2");
}

TEST(WebhooksTest, AFailingReceiverGetsRetriesWithTheSameIdUntilItAnswers) {
    std::atomic<int> calls{0};
    FakeHttpServer receiver([&](const ReceivedRequest&) {
        return ++calls <= 2 ? ScriptedReply{500, "no", "text/plain", 0ms}
                            : ScriptedReply{200, "", "text/plain", 0ms};
    });
    auto server = start_server(with_webhooks(receiver.base_url() + "/", "  events: [otp.sent]\n"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550171")).status, 200);
    ASSERT_TRUE(wait_until([&] { return calls.load() >= 3; })) << server->stdout_text();
    const auto attempts = receiver.requests();
    ASSERT_EQ(attempts.size(), 3u);
    for (const auto& a : attempts) {
        EXPECT_EQ(a.header("webhook-id"), attempts[0].header("webhook-id")) << "one event, one id";
        EXPECT_EQ(a.body, attempts[0].body);
        EXPECT_EQ(a.header("webhook-signature").value_or(""), expected_signature(a));
    }
    EXPECT_TRUE(wait_for_event(*server, "webhook.delivered", 5s));
    const auto retry = wait_for_event(*server, "webhook.retry", 1s);
    ASSERT_TRUE(retry);
    EXPECT_EQ(json_string(parse_json(*retry), "error"), "HTTP 500");
    HttpClient admin(server->admin_port());
    EXPECT_EQ(metric_line(admin, "testino_webhook_retries_total"), "testino_webhook_retries_total 2");
}

TEST(WebhooksTest, AfterMaxAttemptsTheEventGoesToTheDeadLetters) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{503, "", "text/plain", 0ms}; });
    auto server =
        start_server(with_webhooks(receiver.base_url() + "/", "  events: [otp.sent]\n  max_attempts: 3\n"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550172")).status, 200);
    const auto dead = wait_for_event(*server, "webhook.dead_letter", 10s);
    ASSERT_TRUE(dead) << server->stdout_text();
    EXPECT_EQ(json_int(parse_json(*dead), "attempts"), 3);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(receiver.request_count(), 3u) << "no attempt after the dead letter";
    HttpClient admin(server->admin_port());
    EXPECT_EQ(metric_line(admin, "testino_webhook_dead_letters_total"),
              "testino_webhook_dead_letters_total 1");
    // The depth gauge is read every 5 s.
    EXPECT_TRUE(wait_until([&] {
        return admin.get(kMetrics).body.find("testino_webhook_outbox_items{queue=\"dead\"} 1") !=
               std::string::npos;
    }));
}

TEST(WebhooksTest, ASlowReceiverNeverHoldsARequest) {
    FakeHttpServer receiver([](const ReceivedRequest&) {
        return ScriptedReply{200, "", "text/plain", 4000ms};
    });
    auto server = start_server(with_webhooks(receiver.base_url() + "/", "  workers: 1\n"));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550173")).status, 200);
    ASSERT_TRUE(wait_until([&] { return receiver.request_count() >= 1; }, 5s));
    // The one worker is inside a 4 s delivery: sends and verifies go on regardless.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550174")).status, 200);
    const std::string code = code_sent_to(*server, "+12025550174");
    ASSERT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550174", code)).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(WebhooksTest, FailedBlockedMaxAttemptsAndExpiredEvents) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{200, "", "text/plain", 0ms}; });
    TestConfig config = with_webhooks(receiver.base_url() + "/");
    config.otp["expiry_seconds"] = "1";
    config.otp["max_attempts"] = "1";
    config.limits["country_allowlist"] = "[\"1\"]";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    // otp.blocked: a country the allowlist leaves out.
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+44", "7400123456")).status, 403);
    // otp.max_attempts: the one wrong guess kills the code.
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550175")).status, 200);
    const std::string code = code_sent_to(*server, "+12025550175");
    const std::string wrong =
        std::string(1, code[0] == '9' ? '0' : static_cast<char>(code[0] + 1)) + code.substr(1);
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550175", wrong)).status, 400);
    // otp.expired: a code left alone for its second.
    ASSERT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550176")).status, 200);
    ASSERT_TRUE(wait_until([&] { return !of_type(receiver, "otp.expired").empty(); }))
        << server->stdout_text();

    const auto blocked = of_type(receiver, "otp.blocked");
    ASSERT_EQ(blocked.size(), 1u);
    EXPECT_EQ(json_string(parse_json(blocked[0].body)["data"], "reason"), "COUNTRY_NOT_ALLOWED");
    EXPECT_EQ(json_string(parse_json(blocked[0].body)["data"], "phone_number"), "+447*******56");
    EXPECT_EQ(of_type(receiver, "otp.max_attempts").size(), 1u);
    const auto expired = of_type(receiver, "otp.expired");
    ASSERT_EQ(expired.size(), 1u) << "a killed code does not also expire";
    EXPECT_EQ(json_string(parse_json(expired[0].body)["data"], "phone_number"), "+120******76");
}

TEST(WebhooksTest, AFailedSendIsOtpFailedAndTheFilterKeepsToTheListedEvents) {
    FakeHttpServer receiver([](const ReceivedRequest&) { return ScriptedReply{200, "", "text/plain", 0ms}; });
    TestConfig config =
        with_webhooks(receiver.base_url() + "/", "  events: [otp.failed]\n  mask_numbers: false\n");
    config.sms_sections["test_sink"]["fail_with"] = "\"unavailable\"";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550177")).status, 502);
    ASSERT_TRUE(wait_until([&] { return receiver.request_count() == 1; }));
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(receiver.request_count(), 1u) << "only otp.failed is listed";
    const auto body = parse_json(receiver.requests()[0].body);
    EXPECT_EQ(json_string(body, "type"), "otp.failed");
    EXPECT_EQ(json_string(body["data"], "reason"), "SMS_PROVIDER_UNAVAILABLE");
    EXPECT_EQ(json_string(body["data"], "phone_number"), "+12025550177") << "mask_numbers: false";
}

TEST(WebhooksConfigTest, BadSettingsStopTheStartNamingTheKey) {
    TestConfig config;
    config.extra_yaml =
        "webhooks:\n  urls: [\"ftp://example.test/\"]\n  secret: \"" + std::string(kSecret) + "\"\n";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"webhooks.urls", "ftp://example.test/"}));
    config.extra_yaml = "webhooks:\n  urls: [\"http://127.0.0.1:9/\"]\n";
    EXPECT_TRUE(
        fails_to_start(run(config.yaml()), {"webhooks.secret", "required", "openssl rand -base64 32"}));
    config.extra_yaml = "webhooks:\n  urls: [\"http://127.0.0.1:9/\"]\n  secret: \"whsec_c2hvcnQ=\"\n";
    const auto short_secret = run(config.yaml());
    EXPECT_TRUE(fails_to_start(short_secret, {"webhooks.secret", "24 to 64"}));
    EXPECT_EQ(short_secret.stderr_text.find("c2hvcnQ"), std::string::npos) << "never the secret";
    config.extra_yaml = "webhooks:\n  urls: [\"http://127.0.0.1:9/\"]\n  secret: \"" + std::string(kSecret) +
                        "\"\n  events: [otp.sent, otp.read]\n";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"webhooks.events", "otp.read"}));
}

}  // namespace
}  // namespace testino::test
