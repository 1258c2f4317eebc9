// Records and queues (plugin ABI 8): each operation is one script or one plain command on
// the keys redis_scripts.hpp lays out, its reply turned into a result.
#include <algorithm>
#include <utility>

#include "redis_results.hpp"
#include "redis_store.hpp"

namespace testino::plugins {
namespace {

using redis_results::failed;
using redis_results::finish_thrown;
using redis_results::finish_with;
using redis_results::milliseconds;
using redis_results::out_of_memory;
using redis_results::unexpected_reply;
using sdk::QueueBatch;
using sdk::RecordResult;
using sdk::StoreResult;
using sdk::StoreStatus;

bool is_string(const redisReply* reply) { return reply->type == REDIS_REPLY_STRING; }

std::string text(const redisReply* reply) { return std::string(reply->str, reply->len); }

// Whether `name` holds a hash tag Redis Cluster uses: the text between the first '{' and
// the first '}' after it, if not empty.
bool has_hash_tag(const std::string& name) {
    const auto open = name.find('{');
    if (open == std::string::npos) return false;
    const auto close = name.find('}', open + 1);
    return close != std::string::npos && close > open + 1;
}

// The claim script's {created, value}.
bool claim_reply(const redisReply& reply) {
    return reply.type == REDIS_REPLY_ARRAY && reply.elements == 2 &&
           reply.element[0]->type == REDIS_REPLY_INTEGER && is_string(reply.element[1]);
}

// claim_due's flat {id, payload, attempts, ...}.
bool batch_reply(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements % 3 != 0) return false;
    for (std::size_t i = 0; i < reply.elements; i += 3) {
        if (!is_string(reply.element[i]) || !is_string(reply.element[i + 1]) ||
            reply.element[i + 2]->type != REDIS_REPLY_INTEGER) {
            return false;
        }
    }
    return true;
}

QueueBatch batch_of(const redisReply& reply) {
    QueueBatch batch;
    batch.items.reserve(reply.elements / 3);
    for (std::size_t i = 0; i < reply.elements; i += 3) {
        const auto attempts = std::clamp<long long>(reply.element[i + 2]->integer, 0, 0x7FFFFFFF);
        batch.items.push_back(
            {text(reply.element[i]), text(reply.element[i + 1]), static_cast<int>(attempts)});
    }
    return batch;
}

}  // namespace

std::string RedisStore::record_key(const std::string& key) const {
    // The core's record keys carry their own "{...}", like counter keys.
    return options_.key_prefix + "rec:" + key;
}

std::vector<std::string> RedisStore::queue_keys(const std::string& queue) const {
    // The core's queue names hold a hash tag, which puts both keys in one slot; a name
    // without one becomes the tag itself, for the same reason.
    const std::string name = has_hash_tag(queue) ? queue : "{" + queue + "}";
    const std::string base = options_.key_prefix + "q:" + name;
    return {base + ":due", base + ":items"};
}

StoreResult RedisStore::write_result(const RedisOutcome& outcome) const {
    if (outcome.reply) return {};
    if (out_of_memory(outcome.failure)) return {StoreStatus::full, detail(outcome.failure)};
    return failed<StoreResult>(detail(outcome.failure));
}

// --- records -----------------------------------------------------------------------------

void RedisStore::claim_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                              sdk::StoreCompletion<RecordResult> done) try {
    run_script(record_scripts_.claim, record_key(key), {value, milliseconds(ttl, std::chrono::seconds(1))},
               [this, done](const RedisOutcome& outcome) {
                   finish_with(done, [&]() -> RecordResult {
                       if (!outcome.reply) {
                           if (out_of_memory(outcome.failure)) {
                               return {StoreStatus::full, false, false, {}, detail(outcome.failure)};
                           }
                           return failed<RecordResult>(detail(outcome.failure));
                       }
                       if (!claim_reply(*outcome.reply)) {
                           return failed<RecordResult>(
                               detail(unexpected_reply(record_scripts_.claim, *outcome.reply)));
                       }
                       const bool created = outcome.reply->element[0]->integer == 1;
                       return {StoreStatus::ok, created, true, text(outcome.reply->element[1]), {}};
                   });
               });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::put_record(const std::string& key, const std::string& value, std::chrono::seconds ttl,
                            sdk::StoreCompletion<StoreResult> done) try {
    const std::string redis_key = record_key(key);
    run_command("SET", {"SET", redis_key, value, "PX", milliseconds(ttl, std::chrono::seconds(1))}, redis_key,
                [this, done](const RedisOutcome& outcome) {
                    finish_with(done, [&] { return write_result(outcome); });
                });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::get_record(const std::string& key, sdk::StoreCompletion<RecordResult> done) try {
    const std::string redis_key = record_key(key);
    run_command("GET", {"GET", redis_key}, redis_key, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&]() -> RecordResult {
            if (!outcome.reply) return failed<RecordResult>(detail(outcome.failure));
            if (outcome.reply->type == REDIS_REPLY_NIL) return {};
            if (!is_string(outcome.reply)) {
                return failed<RecordResult>(detail(unexpected_reply(std::string("GET"), *outcome.reply)));
            }
            return {StoreStatus::ok, false, true, text(outcome.reply), {}};
        });
    });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::remove_record(const std::string& key, sdk::StoreCompletion<StoreResult> done) try {
    const std::string redis_key = record_key(key);
    run_command("DEL", {"DEL", redis_key}, redis_key, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&] { return write_result(outcome); });
    });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

// --- queues ------------------------------------------------------------------------------

void RedisStore::enqueue(const std::string& queue, const sdk::QueueItem& item,
                         std::chrono::milliseconds delay, sdk::StoreCompletion<StoreResult> done) try {
    run_script(record_scripts_.enqueue, queue_keys(queue),
               {item.id, item.payload, std::to_string(std::max(item.attempts, 0)),
                milliseconds(delay, std::chrono::milliseconds(0)), std::to_string(options_.max_queue_items)},
               [this, done, queue](const RedisOutcome& outcome) {
                   finish_with(done, [&]() -> StoreResult {
                       if (outcome.reply && outcome.reply->type == REDIS_REPLY_INTEGER &&
                           outcome.reply->integer == 0) {
                           return {StoreStatus::full, endpoint_ + ": the queue " + queue + " holds " +
                                                          std::to_string(options_.max_queue_items) +
                                                          " items (max_queue_items)"};
                       }
                       return write_result(outcome);
                   });
               });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::claim_due(const std::string& queue, int max, std::chrono::milliseconds lease,
                           sdk::StoreCompletion<QueueBatch> done) try {
    if (max <= 0) {
        finish_with(done, [] { return QueueBatch{}; });
        return;
    }
    run_script(record_scripts_.claim_due, queue_keys(queue),
               {std::to_string(max), milliseconds(lease, std::chrono::milliseconds(0))},
               [this, done](const RedisOutcome& outcome) {
                   finish_with(done, [&]() -> QueueBatch {
                       if (!outcome.reply) {
                           if (out_of_memory(outcome.failure)) {
                               return {StoreStatus::full, {}, detail(outcome.failure)};
                           }
                           return failed<QueueBatch>(detail(outcome.failure));
                       }
                       if (!batch_reply(*outcome.reply)) {
                           return failed<QueueBatch>(
                               detail(unexpected_reply(record_scripts_.claim_due, *outcome.reply)));
                       }
                       return batch_of(*outcome.reply);
                   });
               });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::ack(const std::string& queue, const std::string& id,
                     sdk::StoreCompletion<StoreResult> done) try {
    run_script(record_scripts_.ack, queue_keys(queue), {id}, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&] { return write_result(outcome); });
    });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

void RedisStore::queue_length(const std::string& queue, sdk::StoreCompletion<sdk::CounterResult> done) try {
    const std::string due = queue_keys(queue).front();
    run_command("ZCARD", {"ZCARD", due}, due, [this, done](const RedisOutcome& outcome) {
        finish_with(done, [&]() -> sdk::CounterResult {
            if (!outcome.reply) return failed<sdk::CounterResult>(detail(outcome.failure));
            if (outcome.reply->type != REDIS_REPLY_INTEGER) {
                return failed<sdk::CounterResult>(
                    detail(unexpected_reply(std::string("ZCARD"), *outcome.reply)));
            }
            return {StoreStatus::ok, outcome.reply->integer, std::chrono::seconds(0), {}};
        });
    });
} catch (const std::exception& error) {
    finish_thrown(done, error);
}

}  // namespace testino::plugins
