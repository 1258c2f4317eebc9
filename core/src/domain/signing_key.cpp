#include "domain/signing_key.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "domain/openssl_support.hpp"
#include "domain/otp_crypto.hpp"

namespace testino {
namespace {

using openssl::Deleter;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using Members = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kMinSecretBytes = 32;
constexpr int kMinRsaBits = 2048;
constexpr std::size_t kEs256CoordinateBytes = 32;

using openssl::refuse_passphrase;

// The labels of the PEM blocks ("PRIVATE KEY", "CERTIFICATE", ...), only the characters a
// label has: a message may name them, and they are never key bytes.
std::vector<std::string> pem_labels(std::string_view pem) {
    static constexpr std::string_view kBegin = "-----BEGIN ";
    std::vector<std::string> labels;
    for (std::size_t at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + 1)) {
        const std::size_t start = at + kBegin.size();
        const std::size_t end = pem.find("-----", start);
        if (end == std::string_view::npos || end - start > 40) continue;
        const std::string_view label = pem.substr(start, end - start);
        if (std::all_of(label.begin(), label.end(),
                        [](char c) { return (c >= 'A' && c <= 'Z') || c == ' '; })) {
            labels.emplace_back(label);
        }
    }
    return labels;
}

bool has_label(const std::vector<std::string>& labels, std::string_view part) {
    return std::any_of(labels.begin(), labels.end(),
                       [&](const std::string& label) { return label.find(part) != std::string::npos; });
}

// Why `pem` (a whole PEM, or its private key block that did not decode) gives no key.
[[noreturn]] void refuse_pem(std::string_view pem, const std::string& reason) {
    const std::vector<std::string> labels = pem_labels(pem);
    if (labels.empty()) {
        throw KeyError("not PEM: no \"-----BEGIN ...-----\" line; a PEM private key is expected");
    }
    if (has_label(labels, "ENCRYPTED PRIVATE KEY") ||
        pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
        throw KeyError(
            "the private key is encrypted, and passphrases are not supported: store it unencrypted "
            "(openssl pkey -in encrypted.pem -out key.pem) and protect the file by its permissions");
    }
    if (has_label(labels, "PRIVATE KEY")) {
        throw KeyError("the PEM private key could not be read (OpenSSL: " + reason + ")");
    }
    if (has_label(labels, "PUBLIC KEY")) {
        throw KeyError("a public key (PEM \"" + labels.front() +
                       "\"), not a private key: signing needs the private key");
    }
    if (has_label(labels, "CERTIFICATE")) {
        throw KeyError("a certificate (PEM \"" + labels.front() +
                       "\"), not a private key: signing needs the certificate's private key");
    }
    throw KeyError("not a private key: the PEM holds \"" + labels.front() + "\"");
}

// The first PEM block whose label ends in "PRIVATE KEY", from BEGIN to END line: a file
// may also hold a certificate or "EC PARAMETERS" (as `openssl ecparam -genkey` writes).
std::optional<std::string_view> private_key_block(std::string_view pem) {
    static constexpr std::string_view kBegin = "-----BEGIN ";
    static constexpr std::string_view kSuffix = "PRIVATE KEY";
    for (std::size_t at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + 1)) {
        const std::size_t start = at + kBegin.size();
        const std::size_t close = pem.find("-----", start);
        if (close == std::string_view::npos) break;
        const std::string_view label = pem.substr(start, close - start);
        if (label.size() < kSuffix.size() || label.substr(label.size() - kSuffix.size()) != kSuffix) continue;
        const std::string end_line = "-----END " + std::string(label) + "-----";
        const std::size_t end = pem.find(end_line, close);
        if (end != std::string_view::npos) return pem.substr(at, end + end_line.size() - at);
    }
    return std::nullopt;
}

// Decodes with OSSL_DECODER, which gives a provider-native key whatever the PEM form (the
// legacy path of PEM_read_bio_PrivateKey can give a key whose parameters cannot be read).
PkeyPtr read_private_key(std::string_view pem) {
    if (pem.size() > 1024 * 1024) throw KeyError("not a key: more than 1 MiB");
    const std::optional<std::string_view> block = private_key_block(pem);
    if (!block) refuse_pem(pem, "");
    EVP_PKEY* raw = nullptr;
    OSSL_DECODER_CTX* ctx =
        OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr);
    const auto* data = reinterpret_cast<const unsigned char*>(block->data());
    std::size_t length = block->size();
    const bool decoded = ctx != nullptr &&
                         OSSL_DECODER_CTX_set_pem_password_cb(ctx, refuse_passphrase, nullptr) == 1 &&
                         OSSL_DECODER_from_data(ctx, &data, &length) == 1 && raw != nullptr;
    OSSL_DECODER_CTX_free(ctx);
    PkeyPtr key(raw);
    if (!decoded) refuse_pem(*block, openssl::reason());
    ERR_clear_error();
    return key;
}

std::string utf8_param(const EVP_PKEY* key, const char* name) {
    char value[80];
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, name, value, sizeof value, &length) != 1) {
        ERR_clear_error();
        return "";
    }
    return std::string(value, length);
}

// "P-256 (prime256v1)" for the NIST curves, OpenSSL's name for the others.
std::string curve_name(const EVP_PKEY* key) {
    const std::string group = utf8_param(key, OSSL_PKEY_PARAM_GROUP_NAME);
    if (group == "prime256v1") return "P-256 (prime256v1)";
    if (group == "secp384r1") return "P-384 (secp384r1)";
    if (group == "secp521r1") return "P-521 (secp521r1)";
    return group.empty() ? "an unnamed curve" : group;
}

// "an EC key on P-384 (secp384r1)", "an Ed25519 key", "a 1024-bit RSA key", ...
std::string describe_key(const EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "EC")) return "an EC key on " + curve_name(key);
    if (EVP_PKEY_is_a(key, "ED25519")) return "an Ed25519 key";
    if (EVP_PKEY_is_a(key, "ED448")) return "an Ed448 key";
    if (EVP_PKEY_is_a(key, "X25519")) return "an X25519 key";
    const std::string bits = std::to_string(EVP_PKEY_get_bits(key));
    if (EVP_PKEY_is_a(key, "RSA")) return "a " + bits + "-bit RSA key";
    if (EVP_PKEY_is_a(key, "RSA-PSS")) return "a " + bits + "-bit RSA-PSS key";
    const char* type = EVP_PKEY_get0_type_name(key);
    return std::string("a key of type ") + (type != nullptr ? type : "unknown");
}

const char* needed_key(JwtAlgorithm algorithm) {
    switch (algorithm) {
        case JwtAlgorithm::es256: return "an EC key on P-256";
        case JwtAlgorithm::eddsa: return "an Ed25519 key";
        case JwtAlgorithm::rs256: return "an RSA key of at least 2048 bits";
        case JwtAlgorithm::hs256: break;
    }
    return "a secret of at least 32 bytes";
}

// Refuses a key of another type than `algorithm` signs with, or too weak for it.
void check_key(JwtAlgorithm algorithm, const EVP_PKEY* key) {
    const char* alg = to_string(algorithm);
    if (algorithm == JwtAlgorithm::es256 && EVP_PKEY_is_a(key, "EC")) {
        if (utf8_param(key, OSSL_PKEY_PARAM_GROUP_NAME) == "prime256v1") return;
        throw KeyError(std::string(alg) + " needs an EC key on P-256 (prime256v1); this one is on " +
                       curve_name(key));
    }
    if (algorithm == JwtAlgorithm::eddsa && EVP_PKEY_is_a(key, "ED25519")) return;
    if (algorithm == JwtAlgorithm::rs256 && EVP_PKEY_is_a(key, "RSA")) {
        const int bits = EVP_PKEY_get_bits(key);
        if (bits >= kMinRsaBits) return;
        throw KeyError(std::string(alg) + " needs an RSA key of at least 2048 bits; this one has " +
                       std::to_string(bits));
    }
    throw KeyError(describe_key(key) + ", but the algorithm is " + alg + ", which needs " +
                   needed_key(algorithm));
}

std::string bn_param(const EVP_PKEY* key, const char* name, std::size_t fixed_size) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        throw KeyError(std::string("cannot read the public key's ") + name +
                       " (OpenSSL: " + openssl::reason() + ")");
    }
    const BnPtr bn(raw);
    // Unsigned big-endian: without leading zero bytes, or exactly fixed_size bytes.
    std::string bytes(fixed_size != 0 ? fixed_size : static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
    auto* out = reinterpret_cast<unsigned char*>(bytes.data());
    const int written = fixed_size != 0 ? BN_bn2binpad(bn.get(), out, static_cast<int>(fixed_size))
                                        : BN_bn2bin(bn.get(), out);
    if (written < 0) throw KeyError(std::string("the public key's ") + name + " does not fit");
    return base64url(bytes);
}

// The JWK members of the public key, those RFC 7638 requires, in the order JWKs usually
// show them (kty first).
Members public_members(JwtAlgorithm algorithm, const EVP_PKEY* key) {
    switch (algorithm) {
        case JwtAlgorithm::es256:
            return {{"kty", "EC"},
                    {"crv", "P-256"},
                    {"x", bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, kEs256CoordinateBytes)},
                    {"y", bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, kEs256CoordinateBytes)}};
        case JwtAlgorithm::eddsa: {
            unsigned char raw[32];
            std::size_t length = sizeof raw;
            if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 || length != sizeof raw) {
                throw KeyError("cannot read the Ed25519 public key (OpenSSL: " + openssl::reason() + ")");
            }
            return {
                {"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url({reinterpret_cast<char*>(raw), length})}};
        }
        case JwtAlgorithm::rs256:
            return {{"kty", "RSA"},
                    {"n", bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0)},
                    {"e", bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0)}};
        case JwtAlgorithm::hs256: break;
    }
    return {};
}

void write_members(rapidjson::Writer<rapidjson::StringBuffer>& w, const Members& members) {
    for (const auto& [name, value] : members) {
        w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
        w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    }
}

std::string public_jwk_json(const Members& members, const std::string& kid, JwtAlgorithm algorithm) {
    rapidjson::StringBuffer json;
    rapidjson::Writer<rapidjson::StringBuffer> w(json);
    w.StartObject();
    write_members(w, members);
    write_members(w, {{"kid", kid}, {"alg", to_string(algorithm)}, {"use", "sig"}});
    w.EndObject();
    return std::string(json.GetString(), json.GetSize());
}

// A DER ECDSA-Sig-Value as the JWS form: r and s, each left-padded to 32 bytes.
std::string ecdsa_der_to_jose(const unsigned char* der, std::size_t length) {
    const unsigned char* in = der;
    const EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(length)));
    if (!sig) throw KeyError("ES256 signing gave no ECDSA signature (OpenSSL: " + openssl::reason() + ")");
    unsigned char jose[2 * kEs256CoordinateBytes];
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), jose, kEs256CoordinateBytes) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), jose + kEs256CoordinateBytes, kEs256CoordinateBytes) < 0) {
        throw KeyError("ES256 signature does not fit 64 bytes");
    }
    return base64url({reinterpret_cast<char*>(jose), sizeof jose});
}

// The base64url signature of `input` by an asymmetric key. A context per call: the key is
// only read, so any number of threads sign with it at once.
std::string sign_asymmetric(EVP_PKEY* key, JwtAlgorithm algorithm, std::string_view input) {
    const char* alg = to_string(algorithm);
    const MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;                                                // owned by ctx
    const char* digest = algorithm == JwtAlgorithm::eddsa ? nullptr : "SHA256";  // EdDSA hashes itself
    if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, digest, nullptr, nullptr, key, nullptr) != 1 ||
        (algorithm == JwtAlgorithm::rs256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
        throw KeyError(std::string(alg) + " signing set-up failed (OpenSSL: " + openssl::reason() + ")");
    }
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    std::size_t length = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1) {
        throw KeyError(std::string(alg) + " signing failed (OpenSSL: " + openssl::reason() + ")");
    }
    std::vector<unsigned char> sig(length);
    if (EVP_DigestSign(ctx.get(), sig.data(), &length, data, input.size()) != 1) {
        throw KeyError(std::string(alg) + " signing failed (OpenSSL: " + openssl::reason() + ")");
    }
    if (algorithm == JwtAlgorithm::es256) return ecdsa_der_to_jose(sig.data(), length);
    return base64url({reinterpret_cast<char*>(sig.data()), length});
}

// A kid for an HS256 secret: the first 12 bytes of HMAC-SHA256(secret, label), which tell
// nothing of the secret (nor of derive_key's keys, which use other labels).
std::string secret_kid(std::string_view secret) {
    unsigned char mac[32];
    hmac_sha256(secret, "testino-jwt-kid-v1", mac);
    return base64url({reinterpret_cast<char*>(mac), 12});
}

}  // namespace

std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name) {
    for (const JwtAlgorithm algorithm :
         {JwtAlgorithm::hs256, JwtAlgorithm::es256, JwtAlgorithm::eddsa, JwtAlgorithm::rs256}) {
        if (name == to_string(algorithm)) return algorithm;
    }
    return std::nullopt;
}

const char* to_string(JwtAlgorithm algorithm) {
    switch (algorithm) {
        case JwtAlgorithm::hs256: return "HS256";
        case JwtAlgorithm::es256: return "ES256";
        case JwtAlgorithm::eddsa: return "EdDSA";
        case JwtAlgorithm::rs256: return "RS256";
    }
    return "?";
}

bool is_asymmetric(JwtAlgorithm algorithm) { return algorithm != JwtAlgorithm::hs256; }

std::string jwk_thumbprint(std::vector<std::pair<std::string, std::string>> required_members) {
    std::sort(required_members.begin(), required_members.end());
    rapidjson::StringBuffer json;
    rapidjson::Writer<rapidjson::StringBuffer> w(json);
    w.StartObject();
    write_members(w, required_members);
    w.EndObject();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(json.GetString(), json.GetSize(), digest, &length, EVP_sha256(), nullptr) != 1) {
        throw KeyError("SHA-256 failed (OpenSSL: " + openssl::reason() + ")");
    }
    return base64url({reinterpret_cast<char*>(digest), length});
}

struct SigningKey::Impl {
    JwtAlgorithm algorithm = JwtAlgorithm::hs256;
    std::string kid;
    std::string header;  // base64url of the JWS header, with this kid
    std::string secret;  // HS256
    PkeyPtr key;         // the others; read-only once loaded
    std::size_t signature_bytes = 0;
    std::string jwk;
    std::string thumbprint;

    ~Impl() { OPENSSL_cleanse(secret.data(), secret.size()); }

    // A checked key: its JWK and thumbprint, and one signature so that a key OpenSSL cannot
    // use fails here, at start, and the first request pays no lazy set-up.
    static std::unique_ptr<Impl> asymmetric(JwtAlgorithm algorithm, std::string kid, PkeyPtr key) {
        check_key(algorithm, key.get());
        auto impl = std::make_unique<Impl>();
        impl->algorithm = algorithm;
        const Members members = public_members(algorithm, key.get());
        impl->thumbprint = jwk_thumbprint(members);
        impl->kid = kid.empty() ? impl->thumbprint : std::move(kid);
        impl->header = encoded_jws_header(to_string(algorithm), impl->kid);
        impl->jwk = public_jwk_json(members, impl->kid, algorithm);
        impl->signature_bytes = algorithm == JwtAlgorithm::rs256
                                    ? static_cast<std::size_t>(EVP_PKEY_get_size(key.get()))
                                    : 2 * kEs256CoordinateBytes;  // ES256 and Ed25519
        impl->key = std::move(key);
        sign_asymmetric(impl->key.get(), algorithm, impl->header);
        return impl;
    }
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

SigningKey SigningKey::from_pem(JwtAlgorithm algorithm, std::string kid, std::string_view pem) {
    if (!is_asymmetric(algorithm)) throw KeyError("HS256 takes a secret, not a PEM key");
    return SigningKey(Impl::asymmetric(algorithm, std::move(kid), read_private_key(pem)));
}

SigningKey SigningKey::from_secret(std::string kid, std::string secret) {
    if (secret.size() < kMinSecretBytes) {
        const std::size_t size = secret.size();
        OPENSSL_cleanse(secret.data(), secret.size());
        throw KeyError("HS256 needs a secret of at least 32 bytes; this one has " + std::to_string(size));
    }
    auto impl = std::make_unique<Impl>();
    impl->kid = kid.empty() ? secret_kid(secret) : std::move(kid);
    impl->header = encoded_jws_header("HS256", impl->kid);
    impl->secret = std::move(secret);
    return SigningKey(std::move(impl));
}

SigningKey SigningKey::generate(JwtAlgorithm algorithm, std::string kid) {
    EVP_PKEY* raw = nullptr;
    switch (algorithm) {
        case JwtAlgorithm::hs256: {
            std::string secret(kMinSecretBytes, '\0');
            if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                           static_cast<int>(secret.size())) != 1) {
                throw KeyError("RAND_bytes failed (OpenSSL: " + openssl::reason() + ")");
            }
            return from_secret(std::move(kid), std::move(secret));
        }
        case JwtAlgorithm::es256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
        case JwtAlgorithm::eddsa: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
        case JwtAlgorithm::rs256:
            raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(kMinRsaBits));
            break;
    }
    if (raw == nullptr) {
        throw KeyError(std::string(to_string(algorithm)) +
                       " key generation failed (OpenSSL: " + openssl::reason() + ")");
    }
    return SigningKey(Impl::asymmetric(algorithm, std::move(kid), PkeyPtr(raw)));
}

const std::string& SigningKey::kid() const { return impl_->kid; }
JwtAlgorithm SigningKey::algorithm() const { return impl_->algorithm; }
std::string SigningKey::public_jwk() const { return impl_->jwk; }
std::string SigningKey::thumbprint() const { return impl_->thumbprint; }

std::string SigningKey::signature(std::string_view signing_input) const {
    if (impl_->algorithm != JwtAlgorithm::hs256) {
        return sign_asymmetric(impl_->key.get(), impl_->algorithm, signing_input);
    }
    unsigned char mac[32];
    hmac_sha256(impl_->secret, signing_input, mac);
    return base64url({reinterpret_cast<char*>(mac), sizeof mac});
}

std::string SigningKey::sign_jwt(const JwtClaims& claims) const {
    if (impl_->algorithm == JwtAlgorithm::hs256) return sign_hs256_jws(impl_->header, impl_->secret, claims);
    std::string token = jws_signing_input(impl_->header, claims, impl_->signature_bytes);
    // Signed before the "." is appended: the signing input is header.claims.
    const std::string sig = sign_asymmetric(impl_->key.get(), impl_->algorithm, token);
    return token.append(1, '.').append(sig);
}

std::string jwks_document(const std::vector<const SigningKey*>& keys) {
    std::string document = "{\"keys\":[";
    bool first = true;
    for (const SigningKey* key : keys) {
        if (key == nullptr || !is_asymmetric(key->algorithm())) continue;
        if (!first) document += ',';
        document += key->public_jwk();
        first = false;
    }
    return document += "]}";
}

}  // namespace testino
