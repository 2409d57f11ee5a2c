--[[ Sandbox: the app's participant pool (cohort.sandbox.pool) wired to the Prolific state — who
can be drawn for a study, who counts for eligibility-count and the recruitment forecast, who may
be added to a participant group, and the control routes that list members.

    local participants = require "cohort.sandbox.participants"
    local p = participants.pool(app)                 -- the app's one pool, in step with the state
    local ctx = participants.context(app)            -- catalogue context: groups, studies, pool
    local drawn, eligible = participants.draw(app, study, 8, seed)   -- or nil, field → messages
    local why = participants.not_participant(app, id)                -- nil when id may join a group

The app holds one pool, built on first use from the server's `--pool-size` and `--pool-seed`
(app.pool_size, app.pool_seed; the defaults of cohort.sandbox.pool: 30,000 members, seed 1).
Its members' demographics depend on the seed alone, so POST /__sandbox/reset (and
/__sandbox/seed) keep them and forget what happened: each member's history and group
memberships (`p:reset()`), noticed when the state table is replaced. Building it costs about a
fifth of a second, once a server; routes that never touch the pool (GET /api/v1/users/me/) never
build it.

The state stays the record of what happened: submissions, participant groups, studies. Before
the pool is read, `M.sync(app)` brings it up to date from the state in one pass over the
submissions — each submission's status is recorded in its participant's history (`p:record`),
whatever changed it (simulation, review, time-outs), and a submission newly completed with a
completion code whose actions add to or remove from a participant group (ADD_TO_PARTICIPANT_GROUP,
REMOVE_FROM_PARTICIPANT_GROUP) changes that group's members, once. The participant-group routes
sync too, so a group's members read right after such a completion include it.

Who may be drawn for a study (M.study_context): the members passing every filter of the study
(its `filters`, and those of its filter set when it names one), minus everyone with a submission
in it (nobody takes a study twice), minus everyone with a submission in another study of its
mutually exclusive collection, minus the participants of the studies a duplicate was told to
block (`blocked_studies`, DuplicateStudy's block_previous_participants).
]]
local pool_mod = require "cohort.sandbox.pool"
local catalogue = require "cohort.sandbox.catalogue"
local util = require "cohort.sandbox.util"

local M = {}

local null = util.null

--- Eligible counts below this answer 0 (GetEligibleCount: "Zero means that there are less than
-- 25 participants. We do not show lower numbers to protect the privacy of the participants").
M.HIDE_BELOW = 25

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local function weak() return setmetatable({}, { __mode = "k" }) end

local GROUP_ACTIONS = { ADD_TO_PARTICIPANT_GROUP = true, REMOVE_FROM_PARTICIPANT_GROUP = true }

local function completed(s)
  return type(s.study_code) == "string" and s.study_code ~= ""
    and s.completed_at ~= nil and s.completed_at ~= null
end

-- The group actions of the completion code a submission was completed with.
local function apply_actions(app, s)
  local state = app.state
  local st = find(state.studies, s.study_id)
  if not st then return end
  for _, c in ipairs(st.completion_codes or {}) do
    if c.code == s.study_code then
      for _, a in ipairs(c.actions or {}) do
        if GROUP_ACTIONS[a.action] and type(a.participant_group) == "string" then
          local g = find(state.participant_groups, a.participant_group)
          if g and not g.is_deleted then
            local groups = require "cohort.sandbox.prolific_groups"
            if a.action == "ADD_TO_PARTICIPANT_GROUP" then
              groups.add_members(app, g, { s.participant_id })
            else
              groups.remove_members(g, { s.participant_id })
            end
          end
        end
      end
    end
  end
end

--- Brings the pool (when the app has one) and the participant groups up to date with the state:
-- statuses into histories, completion-code group actions applied once. A replaced state (reset,
-- seed) resets the pool first.
-- @tparam table app
function M.sync(app)
  local state = app.state
  local p = app.pool
  local memo = app._participants
  if not memo or memo.state ~= state then
    if p and memo then p:reset() end
    memo = { state = state, seen = weak(), acted = weak(), pool = p }
    app._participants = memo
  end
  if memo.pool ~= p then memo.pool, memo.seen = p, weak() end
  local seen, acted = memo.seen, memo.acted
  for _, s in ipairs(state.submissions or {}) do
    if p and seen[s] ~= s.status then
      seen[s] = s.status
      if type(s.participant_id) == "string" and type(s.study_id) == "string" then
        p:record(s.participant_id, s.study_id, s.status)
      end
    end
    if not acted[s] and completed(s) then
      acted[s] = true
      apply_actions(app, s)
    end
  end
end

--- The app's pool (built on first use), in step with the state.
-- @tparam table app
-- @treturn cohort.sandbox.Pool
function M.pool(app)
  if not app.pool then
    app.pool = pool_mod.new { seed = app.pool_seed, size = app.pool_size, now = os.time() }
  end
  M.sync(app)
  return app.pool
end

--- A catalogue context of the state with the app's pool (see cohort.sandbox.catalogue).
-- @tparam table app
-- @tparam[opt] table extra fields added (exclude, collection)
-- @treturn table
function M.context(app, extra)
  local ctx = catalogue.context(app.state, extra)
  ctx.pool = M.pool(app)
  return ctx
end

--- The filters that decide who may take a study: its own, then its filter set's (the version it
-- names, else the current one).
-- @tparam table state
-- @tparam table st a study of the state
-- @treturn table array of filters
function M.study_filters(state, st)
  local list = {}
  for _, f in ipairs(st.filters or {}) do list[#list + 1] = f end
  if type(st.filter_set_id) == "string" then
    local fs = find(state.filter_sets, st.filter_set_id)
    if fs and not fs.is_deleted then
      local v = math.tointeger(st.filter_set_version)
      local set = v and fs.versions and fs.versions[v] or fs.filters
      for _, f in ipairs(set or {}) do list[#list + 1] = f end
    end
  end
  return list
end

--- The study ids of the mutually exclusive collection a study is in, or nil.
-- @tparam table state
-- @tparam string study_id
-- @treturn[1] table array of study ids
-- @return[2] nil
function M.collection_of(state, study_id)
  for _, c in ipairs(state.study_collections or {}) do
    for _, sid in ipairs(c.study_ids or {}) do
      if sid == study_id then return c.study_ids, c end
    end
  end
end

--- The catalogue context for drawing (or forecasting) a study's participants: who already took
-- it, its collection's studies, the studies it blocks.
-- @tparam table app
-- @tparam table st
-- @treturn table ctx
function M.study_context(app, st)
  local p = M.pool(app)
  local exclude = p:taken { st.id }
  if type(st.blocked_studies) == "table" then p:taken(st.blocked_studies, exclude) end
  return M.context(app, { exclude = exclude, collection = M.collection_of(app.state, st.id) })
end

-- A study's filters with its context; or nil and field → messages when they no longer hold
-- (a group or study they name was deleted since).
local function study_filters_checked(app, st, ctx)
  local filters = M.study_filters(app.state, st)
  local errors = catalogue.validate(filters, ctx)
  if errors then
    local fields = {}
    for path, msgs in pairs(errors) do
      local list = {}
      for i, m in ipairs(msgs) do
        list[i] = m .. " (the study's filters no longer hold: update them first)"
      end
      fields[path] = list
    end
    return nil, fields
  end
  return filters
end

-- A seed of the draw from the caller's seed and the study, so studies with the same filters do
-- not draw the same people in the same order.
local function draw_seed(seed, study_id)
  local s = math.tointeger(seed) or 1
  local tail = tonumber(tostring(study_id):sub(-12), 16) or 0
  return s * 0x9E3779B97F4A7C15 ~ tail
end

--- n members of the pool who may take a study now, reproducibly for a seed.
-- @tparam table app
-- @tparam table st the study
-- @tparam integer n
-- @tparam[opt=1] integer seed
-- @treturn[1] table array of member records (fewer than n when fewer may take it)
-- @treturn[1] integer how many may take it
-- @return[2] nil
-- @treturn[2] table field → messages (its filters no longer hold)
function M.draw(app, st, n, seed)
  local ctx = M.study_context(app, st)
  local filters, fields = study_filters_checked(app, st, ctx)
  if not filters then return nil, fields end
  return M.pool(app):draw(filters, n, ctx, draw_seed(seed, st.id))
end

--- The recruitment forecast of a study as it stands (places not yet taken, who may still take
-- it): the StudyPredictedRecruitmentTimeResponse fields.
-- @tparam table app
-- @tparam table st
-- @tparam integer taken places taken so far
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] table field → messages
function M.study_forecast(app, st, taken)
  local ctx = M.study_context(app, st)
  local filters, fields = study_filters_checked(app, st, ctx)
  if not filters then return nil, fields end
  local places = math.floor(tonumber(st.total_available_places) or 0) - (taken or 0)
  if places < 1 then
    return { precise_recruitment_time_hours = 0, lower_bound_hours = 0, upper_bound_hours = 0,
      limit_at = pool_mod.LIMIT_HOURS, display_string = "Every place is taken" }
  end
  return (M.forecast(app, filters, places, st.reward, st.estimated_completion_time, ctx))
end

--- A recruitment forecast for filters (valid ones) and a study's terms.
-- @tparam table app
-- @tparam table filters
-- @tparam number places
-- @tparam number reward minor units a participant
-- @tparam number minutes estimated completion time
-- @tparam[opt] table ctx
-- @treturn table
function M.forecast(app, filters, places, reward, minutes, ctx)
  local per_hour
  reward, minutes = tonumber(reward), tonumber(minutes)
  if reward and minutes and reward > 0 and minutes > 0 then per_hour = reward * 60 / minutes end
  local k = math.max(1, math.floor(tonumber(places) or 1))
  return (M.pool(app):forecast(filters, k, per_hour, ctx or M.context(app)))
end

--- The eligible count of (valid) filters as GetEligibleCount answers it: 0 below M.HIDE_BELOW.
-- @tparam table app
-- @tparam table|nil filters
-- @treturn integer
function M.count(app, filters)
  local n = M.pool(app):count(filters, M.context(app))
  if n < M.HIDE_BELOW then return 0 end
  return n
end

-- Participants ----------------------------------------------------------------------------------

--- Why an id cannot be added to a participant group, or nil when it can: it must be a member of
-- the pool, a participant of one of the state's submissions (the dataset's own participants), or
-- one of the state's `participants` list. An id that names something else (a submission, a
-- study, …) is told as such (cohort.sandbox.prolific.not_participant).
-- @tparam table app
-- @tparam string id
-- @tparam[opt] table known {[id] = true} of the state's participants (built when absent)
-- @treturn[1] nil
-- @treturn[2] string the reason, after the id ('"…" ' .. why)
function M.not_participant(app, id, known)
  if not catalogue.is_hex24(id) then return "is not a participant id (24 hexadecimal digits)" end
  local p = M.pool(app)
  if p:find(id) then return nil end
  known = known or M.known(app.state)
  if known[id] then return nil end
  local other = require("cohort.sandbox.prolific").not_participant(app.state, id)
  if other and other ~= "is not the id of a participant" then return other end
  return ("is not a participant of the sandbox (a member of its pool of %d, seed %d, or of a "
    .. "submission): see GET /__sandbox/participants"):format(p.size, p.seed)
end

--- The participants the state knows besides the pool: those of its submissions and of its
-- `participants` list.
-- @tparam table state
-- @treturn table {[participant_id] = true}
function M.known(state)
  local set = {}
  for _, s in ipairs(state.submissions or {}) do
    if type(s.participant_id) == "string" then set[s.participant_id] = true end
  end
  for _, x in ipairs(type(state.participants) == "table" and state.participants or {}) do
    local id = type(x) == "table" and x.id or x
    if type(id) == "string" then set[id] = true end
  end
  return set
end

--- field.N → messages for each id that cannot join a group, or nil when all can.
-- @tparam table app
-- @tparam table ids
-- @tparam string field
-- @treturn table|nil
function M.check(app, ids, field)
  local fields
  local known = M.known(app.state)
  for i, id in ipairs(ids) do
    local why = M.not_participant(app, id, known)
    if why then
      fields = fields or {}
      fields[("%s.%d"):format(field, i - 1)] = { ('"%s" %s.'):format(tostring(id), why) }
    end
  end
  return fields
end

-- Control routes --------------------------------------------------------------------------------

-- A member's view with the live groups of the state it is in (the state decides membership).
local function view(p, m, groups)
  local v = p:view(m)
  local in_groups = {}
  for _, g in ipairs(groups) do
    if g.set[m.id] then in_groups[#in_groups + 1] = g.id end
  end
  table.sort(in_groups)
  v.groups = util.array(in_groups)
  return v
end

local function live_groups(state)
  local out = {}
  for _, g in ipairs(state.participant_groups or {}) do
    if not g.is_deleted then
      local set = {}
      for _, mm in ipairs(g.members or {}) do set[mm.participant_id] = true end
      out[#out + 1] = { id = g.id, set = set }
    end
  end
  return out
end

local function bad(fields) return util.prolific_error(400, fields) end

local function whole(v, name, min, max, default)
  if v == nil or v == "" then return default end
  local n = math.tointeger(tonumber(v))
  if not n or n < min or (max and n > max) then
    return nil, { [name] = { max and ("A whole number from %d to %d is required."):format(min, max)
      or ("A whole number of %d or more is required."):format(min) } }
  end
  return n
end

local function advance(ctx)
  require("cohort.sandbox.prolific_studies").advance(ctx.app, ctx.req.time or os.time())
end

--- GET /__sandbox/participants?filters=<JSON array>&eligible_for=<study id>&offset=&limit=: a page
-- of the pool's members who pass the filters (and, with eligible_for, who may take that study
-- now: its filters, exclusions and collection), in pool order, with their demographics, history
-- and groups: {results, count, offset, limit, pool = {size, seed}}.
-- @tparam table ctx the request context (cohort.sandbox.server)
-- @treturn integer status, then the headers and the JSON body
function M.list_route(ctx)
  advance(ctx)
  local app, q = ctx.app, ctx.query
  local offset, e1 = whole(q.offset, "offset", 0, nil, 0)
  if not offset then return bad(e1) end
  local limit, e2 = whole(q.limit, "limit", 0, 1000, 20)
  if not limit then return bad(e2) end
  local filters = {}
  if q.filters ~= nil and q.filters ~= "" then
    local v, err = util.decode(q.filters)
    if v == nil then
      return bad { filters = { "Give the filters as a JSON array: " .. tostring(err) } }
    end
    filters = v
  end
  local p = M.pool(app)
  local c
  if q.eligible_for ~= nil and q.eligible_for ~= "" then
    local st = find(app.state.studies, q.eligible_for)
    if not st then return util.prolific_error(404, "Study not found.") end
    c = M.study_context(app, st)
    local own, fields = study_filters_checked(app, st, c)
    if not own then return bad(fields) end
    local errors = catalogue.validate(filters, c)
    if errors then return bad(errors) end
    local all = {}
    for _, f in ipairs(own) do all[#all + 1] = f end
    for _, f in ipairs(catalogue.normalize(filters)) do all[#all + 1] = f end
    filters = all
  else
    c = M.context(app)
    local errors = catalogue.validate(filters, c)
    if errors then return bad(errors) end
  end
  local groups = live_groups(app.state)
  local results = {}
  local each, count = p:eligible(filters, c)
  local i = 0
  for m in each do
    i = i + 1
    if i > offset + limit then break end
    if i > offset then results[#results + 1] = view(p, m, groups) end
  end
  return util.json(200, { results = util.array(results), count = count, offset = offset,
    limit = limit, pool = { size = p.size, seed = p.seed } })
end

--- GET /__sandbox/participants/{id}: one member, or 404.
-- @tparam table ctx the request context
-- @tparam table params {id = the path's id}
-- @treturn integer status, then the headers and the JSON body
function M.get_route(ctx, params)
  advance(ctx)
  local p = M.pool(ctx.app)
  local m = p:find(params.id)
  if not m then
    return util.prolific_error(404, ("No member of the pool (%d members, seed %d) has the id %s.")
      :format(p.size, p.seed, tostring(params.id)))
  end
  return util.json(200, view(p, m, live_groups(ctx.app.state)))
end

return M
