// The Publish request builder: the signed request in tests/data/sns
// (made by botocore with a frozen clock) reproduced byte for byte, and endpoint parsing.
#include "sns_publish.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "test_files.hpp"

namespace testino::plugins::sns {
namespace {

using test::read_required_file;
using test::sns_fixture;

// The fixture's inputs: the SigV4 suite's example keys and time, us-east-1.
const sigv4::Credentials kExampleKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const auto kFixtureTime = std::chrono::system_clock::from_time_t(1440938160);  // 20150830T123600Z

PublishParams fixture_params() {
    return {"+15005550006", "Your code is 123456", "Transactional", "MyOTP", ""};
}

SignedRequest fixture_request() {
    return sign_publish(parse_endpoint("https://sns.{region}.amazonaws.com", "us-east-1"), "us-east-1",
                        kExampleKeys, fixture_params(), kFixtureTime);
}

TEST(SnsPublishTest, BodyMatchesTheFixture) {
    EXPECT_EQ(publish_body(fixture_params()), read_required_file(sns_fixture("publish-sms.body.txt")));
}

TEST(SnsPublishTest, CanonicalRequestAndStringToSignMatchTheFixture) {
    const SignedRequest request = fixture_request();
    EXPECT_EQ(request.signature.canonical_request,
              read_required_file(sns_fixture("publish-sms.canonical-request.txt")));
    EXPECT_EQ(request.signature.string_to_sign,
              read_required_file(sns_fixture("publish-sms.string-to-sign.txt")));
    EXPECT_EQ(request.signature.signature,
              "b55e5d71476d25d30ea3bda5d8b955bd121ace0f6217e997d6340ea06fcb5bcc");
}

TEST(SnsPublishTest, SignedRequestMatchesTheFixtureByteForByte) {
    EXPECT_EQ(render_http(fixture_request()),
              read_required_file(sns_fixture("publish-sms.signed-request.http")));
}

TEST(SnsPublishTest, AttributesAreNumberedInOrderOfThoseSet) {
    PublishParams params{"+12025550123", "a b+c&d=e/é", "", "", "0.50"};
    EXPECT_EQ(publish_body(params),
              "Action=Publish&Version=2010-03-31&PhoneNumber=%2B12025550123"
              "&Message=a+b%2Bc%26d%3De%2F%C3%A9"
              "&MessageAttributes.entry.1.Name=AWS.SNS.SMS.MaxPrice"
              "&MessageAttributes.entry.1.Value.DataType=Number"
              "&MessageAttributes.entry.1.Value.StringValue=0.50");
    params.sms_type = "Promotional";
    EXPECT_NE(publish_body(params).find("entry.1.Value.StringValue=Promotional&"
                                        "MessageAttributes.entry.2.Name=AWS.SNS.SMS.MaxPrice"),
              std::string::npos);
}

TEST(SnsPublishTest, SessionTokenIsSentAndSigned) {
    sigv4::Credentials keys = kExampleKeys;
    keys.session_token = "session/token+value=";
    const SignedRequest request =
        sign_publish(parse_endpoint("https://sns.eu-west-1.amazonaws.com/", "eu-west-1"), "eu-west-1", keys,
                     fixture_params(), kFixtureTime);
    EXPECT_NE(request.signature.canonical_request.find("x-amz-security-token:session/token+value=\n"),
              std::string::npos);
    EXPECT_NE(request.signature.authorization.find(
                  "/20150830/eu-west-1/sns/aws4_request, "
                  "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "),
              std::string::npos);
    EXPECT_NE(request.signature.signature,
              "b55e5d71476d25d30ea3bda5d8b955bd121ace0f6217e997d6340ea06fcb5bcc");
}

TEST(SnsEndpointTest, DefaultAndLoopbackForms) {
    const Endpoint aws = parse_endpoint("https://sns.{region}.amazonaws.com", "ap-south-1");
    EXPECT_EQ(aws.url, "https://sns.ap-south-1.amazonaws.com/");
    EXPECT_EQ(aws.host, "sns.ap-south-1.amazonaws.com");
    EXPECT_FALSE(aws.loopback);

    const Endpoint fake = parse_endpoint("http://127.0.0.1:4567/", "us-east-1");
    EXPECT_EQ(fake.url, "http://127.0.0.1:4567/");
    EXPECT_EQ(fake.host, "127.0.0.1:4567");
    EXPECT_TRUE(fake.loopback);
    EXPECT_TRUE(parse_endpoint("http://localhost:1", "r").loopback);
    EXPECT_TRUE(parse_endpoint("http://[::1]:8080", "r").loopback);
    EXPECT_EQ(parse_endpoint("HTTPS://SNS.Example.COM", "r").host, "sns.example.com");
}

TEST(SnsEndpointTest, RejectsWhatCannotBeAnSnsEndpoint) {
    for (const char* bad : {"sns.us-east-1.amazonaws.com", "ftp://host", "http://sns.example.com",
                            "https://host/path", "https://user@host", "https://", "https://h?x=1"}) {
        EXPECT_THROW(parse_endpoint(bad, "us-east-1"), std::invalid_argument) << bad;
    }
}

}  // namespace
}  // namespace testino::plugins::sns
