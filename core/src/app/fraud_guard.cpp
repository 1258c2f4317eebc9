#include "app/fraud_guard.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "app/rate_limits.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

constexpr const char* kTooManySends = "Too many codes requested; try again later";

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// The two fixed windows a sliding one spans, and how much of the older one still counts.
struct Windows {
    std::int64_t current = 0;
    double previous_weight = 0;
};

Windows windows_at(std::int64_t now, std::chrono::seconds window) {
    const std::int64_t w = window.count();
    return {now / w, 1.0 - static_cast<double>(now % w) / static_cast<double>(w)};
}

std::string counter_key(const std::string& prefix, const char* what, std::int64_t window_index) {
    return "fg:{" + prefix + "}:" + what + ":" + std::to_string(window_index);
}

std::string block_key(const std::string& prefix) { return "fg:{" + prefix + "}:block"; }

}  // namespace

// One send being judged.
struct FraudGuard::Check {
    std::string e164;
    std::string calling_code;
    std::string prefix;
    std::string request_id;
    Windows windows;
    bool blocked_in_shadow = false;  // a shadow block is live: count, but place no other
    double sent = 0;                 // the sliding window's estimate, this send included
    double verified = 0;
    std::function<void(std::optional<ApiError>)> done;
};

FraudGuard::FraudGuard(const FraudGuardConfig& config, MeteredStore& store, Clock clock)
    : config_(config), store_(store), clock_(clock ? std::move(clock) : Clock(unix_now)) {}

std::string FraudGuard::prefix_of(const std::string& e164) const {
    const std::string digits = !e164.empty() && e164.front() == '+' ? e164.substr(1) : e164;
    for (const std::string& safe : config_.safe_list) {
        if (digits.compare(0, safe.size(), safe) == 0) return "";
    }
    if (digits.size() <= static_cast<std::size_t>(config_.prefix_digits)) return "";
    return digits.substr(0, static_cast<std::size_t>(config_.prefix_digits));
}

void FraudGuard::check_send(const std::string& e164, const std::string& calling_code,
                            const std::string& request_id,
                            std::function<void(std::optional<ApiError>)> done) {
    const std::string prefix = config_.enabled ? prefix_of(e164) : "";
    if (prefix.empty()) return done(std::nullopt);
    auto check = std::make_shared<Check>();
    check->e164 = e164;
    check->calling_code = calling_code;
    check->prefix = prefix;
    check->request_id = request_id;
    check->windows = windows_at(clock_(), config_.window);
    check->done = std::move(done);
    store_.hit_counter(block_key(prefix), config_.block, 0, [this, check](sdk::CounterResult block) {
        if (block.status == sdk::StoreStatus::ok && block.count > 0) {
            remember(check->prefix);
            if (!config_.shadow) {
                // A refused attempt still counts as a send nobody verified: when the block
                // ends, a prefix still under attack is judged on the attack and blocked again
                // at its first send, instead of letting another min_sends through.
                store_.hit_counter(counter_key(check->prefix, "sent", check->windows.current),
                                   2 * config_.window, 1, [](sdk::CounterResult) {});
                count_country(check->calling_code, false);
                metrics::global().fraud_refusal(check->calling_code);
                metrics::global().rate_limit_refusal(metrics::Limit::fraud_guard);
                ApiError refusal = make_error(ErrorCode::rate_limited, kTooManySends);
                refusal.retry_after = std::max(block.reset_in, std::chrono::seconds(1));
                return check->done(refusal);
            }
            check->blocked_in_shadow = true;
        }
        count_send(check);
    });
}

void FraudGuard::count_send(std::shared_ptr<Check> check) {
    const auto twice = 2 * config_.window;  // a window's counter is read while the next one runs
    const std::int64_t now = check->windows.current;
    store_.hit_counter(
        counter_key(check->prefix, "sent", now), twice, 1, [this, check, twice](sdk::CounterResult cur) {
            if (cur.status != sdk::StoreStatus::ok) return check->done(std::nullopt);  // fail open
            check->sent = static_cast<double>(cur.count);
            count_country(check->calling_code, false);
            const std::int64_t before = check->windows.current - 1;
            store_.hit_counter(
                counter_key(check->prefix, "sent", before), twice, 0, [this, check](sdk::CounterResult prev) {
                    if (prev.status == sdk::StoreStatus::ok) {
                        check->sent += static_cast<double>(prev.count) * check->windows.previous_weight;
                    }
                    if (check->sent < static_cast<double>(config_.min_sends))
                        return check->done(std::nullopt);
                    evaluate(check);
                });
        });
}

void FraudGuard::evaluate(std::shared_ptr<Check> check) {
    const auto twice = 2 * config_.window;
    const std::int64_t now = check->windows.current;
    store_.hit_counter(
        counter_key(check->prefix, "ok", now), twice, 0, [this, check, twice](sdk::CounterResult cur) {
            if (cur.status != sdk::StoreStatus::ok) return check->done(std::nullopt);
            check->verified = static_cast<double>(cur.count);
            const std::int64_t before = check->windows.current - 1;
            store_.hit_counter(
                counter_key(check->prefix, "ok", before), twice, 0, [this, check](sdk::CounterResult prev) {
                    if (prev.status == sdk::StoreStatus::ok) {
                        check->verified += static_cast<double>(prev.count) * check->windows.previous_weight;
                    }
                    const double conversion = check->verified / check->sent;
                    if (conversion >= config_.min_conversion || check->blocked_in_shadow)
                        return check->done(std::nullopt);
                    place_block(check, conversion);
                });
        });
}

// The block is one counter with the block's lifetime: whoever creates it (count 1) logs it,
// so that it is logged once however many instances see the prefix fall.
void FraudGuard::place_block(std::shared_ptr<Check> check, double conversion) {
    store_.hit_counter(
        block_key(check->prefix), config_.block, 1, [this, check, conversion](sdk::CounterResult block) {
            if (block.status != sdk::StoreStatus::ok) return check->done(std::nullopt);
            remember(check->prefix);
            if (block.count == 1) {
                metrics::global().fraud_block(check->calling_code, config_.shadow);
                log_warn(config_.shadow ? "fraud_guard.would_block" : "fraud_guard.blocked",
                         {{"prefix", "+" + check->prefix},
                          {"country", check->calling_code},
                          {"sends", static_cast<long long>(check->sent + 0.5)},
                          {"conversion", conversion},
                          {"min_conversion", config_.min_conversion},
                          {"block_seconds", static_cast<long long>(config_.block.count())},
                          {"request_id", check->request_id},
                          {"detail", config_.shadow
                                         ? "shadow mode: nothing is refused"
                                         : "new sends to this prefix are refused until the block ends"}});
            }
            if (config_.shadow) return check->done(std::nullopt);
            // The send that tipped the prefix goes no further; it stays counted, as every refused one.
            metrics::global().fraud_refusal(check->calling_code);
            metrics::global().rate_limit_refusal(metrics::Limit::fraud_guard);
            ApiError refusal = make_error(ErrorCode::rate_limited, kTooManySends);
            refusal.retry_after = std::max(block.reset_in, std::chrono::seconds(1));
            check->done(refusal);
        });
}

void FraudGuard::record_verified(const std::string& e164, const std::string& calling_code) {
    const std::string prefix = config_.enabled ? prefix_of(e164) : "";
    if (prefix.empty()) return;
    count_country(calling_code, true);
    const Windows windows = windows_at(clock_(), config_.window);
    store_.hit_counter(counter_key(prefix, "ok", windows.current), 2 * config_.window, 1,
                       [](sdk::CounterResult) {});
}

void FraudGuard::count_country(const std::string& calling_code, bool verified) {
    const Windows windows = windows_at(clock_(), config_.window);
    double conversion = 0;
    {
        std::lock_guard lock(mutex_);
        if (countries_.size() >= 1000 && !countries_.count(calling_code)) return;
        CountryCounts& c = countries_[calling_code];
        if (c.window != windows.current) {
            const bool adjacent = c.window == windows.current - 1;
            c.prev_sent = adjacent ? c.sent : 0;
            c.prev_verified = adjacent ? c.verified : 0;
            c.sent = c.verified = 0;
            c.window = windows.current;
        }
        (verified ? c.verified : c.sent) += 1;
        const double sent = c.sent + c.prev_sent * windows.previous_weight;
        const double ok = c.verified + c.prev_verified * windows.previous_weight;
        if (sent < 1) return;
        conversion = std::min(1.0, ok / sent);
    }
    metrics::global().fraud_conversion(calling_code, conversion);
}

void FraudGuard::remember(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    if (known_blocks_.size() < 10000) known_blocks_.insert(prefix);
}

void FraudGuard::list_blocks(std::function<void(std::vector<FraudBlock>)> done) {
    std::vector<std::string> prefixes;
    {
        std::lock_guard lock(mutex_);
        prefixes.assign(known_blocks_.begin(), known_blocks_.end());
    }
    struct Gather {
        std::mutex mutex;
        std::vector<FraudBlock> blocks;
        std::size_t left;
        std::function<void(std::vector<FraudBlock>)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->left = prefixes.size();
    gather->done = std::move(done);
    if (prefixes.empty()) return gather->done({});
    for (const std::string& prefix : prefixes) {
        store_.hit_counter(block_key(prefix), config_.block, 0, [this, gather, prefix](sdk::CounterResult r) {
            bool last = false;
            {
                std::lock_guard lock(gather->mutex);
                if (r.status == sdk::StoreStatus::ok && r.count > 0) {
                    gather->blocks.push_back({prefix, r.reset_in, config_.shadow});
                } else if (r.status == sdk::StoreStatus::ok) {
                    std::lock_guard forget(mutex_);
                    known_blocks_.erase(prefix);  // over, or lifted elsewhere
                }
                last = --gather->left == 0;
            }
            if (!last) return;
            std::sort(gather->blocks.begin(), gather->blocks.end(),
                      [](const FraudBlock& a, const FraudBlock& b) { return a.prefix < b.prefix; });
            gather->done(std::move(gather->blocks));
        });
    }
}

void FraudGuard::lift(const std::string& prefix, std::function<void(Expected<bool>)> done) {
    store_.hit_counter(block_key(prefix), config_.block, 0, [this, prefix, done](sdk::CounterResult r) {
        if (r.status != sdk::StoreStatus::ok) return done(store_error({r.status, r.detail}));
        if (r.count <= 0) return done(false);
        // Back to 0: a block counter at 0 blocks nothing. The counts start afresh with the
        // current window, or the next send would find the same figures and block again.
        store_.hit_counter(
            block_key(prefix), config_.block, -r.count, [this, prefix, done](sdk::CounterResult lifted) {
                if (lifted.status != sdk::StoreStatus::ok)
                    return done(store_error({lifted.status, lifted.detail}));
                const Windows windows = windows_at(clock_(), config_.window);
                for (const std::int64_t w : {windows.current, windows.current - 1}) {
                    const std::string sent = counter_key(prefix, "sent", w);
                    store_.hit_counter(sent, 2 * config_.window, 0, [this, sent](sdk::CounterResult c) {
                        if (c.status == sdk::StoreStatus::ok && c.count > 0) {
                            store_.hit_counter(sent, 2 * config_.window, -c.count, [](sdk::CounterResult) {});
                        }
                    });
                }
                {
                    std::lock_guard lock(mutex_);
                    known_blocks_.erase(prefix);
                }
                done(true);
            });
    });
}

}  // namespace testino
