-- A frame loop that never blocks: 100 API calls complete while frames keep being drawn.
--
--   PROLIFIC_TOKEN=... [PROLIFIC_URL=...] lua5.4 examples/game_loop.lua [CALLS]
--
-- Each call is a task (p:spawn); p:poll() once per frame advances every transfer and resumes
-- the tasks whose answers arrived. Against the sandbox, set a latency first to see it clearly:
-- make demo does, with 200 ms per request.
local cohort = require "cohort"
local core = require "cohort.core"

local p = cohort.prolific()
local calls = tonumber(arg[1]) or 100
local FRAME = 1 / 60

-- The participant ids of a study, to look up one submission per call.
local subs = assert(p.submissions:all { study = os.getenv("COHORT_STUDY") or "60aca280709ee40ec37d4885" })

local done, failed, frames = 0, 0, 0
local slowest_poll = 0
for i = 1, calls do
  local sub = subs[(i - 1) % #subs + 1]
  local task = p:spawn(function()
    local got = assert(p.submissions:get(sub.id))
    return got.status
  end)
  task.on_done = function() done = done + 1 end
  task.on_error = function() failed = failed + 1 end
end

local start = core.monotime()
while done + failed < calls do
  local t = core.monotime()
  p:poll()                                   -- never blocks
  slowest_poll = math.max(slowest_poll, core.monotime() - t)
  frames = frames + 1
  if frames % 30 == 0 then
    io.write(("\rframe %4d  calls done %3d/%d"):format(frames, done + failed, calls))
    io.flush()
  end
  -- the rest of the frame: draw, then sleep what is left of 1/60 s
  local left = FRAME - (core.monotime() - t)
  if left > 0 then os.execute(("sleep %.3f"):format(left)) end
end
local elapsed = core.monotime() - start
print(("\rframe %4d  calls done %3d/%d"):format(frames, done + failed, calls))
print(("%d calls completed (%d failed) in %.2f s over %d frames; the slowest poll() took %.1f ms")
  :format(done + failed, failed, elapsed, frames, slowest_poll * 1000))
