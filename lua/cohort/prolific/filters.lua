--- Prolific filters (the screeners a study or filter set can apply) and the eligibility count.
--
--     for f in p.filters:each() do print(f.filter_id, f.type) end
--     local n = assert(p.filters:eligible_count{ filters = {
--       { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
--       { filter_id = "handedness", selected_values = { "1" } } } })
--
-- A filter in a request is `{filter_id =, selected_values = {...}}` (a "select" filter; values
-- are the keys of the filter's `choices`, as strings) or `{filter_id =, selected_range = {lower =,
-- upper =}}` (a "range" filter). `eligible_count` answers 0 for fewer than 25 participants
-- (Prolific hides small numbers).
-- @module cohort.prolific.filters
local compat = require "cohort.compat"
local util = require "cohort.util"

local M = {}

--- Check an array of requirement filters; raises naming the method and the field.
-- Shared with `cohort.prolific.filter_sets`.
function M.check_filters(label, filters, field)
  field = field or "filters"
  if type(filters) ~= "table" then
    util.misuse(label, "%s must be an array of {filter_id =, selected_values | selected_range =}", field)
  end
  for i, f in ipairs(filters) do
    local where = ("%s[%d]"):format(field, i)
    if type(f) ~= "table" then util.misuse(label, "%s must be a table", where) end
    util.check_keys(label .. " " .. where, f, { filter_id = true, selected_values = true,
      selected_range = true, weightings = true })
    if type(f.filter_id) ~= "string" or f.filter_id == "" then
      util.misuse(label, "%s.filter_id must be a filter id string such as \"age\"", where)
    end
    local has_v, has_r = f.selected_values ~= nil, f.selected_range ~= nil
    if has_v == has_r then
      util.misuse(label, "%s needs exactly one of selected_values or selected_range", where)
    end
    if has_v then
      if type(f.selected_values) ~= "table" or #f.selected_values == 0 then
        util.misuse(label, "%s.selected_values must be a non-empty array of strings", where)
      end
      for j, v in ipairs(f.selected_values) do
        if type(v) ~= "string" then
          util.misuse(label, "%s.selected_values[%d] must be a string (choice ids are strings, e.g. \"1\")",
            where, j)
        end
      end
    else
      local r = f.selected_range
      if type(r) ~= "table" then util.misuse(label, "%s.selected_range must be a table {lower =, upper =}", where) end
      util.check_keys(label .. " " .. where .. ".selected_range", r, { lower = true, upper = true })
      if r.lower == nil and r.upper == nil then
        util.misuse(label, "%s.selected_range needs lower or upper", where)
      end
      for _, k in ipairs { "lower", "upper" } do
        local v = r[k]
        if v ~= nil and compat.math_type(v) ~= "integer" and type(v) ~= "string" then
          util.misuse(label, "%s.selected_range.%s must be an integer or an ISO 8601 date string", where, k)
        end
      end
      if compat.math_type(r.lower) == "integer" and compat.math_type(r.upper) == "integer" and r.lower > r.upper then
        util.misuse(label, "%s.selected_range: lower (%d) is above upper (%d)", where, r.lower, r.upper)
      end
    end
    if f.weightings ~= nil then
      if type(f.weightings) ~= "table" then util.misuse(label, "%s.weightings must be a table", where) end
      for k, w in pairs(f.weightings) do
        if type(w) ~= "number" or w < 0 or w ~= w then
          util.misuse(label, "%s.weightings[%s] must be a non-negative number", where, tostring(k))
        end
      end
    end
  end
  return filters
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  GetFilters = { "GET", "/api/v1/filters/", "filters", "list", paging = "page", class = "Filter",
    query = { "detailed", "workspace_id", "page", "page_size" },
    prepare = function(label, args)
      if args.detailed ~= nil then
        if type(args.detailed) ~= "boolean" then util.misuse(label, "detailed must be a boolean") end
        args.detailed = tostring(args.detailed)
      end
      if args.workspace_id ~= nil then util.check_id(label, "workspace_id", args.workspace_id) end
      return args
    end },
  GetEligibleCount = { idempotent = true, "POST", "/api/v1/eligibility-count/", "filters", "eligible_count",
    body = { "filters", "workspace_id", "organisation_id" }, required = { "filters" },
    prepare = function(label, args)
      M.check_filters(label, args.filters)
      if args.workspace_id ~= nil then util.check_id(label, "workspace_id", args.workspace_id) end
      if args.organisation_id ~= nil then util.check_id(label, "organisation_id", args.organisation_id) end
      return args
    end },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- How many participants pass every filter (0 means fewer than 25).
-- @function p.filters:eligible_count
-- @tparam table args `filters` (array, see the module doc), `workspace_id`, `organisation_id`
-- @treturn[1] integer the count
-- @treturn[1] table the server's answer as sent (`{count = n}`)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.eligible_count(res, args)
  local resource = require "cohort.resource"
  local client = res._client
  local req = resource.build(client, M.operations.GetEligibleCount,
    "prolific.filters:eligible_count()", args)
  local value, err = client:send(req)
  if value == nil then return nil, err end
  return type(value) == "table" and value.count or nil, value
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = {
  Filter = { methods = {},
    --- `Filter age (range, integer 18..100)` / `Filter handedness (select, 3 choices)`
    tostring = function(f)
      if f.type == "range" then
        return ("Filter %s (range, %s %s..%s)"):format(tostring(f.filter_id), tostring(f.data_type),
          tostring(f.min), tostring(f.max))
      end
      local n = 0
      for _ in pairs(type(f.choices) == "table" and f.choices or {}) do n = n + 1 end
      return ("Filter %s (%s, %d choice%s)"):format(tostring(f.filter_id), tostring(f.type), n,
        n == 1 and "" or "s")
    end },
}

return M
