// The served OpenAPI document must describe what the server does: every route, and every
// error code with the status it is sent with.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string_view>

#include "errors.hpp"

namespace testino {
std::string_view openapi_document();
namespace {

class OpenApi : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string_view text = openapi_document();
        doc.Parse(text.data(), text.size());
        ASSERT_FALSE(doc.HasParseError());
    }
    rapidjson::Document doc;
};

TEST_F(OpenApi, DescribesEveryRoute) {
    const auto& paths = doc["paths"];
    EXPECT_TRUE(paths.HasMember("/api/v1/health") && paths["/api/v1/health"].HasMember("get"));
    EXPECT_TRUE(paths.HasMember("/api/v1/auth/send-otp") && paths["/api/v1/auth/send-otp"].HasMember("post"));
    EXPECT_TRUE(paths.HasMember("/api/v1/auth/verify-otp") && paths["/api/v1/auth/verify-otp"].HasMember("post"));
    EXPECT_TRUE(paths.HasMember("/openapi.json"));
    EXPECT_TRUE(paths.HasMember("/metrics") && paths["/metrics"].HasMember("get"));
    EXPECT_EQ(paths.MemberCount(), 5u);
}

TEST_F(OpenApi, ListsEveryErrorCodeUnderItsStatus) {
    const auto& codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"];
    ASSERT_EQ(codes.Size(), all_errors().size());
    for (const ErrorInfo& info : all_errors()) {
        bool listed = false;
        for (const auto& c : codes.GetArray()) listed = listed || std::string(c.GetString()) == info.machine_code;
        EXPECT_TRUE(listed) << info.machine_code << " missing from the Error enum";
        // Some operation documents this code under its status.
        bool documented = false;
        for (const auto& path : doc["paths"].GetObject()) {
            for (const auto& op : path.value.GetObject()) {
                const auto& responses = op.value["responses"];
                const std::string status = std::to_string(info.status);
                if (!responses.HasMember(status.c_str())) continue;
                const std::string description = responses[status.c_str()]["description"].GetString();
                documented = documented || description.find(std::string("`") + info.machine_code + "`") != std::string::npos;
            }
        }
        EXPECT_TRUE(documented) << info.machine_code << " is not documented under " << info.status;
    }
}

TEST_F(OpenApi, RequestSchemasRejectExtraFields) {
    const auto& schemas = doc["components"]["schemas"];
    EXPECT_FALSE(schemas["SendOtpRequest"]["additionalProperties"].GetBool());
    EXPECT_FALSE(schemas["VerifyOtpRequest"]["additionalProperties"].GetBool());
}

}  // namespace
}  // namespace testino
