// The SMS text through the real server: the locale a send picks (its locale field, then
// Accept-Language, then the number's country, then the default), the autofill lines, the
// start-up checks of the templates, and the segments in the metrics.
#include "integration_common.hpp"

namespace testino::test {
namespace {

std::string send_body_in(const std::string& cc, const std::string& number, const std::string& locale) {
    return R"({"country_code":")" + cc + R"(","mobile_number":")" + number + R"(","locale":")" + locale +
           "\"}";
}

// The text of the latest console SMS to `e164` after a send-otp of `body`.
std::string sent_text(ServerProcess& server, HttpClient& client, const std::string& body,
                      const std::string& e164, const std::vector<std::string>& headers = {}) {
    const std::size_t before = console_message_count(server, e164);
    const auto response = client.post_json(kSendOtp, body, headers);
    if (response.status != 200) {
        ADD_FAILURE() << "send-otp answered " << response.status << " " << response.body;
        return "";
    }
    const auto line = server.wait_for_log_count(
        [&](const std::string& l) {
            return l.find("\"sms.console.message\"") != std::string::npos &&
                   json_string(parse_json(l), "to") == e164;
        },
        before + 1, 5s);
    if (!line) {
        ADD_FAILURE() << "no console SMS to " << e164;
        return "";
    }
    return json_string(parse_json(*line), "text");
}

class MessagesTest : public SharedServerTest<MessagesTest> {
public:
    static TestConfig suite_config() {
        TestConfig config;
        config.otp["templates"] = "{de: \"{code} ist dein {app}-Code.\"}";
        return config;
    }
};

TEST_F(MessagesTest, TheDefaultIsTheSeedsEnglishText) {
    const std::string text = sent_text(*server_, *client_, send_body("+1", "2025550140"), "+12025550140");
    const std::string code = code_in_text(text);
    EXPECT_EQ(text, "Your Testino code is " + code + ". It expires in 5 minutes.");
}

TEST_F(MessagesTest, TheLocaleFieldComesFirst) {
    const std::string text = sent_text(*server_, *client_, send_body_in("+1", "2025550141", "fr"),
                                       "+12025550141", {"Accept-Language: ja"});
    const std::string code = code_in_text(text);
    EXPECT_EQ(text, code + " est votre code Testino. Il expire dans 5 minutes.");
    // Configured locales are chosen as the built-in ones are; a region falls back to its language.
    const std::string de =
        sent_text(*server_, *client_, send_body_in("+1", "2025550141", "de-AT"), "+12025550141");
    EXPECT_EQ(de, code_in_text(de) + " ist dein Testino-Code.");
}

TEST_F(MessagesTest, AcceptLanguageComesNextThenTheCountry) {
    // A well-formed locale without a template falls through to the header.
    const std::string pt = sent_text(*server_, *client_, send_body_in("+91", "9876543210", "sv"),
                                     "+919876543210", {"Accept-Language: pt-BR;q=0.9, sv;q=0.8, *;q=0.1"});
    EXPECT_EQ(pt, code_in_text(pt) + " é o seu código Testino. Expira em 5 minutos.");
    // No usable header: the number's country (+91: hi).
    const std::string hi = sent_text(*server_, *client_, send_body("+91", "9876543210"), "+919876543210",
                                     {"Accept-Language: sv, *"});
    EXPECT_EQ(hi, code_in_text(hi) + " आपका Testino कोड है। यह 5 मिनट तक मान्य है।");
    const std::string zh = sent_text(*server_, *client_, send_body("+86", "13800138000"), "+8613800138000");
    EXPECT_EQ(zh, code_in_text(zh) + " 是您的 Testino 验证码，5 分钟内有效。");
    // A country without a default: the default locale.
    const std::string en = sent_text(*server_, *client_, send_body("+44", "7400123456"), "+447400123456");
    EXPECT_EQ(en.rfind("Your Testino code is ", 0), 0u) << en;
}

TEST_F(MessagesTest, AMalformedLocaleIsA422NamingTheField) {
    EXPECT_TRUE(is_api_error(client_->post_json(kSendOtp, send_body_in("+1", "2025550142", "pt_BR")), 422,
                             "VALIDATION_ERROR", "locale"));
}

TEST_F(MessagesTest, SegmentsAreCountedPerCountry) {
    sent_text(*server_, *client_, send_body("+86", "13800138001"), "+8613800138001");
    ASSERT_NE(admin_, nullptr);
    const auto metrics = admin_->get(kMetrics);
    EXPECT_NE(metrics.body.find("testino_sms_segments_total{country=\"86\"}"), std::string::npos)
        << metrics.body;
}

TEST(MessagesAutofillTest, WebOtpIsTheLastLineAndTheAppHashComesBeforeIt) {
    TestConfig config;
    config.otp["webotp_domain"] = "app.testino.example";
    config.otp["android_app_hash"] = "FA+9qCX9VSu";
    config.otp["app_name"] = "\"Testino Prep\"";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const std::string text = sent_text(*server, client, send_body("+1", "2025550143"), "+12025550143");
    const std::string code = code_in_text(text);
    ASSERT_EQ(code.size(), 6u) << text;
    EXPECT_EQ(text, "Your Testino Prep code is " + code +
                        ". It expires in 5 minutes.\nFA+9qCX9VSu\n@app.testino.example #" + code);
    EXPECT_EQ(client.post_json(kVerifyOtp, verify_body("+1", "2025550143", code)).status, 200);
    // Android's retriever reads one SMS only: the UCS-2 locales are said at start-up.
    const auto warning = wait_for_event(*server, "config.android_message_too_long", 1s);
    ASSERT_TRUE(warning);
    EXPECT_NE(warning->find("\"locales\":\"ar, es, hi, ja, ko, pt, vi, zh, zh-Hant\""), std::string::npos)
        << *warning;
}

TEST(MessagesConfigTest, CheckConfigShowsEachLocalesTextAndCost) {
    TestConfig config;
    config.otp["webotp_domain"] = "app.testino.example";
    config.otp["country_locales"] = "{\"91\": hi, \"+55\": pt}";
    const auto result = run(config.yaml(), {"--check-config"});
    ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_NE(
        result.stdout_text.find("# sms text, en (default): 1 segment, gsm7, 82 units: Your Testino code is "
                                "000000. It expires in 5 minutes.\\n@app.testino.example #000000\n"),
        std::string::npos)
        << result.stdout_text;
    EXPECT_NE(result.stdout_text.find("# sms text, hi: 2 segments, ucs2, 79 units: "), std::string::npos);
    EXPECT_NE(result.stdout_text.find("# sms locale by country: +55 pt, +91 hi\n"), std::string::npos);
}

TEST(MessagesConfigTest, BrokenTemplatesStopStartUpNamingTheKey) {
    TestConfig config;
    config.otp["templates"] = "{fr: \"Code {cod}\"}";
    EXPECT_TRUE(fails_to_start(run(config.yaml()), {"otp.templates.fr", "unknown variable {cod}"}));
    TestConfig long_one;
    long_one.otp["max_segments"] = "1";
    long_one.otp["webotp_domain"] = "app.testino.example";
    EXPECT_TRUE(
        fails_to_start(run(long_one.yaml()), {"the built-in template of ar", "exceed otp.max_segments (1)"}));
    TestConfig bad_domain;
    bad_domain.otp["webotp_domain"] = "\"https://app.testino.example\"";
    EXPECT_TRUE(fails_to_start(run(bad_domain.yaml()), {"otp.webotp_domain", "is not a host name"}));
}

}  // namespace
}  // namespace testino::test
