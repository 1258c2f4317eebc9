// /docs in headless Chromium: docs_try_it_out.cjs sends a send-otp through Swagger UI's
// "Try it out" on a real server whose SMS provider is the sms_test_sink, and saves a
// screenshot (build/test-artifacts/docs-try-it-out.png); the sink's outbox proves the click
// reached this server. The script also renders /redoc, and fails on any console error,
// failed request or request leaving 127.0.0.1.
#include <unistd.h>

#include <filesystem>

#include "integration_common.hpp"

namespace testino::test {
namespace {

constexpr const char* kNumber = "2025550123";
constexpr const char* kInstall = "; scripts/setup.sh installs it (the README's test command runs it)";

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

TEST(DocsInChromium, TryItOutSendsAnOtpThroughTheServer) {
    const std::string modules = TESTINO_DOCS_NODE_MODULES;
    ASSERT_TRUE(executable(TESTINO_NODE)) << "Node.js not found (\"" TESTINO_NODE "\")" << kInstall;
    ASSERT_TRUE(executable(TESTINO_CHROMIUM))
        << "Chromium not found at " TESTINO_CHROMIUM " (Debian package chromium)" << kInstall;
    for (const char* file : {"playwright-core/package.json", "swagger-ui-dist/swagger-ui-bundle.js",
                             "redoc/bundles/redoc.standalone.js"}) {
        ASSERT_TRUE(std::filesystem::is_regular_file(modules + "/" + file))
            << modules << "/" << file << " not found: the npm packages of docs/api-ui are not installed"
            << kInstall << ", or run `npm ci` in docs/api-ui";
    }
    // A screenshot from an earlier run must not stand in for this one's.
    const std::string screenshot = std::string(TESTINO_TEST_ARTIFACTS) + "/docs-try-it-out.png";
    std::filesystem::remove(screenshot);

    TestConfig config;
    config.use_test_sink();
    config.server["docs_enabled"] = "true";
    config.server["docs_assets_dir"] = "\"" + modules + "\"";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    for (const auto& line : server->log_lines()) {
        ASSERT_FALSE(is_log_event(line, "docs.assets_missing")) << line;
    }
    ASSERT_TRUE(outbox_entries(*server).empty());

    TempDir home;  // Chromium's profile and caches: nothing of the machine's user is read
    ProcessSpec browser;
    browser.binary = TESTINO_NODE;
    browser.args = {TESTINO_BROWSER_SCRIPT,
                    "--base-url",
                    "http://127.0.0.1:" + std::to_string(server->port()),
                    "--modules",
                    modules,
                    "--chromium",
                    TESTINO_CHROMIUM,
                    "--screenshot",
                    screenshot,
                    "--country-code",
                    "+1",
                    "--mobile-number",
                    kNumber};
    browser.env = {{"HOME", home.path()}, {"TMPDIR", home.path()}};
    const ProcessResult run = ServerProcess::run_to_exit(browser, std::chrono::seconds(120));
    ASSERT_FALSE(run.timed_out) << "the browser script ran past 120 s\n"
                                << run.stdout_text << run.stderr_text;
    ASSERT_EQ(run.exit_code, 0) << run.stdout_text << run.stderr_text;
    EXPECT_NE(run.stdout_text.find("\"ok\":true"), std::string::npos) << run.stdout_text;

    // The click reached this server: it answered the send, and the sink got the SMS.
    const auto access = server->wait_for_log(
        [](const std::string& line) {
            const auto entry = parse_json(line);
            return !entry.HasParseError() && json_string(entry, "event") == "http.access" &&
                   json_string(entry, "path") == kSendOtp && json_string(entry, "method") == "POST" &&
                   json_int(entry, "status") == 200;
        },
        std::chrono::seconds(2));
    EXPECT_TRUE(access) << server->stdout_text();
    const auto outbox = outbox_entries(*server);
    ASSERT_EQ(outbox.size(), 1u) << "the sink should hold exactly the SMS the browser asked for";
    EXPECT_EQ(json_string(outbox[0], "to"), std::string("+1") + kNumber);
    EXPECT_FALSE(json_string(outbox[0], "code").empty());

    // The screenshot is this run's, and a PNG of a real page.
    const std::string png = read_text_file(screenshot);
    ASSERT_GT(png.size(), 20000u) << screenshot;
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    std::cout << "screenshot: " << screenshot << "\n";
}

}  // namespace
}  // namespace testino::test
