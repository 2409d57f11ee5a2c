-- Sandbox: Prolific participant groups with their members, and invitations (rows { METHOD,
-- "path/{param}", handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- State (created lazily): ctx.app.state.participant_groups (array of {id, name, description,
-- workspace_id, organisation_id, project_id, is_deleted, members = {{participant_id,
-- datetime_created}}}) and ctx.app.state.invitations (array of Invitation objects).
-- A deleted group keeps answering GET with is_deleted = true (and `?active=false` lists it) but
-- refuses changes with 404. Adding members already in the group, or removing members not in it,
-- is ignored, as Prolific documents. Members are participants the sandbox knows: members of its
-- participant pool, or participants of the state's submissions (cohort.sandbox.participants);
-- any other id is refused with 400 naming `participant_ids.N`. A submission completed with a
-- code whose actions are ADD_TO_PARTICIPANT_GROUP / REMOVE_FROM_PARTICIPANT_GROUP changes the
-- group's members (applied before every group route reads them). An invitation's association must be a workspace
-- (WORKSPACE_ADMIN, WORKSPACE_COLLABORATOR) or a project (PROJECT_EDITOR) of the state.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"

local H = surveys.helpers
local null = util.null

local M = {}

local function groups(app) return H.state(app, "participant_groups") end

local participants = require "cohort.sandbox.participants"

-- ParticipantGroup: description nullable; feeder_studies: the studies whose completion codes
-- add to or remove from the group (ADD_TO_PARTICIPANT_GROUP / REMOVE_FROM_PARTICIPANT_GROUP).
local function feeders(state, g)
  local out = {}
  for _, st in ipairs(state.studies or {}) do
    local codes = {}
    for _, c in ipairs(st.completion_codes or {}) do
      for _, a in ipairs(c.actions or {}) do
        if (a.action == "ADD_TO_PARTICIPANT_GROUP" or a.action == "REMOVE_FROM_PARTICIPANT_GROUP")
            and a.participant_group == g.id then
          codes[#codes + 1] = { code = c.code ~= null and c.code or "", code_type = c.code_type,
            action = a.action }
        end
      end
    end
    if #codes > 0 then
      out[#out + 1] = { id = st.id, name = st.name, internal_name = st.internal_name ~= null
        and st.internal_name or nil, status = st.status, feeder_completion_codes = util.array(codes) }
    end
  end
  return util.array(out)
end

local function shape(state, g)
  return { id = g.id, name = g.name, description = g.description or null,
    project_id = g.project_id or null, workspace_id = g.workspace_id or null,
    organisation_id = g.organisation_id or null, participant_count = #g.members,
    is_deleted = g.is_deleted, feeder_studies = feeders(state, g) }
end

local function members_body(g)
  local out = {}
  for i, m in ipairs(g.members) do out[i] = { participant_id = m.participant_id, datetime_created = m.datetime_created } end
  return { results = util.array(out) }
end

-- participant_ids (an array of ids: the schema) → 400 fields when an id is not a participant of
-- the sandbox — a member of its pool or a participant of a submission of the state
-- (cohort.sandbox.participants.not_participant) — or when `nonempty` and it is empty.
-- Removing takes any id that is not another object's (removing a non-member is ignored).
local function check_ids(app, ids, nonempty, removing)
  if ids == nil then return { participant_ids = { "This field is required." } } end
  if nonempty and #ids == 0 then return { participant_ids = { "This list may not be empty." } } end
  if removing then
    -- the state seen without its `participants` list: only ids of other objects are refused
    local other = setmetatable({ participants = false }, { __index = app.state })
    return require("cohort.sandbox.prolific").check_participants(other, ids, "participant_ids")
  end
  return participants.check(app, ids, "participant_ids")
end

-- Before a group is read or changed: the state's submissions completed with a code whose
-- actions add to or remove from a group have done so (cohort.sandbox.participants.sync).
local function sync(ctx)
  require("cohort.sandbox.prolific_studies").advance(ctx.app, ctx.req.time or os.time())
  participants.sync(ctx.app)
end

--- Adds participants to a group's members (those already in it are left as they are).
-- @tparam table app
-- @tparam table g a group of state.participant_groups
-- @tparam table ids participant ids
function M.add_members(app, g, ids)
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

--- Removes participants from a group's members (those not in it are ignored).
-- @tparam table g
-- @tparam table ids
function M.remove_members(g, ids)
  local drop = {}
  for _, id in ipairs(ids) do drop[id] = true end
  local keep = {}
  for _, m in ipairs(g.members) do
    if not drop[m.participant_id] then keep[#keep + 1] = m end
  end
  g.members = keep
end

local add_members = M.add_members

local function get_group(ctx, id, live)
  sync(ctx)
  local g = H.find(groups(ctx.app), id)
  if not g or (live and g.is_deleted) then
    return nil, { util.prolific_error(404, "Participant group not found.") }
  end
  return g
end

local function create(ctx)
  local b = ctx.body
  local state = ctx.app.state
  local fields = {}
  if b.name:match("^%s*$") then fields.name = { "This field may not be blank." } end
  if (b.workspace_id == nil) == (b.organisation_id == nil) then
    fields.workspace_id = { "Give exactly one of workspace_id or organisation_id." }
  elseif b.workspace_id ~= nil and not H.find(state.workspaces or {}, b.workspace_id) then
    fields.workspace_id = { "Workspace not found." }
  end
  local ids = b.participant_ids or {}
  for k, v in pairs(check_ids(ctx.app, ids) or {}) do fields[k] = v end
  if next(fields) then return util.prolific_error(400, fields) end
  local g = { id = H.id(ctx.app), name = b.name,
    description = type(b.description) == "string" and b.description or nil,
    workspace_id = b.workspace_id, organisation_id = b.organisation_id, is_deleted = false,
    members = {} }
  add_members(ctx.app, g, ids)
  table.insert(groups(ctx.app), g)
  return util.answer(201, shape(state, g))
end

-- PATCH: name, description, and participant_ids, which replaces the members ([] empties the
-- group; an object or anything but an array of ids is refused by the schema).
local function update(ctx, p)
  local g, e = get_group(ctx, p.id, true)
  if not g then return table.unpack(e) end
  local b = ctx.body
  local state = ctx.app.state
  local fields = {}
  if b.name ~= nil and b.name:match("^%s*$") then fields.name = { "This field may not be blank." } end
  if b.description ~= nil and b.description ~= null and type(b.description) ~= "string" then
    fields.description = { "Not a valid string." }
  end
  if b.participant_ids ~= nil then
    for k, v in pairs(check_ids(ctx.app, b.participant_ids) or {}) do fields[k] = v end
  end
  if next(fields) then return util.prolific_error(400, fields) end
  if b.name ~= nil then g.name = b.name end
  if b.description ~= nil then g.description = b.description ~= null and b.description or nil end
  if b.participant_ids ~= nil then
    g.members = {}
    add_members(ctx.app, g, b.participant_ids)
  end
  return util.answer(200, shape(state, g))
end

local function membership(add)
  return function(ctx, p)
    local g, e = get_group(ctx, p.id, true)
    if not g then return table.unpack(e) end
    local ids = ctx.body.participant_ids
    local fields = check_ids(ctx.app, ids, true, not add)
    if fields then return util.prolific_error(400, fields) end
    if add then
      add_members(ctx.app, g, ids)
    else
      M.remove_members(g, ids)
    end
    return util.answer(200, members_body(g))
  end
end

-- Invitations -----------------------------------------------------------------------------------

M.ROLES = { WORKSPACE_ADMIN = "workspace", WORKSPACE_COLLABORATOR = "workspace", PROJECT_EDITOR = "project" }

-- (CreateInvitationRequest: role's enum, the association's format and the e-mail addresses'
-- were checked by the contract; none of its fields is required there, so presence is here.)
local function invite(ctx)
  local b = ctx.body
  local state = ctx.app.state
  local fe = H.fields()
  local kind = M.ROLES[b.role]
  if not kind then
    fe.add("role", "This field is required.")
  end
  if b.association == nil then
    fe.add("association", "This field is required.")
  elseif kind == "workspace" and not H.find(state.workspaces or {}, b.association) then
    fe.add("association", "No workspace with this id (roles WORKSPACE_* invite to a workspace).")
  elseif kind == "project" and not H.find(state.projects or {}, b.association) then
    fe.add("association", "No project with this id (PROJECT_EDITOR invites to a project).")
  end
  if b.emails == nil or #b.emails == 0 then
    fe.add("emails", "Ensure this list has at least 1 item.")
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
  return util.answer(201, { invitations = util.array(out) })
end

M.routes = {
  { "POST", "participant-groups", create, op = "CreateParticipantGroup" },
  { "GET", "participant-groups", function(ctx)
      local ws, pr = ctx.params.workspace_id, ctx.params.project_id
      if ws == nil and pr == nil then
        return util.prolific_error(400, { workspace_id = { "Give workspace_id (or project_id)." } })
      end
      sync(ctx)
      local active = ctx.params.active -- "true" or "false" (the schema's enum)
      local items = {}
      for _, g in ipairs(groups(ctx.app)) do
        local where = (ws and g.workspace_id == ws) or (pr and g.project_id == pr)
        local state_ok = active == nil or (active == "true") == (not g.is_deleted)
        if where and state_ok then items[#items + 1] = shape(ctx.app.state, g) end
      end
      return H.paginate(ctx, items)
    end, op = "GetParticipantGroups" },
  { "GET", "participant-groups/{id}", function(ctx, p)
      local g, e = get_group(ctx, p.id, false)
      if not g then return table.unpack(e) end
      return util.answer(200, shape(ctx.app.state, g))
    end, op = "GetParticipantGroup" },
  { "PATCH", "participant-groups/{id}", update, op = "UpdateParticipantGroup" },
  { "DELETE", "participant-groups/{id}", function(ctx, p)
      local g, e = get_group(ctx, p.id, true)
      if not g then return table.unpack(e) end
      g.is_deleted = true
      return 204, {}, ""
    end, op = "DeleteParticipantGroup" },
  { "GET", "participant-groups/{id}/participants", function(ctx, p)
      local g, e = get_group(ctx, p.id, false)
      if not g then return table.unpack(e) end
      return H.paginate(ctx, members_body(g).results)
    end, op = "GetParticipantGroupParticipants" },
  { "POST", "participant-groups/{id}/participants", membership(true), op = "AddToParticipantGroup" },
  { "DELETE", "participant-groups/{id}/participants", membership(false),
    op = "RemoveFromParticipantGroup" },
  { "POST", "invitations", invite, op = "CreateInvitation" },
}

return M
