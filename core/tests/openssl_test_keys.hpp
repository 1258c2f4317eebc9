// Test keys made when the tests run (no key file is committed), their PEM forms, and an
// independent JWS verifier on OpenSSL's EVP_DigestVerify: what the signing-key tests use
// to check SigningKey's tokens and JWKs from the outside.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace testino::test {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey keygen_ec(const char* curve) { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)); }
inline Pkey keygen_rsa(std::size_t bits) { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }
inline Pkey keygen(const char* type) { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type)); }

// What a memory BIO holds, after `write` wrote into it.
template <typename Write>
std::string bio_text(Write write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (!bio || write(bio.get()) != 1) throw std::runtime_error("writing a test PEM failed");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

// PKCS#8 "PRIVATE KEY".
inline std::string private_pem(EVP_PKEY* key) {
    return bio_text(
        [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
}
// "EC PRIVATE KEY" / "RSA PRIVATE KEY", through OSSL_ENCODER ("type-specific"):
// PEM_write_bio_PrivateKey_traditional would downgrade `key` to a legacy key in place.
inline std::string traditional_pem(EVP_PKEY* key) {
    return bio_text([&](BIO* b) {
        OSSL_ENCODER_CTX* ctx =
            OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "PEM", "type-specific", nullptr);
        const int ok = ctx != nullptr && OSSL_ENCODER_to_bio(ctx, b) == 1 ? 1 : 0;
        OSSL_ENCODER_CTX_free(ctx);
        return ok;
    });
}
// "ENCRYPTED PRIVATE KEY" (PKCS#8, AES-256-CBC) under the passphrase "secret".
inline std::string encrypted_pkcs8_pem(EVP_PKEY* key) {
    return bio_text([&](BIO* b) {
        return PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                             const_cast<char*>("secret"));
    });
}
// "EC PRIVATE KEY" with "Proc-Type: 4,ENCRYPTED" (OpenSSL's legacy encryption).
inline std::string encrypted_traditional_pem(EVP_PKEY* key) {
    return bio_text([&](BIO* b) {
        OSSL_ENCODER_CTX* ctx =
            OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "PEM", "type-specific", nullptr);
        const int ok = ctx != nullptr && OSSL_ENCODER_CTX_set_cipher(ctx, "AES-128-CBC", nullptr) == 1 &&
                               OSSL_ENCODER_CTX_set_passphrase(
                                   ctx, reinterpret_cast<const unsigned char*>("secret"), 6) == 1 &&
                               OSSL_ENCODER_to_bio(ctx, b) == 1
                           ? 1
                           : 0;
        OSSL_ENCODER_CTX_free(ctx);
        return ok;
    });
}
inline std::string public_pem(EVP_PKEY* key) {
    return bio_text([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key); });
}

// A self-signed certificate for `key`.
inline std::string certificate_pem(EVP_PKEY* key) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test"), -1,
                               -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key);
    if (X509_sign(cert.get(), key, EVP_sha256()) <= 0)
        throw std::runtime_error("signing a test certificate failed");
    return bio_text([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

inline std::optional<std::string> base64url_decode(std::string_view in) {
    std::string out;
    unsigned bits = 0;
    int held = 0;
    for (const char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        if (c >= '0' && c <= '9') v = c - '0' + 52;
        if (c == '-') v = 62;
        if (c == '_') v = 63;
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<unsigned>(v);
        held += 6;
        if (held >= 8) {
            held -= 8;
            out.push_back(static_cast<char>((bits >> held) & 0xff));
        }
    }
    return out;
}

// JWS r||s (64 bytes) as the DER ECDSA-Sig-Value EVP_DigestVerify takes.
inline std::string jose_to_der(const std::string& jose) {
    if (jose.size() != 64) return "";
    const auto* raw = reinterpret_cast<const unsigned char*>(jose.data());
    ECDSA_SIG* sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(length > 0 ? length : 0));
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return out;
}

// Whether `token`'s signature verifies under the public part of `key` with `alg`
// ("ES256", "EdDSA", "RS256"): OpenSSL, without any of the signer's code.
inline bool openssl_verifies(EVP_PKEY* key, const std::string& alg, const std::string& token) {
    const std::size_t dot = token.rfind('.');
    const std::optional<std::string> raw = base64url_decode(token.substr(dot + 1));
    if (dot == std::string::npos || !raw) return false;
    const std::string sig = alg == "ES256" ? jose_to_der(*raw) : *raw;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, alg == "EdDSA" ? nullptr : "SHA256", nullptr, nullptr, key,
                                nullptr) != 1) {
        return false;
    }
    if (alg == "RS256") EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(token.data()), dot) == 1;
}

// A public key from JWK members (x/y, x or n/e, base64url), through OSSL_PARAM_BLD and
// EVP_PKEY_fromdata: what a relying party does with our JWKS.
inline Pkey public_key_from_jwk(const std::string& kty, const std::string& a, const std::string& b) {
    const std::string first = base64url_decode(a).value_or("");
    const std::string second = base64url_decode(b).value_or("");
    if (kty == "OKP") {
        return Pkey(EVP_PKEY_new_raw_public_key(
            EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(first.data()), first.size()));
    }
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    std::string point;
    if (kty == "EC") {
        point = std::string(1, '\x04') + first + second;  // uncompressed: 04 || x || y
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    } else {
        n = BN_bin2bn(reinterpret_cast<const unsigned char*>(first.data()), static_cast<int>(first.size()),
                      nullptr);
        e = BN_bin2bn(reinterpret_cast<const unsigned char*>(second.data()), static_cast<int>(second.size()),
                      nullptr);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    }
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, kty == "EC" ? "EC" : "RSA", nullptr);
    EVP_PKEY* key = nullptr;
    if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        key = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return Pkey(key);
}

}  // namespace testino::test
