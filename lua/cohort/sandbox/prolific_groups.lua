-- Sandbox: Prolific participant groups with their members, and invitations (rows { METHOD,
-- "path/{param}", handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- State (created lazily): ctx.app.state.participant_groups (array of {id, name, description,
-- workspace_id, organisation_id, project_id, is_deleted, members = {{participant_id,
-- datetime_created}}}) and ctx.app.state.invitations (array of Invitation objects).
-- A deleted group keeps answering GET with is_deleted = true (and `?active=false` lists it) but
-- refuses changes with 404. Adding members already in the group, or removing members not in it,
-- is ignored, as Prolific documents. An invitation's association must be a workspace
-- (WORKSPACE_ADMIN, WORKSPACE_COLLABORATOR) or a project (PROJECT_EDITOR) of the state.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"

local H = surveys.helpers
local null = util.null

local M = {}

local function groups(app) return H.state(app, "participant_groups") end

local function shape(g)
  return { id = g.id, name = g.name, description = g.description or null,
    project_id = g.project_id or null, workspace_id = g.workspace_id or null,
    organisation_id = g.organisation_id or null, participant_count = #g.members,
    is_deleted = g.is_deleted, feeder_studies = util.array({}) }
end

local function members_body(g)
  local out = {}
  for i, m in ipairs(g.members) do out[i] = { participant_id = m.participant_id, datetime_created = m.datetime_created } end
  return { results = util.array(out) }
end

local function check_ids(fe, ids, field)
  if not H.is_array(ids) then fe.add(field, "Expected a list of participant ids.") return nil end
  for i, id in ipairs(ids) do
    if not H.nonempty_string(id) then
      fe.add(field, ("Item %d is not a participant id."):format(i - 1))
    end
  end
  return ids
end

local function add_members(app, g, ids)
  local have = {}
  for _, m in ipairs(g.members) do have[m.participant_id] = true end
  local now = H.now(app)
  for _, id in ipairs(ids) do
    if not have[id] then
      have[id] = true
      g.members[#g.members + 1] = { participant_id = id, datetime_created = now }
    end
  end
end

local function get_group(ctx, id, live)
  local g = H.find(groups(ctx.app), id)
  if not g or (live and g.is_deleted) then
    return nil, { util.prolific_error(404, "Participant group not found.") }
  end
  return g
end

local function create(ctx)
  local b, e = H.body(ctx)
  if not b then return table.unpack(e) end
  local state = ctx.app.state
  local fe = H.fields()
  if not H.nonempty_string(b.name) then fe.add("name", "This field is required.") end
  if (b.workspace_id == nil) == (b.organisation_id == nil) then
    fe.add("workspace_id", "Give exactly one of workspace_id or organisation_id.")
  elseif b.workspace_id ~= nil and not H.find(state.workspaces or {}, b.workspace_id) then
    fe.add("workspace_id", "Workspace not found.")
  end
  if b.description ~= nil and b.description ~= null and type(b.description) ~= "string" then
    fe.add("description", "Not a valid string.")
  end
  local ids = b.participant_ids ~= nil and check_ids(fe, b.participant_ids, "participant_ids") or {}
  local bad = fe.answer()
  if bad then return fe.answer() end
  local g = { id = H.id(ctx.app), name = b.name, description = b.description ~= null and b.description or nil,
    workspace_id = b.workspace_id, organisation_id = b.organisation_id, is_deleted = false,
    members = {} }
  add_members(ctx.app, g, ids)
  table.insert(groups(ctx.app), g)
  return util.json(201, shape(g))
end

local function update(ctx, p)
  local g, e = get_group(ctx, p.id, true)
  if not g then return table.unpack(e) end
  local b, be = H.body(ctx)
  if not b then return table.unpack(be) end
  local fe = H.fields()
  if b.name ~= nil and not H.nonempty_string(b.name) then fe.add("name", "Not a valid string.") end
  if b.description ~= nil and b.description ~= null and type(b.description) ~= "string" then
    fe.add("description", "Not a valid string.")
  end
  local ids = b.participant_ids ~= nil and check_ids(fe, b.participant_ids, "participant_ids") or nil
  local bad = fe.answer()
  if bad then return fe.answer() end
  if b.name ~= nil then g.name = b.name end
  if b.description ~= nil then g.description = b.description ~= null and b.description or nil end
  if ids then
    g.members = {}
    add_members(ctx.app, g, ids)
  end
  return util.json(200, shape(g))
end

local function membership(add)
  return function(ctx, p)
    local g, e = get_group(ctx, p.id, true)
    if not g then return table.unpack(e) end
    local b, be = H.body(ctx)
    if not b then return table.unpack(be) end
    local fe = H.fields()
    if b.participant_ids == nil then fe.add("participant_ids", "This field is required.") end
    local ids = check_ids(fe, b.participant_ids, "participant_ids")
    local bad = fe.answer()
    if bad then return fe.answer() end
    if add then
      add_members(ctx.app, g, ids)
    else
      local drop = {}
      for _, id in ipairs(ids) do drop[id] = true end
      local keep = {}
      for _, m in ipairs(g.members) do
        if not drop[m.participant_id] then keep[#keep + 1] = m end
      end
      g.members = keep
    end
    return util.json(200, members_body(g))
  end
end

-- Invitations -----------------------------------------------------------------------------------

M.ROLES = { WORKSPACE_ADMIN = "workspace", WORKSPACE_COLLABORATOR = "workspace", PROJECT_EDITOR = "project" }

local function invite(ctx)
  local b, e = H.body(ctx)
  if not b then return table.unpack(e) end
  local state = ctx.app.state
  local fe = H.fields()
  local kind = M.ROLES[b.role]
  if not kind then
    fe.add("role", ('"%s" is not a valid choice.'):format(tostring(b.role)))
  end
  if not H.nonempty_string(b.association) then
    fe.add("association", "This field is required.")
  elseif kind == "workspace" and not H.find(state.workspaces or {}, b.association) then
    fe.add("association", "No workspace with this id (roles WORKSPACE_* invite to a workspace).")
  elseif kind == "project" and not H.find(state.projects or {}, b.association) then
    fe.add("association", "No project with this id (PROJECT_EDITOR invites to a project).")
  end
  if not H.is_array(b.emails) or #b.emails == 0 then
    fe.add("emails", "Ensure this list has at least 1 item.")
  else
    for i, m in ipairs(b.emails) do
      if type(m) ~= "string" or not m:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
        fe.add("emails", ("Item %d: enter a valid email address."):format(i - 1))
      end
    end
  end
  local bad = fe.answer()
  if bad then return fe.answer() end
  local list = H.state(ctx.app, "invitations")
  local out = {}
  for _, m in ipairs(b.emails) do
    local inv = { association = b.association, invitee = { id = null, name = null, email = m },
      invited_by = state.user and state.user.id or null, status = "INVITED", role = b.role,
      invite_link = ctx.origin .. "/invitations/" .. H.id(ctx.app) }
    list[#list + 1] = inv
    out[#out + 1] = inv
  end
  return util.json(201, { invitations = util.array(out) })
end

M.routes = {
  { "POST", "participant-groups", create },
  { "GET", "participant-groups", function(ctx)
      local ws, pr = ctx.query.workspace_id, ctx.query.project_id
      if (ws == nil or ws == "") and (pr == nil or pr == "") then
        return util.prolific_error(400, { workspace_id = { "Give workspace_id (or project_id)." } })
      end
      local active = ctx.query.active
      if active ~= nil and active ~= "true" and active ~= "false" then
        return util.prolific_error(400, { active = { '"true" or "false".' } })
      end
      local items = {}
      for _, g in ipairs(groups(ctx.app)) do
        local where = (ws and g.workspace_id == ws) or (pr and g.project_id == pr)
        local state_ok = active == nil or (active == "true") == (not g.is_deleted)
        if where and state_ok then items[#items + 1] = shape(g) end
      end
      return H.paginate(ctx, items)
    end },
  { "GET", "participant-groups/{id}", function(ctx, p)
      local g, e = get_group(ctx, p.id, false)
      if not g then return table.unpack(e) end
      return util.json(200, shape(g))
    end },
  { "PATCH", "participant-groups/{id}", update },
  { "DELETE", "participant-groups/{id}", function(ctx, p)
      local g, e = get_group(ctx, p.id, true)
      if not g then return table.unpack(e) end
      g.is_deleted = true
      return 204, {}, ""
    end },
  { "GET", "participant-groups/{id}/participants", function(ctx, p)
      local g, e = get_group(ctx, p.id, false)
      if not g then return table.unpack(e) end
      return H.paginate(ctx, members_body(g).results)
    end },
  { "POST", "participant-groups/{id}/participants", membership(true) },
  { "DELETE", "participant-groups/{id}/participants", membership(false) },
  { "POST", "invitations", invite },
}

return M
