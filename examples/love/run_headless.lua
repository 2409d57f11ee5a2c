-- Runs the LÖVE reaction-time experiment headless (xvfb) against a fresh sandbox for a fixed
-- number of frames, then checks through the Lua API that every trial arrived as a survey
-- response. `make love-test` runs it; exit status 0 when all is well.
--
--   LOVE_FRAMES=480 LOVE_TRIALS=5 lua5.4 examples/love/run_headless.lua
--
-- Needs love (11.x), xvfb-run and cohort's core built for LuaJIT (build/jit/cohort/core.so, or
-- $COHORT_HOST_BUILD/cohort/core.so).
local cohort = require "cohort"
local sandbox = require "cohort.sandbox"

local FRAMES = tonumber(os.getenv("LOVE_FRAMES")) or 480
local TRIALS = tonumber(os.getenv("LOVE_TRIALS")) or 5
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local sb = assert(sandbox.start {})
local p = cohort.prolific { token = sb.token, base_url = sb.url }
local me = assert(p.users:me())
local survey = assert(p.surveys:create { researcher_id = me.id, title = "Reaction time (headless run)",
  questions = {
    { title = "Stimulus", type = "single", answers = { { value = "left" }, { value = "right" } } },
    { title = "Outcome", type = "single", answers = { { value = "hit" }, { value = "wrong key" },
      { value = "too early" }, { value = "miss" } } },
    { title = "Reaction time", type = "single", answers = {
      { value = "< 200 ms" }, { value = "200-299 ms" }, { value = "300-399 ms" },
      { value = "400-499 ms" }, { value = "500-599 ms" }, { value = "600-799 ms" },
      { value = "800 ms or more" } } },
  } })

local root = os.getenv("PWD") or "."
local cpath = (os.getenv("COHORT_HOST_BUILD") or (root .. "/build/jit")) .. "/?.so"
local cmd = ("COHORT_ROOT=%s COHORT_LUA_CPATH=%s xvfb-run -a love %s --sandbox %s --token %s --survey %s "
  .. "--frames %d --trials %d 2>&1"):format(q(root), q(cpath), q(root .. "/examples/love"), q(sb.url),
  q(sb.token), q(survey._id), FRAMES, TRIALS)
print("$ " .. cmd)
local h = io.popen(cmd .. '; echo "__exit=$?"', "r")
local out = h:read("*a")
h:close()
local code = tonumber(out:match("__exit=(%d+)%s*$"))
io.write((out:gsub("__exit=%d+%s*$", "")))

local responses = assert(p.surveys:all_responses(survey._id))
sb:stop()
local ok = code == 0 and #responses == TRIALS
print(("love exit status %s; %d/%d responses in the sandbox's survey %s: %s"):format(tostring(code),
  #responses, TRIALS, survey._id, ok and "OK" or "FAILED"))
os.exit(ok and 0 or 1)
