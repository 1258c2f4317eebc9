// Every error of the API's table that a client can cause over HTTP, checked for its exact
// status and JSON shape, plus the attempt limit under concurrency.
#include <atomic>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr int kMaxAttempts = 5;
constexpr int kMaxBodyBytes = 4096;

class ApiErrorsTest : public SharedServerTest<ApiErrorsTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.otp["max_attempts"] = std::to_string(kMaxAttempts);
        config.server["max_body_bytes"] = std::to_string(kMaxBodyBytes);
        return config;
    }

protected:
    void TearDown() override {
        // Whatever a test threw at it, the server must still answer.
        if (server_ != nullptr) {
            HttpClient fresh(server_->port());
            EXPECT_EQ(fresh.get(kHealth).status, 200) << "server unhealthy after the test";
            EXPECT_TRUE(server_->running()) << server_->stderr_text();
        }
    }

    HttpResponse send(const std::string& body) { return client_->post_json(kSendOtp, body); }
    HttpResponse verify(const std::string& body) { return client_->post_json(kVerifyOtp, body); }
};

TEST_F(ApiErrorsTest, MalformedJsonIsInvalidJson) {
    EXPECT_TRUE(is_api_error(send("{\"country_code\":"), 400, "INVALID_JSON"));
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\",}"), 400, "INVALID_JSON"));
    EXPECT_TRUE(is_api_error(send("not json"), 400, "INVALID_JSON"));
    EXPECT_TRUE(is_api_error(verify("{'otp':'123456'}"), 400, "INVALID_JSON"));
    // Trailing garbage after a complete document is still not one JSON document.
    EXPECT_TRUE(is_api_error(send(send_body("+1", "2025550150") + "x"), 400, "INVALID_JSON"));
}

TEST_F(ApiErrorsTest, EmptyBodyIsInvalidJson) {
    EXPECT_TRUE(is_api_error(send(""), 400, "INVALID_JSON"));
    EXPECT_TRUE(is_api_error(verify(""), 400, "INVALID_JSON"));
}

TEST_F(ApiErrorsTest, InvalidUtf8IsInvalidJson) {
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":\"202555\xff"
                                  "0123\"}"),
                             400, "INVALID_JSON"));
    // An overlong encoding of '0' and a lone surrogate (CESU) are not UTF-8 either.
    EXPECT_TRUE(
        is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":\"\xc0\xb0\"}"), 400, "INVALID_JSON"));
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":\"\xed\xa0\x80\"}"), 400,
                             "INVALID_JSON"));
}

TEST_F(ApiErrorsTest, BodyThatIsNotAnObjectIsAValidationError) {
    for (const std::string body :
         {"[]", "[\"+1\",\"2025550123\"]", "\"+12025550123\"", "42", "null", "true"}) {
        SCOPED_TRACE(body);
        EXPECT_TRUE(is_api_error(send(body), 422, "VALIDATION_ERROR"));
    }
}

TEST_F(ApiErrorsTest, WrongFieldTypesNameTheField) {
    struct Case {
        std::string route, body, field;
    };
    const std::vector<Case> cases{
        {kSendOtp, R"({"country_code":"+1","mobile_number":2025550123})", "mobile_number"},
        {kSendOtp, R"({"country_code":1,"mobile_number":"2025550123"})", "country_code"},
        {kSendOtp, R"({"country_code":null,"mobile_number":"2025550123"})", "country_code"},
        {kSendOtp, R"({"country_code":"+1","mobile_number":["2025550123"]})", "mobile_number"},
        {kSendOtp, R"({"country_code":"+1","mobile_number":{}})", "mobile_number"},
        {kSendOtp, R"({"country_code":"+1","mobile_number":true})", "mobile_number"},
        {kVerifyOtp, R"({"country_code":"+1","mobile_number":"2025550123","otp":123456})", "otp"},
        {kVerifyOtp, R"({"country_code":"+1","mobile_number":"2025550123","otp":null})", "otp"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body);
        EXPECT_TRUE(is_api_error(client_->post_json(c.route, c.body), 422, "VALIDATION_ERROR", c.field));
    }
}

TEST_F(ApiErrorsTest, HugeNumbersAreRejectedCleanly) {
    // Fits a double: a plain wrong type.
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":99999999999999999999999}"), 422,
                             "VALIDATION_ERROR", "mobile_number"));
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":-1e308}"), 422,
                             "VALIDATION_ERROR", "mobile_number"));
    // Beyond any double: either reading (a JSON parse limit, or a wrong type) is a clean 4xx.
    const std::string huge = "1" + std::string(400, '0');
    const auto response = send("{\"country_code\":\"+1\",\"mobile_number\":" + huge + "}");
    EXPECT_TRUE(is_api_error(response, 422, "VALIDATION_ERROR", "mobile_number") ||
                is_api_error(response, 400, "INVALID_JSON"))
        << response.status << " " << response.body;
}

TEST_F(ApiErrorsTest, MissingFieldIsNamed) {
    EXPECT_TRUE(is_api_error(send("{\"country_code\":\"+1\"}"), 422, "VALIDATION_ERROR", "mobile_number"));
    EXPECT_TRUE(
        is_api_error(send("{\"mobile_number\":\"2025550123\"}"), 422, "VALIDATION_ERROR", "country_code"));
    EXPECT_TRUE(is_api_error(verify(send_body("+1", "2025550123")), 422, "VALIDATION_ERROR", "otp"));
    EXPECT_TRUE(is_api_error(send("{}"), 422, "VALIDATION_ERROR"));
}

TEST_F(ApiErrorsTest, UnknownFieldIsNamed) {
    EXPECT_TRUE(
        is_api_error(send("{\"country_code\":\"+1\",\"mobile_number\":\"2025550123\",\"name\":\"x\"}"), 422,
                     "VALIDATION_ERROR", "name"));
    // otp belongs to verify only.
    EXPECT_TRUE(
        is_api_error(send(verify_body("+1", "2025550123", "123456")), 422, "VALIDATION_ERROR", "otp"));
}

TEST_F(ApiErrorsTest, DuplicateKeyIsNamed) {
    EXPECT_TRUE(is_api_error(
        send("{\"country_code\":\"+1\",\"mobile_number\":\"2025550123\",\"mobile_number\":\"2025550124\"}"),
        422, "VALIDATION_ERROR", "mobile_number"));
    EXPECT_TRUE(is_api_error(verify("{\"country_code\":\"+1\",\"mobile_number\":\"2025550123\",\"otp\":"
                                    "\"111111\",\"otp\":\"222222\"}"),
                             422, "VALIDATION_ERROR", "otp"));
}

TEST_F(ApiErrorsTest, OtpMustBeExactlyLengthAsciiDigits) {
    const std::vector<std::string> bad{
        "12345",                                             // short
        "1234567",                                           // long
        "12a456",                                            // letter
        " 123456",                                           // padding
        "12 456",                                            // inner space
        "",                                                  // empty
        "-12345",                                            // sign
        "\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6",  // Arabic-Indic digits 123456
        "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96",  // fullwidth
    };
    for (const auto& otp : bad) {
        SCOPED_TRACE("otp \"" + otp + "\"");
        EXPECT_TRUE(
            is_api_error(verify(verify_body("+1", "2025550151", otp)), 422, "VALIDATION_ERROR", "otp"));
    }
}

TEST_F(ApiErrorsTest, BadCountryCodeIsNamed) {
    for (const std::string cc : {"", "+", "abc", "+999", "+0", "1+", "++1", "+1234"}) {
        SCOPED_TRACE("country_code \"" + cc + "\"");
        EXPECT_TRUE(is_api_error(send(send_body(cc, "2025550123")), 422, "VALIDATION_ERROR", "country_code"));
    }
}

TEST_F(ApiErrorsTest, InvalidNumberIsNamed) {
    for (const std::string number : {"1234567890", "", "12", "20255501234567890", "abcdefghij"}) {
        SCOPED_TRACE("mobile_number \"" + number + "\"");
        EXPECT_TRUE(is_api_error(send(send_body("+1", number)), 422, "VALIDATION_ERROR", "mobile_number"));
    }
    EXPECT_TRUE(is_api_error(verify(verify_body("+1", "1234567890", "123456")), 422, "VALIDATION_ERROR",
                             "mobile_number"));
}

TEST_F(ApiErrorsTest, BodyOverTheLimitIsTooLarge) {
    // Valid JSON, padded with whitespace: only the size is wrong.
    const std::string body = send_body("+1", "2025550152") + std::string(kMaxBodyBytes, ' ');
    EXPECT_TRUE(is_api_error(send(body), 413, "PAYLOAD_TOO_LARGE"));
    // Right at the limit is accepted.
    std::string at_limit = send_body("+1", "2025550152");
    at_limit += std::string(kMaxBodyBytes - at_limit.size(), ' ');
    EXPECT_EQ(send(at_limit).status, 200);
}

TEST_F(ApiErrorsTest, FarOverTheLimitStillGetsACleanAnswer) {
    const std::string body = "{\"country_code\":\"" + std::string(1 << 20, '1') + "\"}";
    const auto response = send(body);
    EXPECT_TRUE(is_api_error(response, 413, "PAYLOAD_TOO_LARGE"));
}

TEST_F(ApiErrorsTest, WrongOrMissingContentTypeIsUnsupported) {
    const std::string body = send_body("+1", "2025550153");
    EXPECT_TRUE(is_api_error(client_->request("POST", kSendOtp, body, {"Content-Type: text/plain"}), 415,
                             "UNSUPPORTED_MEDIA_TYPE"));
    EXPECT_TRUE(is_api_error(client_->request("POST", kSendOtp, body), 415, "UNSUPPORTED_MEDIA_TYPE"));
    EXPECT_TRUE(is_api_error(
        client_->request("POST", kVerifyOtp, body, {"Content-Type: application/x-www-form-urlencoded"}), 415,
        "UNSUPPORTED_MEDIA_TYPE"));
}

TEST_F(ApiErrorsTest, UnknownPathIsNotFound) {
    EXPECT_TRUE(is_api_error(client_->get("/nope"), 404, "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(client_->post_json("/api/v1/auth/send", send_body("+1", "2025550123")), 404,
                             "NOT_FOUND"));
    EXPECT_TRUE(is_api_error(client_->get("/api/v1/health/extra"), 404, "NOT_FOUND"));
}

TEST_F(ApiErrorsTest, WrongMethodIsNotAllowedWithAllow) {
    struct Case {
        std::string method, path, allowed;
    };
    for (const auto& c : std::vector<Case>{{"GET", kSendOtp, "POST"},
                                           {"PUT", kVerifyOtp, "POST"},
                                           {"DELETE", kSendOtp, "POST"},
                                           {"POST", kHealth, "GET"},
                                           {"DELETE", "/openapi.json", "GET"}}) {
        SCOPED_TRACE(c.method + " " + c.path);
        const auto response = client_->request(c.method, c.path, c.method == "GET" ? "" : "{}",
                                               {"Content-Type: application/json"});
        EXPECT_TRUE(is_api_error(response, 405, "METHOD_NOT_ALLOWED"));
        EXPECT_NE(response.header("Allow").find(c.allowed), std::string::npos)
            << "Allow: " << response.header("Allow");
    }
}

TEST_F(ApiErrorsTest, WrongCodeIsInvalidOtp) {
    const std::string code =
        send_and_read_console_code(*server_, *client_, "+1", "2025550154", "+12025550154");
    ASSERT_FALSE(code.empty());
    const std::string wrong = code == "000000" ? "111111" : "000000";
    EXPECT_TRUE(is_api_error(verify(verify_body("+1", "2025550154", wrong)), 400, "INVALID_OTP"));
    // A wrong guess does not burn the code (below the limit).
    EXPECT_EQ(verify(verify_body("+1", "2025550154", code)).status, 200);
}

TEST_F(ApiErrorsTest, UnknownNumberAndWrongCodeLookTheSame) {
    const std::string code =
        send_and_read_console_code(*server_, *client_, "+1", "2025550155", "+12025550155");
    const std::string wrong = code == "000000" ? "111111" : "000000";
    const auto wrong_code = verify(verify_body("+1", "2025550155", wrong));
    const auto unknown_number = verify(verify_body("+1", "2025550156", wrong));
    EXPECT_TRUE(is_api_error(wrong_code, 400, "INVALID_OTP"));
    EXPECT_TRUE(is_api_error(unknown_number, 400, "INVALID_OTP"));
    EXPECT_EQ(wrong_code.body, unknown_number.body);
}

TEST_F(ApiErrorsTest, TooManyWrongGuessesKillTheCode) {
    const std::string code =
        send_and_read_console_code(*server_, *client_, "+1", "2025550157", "+12025550157");
    ASSERT_FALSE(code.empty());
    const std::string wrong = code == "000000" ? "111111" : "000000";
    for (int i = 0; i < kMaxAttempts; ++i) {
        SCOPED_TRACE("wrong guess " + std::to_string(i + 1));
        EXPECT_TRUE(is_api_error(verify(verify_body("+1", "2025550157", wrong)), 400, "INVALID_OTP"));
    }
    const auto locked = verify(verify_body("+1", "2025550157", wrong));
    EXPECT_TRUE(is_api_error(locked, 429, "TOO_MANY_ATTEMPTS"));
    const std::string retry_after = locked.header("Retry-After");
    EXPECT_FALSE(retry_after.empty());
    EXPECT_GT(std::atoi(retry_after.c_str()), 0) << "Retry-After: " << retry_after;
    // Dead means dead: the right code no longer works either.
    EXPECT_TRUE(is_api_error(verify(verify_body("+1", "2025550157", code)), 429, "TOO_MANY_ATTEMPTS"));
    // A fresh code starts a fresh count.
    const std::string fresh =
        send_and_read_console_code(*server_, *client_, "+1", "2025550157", "+12025550157");
    EXPECT_EQ(verify(verify_body("+1", "2025550157", fresh)).status, 200);
}

// The attempt counter is atomic: 100 parallel wrong guesses on separate connections yield
// exactly max_attempts 400s, and every other answer is 429.
TEST_F(ApiErrorsTest, ConcurrentWrongGuessesRespectTheLimitExactly) {
    const std::string code =
        send_and_read_console_code(*server_, *client_, "+1", "2025550158", "+12025550158");
    ASSERT_FALSE(code.empty());
    const std::string wrong = code == "000000" ? "111111" : "000000";
    constexpr int kGuesses = 100;
    std::vector<long> statuses(kGuesses, 0);
    std::vector<std::string> bodies(kGuesses);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kGuesses; ++i) {
        threads.emplace_back([&, i] {
            HttpClient client(server_->port(), std::chrono::seconds(30));
            while (!go.load()) std::this_thread::yield();
            const auto response = client.post_json(kVerifyOtp, verify_body("+1", "2025550158", wrong));
            statuses[i] = response.status;
            bodies[i] = response.status == 0 ? response.error : response.body;
        });
    }
    go = true;
    for (auto& thread : threads) thread.join();

    int invalid = 0, locked = 0;
    for (int i = 0; i < kGuesses; ++i) {
        if (statuses[i] == 400)
            ++invalid;
        else if (statuses[i] == 429)
            ++locked;
        else
            ADD_FAILURE() << "guess " << i << " got " << statuses[i] << " " << bodies[i];
    }
    EXPECT_EQ(invalid, kMaxAttempts);
    EXPECT_EQ(locked, kGuesses - kMaxAttempts);
}

TEST(ApiErrorsExpiryTest, ExpiredCodeLooksLikeAnUnknownOne) {
    TestConfig config;
    config.otp["expiry_seconds"] = "1";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string code = send_and_read_console_code(*server, client, "+1", "2025550159", "+12025550159");
    ASSERT_FALSE(code.empty());
    std::this_thread::sleep_for(2100ms);
    const auto expired = client.post_json(kVerifyOtp, verify_body("+1", "2025550159", code));
    const auto unknown = client.post_json(kVerifyOtp, verify_body("+1", "2025550160", code));
    EXPECT_TRUE(is_api_error(expired, 400, "INVALID_OTP"));
    EXPECT_EQ(expired.body, unknown.body);
}

}  // namespace
}  // namespace testino::test
