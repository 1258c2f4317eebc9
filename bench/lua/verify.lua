-- POST /api/v1/auth/verify-otp over a pool of numbers that hold a pending code.
-- The pool comes from the server's console SMS log (bench/bench.py extracts it): one file
-- per wrk thread, "<pool>.<thread>", fixed-width records (see RECORD below).
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

-- Pool files hold fixed-width records, so a thread can start anywhere without reading
-- what comes before: init() must stay cheap, because wrk starts thread 0 before it runs
-- thread 1's init(), and a slow init would hand thread 0 extra, uncounted time.
local RECORD = 22   -- 10-digit national number, a space, the code left-justified in 10, "\n"
local CHUNK = 2048  -- records read at a time

local opts, headers, right, file, records
local buffer, buffered, next_in_buffer = nil, 0, 1
local position  -- index of the next record (0-based) in this thread's pool file
local extra = {}
local consumed_key

local function wrong_code(code)
  return (code:gsub("%d", function(d) return tostring((tonumber(d) + 1) % 10) end))
end

function init(args)
  opts = common.parse_args(args)
  right = opts.mode == "right"
  headers = common.headers(opts, true)
  file = assert(io.open(opts.pool .. "." .. thread_id, "rb"))
  records = math.floor(file:seek("end") / RECORD)
  assert(records > 0, "empty pool file " .. opts.pool .. "." .. thread_id)
  local offsets = {}
  for o in (opts.offset or ""):gmatch("%d+") do table.insert(offsets, tonumber(o)) end
  position = offsets[thread_id + 1] or 0
  consumed_key = "consumed_" .. thread_id
  extra[consumed_key] = 0
  common.publish(opts, extra)
end

-- The next pool entry, or nil when the pool is used up (right mode) - wrong mode wraps.
local function next_entry()
  if next_in_buffer > buffered then
    if position >= records then
      if right then return nil end
      extra["wrapped"] = 1
    end
    local start = position % records
    file:seek("set", start * RECORD)
    buffer = file:read(math.min(CHUNK, records - start) * RECORD)
    buffered = #buffer / RECORD
    next_in_buffer = 1
  end
  local at = (next_in_buffer - 1) * RECORD
  next_in_buffer = next_in_buffer + 1
  position = position + 1
  local number = buffer:sub(at + 1, at + 10)
  local code = buffer:sub(at + 12, at + 21):match("%d+")
  return number, code
end

function request()
  local number, code = next_entry()
  if number == nil then
    -- Every code of this thread's pool is used: stop rather than send a spent one.
    common.stop(extra, "exhausted")
    return wrk.format("GET", "/api/v1/health", headers, nil)
  end
  extra[consumed_key] = extra[consumed_key] + 1
  if not right then code = wrong_code(code) end
  local body = string.format('{"country_code":"+1","mobile_number":"%s","otp":"%s"}',
                             number, code)
  return wrk.format("POST", "/api/v1/auth/verify-otp", headers, body)
end

function response(status)
  common.count(status)
end
