// The store's operations: each runs its script and turns Redis's answer into a result. The
// store's state (connection up or down, the eviction check) and health are in
// redis_store_state.cpp.
#include "redis_store.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "redis_results.hpp"

namespace testino::plugins {
namespace {

using redis_results::failed;
using redis_results::finish_thrown;
using redis_results::finish_with;
using redis_results::milliseconds;
using redis_results::out_of_memory;
using redis_results::unexpected_reply;
using sdk::RefreshOutcome;
using sdk::RefreshResult;
using sdk::StoreResult;
using sdk::StoreStatus;
using sdk::VerifyOutcome;
using sdk::VerifyResult;

template <std::size_t N>
std::string as_bytes(const std::array<std::uint8_t, N>& bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
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

// The rotate script's {outcome, ms until next expires, subject} as a result.
RefreshResult rotate_result(const redisReply& reply) {
    switch (reply.element[0]->integer) {
        case 1: {
            // Rounded down: `next` is surely valid that long.
            const auto expires_in = std::chrono::seconds(std::max(0LL, reply.element[1]->integer / 1000));
            return {RefreshOutcome::rotated,
                    std::string(reply.element[2]->str, reply.element[2]->len),
                    expires_in,
                    {}};
        }
        case 2: return {RefreshOutcome::reused, {}, {}, {}};
        case 3: return {RefreshOutcome::raced, {}, {}, {}};
        default: return {RefreshOutcome::not_found, {}, {}, {}};
    }
}

bool rotate_reply(const redisReply& reply) {
    return reply.type == REDIS_REPLY_ARRAY && reply.elements == 3 &&
           reply.element[0]->type == REDIS_REPLY_INTEGER && reply.element[1]->type == REDIS_REPLY_INTEGER &&
           reply.element[2]->type == REDIS_REPLY_STRING;
}

}  // namespace

std::string RedisStore::code_key(const std::string& key) const {
    return options_.key_prefix + "{" + key + "}:code";
}

std::string RedisStore::counter_key(const std::string& key) const {
    // The core's counter keys carry their own "{...}" (the phone number), so the prefix,
    // which has no braces, leaves the hash tag to them.
    return options_.key_prefix + "count:" + key;
}

std::string RedisStore::refresh_key(const std::string& family) const {
    // The family id is the hash tag: everything of one family is one key, in one slot.
    return options_.key_prefix + "refresh:{" + family + "}";
}

StoreResult RedisStore::replicated(const redisReply& reply) const {
    if (options_.wait_replicas == 0) return {};
    const long long replicas = reply.type == REDIS_REPLY_INTEGER ? reply.integer : -1;
    if (replicas >= options_.wait_replicas) return {};
    // On the primary, not yet on enough replicas: a failover now could lose it.
    return failed<StoreResult>(endpoint_ + ": the code reached " + std::to_string(std::max(0LL, replicas)) +
                               " of " + std::to_string(options_.wait_replicas) + " replicas within " +
                               std::to_string(options_.wait_timeout.count()) + " ms (WAIT)");
}

std::string RedisStore::detail(const RedisFailure& failure) const {
    return endpoint_ + ": " + failure.detail;
}

void RedisStore::run_script(const RedisScript& script, const std::string& redis_key,
                            const std::vector<std::string>& args,
                            std::function<void(const RedisOutcome&)> finish, bool replicate) {
    run_script(script, std::vector<std::string>{redis_key}, args, std::move(finish), replicate);
}

void RedisStore::run_script(const RedisScript& script, const std::vector<std::string>& redis_keys,
                            const std::vector<std::string>& args,
                            std::function<void(const RedisOutcome&)> finish, bool replicate) {
    RedisRequest request;
    if (replicate) {
        request.wait_replicas = options_.wait_replicas;
        request.wait_timeout = options_.wait_timeout;
    }
    request.name = script.name;
    request.command = {"EVALSHA", script.sha1, std::to_string(redis_keys.size())};
    request.command.insert(request.command.end(), redis_keys.begin(), redis_keys.end());
    request.command.insert(request.command.end(), args.begin(), args.end());
    request.script = &script;
    // The keys share a slot (their hash tag): the first routes them all.
    request.key = redis_keys.empty() ? std::string() : redis_keys.front();
    request.done = [this, finish = std::move(finish)](const RedisOutcome& outcome) {
        observe(outcome);
        finish(outcome);
    };
    client_->submit(std::move(request));
}

void RedisStore::run_command(const char* name, std::vector<std::string> command, const std::string& redis_key,
                             std::function<void(const RedisOutcome&)> finish) {
    RedisRequest request;
    request.name = name;
    request.command = std::move(command);
    request.key = redis_key;
    request.done = [this, finish = std::move(finish)](const RedisOutcome& outcome) {
        observe(outcome);
        finish(outcome);
    };
    client_->submit(std::move(request));
}

void RedisStore::put_code(const std::string& key, const sdk::NewCode& code,
                          sdk::StoreCompletion<StoreResult> done) try {
    run_script(
        scripts_.put, code_key(key),
        {as_bytes(code.digest), as_bytes(code.flow), std::to_string(std::clamp(code.max_attempts, 0, 0xFFFF)),
         milliseconds(code.ttl, std::chrono::seconds(0)),
         milliseconds(code.overlap, std::chrono::seconds(0))},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> StoreResult {
                if (outcome.reply) return replicated(*outcome.reply);
                if (out_of_memory(outcome.failure)) return {StoreStatus::full, detail(outcome.failure)};
                return failed<StoreResult>(detail(outcome.failure));
            });
        },
        options_.wait_replicas > 0);
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::verify_and_consume(const std::string& key, const sdk::CodeDigest& candidate,
                                    const std::optional<sdk::FlowTag>& flow,
                                    sdk::StoreCompletion<VerifyResult> done) try {
    run_script(
        scripts_.verify, code_key(key), {as_bytes(candidate), flow ? as_bytes(*flow) : std::string()},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> VerifyResult {
                if (!outcome.reply) return failed<VerifyResult>(detail(outcome.failure));
                if (!integer_array(*outcome.reply, 3)) {
                    return failed<VerifyResult>(detail(unexpected_reply(scripts_.verify, *outcome.reply)));
                }
                return verify_result(*outcome.reply);
            });
        });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::remove_code(const std::string& key, const sdk::CodeDigest& digest,
                             sdk::StoreCompletion<StoreResult> done) try {
    run_script(scripts_.remove, code_key(key), {as_bytes(digest)}, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&]() -> StoreResult {
            if (!outcome.reply) return failed<StoreResult>(detail(outcome.failure));
            return {};
        });
    });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::hit_counter(const std::string& key, std::chrono::seconds window, std::int64_t amount,
                             sdk::StoreCompletion<sdk::CounterResult> done) try {
    run_script(
        scripts_.counter, counter_key(key),
        {milliseconds(window, std::chrono::seconds(1)), std::to_string(amount)},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> sdk::CounterResult {
                if (!outcome.reply) {
                    if (out_of_memory(outcome.failure)) {
                        return {StoreStatus::full, 0, {}, detail(outcome.failure)};
                    }
                    return failed<sdk::CounterResult>(detail(outcome.failure));
                }
                const redisReply& reply = *outcome.reply;
                if (!integer_array(reply, 2)) {
                    return failed<sdk::CounterResult>(detail(unexpected_reply(scripts_.counter, reply)));
                }
                return {
                    StoreStatus::ok, reply.element[0]->integer, whole_seconds(reply.element[1]->integer), {}};
            });
        });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

// --- refresh-token families --------------------------------------------------------------

void RedisStore::create_refresh(const std::string& family, const sdk::NewRefreshFamily& first,
                                sdk::StoreCompletion<StoreResult> done) try {
    run_script(scripts_.refresh_create, refresh_key(family),
               {as_bytes(first.digest), first.subject, milliseconds(first.ttl, std::chrono::seconds(0)),
                milliseconds(first.max_age, std::chrono::seconds(0))},
               [this, done](const RedisOutcome& outcome) {
                   finish_with(done, [&]() -> StoreResult {
                       if (outcome.reply) return {};
                       if (out_of_memory(outcome.failure))
                           return {StoreStatus::full, detail(outcome.failure)};
                       return failed<StoreResult>(detail(outcome.failure));
                   });
               });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::rotate_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                const sdk::RefreshDigest& next, std::chrono::seconds ttl,
                                std::chrono::seconds grace, sdk::StoreCompletion<RefreshResult> done) try {
    run_script(scripts_.refresh_rotate, refresh_key(family),
               {as_bytes(presented), as_bytes(next), milliseconds(ttl, std::chrono::seconds(0)),
                milliseconds(grace, std::chrono::seconds(0))},
               [this, done](const RedisOutcome& outcome) {
                   finish_with(done, [&]() -> RefreshResult {
                       if (!outcome.reply) return failed<RefreshResult>(detail(outcome.failure));
                       if (!rotate_reply(*outcome.reply)) {
                           return failed<RefreshResult>(
                               detail(unexpected_reply(scripts_.refresh_rotate, *outcome.reply)));
                       }
                       return rotate_result(*outcome.reply);
                   });
               });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::revoke_refresh(const std::string& family, const sdk::RefreshDigest& presented,
                                sdk::StoreCompletion<RefreshResult> done) try {
    run_script(
        scripts_.refresh_revoke, refresh_key(family), {as_bytes(presented)},
        [this, done](const RedisOutcome& outcome) {
            finish_with(done, [&]() -> RefreshResult {
                if (!outcome.reply) return failed<RefreshResult>(detail(outcome.failure));
                const redisReply& reply = *outcome.reply;
                if (reply.type != REDIS_REPLY_INTEGER) {
                    return failed<RefreshResult>(detail(unexpected_reply(scripts_.refresh_revoke, reply)));
                }
                return {reply.integer == 1 ? RefreshOutcome::revoked : RefreshOutcome::not_found, {}, {}, {}};
            });
        });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

}  // namespace testino::plugins
