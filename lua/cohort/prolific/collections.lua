--- Prolific study collections (mutually exclusive): a set of draft studies of one project of
-- which a participant may take only one, published together.
--
--     local c = assert(p.collections:create{ project_id = project.id, name = "Arms",
--       description = "One arm per participant", study_ids = { a.id, b.id } })
--     c:publish()                                  -- or c:schedule{at = "2050-02-28T13:45:00 Europe/London"}
--     for c in p.collections:each{project_id = project.id} do print(c) end
--
-- Only draft (UNPUBLISHED) studies of the collection's project can be added; adding a study
-- that is in another collection moves it. `estimated_cost` and `total_cost` are display strings
-- in major units with the currency sign (e.g. "£12.00"), as the server sends them.
-- @module cohort.prolific.collections
local util = require "cohort.util"

local M = {}

local function check_transition(args, ctx)
  if args.publish_at ~= nil and args.action ~= "SCHEDULE_PUBLISH" then
    ctx.misuse("%s is only for action SCHEDULE_PUBLISH", ctx.name("publish_at"))
  end
  return args
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "ListMutuallyExclusiveStudyCollections", resource = "collections", name = "list",
    class = "StudyCollection" },
  { op = "CreateMutuallyExclusiveStudyCollection", resource = "collections", name = "create",
    class = "StudyCollection" },
  { op = "GetMutuallyExclusiveStudyCollection", resource = "collections", name = "get",
    class = "StudyCollection", verbs = { refresh = {} } },
  { op = "UpdateMutuallyExclusiveStudyCollection", resource = "collections", name = "update",
    class = "StudyCollection", verbs = { update = { rest = true } } },
  { op = "DeleteMutuallyExclusiveStudyCollection", resource = "collections", name = "delete",
    verbs = { delete = { on = "StudyCollection" } } },
  { op = "TransitionMutuallyExclusiveStudyCollection", resource = "collections",
    name = "transition", class = "StudyCollection", idempotent = true,
    prepare = check_transition,
    verbs = {
      publish = { fixed = { action = "PUBLISH" } },
      schedule = { fixed = { action = "SCHEDULE_PUBLISH" }, args = { at = "publish_at" },
        optional = true, note = "`at`: date-time and zone, \"2050-02-28T13:45:00 Europe/London\"; without it the collection's own `publish_at`" },
      cancel = { fixed = { action = "CANCEL_PUBLISH" } },
    } },
}

--- `StudyCollection 6527ffc7… "Arms" UNPUBLISHED (2 studies)`
-- @tparam table c
-- @treturn string
function M.tostring(c)
  local n = type(c.study_ids) == "table" and #c.study_ids or 0
  return ("StudyCollection %s %q %s (%d stud%s)"):format(util.short_id(c.id), tostring(c.name),
    tostring(c.status), n, n == 1 and "y" or "ies")
end

--- Classes.
M.classes = { StudyCollection = { var = "collection", tostring = M.tostring } }

return M
