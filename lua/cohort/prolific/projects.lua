--- Prolific projects: the folders of a workspace that hold studies.
--
--     local project = assert(p.projects:create(workspace_id, { title = "Pilot" }))
--     for pr in p.projects:each(workspace_id) do print(pr) end
--     local study = assert(project:create_study{ ... })   -- the project is filled in
--     for st in project:each_study() do print(st) end
--
-- @module cohort.prolific.projects
local util = require "cohort.util"
local workspaces = require "cohort.prolific.workspaces"

local M = {}

local function check(creating)
  return function(label, args)
    if args.currency_code ~= nil then util.misuse(label, "unknown option 'currency_code'") end
    return workspaces.check_fields(label, args, creating)
  end
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  GetProjects = { "GET", "/api/v1/workspaces/{workspace_id}/projects/", "projects", "list",
    paging = "page", class = "Project", query = { "page", "page_size" } },
  CreateProject = { "POST", "/api/v1/workspaces/{workspace_id}/projects/", "projects", "create",
    class = "Project", body = { "title", "description", "naivety_distribution_rate" },
    prepare = check(true) },
  GetProject = { "GET", "/api/v1/projects/{project_id}/", "projects", "get", class = "Project" },
  UpdateProject = { "PATCH", "/api/v1/projects/{project_id}/", "projects", "update",
    class = "Project", body = { "title", "description", "naivety_distribution_rate" },
    prepare = check(false) },
}

--- Methods of a Project.
M.methods = {}

--- Update the project (`title`, `description`, `naivety_distribution_rate`).
-- @function Project:update
-- @tparam table fields
-- @treturn[1] Project
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, project, fields)
  return client.projects:update(project.id, fields)
end

--- One page of the project's studies (`status` filter as in `p.studies:list`).
-- @treturn[1] Page of Study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.studies(client, project, query)
  return client.studies:for_project(project.id, query)
end

--- Iterate over every study of the project (raises the error object on failure).
-- @treturn function iterator of Study
function M.methods.each_study(client, project, query)
  return client.studies:each_for_project(project.id, query)
end

--- Every study of the project in one array.
-- @treturn[1] {Study,...}
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.all_studies(client, project, query)
  return client.studies:all_for_project(project.id, query)
end

--- Create a draft study in this project (see `p.studies:create`; `reward` in minor units).
-- @function Project:create_study
-- @tparam table fields
-- @treturn[1] Study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.create_study(client, project, fields)
  if type(fields) ~= "table" then util.misuse("Project:create_study()", "expected a table of fields") end
  local f = {}
  for k, v in pairs(fields) do f[k] = v end
  f.project = f.project or project.id
  return client.studies:create(f)
end

--- Fetch the project again.
-- @treturn[1] Project
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, project)
  return client.projects:get(project.id)
end

--- `Project 60a42f4c… "Sandbox project"`
function M.tostring(pr)
  return ("Project %s %q"):format(util.short_id(pr.id), tostring(pr.title))
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { Project = { methods = M.methods, tostring = M.tostring } }

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

return M
