--- Prolific's operations: the one table from which every Prolific resource method is generated.
--
-- operationId (as in Prolific's OpenAPI spec; the two unnamed message operations get the names
-- `SendBulkMessage` and `SendGroupMessage`) → `{ METHOD, "/path/{id}/", "resource",
-- "lua_method", ... }` (row format: `cohort.resource`). Each resource family module
-- (`cohort.prolific.<family>`) declares its own rows in `M.operations`; this module merges them
-- and refuses a name declared twice. `spec/prolific_operations_spec.lua` checks the result
-- against the spec file.
-- @module cohort.prolific.operations

--- The resource family modules, in the order they are attached.
local FAMILIES = {
  "users", "submissions", "studies", "bonuses", "messages", "workspaces", "projects",
  "surveys", "collections", "hooks", "filters", "filter_sets", "groups", "invitations",
}

local ops = {}
for _, family in ipairs(FAMILIES) do
  local mod = require("cohort.prolific." .. family)
  for op_id, row in pairs(mod.operations or {}) do
    if ops[op_id] then error("cohort.prolific.operations: " .. op_id .. " declared twice") end
    ops[op_id] = row
  end
end

return setmetatable(ops, { __index = { FAMILIES = FAMILIES } })
