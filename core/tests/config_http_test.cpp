// The config of the HTTP layer's exposure: the admin listener, CORS credentials, and how
// the client address is read (limits.client_address_header, limits.ipv6_prefix_length).
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_loading.hpp"

namespace testino {
namespace {

using namespace config_test;

TEST(ConfigHttp, DefaultsKeepAdminLocalAndCredentialsOff) {
    const AppConfig c = load("");
    EXPECT_EQ(c.server.admin_host, "127.0.0.1");
    EXPECT_EQ(c.server.admin_port, 9464);
    EXPECT_TRUE(c.server.metrics_enabled);
    EXPECT_FALSE(c.server.cors_allow_credentials);
    EXPECT_EQ(c.limits.client_address_header, ClientAddressHeader::x_forwarded_for);
    EXPECT_EQ(c.limits.ipv6_prefix_length, 64);
}

TEST(ConfigHttp, AdminListenerAndCredentialsAreRead) {
    const AppConfig c = load("server: {admin_host: \"::1\", admin_port: 0, cors_allow_credentials: true}\n");
    EXPECT_EQ(c.server.admin_host, "::1");
    EXPECT_EQ(c.server.admin_port, 0) << "0 switches the admin listener off";
    EXPECT_TRUE(c.server.cors_allow_credentials);
    const AppConfig env =
        load("", {{"ADMIN_HOST", "10.1.2.3"}, {"ADMIN_PORT", "9100"}, {"CORS_ALLOW_CREDENTIALS", "true"}});
    EXPECT_EQ(env.server.admin_host, "10.1.2.3");
    EXPECT_EQ(env.server.admin_port, 9100);
    EXPECT_TRUE(env.server.cors_allow_credentials);
    EXPECT_EQ(load("server: {admin_host: 0.0.0.0}\n").server.admin_host, "0.0.0.0")
        << "every interface, when written out";
}

TEST(ConfigHttp, BadAdminListenerIsNamed) {
    std::string e = error_of("server: {admin_host: metrics.internal}\n");
    EXPECT_NE(e.find("test.yaml: server.admin_host: expected an IP address"), std::string::npos) << e;
    e = error_of("server: {port: 9000, admin_port: 9000}\n");
    EXPECT_NE(e.find("server.admin_port: must differ from server.port (9000)"), std::string::npos) << e;
    e = error_of("server: {admin_port: 70000}\n");
    EXPECT_NE(e.find("server.admin_port: 70000 is out of range [0, 65535]"), std::string::npos) << e;
    e = error_of("", {{"ADMIN_HOST", ""}});
    EXPECT_NE(e.find("environment variable ADMIN_HOST: expected an IP address"), std::string::npos) << e;
}

TEST(ConfigHttp, ClientAddressHeaderAndPrefixAreRead) {
    const AppConfig c = load("limits: {client_address_header: Forwarded, ipv6_prefix_length: 56}\n");
    EXPECT_EQ(c.limits.client_address_header, ClientAddressHeader::forwarded);
    EXPECT_EQ(c.limits.ipv6_prefix_length, 56);
    const AppConfig env =
        load("", {{"LIMIT_CLIENT_ADDRESS_HEADER", "forwarded"}, {"LIMIT_IPV6_PREFIX_LENGTH", "128"}});
    EXPECT_EQ(env.limits.client_address_header, ClientAddressHeader::forwarded);
    EXPECT_EQ(env.limits.ipv6_prefix_length, 128);
    EXPECT_EQ(load("limits: {client_address_header: X-Forwarded-For}\n").limits.client_address_header,
              ClientAddressHeader::x_forwarded_for);
}

TEST(ConfigHttp, BadClientAddressSettingsAreNamed) {
    std::string e = error_of("limits: {client_address_header: x-real-ip}\n");
    EXPECT_NE(e.find("limits.client_address_header: expected x-forwarded-for or forwarded"),
              std::string::npos)
        << e;
    for (const char* prefix : {"0", "129"}) {
        e = error_of(std::string("limits: {ipv6_prefix_length: ") + prefix + "}\n");
        EXPECT_NE(e.find(std::string("limits.ipv6_prefix_length: ") + prefix + " is out of range [1, 128]"),
                  std::string::npos)
            << e;
    }
}

// server.tls: off by default; the files' own checks are in tests/integration/https_test.cpp.
TEST(ConfigHttp, TlsIsOffByDefaultWithAYearOfHsts) {
    const AppConfig c = load("");
    EXPECT_FALSE(c.server.tls.enabled());
    EXPECT_EQ(c.server.tls.hsts_max_age.count(), 31536000);
    EXPECT_EQ(load("server: {tls: {hsts_max_age_seconds: 0}}\n").server.tls.hsts_max_age.count(), 0);
}

TEST(ConfigHttp, TlsNeedsBothFilesAndNamesTheMissingOne) {
    std::string e = error_of("server: {tls: {cert_file: /x/server.crt}}\n");
    EXPECT_NE(
        e.find("test.yaml: server.tls.cert_file is set but server.tls.key_file (env TLS_KEY_FILE) is not"),
        std::string::npos)
        << e;
    e = error_of("", {{"TLS_KEY_FILE", "/x/server.key"}});
    EXPECT_NE(e.find("environment variable TLS_KEY_FILE is set but server.tls.cert_file"), std::string::npos)
        << e;
    e = error_of("server: {tls: {cert_file: /nonexistent/server.crt, key_file: /nonexistent/server.key}}\n");
    EXPECT_NE(e.find("server.tls.cert_file: cannot read \"/nonexistent/server.crt\": No such file"),
              std::string::npos)
        << e;
    e = error_of("server: {tls: {cert_flie: a}}\n");
    EXPECT_NE(e.find("server.tls.cert_flie: unknown key (did you mean \"cert_file\"?)"), std::string::npos)
        << e;
}

}  // namespace
}  // namespace testino
