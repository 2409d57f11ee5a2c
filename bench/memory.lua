-- Memory case: iterate every response of a survey across pages against the sandbox and report
-- this process's peak resident set (VmHWM), which must not grow with the number of responses.
--
--   lua memory.lua SEED_FILE SURVEY_ID N
--
-- The sandbox (its own process, not measured) is started with the seed: one survey holding N
-- responses. Pages of 1,000 (the sandbox's maximum `limit`). Prints:
--   <responses seen> <seconds> <peak RSS kB before iterating> <peak RSS kB after> <Lua heap kB>
local seed, survey, n = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
assert(seed and survey and n, "usage: memory.lua SEED SURVEY_ID N")
local core = require "cohort.core"

local function hwm()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

local sb = assert(require("cohort.sandbox").start { seed = seed, timeout = 120 })
local p = require("cohort").prolific { token = sb.token, base_url = sb.url }
if not (p.surveys and p.surveys.each_responses) then
  sb:stop()
  error("p.surveys:each_responses is missing: the survey-response routes are not there yet")
end
collectgarbage("collect")
local before = hwm()
local t0 = core.monotime()
local count = 0
for r in p.surveys:each_responses(survey, { limit = 1000 }) do
  count = count + 1
  assert(r.id)
end
local dt = core.monotime() - t0
local after = hwm()
local heap = collectgarbage("count")
sb:stop()
assert(count == n, ("expected %d responses, saw %d"):format(n, count))
print(string.format("%d %.3f %d %d %.0f", count, dt, before, after, heap))
