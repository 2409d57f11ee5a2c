--- What happens in the sandbox when a submission or a study changes status, and what happens
-- on its own as sandbox time passes: the one place where a status change brings its money
-- (cohort.sandbox.prolific_money), its webhook event (cohort.sandbox.prolific_hooks) and its
-- timed events (cohort.sandbox.clock).
--
--     local lifecycle = require "cohort.sandbox.lifecycle"
--     local ok, s1, h1, b1 = lifecycle.submission_status(app, sub, "APPROVED")  -- 402 when short
--     lifecycle.schedule_study(app, study, publish_at)   -- SCHEDULED → ACTIVE on the clock
--     lifecycle.open(app)                                -- after a load, a reset or a seed
--     lifecycle.sync(app)                                -- new submissions join the clock
--
-- Every change of a submission's status goes through `submission_status` (the handlers'
-- transitions, bulk approval, screen-out, the simulation, the clock's own events), which:
--   * pays the reward when it becomes APPROVED (refused, and nothing changes, when the money is
--     not there), gives back the place's money when it is REJECTED, and when a RETURNED,
--     TIMED-OUT or SCREENED OUT submission's study no longer recruits;
--   * keeps the clock's events of the submission (keys of cohort.sandbox.clock):
--     `max_time:<id>` while it is RESERVED or ACTIVE — at its start + the study's
--     `maximum_allowed_time` minutes it becomes TIMED-OUT, releasing its place; and
--     `auto_approve:<id>` while it is AWAITING REVIEW — `clock.AUTO_APPROVE_AFTER` (21 days)
--     later Prolific approves it and pays;
--   * raises `submission.status.change` for the subscriptions of the study's workspace;
--   * completes a stopped study (AWAITING REVIEW) once nothing of it is left to review
--     (COMPLETED, `study.status.change`, the rest of its reserve released).
-- Simulated submissions (`s.sim`, cohort.sandbox.prolific) join the clock through `sync`: one
-- event `sim:<id>` at each of their next steps, so an advance plays them in time order with
-- everything else.
-- @module cohort.sandbox.lifecycle
local clockmod = require "cohort.sandbox.clock"

local M = {}

local function money() return require "cohort.sandbox.prolific_money" end
local function hooks() return require "cohort.sandbox.prolific_hooks" end
local function P() return require "cohort.sandbox.prolific" end

local TAKING = { RESERVED = true, ACTIVE = true }
-- a place that opens again for another participant
local REOPENS = { RETURNED = true, ["TIMED-OUT"] = true, ["SCREENED OUT"] = true }

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local function now(app) return app.clock and app.clock:now() or os.time() end

--- The study of a submission (nil when it has none).
function M.study_of(state, s)
  return find(state.studies, s.study_id)
end

--- The minutes a submission of `st` may take before it times out (the study's
-- `maximum_allowed_time`, else what Prolific would set: 4 × the estimate + 2).
function M.max_minutes(st)
  local mat = st and tonumber(st.maximum_allowed_time)
  if mat and mat > 0 then return mat end
  return (tonumber(st and st.estimated_completion_time) or 1) * 4 + 2
end

-- The sandbox time a submission started (its started_at), or `default`.
local function started(s, default)
  local t = clockmod.parse_iso(s.started_at)
  return t or default
end

local function schedule_max_time(app, s, st, t)
  local c = app.clock
  if not c then return end
  local key = clockmod.key("max_time", s.id)
  if c:when(key) then return end
  local at = started(s, t) + M.max_minutes(st) * 60
  if at < t then at = t end
  c:at(at, key, function(when)
    -- a simulated participant's own steps up to this time come first
    if type(s.sim) == "table" and not s.sim.done then P().advance_submission(app, s, when) end
    if TAKING[s.status] then
      M.submission_status(app, s, "TIMED-OUT", { t = when,
        why = ("maximum_allowed_time (%s min) passed"):format(M.max_minutes(st)) })
    end
  end)
end

local function schedule_auto_approve(app, s, t)
  local c = app.clock
  if not c then return end
  c:at(t + clockmod.AUTO_APPROVE_AFTER, clockmod.key("auto_approve", s.id), function(when)
    if s.status ~= "AWAITING REVIEW" then return end
    local ok, _, _, body = M.submission_status(app, s, "APPROVED", { t = when,
      note = "approved by Prolific: 21 days awaiting review" })
    if not ok then
      -- the money is not there: it stays AWAITING REVIEW, and the clock keeps the reason
      error("auto-approve of " .. s.id .. " refused: " .. tostring(body), 0)
    end
  end)
end

--- Change a submission's status, with its consequences (above).
-- @tparam table app the sandbox application
-- @tparam table s the submission (in app.state.submissions)
-- @tparam string new the new status
-- @tparam[opt] table opts `t` (sandbox time of the change; default now), `note` (ledger)
-- @treturn[1] boolean true
-- @treturn[2] boolean false: refused (nothing changed)
-- @return[2] the answer's status, headers and body (402 Insufficient funds)
function M.submission_status(app, s, new, opts)
  opts = opts or {}
  local old = s.status
  if old == new then return true end
  local state = app.state
  local st = M.study_of(state, s)
  local t = opts.t or now(app)
  if new == "APPROVED" then
    local ok, e1, e2, e3 = money().pay_reward(app, st, s, opts.note)
    if not ok then return false, e1, e2, e3 end
  end
  s.status = new
  local c = app.clock
  if c then
    if TAKING[new] then schedule_max_time(app, s, st, t)
    elseif TAKING[old] then c:cancel(clockmod.key("max_time", s.id)) end
    if new == "AWAITING REVIEW" then schedule_auto_approve(app, s, t)
    elseif old == "AWAITING REVIEW" then c:cancel(clockmod.key("auto_approve", s.id)) end
  end
  if st then
    local books = money()
    if new == "REJECTED" and books.PENDING[old] then
      books.release(app, st, books.place_cost(state, st, s), "rejected: not paid (the place is "
        .. "not replaced)", s)
    elseif REOPENS[new] and books.PENDING[old] and not books.RECRUITING[st.status] then
      books.release(app, st, books.place_cost(state, st, s), new:lower()
        .. ": the place is not refilled, the study no longer recruits", s)
    end
  end
  P().submission_event(app, s, st)
  if st and st.status == "AWAITING REVIEW" and not money().PENDING[new] then M.complete_if_done(app, st) end
  return true
end

--- A stopped study (AWAITING REVIEW) with nothing left to review becomes COMPLETED.
function M.complete_if_done(app, st)
  if st.status ~= "AWAITING REVIEW" then return false end
  local PENDING = money().PENDING
  for _, s in ipairs(app.state.submissions or {}) do
    if s.study_id == st.id and PENDING[s.status] then return false end
  end
  M.study_status(app, st, "COMPLETED")
  return true
end

--- Change a study's status: its money (a study that stops recruiting keeps only what its
-- pending submissions may cost) and its `study.status.change` event.
-- @tparam table app
-- @tparam table st the study
-- @tparam string new
-- @tparam[opt] table payload extra fields of the event (e.g. `study_collection_id`)
function M.study_status(app, st, new, payload)
  if st.status == new then return end
  st.status = new
  money().settle(app, st, "the study stopped recruiting (" .. new .. ")")
  local p = { resource_id = st.id, event_type = "study.status.change", status = new }
  for k, v in pairs(payload or {}) do p[k] = v end
  hooks().record_event(app, "study.status.change", st.id, p, money().workspace_of(app.state, st))
end

--- Publish a study now (ACTIVE, published_at), its money already reserved.
function M.publish_study(app, st, t, payload)
  st.published_at = clockmod.iso(t or now(app))
  M.study_status(app, st, "ACTIVE", payload)
end

--- Put a SCHEDULED study's publication on the clock at `at` (sandbox seconds).
function M.schedule_study(app, st, at)
  if not app.clock then return end
  app.clock:at(at, clockmod.key("publish", st.id), function(when)
    if st.status == "SCHEDULED" then M.publish_study(app, st, when) end
  end)
end

--- Take a study's publication off the clock.
function M.unschedule(app, id)
  if app.clock then app.clock:cancel(clockmod.key("publish", id)) end
end

--- The sandbox time of a `publish_at` as Prolific writes it: ISO 8601 with `Z`, an offset, or
-- the zone names UTC, GMT, Etc/UTC and Europe/London (the spec's example:
-- `2050-02-28T13:45:00 Europe/London`; UK summer time from 01:00 UTC on the last Sunday of
-- March to 01:00 UTC on the last Sunday of October). Other zone names: nil and a message.
function M.parse_publish_at(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local t, err = clockmod.parse_iso(s)
  if t then return t end
  local local_part, zone = s:match("^(.-)%s+([%a_]+/?[%a_]*)$")
  if not local_part then return nil, err end
  local base, e2 = clockmod.parse_iso(local_part)
  if not base then return nil, e2 end
  if zone == "UTC" or zone == "GMT" or zone == "Etc/UTC" or zone == "Etc/GMT" then return base end
  if zone == "Europe/London" then
    local y = tonumber(os.date("!%Y", math.floor(base)))
    local function last_sunday(month) -- 01:00 UTC on the last Sunday of the month
      local first_next = clockmod.parse_iso(("%04d-%02d-01"):format(month == 12 and y + 1 or y,
        month == 12 and 1 or month + 1))
      local last = first_next - 86400
      local wday = tonumber(os.date("!%w", math.floor(last))) -- 0 = Sunday
      return last - wday * 86400 + 3600
    end
    local bst_from, bst_to = last_sunday(3), last_sunday(10)
    local utc = base - 3600
    if utc >= bst_from and utc < bst_to then return utc end
    return base
  end
  return nil, ("the sandbox knows the zones UTC, GMT and Europe/London, not %q: give Z or an "
    .. "offset such as +01:00"):format(zone)
end

-- Simulated submissions on the clock ---------------------------------------------------------

local function schedule_sim(app, s, at)
  local key = clockmod.key("sim", s.id)
  app.clock:at(at, key, function(when)
    local nxt = P().advance_submission(app, s, when)
    if nxt then schedule_sim(app, s, nxt) end
  end)
end

--- Put submissions that appeared since the last call (the simulation appends them) on the
-- clock: cheap when none did.
function M.sync(app)
  local subs = app.state.submissions
  if not subs or not app.clock then return end
  local n = #subs
  local seen = app._subs_seen
  if seen == n and app._subs_list == subs then return end
  local from = (app._subs_list == subs and seen and seen < n) and seen + 1 or 1
  app._subs_seen, app._subs_list = n, subs
  local t = now(app)
  for i = from, n do
    local s = subs[i]
    if type(s.sim) == "table" and not s.sim.done then
      local nxt = P().advance_submission(app, s, t)
      if nxt then schedule_sim(app, s, nxt) end
      -- a reserved place times out too
      if TAKING[s.status] then schedule_max_time(app, s, M.study_of(app.state, s), t) end
    elseif TAKING[s.status] and from > 1 then
      -- a submission made at run time (not the dataset's): its time limit runs
      schedule_max_time(app, s, M.study_of(app.state, s), t)
    end
  end
end

--- After a load, a reset or a seed: open the books and put the dataset's timed events on the
-- clock — a SCHEDULED study publishes at its publish_at; a seeded RESERVED or ACTIVE
-- submission times out `maximum_allowed_time` after the load, and one AWAITING REVIEW is
-- approved 21 days after it (the dataset's own times are in the past: its windows count from
-- when the sandbox took it).
function M.open(app)
  local state = app.state
  money().open_books(app)
  app._subs_seen, app._subs_list = nil, nil
  if not app.clock then return end
  local t = now(app)
  for _, st in ipairs(state.studies or {}) do
    if st.status == "SCHEDULED" then
      local at = M.parse_publish_at(st.publish_at)
      M.schedule_study(app, st, at or t)
    end
  end
  for _, s in ipairs(state.submissions or {}) do
    if type(s.sim) ~= "table" or s.sim.done then
      if TAKING[s.status] then
        local st = M.study_of(state, s)
        app.clock:at(t + M.max_minutes(st) * 60, clockmod.key("max_time", s.id), function(when)
          if TAKING[s.status] then M.submission_status(app, s, "TIMED-OUT", { t = when }) end
        end)
      elseif s.status == "AWAITING REVIEW" then
        schedule_auto_approve(app, s, t)
      end
    end
  end
  for _, c in ipairs(state.study_collections or {}) do
    if c.status == "SCHEDULED" then
      local at = M.parse_publish_at(c.publish_at)
      require("cohort.sandbox.prolific_collections").schedule(app, c, at or t)
    end
  end
  M.sync(app)
end

return M
