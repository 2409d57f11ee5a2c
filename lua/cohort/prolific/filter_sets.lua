--- Prolific filter sets: named, versioned, lockable lists of filters, reusable across studies.
--
--     local fs = assert(p.filter_sets:create{ workspace_id = ws.id, name = "Young left-handers",
--       filters = { { filter_id = "handedness", selected_values = { "1" } },
--                   { filter_id = "age", selected_range = { lower = 18, upper = 30 } } } })
--     fs = assert(fs:lock())           -- a locked set refuses update and delete
--     local copy = assert(fs:clone{ new_name = "Editable copy" })
--
-- Filters are checked before sending as in `cohort.prolific.filters`.
-- @module cohort.prolific.filter_sets
local compat = require "cohort.compat"
local util = require "cohort.util"
local filters = require "cohort.prolific.filters"

local M = {}

local function check(label, args)
  if args.name ~= nil and (type(args.name) ~= "string" or args.name == "") then
    util.misuse(label, "name must be a non-empty string")
  end
  if args.filters ~= nil then filters.check_filters(label, args.filters) end
  if args.workspace_id ~= nil then util.check_id(label, "workspace_id", args.workspace_id) end
  if args.organisation_id ~= nil then util.check_id(label, "organisation_id", args.organisation_id) end
  return args
end

local function check_create(label, args)
  if args.workspace_id == nil and args.organisation_id == nil then
    util.misuse(label, "give workspace_id or organisation_id")
  end
  return check(label, args)
end

local FS = "/api/v1/filter-sets/"

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateFilterSet = { "POST", FS, "filter_sets", "create", class = "FilterSet",
    body = { "workspace_id", "organisation_id", "name", "filters" }, required = { "name" },
    prepare = check_create },
  GetFilterSets = { "GET", FS, "filter_sets", "list", paging = "page", class = "FilterSet",
    query = { "workspace_id", "organisation_id", "page", "page_size" },
    prepare = function(label, args)
      if args.workspace_id == nil and args.organisation_id == nil then
        util.misuse(label, "give workspace_id or organisation_id")
      end
      return check(label, args)
    end },
  GetFilterSet = { "GET", FS .. "{id}/", "filter_sets", "get", class = "FilterSet",
    query = { "version_number" },
    prepare = function(label, args)
      if args.version_number ~= nil and (compat.math_type(args.version_number) ~= "integer"
          or args.version_number < 1) then
        util.misuse(label, "version_number must be a positive integer")
      end
    end },
  UpdateFilterSet = { "PATCH", FS .. "{id}/", "filter_sets", "update", class = "FilterSet",
    body = { "name", "filters" }, prepare = check },
  DeleteFilterSet = { "DELETE", FS .. "{id}/", "filter_sets", "delete", query = {} },
  CloneFilterSet = { "POST", FS .. "{id}/clone/", "filter_sets", "clone", class = "FilterSet",
    body = { "new_name" },
    prepare = function(label, args)
      if args.new_name ~= nil and (type(args.new_name) ~= "string" or args.new_name == "") then
        util.misuse(label, "new_name must be a non-empty string")
      end
    end },
  LockFilterSet = { "POST", FS .. "{id}/lock/", "filter_sets", "lock", class = "FilterSet",
    body = {} },
  UnlockFilterSet = { "POST", FS .. "{id}/unlock/", "filter_sets", "unlock", class = "FilterSet",
    body = {} },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Methods of a FilterSet object.
M.methods = {}

--- Update the name or the filters (refused by the server while the set is locked).
-- @function FilterSet:update
-- @tparam table fields `name`, `filters`
-- @treturn[1] FilterSet the new version
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, fs, fields) return client.filter_sets:update(fs.id, fields) end

--- Delete the set (refused by the server while it is locked).
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, fs)
  local ok, err = client.filter_sets:delete(fs.id)
  if ok == nil then return nil, err end
  return true
end

--- Copy the set. @tparam[opt] table opts `new_name`
-- @treturn[1] FilterSet the copy (unlocked)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.clone(client, fs, opts) return client.filter_sets:clone(fs.id, opts) end

--- Lock the set against editing.
-- @treturn[1] FilterSet
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.lock(client, fs) return client.filter_sets:lock(fs.id) end

--- Unlock the set.
-- @treturn[1] FilterSet
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.unlock(client, fs) return client.filter_sets:unlock(fs.id) end

--- Fetch the set again (optionally an earlier version: `{version_number = n}`).
function M.methods.refresh(client, fs, opts) return client.filter_sets:get(fs.id, opts) end

--- `FilterSet 644ab312… "Ambidextrous teenagers" v1 locked (2 filters)`
function M.tostring(fs)
  local n = type(fs.filters) == "table" and #fs.filters or 0
  return ("FilterSet %s %q v%s %s(%d filter%s)"):format(util.short_id(fs.id), tostring(fs.name),
    tostring(fs.version), fs.is_locked == true and "locked " or "", n, n == 1 and "" or "s")
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { FilterSet = { methods = M.methods, tostring = M.tostring } }

return M
