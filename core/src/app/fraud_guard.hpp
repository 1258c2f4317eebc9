// The fraud guard against SMS pumping (toll fraud): bots ask for codes to expensive number
// ranges and never verify them. It counts sends and verified codes per number prefix (the
// first `prefix_digits` digits of the E.164 number) in sliding windows kept in the store,
// so every instance sees the same figures, and blocks new sends to a prefix whose
// conversion (verified / sent) stays below `min_conversion` once it has `min_sends`.
//
// Sliding windows from two fixed ones (the previous window weighted by how much of it the
// sliding one still covers), each a store counter whose key names the window: instances
// agree on windows through the wall clock, and every key is one counter, so a clustered
// store needs nothing more. A prefix's keys share a hash tag, "{fg:<prefix>}".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/metered_store.hpp"
#include "config/config.hpp"
#include "domain/errors.hpp"

namespace testino {

// A prefix blocked now, as the admin route lists it.
struct FraudBlock {
    std::string prefix;                 // digits, without '+'
    std::chrono::seconds remaining{0};  // until the block ends
    bool shadow = false;                // placed in shadow mode: nothing is refused
};

class FraudGuard {
public:
    // Unix time in seconds; tests pass their own to move between windows.
    using Clock = std::function<std::int64_t()>;
    FraudGuard(const FraudGuardConfig& config, MeteredStore& store, Clock clock = {});

    bool enabled() const { return config_.enabled; }
    const FraudGuardConfig& config() const { return config_; }

    // Before a code is sent to `e164`: nullopt lets it go (and counts it); an error refuses it
    // (429 RATE_LIMITED, the body every limit has, with Retry-After). A store failure lets the
    // send go: the fixed limits and the budget still hold, and a guard that fails closed would
    // stop every real user with the store.
    void check_send(const std::string& e164, const std::string& calling_code, const std::string& request_id,
                    std::function<void(std::optional<ApiError>)> done);
    // A code to `e164` was verified: one conversion for its prefix.
    void record_verified(const std::string& e164, const std::string& calling_code);

    // The live blocks this instance placed or met (every instance meets the blocks of the
    // prefixes it is asked to send to), each read again from the store.
    void list_blocks(std::function<void(std::vector<FraudBlock>)> done);
    // Lifts the block on `prefix` for every instance; false when there was none. The
    // prefix's counts start afresh, or the next send would block it again.
    void lift(const std::string& prefix, std::function<void(Expected<bool>)> done);

    // The prefix of `e164` ("+447400123456" -> "447400"); "" for a number on the safe list.
    std::string prefix_of(const std::string& e164) const;

private:
    struct Check;
    void count_send(std::shared_ptr<Check> check);
    void evaluate(std::shared_ptr<Check> check);
    void place_block(std::shared_ptr<Check> check, double conversion);
    void remember(const std::string& prefix);
    // This instance's sends and verifies per calling code, for the conversion gauge.
    void count_country(const std::string& calling_code, bool verified);
    struct CountryCounts {
        std::int64_t window = -1;
        double sent = 0, verified = 0, prev_sent = 0, prev_verified = 0;
    };

    FraudGuardConfig config_;
    MeteredStore& store_;
    Clock clock_;
    std::mutex mutex_;
    std::set<std::string> known_blocks_;  // prefixes this instance blocked or found blocked
    std::map<std::string, CountryCounts> countries_;
};

}  // namespace testino
