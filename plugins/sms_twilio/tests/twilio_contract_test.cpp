// Contract test: the requests the twilio provider sends are checked against Twilio's own
// OpenAPI description (tests/contract/spec/twilio_api_v2010.json) by Stoplight Prism's
// validating mock (`prism mock --errors`), which answers 201 only to a request the spec
// allows and 401/415/422 otherwise: SMS and WhatsApp messages (CreateMessage) and voice
// calls (CreateCall). A missing spec or Prism fails the suite; it never skips.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration_common.hpp"
#include "plugin_doubles.hpp"
#include "twilio_provider.hpp"

extern char** environ;

namespace testino::plugins::twilio {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sdk::SendStatus;

constexpr const char* kAccountSid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* kAuthToken = "00112233445566778899aabbccddeeff";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// `prism mock --errors` on 127.0.0.1 at a free port, as a child process group.
class PrismMock {
public:
    PrismMock() {
        const std::string spec = TWILIO_OPENAPI_SPEC;
        const std::string prism = PRISM_DIR "/node_modules/.bin/prism";
        if (!std::filesystem::exists(spec)) {
            throw std::runtime_error("Twilio's OpenAPI spec is missing: " + spec +
                                     " (it belongs in plugins/sms_twilio/tests/contract/spec)");
        }
        if (!std::filesystem::exists(prism)) {
            throw std::runtime_error("Prism is not installed: " + prism +
                                     " is missing; run `npm ci` in " PRISM_DIR);
        }
        port_ = test::free_loopback_port();
        log_path_ = dir_.file("prism.log");
        const std::string port = std::to_string(port_);
        std::vector<std::string> args{prism, "mock", "--errors", "-h", "127.0.0.1", "-p", port, spec};
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attributes, 0);
        const int failed = posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        if (failed != 0) throw std::runtime_error("cannot start " + prism + ": " + std::strerror(failed));

        // Prism reads the 1.8 MB spec first: several seconds, more under sanitizers.
        const auto give_up = Clock::now() + 90s;
        while (read_file(log_path_).find("Prism is listening") == std::string::npos) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("prism exited before listening:\n" + tail_of_log());
            }
            if (Clock::now() > give_up)
                throw std::runtime_error("prism did not listen within 90 s:\n" + tail_of_log());
            std::this_thread::sleep_for(100ms);
        }
    }
    ~PrismMock() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(100ms);
        if (waitpid(pid_, &status, WNOHANG) == 0) {
            ::kill(-pid_, SIGKILL);
            waitpid(pid_, &status, 0);
        }
    }

    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string tail_of_log() const {
        const std::string log = read_file(log_path_);
        return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
    }

private:
    test::TempDir dir_;
    std::string log_path_;
    int port_ = 0;
    pid_t pid_ = -1;
};

class TwilioContractTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        try {
            prism_ = new PrismMock();
        } catch (const std::exception& error) {
            start_error_ = error.what();
        }
    }
    static void TearDownTestSuite() {
        delete prism_;
        prism_ = nullptr;
    }
    void SetUp() override { ASSERT_NE(prism_, nullptr) << start_error_; }

    TwilioSettings settings() const {
        TwilioSettings settings;
        settings.account_sid = kAccountSid;
        settings.auth_token = kAuthToken;
        settings.from = "+15005550006";
        settings.api_base_url = prism_->base_url();
        settings.retry.max_attempts = 1;
        return settings;
    }

    // Sends through the provider; on a refusal, the failure shows Prism's validation errors.
    sdk::SendResult send(const TwilioSettings& settings, const std::string& text) {
        TwilioProvider provider(settings, host_);
        return provider.send({"+12025550123", text, "123456", "contract-1"}, Clock::now() + 10s);
    }

    static inline PrismMock* prism_ = nullptr;
    static inline std::string start_error_;
    test_support::RecordingHost host_;
};

TEST_F(TwilioContractTest, AMessageFromANumberMatchesTheSpec) {
    const auto result = send(settings(), "Your Testino code is 123456. It expires in 5 minutes.");
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail << "\n" << prism_->tail_of_log();
    EXPECT_EQ(result.message_id.rfind("SM", 0), 0u) << result.message_id;
}

TEST_F(TwilioContractTest, AMessageThroughAMessagingServiceMatchesTheSpec) {
    TwilioSettings through_service = settings();
    through_service.from.clear();
    through_service.messaging_service_sid = "MGfedcba9876543210fedcba9876543210";
    const auto result = send(through_service, "Your Testino code is 123456. It expires in 5 minutes.");
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail << "\n" << prism_->tail_of_log();
}

TEST_F(TwilioContractTest, ATextWithReservedAndNonAsciiCharactersMatchesTheSpec) {
    const auto result = send(settings(), "Código 123456 & más = +1 ¿ok?\nÜber 5 Minuten gültig.");
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail << "\n" << prism_->tail_of_log();
}

TEST_F(TwilioContractTest, AWhatsAppTemplateMessageMatchesTheSpec) {
    TwilioSettings whatsapp = settings();
    whatsapp.whatsapp_from = "+14155238886";
    whatsapp.whatsapp_content_sid = "HX0123456789abcdef0123456789abcdef";
    TwilioProvider provider(whatsapp, host_);
    ASSERT_TRUE(provider.supports(sdk::Channel::whatsapp));
    const auto result = provider.send({"+12025550123", "Your Testino code is 123456.", "123456",
                                       "contract-wa", sdk::Channel::whatsapp, "en"},
                                      Clock::now() + 10s);
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail << "\n" << prism_->tail_of_log();
    EXPECT_EQ(result.message_id.rfind("SM", 0), 0u) << result.message_id;
}

TEST_F(TwilioContractTest, AVoiceCallWithTwimlMatchesTheSpec) {
    for (const std::string locale : {"", "ja-JP", "ar"}) {
        TwilioProvider provider(settings(), host_);
        ASSERT_TRUE(provider.supports(sdk::Channel::voice));
        const auto result = provider.send({"+12025550123", "Your Testino code is 123456.", "123456",
                                           "contract-voice", sdk::Channel::voice, locale},
                                          Clock::now() + 10s);
        EXPECT_EQ(result.status, SendStatus::sent) << locale << ": " << result.detail << "\n"
                                                   << prism_->tail_of_log();
        EXPECT_EQ(result.message_id.rfind("CA", 0), 0u) << result.message_id;
    }
}

// status_callback_url adds StatusCallback (a uri) to Messages and Calls: still the spec's.
TEST_F(TwilioContractTest, MessagesAndCallsWithAStatusCallbackMatchTheSpec) {
    TwilioSettings with_callbacks = settings();
    with_callbacks.status_callback_url = "https://auth.example.com/api/v1/callbacks/twilio";
    with_callbacks.whatsapp_from = "+14155238886";
    with_callbacks.whatsapp_content_sid = "HX0123456789abcdef0123456789abcdef";
    TwilioProvider provider(with_callbacks, host_);
    for (const sdk::Channel channel : {sdk::Channel::sms, sdk::Channel::whatsapp, sdk::Channel::voice}) {
        const auto result = provider.send(
            {"+12025550123", "Your Testino code is 123456.", "123456", "contract-cb", channel, "en"},
            Clock::now() + 10s);
        EXPECT_EQ(result.status, SendStatus::sent) << sdk::to_string(channel) << ": " << result.detail << "\n"
                                                   << prism_->tail_of_log();
    }
}

// Proof that the contract can fail: requests the spec forbids are refused.
TEST_F(TwilioContractTest, PrismRefusesRequestsTheSpecForbids) {
    TwilioSettings bad_sid = settings();
    bad_sid.account_sid = "AC123";  // the spec's pattern is ^AC[0-9a-fA-F]{32}$
    EXPECT_NE(send(bad_sid, "hello").status, SendStatus::sent);

    TwilioSettings bad_service = settings();
    bad_service.from.clear();
    bad_service.messaging_service_sid = "MG42";
    EXPECT_NE(send(bad_service, "hello").status, SendStatus::sent);

    http::Client client({});
    http::Request missing_to;
    missing_to.url = prism_->base_url() + "/2010-04-01/Accounts/" + kAccountSid + "/Messages.json";
    missing_to.body = http::form_encode({{"From", "+15005550006"}, {"Body", "hello"}});
    missing_to.basic_auth = std::make_pair(kAccountSid, kAuthToken);
    const auto refused = client.post(missing_to, Clock::now() + 10s);
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_NE(refused.body.find("'To'"), std::string::npos) << refused.body;

    http::Request no_auth = missing_to;
    no_auth.body = http::form_encode({{"To", "+12025550123"}, {"From", "+15005550006"}, {"Body", "hi"}});
    no_auth.basic_auth.reset();
    EXPECT_EQ(client.post(no_auth, Clock::now() + 10s).status, 401);

    http::Request json = no_auth;
    json.basic_auth = std::make_pair(kAccountSid, kAuthToken);
    json.content_type = "application/json";
    json.body = R"({"To":"+12025550123","From":"+15005550006","Body":"hi"})";
    EXPECT_EQ(client.post(json, Clock::now() + 10s).status, 415);

    http::Request call_without_from = missing_to;
    call_without_from.url = prism_->base_url() + "/2010-04-01/Accounts/" + kAccountSid + "/Calls.json";
    call_without_from.body = http::form_encode({{"To", "+12025550123"}, {"Twiml", "<Response/>"}});
    const auto no_from = client.post(call_without_from, Clock::now() + 10s);
    EXPECT_EQ(no_from.status, 422) << no_from.body;
    EXPECT_NE(no_from.body.find("'From'"), std::string::npos) << no_from.body;

    TwilioSettings bad_template = settings();
    bad_template.whatsapp_from = "+14155238886";
    bad_template.whatsapp_content_sid = "HX42";  // the spec's pattern is ^HX[0-9a-fA-F]{32}$
    TwilioProvider provider(bad_template, host_);
    EXPECT_NE(provider.send({"+12025550123", "t", "123456", "c", sdk::Channel::whatsapp}, Clock::now() + 10s)
                  .status,
              SendStatus::sent);
}

}  // namespace
}  // namespace testino::plugins::twilio
