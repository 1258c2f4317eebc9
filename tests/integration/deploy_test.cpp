// deploy/testino-auth.service: the keys the deployment relies on (how it starts and stops,
// and its sandbox), and, where systemd-analyze exists, systemd's own verdict on the file.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "integration_common.hpp"

namespace testino::test {
namespace {

const std::string kUnit = std::string(TESTINO_SOURCE_DIR) + "/deploy/testino-auth.service";

// section -> key -> every value given (a key may repeat, e.g. SystemCallFilter).
using Unit = std::map<std::string, std::map<std::string, std::vector<std::string>>>;

::testing::AssertionResult parse_unit(const std::string& text, Unit& unit) {
    std::istringstream in(text);
    std::string line, section;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line.front() == '[') {
            if (line.back() != ']')
                return ::testing::AssertionFailure() << "line " << number << ": bad section";
            section = line.substr(1, line.size() - 2);
            continue;
        }
        const auto eq = line.find('=');
        if (section.empty() || eq == std::string::npos || eq == 0) {
            return ::testing::AssertionFailure() << "line " << number << ": not key=value: " << line;
        }
        if (line.back() == '\\')
            return ::testing::AssertionFailure() << "line " << number << ": continuation lines not expected";
        unit[section][line.substr(0, eq)].push_back(line.substr(eq + 1));
    }
    return ::testing::AssertionSuccess();
}

class SystemdUnit : public ::testing::Test {
protected:
    void SetUp() override {
        text_ = read_text_file(kUnit);
        ASSERT_FALSE(text_.empty()) << kUnit;
        ASSERT_TRUE(parse_unit(text_, unit_));
    }
    // The last value of a key ("" when absent): systemd's rule for most keys.
    std::string value(const std::string& section, const std::string& key) const {
        const auto s = unit_.find(section);
        if (s == unit_.end()) return "";
        const auto k = s->second.find(key);
        return k == s->second.end() || k->second.empty() ? "" : k->second.back();
    }
    bool has(const std::string& section, const std::string& key) const {
        const auto s = unit_.find(section);
        return s != unit_.end() && s->second.count(key) > 0;
    }
    std::string text_;
    Unit unit_;
};

TEST_F(SystemdUnit, StartsTheServerAsItsOwnUserWithSecretsFromTheEnvironmentFile) {
    EXPECT_EQ(value("Service", "Type"), "simple");
    EXPECT_EQ(value("Service", "User"), "testino");
    EXPECT_EQ(value("Service", "ExecStart"),
              "/usr/local/bin/testino-server --config /etc/testino/config.yaml");
    EXPECT_EQ(value("Service", "EnvironmentFile"), "/etc/testino/env");
    EXPECT_EQ(value("Service", "Restart"), "on-failure");
    EXPECT_EQ(value("Service", "RestartPreventExitStatus"), "2");  // config errors do not loop
    EXPECT_EQ(value("Install", "WantedBy"), "multi-user.target");
    EXPECT_NE(value("Unit", "After").find("network-online.target"), std::string::npos);
}

TEST_F(SystemdUnit, StopsWithSigtermAndWaitsLongerThanTheShutdownGrace) {
    EXPECT_EQ(value("Service", "KillSignal"), "SIGTERM");
    const std::string timeout = value("Service", "TimeoutStopSec");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(timeout, m, std::regex(R"((\d+)s?)"))) << timeout;
    // server.shutdown_grace_ms defaults to 10000: the unit must wait longer than that.
    EXPECT_GT(std::stoi(m[1].str()), 10);
    EXPECT_LE(std::stoi(m[1].str()), 30);
}

TEST_F(SystemdUnit, IsSandboxed) {
    const std::map<std::string, std::string> required = {
        {"NoNewPrivileges", "yes"},
        {"ProtectSystem", "strict"},
        {"ProtectHome", "yes"},
        {"PrivateTmp", "yes"},
        {"PrivateDevices", "yes"},
        {"ProtectKernelTunables", "yes"},
        {"ProtectKernelModules", "yes"},
        {"ProtectKernelLogs", "yes"},
        {"ProtectControlGroups", "yes"},
        {"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
        {"RestrictNamespaces", "yes"},
        {"RestrictRealtime", "yes"},
        {"RestrictSUIDSGID", "yes"},
        {"LockPersonality", "yes"},
        {"MemoryDenyWriteExecute", "yes"},
        {"SystemCallArchitectures", "native"},
        {"CapabilityBoundingSet", ""},
        {"AmbientCapabilities", ""},
    };
    for (const auto& [key, expected] : required) {
        EXPECT_TRUE(has("Service", key)) << key << " missing";
        EXPECT_EQ(value("Service", key), expected) << key;
    }
    const auto& filters = unit_["Service"]["SystemCallFilter"];
    EXPECT_NE(std::find(filters.begin(), filters.end(), "@system-service"), filters.end());
    // Nothing loosens the sandbox again.
    for (const char* loosening : {"CAP_", "PrivateNetwork=no", "ProtectSystem=no", "ReadWritePaths"}) {
        for (const auto& [key, values] : unit_["Service"]) {
            for (const auto& v : values) {
                EXPECT_EQ((key + "=" + v).find(loosening), std::string::npos) << key << "=" << v;
            }
        }
    }
}

struct Command {
    int exit_code = -1;
    std::string output;
};

Command run_shell(const std::string& command) {
    Command result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// systemd's own checks, where it is installed: `verify` (syntax, known keys and values) and
// the offline `security` exposure score. verify insists the ExecStart binary exists, so a
// copy of the unit points at the binary of this build.
TEST_F(SystemdUnit, PassesSystemdAnalyze) {
    if (run_shell("command -v systemd-analyze").exit_code != 0) {
        GTEST_SKIP() << "systemd-analyze is not installed; the key checks above still ran";
    }
    TempDir dir;
    std::string copy = text_;
    const std::string installed = "/usr/local/bin/testino-server";
    copy.replace(copy.find(installed), installed.size(), server_binary());
    dir.write("testino-auth.service", copy);
    const std::string unit = dir.file("testino-auth.service");

    const Command verify = run_shell("systemd-analyze verify '" + unit + "'");
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_EQ(verify.output, "") << "systemd-analyze verify warns";

    const Command security =
        run_shell("systemd-analyze security --offline=true --threshold=20 '" + unit + "'");
    if (security.output.find("--offline") != std::string::npos &&
        security.output.find("nrecognized") != std::string::npos) {
        GTEST_SKIP() << "this systemd-analyze has no offline security check";
    }
    // 0 (safest) to 10: below 2 is systemd's "OK".
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(security.output, m, std::regex(R"(Overall exposure level for \S+: ([0-9.]+))")))
        << security.output;
    EXPECT_LT(std::stod(m[1].str()), 2.0) << security.output;
}

}  // namespace
}  // namespace testino::test
