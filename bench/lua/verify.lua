-- POST /api/v1/auth/verify-otp over a pool of numbers that hold a pending code.
-- The pool comes from the server's console SMS log (bench/bench.py extracts it): one file
-- per wrk thread, "<pool>.<thread>", each line "<national number> <code>".
-- Keys (after "--"):
--   pool=PREFIX      the pool files' prefix
--   offset=a,b,...   where each thread starts in its pool file (bench.py advances it run
--                    by run, so no number is used twice before the pool wraps)
--   mode=wrong       send a wrong code (each digit + 1 mod 10): expect 400 INVALID_OTP.
--                    The pool wraps when it runs out; a number guessed otp.max_attempts
--                    times answers 429, which the row reports as unexpected.
--   mode=right       send the right code: expect 200 and a token. Each code is consumed
--                    by its first use, so the thread stops when its pool runs out.
--   keepalive=1; expect=...
-- extra counters: consumed_<thread> (pool entries used), wrapped, exhausted.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local numbers, codes = {}, {}
local opts, headers, position, right
local extra = {}
local consumed_key

local function wrong_code(code)
  return (code:gsub("%d", function(d) return tostring((tonumber(d) + 1) % 10) end))
end

function init(args)
  opts = common.parse_args(args)
  right = opts.mode == "right"
  headers = common.headers(opts, true)
  local file = assert(io.open(opts.pool .. "." .. thread_id, "r"))
  for line in file:lines() do
    local number, code = line:match("^(%d+) (%d+)$")
    if number then
      table.insert(numbers, number)
      table.insert(codes, right and code or wrong_code(code))
    end
  end
  file:close()
  assert(#numbers > 0, "empty pool file " .. opts.pool .. "." .. thread_id)
  local offsets = {}
  for o in (opts.offset or ""):gmatch("%d+") do table.insert(offsets, tonumber(o)) end
  position = offsets[thread_id + 1] or 0
  consumed_key = "consumed_" .. thread_id
  extra[consumed_key] = 0
  common.publish(opts, extra)
end

function request()
  local i = position % #numbers + 1
  if position >= #numbers then
    if right then
      -- Every code of this thread's pool is used: stop rather than send a spent one.
      common.stop(extra, "exhausted")
    else
      extra["wrapped"] = 1
    end
  end
  position = position + 1
  extra[consumed_key] = extra[consumed_key] + 1
  local body = string.format('{"country_code":"+1","mobile_number":"%s","otp":"%s"}',
                             numbers[i], codes[i])
  return wrk.format("POST", "/api/v1/auth/verify-otp", headers, body)
end

function response(status)
  common.count(status)
end
