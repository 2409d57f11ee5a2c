-- Memory case: iterate every response of a survey across pages against the sandbox and report
-- this process's peak resident set (VmHWM) and the Lua heap the iteration holds at its end. It
-- keeps the id of every item it yielded (so that it yields each exactly once), and nothing else
-- that grows with the listing.
--
--   lua memory.lua SEED_FILE SURVEY_ID N
--
-- The sandbox (its own process, not measured) is started with the seed: one survey holding N
-- responses. Pages of 1,000 (the sandbox's maximum `limit`). Prints:
--   <responses seen> <seconds> <peak RSS kB before iterating> <peak RSS kB after> <Lua heap kB>
--   <live Lua heap kB the iteration holds at its end: after a full GC at the last item, less the
--   heap before it began>
--
--   lua memory.lua --set N
--
-- The baseline: the same figures for a bare Lua set of N ids of 24 hexadecimal digits
-- (`seen[id] = true`), what an iteration that yields every item exactly once must keep.
local core = require "cohort.core"

local function hwm()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

if arg[1] == "--set" then
  local n = assert(math.tointeger(tonumber(arg[2])), "usage: memory.lua --set N")
  collectgarbage("collect")
  local before = hwm()
  local heap0 = collectgarbage("count")
  local t0 = core.monotime()
  local seen = {}
  for i = 1, n do seen[("65f2aa00%016x"):format(i * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF)] = true end
  local dt = core.monotime() - t0
  local after, heap = hwm(), collectgarbage("count")
  collectgarbage("collect")
  local live = collectgarbage("count") - heap0
  local count = 0
  for _ in pairs(seen) do count = count + 1 end
  print(string.format("%d %.3f %d %d %.0f %.0f", count, dt, before, after, heap, live))
  return
end

local seed, survey, n = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
assert(seed and survey and n, "usage: memory.lua SEED SURVEY_ID N")

local sb = assert(require("cohort.sandbox").start { seed = seed, timeout = 120 })
local p = require("cohort").prolific { token = sb.token, base_url = sb.url }
if not (p.surveys and p.surveys.each_responses) then
  sb:stop()
  error("p.surveys:each_responses is missing: the survey-response routes are not there yet")
end
collectgarbage("collect")
local before = hwm()
local heap0 = collectgarbage("count")
local t0 = core.monotime()
local count, live, paused = 0, nil, 0
for r in p.surveys:each_responses(survey, { limit = 1000 }) do
  count = count + 1
  assert(r.id)
  if count == n then -- what the iteration holds at its end (the iterator is alive here): a full GC
    local g0 = core.monotime()
    collectgarbage("collect")
    live = collectgarbage("count") - heap0
    paused = core.monotime() - g0
  end
end
local dt = core.monotime() - t0 - paused
local after = hwm()
local heap = collectgarbage("count")
sb:stop()
assert(count == n, ("expected %d responses, saw %d"):format(n, count))
print(string.format("%d %.3f %d %d %.0f %.0f", count, dt, before, after, heap, live))
