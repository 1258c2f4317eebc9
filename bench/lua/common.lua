-- Shared by the bench scripts: argument parsing, phone numbers, status counting and the
-- done() hook that prints one machine-readable line for bench/bench.py.
--
-- Arguments (after wrk's "--") are key=value pairs:
--   keepalive=1      send "Connection: keep-alive" (default: no Connection header);
--   keepalive=close  send "Connection: close": a new connection (and TLS handshake) per request
--   expect=200,400   the statuses this row expects; anything else is counted as unexpected
-- plus the script's own keys (see each script).
local M = {}

function M.parse_args(args)
  local opts = {}
  for _, arg in ipairs(args or {}) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    if key then opts[key] = value end
  end
  return opts
end

-- Phone numbers: index -> a national number that libphonenumber accepts as a valid US
-- number (area code from the list, exchange 200..999, line 0000..9999; checked for every
-- exchange of every listed area code). 16 * 800 * 10000 = 128,000,000 distinct numbers.
local AREAS = {"202", "212", "312", "415", "617", "718", "305", "404",
               "512", "646", "213", "206", "303", "702", "713", "214"}
local PER_AREA = 800 * 10000
M.NUMBER_COUNT = #AREAS * PER_AREA

function M.national_number(i)
  local area = AREAS[math.floor(i / PER_AREA) % #AREAS + 1]
  local rest = i % PER_AREA
  return string.format("%s%03d%04d", area, 200 + math.floor(rest / 10000), rest % 10000)
end

function M.headers(opts, with_body)
  local h = {}
  if with_body then h["Content-Type"] = "application/json" end
  if opts.keepalive == "1" then h["Connection"] = "keep-alive" end
  if opts.keepalive == "close" then h["Connection"] = "close" end
  return h
end

-- setup() runs once per thread in the main Lua state: number the threads and keep them,
-- so done() can collect each thread's status counts.
local threads = {}
function M.setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
M.statuses = {}

function M.count(status)
  if M.stopped then return end
  M.statuses[status] = (M.statuses[status] or 0) + 1
end

local function expected_set(opts)
  local set = {}
  for s in (opts.expect or "200"):gmatch("%d+") do set[tonumber(s)] = true end
  return set
end

local function json_number(x)
  if x ~= x or x == math.huge then return "null" end
  return string.format("%.3f", x)
end

-- done() runs in the main state: read every thread's counts and print one line
-- "BENCHJSON {...}" (latencies in microseconds).
function M.done(summary, latency, _)
  local statuses, extra = {}, {}
  local opts = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses_out") or {}
    for status, n in pairs(counts) do
      statuses[status] = (statuses[status] or 0) + n
    end
    local t_opts = thread:get("opts_out")
    if t_opts then opts = t_opts end
    local t_extra = thread:get("extra_out") or {}
    for k, v in pairs(t_extra) do extra[k] = (extra[k] or 0) + v end
  end
  local expect = expected_set(opts)
  local expected, unexpected = 0, 0
  local parts = {}
  for status, n in pairs(statuses) do
    table.insert(parts, string.format('"%s":%d', tostring(status), n))
    if expect[tonumber(status)] then expected = expected + n else unexpected = unexpected + n end
  end
  local extra_parts = {}
  for k, v in pairs(extra) do table.insert(extra_parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"statuses":{%s},"expected":%d,"unexpected":%d,"extra":{%s},' ..
    '"latency_us":{"p50":%s,"p90":%s,"p99":%s,"p999":%s,"max":%s,"mean":%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ","), expected, unexpected, table.concat(extra_parts, ","),
    json_number(latency:percentile(50)), json_number(latency:percentile(90)),
    json_number(latency:percentile(99)), json_number(latency:percentile(99.9)),
    json_number(latency.max), json_number(latency.mean)))
end

-- Stop this thread for good: print a line bench.py counts (once every thread has stopped
-- it ends wrk early with SIGINT, so the reported duration is the real one) and stop the
-- event loop. The request returned alongside is never counted (see count()).
function M.stop(extra, reason)
  if M.stopped then return end
  M.stopped = true
  extra[reason] = 1
  io.write("BENCHSTOP\n")
  io.stdout:flush()
  wrk.thread:stop()
end

-- wrk copies only plain values out of a thread; each script calls this from response()
-- so the main state can read the counts at done() time.
function M.publish(opts, extra)
  statuses_out = M.statuses
  opts_out = opts
  extra_out = extra
end

return M
