#include "console_provider.hpp"

#include <string>

namespace testino::plugins {

ConsoleProvider::ConsoleProvider(sdk::Host& host) : host_(host) {}

sdk::SendResult ConsoleProvider::send(const sdk::SmsMessage& message,
                                      std::chrono::steady_clock::time_point /*deadline*/) {
    const std::uint64_t number = sent_.fetch_add(1) + 1;
    try {
        host_.log(sdk::LogLevel::info, "sms.console.message",
                  {{"to", message.to}, {"text", message.text}, {"request_id", message.request_id}});
        return {sdk::SendStatus::sent, {}, "console-" + std::to_string(number)};
    } catch (const std::exception& error) {
        // send() must not throw; a host that cannot log (out of memory) is the only way here.
        return {sdk::SendStatus::unavailable, std::string("console: ") + error.what(), {}};
    }
}

sdk::HealthReport ConsoleProvider::health() { return {true, {}}; }

}  // namespace testino::plugins
