// sms_test_sink.so: a scriptable SMS provider for integration tests (test-plugins dir only).
// Each send appends one JSON line {"to","text","code","request_id","channel","locale"} to the
// `outbox` file as soon as it arrives (so a test can see a send in flight), then waits
// `delay_ms` (never past the deadline) and answers as `fail_with` says, for the channels in
// `fail_channels` (all when empty); a delay the deadline cuts short answers `uncertain` (the
// message is in the outbox: as far as the test is concerned, "sent"). `channels` says which
// of sms, whatsapp and voice it offers. With `fail_while_exists`, `fail_with` applies only
// while that file exists, so a running server's provider can go down and come back
// (deploy/grafana/render.py's incident).
// Built twice, as test_sink and (TEST_SINK_NAME) test_sink_b, so failover tests have two
// providers to route between.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testino/plugin.hpp"

#ifndef TEST_SINK_NAME
#define TEST_SINK_NAME "test_sink"
#endif

namespace {

using testino::sdk::Channel;
using testino::sdk::ConfigKey;
using testino::sdk::SendResult;
using testino::sdk::SendStatus;
using testino::sdk::ValueType;

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

class TestSinkProvider final : public testino::sdk::SmsProvider {
public:
    struct Settings {
        std::string outbox;
        std::chrono::milliseconds delay{0};
        SendStatus answer = SendStatus::sent;
        std::vector<Channel> fail_channels;  // empty: `answer` for every channel
        std::vector<Channel> channels;
        bool healthy = true;
        std::string fail_while_exists;  // empty: fail_with always applies
    };

    explicit TestSinkProvider(Settings settings) : settings_(std::move(settings)) {}

    SendResult send(const testino::sdk::SmsMessage& message,
                    std::chrono::steady_clock::time_point deadline) override {
        if (!append(message)) {
            return {SendStatus::unavailable, "test_sink: cannot write outbox " + settings_.outbox, {}};
        }
        const auto wanted = std::chrono::steady_clock::now() + settings_.delay;
        if (settings_.delay.count() > 0) std::this_thread::sleep_until(std::min(wanted, deadline));
        if (wanted > deadline) return {SendStatus::uncertain, "test_sink: deadline passed", {}};

        const auto& failing = settings_.fail_channels;
        const bool on_channel =
            failing.empty() || std::find(failing.begin(), failing.end(), message.channel) != failing.end();
        const bool switched_on =
            settings_.fail_while_exists.empty() || std::ifstream(settings_.fail_while_exists).good();
        const bool fails = on_channel && switched_on;
        const SendStatus answer = fails ? settings_.answer : SendStatus::sent;
        switch (answer) {
            case SendStatus::sent: return {SendStatus::sent, {}, "sink-" + message.request_id};
            case SendStatus::invalid_recipient: return {answer, "test_sink: recipient rejected as told", {}};
            case SendStatus::misconfigured: return {answer, "test_sink: misconfigured as told", {}};
            case SendStatus::unavailable: return {answer, "test_sink: unavailable as told", {}};
            case SendStatus::uncertain: return {answer, "test_sink: uncertain as told", {}};
        }
        return {SendStatus::unavailable, "test_sink: unknown answer", {}};
    }

    testino::sdk::HealthReport health() override {
        return {settings_.healthy, settings_.healthy ? "" : "test_sink: unhealthy as told"};
    }

    std::vector<Channel> channels() const override { return settings_.channels; }

private:
    bool append(const testino::sdk::SmsMessage& message) {
        const std::string line =
            "{\"to\":" + json_string(message.to) + ",\"text\":" + json_string(message.text) +
            ",\"code\":" + json_string(message.code) + ",\"request_id\":" + json_string(message.request_id) +
            ",\"channel\":" + json_string(testino::sdk::to_string(message.channel)) +
            ",\"locale\":" + json_string(message.locale) + "}\n";
        std::lock_guard lock(mutex_);
        std::ofstream out(settings_.outbox, std::ios::app | std::ios::binary);
        out << line;
        out.flush();
        return static_cast<bool>(out);
    }

    const Settings settings_;
    std::mutex mutex_;
};

ConfigKey key(const char* name, ValueType type, const char* default_value, const char* description) {
    ConfigKey result;
    result.name = name;
    result.type = type;
    result.default_value = default_value;
    result.description = description;
    return result;
}

testino::sdk::PluginDescriptor test_sink_descriptor() {
    ConfigKey outbox = key("outbox", ValueType::string, "", "file each message is appended to");
    outbox.required = true;
    ConfigKey delay = key("delay_ms", ValueType::integer, "0",
                          "wait before answering, in milliseconds (capped by the deadline)");
    delay.min = 0;
    return {testino::sdk::PluginKind::sms_provider,
            TEST_SINK_NAME,
            "1.0.0",
            "test-only provider: appends each message to a file and answers as configured",
            {outbox, delay,
             key("fail_with", ValueType::string, "",
                 "\"\", invalid_recipient, misconfigured, unavailable or uncertain"),
             key("fail_channels", ValueType::string_list, "",
                 "the channels fail_with applies to; empty: all of them"),
             key("channels", ValueType::string_list, "sms", "the channels it offers: sms, whatsapp, voice"),
             key("healthy", ValueType::boolean, "true", "what health() reports"),
             key("fail_while_exists", ValueType::string, "",
                 "a file: fail_with applies only while it exists (empty: always)")},
            {Channel::sms, Channel::whatsapp, Channel::voice}};
}

SendStatus parse_answer(const testino::sdk::ConfigView& config) {
    const std::string fail_with = config.has("fail_with") ? config.get_string("fail_with") : "";
    if (fail_with.empty()) return SendStatus::sent;
    if (fail_with == "invalid_recipient") return SendStatus::invalid_recipient;
    if (fail_with == "misconfigured") return SendStatus::misconfigured;
    if (fail_with == "unavailable") return SendStatus::unavailable;
    if (fail_with == "uncertain") return SendStatus::uncertain;
    throw testino::sdk::ConfigError(
        config.where("fail_with") + ": \"" + fail_with +
        "\" is not one of \"\", invalid_recipient, misconfigured, unavailable, uncertain");
}

std::vector<Channel> parse_channels(const testino::sdk::ConfigView& config, const char* key_name) {
    std::vector<Channel> channels;
    if (!config.has(key_name)) return channels;
    for (const std::string& name : config.get_list(key_name)) {
        Channel channel;
        if (!testino::sdk::parse_channel(name, channel)) {
            throw testino::sdk::ConfigError(config.where(key_name) + ": \"" + name +
                                            "\" is not one of sms, whatsapp, voice");
        }
        channels.push_back(channel);
    }
    return channels;
}

std::unique_ptr<testino::sdk::SmsProvider> create_test_sink(const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    TestSinkProvider::Settings settings;
    settings.outbox = config.get_string("outbox");
    if (!std::ofstream(settings.outbox, std::ios::app)) {
        throw testino::sdk::ConfigError(config.where("outbox") + ": cannot open \"" + settings.outbox +
                                        "\" for appending");
    }
    settings.delay = std::chrono::milliseconds(config.get_int("delay_ms"));
    settings.answer = parse_answer(config);
    settings.fail_channels = parse_channels(config, "fail_channels");
    settings.channels = parse_channels(config, "channels");
    if (settings.channels.empty()) settings.channels = {Channel::sms};
    settings.healthy = config.get_bool("healthy");
    settings.fail_while_exists =
        config.has("fail_while_exists") ? config.get_string("fail_while_exists") : "";
    return std::make_unique<TestSinkProvider>(std::move(settings));
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(test_sink_descriptor, create_test_sink)
