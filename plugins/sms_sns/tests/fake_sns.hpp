// A fake Amazon SNS on 127.0.0.1 (a free port) inside the test process.
//
// It reads each request as raw bytes from its own socket (no HTTP library in between that
// could re-serialise Host or Content-Type) and checks it the way AWS does, by a second,
// independent path: it rebuilds the canonical request from the headers named in the
// received SignedHeaders and the body as it arrived, derives the key and HMAC with
// OpenSSL's EVP_Q_mac/EVP_Q_digest (the plugin uses HMAC()/EVP_Digest), and compares.
// Like AWS it answers InvalidClientTokenId for an unknown key or token, RequestExpired for an
// X-Amz-Date more than 15 minutes off, SignatureDoesNotMatch on any mismatch, and a 400
// for a body that is not a Publish; then the test's scripted replies (fixtures, delays,
// dropped connections) in order, and when none are left, the publish-response.xml fixture
// with a fresh MessageId.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testino::plugins::sns::test {

struct FakeSnsKeys {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // "" = long-term keys (a token sent anyway is refused)
    std::string region = "us-east-1";
};

struct ReceivedPublish {
    std::string request_line;                                  // "POST / HTTP/1.1"
    std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
    std::string body;
    std::map<std::string, std::string> params;  // the decoded form fields
    // "" when the request passed the fake's own checks, else the AWS code it answered with.
    std::string rejected_with;
    std::string message_id;  // the MessageId answered ("" if none)
    int connection = 0;      // 1-based index of the TCP connection it came on

    std::optional<std::string> header(const std::string& name) const;  // case-insensitive
};

struct FakeReply {
    int status = 200;
    std::string body;                    // with status 200 and "": the success fixture with a fresh MessageId
    std::chrono::milliseconds delay{0};  // wait before answering (the client may give up)
    bool close_without_answer = false;   // drop the connection instead of answering
};

// An error fixture (tests/data/sns/error-<Code>.xml) with the HTTP status
// error-status.txt gives it; a test failure naming the file when it is missing.
FakeReply error_fixture_reply(const std::string& aws_code);

class FakeSns;

// The sms.sns config section (YAML values) that points the plugin at `fake` with `keys`
// (the session token, if any, is left to the caller).
std::map<std::string, std::string> sns_section(const FakeSns& fake, const FakeSnsKeys& keys);

class FakeSns {
public:
    explicit FakeSns(FakeSnsKeys keys);
    ~FakeSns();
    FakeSns(const FakeSns&) = delete;
    FakeSns& operator=(const FakeSns&) = delete;

    int port() const;
    std::string endpoint() const;  // "http://127.0.0.1:<port>"

    // Replies for the next requests that pass the checks, in order.
    void script(std::vector<FakeReply> replies);
    std::vector<ReceivedPublish> requests() const;
    std::size_t request_count() const;
    int connection_count() const;  // TCP connections accepted so far

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace testino::plugins::sns::test
