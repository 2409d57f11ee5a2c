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

local function check_ids(label, ids, field)
  if type(ids) ~= "table" then
    util.misuse(label, "%s must be an array of participant ids", field)
  end
  for i, id in ipairs(ids) do util.check_id(label, ("%s[%d]"):format(field, i), id) end
  return ids
end

local function check(label, args)
  for _, k in ipairs { "name", "description" } do
    if args[k] ~= nil and (type(args[k]) ~= "string" or (k == "name" and args[k] == "")) then
      util.misuse(label, "%s must be a %sstring", k, k == "name" and "non-empty " or "")
    end
  end
  if args.participant_ids ~= nil then check_ids(label, args.participant_ids, "participant_ids") end
  for _, k in ipairs { "workspace_id", "organisation_id", "project_id" } do
    if args[k] ~= nil then util.check_id(label, k, args[k]) end
  end
  return args
end

local PG = "/api/v1/participant-groups/"

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateParticipantGroup = { "POST", PG, "groups", "create", class = "ParticipantGroup",
    body = { "workspace_id", "organisation_id", "name", "description", "participant_ids" },
    required = { "name" },
    prepare = function(label, args)
      if (args.workspace_id == nil) == (args.organisation_id == nil) then
        util.misuse(label, "give exactly one of workspace_id or organisation_id")
      end
      return check(label, args)
    end },
  GetParticipantGroups = { "GET", PG, "groups", "list", paging = "page",
    class = "ParticipantGroup",
    query = { "workspace_id", "project_id", "active", "page", "page_size" },
    prepare = function(label, args)
      if args.workspace_id == nil and args.project_id == nil then
        util.misuse(label, "give workspace_id (or the deprecated project_id)")
      end
      if args.active ~= nil then
        if type(args.active) ~= "boolean" then util.misuse(label, "active must be a boolean") end
        args.active = tostring(args.active)
      end
      return check(label, args)
    end },
  GetParticipantGroup = { "GET", PG .. "{id}/", "groups", "get", class = "ParticipantGroup" },
  UpdateParticipantGroup = { "PATCH", PG .. "{id}/", "groups", "update",
    class = "ParticipantGroup", body = { "name", "description", "participant_ids" },
    prepare = check },
  DeleteParticipantGroup = { "DELETE", PG .. "{id}/", "groups", "delete", query = {} },
  GetParticipantGroupParticipants = { "GET", PG .. "{id}/participants/", "groups",
    "participants", paging = "page", query = { "page", "page_size" } },
  AddToParticipantGroup = { "POST", PG .. "{id}/participants/", "groups", "add_participants",
    body = { "participant_ids" }, required = { "participant_ids" },
    prepare = function(label, args) check_ids(label, args.participant_ids, "participant_ids") end },
  RemoveFromParticipantGroup = { "DELETE", PG .. "{id}/participants/", "groups",
    "remove_participants", body = { "participant_ids" }, required = { "participant_ids" } },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

-- Membership change: the ids may be given as an array or as {participant_ids = {...}}.
local function membership(res, op, label, id, ids)
  local client = res._client
  util.check_id(label, "id", id)
  if type(ids) ~= "table" then
    util.misuse(label, "expected an array of participant ids (or {participant_ids = {...}})")
  end
  if ids.participant_ids ~= nil then
    util.check_keys(label, ids, { participant_ids = true })
    ids = ids.participant_ids
  end
  check_ids(label, ids, "participant_ids")
  if #ids == 0 then util.misuse(label, "participant_ids must not be empty") end
  local row = M.operations[op]
  -- Built by hand: RemoveFromParticipantGroup is a DELETE with a JSON body, which the generic
  -- builder would send as a query.
  local value, err = client:send { method = row[1], path = row[2], ids = { id },
    body = { participant_ids = ids } }
  if value == nil then return nil, err end
  return type(value) == "table" and value.results or value, value
end

--- Add participants to a group (those already in it are ignored).
-- @function p.groups:add_participants
-- @tparam string id the group's id
-- @tparam table ids an array of participant ids (or `{participant_ids = {...}}`)
-- @treturn[1] table the members now in the group (`{participant_id, datetime_created}` each)
-- @treturn[1] table the server's answer as sent
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.add_participants(res, id, ids)
  return membership(res, "AddToParticipantGroup", "prolific.groups:add_participants()", id, ids)
end

--- Remove participants from a group (those not in it are ignored).
-- @function p.groups:remove_participants
-- @tparam string id the group's id
-- @tparam table ids an array of participant ids (or `{participant_ids = {...}}`)
-- @treturn[1] table the members still in the group
-- @treturn[1] table the server's answer as sent
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.remove_participants(res, id, ids)
  return membership(res, "RemoveFromParticipantGroup", "prolific.groups:remove_participants()",
    id, ids)
end

--- Methods of a ParticipantGroup object.
M.methods = {}

--- Add participants. @tparam table ids array of participant ids
-- @treturn[1] table the members now in the group
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.add(client, g, ids) return client.groups:add_participants(g.id, ids) end

--- Remove participants. @tparam table ids array of participant ids
-- @treturn[1] table the members still in the group
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.remove(client, g, ids) return client.groups:remove_participants(g.id, ids) end

--- Every member, lazily across pages (an iterator raising the `cohort.Error` on failure).
function M.methods.participants(client, g) return client.groups:each_participants(g.id) end

--- Update `name`, `description`, or replace the members with `participant_ids`.
-- @treturn[1] ParticipantGroup
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, g, fields) return client.groups:update(g.id, fields) end

--- Delete the group.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, g)
  local ok, err = client.groups:delete(g.id)
  if ok == nil then return nil, err end
  return true
end

--- Fetch the group again.
function M.methods.refresh(client, g) return client.groups:get(g.id) end

--- `ParticipantGroup 5e9b9c9b… "Group 1" (10 participants)`
function M.tostring(g)
  local n = tonumber(g.participant_count) or 0
  return ("ParticipantGroup %s %q (%d participant%s)"):format(util.short_id(g.id),
    tostring(g.name), n, n == 1 and "" or "s")
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { ParticipantGroup = { methods = M.methods, tostring = M.tostring } }


return M
