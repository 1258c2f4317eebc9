#include "redis_store.hpp"

#include <openssl/evp.h>

#include <algorithm>
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

RedisStore::Script make_script(const char* name, const char* body) {
    return {name, body, sha1_hex(body)};
}

std::string as_bytes(const sdk::CodeDigest& digest) {
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool starts_with(const char* text, std::size_t size, const char* prefix) {
    const std::size_t prefix_size = std::char_traits<char>::length(prefix);
    return size >= prefix_size && std::equal(prefix, prefix + prefix_size, text);
}

RedisFailure unexpected_reply(const RedisStore::Script& script, const redisReply& reply) {
    return {RedisFault::reply_error,
            std::string(script.name) + " script: unexpected reply type " + std::to_string(reply.type),
            false};
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

std::string store_detail(const std::string& endpoint, const RedisFailure& failure) {
    return endpoint + ": " + failure.detail;
}

}  // namespace

RedisStore::RedisStore(RedisStoreOptions options, sdk::Host& host)
    : options_(std::move(options)),
      endpoint_(options_.pool.endpoint.describe()),
      host_(host),
      pool_(options_.pool),
      put_script_(make_script("put", kPutScript)),
      verify_script_(make_script("verify", kVerifyScript)),
      remove_script_(make_script("remove", kRemoveScript)),
      counter_script_(make_script("counter", kCounterScript)) {
    // Connect once now so that the start-up log says whether Redis is usable; a failure
    // is logged and leaves the store to connect later, on demand.
    health();
}

std::string RedisStore::code_key(const std::string& key) const {
    return options_.key_prefix + "{" + key + "}:code";
}

std::string RedisStore::counter_key(const std::string& key) const {
    // The core's counter keys carry their own "{...}" (the phone number), so the prefix,
    // which has no braces, leaves the hash tag to them.
    return options_.key_prefix + "count:" + key;
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

RedisReplyPtr RedisStore::run_script_on(RedisLease& lease, const Script& script,
                                        const std::vector<std::string>& command,
                                        RedisFailure& failure) {
    RedisReplyPtr reply = lease.command(command, failure);
    if (!reply || reply->type != REDIS_REPLY_ERROR || !starts_with(reply->str, reply->len, "NOSCRIPT")) {
        return reply;
    }
    // Redis lost its script cache (restart, SCRIPT FLUSH, failover): load and run again.
    RedisReplyPtr loaded = lease.command({"SCRIPT", "LOAD", script.body}, failure);
    if (!loaded) return nullptr;
    if (loaded->type != REDIS_REPLY_STRING ||
        std::string(loaded->str, loaded->len) != script.sha1) {
        failure = unexpected_reply(script, *loaded);
        return nullptr;
    }
    script_loads_.fetch_add(1);
    host_.log(sdk::LogLevel::info, "store.redis.script_loaded", {{"script", script.name}});
    return lease.command(command, failure);
}

template <typename Exchange>
RedisReplyPtr RedisStore::exchange(const char* what, Exchange&& run, RedisFailure& failure) {
    // One deadline for the whole operation, retry included: no caller waits much past the
    // command timeout (plus a connect's own timeout), however Redis fails.
    const auto deadline = std::chrono::steady_clock::now() + options_.pool.command_timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::optional<RedisLease> lease = pool_.acquire(deadline, failure);
        if (!lease) break;
        const bool fresh = lease->fresh();
        RedisReplyPtr reply = run(*lease, failure);
        if (reply) {
            if (reply->type == REDIS_REPLY_ERROR) {
                failure = {RedisFault::reply_error,
                           std::string(what) + " failed: " + std::string(reply->str, reply->len), false};
                break;
            }
            note_up();
            return reply;
        }
        // A reused connection the server had closed: Redis restarted, so the other idle
        // connections are stale too. Nothing ran; try once more on a fresh connection.
        if (fresh || !failure.stale_connection) break;
        pool_.drop_idle();
    }
    note_failure(failure);
    return nullptr;
}

RedisReplyPtr RedisStore::run_script(const Script& script, const std::string& redis_key,
                                     const std::vector<std::string>& args, RedisFailure& failure) {
    std::vector<std::string> command{"EVALSHA", script.sha1, "1", redis_key};
    command.insert(command.end(), args.begin(), args.end());
    return exchange(
        script.name,
        [&](RedisLease& lease, RedisFailure& lease_failure) {
            return run_script_on(lease, script, command, lease_failure);
        },
        failure);
}

StoreResult RedisStore::put_code(const std::string& key, const sdk::CodeDigest& digest,
                                 std::chrono::seconds ttl, int max_attempts) try {
    ttl = std::clamp(ttl, std::chrono::seconds(0), kMaxTtl);
    const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
    RedisFailure failure;
    RedisReplyPtr reply =
        run_script(put_script_, code_key(key),
                   {as_bytes(digest), std::to_string(std::clamp(max_attempts, 0, 0xFFFF)),
                    std::to_string(ttl_ms)},
                   failure);
    if (!reply) return {StoreStatus::unavailable, store_detail(endpoint_, failure)};
    return {};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, std::string("redis store: ") + error.what()};
}

VerifyResult RedisStore::verify_and_consume(const std::string& key,
                                            const sdk::CodeDigest& candidate) try {
    RedisFailure failure;
    RedisReplyPtr reply = run_script(verify_script_, code_key(key), {as_bytes(candidate)}, failure);
    if (!reply) return {VerifyOutcome::unavailable, 0, {}, store_detail(endpoint_, failure)};
    if (!integer_array(*reply, 3)) {
        return {VerifyOutcome::unavailable, 0, {},
                store_detail(endpoint_, unexpected_reply(verify_script_, *reply))};
    }
    const long long outcome = reply->element[0]->integer;
    const int attempts_left = static_cast<int>(std::clamp(reply->element[1]->integer, 0LL, 0xFFFFLL));
    switch (outcome) {
        case 1: return {VerifyOutcome::verified, attempts_left, {}, {}};
        case 2: return {VerifyOutcome::mismatch, attempts_left, {}, {}};
        case 3: {
            return {VerifyOutcome::attempts_exhausted, 0, whole_seconds(reply->element[2]->integer), {}};
        }
        default: return {VerifyOutcome::not_found, 0, {}, {}};
    }
} catch (const std::exception& error) {
    return {VerifyOutcome::unavailable, 0, {}, std::string("redis store: ") + error.what()};
}

StoreResult RedisStore::remove_code(const std::string& key, const sdk::CodeDigest& digest) try {
    RedisFailure failure;
    RedisReplyPtr reply = run_script(remove_script_, code_key(key), {as_bytes(digest)}, failure);
    if (!reply) return {StoreStatus::unavailable, store_detail(endpoint_, failure)};
    return {};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, std::string("redis store: ") + error.what()};
}

sdk::CounterResult RedisStore::hit_counter(const std::string& key, std::chrono::seconds window,
                                           std::int64_t amount) try {
    window = std::clamp(window, std::chrono::seconds(1), kMaxTtl);
    const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
    RedisFailure failure;
    RedisReplyPtr reply = run_script(counter_script_, counter_key(key),
                                     {std::to_string(window_ms), std::to_string(amount)}, failure);
    if (!reply) return {StoreStatus::unavailable, 0, {}, store_detail(endpoint_, failure)};
    if (!integer_array(*reply, 2)) {
        return {StoreStatus::unavailable, 0, {},
                store_detail(endpoint_, unexpected_reply(counter_script_, *reply))};
    }
    return {StoreStatus::ok, reply->element[0]->integer, whole_seconds(reply->element[1]->integer), {}};
} catch (const std::exception& error) {
    return {StoreStatus::unavailable, 0, {}, std::string("redis store: ") + error.what()};
}

sdk::HealthReport RedisStore::health() try {
    RedisFailure failure;
    const auto ping = [](RedisLease& lease, RedisFailure& lease_failure) {
        return lease.command({"PING"}, lease_failure);
    };
    if (exchange("PING", ping, failure)) return {true, endpoint_};
    return {false, store_detail(endpoint_, failure)};
} catch (const std::exception& error) {
    return {false, std::string("redis store: ") + error.what()};
}

}  // namespace testino::plugins
