-- Sandbox: Prolific filters, the eligibility count and filter sets (rows { METHOD,
-- "path/{param}", handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- Filters: the catalogue of cohort.sandbox.catalogue (18 filters in the spec's shapes; the
-- choices of the group and study filters come from the state). Every list of filters a request
-- carries — studies, filter sets, eligibility-count, the recruitment forecast — is checked by
-- catalogue.validate (M.validate) and answered with Prolific's 400 naming `filters.N...`.
-- Eligibility count: the members of the app's participant pool (cohort.sandbox.participants)
-- who pass every filter; counts under 25 answer 0, as Prolific hides small numbers.
--
-- Filter sets — state.filter_sets (array, created lazily) of {id, version, is_deleted,
-- is_locked, workspace_id, organisation_id, name, filters, versions = {[n] = filters}}: a locked
-- set refuses update and delete with 400; every update bumps `version` (GET ?version_number=n
-- reads an old one); delete marks is_deleted and the set then answers 404; clone makes an
-- unlocked version-1 copy.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"
local catalogue = require "cohort.sandbox.catalogue"
local participants = require "cohort.sandbox.participants"

local H = surveys.helpers
local null = util.null

local M = {}

--- Check a list of requirement filters against the catalogue, with the state's participant
-- groups and studies (what the schema, SelectFilter or RangeFilter, cannot say: the filter
-- exists, a select filter gets choices it has, a range filter a range of its data type within
-- its bounds, not reversed, groups and studies that exist, participant ids). Messages name
-- `field.N.…` (N from 0).
-- @tparam table state
-- @param list the decoded filters (nil or null: none)
-- @tparam[opt="filters"] string field
-- @treturn[1] table the filters normalised (catalogue.normalize: aliases resolved)
-- @return[2] nil
-- @treturn[2] table field → messages
function M.validate(state, list, field)
  if list == nil or list == null then return {} end
  local errors = catalogue.validate(list, catalogue.context(state), field or "filters")
  if errors then return nil, errors end
  return catalogue.normalize(list)
end

--- The eligible count of (valid) filters: members of the app's pool passing every one, 0 under 25.
-- @tparam table app
-- @tparam table filters
-- @treturn integer
function M.count(app, filters)
  return participants.count(app, filters)
end

-- Filter sets ------------------------------------------------------------------------------------

local function sets(app) return H.state(app, "filter_sets") end

local function set_shape(app, s, version)
  local filters = version and s.versions[version] or s.filters
  return { id = s.id, version = version or s.version, is_deleted = s.is_deleted,
    is_locked = s.is_locked, workspace_id = s.workspace_id or null,
    organisation_id = s.organisation_id or null, name = s.name,
    filters = util.array(util.deepcopy(filters)),
    eligible_participant_count = M.count(app, filters) }
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
  return util.answer(201, set_shape(ctx.app, s))
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
  return util.answer(200, set_shape(ctx.app, s))
end

local function lock(flag)
  return function(ctx, p)
    local s, e = get_set(ctx, p.id)
    if not s then return table.unpack(e) end
    s.is_locked = flag
    return util.answer(200, set_shape(ctx.app, s))
  end
end

M.routes = {
  { "GET", "filters", function(ctx)
      local detailed = ctx.params.detailed == true
      return H.paginate(ctx, catalogue.list(catalogue.context(ctx.app.state), detailed))
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
      return util.answer(200, { count = M.count(ctx.app, filters) })
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
          items[#items + 1] = set_shape(ctx.app, s)
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
        return util.answer(200, set_shape(ctx.app, s, n))
      end
      return util.answer(200, set_shape(ctx.app, s))
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
      return util.answer(201, set_shape(ctx.app, c))
    end, op = "CloneFilterSet" },
  { "POST", "filter-sets/{id}/lock", lock(true), op = "LockFilterSet" },
  { "POST", "filter-sets/{id}/unlock", lock(false), op = "UnlockFilterSet" },
}

return M
