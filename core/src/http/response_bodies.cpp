#include "http/response_bodies.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "testino/version.hpp"

namespace testino {

std::string success_send_body(std::chrono::seconds expires_in, const std::string& verification_id) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(true);
    w.Key("message");
    w.String("OTP sent successfully");
    w.Key("expires_in");
    w.Int64(expires_in.count());
    w.Key("verification_id");
    w.String(verification_id.c_str(), static_cast<rapidjson::SizeType>(verification_id.size()));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string success_verify_body(const IssuedToken& token) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(true);
    w.Key("message");
    w.String("OTP verified successfully");
    w.Key("access_token");
    w.String(token.jwt.c_str(), static_cast<rapidjson::SizeType>(token.jwt.size()));
    w.Key("token_type");
    w.String("bearer");
    w.Key("expires_in");
    w.Int64(token.expires_in.count());
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

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
