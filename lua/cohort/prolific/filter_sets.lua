--- Prolific filter sets: named, versioned, lockable lists of filters, reusable across studies.
--
--     local fs = assert(p.filter_sets:create{ workspace_id = ws.id, name = "Young left-handers",
--       filters = { { filter_id = "handedness", selected_values = { "1" } },
--                   { filter_id = "age", selected_range = { lower = 18, upper = 30 } } } })
--     fs = assert(fs:lock())           -- a locked set refuses update and delete
--     local copy = assert(fs:clone{ new_name = "Editable copy" })
--
-- @module cohort.prolific.filter_sets
local util = require "cohort.util"
local filters = require "cohort.prolific.filters"

local M = {}

local function check_owner(args, ctx)
  if args.workspace_id == nil and args.organisation_id == nil then
    ctx.misuse("give workspace_id or organisation_id")
  end
  if args.name == "" then ctx.misuse("name must not be empty") end
  return filters.check_ranges(args, ctx)
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateFilterSet", resource = "filter_sets", name = "create", class = "FilterSet",
    prepare = check_owner },
  { op = "GetFilterSets", resource = "filter_sets", name = "list", class = "FilterSet",
    prepare = check_owner },
  { op = "GetFilterSet", resource = "filter_sets", name = "get", class = "FilterSet",
    verbs = { refresh = { rest = true } } },
  { op = "UpdateFilterSet", resource = "filter_sets", name = "update", class = "FilterSet",
    prepare = filters.check_ranges, verbs = { update = { rest = true } } },
  { op = "DeleteFilterSet", resource = "filter_sets", name = "delete",
    verbs = { delete = { on = "FilterSet" } } },
  { op = "CloneFilterSet", resource = "filter_sets", name = "clone", class = "FilterSet",
    verbs = { clone = { rest = true } } },
  { op = "LockFilterSet", resource = "filter_sets", name = "lock", class = "FilterSet",
    verbs = { lock = {} } },
  { op = "UnlockFilterSet", resource = "filter_sets", name = "unlock", class = "FilterSet",
    verbs = { unlock = {} } },
}

--- `FilterSet 644ab312… "Ambidextrous teenagers" v1 locked (2 filters)`
-- @tparam table fs
-- @treturn string
function M.tostring(fs)
  local n = type(fs.filters) == "table" and #fs.filters or 0
  return ("FilterSet %s %q v%s %s(%d filter%s)"):format(util.short_id(fs.id), tostring(fs.name),
    tostring(fs.version), fs.is_locked == true and "locked " or "", n, n == 1 and "" or "s")
end

--- Classes.
M.classes = { FilterSet = { var = "fs", tostring = M.tostring } }

return M
