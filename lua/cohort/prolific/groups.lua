--- Prolific participant groups and their members.
--
--     local g = assert(p.groups:create{ workspace_id = ws.id, name = "Passed checks",
--       participant_ids = { pid1, pid2 } })
--     g:add{ pid3 }                              -- or p.groups:add_participants(g.id, {pid3})
--     for m in g:participants() do print(m.participant_id, m.datetime_created) end
--     g:remove{ pid1 }
--
-- `participant_count` is read-only; `update{participant_ids = ...}` replaces the members, while
-- `add`/`remove` append and take away (ids already in, or not in, the group are ignored).
-- @module cohort.prolific.groups
local util = require "cohort.util"

local M = {}

local function check_create(args, ctx)
  if (args.workspace_id == nil) == (args.organisation_id == nil) then
    ctx.misuse("give exactly one of workspace_id or organisation_id")
  end
  if args.name == "" then ctx.misuse("name must not be empty") end
  return args
end

local function check_list(args, ctx)
  if args.workspace_id == nil and args.project_id == nil then
    ctx.misuse("give workspace_id (or the deprecated project_id)")
  end
  return args
end

local function check_members(args, ctx)
  local ids = args.participant_ids
  if ids == nil or type(ids) == "table" and #ids == 0 then
    ctx.misuse("participant_ids must not be empty")
  end
  return args
end

-- the members the server answers, and its answer as sent
local function members(value)
  return type(value) == "table" and value.results or value, value
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateParticipantGroup", resource = "groups", name = "create",
    class = "ParticipantGroup", prepare = check_create },
  { op = "GetParticipantGroups", resource = "groups", name = "list", class = "ParticipantGroup",
    prepare = check_list },
  { op = "GetParticipantGroup", resource = "groups", name = "get", class = "ParticipantGroup",
    verbs = { refresh = {} } },
  { op = "UpdateParticipantGroup", resource = "groups", name = "update",
    class = "ParticipantGroup", verbs = { update = { rest = true } } },
  { op = "DeleteParticipantGroup", resource = "groups", name = "delete",
    verbs = { delete = { on = "ParticipantGroup" } } },
  { op = "GetParticipantGroupParticipants", resource = "groups", name = "participants",
    class = "GroupMember",
    verbs = { participants = { on = "ParticipantGroup", mode = "each", rest = true } } },
  { op = "AddToParticipantGroup", resource = "groups", name = "add_participants",
    list_arg = "participant_ids", prepare = check_members, returns = members,
    returns_text = "the members now in the group, and the answer as sent",
    verbs = { add = { on = "ParticipantGroup", rest = true } } },
  { op = "RemoveFromParticipantGroup", resource = "groups", name = "remove_participants",
    list_arg = "participant_ids", prepare = check_members, returns = members,
    returns_text = "the members still in the group, and the answer as sent",
    verbs = { remove = { on = "ParticipantGroup", rest = true } } },
}

--- Classes.
M.classes = {
  ParticipantGroup = { var = "group",
    --- `ParticipantGroup 5e9b9c9b… "Group 1" (10 participants)`
    tostring = function(g)
      local n = tonumber(g.participant_count) or 0
      return ("ParticipantGroup %s %q (%s participant%s)"):format(util.short_id(g.id),
        tostring(g.name), tostring(n), n == 1 and "" or "s")
    end },
  GroupMember = { var = "member", key = "participant_id" },
}

return M
