// The SigV4 signer against AWS's own test suite (aws-c-auth's v4 vectors): for every case,
// the canonical request, string to sign, signature and signed request must match byte for
// byte. The older 2015 suite is not used: two of its form-POST cases are known to be wrong
// (see tests/data/SOURCE.md), and aws-c-auth-v4 covers the same ground.
//
// Every one of the 38 cases runs; none is skipped. What some need from the harness:
//  - `normalize: false` (the *-unnormalized cases): Options::normalize_path = false.
//  - `sign_body: true` (post-x-www-form-urlencoded*): Options::sign_body_hash = true.
//  - `omit_session_token: true` (post-sts-header-after): the token is added after signing,
//    unsigned (Options::sign_session_token = false).
//  - get-header-value-multiline: request.txt folds a header over three lines; the harness
//    unfolds it (joined with spaces) and the signer collapses the whitespace.
// Only the header-signing files are checked; the query-* (presigned URL) twins are not,
// because the plugin never presigns.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "sigv4.hpp"
#include "test_files.hpp"

namespace testino::plugins::sigv4 {
namespace {

using sns::test::percent_decode;
using sns::test::read_required_file;
using sns::test::required_subdirectories;

const std::string kVectorsDir = SIGV4_VECTORS_DIR;
constexpr std::size_t kExpectedCases = 38;

// request.txt: a request line (the target may contain spaces), header lines (a line starting
// with whitespace continues the previous header), a blank line, the body.
struct ParsedCase {
    Request request;
    std::string request_line;
    std::string raw_header_lines;  // as written, for rebuilding the signed request
};

ParsedCase parse_request_file(const std::string& text) {
    ParsedCase parsed;
    std::size_t line_end = text.find('\n');
    parsed.request_line = text.substr(0, line_end);
    const std::size_t first_space = parsed.request_line.find(' ');
    const std::size_t last_space = parsed.request_line.rfind(' ');
    parsed.request.method = parsed.request_line.substr(0, first_space);
    const std::string target = parsed.request_line.substr(first_space + 1, last_space - first_space - 1);
    const std::size_t question = target.find('?');
    parsed.request.path = percent_decode(target.substr(0, question));
    if (question != std::string::npos) {
        std::istringstream pairs(target.substr(question + 1));
        std::string pair;
        while (std::getline(pairs, pair, '&')) {
            const std::size_t equals = pair.find('=');
            parsed.request.query.emplace_back(
                percent_decode(pair.substr(0, equals)),
                equals == std::string::npos ? "" : percent_decode(pair.substr(equals + 1)));
        }
    }
    while (line_end != std::string::npos) {
        const std::size_t start = line_end + 1;
        line_end = text.find('\n', start);
        const std::string line =
            text.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
        if (line.empty()) {
            if (line_end != std::string::npos) parsed.request.body = text.substr(line_end + 1);
            break;
        }
        parsed.raw_header_lines += line + "\n";
        if ((line[0] == ' ' || line[0] == '\t') && !parsed.request.headers.empty()) {
            parsed.request.headers.back().value += " " + line;
            continue;
        }
        const std::size_t colon = line.find(':');
        parsed.request.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
    }
    return parsed;
}

std::chrono::system_clock::time_point parse_timestamp(const std::string& text) {
    std::tm utc{};
    std::istringstream in(text);
    in >> std::get_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
    EXPECT_FALSE(in.fail()) << "bad timestamp " << text;
    return std::chrono::system_clock::from_time_t(timegm(&utc));
}

std::string trim_newline(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

bool json_bool(const rapidjson::Document& doc, const char* name, bool fallback) {
    return doc.HasMember(name) && doc[name].IsBool() ? doc[name].GetBool() : fallback;
}

// Case names from the directory at discovery time; a sentinel when it is missing, so the
// run fails with a clear message instead of running nothing.
std::vector<std::string> case_names() {
    std::vector<std::string> names;
    std::error_code error;
    if (std::filesystem::is_directory(kVectorsDir, error)) {
        for (const auto& entry : std::filesystem::directory_iterator(kVectorsDir)) {
            if (entry.is_directory()) names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    if (names.empty()) names.push_back("missing_vectors");
    return names;
}

class SigV4VectorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4VectorTest, MatchesEveryStepOfTheVector) {
    const std::string dir = kVectorsDir + "/" + GetParam();
    ASSERT_TRUE(std::filesystem::is_directory(dir))
        << "SigV4 test vectors missing: " << dir
        << " (the vectors are in plugins/sms_sns/tests/data, see SOURCE.md there)";

    rapidjson::Document context;
    context.Parse(read_required_file(dir + "/context.json").c_str());
    ASSERT_FALSE(context.HasParseError()) << dir << "/context.json";
    const auto& keys = context["credentials"];
    Credentials credentials{keys["access_key_id"].GetString(), keys["secret_access_key"].GetString(),
                            keys.HasMember("token") ? keys["token"].GetString() : ""};
    Options options;
    options.region = context["region"].GetString();
    options.service = context["service"].GetString();
    options.normalize_path = json_bool(context, "normalize", true);
    options.sign_body_hash = json_bool(context, "sign_body", false);
    options.sign_session_token = !json_bool(context, "omit_session_token", false);

    ParsedCase parsed = parse_request_file(read_required_file(dir + "/request.txt"));
    const Signature result =
        sign(parsed.request, credentials, options, parse_timestamp(context["timestamp"].GetString()));

    EXPECT_EQ(result.canonical_request, read_required_file(dir + "/header-canonical-request.txt"));
    EXPECT_EQ(result.string_to_sign, read_required_file(dir + "/header-string-to-sign.txt"));
    EXPECT_EQ(result.signature, trim_newline(read_required_file(dir + "/header-signature.txt")));

    std::string signed_request = parsed.request_line + "\n" + parsed.raw_header_lines;
    for (const auto& header : result.added_headers) {
        signed_request += header.name + ":" + header.value + "\n";
    }
    signed_request += "\n" + parsed.request.body;
    EXPECT_EQ(signed_request, read_required_file(dir + "/header-signed-request.txt"));
}

INSTANTIATE_TEST_SUITE_P(AwsCAuthV4, SigV4VectorTest, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             }
                             return name;
                         });

TEST(SigV4VectorSuiteTest, HasEveryCase) {
    EXPECT_EQ(required_subdirectories(kVectorsDir).size(), kExpectedCases) << kVectorsDir;
}

TEST(SigV4Test, SigningAppendsTheHeadersItReports) {
    Request request{"POST", "/", {}, {{"Host", "example.amazonaws.com"}}, "a=b"};
    const Signature result = sign(request, {"AKID", "secret", "token"}, {"us-east-1", "sns"},
                                  std::chrono::system_clock::from_time_t(0));
    ASSERT_EQ(result.added_headers.size(), 3u);
    EXPECT_EQ(result.added_headers[0], (Header{"X-Amz-Security-Token", "token"}));
    EXPECT_EQ(result.added_headers[1], (Header{"X-Amz-Date", "19700101T000000Z"}));
    EXPECT_EQ(result.added_headers[2].name, "Authorization");
    EXPECT_EQ(request.headers.size(), 4u);
    EXPECT_NE(result.authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
              std::string::npos);
}

TEST(SigV4Test, AnyChangeToTheSignedPartsChangesTheSignature) {
    const auto now = std::chrono::system_clock::from_time_t(1440938160);
    const auto signature_of = [&](Request request, const Credentials& credentials,
                                  const std::string& region) {
        return sign(request, credentials, {region, "sns"}, now).signature;
    };
    const Request base{"POST", "/", {}, {{"Host", "h"}}, "body"};
    const Credentials keys{"AKID", "secret", ""};
    const std::string reference = signature_of(base, keys, "us-east-1");
    Request other_body = base;
    other_body.body = "bodY";
    EXPECT_NE(signature_of(other_body, keys, "us-east-1"), reference);
    EXPECT_NE(signature_of(base, {"AKID", "secreT", ""}, "us-east-1"), reference);
    EXPECT_NE(signature_of(base, keys, "eu-west-1"), reference);
    EXPECT_EQ(signature_of(base, keys, "us-east-1"), reference) << "deterministic";
}

TEST(SigV4Test, NormalizesPaths) {
    EXPECT_EQ(normalize_path(""), "/");
    EXPECT_EQ(normalize_path("/a/b/../c/./d"), "/a/c/d");
    EXPECT_EQ(normalize_path("//a//"), "/a/");
    EXPECT_EQ(normalize_path("/../.."), "/");
}

}  // namespace
}  // namespace testino::plugins::sigv4
