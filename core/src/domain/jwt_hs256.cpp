#include "domain/jwt_hs256.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "domain/otp_crypto.hpp"

namespace testino {
namespace {

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

void string_member(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string base64url(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    append_base64url(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return out;
}

std::string sign_hs256_jwt(std::string_view key, const JwtClaims& claims) {
    // base64url of {"alg":"HS256","typ":"JWT"}: the header never changes.
    static constexpr std::string_view kHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    rapidjson::StringBuffer json;
    rapidjson::Writer<rapidjson::StringBuffer> w(json);
    w.StartObject();
    string_member(w, "sub", claims.sub);
    string_member(w, "iss", claims.iss);
    string_member(w, "jti", claims.jti);
    w.Key("iat");
    w.Int64(claims.iat);
    w.Key("exp");
    w.Int64(claims.exp);
    w.EndObject();

    std::string token;
    token.reserve(kHeader.size() + 2 + (json.GetSize() + 2) / 3 * 4 + 43);
    token.append(kHeader).append(1, '.');
    append_base64url(token, reinterpret_cast<const unsigned char*>(json.GetString()), json.GetSize());
    unsigned char mac[32];
    hmac_sha256(key, token, mac);  // the signing input is header.claims
    token.append(1, '.');
    append_base64url(token, mac, sizeof mac);
    return token;
}

}  // namespace testino
