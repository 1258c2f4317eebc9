// AWS Signature Version 4 (HMAC-SHA256) for requests signed in the Authorization header.
//
// A small unit of its own: it knows nothing of SNS or of HTTP transport. It turns a request
// (method, decoded path and query, headers, body) plus credentials, scope and a clock reading
// into the headers to add, and exposes every intermediate step (canonical request, string to
// sign, signature) so the tests can hold each one to AWS's published test vectors.
//
// Scope: header signing only (no presigned URLs, no SigV4A, no chunked S3 payloads). Paths are
// encoded once, as every service but S3 expects for the decoded path given here.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace testino::plugins::sigv4 {

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // "" for long-term keys; X-Amz-Security-Token otherwise
};

struct Header {
    std::string name;
    std::string value;

    bool operator==(const Header& other) const { return name == other.name && value == other.value; }
};

struct Request {
    std::string method;                                      // "POST"
    std::string path;                                        // decoded, e.g. "/" or "/example space/"
    std::vector<std::pair<std::string, std::string>> query;  // decoded name/value pairs
    std::vector<Header> headers;  // every header present at signing time is signed; must hold Host
    std::string body;
};

struct Options {
    std::string region;   // "us-east-1"
    std::string service;  // "sns"
    // Remove "." and ".." segments and repeated slashes from the path before signing
    // (what every service but S3 expects).
    bool normalize_path = true;
    // Add and sign `x-amz-content-sha256: <hex sha256(body)>` (S3 wants it; SNS does not).
    bool sign_body_hash = false;
    // False: add X-Amz-Security-Token after signing, unsigned (a few services, e.g. IoT,
    // want this). True, the normal case: the token is a signed header.
    bool sign_session_token = true;
};

struct Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;      // lower-case hex
    std::string authorization;  // the Authorization header's value
    // Headers the signer appended to the request, in order: X-Amz-Security-Token (if any),
    // X-Amz-Date, x-amz-content-sha256 (if asked), Authorization.
    std::vector<Header> added_headers;
};

// Signs `request` and appends the headers in Signature::added_headers to request.headers.
// `now` is a parameter so tests can use the vectors' fixed time. Never throws for valid input;
// throws std::runtime_error only if OpenSSL itself fails.
Signature sign(Request& request, const Credentials& credentials, const Options& options,
               std::chrono::system_clock::time_point now);

// The pieces, exposed for tests and for callers that want to check a signature.
std::string amz_date(std::chrono::system_clock::time_point now);  // "20150830T123600Z"
std::string canonical_request(const Request& request, const Options& options,
                              const std::string& payload_hash);
std::string signed_header_names(const Request& request);           // "content-type;host;x-amz-date"
std::string uri_encode(const std::string& text, bool keep_slash);  // RFC 3986 unreserved kept
std::string normalize_path(const std::string& path);
std::string sha256_hex(const std::string& data);
std::string hmac_sha256(const std::string& key, const std::string& data);  // raw bytes
std::string hex(const std::string& bytes);

}  // namespace testino::plugins::sigv4
