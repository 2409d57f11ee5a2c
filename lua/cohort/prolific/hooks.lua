--- Prolific hooks: event types, signing secrets, subscriptions and their event log.
--
--     local secret = assert(p.hooks:create_secret{ workspace_id = ws.id })  -- secret.value signs deliveries
--     local sub = assert(p.hooks:subscribe{ workspace_id = ws.id,
--       event_type = "submission.status.change", target_url = "https://example.org/hook" })
--     print(sub)                        --> Subscription 63722982… submission.status.change → https://example.org/hook (enabled)
--     for ev in sub:events() do print(ev.event_type, ev.resource_id, ev.status) end
--
-- Creating a subscription answers with an `X-Hook-Secret` header that must be posted back to
-- confirm it (until then it is not enabled). `subscribe` does both steps; `create_subscription`
-- does only the first and returns the subscription and that header's value.
-- @module cohort.prolific.hooks
local compat = require "cohort.compat"
local util = require "cohort.util"
local resource = require "cohort.resource"

local M = {}

--- Statuses of a delivered event.
M.EVENT_STATUSES = { PENDING = true, SUCCEEDED = true, FAILED = true }

local function check_url(label, field, v)
  if type(v) ~= "string" or not v:match("^https?://[^/%s]+") then
    util.misuse(label, "%s must be an http:// or https:// URL (got %s)", field,
      type(v) == "string" and ("%q"):format(v) or type(v))
  end
end

local function check_subscription(label, args)
  if args.workspace_id ~= nil then util.check_id(label, "workspace_id", args.workspace_id) end
  if args.event_type ~= nil and (type(args.event_type) ~= "string"
      or not args.event_type:match("^[%w_]+%.[%w_.]+$")) then
    util.misuse(label, "event_type must be an event type name such as \"submission.status.change\" (got %s)",
      tostring(args.event_type))
  end
  if args.target_url ~= nil then check_url(label, "target_url", args.target_url) end
  if args.is_enabled ~= nil and type(args.is_enabled) ~= "boolean" then
    util.misuse(label, "is_enabled must be a boolean")
  end
  return args
end

local function check_list(label, args)
  if args.workspace_id ~= nil then util.check_id(label, "workspace_id", args.workspace_id) end
  if args.is_enabled ~= nil then
    if type(args.is_enabled) ~= "boolean" then util.misuse(label, "is_enabled must be a boolean") end
    args.is_enabled = tostring(args.is_enabled)
  end
  return args
end

local function check_events(label, args)
  for _, k in ipairs { "offset", "limit" } do
    local v = args[k]
    if v ~= nil and (compat.math_type(v) ~= "integer" or v < (k == "offset" and 0 or 1)) then
      util.misuse(label, "%s must be a %s integer", k, k == "offset" and "non-negative" or "positive")
    end
  end
  if args.status ~= nil then
    local list = type(args.status) == "table" and args.status or { args.status }
    for _, s in ipairs(list) do
      if not M.EVENT_STATUSES[s] then
        util.misuse(label, "status must be PENDING, SUCCEEDED or FAILED, or an array of them (got %s)",
          tostring(s))
      end
    end
    if type(args.status) == "table" then
      args.status = '["' .. table.concat(args.status, '", "') .. '"]'
    end
  end
  if args.resource_id ~= nil then util.check_id(label, "resource_id", args.resource_id) end
  return args
end

local SUBS = "/api/v1/hooks/subscriptions/"

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  GetEventTypes = { "GET", "/api/v1/hooks/event-types/", "hooks", "event_types",
    paging = "page", query = { "page", "page_size" } },
  CreateSecret = { "POST", "/api/v1/hooks/secrets/", "hooks", "create_secret",
    body = { "workspace_id" }, required = { "workspace_id" },
    prepare = function(label, args) util.check_id(label, "workspace_id", args.workspace_id) end },
  GetSecrets = { "GET", "/api/v1/hooks/secrets/", "hooks", "secrets", paging = "page",
    query = { "workspace_id", "page", "page_size" }, required = { "workspace_id" },
    prepare = function(label, args) util.check_id(label, "workspace_id", args.workspace_id) end },
  CreateSubscription = { "POST", SUBS, "hooks", "create_subscription", class = "Subscription",
    body = { "workspace_id", "event_type", "target_url" },
    required = { "workspace_id", "event_type", "target_url" }, prepare = check_subscription },
  ConfirmSubscription = { "POST", SUBS .. "{subscription_id}/", "hooks", "confirm",
    class = "Subscription",
    body = { "secret", "workspace_id", "event_type", "target_url", "is_enabled" },
    required = { "secret" },
    prepare = function(label, args)
      if type(args.secret) ~= "string" or args.secret == "" then
        util.misuse(label, "secret must be the X-Hook-Secret value (a non-empty string)")
      end
      return check_subscription(label, args)
    end },
  GetSubscriptions = { "GET", SUBS, "hooks", "subscriptions", paging = "page",
    class = "Subscription", query = { "is_enabled", "workspace_id", "page", "page_size" },
    prepare = check_list },
  GetSubscription = { "GET", SUBS .. "{subscription_id}/", "hooks", "subscription",
    class = "Subscription" },
  UpdateSubscription = { "PATCH", SUBS .. "{subscription_id}/", "hooks", "update_subscription",
    class = "Subscription", body = { "event_type", "target_url", "is_enabled" },
    required = { "event_type", "target_url" }, prepare = check_subscription },
  DeleteSubscription = { "DELETE", SUBS .. "{subscription_id}/", "hooks", "delete_subscription",
    query = {} },
  GetEvents = { "GET", SUBS .. "{subscription_id}/events/", "hooks", "events", paging = "offset",
    class = "HookEvent", query = { "offset", "limit", "status", "resource_id" },
    prepare = check_events },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Create a subscription (first step only): it stays unconfirmed and disabled until the
-- secret is posted back with `p.hooks:confirm(id, {secret = secret})`.
-- @function p.hooks:create_subscription
-- @tparam table args `workspace_id`, `event_type` (e.g. `"submission.status.change"`),
--   `target_url` (http(s) URL)
-- @treturn[1] Subscription the unconfirmed subscription
-- @treturn[1] string the `X-Hook-Secret` header's value
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.create_subscription(res, args)
  local client = res._client
  local req = resource.build(client, M.operations.CreateSubscription,
    "prolific.hooks:create_subscription()", args)
  local value, result = client:send(req)
  if value == nil then return nil, result end
  return client:wrap("Subscription", value), result.headers and result.headers["x-hook-secret"]
end

--- Subscribe to an event type: create the subscription and confirm it with the
-- `X-Hook-Secret` the server answered, so the subscription returned is confirmed and enabled.
-- @function p.hooks:subscribe
-- @tparam table args `workspace_id`, `event_type` (e.g. `"submission.status.change"`),
--   `target_url` (http(s) URL)
-- @treturn[1] Subscription the confirmed subscription
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.subscribe(res, args)
  local label = "prolific.hooks:subscribe()"
  local client = res._client
  local req = resource.build(client, M.operations.CreateSubscription, label, args)
  local value, result = client:send(req)
  if value == nil then return nil, result end
  local secret = result.headers and result.headers["x-hook-secret"]
  if type(secret) ~= "string" or secret == "" then
    local Error = require "cohort.error"
    return nil, Error.new { kind = "decode", platform = client.platform, attempts = 1,
      status = result.status, url = result.url, title = "Missing X-Hook-Secret",
      message = "the subscription was created (id " .. tostring(value.id)
        .. ") but the answer carries no X-Hook-Secret header to confirm it with" }
  end
  return client.hooks:confirm(value.id, { secret = secret })
end

--- Methods of a Subscription object.
M.methods = {}

--- Update the subscription; `event_type` and `target_url` default to the object's own.
-- @function Subscription:update
-- @tparam table fields `event_type`, `target_url`, `is_enabled`
-- @treturn[1] Subscription
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, sub, fields)
  if type(fields) ~= "table" then
    util.misuse("Subscription:update()", "expected a table {event_type =, target_url =, is_enabled =}")
  end
  local body = {}
  for k, v in pairs(fields) do body[k] = v end
  if body.event_type == nil then body.event_type = sub.event_type end
  if body.target_url == nil then body.target_url = sub.target_url end
  return client.hooks:update_subscription(sub.id, body)
end

--- Turn deliveries off (is_enabled = false).
function M.methods.disable(client, sub)
  return M.methods.update(client, sub, { is_enabled = false })
end

--- Turn deliveries back on (is_enabled = true).
function M.methods.enable(client, sub)
  return M.methods.update(client, sub, { is_enabled = true })
end

--- Every event of the subscription, lazily across pages (an iterator that raises the
-- `cohort.Error` on failure).
-- @function Subscription:events
-- @tparam[opt] table filters `status`, `resource_id`, `limit`
function M.methods.events(client, sub, filters)
  return client.hooks:each_events(sub.id, filters)
end

--- Delete the subscription.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, sub)
  local ok, err = client.hooks:delete_subscription(sub.id)
  if ok == nil then return nil, err end
  return true
end

--- Fetch the subscription again.
function M.methods.refresh(client, sub)
  return client.hooks:subscription(sub.id)
end

--- `Subscription 63722982… submission.status.change → https://example.org/hook (enabled)`
function M.tostring(sub)
  return ("Subscription %s %s → %s (%s)"):format(util.short_id(sub.id), tostring(sub.event_type),
    tostring(sub.target_url), sub.is_enabled == true and "enabled" or "disabled")
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = {
  Subscription = { methods = M.methods, tostring = M.tostring },
  HookEvent = { methods = {},
    --- `HookEvent 6394cee4… submission.status.change 6394cee3… SUCCEEDED`
    tostring = function(ev)
      return ("HookEvent %s %s %s %s"):format(util.short_id(ev.id), tostring(ev.event_type),
        util.short_id(ev.resource_id), tostring(ev.status))
    end },
}

return M
