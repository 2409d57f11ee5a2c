-- Fault injection for the sandbox: make chosen routes misbehave, repeatably.
--
-- A rule: { path = "/api/v1/submissions/" (a prefix of the decoded path; "*" for any),
--           method = "GET" (optional), fault = <one of FAULTS>, times = N (the first N matching
--           requests; default every one), rate = p (each matching request with probability p,
--           drawn from the seeded generator; default 1), retry_after = seconds (for "429-retry-after"),
--           stall_ms = ms (for "stall"; default 10000),
--           drip_ms = ms, drip_bytes = n (for "drip": the body in pieces of n bytes, one every
--           ms; default 1 byte every 100 ms) }
-- Faults that answer instead of the route ("429", "429-retry-after", "500", "502", "503", "504")
-- do not run the route's handler; the others ("reset", "truncate", "malformed", "stall", "drip") run it
-- and then spoil the answer — the server did the work, the client never hears of it properly.
--
-- Set by `--fault METHOD:PATH:FAULT[:times=N][:rate=P]` (repeatable) with `--fault-seed N`, or
-- through the control API: POST /__sandbox/faults {"rules": [...], "seed": N}, GET, DELETE.
local util = require "cohort.sandbox.util"

local M = {}

M.FAULTS = {
  ["429"] = true, ["429-retry-after"] = true, ["500"] = true, ["502"] = true, ["503"] = true,
  ["504"] = true, reset = true, truncate = true, malformed = true, stall = true, drip = true,
}

local HTML = '<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center>'
  .. '<hr><center>nginx</center></body></html>'
local REASON = { [500] = "Internal Server Error", [502] = "Bad Gateway",
  [503] = "Service Temporarily Unavailable", [504] = "Gateway Time-out" }

--- A new fault state with a seeded generator (xorshift32, so runs repeat exactly).
function M.new(seed)
  return { rules = {}, rng = (tonumber(seed) or 1) & 0xffffffff, seed = tonumber(seed) or 1 }
end

local function random(state)
  local x = state.rng
  if x == 0 then x = 2463534242 end
  x = x ~ ((x << 13) & 0xffffffff)
  x = x ~ (x >> 17)
  x = x ~ ((x << 5) & 0xffffffff)
  state.rng = x
  return x / 4294967296
end

--- Check and add a rule; returns nil, message on a bad rule.
function M.add(state, rule)
  if type(rule) ~= "table" then return nil, "a rule must be an object" end
  if not M.FAULTS[tostring(rule.fault)] then
    return nil, "fault must be one of 429, 429-retry-after, 500, 502, 503, 504, reset, truncate, "
      .. "malformed, stall, drip (got " .. tostring(rule.fault) .. ")"
  end
  if type(rule.path) ~= "string" or rule.path == "" then return nil, "path must be a string" end
  if rule.times ~= nil and (tonumber(rule.times) == nil or tonumber(rule.times) < 0) then
    return nil, "times must be a number >= 0"
  end
  if rule.rate ~= nil and (tonumber(rule.rate) == nil or rule.rate < 0 or rule.rate > 1) then
    return nil, "rate must be between 0 and 1"
  end
  state.rules[#state.rules + 1] = {
    path = rule.path, method = rule.method and rule.method:upper() or nil, fault = tostring(rule.fault),
    times = rule.times and math.tointeger(tonumber(rule.times)) or nil, rate = rule.rate,
    retry_after = rule.retry_after or 1, stall_ms = rule.stall_ms or 10000, hits = 0,
    drip_ms = tonumber(rule.drip_ms) or 100, drip_bytes = tonumber(rule.drip_bytes) or 1,
  }
  return true
end

--- Parse a --fault flag: METHOD:PATH:FAULT[:times=N][:rate=P] (METHOD may be * or empty).
function M.parse_flag(text)
  local parts = {}
  for piece in (text .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = piece end
  if #parts < 3 then return nil, "--fault needs METHOD:PATH:FAULT" end
  local rule = { method = (parts[1] ~= "" and parts[1] ~= "*") and parts[1] or nil, path = parts[2],
    fault = parts[3] }
  for i = 4, #parts do
    local k, v = parts[i]:match("^([%w_]+)=(.*)$")
    if not k then return nil, "--fault: bad option " .. parts[i] end
    rule[k] = tonumber(v) or v
  end
  return rule
end

--- The rule that fires for this request, if any (counting it).
function M.match(state, ctx)
  for _, rule in ipairs(state.rules) do
    if (rule.path == "*" or ctx.path:sub(1, #rule.path) == rule.path)
        and (rule.method == nil or rule.method == ctx.req.method)
        and (rule.times == nil or rule.hits < rule.times)
        and not ctx.path:find("^/__sandbox/") then
      if rule.rate == nil or random(state) < rule.rate then
        rule.hits = rule.hits + 1
        return rule
      end
    end
  end
end

--- Does this fault answer in place of the route?
function M.replaces(rule)
  return tonumber(rule.fault:sub(1, 3)) ~= nil
end

--- The answer of a fault that replaces the route.
function M.answer(rule)
  if rule.fault == "429" or rule.fault == "429-retry-after" then
    local status, headers, body = util.prolific_error(429, "Request was throttled.")
    if rule.fault == "429-retry-after" then headers["Retry-After"] = ("%d"):format(rule.retry_after) end
    return status, headers, body
  end
  local code = tonumber(rule.fault)
  return code, { ["Content-Type"] = "text/html" }, HTML:format(code, REASON[code], code, REASON[code])
end

--- Spoil an answer the route gave.
function M.spoil(rule, status, headers, body, opts)
  opts = opts or {}
  if rule.fault == "malformed" then
    body = body:sub(1, math.max(1, #body // 2)) .. '"}{,'
  elseif rule.fault == "stall" then
    opts.delay = math.max(opts.delay or 0, rule.stall_ms)
  elseif rule.fault == "drip" then
    opts.drip, opts.drip_bytes = rule.drip_ms, rule.drip_bytes -- sent by the C server
  else
    opts.fault = rule.fault -- reset / truncate: done by the C server while sending
    if #body < 2 then body = body .. (" "):rep(64) end
  end
  return status, headers, body, opts
end

--- The rules as data (for GET /__sandbox/faults).
function M.export(state)
  local out = {}
  for i, r in ipairs(state.rules) do
    out[i] = { path = r.path, method = r.method or util.null, fault = r.fault, times = r.times or util.null,
      rate = r.rate or util.null, hits = r.hits }
  end
  return { seed = state.seed, rules = util.array(out) }
end

return M
