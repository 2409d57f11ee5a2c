--- Prolific invitations: invite researchers by e-mail to a workspace or project.
--
--     local r = assert(p.invitations:create{ association = ws.id,
--       emails = { "colleague@example.org" }, role = "WORKSPACE_COLLABORATOR" })
--     for _, inv in ipairs(r.invitations) do print(inv) end  --> Invitation colleague@example.org INVITED
-- @module cohort.prolific.invitations
local util = require "cohort.util"

local M = {}

--- Roles an invitee can be given.
M.ROLES = { WORKSPACE_ADMIN = true, WORKSPACE_COLLABORATOR = true, PROJECT_EDITOR = true }

local function prepare(label, args)
  util.check_id(label, "association", args.association)
  if type(args.emails) ~= "table" or #args.emails == 0 then
    util.misuse(label, "emails must be a non-empty array of e-mail addresses")
  end
  for i, e in ipairs(args.emails) do
    if type(e) ~= "string" or not e:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
      util.misuse(label, "emails[%d] is not an e-mail address (got %s)", i,
        type(e) == "string" and ("%q"):format(e) or type(e))
    end
  end
  if not M.ROLES[args.role] then
    util.misuse(label, "role must be one of PROJECT_EDITOR, WORKSPACE_ADMIN, WORKSPACE_COLLABORATOR (got %s)",
      tostring(args.role))
  end
  return args
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateInvitation = { "POST", "/api/v1/invitations/", "invitations", "create",
    body = { "association", "emails", "role" }, required = { "association", "emails", "role" },
    prepare = prepare },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Invite people (by e-mail) to a workspace or project.
-- @function p.invitations:create
-- @tparam table args `association` (workspace or project id), `emails` (array), `role`
--   (`"WORKSPACE_ADMIN"`, `"WORKSPACE_COLLABORATOR"` or `"PROJECT_EDITOR"`)
-- @treturn[1] table the server's answer, `{invitations = {Invitation...}}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.create(res, args)
  local resource = require "cohort.resource"
  local client = res._client
  local req = resource.build(client, M.operations.CreateInvitation, "prolific.invitations:create()", args)
  local value, err = client:send(req)
  if value == nil then return nil, err end
  if type(value) == "table" and type(value.invitations) == "table" then
    for _, inv in ipairs(value.invitations) do client:wrap("Invitation", inv) end
  end
  return value
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = {
  Invitation = { methods = {},
    --- `Invitation colleague@example.org INVITED`
    tostring = function(inv)
      local who = type(inv.invitee) == "table" and inv.invitee.email or "?"
      return ("Invitation %s %s"):format(tostring(who), tostring(inv.status))
    end },
}

return M
