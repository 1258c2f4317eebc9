// The served OpenAPI document must describe what the server does: every route and no
// other, and every error code with the status it is sent with.
#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include "http/request_parsing.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "domain/errors.hpp"
#include "http/http_server.hpp"

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

// The rule: the document's paths and operations (OPTIONS aside) are exactly the server's
// routes (http_routes()). The files the docs pages load (/docs/assets/<file>, /redoc/assets/<file>)
// are static files, not API, and stay out of the document.
TEST_F(OpenApi, DescribesEveryRouteAndNothingElse) {
    const auto& paths = doc["paths"];
    std::set<std::pair<std::string, std::string>> routes;
    for (auto [method, path] : http_routes()) {
        std::transform(method.begin(), method.end(), method.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        routes.emplace(method, path);
    }
    std::set<std::pair<std::string, std::string>> documented;
    for (const auto& path : paths.GetObject()) {
        for (const auto& op : path.value.GetObject()) {
            // The server answers OPTIONS (CORS preflight) on every route; the document
            // shows it where browsers from other origins need it, on the API routes.
            if (op.name.GetString() == std::string("options")) continue;
            documented.emplace(op.name.GetString(), path.name.GetString());
        }
    }
    EXPECT_EQ(documented, routes);
    // The known routes, so that an empty route table cannot pass.
    EXPECT_TRUE(routes.count({"get", "/api/v1/health"}));
    EXPECT_TRUE(routes.count({"post", "/api/v1/auth/send-otp"}));
    EXPECT_TRUE(routes.count({"post", "/api/v1/auth/verify-otp"}));
    EXPECT_TRUE(routes.count({"post", "/api/v1/auth/refresh"}));
    EXPECT_TRUE(routes.count({"post", "/api/v1/auth/logout"}));
    EXPECT_TRUE(routes.count({"get", "/.well-known/jwks.json"}));
    EXPECT_TRUE(routes.count({"get", "/openapi.json"}));
    EXPECT_TRUE(routes.count({"get", "/docs"}));
    EXPECT_TRUE(routes.count({"get", "/redoc"}));
    EXPECT_TRUE(routes.count({"post", "/api/v1/callbacks/{provider}"}));
    EXPECT_EQ(paths.MemberCount(), 10u);
    // The admin listener's routes are not the public API's.
    EXPECT_FALSE(paths.HasMember("/metrics"));
    EXPECT_FALSE(paths.HasMember("/health"));
}

// The public health check says whether the server serves, and nothing about what runs it.
TEST_F(OpenApi, PublicHealthIsTheStatusAlone) {
    const auto& health = doc["components"]["schemas"]["Health"];
    ASSERT_TRUE(health.HasMember("properties"));
    EXPECT_EQ(health["properties"].MemberCount(), 1u);
    EXPECT_FALSE(health["additionalProperties"].GetBool());
    std::set<std::string> states;
    for (const auto& s : health["properties"]["status"]["enum"].GetArray()) states.insert(s.GetString());
    EXPECT_EQ(states, (std::set<std::string>{"up", "degraded", "down"}));
}

// Swagger UI's "Try it out" sends requests to the first server: the one serving the page.
TEST_F(OpenApi, ServerIsTheOneServingTheDocument) {
    ASSERT_TRUE(doc.HasMember("servers") && doc["servers"].IsArray() && doc["servers"].Size() == 1u);
    EXPECT_STREQ(doc["servers"][0]["url"].GetString(), "/");
}

// Codes only the admin listener sends (its routes are not in this document): the Error
// enum lists them and its description says where they come from.
const std::set<ErrorCode> kAdminOnlyCodes = {ErrorCode::unauthorized};

TEST_F(OpenApi, ListsEveryErrorCodeUnderItsStatus) {
    const auto& error = doc["components"]["schemas"]["Error"]["properties"]["error"];
    const auto& codes = error["enum"];
    ASSERT_EQ(codes.Size(), all_errors().size());
    for (const ErrorInfo& info : all_errors()) {
        bool listed = false;
        for (const auto& c : codes.GetArray())
            listed = listed || std::string(c.GetString()) == info.machine_code;
        EXPECT_TRUE(listed) << info.machine_code << " missing from the Error enum";
        if (kAdminOnlyCodes.count(info.code) != 0) {
            const std::string description = error["description"].GetString();
            EXPECT_NE(description.find(std::string(info.machine_code) + " (" + std::to_string(info.status)),
                      std::string::npos)
                << info.machine_code << " is not described with its status";
            EXPECT_NE(description.find("admin listener"), std::string::npos) << info.machine_code;
            continue;
        }
        // Some operation documents this code under its status.
        bool documented = false;
        for (const auto& path : doc["paths"].GetObject()) {
            for (const auto& op : path.value.GetObject()) {
                const auto& responses = op.value["responses"];
                const std::string status = std::to_string(info.status);
                if (!responses.HasMember(status.c_str())) continue;
                const std::string description = responses[status.c_str()]["description"].GetString();
                documented = documented || description.find(std::string("`") + info.machine_code + "`") !=
                                               std::string::npos;
            }
        }
        EXPECT_TRUE(documented) << info.machine_code << " is not documented under " << info.status;
    }
}

TEST_F(OpenApi, RequestSchemasRejectExtraFields) {
    const auto& schemas = doc["components"]["schemas"];
    EXPECT_FALSE(schemas["SendOtpRequest"]["additionalProperties"].GetBool());
    EXPECT_FALSE(schemas["VerifyOtpRequest"]["additionalProperties"].GetBool());
    EXPECT_FALSE(schemas["RefreshRequest"]["additionalProperties"].GetBool());
}

// Every property of the send-otp schema is a field parse_send_otp takes, and only the two
// required ones are required.
TEST_F(OpenApi, SendOtpSchemaMatchesTheParser) {
    const auto& schema = doc["components"]["schemas"]["SendOtpRequest"];
    std::string body = "{";
    for (const auto& property : schema["properties"].GetObject()) {
        const std::string name = property.name.GetString();
        const std::string value =
            property.value.HasMember("example") ? property.value["example"].GetString() : "x";
        body += (body.size() > 1 ? "," : "") + ("\"" + name + "\":\"" + value + "\"");
    }
    body += "}";
    EXPECT_TRUE(parse_send_otp(body).ok()) << body;
    EXPECT_TRUE(schema["properties"].HasMember("locale"));
    EXPECT_EQ(schema["required"].Size(), 2u);
    const auto& parameters = doc["paths"]["/api/v1/auth/send-otp"]["post"]["parameters"];
    ASSERT_TRUE(parameters.IsArray());
    EXPECT_STREQ(parameters[0]["name"].GetString(), "Accept-Language");
}

// W3C Trace Context: every operation takes a traceparent, and every response that names
// X-Request-Id names traceresponse too (the server sends both on every reply).
TEST_F(OpenApi, EveryOperationTakesATraceparentAndAnswersWithATraceresponse) {
    ASSERT_TRUE(doc["components"]["parameters"].HasMember("Traceparent"));
    EXPECT_STREQ(doc["components"]["parameters"]["Traceparent"]["name"].GetString(), "traceparent");
    ASSERT_TRUE(doc["components"]["headers"].HasMember("TraceResponse"));
    for (const auto& path : doc["paths"].GetObject()) {
        for (const auto& op : path.value.GetObject()) {
            const std::string where = std::string(op.name.GetString()) + " " + path.name.GetString();
            bool takes = false;
            for (const auto& p : op.value["parameters"].GetArray()) {
                takes = takes || (p.HasMember("$ref") && std::string(p["$ref"].GetString()) ==
                                                             "#/components/parameters/Traceparent");
            }
            EXPECT_TRUE(takes) << where;
            for (const auto& response : op.value["responses"].GetObject()) {
                if (!response.value.HasMember("headers")) continue;
                const auto& headers = response.value["headers"];
                EXPECT_EQ(headers.HasMember("X-Request-Id"), headers.HasMember("traceresponse"))
                    << where << " " << response.name.GetString();
            }
        }
    }
}

}  // namespace
}  // namespace testino
