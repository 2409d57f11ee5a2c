-- Sandbox: Prolific filters, the eligibility count and filter sets (rows { METHOD,
-- "path/{param}", handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- Filters: a fixed catalogue (M.FILTERS) plus two filters whose choices come from the state:
-- `previous_studies` (the studies) and `participant_group_allowlist` (the participant groups).
-- Eligibility count: out of a pool of M.POOL participants, each select filter keeps the share of
-- its choices selected (an allow-list keeps the participants it names), each range filter the
-- share of its range selected; counts under 25 answer 0, as Prolific hides small numbers.
--
-- Filter sets — state.filter_sets (array, created lazily) of {id, version, is_deleted,
-- is_locked, workspace_id, organisation_id, name, filters, versions = {[n] = filters}}: a locked
-- set refuses update and delete with 400; every update bumps `version` (GET ?version_number=n
-- reads an old one); delete marks is_deleted and the set then answers 404; clone makes an
-- unlocked version-1 copy.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"

local H = surveys.helpers
local null = util.null

local M = {}

M.POOL = 150000

M.FILTERS = {
  { filter_id = "handedness", title = "Handedness", description = "Whether a person is left or right-handed.",
    question = "Are you left or right-handed?", type = "select", data_type = "ChoiceID",
    choices = { ["0"] = "Right-handed", ["1"] = "Left-handed", ["2"] = "Ambidextrous" },
    category = "Other", display_order = 1 },
  { filter_id = "sex", title = "Sex", description = "Sex assigned at birth.",
    question = "What is your sex, as recorded on legal/official documents?", type = "select",
    data_type = "ChoiceID", choices = { ["0"] = "Male", ["1"] = "Female" },
    category = "Demographics", display_order = 2 },
  { filter_id = "age", title = "Age", description = "", question = "How old are you?",
    type = "range", data_type = "integer", min = 18, max = 100, category = "Demographics",
    display_order = 3 },
  { filter_id = "approval_rate", title = "Approval Rate",
    description = "The share of a participant's submissions that were approved.",
    type = "range", data_type = "integer", min = 0, max = 100, category = "Prolific",
    display_order = 4 },
  { filter_id = "joined_between", title = "Joined Between",
    description = "Allow participants who joined between the specified dates to participate in this study.",
    type = "range", data_type = "date", min = "2014-01-01", max = "2030-12-31", category = "Prolific",
    display_order = 5 },
  { filter_id = "custom_allowlist", title = "Custom AllowList",
    description = "Select one or more participant ID's to allow participants to complete this study.",
    type = "select", data_type = "ParticipantID",
    choices = { ["0"] = "Add a list of participant ID's to create an allowlist filter." },
    category = "Custom", display_order = 6 },
}

-- The catalogue with the state-dependent filters, in order.
local function catalogue(state)
  local out = {}
  for _, f in ipairs(M.FILTERS) do out[#out + 1] = f end
  local studies = {}
  for _, st in ipairs(state.studies or {}) do
    studies[st.id] = st.internal_name or st.name or st.id
  end
  out[#out + 1] = { filter_id = "previous_studies", title = "Previous Studies AllowList",
    description = "Select one or more studies to allow participants who have completed them to participate in this study.",
    type = "select", data_type = "StudyID", choices = studies, category = "Prolific", display_order = 7 }
  local groups = {}
  for _, g in ipairs(state.participant_groups or {}) do
    if not g.is_deleted then groups[g.id] = g.name end
  end
  out[#out + 1] = { filter_id = "participant_group_allowlist", title = "Participant Group AllowList",
    description = "Allow the members of one or more participant groups.", type = "select",
    data_type = "ParticipantGroupID", choices = groups, category = "Custom", display_order = 8 }
  return out
end

local function filter_shape(f, detailed)
  local o = { filter_id = f.filter_id, title = f.title, description = f.description,
    question = f.question, type = f.type, data_type = f.data_type }
  if f.type == "range" then
    o.min, o.max = f.min, f.max
  else
    o.choices = f.choices -- an empty map encodes as {}
  end
  if detailed then
    o.researcher_help_text, o.participant_help_text = "", ""
    o.category, o.subcategory, o.display_order = f.category or "Other", "", f.display_order or 0
    o.tags = util.array({})
  end
  return o
end

local function by_id(state)
  local t = {}
  for _, f in ipairs(catalogue(state)) do t[f.filter_id] = f end
  return t
end

local function date_num(s)
  local y, m, d = tostring(s):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
  if not y then return nil end
  return tonumber(y) * 372 + tonumber(m) * 31 + tonumber(d)
end

--- Check an array of requirement filters against the catalogue — what the schema (SelectFilter
-- or RangeFilter, each with its filter_id) cannot say: the filter exists, a select filter gets
-- choices it has, a range filter a range, not reversed. Messages name `field.N.…` (N from 0).
-- @return the filters normalised ({filter_id, selected_values | selected_range, weightings}),
--   or nil and field → messages
function M.validate(state, list, field)
  if list == nil or list == null then return {} end
  local known = by_id(state)
  local out, fields = {}, {}
  local function add(k, msg) fields[k] = fields[k] or {}; table.insert(fields[k], msg) end
  for i, x in ipairs(list) do
    local where = ("%s.%d"):format(field, i - 1)
    local f = known[x.filter_id]
    if not f then
      add(where .. ".filter_id", ('"%s" is not a valid filter; see GET /api/v1/filters/.'):format(x.filter_id))
    elseif f.type == "select" then
      local values = x.selected_values
      if type(values) ~= "table" then
        add(where .. ".selected_values", ("%s is a select filter: give selected_values."):format(f.filter_id))
      elseif #values == 0 then
        add(where .. ".selected_values", "Select at least one value.")
      else
        for j, v in ipairs(values) do
          if f.data_type ~= "ParticipantID" and f.choices[v] == nil then
            add(where .. ".selected_values." .. (j - 1), ('"%s" is not a valid choice.'):format(v))
          end
        end
        out[#out + 1] = { filter_id = f.filter_id, selected_values = values, weightings = x.weightings }
      end
    else
      local r = x.selected_range
      if type(r) ~= "table" then
        add(where .. ".selected_range", ("%s is a range filter: give selected_range."):format(f.filter_id))
      else
        local conv = f.data_type == "date" and date_num or tonumber
        local lo = r.lower ~= null and r.lower ~= nil and conv(r.lower) or nil
        local hi = r.upper ~= null and r.upper ~= nil and conv(r.upper) or nil
        if (r.lower ~= nil and r.lower ~= null and lo == nil) or (r.upper ~= nil and r.upper ~= null and hi == nil) then
          add(where .. ".selected_range", ("%s takes %s bounds."):format(f.filter_id,
            f.data_type == "date" and "date" or "number"))
        elseif lo and hi and lo > hi then
          add(where .. ".selected_range", "The lower bound is above the upper bound.")
        else
          out[#out + 1] = { filter_id = f.filter_id, selected_range = { lower = r.lower, upper = r.upper } }
        end
      end
    end
  end
  if next(fields) then return nil, fields end
  return out
end

--- The eligible count of normalised filters (0 under 25).
function M.count(state, filters)
  local known = by_id(state)
  local n = M.POOL
  for _, x in ipairs(filters) do
    local f = known[x.filter_id]
    if f and f.type == "select" then
      if f.data_type == "ParticipantID" then
        n = math.min(n, #x.selected_values)
      elseif f.data_type == "StudyID" then
        local who = {}
        local k = 0
        for _, s in ipairs(state.submissions or {}) do
          for _, sid in ipairs(x.selected_values) do
            if s.study_id == sid and not who[s.participant_id] then who[s.participant_id] = true; k = k + 1 end
          end
        end
        n = math.min(n, k)
      elseif f.data_type == "ParticipantGroupID" then
        local k = 0
        for _, g in ipairs(state.participant_groups or {}) do
          for _, gid in ipairs(x.selected_values) do
            if g.id == gid then k = k + #(g.members or {}) end
          end
        end
        n = math.min(n, k)
      else
        local total = 0
        for _ in pairs(f.choices) do total = total + 1 end
        n = n * #x.selected_values / math.max(total, 1)
      end
    elseif f then
      local lo, hi = f.min, f.max
      local conv = f.data_type == "date" and date_num or tonumber
      local a, b = conv(x.selected_range.lower) or conv(lo), conv(x.selected_range.upper) or conv(hi)
      local span = conv(hi) - conv(lo) + 1
      local share = math.max(0, math.min(b, conv(hi)) - math.max(a, conv(lo)) + 1) / span
      n = n * share
    end
  end
  n = math.floor(n)
  if n < 25 then return 0 end
  return n
end

-- Filter sets ------------------------------------------------------------------------------------

local function sets(app) return H.state(app, "filter_sets") end

local function set_shape(state, s, version)
  local filters = version and s.versions[version] or s.filters
  return { id = s.id, version = version or s.version, is_deleted = s.is_deleted,
    is_locked = s.is_locked, workspace_id = s.workspace_id or null,
    organisation_id = s.organisation_id or null, name = s.name,
    filters = util.array(util.deepcopy(filters)),
    eligible_participant_count = M.count(state, filters) }
end

local function get_set(ctx, id)
  local s = H.find(sets(ctx.app), id)
  if not s or s.is_deleted then return nil, { util.prolific_error(404, "Filter set not found.") } end
  return s
end

local function locked(s, what)
  return util.prolific_error(400, ("The filter set is locked; unlock it before you %s it."):format(what),
    nil, 140001)
end

local function workspace_check(state, fields, b)
  if b.workspace_id == nil and b.organisation_id == nil then
    fields.workspace_id = { "Give workspace_id or organisation_id." }
  elseif b.workspace_id ~= nil and not H.find(state.workspaces or {}, b.workspace_id) then
    fields.workspace_id = { "Workspace not found." }
  end
end

local function create_set(ctx)
  local b = ctx.body
  local state = ctx.app.state
  local fields = {}
  if not H.nonempty_string(b.name) then fields.name = { "This field is required." } end
  workspace_check(state, fields, b)
  local filters, fe = M.validate(state, b.filters, "filters")
  for k, list in pairs(fe or {}) do fields[k] = list end
  if next(fields) then return util.prolific_error(400, fields) end
  local s = { id = H.id(ctx.app), version = 1, is_deleted = false, is_locked = false,
    workspace_id = b.workspace_id, organisation_id = b.organisation_id, name = b.name,
    filters = filters, versions = { filters } }
  table.insert(sets(ctx.app), s)
  return util.answer(201, set_shape(state, s))
end

local function update_set(ctx, p)
  local s, e = get_set(ctx, p.id)
  if not s then return table.unpack(e) end
  local b = ctx.body
  if s.is_locked then return locked(s, "update") end
  local state = ctx.app.state
  local fields = {}
  if b.name ~= nil and not H.nonempty_string(b.name) then fields.name = { "This field may not be blank." } end
  local filters, fe
  if b.filters ~= nil then filters, fe = M.validate(state, b.filters, "filters") end
  for k, list in pairs(fe or {}) do fields[k] = list end
  if next(fields) then return util.prolific_error(400, fields) end
  if b.name ~= nil then s.name = b.name end
  if filters then s.filters = filters end
  s.version = s.version + 1
  s.versions[s.version] = s.filters
  return util.answer(200, set_shape(state, s))
end

local function lock(flag)
  return function(ctx, p)
    local s, e = get_set(ctx, p.id)
    if not s then return table.unpack(e) end
    s.is_locked = flag
    return util.answer(200, set_shape(ctx.app.state, s))
  end
end

M.routes = {
  { "GET", "filters", function(ctx)
      local detailed = ctx.params.detailed == true
      local items = {}
      for _, f in ipairs(catalogue(ctx.app.state)) do items[#items + 1] = filter_shape(f, detailed) end
      return H.paginate(ctx, items)
    end, op = "GetFilters" },
  { "POST", "eligibility-count", function(ctx)
      local b = ctx.body
      local fields = {}
      if b.workspace_id ~= nil and not H.find(ctx.app.state.workspaces or {}, b.workspace_id) then
        fields.workspace_id = { "Workspace not found." }
      end
      local filters, fe = M.validate(ctx.app.state, b.filters, "filters")
      for k, list in pairs(fe or {}) do fields[k] = list end
      if next(fields) then return util.prolific_error(400, fields) end
      return util.answer(200, { count = M.count(ctx.app.state, filters) })
    end, op = "GetEligibleCount" },
  { "POST", "filter-sets", create_set, op = "CreateFilterSet" },
  { "GET", "filter-sets", function(ctx)
      local ws, org = ctx.params.workspace_id, ctx.params.organisation_id
      if ws == nil and org == nil then
        return util.prolific_error(400, { workspace_id = { "Give workspace_id or organisation_id." } })
      end
      local items = {}
      for _, s in ipairs(sets(ctx.app)) do
        if not s.is_deleted and ((ws and s.workspace_id == ws) or (org and s.organisation_id == org)) then
          items[#items + 1] = set_shape(ctx.app.state, s)
        end
      end
      return H.paginate(ctx, items)
    end, op = "GetFilterSets" },
  { "GET", "filter-sets/{id}", function(ctx, p)
      local s, e = get_set(ctx, p.id)
      if not s then return table.unpack(e) end
      local n = ctx.params.version_number
      if n ~= nil then
        if not s.versions[n] then return util.prolific_error(404, "No such version of the filter set.") end
        return util.answer(200, set_shape(ctx.app.state, s, n))
      end
      return util.answer(200, set_shape(ctx.app.state, s))
    end, op = "GetFilterSet" },
  { "PATCH", "filter-sets/{id}", update_set, op = "UpdateFilterSet" },
  { "DELETE", "filter-sets/{id}", function(ctx, p)
      local s, e = get_set(ctx, p.id)
      if not s then return table.unpack(e) end
      if s.is_locked then return locked(s, "delete") end
      s.is_deleted = true
      return 204, {}, ""
    end, op = "DeleteFilterSet" },
  { "POST", "filter-sets/{id}/clone", function(ctx, p)
      local s, e = get_set(ctx, p.id)
      if not s then return table.unpack(e) end
      local b = ctx.body
      if b.new_name ~= nil and not H.nonempty_string(b.new_name) then
        return util.prolific_error(400, { new_name = { "This field may not be blank." } })
      end
      local filters = util.deepcopy(s.filters)
      local c = { id = H.id(ctx.app), version = 1, is_deleted = false, is_locked = false,
        workspace_id = s.workspace_id, organisation_id = s.organisation_id,
        name = b.new_name or (s.name .. " (copy)"), filters = filters, versions = { filters } }
      table.insert(sets(ctx.app), c)
      return util.answer(201, set_shape(ctx.app.state, c))
    end, op = "CloneFilterSet" },
  { "POST", "filter-sets/{id}/lock", lock(true), op = "LockFilterSet" },
  { "POST", "filter-sets/{id}/unlock", lock(false), op = "UnlockFilterSet" },
}

return M
