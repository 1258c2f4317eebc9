// Refresh tokens through the real server: verify-otp returns one, POST /api/v1/auth/refresh
// rotates it, reuse of a rotated token revokes the sign-in (RFC 9700 4.14.2), concurrent
// refreshes have one winner, POST /api/v1/auth/logout revokes; errors and limits.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kRefresh = "/api/v1/auth/refresh";
constexpr const char* kLogout = "/api/v1/auth/logout";

std::string refresh_body(const std::string& token) { return R"({"refresh_token":")" + token + R"("})"; }

class RefreshTokensTest : public SharedServerTest<RefreshTokensTest> {
public:
    static TestConfig suite_config() { return TestConfig{}; }

protected:
    // Signs `number` in and returns verify-otp's body.
    rapidjson::Document sign_in(const std::string& number) {
        const std::string code = send_and_read_console_code(*server_, *client_, "+1", number, "+1" + number);
        const HttpResponse r = client_->post_json(kVerifyOtp, verify_body("+1", number, code));
        EXPECT_EQ(r.status, 200) << r.body;
        return parse_json(r.body);
    }
    std::string refresh_token_of(const std::string& number) {
        return json_string(sign_in(number), "refresh_token");
    }
    HttpResponse refresh(const std::string& token) {
        return client_->post_json(kRefresh, refresh_body(token));
    }
};

TEST_F(RefreshTokensTest, VerifyReturnsARefreshTokenBesideTheSeedsFields) {
    const auto body = sign_in("2025550150");
    EXPECT_EQ(json_string(body, "message"), "OTP verified successfully");
    EXPECT_FALSE(json_string(body, "access_token").empty());
    EXPECT_EQ(json_string(body, "token_type"), "bearer");
    EXPECT_EQ(json_int(body, "expires_in"), 3600);
    EXPECT_EQ(json_string(body, "refresh_token").size(), 66u);
    EXPECT_EQ(json_int(body, "refresh_expires_in"), 30 * 86400);
}

TEST_F(RefreshTokensTest, RefreshRotatesAndIssuesANewPairForTheSameNumber) {
    const std::string first = refresh_token_of("2025550151");
    const HttpResponse r = refresh(first);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    const auto body = parse_json(r.body);
    EXPECT_EQ(json_string(body, "message"), "Tokens refreshed");
    const std::string second = json_string(body, "refresh_token");
    EXPECT_EQ(second.size(), 66u);
    EXPECT_NE(second, first);
    EXPECT_EQ(second.substr(0, 22), first.substr(0, 22)) << "the same sign-in (family)";
    const auto jwt = decode_jwt(json_string(body, "access_token"), kTokenSecret);
    ASSERT_TRUE(jwt);
    EXPECT_TRUE(jwt->signature_valid);
    EXPECT_EQ(json_string(jwt->payload, "sub"), "+12025550151");
    // The new token rotates again.
    EXPECT_EQ(refresh(second).status, 200);
}

TEST_F(RefreshTokensTest, ReusingARotatedTokenRevokesTheWholeSignIn) {
    const std::string first = refresh_token_of("2025550152");
    const HttpResponse rotated = refresh(first);
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    const std::string second = json_string(parse_json(rotated.body), "refresh_token");

    const HttpResponse reuse = refresh(first);
    EXPECT_TRUE(is_api_error(reuse, 401, "REFRESH_TOKEN_REUSED")) << reuse.body;
    EXPECT_TRUE(wait_for_event_where(*server_, "session.refresh_reused", "session", first.substr(0, 22)));
    // The thief's (or the owner's) newer token is dead too.
    EXPECT_TRUE(is_api_error(refresh(second), 401, "INVALID_REFRESH_TOKEN"));
    // Another sign-in of the same number is untouched.
    EXPECT_EQ(refresh(refresh_token_of("2025550152")).status, 200);
}

TEST_F(RefreshTokensTest, ConcurrentRefreshesOfOneTokenHaveExactlyOneWinner) {
    const std::string token = refresh_token_of("2025550153");
    constexpr int kClients = 8;
    std::atomic<int> ready{0};
    std::vector<std::future<HttpResponse>> answers;
    for (int i = 0; i < kClients; ++i) {
        answers.push_back(std::async(std::launch::async, [&] {
            HttpClient client(server_->port());
            ++ready;
            while (ready.load() < kClients) std::this_thread::yield();
            return client.post_json(kRefresh, refresh_body(token));
        }));
    }
    int won = 0;
    int reused = 0;
    int revoked = 0;
    std::string winner;
    for (auto& a : answers) {
        const HttpResponse r = a.get();
        if (r.status == 200) {
            ++won;
            winner = json_string(parse_json(r.body), "refresh_token");
        }
        if (is_api_error(r, 401, "REFRESH_TOKEN_REUSED")) ++reused;
        if (is_api_error(r, 401, "INVALID_REFRESH_TOKEN")) ++revoked;
    }
    EXPECT_EQ(won, 1);
    // The first loser is a reuse and revokes the sign-in; any later one finds it gone.
    EXPECT_GE(reused, 1);
    EXPECT_EQ(reused + revoked, kClients - 1);
    // Strict by default (refresh_reuse_grace_seconds: 0): the winner's new token went with it.
    EXPECT_TRUE(is_api_error(refresh(winner), 401, "INVALID_REFRESH_TOKEN"));
}

TEST_F(RefreshTokensTest, LogoutRevokesAndIsIdempotent) {
    const std::string first = refresh_token_of("2025550154");
    const HttpResponse rotated = refresh(first);
    const std::string second = json_string(parse_json(rotated.body), "refresh_token");
    const HttpResponse out = client_->post_json(kLogout, refresh_body(second));
    ASSERT_EQ(out.status, 200) << out.body;
    EXPECT_EQ(out.body, R"({"success":true,"message":"Signed out"})");
    EXPECT_TRUE(is_api_error(refresh(second), 401, "INVALID_REFRESH_TOKEN"));
    // Signed out already, an unknown token, a token of another shape: still 200 (RFC 7009).
    EXPECT_EQ(client_->post_json(kLogout, refresh_body(second)).status, 200);
    EXPECT_EQ(client_->post_json(kLogout, refresh_body(first)).status, 200);
    EXPECT_EQ(client_->post_json(kLogout, refresh_body("not-a-token")).status, 200);
}

TEST_F(RefreshTokensTest, LoggingOutWithAnOlderTokenOfTheSignInRevokesItToo) {
    const std::string first = refresh_token_of("2025550155");
    const std::string second = json_string(parse_json(refresh(first).body), "refresh_token");
    ASSERT_EQ(client_->post_json(kLogout, refresh_body(first)).status, 200);
    EXPECT_TRUE(is_api_error(refresh(second), 401, "INVALID_REFRESH_TOKEN"));
}

TEST_F(RefreshTokensTest, BadRequestsGetTheApiErrorShape) {
    const std::string valid_shape = refresh_token_of("2025550156");
    std::string forged = valid_shape;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    EXPECT_TRUE(is_api_error(refresh(forged), 401, "INVALID_REFRESH_TOKEN"));
    EXPECT_TRUE(is_api_error(refresh("x"), 401, "INVALID_REFRESH_TOKEN"));
    EXPECT_TRUE(is_api_error(refresh(std::string(200, 'a')), 401, "INVALID_REFRESH_TOKEN"));
    for (const char* path : {kRefresh, kLogout}) {
        EXPECT_TRUE(is_api_error(client_->post_json(path, "{}"), 422, "VALIDATION_ERROR", "refresh_token"));
        EXPECT_TRUE(is_api_error(client_->post_json(path, R"({"refresh_token":1})"), 422, "VALIDATION_ERROR",
                                 "refresh_token"));
        EXPECT_TRUE(is_api_error(client_->post_json(path, R"({"refresh_token":"a","x":"b"})"), 422,
                                 "VALIDATION_ERROR", "x"));
        EXPECT_TRUE(is_api_error(client_->post_json(path, refresh_body(std::string(300, 'a'))), 422,
                                 "VALIDATION_ERROR"));
        EXPECT_TRUE(is_api_error(client_->post_json(path, "{"), 400, "INVALID_JSON"));
        EXPECT_TRUE(is_api_error(client_->request("POST", path, refresh_body(valid_shape)), 415,
                                 "UNSUPPORTED_MEDIA_TYPE"));
        EXPECT_TRUE(is_api_error(client_->get(path), 405, "METHOD_NOT_ALLOWED"));
    }
    // None of that cost the real token anything.
    EXPECT_EQ(refresh(valid_shape).status, 200);
}

TEST(RefreshTokenConfigTest, AGraceWindowAnswersTheLosersOfARace409WithoutRevoking) {
    TestConfig config;
    config.token["refresh_reuse_grace_seconds"] = "30";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550157", "+12025550157");
    const std::string first =
        json_string(parse_json(client.post_json(kVerifyOtp, verify_body("+1", "2025550157", code)).body),
                    "refresh_token");
    const HttpResponse won = client.post_json(kRefresh, refresh_body(first));
    ASSERT_EQ(won.status, 200) << won.body;
    EXPECT_TRUE(is_api_error(client.post_json(kRefresh, refresh_body(first)), 409, "REFRESH_TOKEN_RACED"));
    // The winner's token still works.
    EXPECT_EQ(
        client.post_json(kRefresh, refresh_body(json_string(parse_json(won.body), "refresh_token"))).status,
        200);
}

TEST(RefreshTokenConfigTest, RefreshTokensExpireAfterTheirTtl) {
    TestConfig config;
    config.token["refresh_ttl_seconds"] = "1";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550158", "+12025550158");
    const auto body = parse_json(client.post_json(kVerifyOtp, verify_body("+1", "2025550158", code)).body);
    EXPECT_EQ(json_int(body, "refresh_expires_in"), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_TRUE(is_api_error(client.post_json(kRefresh, refresh_body(json_string(body, "refresh_token"))),
                             401, "INVALID_REFRESH_TOKEN"));
}

TEST(RefreshTokenConfigTest, OffGivesNoRefreshToken) {
    TestConfig config;
    config.token["refresh_ttl_seconds"] = "0";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550159", "+12025550159");
    const HttpResponse r = client.post_json(kVerifyOtp, verify_body("+1", "2025550159", code));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto body = parse_json(r.body);
    EXPECT_FALSE(json_string(body, "access_token").empty());
    EXPECT_FALSE(body.HasMember("refresh_token")) << r.body;
}

TEST(RefreshTokenConfigTest, RefreshesArePerAddressLimited) {
    TestConfig config;
    config.limits["ip_refreshes_per_window"] = "2";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_TRUE(is_api_error(client.post_json(kRefresh, refresh_body("a")), 401, "INVALID_REFRESH_TOKEN"));
    EXPECT_EQ(client.post_json(kLogout, refresh_body("a")).status, 200);
    const HttpResponse limited = client.post_json(kRefresh, refresh_body("a"));
    EXPECT_TRUE(is_api_error(limited, 429, "RATE_LIMITED")) << limited.body;
    EXPECT_FALSE(limited.header("Retry-After").empty());
}

}  // namespace
}  // namespace testino::test
