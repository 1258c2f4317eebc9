#include "redis_store.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>

namespace testino::plugins {
namespace {

using sdk::StoreResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;

// Longer TTLs are clamped (ten years) so the millisecond TTL cannot overflow.
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365 * 10);

// KEYS[1] code key; ARGV: digest, attempts, ttl in ms. A new code replaces the old one and
// its attempt count. A TTL of 0 deletes the key at once (PEXPIRE 0), like an expired code.
constexpr const char* kPutScript = R"lua(
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

// KEYS[1] code key; ARGV[1] candidate digest. Returns {outcome, attempts_left, pttl_ms}
// with outcome 0 not found, 1 verified, 2 mismatch, 3 attempts exhausted.
//
// The digests are compared with Lua's '==', which is not constant-time. That is safe here:
// the digest is an HMAC keyed with a secret Redis never sees, so a guesser cannot choose
// candidate digests that share a prefix with the stored one, and whatever the comparison
// leaks about byte positions is buried under the network round trip and the script's run.
// A constant-time compare in C++ would need a GET and a later write: no longer atomic.
constexpr const char* kVerifyScript = R"lua(
local code = redis.call('HMGET', KEYS[1], 'd', 'a')
if not code[1] then return {0, 0, 0} end
local left = tonumber(code[2]) or 0
if left <= 0 then return {3, 0, redis.call('PTTL', KEYS[1])} end
if code[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1, left, 0}
end
left = left - 1
redis.call('HSET', KEYS[1], 'a', left)
return {2, left, 0}
)lua";

// KEYS[1] code key; ARGV[1] digest. Deletes the code only if it still holds that digest.
constexpr const char* kRemoveScript = R"lua(
if redis.call('HGET', KEYS[1], 'd') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

// KEYS[1] counter key; ARGV: window in ms, amount. Returns {value, pttl_ms}. A missing
// counter starts at 0 with the window from now; reads (amount <= 0) create nothing. INCRBY
// keeps the key's TTL, so the first window holds (and it works on any Redis version,
// unlike SET ... KEEPTTL). The value never goes below 0.
constexpr const char* kCounterScript = R"lua(
local window = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if not current then
  if amount <= 0 then return {0, window} end
  redis.call('SET', KEYS[1], amount, 'PX', window)
  return {amount, window}
end
local value = tonumber(current) + amount
if value < 0 then value = 0 end
redis.call('INCRBY', KEYS[1], value - tonumber(current))
return {value, redis.call('PTTL', KEYS[1])}
)lua";

std::string sha1_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0x0F]);
    }
    return out;
}

RedisScript make_script(const char* name, const char* body) { return {name, body, sha1_hex(body)}; }

std::string as_bytes(const sdk::CodeDigest& digest) {
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

RedisFailure unexpected_reply(const RedisScript& script, const redisReply& reply) {
    return {RedisFault::reply_error,
            std::string(script.name) + " script: unexpected reply type " + std::to_string(reply.type), false};
}

// A PTTL in milliseconds, rounded up to whole seconds, never below 1 (PTTL is -1 for a
// key without TTL, which the scripts never leave).
std::chrono::seconds whole_seconds(long long pttl_ms) {
    return std::chrono::seconds(std::max(1LL, (pttl_ms + 999) / 1000));
}

bool integer_array(const redisReply& reply, std::size_t size) {
    return reply.type == REDIS_REPLY_ARRAY && reply.elements == size &&
           std::all_of(reply.element, reply.element + size,
                       [](const redisReply* e) { return e->type == REDIS_REPLY_INTEGER; });
}

// The result types' failure for an outcome without a reply.
template <typename Result>
Result failed(std::string detail);
template <>
StoreResult failed(std::string detail) {
    return {StoreStatus::unavailable, std::move(detail)};
}
template <>
VerifyResult failed(std::string detail) {
    return {VerifyOutcome::unavailable, 0, {}, std::move(detail)};
}
template <>
sdk::CounterResult failed(std::string detail) {
    return {StoreStatus::unavailable, 0, {}, std::move(detail)};
}
template <>
sdk::HealthReport failed(std::string detail) {
    return {false, std::move(detail)};
}

// Calls `done` with `convert()`, or with a failure if converting throws: a completion is
// called exactly once, and nothing is thrown into the loop thread.
template <typename Result, typename Convert>
void finish_with(const sdk::StoreCompletion<Result>& done, Convert&& convert) noexcept {
    Result result;
    try {
        result = convert();
    } catch (const std::exception& error) {
        result = failed<Result>(std::string("redis store: ") + error.what());
    }
    try {
        done(std::move(result));
    } catch (...) {
        // `done` must not throw (the SDK's rule); the loop thread survives one that does.
    }
}

// The verify script's {outcome, attempts_left, pttl_ms} as a result.
VerifyResult verify_result(const redisReply& reply) {
    const long long outcome = reply.element[0]->integer;
    const int attempts_left = static_cast<int>(std::clamp(reply.element[1]->integer, 0LL, 0xFFFFLL));
    switch (outcome) {
        case 1: return {VerifyOutcome::verified, attempts_left, {}, {}};
        case 2: return {VerifyOutcome::mismatch, attempts_left, {}, {}};
        case 3: return {VerifyOutcome::attempts_exhausted, 0, whole_seconds(reply.element[2]->integer), {}};
        default: return {VerifyOutcome::not_found, 0, {}, {}};
    }
}

}  // namespace

RedisStore::RedisStore(RedisStoreOptions options, sdk::Host& host)
    : options_(std::move(options)),
      endpoint_(options_.client.endpoint.describe()),
      host_(host),
      put_script_(make_script("put", kPutScript)),
      verify_script_(make_script("verify", kVerifyScript)),
      remove_script_(make_script("remove", kRemoveScript)),
      counter_script_(make_script("counter", kCounterScript)),
      client_(std::make_unique<RedisClient>(options_.client,
                                            [this](const RedisScript& script) { script_loaded(script); })) {
    // Connect once now, so that the start-up log says whether Redis is usable. The server
    // builds its store before serving, so waiting here holds no reactor thread; the wait is
    // bounded by the request's own deadline (plus slack), and a failure leaves the store to
    // connect later, on demand.
    auto checked = std::make_shared<std::promise<void>>();
    std::future<void> done = checked->get_future();
    health([checked](sdk::HealthReport) { checked->set_value(); });
    done.wait_for(options_.client.command_timeout + std::chrono::seconds(1));
}

RedisStore::~RedisStore() { client_.reset(); }

std::string RedisStore::code_key(const std::string& key) const {
    return options_.key_prefix + "{" + key + "}:code";
}

std::string RedisStore::counter_key(const std::string& key) const {
    // The core's counter keys carry their own "{...}" (the phone number), so the prefix,
    // which has no braces, leaves the hash tag to them.
    return options_.key_prefix + "count:" + key;
}

std::string RedisStore::detail(const RedisFailure& failure) const {
    return endpoint_ + ": " + failure.detail;
}

void RedisStore::note_up() {
    if (up_logged_.load(std::memory_order_acquire)) return;  // the common case: no lock
    std::lock_guard lock(state_mutex_);
    if (logged_state_known_ && logged_up_) return;
    host_.log(sdk::LogLevel::info, logged_state_known_ ? "store.redis.recovered" : "store.redis.connected",
              {{"redis", endpoint_}});
    logged_state_known_ = true;
    logged_up_ = true;
    up_logged_.store(true, std::memory_order_release);
}

void RedisStore::note_failure(const RedisFailure& failure) {
    std::lock_guard lock(state_mutex_);
    if (logged_state_known_ && !logged_up_ && logged_fault_ == failure.fault) return;
    // A refused password or database index is an operator's mistake: an error. An
    // unreachable Redis may be a restart: a warning.
    const bool config_fault =
        failure.fault == RedisFault::auth_failed || failure.fault == RedisFault::invalid_db;
    host_.log(config_fault ? sdk::LogLevel::error : sdk::LogLevel::warn, "store.redis.unavailable",
              {{"redis", endpoint_}, {"detail", failure.detail}});
    logged_state_known_ = true;
    logged_up_ = false;
    up_logged_.store(false, std::memory_order_release);
    logged_fault_ = failure.fault;
}

void RedisStore::observe(const RedisOutcome& outcome) {
    try {
        if (outcome.reply) {
            note_up();
        } else if (outcome.failure.fault != RedisFault::stopped) {  // shutting down is no Redis fault
            note_failure(outcome.failure);
        }
    } catch (...) {
        // Logging only.
    }
}

void RedisStore::script_loaded(const RedisScript& script) {
    script_loads_.fetch_add(1);
    host_.log(sdk::LogLevel::info, "store.redis.script_loaded", {{"script", script.name}});
}

void RedisStore::run_script(const RedisScript& script, const std::string& redis_key,
                            const std::vector<std::string>& args,
                            std::function<void(const RedisOutcome&)> finish) {
    RedisRequest request;
    request.name = script.name;
    request.command = {"EVALSHA", script.sha1, "1", redis_key};
    request.command.insert(request.command.end(), args.begin(), args.end());
    request.script = &script;
    request.done = [this, finish = std::move(finish)](const RedisOutcome& outcome) {
        observe(outcome);
        finish(outcome);
    };
    client_->submit(std::move(request));
}

void RedisStore::put_code(const std::string& key, const sdk::CodeDigest& digest, std::chrono::seconds ttl,
                          int max_attempts, sdk::StoreCompletion<StoreResult> done) try {
    ttl = std::clamp(ttl, std::chrono::seconds(0), kMaxTtl);
    const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
    run_script(
        put_script_, code_key(key),
        {as_bytes(digest), std::to_string(std::clamp(max_attempts, 0, 0xFFFF)), std::to_string(ttl_ms)},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> StoreResult {
                if (!outcome.reply) return failed<StoreResult>(detail(outcome.failure));
                return {};
            });
        });
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<StoreResult>(std::string("redis store: ") + error.what()); });
}

void RedisStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                    sdk::StoreCompletion<VerifyResult> done) try {
    run_script(
        verify_script_, code_key(key), {as_bytes(candidate)}, [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> VerifyResult {
                if (!outcome.reply) return failed<VerifyResult>(detail(outcome.failure));
                if (!integer_array(*outcome.reply, 3)) {
                    return failed<VerifyResult>(detail(unexpected_reply(verify_script_, *outcome.reply)));
                }
                return verify_result(*outcome.reply);
            });
        });
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<VerifyResult>(std::string("redis store: ") + error.what()); });
}

void RedisStore::remove_code(const std::string& key, const sdk::CodeDigest& digest,
                             sdk::StoreCompletion<StoreResult> done) try {
    run_script(remove_script_, code_key(key), {as_bytes(digest)}, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&]() -> StoreResult {
            if (!outcome.reply) return failed<StoreResult>(detail(outcome.failure));
            return {};
        });
    });
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<StoreResult>(std::string("redis store: ") + error.what()); });
}

void RedisStore::hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                             sdk::StoreCompletion<sdk::CounterResult> done) try {
    window = std::clamp(window, std::chrono::seconds(1), kMaxTtl);
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    run_script(
        counter_script_, counter_key(key), {std::to_string(window_ms), std::to_string(amount)},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> sdk::CounterResult {
                if (!outcome.reply) return failed<sdk::CounterResult>(detail(outcome.failure));
                const redisReply& reply = *outcome.reply;
                if (!integer_array(reply, 2)) {
                    return failed<sdk::CounterResult>(detail(unexpected_reply(counter_script_, reply)));
                }
                return {
                    StoreStatus::ok, reply.element[0]->integer, whole_seconds(reply.element[1]->integer), {}};
            });
        });
} catch (const std::exception& error) {
    finish_with(done,
                [&] { return failed<sdk::CounterResult>(std::string("redis store: ") + error.what()); });
}

void RedisStore::health(sdk::StoreCompletion<sdk::HealthReport> done) try {
    RedisRequest request;
    request.name = "PING";
    request.command = {"PING"};
    request.done = [this, done](const RedisOutcome& outcome) {
        observe(outcome);
        finish_with(done, [&]() -> sdk::HealthReport {
            if (!outcome.reply) return failed<sdk::HealthReport>(detail(outcome.failure));
            return {true, endpoint_};
        });
    };
    client_->submit(std::move(request));
} catch (const std::exception& error) {
    finish_with(done, [&] { return failed<sdk::HealthReport>(std::string("redis store: ") + error.what()); });
}

}  // namespace testino::plugins
