// The hand-written XML extractor on every SNS fixture and on the variations a real reply
// may show (declaration, namespace prefixes, attributes, whitespace, entities, CDATA).
#include "sns_xml.hpp"

#include <gtest/gtest.h>

#include "test_files.hpp"

namespace testino::plugins::sns {
namespace {

using test::read_required_file;
using test::sns_fixture;

TEST(SnsXmlTest, ReadsTheMessageIdOfThePublishFixture) {
    const std::string xml = read_required_file(sns_fixture("publish-response.xml"));
    EXPECT_EQ(publish_message_id(xml), "567910cd-659e-55d4-8ccb-5aaf14679dc0");
    EXPECT_EQ(parse_error(xml), std::nullopt) << "a success is not an error";
}

struct ErrorFixture {
    const char* file;
    const char* code;
    const char* type;
    const char* request_id;
    const char* message_start;
};

class SnsErrorFixtureTest : public ::testing::TestWithParam<ErrorFixture> {};

TEST_P(SnsErrorFixtureTest, ReadsCodeTypeMessageAndRequestId) {
    const auto& expected = GetParam();
    const std::string xml = read_required_file(sns_fixture(expected.file));
    ASSERT_FALSE(xml.empty());
    const auto error = parse_error(xml);
    ASSERT_TRUE(error.has_value()) << expected.file;
    EXPECT_EQ(error->code, expected.code);
    EXPECT_EQ(error->type, expected.type);
    EXPECT_EQ(error->request_id, expected.request_id);
    EXPECT_EQ(error->message.rfind(expected.message_start, 0), 0u) << error->message;
    EXPECT_EQ(publish_message_id(xml), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SnsErrorFixtureTest,
    ::testing::Values(ErrorFixture{"error-InvalidParameter.xml", "InvalidParameter", "Sender",
                                   "00000000-0000-0000-0000-000000000001", "Invalid parameter: PhoneNumber"},
                      ErrorFixture{"error-AuthorizationError.xml", "AuthorizationError", "Sender",
                                   "00000000-0000-0000-0000-000000000002", "User: arn:aws:iam::"},
                      ErrorFixture{"error-InvalidClientTokenId.xml", "InvalidClientTokenId", "Sender",
                                   "00000000-0000-0000-0000-000000000003", "The security token included"},
                      ErrorFixture{"error-SignatureDoesNotMatch.xml", "SignatureDoesNotMatch", "Sender",
                                   "00000000-0000-0000-0000-000000000004",
                                   "The request signature we calculated"},
                      ErrorFixture{"error-Throttling.xml", "Throttling", "Sender",
                                   "00000000-0000-0000-0000-000000000005", "Rate exceeded"},
                      ErrorFixture{"error-InternalError.xml", "InternalError", "Receiver",
                                   "00000000-0000-0000-0000-000000000006", "Internal Error"}),
    [](const ::testing::TestParamInfo<ErrorFixture>& info) { return std::string(info.param.code); });

TEST(SnsXmlTest, ToleratesDeclarationPrefixesAttributesWhitespaceAndComments) {
    const std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
        "<!-- a comment with <MessageId>wrong</MessageId> inside -->\n"
        "<sns:PublishResponse xmlns:sns='http://sns.amazonaws.com/doc/2010-03-31/'>"
        "<sns:PublishResult a=\"1>2\" >\n\t<sns:MessageId  >\n  id-1\n</sns:MessageId >"
        "</sns:PublishResult></sns:PublishResponse>";
    EXPECT_EQ(publish_message_id(xml), "id-1");
}

TEST(SnsXmlTest, DecodesEntitiesAndCdata) {
    EXPECT_EQ(xml_text("<E><Message>a &amp; b &lt;c&gt; &#65;&#x42; &quot;&apos; &bogus;</Message></E>",
                       {"Message"}),
              "a & b <c> AB \"' &bogus;");
    EXPECT_EQ(xml_text("<E><Message><![CDATA[<raw> & text]]></Message></E>", {"Message"}), "<raw> & text");
    EXPECT_EQ(xml_text("<E><Message>caf&#xE9;</Message></E>", {"Message"}), "caf\xC3\xA9");
}

TEST(SnsXmlTest, MatchesTheInnermostAncestorsOnly) {
    const std::string xml =
        "<Response><Code>outer</Code><Errors><Error><Code>Inner</Code></Error></Errors></Response>";
    EXPECT_EQ(xml_text(xml, {"Error", "Code"}), "Inner");
    EXPECT_EQ(xml_text(xml, {"Code"}), "outer");
    EXPECT_EQ(xml_text(xml, {"Missing"}), std::nullopt);
    EXPECT_EQ(xml_text("<A><B/></A>", {"A", "B"}), "");
}

TEST(SnsXmlTest, RejectsWhatIsNotXmlOrHasNoId) {
    EXPECT_EQ(publish_message_id(""), std::nullopt);
    EXPECT_EQ(publish_message_id("<html><body>502 Bad Gateway</body></html>"), std::nullopt);
    EXPECT_EQ(publish_message_id("<PublishResult><MessageId>  </MessageId></PublishResult>"), std::nullopt);
    EXPECT_EQ(publish_message_id("<PublishResult><MessageId>cut off"), std::nullopt);
    EXPECT_EQ(publish_message_id("<PublishResult><MessageId>x</Other></PublishResult>"), std::nullopt);
    EXPECT_EQ(parse_error("<ErrorResponse><Error><Code></Code></Error></ErrorResponse>"), std::nullopt);
    EXPECT_EQ(parse_error("<ErrorResponse><Error><Code"), std::nullopt);
    EXPECT_EQ(parse_error("< >"), std::nullopt);
}

}  // namespace
}  // namespace testino::plugins::sns
