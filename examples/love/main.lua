-- A reaction-time task in LÖVE 11 that saves every trial as a Prolific survey response through
-- cohort's non-blocking API: the frame loop never waits for the network.
--
--   COHORT_ROOT=/path/to/cohort PROLIFIC_TOKEN=... love examples/love [options]
--
-- Options (after the game directory; LÖVE passes them in `arg`):
--   --sandbox URL        the API base URL (default: $PROLIFIC_URL, else Prolific itself)
--   --token TOKEN        the API token (default: $PROLIFIC_TOKEN)
--   --survey ID          the survey to post to (default: create one named "Reaction time")
--   --participant ID     the participant id and --submission ID the submission id of the
--                        responses (on Prolific, from the study URL's PROLIFIC_PID / SESSION_ID)
--   --trials N           trials in the session (default 10)
--   --frames N           headless: simulate the participant (random reaction times), run N
--                        frames, then wait up to 10 s for the last saves and quit; the exit
--                        status is 0 when every trial was saved
--
-- Finding cohort: LÖVE's `require` looks in the game directory, so main.lua adds cohort to
-- package.path / package.cpath before requiring it:
--   COHORT_ROOT   the cohort tree (default: two directories above this game, the repository)
--   COHORT_LUA_PATH, COHORT_LUA_CPATH   explicit search paths, if cohort is installed elsewhere
--                 (default: $COHORT_ROOT/lua/?.lua;… and $COHORT_ROOT/build/jit/?.so — the core
--                 built for LuaJIT, the Lua of LÖVE: `make build/jit/cohort/core.so`)
-- cohort.core also needs lua-cjson for LuaJIT/5.1 (Debian: lua-cjson).
do
  local root = os.getenv("COHORT_ROOT")
  if not root and love and love.filesystem then
    root = (love.filesystem.getSource() or "."):gsub("/+$", "") .. "/../.."
  end
  root = root or "."
  local lpath = os.getenv("COHORT_LUA_PATH") or (root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua")
  local cpath = os.getenv("COHORT_LUA_CPATH") or (root .. "/build/jit/?.so")
  package.path = lpath .. ";" .. package.path
  package.cpath = cpath .. ";" .. package.cpath
end

local cohort = require "cohort"

local PARTICIPANT = "60bf9310e8dec401be6e9615" -- sandbox dataset ids; on Prolific, from the URL
local SUBMISSION = "625d4a831bcda2d59ac5a251"

-- The survey's questions: one response per trial.
local RT_BINS = { { 0, 0.2, "< 200 ms" }, { 0.2, 0.3, "200-299 ms" }, { 0.3, 0.4, "300-399 ms" },
  { 0.4, 0.5, "400-499 ms" }, { 0.5, 0.6, "500-599 ms" }, { 0.6, 0.8, "600-799 ms" },
  { 0.8, math.huge, "800 ms or more" } }
local function survey_definition(researcher_id)
  local rt = {}
  for i, b in ipairs(RT_BINS) do rt[i] = { value = b[3] } end
  return { researcher_id = researcher_id, title = "Reaction time", questions = {
    { title = "Stimulus", type = "single", answers = { { value = "left" }, { value = "right" } } },
    { title = "Outcome", type = "single", answers = { { value = "hit" }, { value = "wrong key" },
      { value = "too early" }, { value = "miss" } } },
    { title = "Reaction time", type = "single", answers = rt },
  } }
end

local function rt_bin(rt)
  for _, b in ipairs(RT_BINS) do
    if rt >= b[1] and rt < b[2] then return b[3] end
  end
  return RT_BINS[#RT_BINS][3]
end

-- Options ------------------------------------------------------------------------------------

local opts = { trials = 10 }
local function parse_args(args)
  local i = 1
  while args and args[i] do
    local a, v = args[i], args[i + 1]
    if a == "--sandbox" then opts.url = v; i = i + 2
    elseif a == "--token" then opts.token = v; i = i + 2
    elseif a == "--survey" then opts.survey = v; i = i + 2
    elseif a == "--participant" then opts.participant = v; i = i + 2
    elseif a == "--submission" then opts.submission = v; i = i + 2
    elseif a == "--trials" then opts.trials = assert(tonumber(v), "--trials N"); i = i + 2
    elseif a == "--frames" then opts.frames = assert(tonumber(v), "--frames N"); i = i + 2
    else i = i + 1 end -- LÖVE's own arguments (the game directory, --fused, …)
  end
end

-- State --------------------------------------------------------------------------------------

local p                      -- the Prolific client
local survey                 -- the Survey object, once loaded or created
local status = "connecting"  -- what the screen says
local saved, failed, pending = 0, 0, 0
local results = {}           -- trial number -> "saved" | error text
local trial_no = 0
local phase, phase_t = "start", 0  -- start | wait | stimulus | feedback | done
local stimulus, outcome, rt, feedback = nil, nil, nil, ""
local sim_key_at, sim_key    -- headless: when the simulated participant presses which key
local frames, drain_started, next_frame_at = 0, nil, nil
local finished = 0           -- trials answered (or missed), whether saved yet or not
local clock = 0
local log_lines = {}

local function log(fmt, ...)
  local line = fmt:format(...)
  log_lines[#log_lines + 1] = line
  if #log_lines > 6 then table.remove(log_lines, 1) end
  io.write("cohort-love: ", line, "\n")
  io.flush()
end

local headless = false
local function timing(interactive, simulated) return headless and simulated or interactive end

-- Save one trial as a survey response; never blocks: a task posts it while frames go on.
local function save_trial(n, trial)
  finished = finished + 1
  pending = pending + 1
  local task = p:spawn(function()
    return assert(survey:add_response { participant_id = opts.participant or PARTICIPANT,
      submission_id = opts.submission or SUBMISSION, answers = {
        Stimulus = trial.stimulus, Outcome = trial.outcome,
        ["Reaction time"] = rt_bin(trial.rt or math.huge) } })
  end)
  task.on_done = function()
    pending, saved = pending - 1, saved + 1
    results[n] = "saved"
  end
  task.on_error = function(err)
    pending, failed = pending - 1, failed + 1
    results[n] = tostring(err)
    log("trial %d not saved: %s", n, tostring(err))
  end
end

local function next_trial()
  if trial_no >= opts.trials then
    phase = "done"
    log("all %d trials run", opts.trials)
    return
  end
  trial_no = trial_no + 1
  phase, phase_t = "wait", timing(1 + love.math.random() * 2, 0.2 + love.math.random() * 0.2)
  stimulus, outcome, rt = (love.math.random() < 0.5) and "left" or "right", nil, nil
  sim_key_at, sim_key = nil, nil
end

local function respond(key)
  if phase == "wait" then
    outcome, rt = "too early", nil
  elseif phase == "stimulus" then
    local elapsed = clock - phase_t
    rt = elapsed
    outcome = (key == stimulus) and "hit" or "wrong key"
  else
    return
  end
  feedback = outcome == "hit" and ("%d ms"):format(math.floor(rt * 1000 + 0.5)) or outcome
  save_trial(trial_no, { stimulus = stimulus, outcome = outcome, rt = rt })
  phase, phase_t = "feedback", clock + timing(0.8, 0.15)
end

-- LÖVE callbacks -------------------------------------------------------------------------------

function love.load(args)
  parse_args(args)
  headless = opts.frames ~= nil
  love.math.setRandomSeed(os.time())
  love.graphics.setFont(love.graphics.newFont(20))
  local ok, client = pcall(cohort.prolific, { token = opts.token, base_url = opts.url })
  if not ok then
    status = tostring(client)
    log("%s", status)
    if headless then love.event.quit(2) end
    return
  end
  p = client
  log("cohort %s on %s; %s", cohort.VERSION or require("cohort.core").version,
    jit and jit.version or _VERSION, headless and ("headless, %d frames"):format(opts.frames) or "interactive")
  -- load (or create) the survey in a task: the window is up while the request is in flight
  local task = p:spawn(function()
    if opts.survey then return assert(p.surveys:get(opts.survey)) end
    local me = assert(p.users:me())
    return assert(p.surveys:create(survey_definition(me.id)))
  end)
  task.on_done = function(s)
    survey = s
    status = "ready"
    log("survey %s", s._id or s.id)
    phase, phase_t = "start", clock + timing(0, 0.1)
  end
  task.on_error = function(err)
    status = "no survey: " .. tostring(err)
    log("%s", status)
  end
end

function love.keypressed(key)
  if key == "escape" then love.event.quit(failed == 0 and pending == 0 and 0 or 1) return end
  if headless then return end
  if phase == "start" and survey and key == "space" then next_trial()
  elseif key == "left" or key == "right" then respond(key) end
end

function love.update(dt)
  frames = frames + 1
  clock = clock + dt
  if p then p:poll() end -- never blocks: advances transfers, resumes finished tasks

  if survey then
    if phase == "start" and headless and clock >= phase_t then next_trial()
    elseif phase == "wait" then
      phase_t = phase_t - dt
      if phase_t <= 0 then
        phase, phase_t = "stimulus", clock
        if headless then -- the simulated participant: a plausible reaction, mostly correct
          sim_key_at = clock + 0.15 + love.math.random() * 0.45
          sim_key = love.math.random() < 0.9 and stimulus or (stimulus == "left" and "right" or "left")
        end
      end
    elseif phase == "stimulus" then
      if headless and sim_key_at and clock >= sim_key_at then respond(sim_key)
      elseif clock - phase_t > 1.5 then
        outcome, rt, feedback = "miss", nil, "miss"
        save_trial(trial_no, { stimulus = stimulus, outcome = outcome })
        phase, phase_t = "feedback", clock + timing(0.8, 0.15)
      end
    elseif phase == "feedback" and clock >= phase_t then
      next_trial()
    end
  end

  if headless then
    if frames >= opts.frames and not drain_started then
      drain_started = love.timer.getTime()
      log("frame %d reached: %d/%d trials finished, %d saved, %d in flight", frames, finished,
        opts.trials, saved, pending)
    end
    if drain_started and (pending == 0 or love.timer.getTime() - drain_started > 10) then
      local all = finished == opts.trials and saved == opts.trials and failed == 0
      log("frames=%d trials=%d saved=%d failed=%d pending=%d survey=%s", frames, finished, saved,
        failed, pending, survey and (survey._id or survey.id) or "none")
      love.event.quit(all and 0 or 1)
    end
    -- 60 frames a second even where vsync does nothing (xvfb): sleep to the next 1/60 s mark
    local now = love.timer.getTime()
    next_frame_at = math.max((next_frame_at or now) + 1 / 60, now)
    if next_frame_at > now then love.timer.sleep(next_frame_at - now) end
  end
end

function love.draw()
  local w, h = love.graphics.getDimensions()
  love.graphics.clear(0.08, 0.08, 0.1)
  love.graphics.setColor(1, 1, 1)
  if phase == "stimulus" then
    love.graphics.circle("fill", stimulus == "left" and w * 0.25 or w * 0.75, h * 0.5, 40)
  elseif phase == "wait" then
    love.graphics.printf("+", 0, h * 0.5 - 12, w, "center")
  elseif phase == "feedback" then
    love.graphics.printf(feedback, 0, h * 0.5 - 12, w, "center")
  elseif phase == "start" then
    love.graphics.printf(survey and "Press space, then the arrow on the side of the dot"
      or status, 0, h * 0.5 - 12, w, "center")
  elseif phase == "done" then
    love.graphics.printf("Thank you!", 0, h * 0.5 - 12, w, "center")
  end
  -- the progress counter: trials saved on the platform so far
  love.graphics.setColor(0.6, 0.9, 0.6)
  love.graphics.print(("saved %d/%d"):format(saved, opts.trials), 12, 10)
  if pending > 0 then
    love.graphics.setColor(0.9, 0.9, 0.5)
    love.graphics.print(("%d in flight"):format(pending), 12, 36)
  end
  if failed > 0 then
    love.graphics.setColor(0.95, 0.5, 0.5)
    love.graphics.print(("%d not saved"):format(failed), 12, 62)
  end
  love.graphics.setColor(0.7, 0.7, 0.7)
  love.graphics.print(("trial %d/%d  frame %d"):format(trial_no, opts.trials, frames), w - 230, 10)
end

function love.quit()
  if p and pending > 0 then
    log("quitting with %d saves in flight", pending)
  end
  return false
end
