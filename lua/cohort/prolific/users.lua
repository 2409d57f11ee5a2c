--- Prolific users: `p.users:me()`, the account the token belongs to.
-- @module cohort.prolific.users
local util = require "cohort.util"

local M = {}

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "GetUser", resource = "users", name = "me", class = "User" },
}

--- Classes.
M.classes = {
  User = { var = "me", tostring = function(u)
    return ("User %s %s"):format(util.short_id(u.id), tostring(u.email or u.name or ""))
  end },
}

return M
