#include "domain/errors.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>

namespace testino {
namespace {

TEST(Errors, TableIsInEnumOrderSoLookupIsDirect) {
    const auto& table = all_errors();
    for (std::size_t i = 0; i < table.size(); ++i) {
        EXPECT_EQ(static_cast<std::size_t>(table[i].code), i) << table[i].machine_code;
    }
    EXPECT_EQ(error_info(ErrorCode::internal_error).status, 500);
}

TEST(Errors, StatusCodesAreTheDocumentedOnes) {
    EXPECT_EQ(error_info(ErrorCode::validation_error).status, 422);
    EXPECT_EQ(error_info(ErrorCode::invalid_otp).status, 400);
    EXPECT_EQ(error_info(ErrorCode::too_many_attempts).status, 429);
    EXPECT_EQ(error_info(ErrorCode::payload_too_large).status, 413);
    EXPECT_EQ(error_info(ErrorCode::unsupported_media_type).status, 415);
    EXPECT_EQ(error_info(ErrorCode::not_found).status, 404);
    EXPECT_EQ(error_info(ErrorCode::method_not_allowed).status, 405);
    EXPECT_EQ(error_info(ErrorCode::sms_provider_unavailable).status, 502);
    EXPECT_EQ(error_info(ErrorCode::sms_provider_error).status, 502);
    EXPECT_EQ(error_info(ErrorCode::sms_delivery_uncertain).status, 502);
    EXPECT_STREQ(error_info(ErrorCode::sms_delivery_uncertain).machine_code, "SMS_DELIVERY_UNCERTAIN");
    EXPECT_EQ(error_info(ErrorCode::store_unavailable).status, 503);
    EXPECT_EQ(error_info(ErrorCode::service_busy).status, 503);
    EXPECT_EQ(error_info(ErrorCode::unauthorized).status, 401);
    EXPECT_STREQ(error_info(ErrorCode::unauthorized).machine_code, "UNAUTHORIZED");
}

TEST(Errors, MachineCodesAreUnique) {
    std::set<std::string> seen;
    for (const auto& e : all_errors()) EXPECT_TRUE(seen.insert(e.machine_code).second) << e.machine_code;
}

TEST(Errors, BodyHasTheOneShape) {
    ApiError e = validation_error("mobile_number", "bad \"number\"");
    rapidjson::Document doc;
    doc.Parse(error_body(e).c_str());
    ASSERT_TRUE(doc.IsObject());
    EXPECT_FALSE(doc["success"].GetBool());
    EXPECT_STREQ(doc["error"].GetString(), "VALIDATION_ERROR");
    EXPECT_STREQ(doc["message"].GetString(), "bad \"number\"");
    EXPECT_STREQ(doc["field"].GetString(), "mobile_number");
    EXPECT_EQ(doc.MemberCount(), 4u);

    doc.Parse(error_body(make_error(ErrorCode::invalid_otp, "Invalid or expired OTP")).c_str());
    EXPECT_EQ(doc.MemberCount(), 3u) << "no field outside validation errors";
}

}  // namespace
}  // namespace testino
