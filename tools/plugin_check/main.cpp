// testino-plugin-check: runs the contract of its kind against a plugin .so.
//
//   testino-plugin-check [--set key=value]... [--timeout-ms N] [--expect-status S]
//                        [gtest flags] <plugin.so>
//
// The plugin is loaded as the server loads it (ABI check, descriptor, factory) and its
// section is built from the --set values and the environment, validated against the
// plugin's schema. Exit status: 0 every check passed, 1 a check failed, 2 the plugin
// could not be loaded or configured, or the command line is wrong.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "plugin_under_test.hpp"

namespace {

using testino::plugin_check::Options;

constexpr const char* kUsage =
    "usage: testino-plugin-check [--set key=value]... [--timeout-ms N] [--expect-status STATUS]\n"
    "                            [--gtest_filter=...] <plugin.so>\n"
    "Runs the SMS provider or OTP store contract (by the plugin's kind) against a plugin.\n"
    "  --set key=value      a key of the plugin's config section (repeatable); the\n"
    "                       environment variables its schema names are read too\n"
    "  --timeout-ms N       the deadline handed to send() (default 5000)\n"
    "  --expect-status S    providers: a send must answer S (sent, invalid_recipient,\n"
    "                       misconfigured, unavailable, uncertain); by default any status passes\n"
    "Exit status: 0 all passed, 1 a check failed, 2 not loadable or bad arguments.\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "testino-plugin-check: " << message << "\n" << kUsage;
    std::exit(2);
}

// Our options; gtest has already taken its own out of argv.
Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            std::exit(0);
        } else if (arg == "--set") {
            const std::string setting = value();
            const auto equals = setting.find('=');
            if (equals == std::string::npos || equals == 0) {
                usage_error("--set wants key=value, got \"" + setting + "\"");
            }
            options.settings[setting.substr(0, equals)] = setting.substr(equals + 1);
        } else if (arg == "--timeout-ms") {
            const std::string text = value();
            char* end = nullptr;
            const long ms = std::strtol(text.c_str(), &end, 10);
            if (end == text.c_str() || *end != '\0' || ms < 1) {
                usage_error("--timeout-ms wants a positive number, got \"" + text + "\"");
            }
            options.send_timeout = std::chrono::milliseconds(ms);
        } else if (arg == "--expect-status") {
            const std::string text = value();
            options.expect_status = testino::plugin_check::parse_send_status(text);
            if (!options.expect_status) usage_error("--expect-status: unknown status \"" + text + "\"");
        } else if (arg.rfind("--", 0) == 0) {
            usage_error("unknown option " + arg);
        } else if (options.plugin.empty()) {
            options.plugin = arg;
        } else {
            usage_error("one plugin at a time");
        }
    }
    if (options.plugin.empty()) usage_error("no plugin given");
    return options;
}

// Without a --gtest_filter of the caller's, run the suites of the plugin's kind.
void select_suites(testino::sdk::PluginKind kind) {
    if (::testing::GTEST_FLAG(filter) != "*") return;
    ::testing::GTEST_FLAG(filter) = kind == testino::sdk::PluginKind::sms_provider
                                        ? "PluginDescriptor.*:SmsProviderContract.*"
                                        : "PluginDescriptor.*:*/OtpStoreContract.*";
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    Options options = parse_options(argc, argv);
    const std::string path = options.plugin.string();
    try {
        auto plugin = std::make_unique<testino::plugin_check::PluginUnderTest>(std::move(options));
        // One object made and dropped up front: a factory that refuses the configuration is
        // a setup problem (exit 2), not a contract failure in every check.
        testino::test_support::RecordingHost host;
        if (plugin->descriptor().kind == testino::sdk::PluginKind::sms_provider) {
            plugin->make_provider(host);
        } else {
            plugin->make_store(host);
        }
        testino::plugin_check::set_plugin(std::move(plugin));
    } catch (const std::exception& error) {
        std::cerr << "testino-plugin-check: " << error.what() << "\n";
        return 2;
    }
    const auto& descriptor = testino::plugin_check::plugin().descriptor();
    std::cout << "Checking " << testino::sdk::to_string(descriptor.kind) << " \"" << descriptor.name << "\" "
              << descriptor.version << " (ABI " << testino::sdk::kAbiVersion << ") from " << path << "\n";
    select_suites(descriptor.kind);

    int status = RUN_ALL_TESTS();
    const auto& run = *::testing::UnitTest::GetInstance();
    if (run.test_to_run_count() == 0) status = 1;  // a filter that selects nothing checks nothing
    std::cout << "testino-plugin-check: " << descriptor.name << ": " << (status == 0 ? "PASS" : "FAIL")
              << ": " << run.successful_test_count() << " passed, " << run.failed_test_count() << " failed, "
              << run.skipped_test_count() << " skipped\n";
    return status == 0 ? 0 : 1;
}
