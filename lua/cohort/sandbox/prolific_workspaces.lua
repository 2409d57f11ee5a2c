-- Sandbox: Prolific workspaces and projects as route rows { METHOD, "path/{param}", handler }
-- (see cohort.sandbox.prolific). Workspaces carry their balance in minor units (`balance`,
-- `available_balance`; a new workspace starts at 0) — bonus payments draw on it.
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"

local M = {}

local null = util.null

local function P() return require "cohort.sandbox.prolific" end

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local CURRENCIES = { GBP = true, USD = true }

local function me_user(state)
  local u = state.user
  return { id = u.id, name = u.name or ((u.first_name or "") .. " " .. (u.last_name or "")),
    email = u.email, roles = util.array { "WORKSPACE_ADMIN" } }
end

local function nn(v) if v == nil then return null end return v end

-- Optional string fields the spec does not make nullable are left out when unset.
local function project_short(state, p)
  return { id = p.id, title = p.title, description = p.description, owner = p.owner,
    users = util.array(p.users or { me_user(state) }),
    naivety_distribution_rate = nn(p.naivety_distribution_rate) }
end

local function project_full(state, p)
  local out = project_short(state, p)
  out.workspace = p.workspace
  return out
end

local function workspace_short(state, w)
  return { id = w.id, title = w.title, description = w.description, owner = w.owner,
    users = util.array(w.users or { me_user(state) }),
    naivety_distribution_rate = nn(w.naivety_distribution_rate) }
end

local function workspace_full(state, w)
  local out = workspace_short(state, w)
  local projects = {}
  for _, p in ipairs(state.projects or {}) do
    if p.workspace == w.id then projects[#projects + 1] = project_short(state, p) end
  end
  out.projects = util.array(projects)
  out.wallet = w.wallet
  out.currency_code = w.currency_code or "GBP"
  return out
end

-- Checks what the schema cannot say of a workspace or project body; returns field → messages.
-- (Types, required fields and the rest were checked by the contract; `description`, which the
-- create bodies do not list, is kept when it is a string.)
local function check_fields(b)
  local fields = {}
  if b.title ~= nil and b.title:match("^%s*$") then
    fields.title = { "This field may not be blank." }
  elseif b.title ~= nil and utf8.len(b.title) > 255 then
    fields.title = { "Ensure this field has no more than 255 characters." }
  end
  if b.description ~= nil and b.description ~= null and type(b.description) ~= "string" then
    fields.description = { "Not a valid string." }
  end
  local r = b.naivety_distribution_rate
  if r ~= nil and r ~= null and (r < 0 or r > 1) then
    fields.naivety_distribution_rate = { "Ensure this value is between 0 and 1." }
  end
  if b.currency_code ~= nil and not CURRENCIES[b.currency_code] then
    fields.currency_code = { string.format('"%s" is not a valid choice.', tostring(b.currency_code)) }
  end
  return fields
end

local WS_UPDATE = { title = true, description = true, naivety_distribution_rate = true }
local PROJECT_FIELDS = { title = true, description = true, naivety_distribution_rate = true }

local function get_ws(ctx, id)
  local w = find(ctx.app.state.workspaces, id)
  if not w then return nil, util.prolific_error(404, "Workspace not found.") end
  return w
end

local function get_project(ctx, id)
  local p = find(ctx.app.state.projects, id)
  if not p then return nil, util.prolific_error(404, "Project not found.") end
  return p
end

local function list_workspaces(ctx)
  local items = {}
  for _, w in ipairs(ctx.app.state.workspaces) do items[#items + 1] = workspace_short(ctx.app.state, w) end
  return P().paginate(ctx, items)
end

local function create_workspace(ctx)
  local b = ctx.body
  local fields = check_fields(b)
  if next(fields) then return util.prolific_error(400, fields) end
  local state = ctx.app.state
  local w = { id = data.new_id(state), title = b.title,
    description = type(b.description) == "string" and b.description or nil, owner = state.user.id, naivety_distribution_rate = b.naivety_distribution_rate,
    currency_code = b.currency_code or state.user.currency_code or "GBP",
    wallet = data.new_id(state), balance = 0, available_balance = 0 }
  state.workspaces[#state.workspaces + 1] = w
  return util.answer(201, workspace_full(state, w))
end

local function update_workspace(ctx, p)
  local w, e1, e2, e3 = get_ws(ctx, p.workspace_id)
  if not w then return e1, e2, e3 end
  local b = ctx.body
  local fields = check_fields(b)
  if next(fields) then return util.prolific_error(400, fields) end
  for k in pairs(WS_UPDATE) do
    if b[k] ~= nil then w[k] = b[k] ~= null and b[k] or nil end
  end
  return util.answer(200, workspace_full(ctx.app.state, w))
end

local function balance(ctx, p)
  local w, e1, e2, e3 = get_ws(ctx, p.workspace_id)
  if not w then return e1, e2, e3 end
  local total = math.floor((tonumber(w.balance) or 0) + 0.5)
  local avail = math.floor((tonumber(w.available_balance) or total) + 0.5)
  -- the breakdown splits the balance in the proportions of a reward with its fees and VAT
  local function breakdown(x)
    local gbp = (w.currency_code or "GBP") == "GBP"
    local fees_share = 1 / 3
    local vat_share = gbp and fees_share * 0.2 or 0
    local rewards = math.floor(x / (1 + fees_share + vat_share))
    local vat = math.floor(rewards * vat_share)
    return { rewards = rewards, fees = x - rewards - vat, vat = vat }
  end
  return util.answer(200, {
    currency_code = w.currency_code or "GBP",
    total_balance = total, balance_breakdown = breakdown(total),
    available_balance = avail, available_balance_breakdown = breakdown(avail),
  })
end

local function list_projects(ctx, p)
  local w, e1, e2, e3 = get_ws(ctx, p.workspace_id)
  if not w then return e1, e2, e3 end
  local items = {}
  for _, pr in ipairs(ctx.app.state.projects) do
    if pr.workspace == w.id then items[#items + 1] = project_short(ctx.app.state, pr) end
  end
  return P().paginate(ctx, items)
end

local function create_project(ctx, p)
  local w, e1, e2, e3 = get_ws(ctx, p.workspace_id)
  if not w then return e1, e2, e3 end
  local b = ctx.body
  local fields = check_fields(b)
  if next(fields) then return util.prolific_error(400, fields) end
  local state = ctx.app.state
  local pr = { id = data.new_id(state), title = b.title,
    description = type(b.description) == "string" and b.description or nil,
    owner = state.user.id, workspace = w.id,
    naivety_distribution_rate = b.naivety_distribution_rate }
  state.projects[#state.projects + 1] = pr
  return util.answer(201, project_full(state, pr))
end

local function update_project(ctx, p)
  local pr, e1, e2, e3 = get_project(ctx, p.project_id)
  if not pr then return e1, e2, e3 end
  local b = ctx.body
  local fields = check_fields(b)
  if next(fields) then return util.prolific_error(400, fields) end
  for k in pairs(PROJECT_FIELDS) do
    if b[k] ~= nil then pr[k] = b[k] ~= null and b[k] or nil end
  end
  return util.answer(200, project_full(ctx.app.state, pr))
end

M.routes = {
  { "GET", "workspaces", list_workspaces, op = "GetWorkspaces" },
  { "POST", "workspaces", create_workspace, op = "CreateWorkspace" },
  { "GET", "workspaces/{workspace_id}", function(ctx, p)
      local w, e1, e2, e3 = get_ws(ctx, p.workspace_id)
      if not w then return e1, e2, e3 end
      return util.answer(200, workspace_full(ctx.app.state, w))
    end, op = "GetWorkspace" },
  { "PATCH", "workspaces/{workspace_id}", update_workspace, op = "UpdateWorkspace" },
  { "GET", "workspaces/{workspace_id}/balance", balance, op = "GetWorkspaceBalance" },
  { "GET", "workspaces/{workspace_id}/projects", list_projects, op = "GetProjects" },
  { "POST", "workspaces/{workspace_id}/projects", create_project, op = "CreateProject" },
  { "GET", "projects/{project_id}", function(ctx, p)
      local pr, e1, e2, e3 = get_project(ctx, p.project_id)
      if not pr then return e1, e2, e3 end
      return util.answer(200, project_full(ctx.app.state, pr))
    end, op = "GetProject" },
  { "PATCH", "projects/{project_id}", update_project, op = "UpdateProject" },
}

return M
