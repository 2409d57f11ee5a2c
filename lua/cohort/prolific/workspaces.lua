--- Prolific workspaces: list, create, get, update, and the balance.
--
--     for ws in p.workspaces:each() do print(ws) end
--     local ws = assert(p.workspaces:create{ title = "Lab", currency_code = "GBP" })
--     local bal = assert(ws:balance())   --> {total_balance = 0, available_balance = 0, ...}
--     local project = assert(ws:create_project{ title = "Pilot" })
--
-- Balances are in minor units (pence/cents).
-- @module cohort.prolific.workspaces
local util = require "cohort.util"

local M = {}

--- Currencies a workspace may hold.
M.CURRENCIES = { GBP = true, USD = true }

--- Check title / description / naivety_distribution_rate / currency_code (shared with projects).
function M.check_fields(label, args, creating)
  if creating and args.title == nil then util.misuse(label, "field 'title' is required") end
  if args.title ~= nil and (type(args.title) ~= "string" or args.title:match("^%s*$")) then
    util.misuse(label, "title must be a non-empty string")
  end
  if args.description ~= nil and type(args.description) ~= "string" then
    util.misuse(label, "description must be a string")
  end
  local r = args.naivety_distribution_rate
  if r ~= nil and (type(r) ~= "number" or r < 0 or r > 1) then
    util.misuse(label, "naivety_distribution_rate must be a number from 0 to 1 (got %s)", tostring(r))
  end
  if args.currency_code ~= nil and not M.CURRENCIES[args.currency_code] then
    util.misuse(label, "currency_code must be GBP or USD (got %s)", tostring(args.currency_code))
  end
  if not creating and next(args) == nil then
    util.misuse(label, "nothing to update: give at least one field")
  end
  return args
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  GetWorkspaces = { "GET", "/api/v1/workspaces/", "workspaces", "list", paging = "page",
    class = "Workspace", query = { "page", "page_size" } },
  CreateWorkspace = { "POST", "/api/v1/workspaces/", "workspaces", "create", class = "Workspace",
    body = { "title", "description", "naivety_distribution_rate", "currency_code" },
    prepare = function(l, a) return M.check_fields(l, a, true) end },
  GetWorkspace = { "GET", "/api/v1/workspaces/{workspace_id}/", "workspaces", "get",
    class = "Workspace" },
  UpdateWorkspace = { "PATCH", "/api/v1/workspaces/{workspace_id}/", "workspaces", "update",
    class = "Workspace", body = { "title", "description", "naivety_distribution_rate" },
    prepare = function(l, a) return M.check_fields(l, a, false) end },
  GetWorkspaceBalance = { "GET", "/api/v1/workspaces/{workspace_id}/balance/", "workspaces",
    "balance", query = {} },
}

--- Methods of a Workspace.
M.methods = {}

--- Update the workspace (`title`, `description`, `naivety_distribution_rate`).
-- @function Workspace:update
-- @tparam table fields
-- @treturn[1] Workspace
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, ws, fields)
  return client.workspaces:update(ws.id, fields)
end

--- The funds of the workspace: `{currency_code, total_balance, available_balance,
-- balance_breakdown, available_balance_breakdown}`, in minor units.
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.balance(client, ws)
  return client.workspaces:balance(ws.id)
end

--- One page of the workspace's projects.
-- @treturn[1] Page of Project
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.projects(client, ws, query)
  return client.projects:list(ws.id, query)
end

--- Iterate over every project of the workspace (raises the error object on failure).
-- @treturn function iterator of Project
function M.methods.each_project(client, ws, query)
  return client.projects:each(ws.id, query)
end

--- Every project of the workspace in one array.
-- @treturn[1] {Project,...}
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.all_projects(client, ws, query)
  return client.projects:all(ws.id, query)
end

--- Create a project in the workspace.
-- @function Workspace:create_project
-- @tparam table fields `title` (required), `description`, `naivety_distribution_rate`
-- @treturn[1] Project
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.create_project(client, ws, fields)
  return client.projects:create(ws.id, fields)
end

--- Fetch the workspace again.
-- @treturn[1] Workspace
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, ws)
  return client.workspaces:get(ws.id)
end

--- `Workspace 60a42f4c… "Sandbox workspace"`
function M.tostring(ws)
  return ("Workspace %s %q"):format(util.short_id(ws.id), tostring(ws.title))
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { Workspace = { methods = M.methods, tostring = M.tostring } }

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

return M
