// sms_test_sink.so: a scriptable SMS provider for integration tests (test-plugins dir only).
// Each send appends one JSON line {"to","text","code","request_id"} to the `outbox` file
// as soon as it arrives (so a test can see a send in flight), then waits `delay_ms`
// (never past the deadline) and answers as `fail_with` says; a delay the deadline cuts short
// answers `uncertain` (the message is in the outbox: as far as the test is concerned, "sent").
// With `fail_while_exists`, `fail_with` applies only while that file exists, so a running
// server's provider can go down and come back (deploy/grafana/render.py's incident).
// Built twice, as test_sink and (TEST_SINK_NAME) test_sink_b, so failover tests have two
// providers to route between.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "testino/plugin.hpp"

#ifndef TEST_SINK_NAME
#define TEST_SINK_NAME "test_sink"
#endif

namespace {

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
    TestSinkProvider(std::string outbox, std::chrono::milliseconds delay, SendStatus answer, bool healthy,
                     std::string fail_while_exists)
        : outbox_(std::move(outbox)),
          delay_(delay),
          answer_(answer),
          healthy_(healthy),
          fail_while_exists_(std::move(fail_while_exists)) {}

    SendResult send(const testino::sdk::SmsMessage& message,
                    std::chrono::steady_clock::time_point deadline) override {
        if (!append(message)) {
            return {SendStatus::unavailable, "test_sink: cannot write outbox " + outbox_, {}};
        }
        const auto wanted = std::chrono::steady_clock::now() + delay_;
        if (delay_.count() > 0) std::this_thread::sleep_until(std::min(wanted, deadline));
        if (wanted > deadline) return {SendStatus::uncertain, "test_sink: deadline passed", {}};

        const bool told_to_fail = fail_while_exists_.empty() || std::ifstream(fail_while_exists_).good();
        switch (told_to_fail ? answer_ : SendStatus::sent) {
            case SendStatus::sent: return {SendStatus::sent, {}, "sink-" + message.request_id};
            case SendStatus::invalid_recipient: return {answer_, "test_sink: recipient rejected as told", {}};
            case SendStatus::misconfigured: return {answer_, "test_sink: misconfigured as told", {}};
            case SendStatus::unavailable: return {answer_, "test_sink: unavailable as told", {}};
            case SendStatus::uncertain: return {answer_, "test_sink: uncertain as told", {}};
        }
        return {SendStatus::unavailable, "test_sink: unknown answer", {}};
    }

    testino::sdk::HealthReport health() override {
        return {healthy_, healthy_ ? "" : "test_sink: unhealthy as told"};
    }

private:
    bool append(const testino::sdk::SmsMessage& message) {
        const std::string line = "{\"to\":" + json_string(message.to) +
                                 ",\"text\":" + json_string(message.text) +
                                 ",\"code\":" + json_string(message.code) +
                                 ",\"request_id\":" + json_string(message.request_id) + "}\n";
        std::lock_guard lock(mutex_);
        std::ofstream out(outbox_, std::ios::app | std::ios::binary);
        out << line;
        out.flush();
        return static_cast<bool>(out);
    }

    const std::string outbox_;
    const std::chrono::milliseconds delay_;
    const SendStatus answer_;
    const bool healthy_;
    const std::string fail_while_exists_;  // empty: fail_with always applies
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
             key("healthy", ValueType::boolean, "true", "what health() reports"),
             key("fail_while_exists", ValueType::string, "",
                 "a file: fail_with applies only while it exists (empty: always)")},
            {testino::sdk::Channel::sms}};
}

std::unique_ptr<testino::sdk::SmsProvider> create_test_sink(const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    const std::string outbox = config.get_string("outbox");
    if (!std::ofstream(outbox, std::ios::app)) {
        throw testino::sdk::ConfigError(config.where("outbox") + ": cannot open \"" + outbox +
                                        "\" for appending");
    }
    const std::string fail_with = config.has("fail_with") ? config.get_string("fail_with") : "";
    SendStatus answer;
    if (fail_with.empty()) {
        answer = SendStatus::sent;
    } else if (fail_with == "invalid_recipient") {
        answer = SendStatus::invalid_recipient;
    } else if (fail_with == "misconfigured") {
        answer = SendStatus::misconfigured;
    } else if (fail_with == "unavailable") {
        answer = SendStatus::unavailable;
    } else if (fail_with == "uncertain") {
        answer = SendStatus::uncertain;
    } else {
        throw testino::sdk::ConfigError(
            config.where("fail_with") + ": \"" + fail_with +
            "\" is not one of \"\", invalid_recipient, misconfigured, unavailable, uncertain");
    }
    return std::make_unique<TestSinkProvider>(
        outbox, std::chrono::milliseconds(config.get_int("delay_ms")), answer, config.get_bool("healthy"),
        config.has("fail_while_exists") ? config.get_string("fail_while_exists") : "");
}

}  // namespace

TESTINO_SMS_PROVIDER_PLUGIN(test_sink_descriptor, create_test_sink)
