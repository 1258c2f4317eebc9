-- POST /api/v1/auth/send-otp, a new phone number for every request (so no per-number
-- limit can trigger). Also drives the floor server and fills the store with pending codes.
-- Keys (after "--"): start=N first number index of this run; span=N numbers reserved per
-- thread (default 4,000,000; thread t uses start + t*span ...); quota=N stop each thread
-- after N requests (0 = run for the whole duration); keepalive=1; expect=200.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local opts, headers, next_index, quota
local sent = 0
local extra = {}

function init(args)
  opts = common.parse_args(args)
  local span = tonumber(opts.span or "4000000")
  next_index = tonumber(opts.start or "0") + thread_id * span
  quota = tonumber(opts.quota or "0")
  headers = common.headers(opts, true)
  common.publish(opts, extra)
end

function request()
  if quota > 0 and sent >= quota then
    common.stop(extra, "stopped_at_quota")
  end
  sent = sent + 1
  local body = string.format('{"country_code":"+1","mobile_number":"%s"}',
                             common.national_number(next_index))
  next_index = next_index + 1
  return wrk.format("POST", "/api/v1/auth/send-otp", headers, body)
end

function response(status)
  common.count(status)
end
