--- Prolific hooks: event types, signing secrets, subscriptions and their event log.
--
--     local secret = assert(p.hooks:create_secret{ workspace_id = ws.id })  -- secret.value signs deliveries
--     local hook = assert(p.hooks:subscribe{ workspace_id = ws.id,
--       event_type = "submission.status.change", target_url = "https://example.org/hook" })
--     print(hook)                        --> Subscription 63722982… submission.status.change → https://example.org/hook (enabled)
--     for ev in hook:events() do print(ev.event_type, ev.resource_id, ev.status) end
--
-- Creating a subscription answers with an `X-Hook-Secret` header that must be posted back to
-- confirm it (until then it is not enabled). `subscribe` (in `cohort.workbench.bulk`) does both
-- steps; `create_subscription` does only the first and returns the subscription and that
-- header's value.
-- @module cohort.prolific.hooks
local schema = require "cohort.schema"
local util = require "cohort.util"

local M = {}

local S = schema.load "prolific"

--- Statuses of a delivered event.
M.EVENT_STATUSES = {}
for _, s in ipairs(S.schemas.SubscriptionEvent.properties.status.enum) do M.EVENT_STATUSES[s] = true end

local function check_events(args, ctx)
  local v = args.status
  if v == nil then return args end
  local list = type(v) == "table" and v or { v }
  for i, s in ipairs(list) do
    if not M.EVENT_STATUSES[s] then
      ctx.misuse("status%s must be one of %s (got %s)", type(v) == "table" and ("[%d]"):format(i) or "",
        util.sorted_keys(M.EVENT_STATUSES), util.show(s))
    end
  end
  if type(v) == "table" then -- several statuses: the API's JSON-array form
    local parts = {}
    for i, s in ipairs(v) do parts[i] = ("%q"):format(s) end
    args.status = "[" .. table.concat(parts, ", ") .. "]"
  end
  return args
end

-- a target URL the server can reach: http(s) (Prolific's live service wants public https)
local function check_target(args, ctx)
  local v = args.target_url
  if type(v) == "string" and not v:match("^https?://[^/%s]+") then
    ctx.misuse("target_url must be an http:// or https:// URL (got %s)", util.show(v))
  end
  return args
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "GetEventTypes", resource = "hooks", name = "event_types", class = "EventType" },
  { op = "CreateSecret", resource = "hooks", name = "create_secret" },
  { op = "GetSecrets", resource = "hooks", name = "secrets", class = "HookSecret" },
  { op = "CreateSubscription", resource = "hooks", name = "create_subscription",
    prepare = check_target, returns = function(value, result, client)
      return client:wrap("Subscription", value), result.headers and result.headers["x-hook-secret"]
    end,
    returns_text = "the unconfirmed Subscription, and the X-Hook-Secret to confirm it with" },
  { op = "ConfirmSubscription", resource = "hooks", name = "confirm", class = "Subscription",
    note = "`secret`: the X-Hook-Secret of the creation" },
  { op = "GetSubscriptions", resource = "hooks", name = "subscriptions", class = "Subscription" },
  { op = "GetSubscription", resource = "hooks", name = "subscription", class = "Subscription",
    verbs = { refresh = {} } },
  { op = "UpdateSubscription", resource = "hooks", name = "update_subscription",
    class = "Subscription", prepare = check_target,
    verbs = {
      update = { rest = true, defaults = { event_type = "event_type", target_url = "target_url" } },
      disable = { fixed = { is_enabled = false },
        defaults = { event_type = "event_type", target_url = "target_url" } },
      enable = { fixed = { is_enabled = true },
        defaults = { event_type = "event_type", target_url = "target_url" } },
    } },
  { op = "DeleteSubscription", resource = "hooks", name = "delete_subscription",
    verbs = { delete = { on = "Subscription" } } },
  { op = "GetEvents", resource = "hooks", name = "events", class = "HookEvent",
    prepare = check_events,
    verbs = { events = { on = "Subscription", rest = true, mode = "each" } },
    note = "`status`: PENDING, SUCCEEDED, FAILED or an array of them" },
}

--- `Subscription 63722982… submission.status.change → https://example.org/hook (enabled)`
-- @tparam table sub
-- @treturn string
function M.tostring(sub)
  return ("Subscription %s %s → %s (%s)"):format(util.short_id(sub.id), tostring(sub.event_type),
    tostring(sub.target_url), sub.is_enabled == true and "enabled" or "disabled")
end

--- Classes.
M.classes = {
  Subscription = { var = "hook", tostring = M.tostring },
  HookEvent = { var = "event",
    --- `HookEvent 6394cee4… submission.status.change 6394cee3… SUCCEEDED`
    tostring = function(ev)
      return ("HookEvent %s %s %s %s"):format(util.short_id(ev.id), tostring(ev.event_type),
        util.short_id(ev.resource_id), tostring(ev.status))
    end },
  EventType = { var = "event_type", key = "event_type" },
  HookSecret = { var = "secret" },
}

return M
