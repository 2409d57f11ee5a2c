--- Prolific workspaces and their projects: rows, validators, the `Workspace` and `Project`
-- classes.
--
--     for ws in p.workspaces:each() do print(ws) end
--     local ws = assert(p.workspaces:create{ title = "Lab", currency_code = "GBP" })
--     local bal = assert(ws:balance())   --> {total_balance = 0, available_balance = 0, ...}
--     local project = assert(ws:create_project{ title = "Pilot" })
--     local study = assert(project:create_study{ ... })   -- the project is filled in
--     for st in project:each_study() do print(st) end
--
-- Balances are in minor units (pence/cents).
-- @module cohort.prolific.workspaces
local util = require "cohort.util"

local M = {}

--- Titles must say something.
-- @tparam table args
-- @tparam table ctx
-- @treturn table args
function M.check_title(args, ctx)
  if type(args.title) == "string" and args.title:match("^%s*$") then
    ctx.misuse("title must not be blank")
  end
  return args
end

local function check_update(args, ctx)
  if next(args) == nil then ctx.misuse("nothing to update: give at least one field") end
  return M.check_title(args, ctx)
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "GetWorkspaces", resource = "workspaces", name = "list", class = "Workspace" },
  { op = "CreateWorkspace", resource = "workspaces", name = "create", class = "Workspace",
    prepare = M.check_title },
  { op = "GetWorkspace", resource = "workspaces", name = "get", class = "Workspace",
    verbs = { refresh = {} } },
  { op = "UpdateWorkspace", resource = "workspaces", name = "update", class = "Workspace",
    prepare = check_update, verbs = { update = { rest = true } } },
  { op = "GetWorkspaceBalance", resource = "workspaces", name = "balance",
    verbs = { balance = { on = "Workspace" } }, note = "minor units" },
  { op = "GetProjects", resource = "projects", name = "list", class = "Project",
    verbs = {
      projects = { on = "Workspace", rest = true },
      each_project = { on = "Workspace", rest = true, mode = "each" },
      all_projects = { on = "Workspace", rest = true, mode = "all" },
    } },
  { op = "CreateProject", resource = "projects", name = "create", class = "Project",
    prepare = M.check_title, verbs = { create_project = { on = "Workspace", rest = true } } },
  { op = "GetProject", resource = "projects", name = "get", class = "Project",
    verbs = { refresh = {} } },
  { op = "UpdateProject", resource = "projects", name = "update", class = "Project",
    prepare = check_update, verbs = { update = { rest = true } } },
}

--- Classes.
M.classes = {
  Workspace = { var = "ws", tostring = function(ws)
    return ("Workspace %s %q"):format(util.short_id(ws.id), tostring(ws.title))
  end },
  Project = { var = "project", tostring = function(pr)
    return ("Project %s %q"):format(util.short_id(pr.id), tostring(pr.title))
  end },
}

return M
