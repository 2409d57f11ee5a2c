-- Sandbox: Prolific mutually exclusive study collections (rows { METHOD, "path/{param}",
-- handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- State: ctx.app.state.study_collections (array, created lazily) of
--   { id, name, description, project_id, publish_at, status, study_ids }.
-- Rules (Prolific's docs): the studies and the collection are in one project; only draft
-- (UNPUBLISHED) studies can be added (400 otherwise, with per-field detail); adding a study that
-- is in another collection moves it; only an UNPUBLISHED collection can be updated or deleted.
-- Transitions: UNPUBLISHED --PUBLISH--> ACTIVE (every study is published: ACTIVE, published_at),
-- UNPUBLISHED --SCHEDULE_PUBLISH{publish_at}--> SCHEDULED (studies SCHEDULED with publish_at),
-- SCHEDULED --CANCEL_PUBLISH--> UNPUBLISHED (studies back to UNPUBLISHED). Publishing or
-- scheduling reserves the cost of every place of every study (all or nothing: 402 when the
-- available balance is short); cancelling gives it back. A SCHEDULED collection is published by
-- its event on the sandbox clock (`publish:<collection id>`) at its publish_at, which may name
-- the zones UTC, GMT or Europe/London (cohort.sandbox.lifecycle.parse_publish_at).
-- Costs (`estimated_cost`, `total_cost`) are display strings in major units with the currency
-- sign: Σ reward × places of the studies, plus the service fee and VAT of cohort.sandbox.prolific_money.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"

local H = surveys.helpers
local null = util.null

local M = {}

local function collections(app) return H.state(app, "study_collections") end

local SIGNS = { GBP = "£", USD = "$", EUR = "€" }

local function money_string(state, minor)
  local currency = state.user and state.user.currency_code or "GBP"
  local ok, money = pcall(require, "cohort.sandbox.prolific_money")
  local total = minor
  if ok and type(money) == "table" and type(money.costs) == "function" then
    local _, _, t = money.costs(minor, currency)
    total = t
  end
  return ("%s%.2f"):format(SIGNS[currency] or (currency .. " "), total / 100)
end

-- The spec closes these objects (additionalProperties: false): exactly its fields, so the
-- collection's project_id, which it does not list, is not answered.
local function list_shape(c)
  return { id = c.id, name = c.name, description = c.description,
    publish_at = c.publish_at or null, status = c.status, study_ids = util.array(c.study_ids) }
end

local function detail_shape(state, c)
  local out = list_shape(c)
  local minor = 0
  for _, sid in ipairs(c.study_ids) do
    local st = H.find(state.studies or {}, sid)
    if st then minor = minor + (tonumber(st.reward) or 0) * (tonumber(st.total_available_places) or 0) end
  end
  local with_fees = money_string(state, minor)
  out.estimated_cost = with_fees
  out.total_cost = with_fees
  return out
end

local function project_of(st) return st.project or st.project_id end

-- Checks study_ids against the rules; adds messages to f. Returns the ids array.
local function check_studies(state, f, ids, project_id)
  if ids == nil or ids == null then return {} end
  local out, seen = {}, {}
  for i, sid in ipairs(ids) do
    local st = type(sid) == "string" and H.find(state.studies or {}, sid) or nil
    local label = "study_ids"
    if not st then
      f.add(label, ("Study %s (item %d) does not exist."):format(tostring(sid), i - 1))
    elseif st.status ~= "UNPUBLISHED" then
      f.add(label, ("Study %s is %s; only draft (UNPUBLISHED) studies can be added to a study collection.")
        :format(sid, tostring(st.status)))
    elseif project_id and project_of(st) ~= project_id then
      f.add(label, ("Study %s is not in project %s; the studies and the collection must be in the same project.")
        :format(sid, project_id))
    elseif not seen[sid] then
      seen[sid] = true
      out[#out + 1] = sid
    end
  end
  return out
end

-- A study is in one collection at most: take the ids out of every other collection.
local function claim(app, c)
  local mine = {}
  for _, sid in ipairs(c.study_ids) do mine[sid] = true end
  for _, other in ipairs(collections(app)) do
    if other ~= c then
      local keep = {}
      for _, sid in ipairs(other.study_ids) do
        if not mine[sid] then keep[#keep + 1] = sid end
      end
      other.study_ids = keep
    end
  end
end

local function valid_time(s)
  return type(s) == "string" and s:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d") ~= nil
end

-- (The contract held the body to the closed Create/Update schemas: no other fields, types.)
local function check_fields(f, b)
  for _, k in ipairs { "name", "description" } do
    if type(b[k]) == "string" and b[k]:match("^%s*$") then f.add(k, "This field may not be blank.") end
  end
  if b.publish_at ~= nil and b.publish_at ~= null and not valid_time(b.publish_at) then
    f.add("publish_at", "Datetime has wrong format. Use e.g. 2050-02-28T13:45:00 Europe/London.")
  end
end

local function create(ctx)
  local b = ctx.body
  local state = ctx.app.state
  local f = H.fields()
  check_fields(f, b)
  if not H.find(state.projects or {}, b.project_id) then
    f.add("project_id", "Project not found.")
  end
  local ids = check_studies(state, f, b.study_ids, b.project_id)
  local bad = f.answer()
  if bad then return f.answer() end
  local c = { id = H.id(ctx.app), name = b.name, description = b.description,
    project_id = b.project_id, publish_at = b.publish_at ~= null and b.publish_at or nil,
    status = "UNPUBLISHED", study_ids = ids }
  table.insert(collections(ctx.app), c)
  claim(ctx.app, c)
  return util.answer(201, list_shape(c))
end

local function get_or_404(ctx, id)
  local c = H.find(collections(ctx.app), id)
  if not c then return nil, { util.prolific_error(404, "Study collection not found.") } end
  return c
end

local function update(ctx, p)
  local c, e = get_or_404(ctx, p.id)
  if not c then return table.unpack(e) end
  local b = ctx.body
  if c.status ~= "UNPUBLISHED" then
    return util.prolific_error(400, ("Cannot update a study collection with status %s."):format(c.status),
      nil, 140001)
  end
  local f = H.fields()
  check_fields(f, b)
  local ids = b.study_ids ~= nil and check_studies(ctx.app.state, f, b.study_ids, c.project_id) or nil
  local bad = f.answer()
  if bad then return f.answer() end
  if b.name ~= nil then c.name = b.name end
  if b.description ~= nil then c.description = b.description end
  if b.publish_at == null then c.publish_at = nil elseif b.publish_at ~= nil then c.publish_at = b.publish_at end
  if ids then
    c.study_ids = ids
    claim(ctx.app, c)
  end
  return util.answer(200, detail_shape(ctx.app.state, c))
end

local ACTIONS = {
  PUBLISH = { from = "UNPUBLISHED", to = "ACTIVE" },
  SCHEDULE_PUBLISH = { from = "UNPUBLISHED", to = "SCHEDULED" },
  CANCEL_PUBLISH = { from = "SCHEDULED", to = "UNPUBLISHED" },
}

local function transition(ctx, p)
  local c, e = get_or_404(ctx, p.id)
  if not c then return table.unpack(e) end
  local b = ctx.body
  local t = ACTIONS[b.action]
  if not t then
    return util.prolific_error(400, { action = { b.action == nil and "This field is required."
      or ('"%s" is not a valid choice.'):format(tostring(b.action)) } })
  end
  if c.status ~= t.from then
    return util.prolific_error(400, ("Cannot %s a study collection with status %s."):format(b.action,
      c.status), nil, 140001)
  end
  local state = ctx.app.state
  local lifecycle = require "cohort.sandbox.lifecycle"
  local now_t = ctx.app.clock and ctx.app.clock:now() or os.time()
  local at_t
  if b.action == "SCHEDULE_PUBLISH" then
    local at = b.publish_at or c.publish_at
    if not valid_time(at) then
      return util.prolific_error(400, { publish_at = { at == nil
        and "Set publish_at on the collection or give it with SCHEDULE_PUBLISH."
        or "Datetime has wrong format. Use e.g. 2050-02-28T13:45:00 Europe/London." } })
    end
    local why
    at_t, why = lifecycle.parse_publish_at(at)
    if not at_t then return util.prolific_error(400, { publish_at = { why } }) end
    if at_t <= now_t then
      return util.prolific_error(400, { publish_at = { "The publish time must be in the future." } })
    end
    c.publish_at = at
  elseif b.publish_at ~= nil then
    return util.prolific_error(400, { publish_at = { "Only SCHEDULE_PUBLISH takes publish_at." } })
  end
  if b.action ~= "CANCEL_PUBLISH" and #c.study_ids == 0 then
    return util.prolific_error(400, { study_ids = { "Add at least one study before publishing." } })
  end
  if b.action ~= "CANCEL_PUBLISH" then
    -- every study must still be a draft
    for _, sid in ipairs(c.study_ids) do
      local st = H.find(state.studies or {}, sid)
      if not st or st.status ~= "UNPUBLISHED" then
        return util.prolific_error(400, { study_ids = { ("Study %s is no longer a draft."):format(sid) } })
      end
    end
  end
  if b.action ~= "CANCEL_PUBLISH" then
    -- the money of every study's places, all or nothing
    local money = require "cohort.sandbox.prolific_money"
    local need, ws = 0, nil
    for _, sid in ipairs(c.study_ids) do
      local st = H.find(state.studies or {}, sid)
      local _, _, _, due = money.study_cost(state, st, tonumber(st.total_available_places) or 0)
      need = need + due
      ws = ws or money.workspace_of(state, st)
    end
    local avail = ws and (tonumber(ws.available_balance) or tonumber(ws.balance) or 0) or 0
    if need > avail then
      return money.insufficient(("publishing this collection (%d studies)"):format(#c.study_ids),
        need, avail)
    end
    for _, sid in ipairs(c.study_ids) do
      local st = H.find(state.studies or {}, sid)
      money.reserve(ctx.app, st, tonumber(st.total_available_places) or 0,
        ("%s with study collection %s"):format(b.action == "PUBLISH" and "published"
          or "scheduled to publish", c.id))
    end
  end
  local extra = { study_collection_id = c.id }
  for _, sid in ipairs(c.study_ids) do
    local st = H.find(state.studies or {}, sid)
    if st then
      if b.action == "PUBLISH" then
        lifecycle.publish_study(ctx.app, st, now_t, extra)
      elseif b.action == "SCHEDULE_PUBLISH" then
        st.publish_at = c.publish_at
        lifecycle.study_status(ctx.app, st, "SCHEDULED", extra)
      elseif st.status == "SCHEDULED" then
        st.publish_at = nil
        lifecycle.study_status(ctx.app, st, "UNPUBLISHED", extra)
      end
    end
  end
  c.status = t.to
  if b.action == "SCHEDULE_PUBLISH" then M.schedule(ctx.app, c, at_t) end
  if b.action == "CANCEL_PUBLISH" then
    c.publish_at = nil
    lifecycle.unschedule(ctx.app, c.id)
  end
  return util.answer(200, detail_shape(state, c))
end

-- Put a SCHEDULED collection's publication on the sandbox clock at `at` (sandbox seconds):
-- then its SCHEDULED studies are published (their money was reserved when it was scheduled)
-- and the collection is ACTIVE.
function M.schedule(app, c, at)
  if not app.clock then return end
  local lifecycle = require "cohort.sandbox.lifecycle"
  app.clock:at(at, require("cohort.sandbox.clock").key("publish", c.id), function(when)
    if c.status ~= "SCHEDULED" then return end
    for _, sid in ipairs(c.study_ids) do
      local st = H.find(app.state.studies or {}, sid)
      if st and st.status == "SCHEDULED" then
        lifecycle.publish_study(app, st, when, { study_collection_id = c.id })
      end
    end
    c.status = "ACTIVE"
  end)
end

M.routes = {
  { "GET", "study-collections/mutually-exclusive", function(ctx)
      local pid = ctx.params.project_id
      if pid == nil then
        return util.prolific_error(400, { project_id = { "This field is required." } })
      end
      if not H.find(ctx.app.state.projects or {}, pid) then
        return util.prolific_error(404, "Project not found.")
      end
      local items = {}
      for _, c in ipairs(collections(ctx.app)) do
        if c.project_id == pid then items[#items + 1] = list_shape(c) end
      end
      return H.paginate(ctx, items)
    end, op = "ListMutuallyExclusiveStudyCollections" },
  { "POST", "study-collections/mutually-exclusive", create,
    op = "CreateMutuallyExclusiveStudyCollection" },
  { "GET", "study-collections/mutually-exclusive/{id}", function(ctx, p)
      local c, e = get_or_404(ctx, p.id)
      if not c then return table.unpack(e) end
      return util.answer(200, detail_shape(ctx.app.state, c))
    end, op = "GetMutuallyExclusiveStudyCollection" },
  { "PATCH", "study-collections/mutually-exclusive/{id}", update,
    op = "UpdateMutuallyExclusiveStudyCollection" },
  { "DELETE", "study-collections/mutually-exclusive/{id}", function(ctx, p)
      local c, e = get_or_404(ctx, p.id)
      if not c then return table.unpack(e) end
      if c.status ~= "UNPUBLISHED" then
        return util.prolific_error(400, ("Only an unpublished study collection can be deleted (this one is %s).")
          :format(c.status), nil, 140001)
      end
      local _, i = H.find(collections(ctx.app), c.id)
      table.remove(collections(ctx.app), i)
      return 204, {}, ""
    end, op = "DeleteMutuallyExclusiveStudyCollection" },
  { "POST", "study-collections/mutually-exclusive/{id}/transition", transition,
    op = "TransitionMutuallyExclusiveStudyCollection" },
}

return M
