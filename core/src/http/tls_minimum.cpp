#include "http/tls_minimum.hpp"

#include <openssl/conf.h>
#include <openssl/ssl.h>

#include <string>

#include "config/config.hpp"
#include "domain/openssl_support.hpp"

namespace testino {
namespace {

using BioPtr = std::unique_ptr<BIO, openssl::Deleter<BIO, BIO_free_all>>;
using ConfPtr = std::unique_ptr<CONF, openssl::Deleter<CONF, NCONF_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, openssl::Deleter<SSL_CTX, SSL_CTX_free>>;

// openssl.cnf syntax; CONF_modules_load starts from the section named by kAppName. The
// cipher string repeats Debian's default security level (2: 112-bit keys, no SHA-1
// signatures), which replacing the system_default section would otherwise drop.
constexpr const char* kAppName = "testino_conf";
constexpr const char* kConfig =
    "testino_conf = testino_init\n"
    "[testino_init]\n"
    "ssl_conf = testino_ssl\n"
    "[testino_ssl]\n"
    "system_default = testino_tls_defaults\n"
    "[testino_tls_defaults]\n"
    "MinProtocol = TLSv1.2\n"
    "CipherString = DEFAULT:@SECLEVEL=2\n";

void load_settings() {
    // The system config first (what OpenSSL would load on its own at first use), so that its
    // later automatic loading cannot replace what is set here.
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr) != 1) {
        throw StartupError("TLS: OpenSSL failed to initialise (" + openssl::reason() + ")");
    }
    const std::string text = kConfig;
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    ConfPtr conf(NCONF_new(nullptr));
    long error_line = -1;
    if (!bio || !conf || NCONF_load_bio(conf.get(), bio.get(), &error_line) != 1) {
        throw StartupError("TLS: cannot parse the built-in OpenSSL settings (line " +
                           std::to_string(error_line) + ": " + openssl::reason() + ")");
    }
    if (CONF_modules_load(conf.get(), kAppName, 0) <= 0) {
        throw StartupError("TLS: OpenSSL refused the built-in settings that set TLS 1.2 as the minimum (" +
                           openssl::reason() + ")");
    }
}

}  // namespace

int default_server_min_protocol() {
    const SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw StartupError("TLS: cannot create an OpenSSL context (" + openssl::reason() + ")");
    return static_cast<int>(SSL_CTX_get_min_proto_version(ctx.get()));
}

void require_tls12_minimum() {
    load_settings();
    // Checked, not assumed: a build or a future OpenSSL that ignored the settings would
    // otherwise serve TLS 1.0 silently.
    const int min = default_server_min_protocol();
    if (min < TLS1_2_VERSION) {
        throw StartupError(
            "TLS: new OpenSSL contexts still accept versions below TLS 1.2 (their minimum is " +
            std::to_string(min) + ", TLS 1.2 is " + std::to_string(TLS1_2_VERSION) +
            ") after the server set TLS 1.2 as the minimum; refusing to serve HTTPS");
    }
}

}  // namespace testino
