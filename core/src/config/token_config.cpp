// The token section: which algorithm signs access tokens, with which keys (loaded and
// checked here, so a bad key stops start-up and --check-config), and how long access and
// refresh tokens live.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "config/app_config_parts.hpp"
#include "config/config_text.hpp"
#include "domain/otp_crypto.hpp"

namespace testino::config_detail {
namespace {

using sdk::ConfigKey;
using sdk::ValueType;

constexpr std::int64_t kDay = 86400;
constexpr const char* kMakeKey =
    "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out token-key.pem`";

// One key the config names: where it came from and its PEM (or, for HS256, the secret).
struct KeySource {
    std::string kid;
    std::string pem;
    std::string where;   // for messages: "config/x.yaml: token.keys[0].private_key_file"
    std::string origin;  // for --check-config: "file keys/a.pem", "env TOKEN_PRIVATE_KEY"
};

std::string read_key_file(const std::string& path, const std::string& where) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw StartupError(where + ": cannot read \"" + path + "\"; " + kMakeKey);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void check_kid(const std::string& kid, const std::string& where) {
    const bool plain = std::all_of(kid.begin(), kid.end(),
                                   [](char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (kid.empty() || kid.size() > 64 || !plain) {
        throw StartupError(where + ": a kid is 1 to 64 printable ASCII characters, without spaces or quotes");
    }
}

// token.keys: a list of {kid, private_key_file | private_key_env}.
std::vector<KeySource> listed_keys(const ConfigSource& source) {
    std::vector<KeySource> keys;
    const YAML::Node list = source.node("token.keys");
    if (!list.IsDefined() || list.IsNull()) return keys;
    const std::string at = source.file() + ": token.keys";
    if (!list.IsSequence() || list.size() == 0) {
        throw StartupError(at + ": expected a list of {kid, private_key_file} entries");
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
        const YAML::Node entry = list[i];
        const std::string where = at + "[" + std::to_string(i) + "]";
        if (!entry.IsMap()) throw StartupError(where + ": expected a mapping with kid and private_key_file");
        for (const auto& field : entry) {
            const std::string name = field.first.IsScalar() ? field.first.as<std::string>() : "?";
            if (name != "kid" && name != "private_key_file" && name != "private_key_env") {
                throw StartupError(where + "." + name +
                                   ": unknown key; allowed keys: kid, private_key_file, private_key_env");
            }
            if (!field.second.IsScalar()) throw StartupError(where + "." + name + ": expected a string");
        }
        KeySource k;
        if (entry["kid"]) {
            k.kid = entry["kid"].as<std::string>();
            check_kid(k.kid, where + ".kid");
        }
        const bool file = static_cast<bool>(entry["private_key_file"]);
        if (file == static_cast<bool>(entry["private_key_env"])) {
            throw StartupError(where +
                               ": give exactly one of private_key_file (a PEM file) and private_key_env "
                               "(an environment variable holding the PEM)");
        }
        if (file) {
            const std::string path = entry["private_key_file"].as<std::string>();
            k.where = where + ".private_key_file";
            k.pem = read_key_file(path, k.where);
            k.origin = "file " + path;
        } else {
            const std::string name = entry["private_key_env"].as<std::string>();
            k.where = where + ".private_key_env";
            const std::optional<std::string> pem = source.env(name);
            if (!pem || pem->empty()) {
                throw StartupError(k.where + ": the environment variable " + name + " is not set");
            }
            k.pem = *pem;
            k.origin = "env " + name;
        }
        keys.push_back(std::move(k));
    }
    return keys;
}

// The single-key form: token.private_key_file (TOKEN_PRIVATE_KEY_FILE) or token.private_key
// (TOKEN_PRIVATE_KEY, the PEM itself), named by token.kid.
std::vector<KeySource> single_key(const ConfigSection& token) {
    const bool file = token.has("private_key_file");
    const bool text = token.has("private_key");
    if (!file && !text) return {};
    if (file && text) {
        throw StartupError(token.where("private_key") + ": give either private_key or private_key_file (" +
                           token.where("private_key_file") + "), not both");
    }
    KeySource k;
    k.kid = token.get_string("kid");
    if (!k.kid.empty()) check_kid(k.kid, token.where("kid"));
    if (file) {
        const std::string path = token.get_string("private_key_file");
        k.where = token.where("private_key_file");
        k.pem = read_key_file(path, k.where);
        k.origin = "file " + path;
    } else {
        k.where = token.where("private_key");
        k.pem = token.get_string("private_key");
        k.origin = "private_key";
    }
    return {std::move(k)};
}

JwtAlgorithm load_algorithm(const ConfigSection& token) {
    const std::string name = token.get_string("algorithm");
    if (name.empty()) return token.has("secret") ? JwtAlgorithm::hs256 : JwtAlgorithm::es256;
    if (auto algorithm = parse_jwt_algorithm(name)) return *algorithm;
    throw StartupError(token.where("algorithm") + ": expected ES256, EdDSA, RS256 or HS256, got \"" + name +
                       "\"");
}

void load_hs256_key(const ConfigSection& token, bool debug, TokenConfig& t) {
    if (token.has("private_key") || token.has("private_key_file")) {
        throw StartupError(token.where("algorithm") +
                           ": HS256 signs with token.secret; private keys are for ES256, EdDSA and RS256");
    }
    t.secret = token.get_string("secret");
    if (t.secret.empty()) {
        if (!debug) {
            throw StartupError(token.where("secret") +
                               ": no token secret is configured; set TOKEN_SECRET (at least 32 "
                               "bytes, e.g. `openssl rand -hex 32`), or DEBUG=true for a "
                               "throwaway one in development");
        }
        t.secret = random_hex(32);
        t.key_generated = true;
    } else if (t.secret.size() < 32) {
        throw StartupError(token.where("secret") + ": must be at least 32 bytes long");
    }
    std::string kid = token.get_string("kid");
    if (!kid.empty()) check_kid(kid, token.where("kid"));
    t.keys.push_back(std::make_shared<const SigningKey>(SigningKey::from_secret(kid, t.secret)));
    t.key_origins.push_back(t.key_generated ? "generated" : "token.secret");
}

void load_asymmetric_keys(const ConfigSource& source, const ConfigSection& token, bool debug,
                          TokenConfig& t) {
    std::vector<KeySource> sources = listed_keys(source);
    if (!sources.empty() && (token.has("private_key") || token.has("private_key_file"))) {
        throw StartupError(source.file() +
                           ": token.keys and token.private_key(_file) both name keys; list every key in "
                           "token.keys");
    }
    if (sources.empty()) sources = single_key(token);
    t.secret_unused = token.has("secret");
    if (sources.empty()) {
        if (!debug) {
            throw StartupError(source.file() + ": token: no signing key for " + to_string(t.algorithm) +
                               "; set TOKEN_PRIVATE_KEY_FILE to a PEM private key (" + kMakeKey +
                               "), or list token.keys, or DEBUG=true for a throwaway key in development");
        }
        t.keys.push_back(std::make_shared<const SigningKey>(SigningKey::generate(t.algorithm, "")));
        t.key_origins.push_back("generated");
        t.key_generated = true;
        return;
    }
    std::set<std::string> kids;
    for (KeySource& k : sources) {
        try {
            auto loaded = std::make_shared<const SigningKey>(SigningKey::from_pem(t.algorithm, k.kid, k.pem));
            if (!kids.insert(loaded->kid()).second) {
                throw StartupError(k.where + ": kid \"" + loaded->kid() + "\" is used by two keys");
            }
            t.keys.push_back(std::move(loaded));
            t.key_origins.push_back(k.origin);
        } catch (const KeyError& e) {
            throw StartupError(k.where + ": " + e.what());
        }
    }
}

void choose_signing_key(const ConfigSection& token, TokenConfig& t) {
    const std::string kid = token.get_string("signing_kid");
    if (kid.empty()) return;
    std::string kids;
    for (std::size_t i = 0; i < t.keys.size(); ++i) {
        if (t.keys[i]->kid() == kid) {
            t.signing_key = i;
            return;
        }
        kids += (kids.empty() ? "\"" : ", \"") + t.keys[i]->kid() + "\"";
    }
    throw StartupError(token.where("signing_kid") + ": no key has kid \"" + kid + "\"; the keys are " + kids);
}

void load_refresh(const ConfigSection& token, TokenConfig& t) {
    t.refresh_ttl = std::chrono::seconds(token.get_int("refresh_ttl_seconds"));
    t.refresh_max_age = std::chrono::seconds(token.get_int("refresh_max_age_seconds"));
    t.refresh_reuse_grace = std::chrono::seconds(token.get_int("refresh_reuse_grace_seconds"));
    t.jwks_max_age = std::chrono::seconds(token.get_int("jwks_max_age_seconds"));
    if (t.refresh_ttl.count() > 0 && t.refresh_max_age < t.refresh_ttl) {
        throw StartupError(token.where("refresh_max_age_seconds") +
                           ": must be at least refresh_ttl_seconds (" +
                           std::to_string(t.refresh_ttl.count()) +
                           "): a sign-in's refresh tokens end this long after it, whatever their own TTL");
    }
}

}  // namespace

const std::vector<ConfigKey>& token_schema() {
    static const std::vector<ConfigKey> keys = {
        config_key("algorithm", ValueType::string, "", "TOKEN_ALGORITHM",
                   "ES256, EdDSA, RS256 or HS256; unset: HS256 when token.secret is set (earlier configs), "
                   "else ES256"),
        sdk::mark_secret(config_key("secret", ValueType::string, "", "TOKEN_SECRET",
                                    "HS256 signing key, at least 32 bytes; required for HS256 unless debug")),
        config_key("kid", ValueType::string, "", "TOKEN_KID",
                   "the kid of the one key of private_key_file, private_key or secret; default: derived "
                   "from the key (RFC 7638 thumbprint)"),
        config_key("private_key_file", ValueType::string, "", "TOKEN_PRIVATE_KEY_FILE",
                   "a PEM private key file for ES256 (P-256), EdDSA (Ed25519) or RS256 (RSA >= 2048 bits); "
                   "several keys: token.keys"),
        sdk::mark_secret(config_key("private_key", ValueType::string, "", "TOKEN_PRIVATE_KEY",
                                    "the PEM private key itself, instead of private_key_file")),
        config_key("signing_kid", ValueType::string, "", "TOKEN_SIGNING_KID",
                   "the kid of the key in token.keys that signs; default: the first"),
        config_key("issuer", ValueType::string, "testino-auth", "TOKEN_ISSUER", "the JWT iss claim"),
        config_key("audience", ValueType::string, "", "TOKEN_AUDIENCE", "the JWT aud claim; unset: none"),
        config_key("ttl_seconds", ValueType::integer, "3600", "TOKEN_TTL_SECONDS", "access token lifetime",
                   60, 30 * kDay),
        config_key("refresh_ttl_seconds", ValueType::integer, std::to_string(30 * kDay),
                   "TOKEN_REFRESH_TTL_SECONDS",
                   "how long a refresh token is valid unless rotated; 0: no refresh tokens", 0, 365 * kDay),
        config_key("refresh_max_age_seconds", ValueType::integer, std::to_string(90 * kDay),
                   "TOKEN_REFRESH_MAX_AGE_SECONDS",
                   "refresh tokens of one sign-in end this long after it, however often rotated", 60,
                   3650 * kDay),
        config_key("refresh_reuse_grace_seconds", ValueType::integer, "0",
                   "TOKEN_REFRESH_REUSE_GRACE_SECONDS",
                   "a refresh token rotated less than this long ago is refused (409) without revoking its "
                   "sign-in, for clients that refresh twice at once; 0: any reuse revokes",
                   0, 60),
        config_key("jwks_max_age_seconds", ValueType::integer, "300", "TOKEN_JWKS_MAX_AGE_SECONDS",
                   "Cache-Control max-age of GET /.well-known/jwks.json; a new key must be published this "
                   "long before it signs",
                   0, kDay),
    };
    return keys;
}

void load_token(const ConfigSource& source, AppConfig& config) {
    const ConfigSection& token = config.section("token");
    TokenConfig& t = config.token;
    t.algorithm = load_algorithm(token);
    t.issuer = token.get_string("issuer");
    t.audience = token.get_string("audience");
    t.ttl = std::chrono::seconds(token.get_int("ttl_seconds"));
    if (t.algorithm == JwtAlgorithm::hs256) {
        load_hs256_key(token, config.server.debug, t);
    } else {
        load_asymmetric_keys(source, token, config.server.debug, t);
    }
    choose_signing_key(token, t);
    load_refresh(token, t);

    OtpConfig& o = config.otp;
    if (!o.hmac_secret.empty()) return;
    if (t.algorithm == JwtAlgorithm::hs256) {
        o.hmac_secret = derive_key(t.secret, "testino-otp-hmac-v1");
    } else if (config.server.debug) {
        o.hmac_secret = random_hex(32);
    } else {
        // A private key never doubles as the code key, and must not need to: codes and
        // tokens rotate on their own schedules.
        throw StartupError(config.section("otp").where("hmac_secret") + ": required with " +
                           to_string(t.algorithm) +
                           " tokens; set OTP_HMAC_SECRET (at least 32 bytes, e.g. `openssl rand -hex 32`)");
    }
}

}  // namespace testino::config_detail
