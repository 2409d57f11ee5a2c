--- Prolific filters (the screeners a study or filter set can apply) and the eligibility count.
--
--     for f in p.filters:each() do print(f.filter_id, f.type) end
--     local n = assert(p.filters:eligible_count{ filters = {
--       { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
--       { filter_id = "handedness", selected_values = { "1" } } } })
--
-- A filter in a request is `{filter_id =, selected_values = {...}}` (a "select" filter; values
-- are the keys of the filter's `choices`, as strings) or `{filter_id =, selected_range = {lower =,
-- upper =}}` (a "range" filter); the schema checks their shape. `eligible_count` answers 0 for
-- fewer than 25 participants (Prolific hides small numbers).
-- @module cohort.prolific.filters
local compat = require "cohort.compat"

local M = {}

--- Refuse a range whose lower bound is above its upper one (the schema cannot say it).
-- @tparam table args a body holding `filters`
-- @tparam table ctx
-- @treturn table args
function M.check_ranges(args, ctx)
  for i, f in ipairs(type(args.filters) == "table" and args.filters or {}) do
    local r = type(f) == "table" and f.selected_range
    if type(r) == "table" and compat.math_type(r.lower) == "integer"
        and compat.math_type(r.upper) == "integer" and r.lower > r.upper then
      ctx.misuse("filters[%d].selected_range: lower (%d) is above upper (%d)", i, r.lower, r.upper)
    end
  end
  return args
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "GetFilters", resource = "filters", name = "list", class = "Filter" },
  { op = "GetEligibleCount", resource = "filters", name = "eligible_count", idempotent = true,
    prepare = M.check_ranges,
    returns = function(value) return type(value) == "table" and value.count or nil, value end,
    returns_text = "the count (0 below 25), and the answer as sent" },
}

--- Classes.
M.classes = {
  Filter = { var = "filter", key = "filter_id",
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
