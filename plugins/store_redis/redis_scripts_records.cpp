// The Lua scripts of records and queues (plugin ABI 8); the layout is in redis_scripts.hpp.
#include "redis_scripts.hpp"

namespace testino::plugins {
namespace {

// GET before SET: a claim of a key that is held writes nothing, so a Redis out of memory
// (maxmemory, noeviction) still answers it; only a claim that would create is refused.
// Atomic like every script: of concurrent claims exactly one finds the key free.
constexpr const char* kClaimScript = R"lua(
local held = redis.call('GET', KEYS[1])
if held then return {0, held} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
)lua";

// The bound counts items, not bytes; a replaced item does not count twice. HSET comes
// first: a refused write (out of memory) leaves the queue as it was.
constexpr const char* kEnqueueBody = R"lua(
local now = now_ms()
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  return 0
end
redis.call('HSET', KEYS[2], 'p:' .. ARGV[1], ARGV[2], 'a:' .. ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
return 1
)lua";

// The due ids are read first and re-filed after, so a lease of 0 cannot hand out the same
// item twice in one claim. An id without a payload (written by hand, half deleted) is
// dropped rather than handed out empty forever.
constexpr const char* kClaimDueBody = R"lua(
local now = now_ms()
local lease = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], 'p:' .. id)
  if payload then
    redis.call('ZADD', KEYS[1], now + lease, id)
    out[#out + 1] = id
    out[#out + 1] = payload
    out[#out + 1] = redis.call('HINCRBY', KEYS[2], 'a:' .. id, 1)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], 'a:' .. id)
  end
end
return out
)lua";

constexpr const char* kAckScript = R"lua(
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'p:' .. ARGV[1], 'a:' .. ARGV[1])
return 1
)lua";

}  // namespace

RedisRecordScripts::RedisRecordScripts()
    : claim(make_script("record_claim", kClaimScript)),
      enqueue(make_script("enqueue", std::string(kLuaNowMs) + kEnqueueBody)),
      claim_due(make_script("claim_due", std::string(kLuaNowMs) + kClaimDueBody)),
      ack(make_script("ack", kAckScript)) {}

}  // namespace testino::plugins
