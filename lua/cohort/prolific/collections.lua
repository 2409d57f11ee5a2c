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

--- Transition actions.
M.ACTIONS = { PUBLISH = true, SCHEDULE_PUBLISH = true, CANCEL_PUBLISH = true }

--- Statuses a collection can have.
M.STATUSES = { ACTIVE = true, PAUSED = true, UNPUBLISHED = true, PUBLISHING = true,
  AWAITING_REVIEW = true, SCHEDULED = true }

local function check_fields(label, args)
  for _, k in ipairs { "name", "description" } do
    if args[k] ~= nil and (type(args[k]) ~= "string" or args[k] == "") then
      util.misuse(label, "%s must be a non-empty string", k)
    end
  end
  if args.project_id ~= nil then util.check_id(label, "project_id", args.project_id) end
  if args.study_ids ~= nil then
    if type(args.study_ids) ~= "table" then
      util.misuse(label, "study_ids must be an array of study ids")
    end
    for i, id in ipairs(args.study_ids) do util.check_id(label, ("study_ids[%d]"):format(i), id) end
  end
  if args.publish_at ~= nil and type(args.publish_at) ~= "string" then
    util.misuse(label, "publish_at must be a date-time string such as \"2050-02-28T13:45:00 Europe/London\"")
  end
  return args
end

local function check_transition(label, args)
  if not M.ACTIONS[args.action] then
    util.misuse(label, "action must be one of CANCEL_PUBLISH, PUBLISH, SCHEDULE_PUBLISH (got %s)",
      tostring(args.action))
  end
  if args.publish_at ~= nil and type(args.publish_at) ~= "string" then
    util.misuse(label, "publish_at must be a date-time string")
  end
  if args.publish_at ~= nil and args.action ~= "SCHEDULE_PUBLISH" then
    util.misuse(label, "publish_at is only for action SCHEDULE_PUBLISH")
  end
  return args
end

local BASE = "/api/v1/study-collections/mutually-exclusive/"

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  ListMutuallyExclusiveStudyCollections = { "GET", BASE, "collections", "list", paging = "page",
    class = "StudyCollection", query = { "project_id", "page", "page_size" },
    required = { "project_id" },
    prepare = function(label, args) util.check_id(label, "project_id", args.project_id) end },
  CreateMutuallyExclusiveStudyCollection = { "POST", BASE, "collections", "create",
    class = "StudyCollection", body = { "name", "description", "project_id", "study_ids", "publish_at" },
    required = { "name", "description", "project_id" }, prepare = check_fields },
  GetMutuallyExclusiveStudyCollection = { "GET", BASE .. "{id}/", "collections", "get",
    class = "StudyCollection" },
  UpdateMutuallyExclusiveStudyCollection = { "PATCH", BASE .. "{id}/", "collections", "update",
    class = "StudyCollection", body = { "name", "description", "study_ids", "publish_at" },
    prepare = check_fields },
  DeleteMutuallyExclusiveStudyCollection = { "DELETE", BASE .. "{id}/", "collections", "delete",
    query = {} },
  TransitionMutuallyExclusiveStudyCollection = { idempotent = true, "POST", BASE .. "{id}/transition/",
    "collections", "transition", class = "StudyCollection", body = { "action", "publish_at" },
    required = { "action" }, prepare = check_transition },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Methods of a StudyCollection object.
M.methods = {}

--- Publish the collection and its studies now (PUBLISH).
-- @treturn[1] StudyCollection the updated collection
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.publish(client, c)
  return client.collections:transition(c.id, { action = "PUBLISH" })
end

--- Schedule the publication (SCHEDULE_PUBLISH).
-- @function StudyCollection:schedule
-- @tparam[opt] table opts `at`: date-time and time zone, e.g.
--   `"2050-02-28T13:45:00 Europe/London"`; without it the collection's own `publish_at` is used
-- @treturn[1] StudyCollection
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.schedule(client, c, opts)
  if opts ~= nil and type(opts) ~= "table" then
    util.misuse("StudyCollection:schedule()", "expected a table {at = \"<date-time zone>\"}")
  end
  opts = opts or {}
  util.check_keys("StudyCollection:schedule()", opts, { at = true })
  return client.collections:transition(c.id, { action = "SCHEDULE_PUBLISH", publish_at = opts.at })
end

--- Cancel a scheduled publication (CANCEL_PUBLISH).
-- @treturn[1] StudyCollection
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.cancel(client, c)
  return client.collections:transition(c.id, { action = "CANCEL_PUBLISH" })
end

--- Update the collection (`name`, `description`, `study_ids` — replacing the list —, `publish_at`).
-- @treturn[1] StudyCollection
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, c, fields)
  return client.collections:update(c.id, fields)
end

--- Delete the collection (only while unpublished; its studies are kept).
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, c)
  local ok, err = client.collections:delete(c.id)
  if ok == nil then return nil, err end
  return true
end

--- Fetch the collection again.
-- @treturn[1] StudyCollection
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, c)
  return client.collections:get(c.id)
end

--- `StudyCollection 6527ffc7… "Arms" UNPUBLISHED (2 studies)`
function M.tostring(c)
  local n = type(c.study_ids) == "table" and #c.study_ids or 0
  return ("StudyCollection %s %q %s (%d stud%s)"):format(util.short_id(c.id), tostring(c.name),
    tostring(c.status), n, n == 1 and "y" or "ies")
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { StudyCollection = { methods = M.methods, tostring = M.tostring } }

return M
