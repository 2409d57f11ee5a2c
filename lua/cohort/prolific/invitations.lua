--- Prolific invitations: invite researchers by e-mail to a workspace or project.
--
--     local r = assert(p.invitations:create{ association = ws.id,
--       emails = { "colleague@example.org" }, role = "WORKSPACE_COLLABORATOR" })
--     for _, inv in ipairs(r.invitations) do print(inv) end  --> Invitation colleague@example.org INVITED
-- @module cohort.prolific.invitations
local M = {}

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateInvitation", resource = "invitations", name = "create",
    returns = function(value, _, client)
      if type(value) == "table" and type(value.invitations) == "table" then
        for _, inv in ipairs(value.invitations) do client:wrap("Invitation", inv) end
      end
      return value
    end,
    returns_text = "the answer, its `invitations` each an Invitation" },
}

--- Classes.
M.classes = {
  Invitation = { var = "invitation",
    --- `Invitation colleague@example.org INVITED`
    tostring = function(inv)
      local who = type(inv.invitee) == "table" and inv.invitee.email or "?"
      return ("Invitation %s %s"):format(tostring(who), tostring(inv.status))
    end },
}

return M
