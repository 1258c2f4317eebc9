#include "http/request_parsing.hpp"

#include <gtest/gtest.h>

namespace testino {
namespace {

// "CODE field" of a failed parse, or "ok".
std::string outcome_send(std::string_view body) {
    const auto r = parse_send_otp(body);
    if (r) return "ok";
    return std::string(error_info(r.error().code).machine_code) + " " + r.error().field;
}

std::string outcome_verify(std::string_view body) {
    const auto r = parse_verify_otp(body, 6);
    if (r) return "ok";
    return std::string(error_info(r.error().code).machine_code) + " " + r.error().field;
}

TEST(ParseSendOtp, AcceptsTheDocumentedBody) {
    const auto r = parse_send_otp(R"({"country_code":"+1","mobile_number":"2025550123"})");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->country_code, "+1");
    EXPECT_EQ(r->mobile_number, "2025550123");
}

TEST(ParseSendOtp, EveryMalformedBodyGetsItsOwnError) {
    EXPECT_EQ(outcome_send(""), "INVALID_JSON ");
    EXPECT_EQ(outcome_send("   \n"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send("{"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1",})"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"1"} trailing)"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send("{\"country_code\":\"\xff\xfe\",\"mobile_number\":\"1\"}"), "INVALID_JSON ")
        << "invalid UTF-8";
    EXPECT_EQ(outcome_send(R"({"country_code":1e999,"mobile_number":"1"})"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send("[]"), "VALIDATION_ERROR body");
    EXPECT_EQ(outcome_send("\"text\""), "VALIDATION_ERROR body");
    EXPECT_EQ(outcome_send("null"), "VALIDATION_ERROR body");
    EXPECT_EQ(outcome_send(R"({"mobile_number":"2025550123"})"), "VALIDATION_ERROR country_code");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1"})"), "VALIDATION_ERROR mobile_number");
    EXPECT_EQ(outcome_send(R"({"country_code":1,"mobile_number":"2025550123"})"),
              "VALIDATION_ERROR country_code");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":2025550123})"),
              "VALIDATION_ERROR mobile_number");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":null})"),
              "VALIDATION_ERROR mobile_number");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":["2"]})"),
              "VALIDATION_ERROR mobile_number");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"2025550123","admin":true})"),
              "VALIDATION_ERROR admin");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","country_code":"+44","mobile_number":"2025550123"})"),
              "VALIDATION_ERROR country_code");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":")" + std::string(65, '1') + "\"}"),
              "VALIDATION_ERROR mobile_number");
}

TEST(ParseSendOtp, TakesAnOptionalLocale) {
    const auto r = parse_send_otp(R"({"country_code":"+91","mobile_number":"9876543210","locale":"pt-BR"})");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->locale, "pt-BR");
    EXPECT_EQ(r->accept_language, "") << "the header is the HTTP layer's to add";
    EXPECT_EQ(parse_send_otp(R"({"country_code":"+1","mobile_number":"2025550123"})")->locale, "");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"2025550123","locale":"xx-unknown"})"),
              "ok")
        << "well-formed without a template: falls through later";
    for (const char* bad : {"pt_BR", "english language", "e", "en-", "\u00e9"}) {
        EXPECT_EQ(
            outcome_send(std::string(R"({"country_code":"+1","mobile_number":"2025550123","locale":")") +
                         bad + "\"}"),
            "VALIDATION_ERROR locale")
            << bad;
    }
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"2025550123","locale":7})"),
              "VALIDATION_ERROR locale");
}

TEST(ParseSendOtp, TakesAnOptionalChannel) {
    EXPECT_EQ(parse_send_otp(R"({"country_code":"+1","mobile_number":"2025550123"})")->channel, std::nullopt)
        << "no channel: the workflow's step";
    for (const sdk::Channel c : sdk::kAllChannels) {
        const auto r =
            parse_send_otp(std::string(R"({"country_code":"+1","mobile_number":"2025550123","channel":")") +
                           sdk::to_string(c) + "\"}");
        ASSERT_TRUE(r.ok()) << sdk::to_string(c);
        EXPECT_EQ(r->channel, c);
    }
    for (const char* bad : {"", "SMS", "email", "whatsapp ", "telegram"}) {
        EXPECT_EQ(
            outcome_send(std::string(R"({"country_code":"+1","mobile_number":"2025550123","channel":")") +
                         bad + "\"}"),
            "VALIDATION_ERROR channel")
            << '"' << bad << '"';
    }
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"2025550123","channel":null})"),
              "VALIDATION_ERROR channel");
    EXPECT_EQ(outcome_send(
                  R"({"country_code":"+1","mobile_number":"2025550123","channel":"sms","channel":"voice"})"),
              "VALIDATION_ERROR channel");
}

TEST(ParseSendOtp, UnknownFieldsThatCannotBeEchoedStillNameAField) {
    // Found by fuzz/request_body_fuzzer: an empty name, and a lone surrogate escape that
    // decodes to bytes that are not UTF-8.
    EXPECT_EQ(outcome_send(R"({"":""})"), "VALIDATION_ERROR body");
    EXPECT_EQ(outcome_send(R"({"\udc00":""})"), "INVALID_JSON ");
}

TEST(ParseSendOtp, LoneSurrogateEscapesAreInvalidJsonButPairsAreFine) {
    // Found by fuzz/request_body_fuzzer: "\ude00" alone decodes to bytes that are not UTF-8.
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"20\ude0025550123"})"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"20\ud83d25550123"})"), "INVALID_JSON ");
    EXPECT_EQ(outcome_send(R"({"country_code":"+1","mobile_number":"\ud83d\ude00"})"), "ok")
        << "a valid pair is an emoji; the phone check refuses it later";
}

TEST(ParseSendOtp, DeepNestingIsAnErrorNotACrash) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_EQ(outcome_send(deep), "VALIDATION_ERROR body");
}

TEST(ParseVerifyOtp, OtpMustBeExactlyTheConfiguredDigits) {
    const std::string prefix = R"({"country_code":"+1","mobile_number":"2025550123","otp":)";
    EXPECT_EQ(outcome_verify(prefix + "\"012345\"}"), "ok");
    EXPECT_EQ(outcome_verify(prefix + "\"12345\"}"), "VALIDATION_ERROR otp");
    EXPECT_EQ(outcome_verify(prefix + "\"1234567\"}"), "VALIDATION_ERROR otp");
    EXPECT_EQ(outcome_verify(prefix + "\"12345a\"}"), "VALIDATION_ERROR otp");
    EXPECT_EQ(outcome_verify(prefix + "\" 12345\"}"), "VALIDATION_ERROR otp");
    EXPECT_EQ(outcome_verify(prefix + "\"١٢٣٤٥٦\"}"), "VALIDATION_ERROR otp") << "Arabic-Indic digits";
    EXPECT_EQ(outcome_verify(prefix + "123456}"), "VALIDATION_ERROR otp") << "a number, not a string";
    EXPECT_EQ(outcome_verify(R"({"country_code":"+1","mobile_number":"2025550123"})"),
              "VALIDATION_ERROR otp");
}

}  // namespace
}  // namespace testino
