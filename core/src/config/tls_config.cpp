// server.tls: HTTPS on the public listener. Both files are checked here, at load, so that a
// wrong path, a broken PEM or a key of another certificate stops start-up with a message
// naming the file, instead of surfacing as an exception from Pistache's useSSL (or, for an
// encrypted key, as a passphrase prompt on the terminal). No message ever carries key bytes:
// only paths, our own words and OpenSSL's reason strings.
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/app_config_parts.hpp"
#include "domain/openssl_support.hpp"

namespace testino::config_detail {
namespace {

using sdk::ConfigKey;
using sdk::ValueType;
using BioPtr = std::unique_ptr<BIO, openssl::Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, openssl::Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, openssl::Deleter<EVP_PKEY, EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, openssl::Deleter<SSL_CTX, SSL_CTX_free>>;

// The file opened for reading, or a StartupError that says why not (errno's words).
BioPtr open_file(const ConfigSection& tls, const std::string& key, const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        throw StartupError(tls.where(key) + ": cannot read \"" + path + "\": " + std::strerror(errno));
    }
    BioPtr bio(BIO_new_fp(file, BIO_CLOSE));
    if (!bio) {
        std::fclose(file);
        throw StartupError(tls.where(key) + ": cannot read \"" + path + "\" (OpenSSL: " + openssl::reason() +
                           ")");
    }
    return bio;
}

X509Ptr read_certificate(const ConfigSection& tls, const std::string& path) {
    const BioPtr bio = open_file(tls, "cert_file", path);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, openssl::refuse_passphrase, nullptr));
    if (!cert) {
        throw StartupError(
            tls.where("cert_file") + ": \"" + path +
            "\" holds no PEM certificate (-----BEGIN CERTIFICATE-----) (OpenSSL: " + openssl::reason() + ")");
    }
    return cert;
}

PkeyPtr read_private_key(const ConfigSection& tls, const std::string& path) {
    const BioPtr bio = open_file(tls, "key_file", path);
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, openssl::refuse_passphrase, nullptr));
    if (!key) {
        throw StartupError(tls.where("key_file") + ": \"" + path +
                           "\" holds no unencrypted PEM private key (a passphrase-protected key cannot be "
                           "used: the server has no one to ask; decrypt it with `openssl pkey -in KEY -out "
                           "NEW`) (OpenSSL: " +
                           openssl::reason() + ")");
    }
    return key;
}

// What Pistache's useSSL will do with the files, on a throwaway context: the chain file as
// SSL_CTX_use_certificate_chain_file reads it, then the key, then SSL_CTX_check_private_key.
void check_pair(const ConfigSection& tls, const TlsConfig& t, EVP_PKEY* key) {
    const SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw StartupError("TLS: cannot create an OpenSSL context (" + openssl::reason() + ")");
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1) {
        throw StartupError(tls.where("cert_file") + ": \"" + t.cert_file +
                           "\" is not a usable certificate chain (OpenSSL: " + openssl::reason() + ")");
    }
    if (SSL_CTX_use_PrivateKey(ctx.get(), key) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
        throw StartupError(tls.where("key_file") + ": the key in \"" + t.key_file +
                           "\" does not belong to the certificate in \"" + t.cert_file +
                           "\" (server.tls.cert_file); give the key the certificate was issued for "
                           "(OpenSSL: " +
                           openssl::reason() + ")");
    }
}

}  // namespace

const std::vector<ConfigKey>& tls_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("cert_file", ValueType::string, "", "TLS_CERT_FILE",
                   "PEM file with the public listener's certificate, then its intermediates; with "
                   "key_file switches the public listener to HTTPS (TLS 1.2 or later); \"\" = plain HTTP"),
        config_key("key_file", ValueType::string, "", "TLS_KEY_FILE",
                   "PEM file with the certificate's private key, unencrypted; required with cert_file"),
        config_key("hsts_max_age_seconds", ValueType::integer, "31536000", "TLS_HSTS_MAX_AGE_SECONDS",
                   "with HTTPS, public replies carry Strict-Transport-Security: max-age=<this>; 0 = none", 0,
                   1000000000),
    };
    return keys;
}

void load_tls(AppConfig& config) {
    const ConfigSection& tls = config.section("server.tls");
    TlsConfig& t = config.server.tls;
    t.cert_file = tls.get_string("cert_file");
    t.key_file = tls.get_string("key_file");
    t.hsts_max_age = std::chrono::seconds(tls.get_int("hsts_max_age_seconds"));
    if (t.cert_file.empty() != t.key_file.empty()) {
        const bool cert_missing = t.cert_file.empty();
        const std::string given = cert_missing ? "key_file" : "cert_file";
        const std::string missing =
            cert_missing ? "cert_file (env TLS_CERT_FILE)" : "key_file (env TLS_KEY_FILE)";
        throw StartupError(tls.where(given) + " is set but server.tls." + missing +
                           " is not: HTTPS needs both the certificate and its key; set both, or neither for "
                           "plain HTTP");
    }
    if (!t.enabled()) return;
    read_certificate(tls, t.cert_file);
    const PkeyPtr key = read_private_key(tls, t.key_file);
    check_pair(tls, t, key.get());
}

}  // namespace testino::config_detail
