#include "redis_scripts.hpp"

#include <openssl/evp.h>

#include "testino/otp_store.hpp"

namespace testino::plugins {

// Times are ms since the epoch from Redis's own clock (TIME), so every server instance
// agrees.
const char* const kLuaNowMs = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end)lua";

namespace {

// Shared by the code and refresh scripts (after kLuaNowMs). same() compares digests and flow tags in
// constant time: every byte is looked at whatever the first difference, and the result is
// one accumulated value.
constexpr const char* kCompare = R"lua(
local function same(a, b)
  if type(a) ~= 'string' or type(b) ~= 'string' or #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return diff == 0
end)lua";

// Shared by the three code scripts (each script is time_and_compare(), this and its own body).
// load() reads the hash into
// {cur = {d, f, x}, prev = {d, f, y, z, b} or nil, left}; save() writes it back whole (so a
// code of the ABI 4 layout is converted on its first write) with one HSET, which a Redis
// out of memory (maxmemory, noeviction) refuses before changing anything, and sets the
// key's TTL to the later end, deleting the key when both ended.
constexpr const char* kCodePrelude = R"lua(
local function load(key, now)
  local h = redis.call('HMGET', key, 'd', 'n', 'f', 'x', 'a', 'p', 'q', 'y', 'z', 'b')
  if not h[1] then return nil end
  local s = {left = tonumber(h[5]) or 0}
  if h[2] == h[1] and tonumber(h[4]) then
    s.cur = {d = h[1], f = h[3] or '', x = tonumber(h[4])}
    if h[6] and tonumber(h[8]) then
      s.prev = {d = h[6], f = h[7] or '', y = tonumber(h[8]), z = tonumber(h[9]) or tonumber(h[8]),
                b = tonumber(h[10]) or 0}
    end
  else
    s.cur = {d = h[1], f = '', x = now + math.max(redis.call('PTTL', key), 0)}
  end
  return s
end
local function save(key, s, now)
  local last = s.cur.x
  if s.prev and s.prev.y > last then last = s.prev.y end
  if last <= now then
    redis.call('DEL', key)
    return
  end
  local fields = {'d', s.cur.d, 'n', s.cur.d, 'f', s.cur.f, 'x', s.cur.x, 'a', s.left}
  if s.prev then
    for _, v in ipairs({'p', s.prev.d, 'q', s.prev.f, 'y', s.prev.y, 'z', s.prev.z, 'b', s.prev.b}) do
      fields[#fields + 1] = v
    end
  end
  redis.call('HSET', key, unpack(fields))  -- first and whole: a refused write changes nothing
  if not s.prev then redis.call('HDEL', key, 'p', 'q', 'y', 'z', 'b') end
  redis.call('PEXPIRE', key, last - now)
end
)lua";

// A live code that is not dead stays beside the new one until min(its expiry, now +
// overlap); an older previous code is dropped. A TTL of 0 with nothing kept deletes the key.
constexpr const char* kPutBody = R"lua(
local now = now_ms()
local attempts = tonumber(ARGV[3])
local overlap = tonumber(ARGV[5])
local s = load(KEYS[1], now)
local prev = nil
if s and overlap > 0 and attempts > 0 and s.left > 0 and s.cur.x > now then
  prev = {d = s.cur.d, f = s.cur.f, y = math.min(s.cur.x, now + overlap), z = s.cur.x, b = s.left}
end
save(KEYS[1], {cur = {d = ARGV[1], f = ARGV[2], x = now + tonumber(ARGV[4])}, prev = prev, left = attempts}, now)
return 1
)lua";

// A flow tag of "" (asked with none, or a code of the ABI 4 layout) matches any flow.
constexpr const char* kVerifyBody = R"lua(
local now = now_ms()
local s = load(KEYS[1], now)
if not s then return {0, 0, 0} end
local prev_live = s.prev ~= nil and s.prev.y > now
if s.cur.x <= now and not prev_live then
  redis.call('DEL', KEYS[1])
  return {0, 0, 0}
end
if s.left <= 0 then return {3, 0, s.cur.x - now} end  -- dead: no previous code, cur.x is live
local function matches(code)
  local digest_equal = same(code.d, ARGV[1])
  local flow_equal = ARGV[2] == '' or code.f == '' or same(code.f, ARGV[2])
  return digest_equal and flow_equal
end
-- The attempt is taken before the comparison: a Redis that refuses writes (out of memory)
-- refuses the guess too, instead of letting wrong guesses be tried for free.
redis.call('HINCRBY', KEYS[1], 'a', -1)
local cur_hit = matches(s.cur) and s.cur.x > now
local prev_hit = prev_live and matches(s.prev)
if cur_hit or prev_hit then
  redis.call('DEL', KEYS[1])
  return {1, s.left, 0}
end
s.left = s.left - 1
if s.left <= 0 then s.prev = nil end
save(KEYS[1], s, now)
return {2, s.left, 0}
)lua";

// The replacement never went out: the code it replaced, while still live, is current again
// with its own expiry and at most the attempts it had.
constexpr const char* kRemoveBody = R"lua(
local now = now_ms()
local s = load(KEYS[1], now)
if not s then return 0 end
if same(s.cur.d, ARGV[1]) then
  if s.prev and s.prev.y > now then
    s.cur = {d = s.prev.d, f = s.prev.f, x = s.prev.z}
    s.left = math.min(s.left, s.prev.b)
    s.prev = nil
    save(KEYS[1], s, now)
    return 2
  end
  redis.call('DEL', KEYS[1])
  return 1
end
if s.prev and same(s.prev.d, ARGV[1]) then
  s.prev = nil
  save(KEYS[1], s, now)
  return 3
end
return 0
)lua";

// A missing counter starts at 0 with the window from now; reads (amount <= 0) create
// nothing, and a read writes nothing (so it works on a Redis out of memory). INCRBY keeps
// the key's TTL, so the first window holds (and it works on any Redis version, unlike
// SET ... KEEPTTL). The value never goes below 0.
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
if value ~= tonumber(current) then redis.call('INCRBY', KEYS[1], value - tonumber(current)) end
return {value, redis.call('PTTL', KEYS[1])}
)lua";

// --- refresh-token families (redis_scripts.hpp has the hash) ------------------------------

// A family id is never reused, so an existing one is replaced whole: one HSET of every
// field, which a Redis out of memory refuses before anything changed.
constexpr const char* kRefreshCreateBody = R"lua(
local now = now_ms()
local ends = now + tonumber(ARGV[4])
local expires = math.min(now + tonumber(ARGV[3]), ends)
if expires <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 's', ARGV[2], 'c', ARGV[1], 'e', ends, 'r', 0, 'p', '')
redis.call('PEXPIRE', KEYS[1], expires - now)
return 1
)lua";

// history_max (kRefreshHistoryMin) is prepended. Every kept digest is compared, whatever
// matched, so the timing shows neither which one matched nor whether one did.
constexpr const char* kRefreshRotateBody = R"lua(
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 's', 'c', 'p', 'r', 'e')
if not h[2] then return {0, 0, ''} end
local history = h[3] or ''
local count = math.floor(#history / 32)
local old, newest = false, false
for i = 1, count do
  local hit = same(string.sub(history, (i - 1) * 32 + 1, i * 32), ARGV[1])
  old = old or hit
  newest = newest or (hit and i == count)
end
if same(h[2], ARGV[1]) then
  history = history .. h[2]
  if #history > history_max * 32 then history = string.sub(history, #history - history_max * 32 + 1) end
  local expires = math.min(now + tonumber(ARGV[3]), tonumber(h[5]) or now)
  if expires <= now then
    redis.call('DEL', KEYS[1])
    return {1, 0, h[1] or ''}
  end
  redis.call('HSET', KEYS[1], 'c', ARGV[2], 'p', history, 'r', now)
  redis.call('PEXPIRE', KEYS[1], expires - now)
  return {1, expires - now, h[1] or ''}
end
-- A concurrent refresh with the same token won a moment ago: its client holds the next one.
if newest and now - (tonumber(h[4]) or 0) < tonumber(ARGV[4]) then return {3, 0, ''} end
-- A token replayed after it was rotated away has leaked: the whole family goes.
if old then
  redis.call('DEL', KEYS[1])
  return {2, 0, ''}
end
return {0, 0, ''}
)lua";

constexpr const char* kRefreshRevokeBody = R"lua(
local h = redis.call('HMGET', KEYS[1], 'c', 'p')
if not h[1] then return 0 end
local history = h[2] or ''
local hit = same(h[1], ARGV[1])
for i = 1, math.floor(#history / 32) do
  hit = same(string.sub(history, (i - 1) * 32 + 1, i * 32), ARGV[1]) or hit
end
if not hit then return 0 end
redis.call('DEL', KEYS[1])
return 1
)lua";

std::string time_and_compare() { return std::string(kLuaNowMs) + kCompare; }

}  // namespace

RedisScript make_script(const char* name, std::string body) {
    std::string sha1 = script_sha1(body);
    return {name, std::move(body), std::move(sha1)};
}

std::string script_sha1(const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(body.data(), body.size(), digest, &size, EVP_sha1(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0x0F]);
    }
    return out;
}

RedisScripts::RedisScripts()
    : put(make_script("put", time_and_compare() + kCodePrelude + kPutBody)),
      verify(make_script("verify", time_and_compare() + kCodePrelude + kVerifyBody)),
      remove(make_script("remove", time_and_compare() + kCodePrelude + kRemoveBody)),
      counter(make_script("counter", kCounterScript)),
      refresh_create(make_script("refresh_create", time_and_compare() + kRefreshCreateBody)),
      refresh_rotate(make_script("refresh_rotate", time_and_compare() + "\nlocal history_max = " +
                                                       std::to_string(sdk::kRefreshHistoryMin) +
                                                       kRefreshRotateBody)),
      refresh_revoke(make_script("refresh_revoke", time_and_compare() + kRefreshRevokeBody)) {}

}  // namespace testino::plugins
