-- GET /api/v1/health. Keys (after "--"): keepalive=1; expect=200.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup
done = common.done

local req

function init(args)
  local opts = common.parse_args(args)
  req = wrk.format("GET", "/api/v1/health", common.headers(opts, false), nil)
  common.publish(opts, {})
end

function request()
  return req
end

function response(status)
  common.count(status)
end
