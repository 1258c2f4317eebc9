// The development SMS provider: it sends nothing and logs each message instead,
// code included, so a developer can read it from the server's log.
#pragma once

#include <atomic>
#include <cstdint>

#include "testino/host.hpp"
#include "testino/sms_provider.hpp"

namespace testino::plugins {

class ConsoleProvider final : public sdk::SmsProvider {
public:
    // `host` must outlive the provider (the server's does).
    explicit ConsoleProvider(sdk::Host& host);

    // Logs `sms.console.message` with to, text and request_id; always `sent`.
    sdk::SendResult send(const sdk::SmsMessage& message,
                         std::chrono::steady_clock::time_point deadline) override;
    sdk::HealthReport health() override;
    // Logging returns at once: no need for a worker thread.
    bool may_block() const override { return false; }

private:
    sdk::Host& host_;
    std::atomic<std::uint64_t> sent_{0};
};

}  // namespace testino::plugins
