--- Prolific users: `p.users:me()`, the account the token belongs to.
-- @module cohort.prolific.users
local util = require "cohort.util"

local M = {}

M.operations = {
  GetUser = { "GET", "/api/v1/users/me/", "users", "me", class = "User" },
}

M.classes = {
  User = { tostring = function(u)
    return ("User %s %s"):format(util.short_id(u.id), tostring(u.email or u.name or ""))
  end },
}

return M
