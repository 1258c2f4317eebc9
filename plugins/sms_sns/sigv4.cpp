#include "sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace testino::plugins::sigv4 {
namespace {

constexpr const char* kAlgorithm = "AWS4-HMAC-SHA256";

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool iequals(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

// Trims the ends and collapses each run of spaces/tabs inside into one space, as SigV4's
// canonical header value asks (even inside quotes).
std::string canonical_header_value(const std::string& value) {
    std::string out;
    bool pending_space = false;
    for (const char c : value) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    return out;
}

// Lower-cased names in sorted order, each with its values joined by ',' in request order.
std::vector<std::pair<std::string, std::string>> canonical_headers(const Request& request) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& header : request.headers) {
        const std::string name = lower(header.name);
        const std::string value = canonical_header_value(header.value);
        auto existing = std::find_if(headers.begin(), headers.end(),
                                     [&](const auto& entry) { return entry.first == name; });
        if (existing == headers.end()) {
            headers.emplace_back(name, value);
        } else {
            existing->second += "," + value;
        }
    }
    std::sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return headers;
}

std::string canonical_query(const Request& request) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(request.query.size());
    for (const auto& [name, value] : request.query) {
        encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) out.push_back('&');
        out += name + "=" + value;
    }
    return out;
}

std::string credential_scope(const std::string& date, const Options& options) {
    return date + "/" + options.region + "/" + options.service + "/aws4_request";
}

}  // namespace

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 0x0F]);
    }
    return out;
}

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("sigv4: SHA-256 failed");
    }
    return hex(std::string(reinterpret_cast<const char*>(digest), size));
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size) == nullptr) {
        throw std::runtime_error("sigv4: HMAC-SHA256 failed");
    }
    return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string uri_encode(const std::string& text, bool keep_slash) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(digits[byte >> 4]);
            out.push_back(digits[byte & 0x0F]);
        }
    }
    return out;
}

std::string normalize_path(const std::string& path) {
    std::vector<std::string> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t slash = std::min(path.find('/', start), path.size());
        const std::string segment = path.substr(start, slash - start);
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        start = slash + 1;
    }
    std::string out;
    for (const auto& segment : segments) out += "/" + segment;
    // A trailing slash names a directory-like resource and is kept ("//example//" -> "/example/").
    if (out.empty() || (!path.empty() && path.back() == '/')) out.push_back('/');
    return out;
}

std::string amz_date(std::chrono::system_clock::time_point now) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

std::string signed_header_names(const Request& request) {
    std::string names;
    for (const auto& [name, value] : canonical_headers(request)) {
        if (!names.empty()) names.push_back(';');
        names += name;
    }
    return names;
}

std::string canonical_request(const Request& request, const Options& options,
                              const std::string& payload_hash) {
    const std::string path = options.normalize_path ? normalize_path(request.path) : request.path;
    std::string out = request.method + "\n" + uri_encode(path.empty() ? "/" : path, true) + "\n" +
                      canonical_query(request) + "\n";
    for (const auto& [name, value] : canonical_headers(request)) out += name + ":" + value + "\n";
    out += "\n" + signed_header_names(request) + "\n" + payload_hash;
    return out;
}

Signature sign(Request& request, const Credentials& credentials, const Options& options,
               std::chrono::system_clock::time_point now) {
    Signature result;
    const std::string timestamp = amz_date(now);
    const std::string date = timestamp.substr(0, 8);
    const std::string payload_hash = sha256_hex(request.body);

    const bool has_token = !credentials.session_token.empty();
    if (has_token) result.added_headers.push_back({"X-Amz-Security-Token", credentials.session_token});
    result.added_headers.push_back({"X-Amz-Date", timestamp});
    if (options.sign_body_hash) result.added_headers.push_back({"x-amz-content-sha256", payload_hash});

    // Sign the request as it will be sent, minus an unsigned token when asked for one.
    Request to_sign = request;
    for (const auto& header : result.added_headers) {
        if (!options.sign_session_token && iequals(header.name, "X-Amz-Security-Token")) continue;
        to_sign.headers.push_back(header);
    }

    result.canonical_request = canonical_request(to_sign, options, payload_hash);
    const std::string scope = credential_scope(date, options);
    result.string_to_sign = std::string(kAlgorithm) + "\n" + timestamp + "\n" + scope + "\n" +
                            sha256_hex(result.canonical_request);

    const std::string date_key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    const std::string region_key = hmac_sha256(date_key, options.region);
    const std::string service_key = hmac_sha256(region_key, options.service);
    const std::string signing_key = hmac_sha256(service_key, "aws4_request");
    result.signature = hex(hmac_sha256(signing_key, result.string_to_sign));

    result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           scope + ", SignedHeaders=" + signed_header_names(to_sign) +
                           ", Signature=" + result.signature;
    result.added_headers.push_back({"Authorization", result.authorization});
    request.headers.insert(request.headers.end(), result.added_headers.begin(), result.added_headers.end());
    return result;
}

}  // namespace testino::plugins::sigv4
