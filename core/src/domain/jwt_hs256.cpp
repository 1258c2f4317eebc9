#include "domain/jwt_hs256.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "domain/otp_crypto.hpp"

namespace testino {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void string_member(JsonWriter& w, const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::size_t base64url_size(std::size_t n) { return (n * 4 + 2) / 3; }

}  // namespace

void append_base64url(std::string& out, const unsigned char* data, std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (n - i == 1) {
        const unsigned v = data[i] << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
}

std::string base64url(std::string_view data) {
    std::string out;
    out.reserve(base64url_size(data.size()));
    append_base64url(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return out;
}

std::string encoded_jws_header(std::string_view alg, std::string_view kid) {
    rapidjson::StringBuffer json;
    JsonWriter w(json);
    w.StartObject();
    string_member(w, "alg", alg);
    string_member(w, "typ", "JWT");
    if (!kid.empty()) string_member(w, "kid", kid);
    w.EndObject();
    return base64url(std::string_view(json.GetString(), json.GetSize()));
}

std::string jws_signing_input(std::string_view encoded_header, const JwtClaims& claims,
                              std::size_t signature_bytes) {
    rapidjson::StringBuffer json;
    JsonWriter w(json);
    w.StartObject();
    string_member(w, "sub", claims.sub);
    string_member(w, "iss", claims.iss);
    if (!claims.aud.empty()) string_member(w, "aud", claims.aud);
    string_member(w, "jti", claims.jti);
    w.Key("iat");
    w.Int64(claims.iat);
    w.Key("exp");
    w.Int64(claims.exp);
    w.EndObject();

    std::string token;
    token.reserve(encoded_header.size() + 2 + base64url_size(json.GetSize()) +
                  base64url_size(signature_bytes));
    token.append(encoded_header).append(1, '.');
    append_base64url(token, reinterpret_cast<const unsigned char*>(json.GetString()), json.GetSize());
    return token;
}

void append_jws_signature(std::string& signing_input, const unsigned char* signature, std::size_t n) {
    signing_input.append(1, '.');
    append_base64url(signing_input, signature, n);
}

std::string sign_hs256_jws(std::string_view encoded_header, std::string_view key, const JwtClaims& claims) {
    std::string token = jws_signing_input(encoded_header, claims, 32);
    unsigned char mac[32];
    hmac_sha256(key, token, mac);  // the signing input is header.claims
    append_jws_signature(token, mac, sizeof mac);
    return token;
}

std::string sign_hs256_jwt(std::string_view key, const JwtClaims& claims) {
    // base64url of {"alg":"HS256","typ":"JWT"}: the header never changes.
    static constexpr std::string_view kHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    return sign_hs256_jws(kHeader, key, claims);
}

}  // namespace testino
