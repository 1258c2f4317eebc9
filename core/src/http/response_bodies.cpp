#include "http/response_bodies.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "testino/version.hpp"

namespace testino {

std::string success_send_body(const SendAccepted& sent) {
    const std::string& verification_id = sent.verification_id;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(true);
    w.Key("message");
    w.String("OTP sent successfully");
    w.Key("expires_in");
    w.Int64(sent.expires_in.count());
    w.Key("verification_id");
    w.String(verification_id.c_str(), static_cast<rapidjson::SizeType>(verification_id.size()));
    w.Key("channel");
    w.String(sdk::to_string(sent.channel));
    if (sent.next_channel) {
        w.Key("next_channel");
        w.String(sdk::to_string(*sent.next_channel));
        w.Key("next_channel_in");
        w.Int64(sent.next_channel_in.count());
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

namespace {

std::string success_tokens_body(const char* message, const TokenPair& tokens) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(true);
    w.Key("message");
    w.String(message);
    w.Key("access_token");
    w.String(tokens.access.jwt.c_str(), static_cast<rapidjson::SizeType>(tokens.access.jwt.size()));
    w.Key("token_type");
    w.String("bearer");
    w.Key("expires_in");
    w.Int64(tokens.access.expires_in.count());
    if (!tokens.refresh_token.empty()) {
        w.Key("refresh_token");
        w.String(tokens.refresh_token.c_str(), static_cast<rapidjson::SizeType>(tokens.refresh_token.size()));
        w.Key("refresh_expires_in");
        w.Int64(tokens.refresh_expires_in.count());
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

std::string success_verify_body(const TokenPair& tokens) {
    return success_tokens_body("OTP verified successfully", tokens);
}

std::string success_refresh_body(const TokenPair& tokens) {
    return success_tokens_body("Tokens refreshed", tokens);
}

std::string success_logout_body() { return R"({"success":true,"message":"Signed out"})"; }

std::string health_status_body(const HealthSummary& summary) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("status");
    w.String(to_string(summary.status));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string health_body(const HealthSummary& summary, const std::vector<PluginHealthSource>& plugins,
                        std::chrono::seconds uptime) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("status");
    w.String(to_string(summary.status));
    w.Key("version");
    w.String(kVersion);
    w.Key("uptime_seconds");
    w.Int64(uptime.count());
    w.Key("plugins");
    w.StartArray();
    for (std::size_t i = 0; i < summary.reports.size() && i < plugins.size(); ++i) {
        const sdk::HealthReport& report = summary.reports[i];
        w.StartObject();
        w.Key("kind");
        w.String(sdk::to_string(plugins[i].kind));
        w.Key("name");
        w.String(plugins[i].name.c_str());
        w.Key("version");
        w.String(plugins[i].version.c_str());
        w.Key("state");
        w.String(report.healthy ? "up" : "down");
        w.Key("detail");
        w.String(report.detail.c_str(), static_cast<rapidjson::SizeType>(report.detail.size()));
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace testino
