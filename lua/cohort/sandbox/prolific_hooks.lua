-- Sandbox: Prolific hooks — event types, secrets, subscriptions with the X-Hook-Secret
-- confirmation, and an event log per subscription (rows { METHOD, "path/{param}",
-- handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- State (created lazily): ctx.app.state.hook_event_types (array of {event_type, description},
-- seeded with M.EVENT_TYPES), hook_secrets (array of {id, value, workspace_id}; one per
-- workspace, a new one replaces the old), hook_subscriptions (array of {id, event_type,
-- target_url, is_enabled, workspace_id, hook_secret, confirmed, events = {...}}).
--
-- A subscription needs a secret in its workspace first (400 otherwise). Creating one answers 201
-- with an `X-Hook-Secret` header and leaves it unconfirmed (is_enabled false); posting that value
-- back (POST /hooks/subscriptions/{id}/ with {"secret": ...}) confirms and enables it. An
-- unconfirmed subscription cannot be enabled by PATCH. Listing subscriptions defaults to
-- is_enabled=true, as the spec says.
--
-- Events: M.record_event(app, event_type, resource_id, payload) appends an event to every
-- enabled subscription of that type. The sandbox does not POST to target_url: an event is
-- logged with status SUCCEEDED and the payload that would have been sent. Study collections
-- record study.status.change when they publish, schedule or cancel their studies; other
-- families may call record_event (guarded) on their own changes.
local util = require "cohort.sandbox.util"
local surveys = require "cohort.sandbox.prolific_surveys"

local H = surveys.helpers
local M = {}

M.EVENT_TYPES = {
  { event_type = "study.status.change", description = "A status change event for studies" },
  { event_type = "submission.status.change", description = "A status change event for submissions" },
}

local function event_types(app)
  return H.state(app, "hook_event_types", function() return util.deepcopy(M.EVENT_TYPES) end)
end
local function secrets(app) return H.state(app, "hook_secrets") end
local function subs(app) return H.state(app, "hook_subscriptions") end

local function shape(s)
  return { id = s.id, event_type = s.event_type, target_url = s.target_url,
    is_enabled = s.is_enabled, workspace_id = s.workspace_id }
end

local function token(app, n)
  local out = {}
  for i = 1, n do out[i] = H.id(app) end
  return table.concat(out):sub(1, n * 2)
end

local function known_type(app, t)
  for _, e in ipairs(event_types(app)) do
    if e.event_type == t then return true end
  end
  return false
end

local function workspace_exists(state, id)
  return H.find(state.workspaces or {}, id) ~= nil
end

local function get_sub(ctx, id)
  local s = H.find(subs(ctx.app), id)
  if not s then return nil, { util.prolific_error(404, "Subscription not found.") } end
  return s
end

local function check_url(v)
  return type(v) == "string" and v:match("^https?://[^/%s]+") ~= nil
end

-- Append an event to the log of every enabled subscription for `event_type`.
-- Returns how many subscriptions recorded it.
-- The delivery Prolific would POST to the target URL for an event, signed as Prolific signs it:
-- X-Prolific-Request-Signature = base64(HMAC-SHA256(workspace hook secret, timestamp .. body)),
-- X-Prolific-Request-Timestamp = Unix seconds, X-Event-ID stable across retries. Kept in
-- app.deliveries (GET /__sandbox/hooks/deliveries). Signing needs cohort.core; without it the
-- delivery is kept unsigned.
function M.sign_delivery(app, sub, event)
  local body = util.encode(event.payload)
  local ts = tostring(os.time())
  local headers = { ["Content-Type"] = "application/json", ["X-Event-ID"] = event.id,
    ["X-Prolific-Request-Timestamp"] = ts }
  local secret = H.find(secrets(app), sub.workspace_id, "workspace_id")
  local ok, core = pcall(require, "cohort.core")
  if ok and secret then
    headers["X-Prolific-Request-Signature"] = core.base64(core.hmac_sha256(secret.value, ts .. body))
  end
  app.deliveries = app.deliveries or {}
  app.deliveries[#app.deliveries + 1] = { subscription_id = sub.id, target_url = sub.target_url,
    event_type = event.event_type, headers = headers, body = body }
end

function M.record_event(app, event_type, resource_id, payload)
  local n = 0
  local now = H.now(app)
  for _, s in ipairs(subs(app)) do
    if s.is_enabled and s.event_type == event_type then
      local p = {}
      for k, v in pairs(type(payload) == "table" and payload or {}) do p[k] = v end
      if p.resource_id == nil then p.resource_id = resource_id end
      if p.event_type == nil then p.event_type = event_type end
      s.events = s.events or {}
      local event = { id = H.id(app), datetime_created = now, datetime_updated = now,
        event_type = event_type, resource_id = resource_id, status = "SUCCEEDED",
        target_url = s.target_url, payload = p }
      s.events[#s.events + 1] = event
      M.sign_delivery(app, s, event)
      n = n + 1
    end
  end
  return n
end

local function create_secret(ctx)
  local b = ctx.body
  local app = ctx.app
  if b.workspace_id == nil then
    return util.prolific_error(400, { workspace_id = { "This field is required." } })
  end
  if not workspace_exists(app.state, b.workspace_id) then
    return util.prolific_error(400, { workspace_id = { "Workspace not found." } })
  end
  local list = secrets(app)
  for i = #list, 1, -1 do
    if list[i].workspace_id == b.workspace_id then table.remove(list, i) end
  end
  local s = { id = H.id(app), value = token(app, 24), workspace_id = b.workspace_id }
  list[#list + 1] = s
  return util.answer(201, { id = s.id, value = s.value, workspace_id = s.workspace_id })
end

-- POST hooks/subscriptions/: 201 with the X-Hook-Secret header. The spec documents the answer
-- as a SubscriptionList ({results: [the subscription]}); the subscription's own fields are
-- answered beside `results` too, the shape of the detail (which the list's schema allows).
local function create_subscription(ctx)
  local b = ctx.body
  local app = ctx.app
  local f = H.fields()
  if not workspace_exists(app.state, b.workspace_id) then
    f.add("workspace_id", "Workspace not found.")
  end
  if not known_type(app, b.event_type) then
    f.add("event_type", ('"%s" is not a valid event type; see /api/v1/hooks/event-types/.'):format(b.event_type))
  end
  if not check_url(b.target_url) then f.add("target_url", "Enter a valid URL.") end
  local bad = f.answer()
  if bad then return f.answer() end
  if not H.find(secrets(app), b.workspace_id, "workspace_id") then
    return util.prolific_error(400, "Create a secret for the workspace (POST /api/v1/hooks/secrets/) before subscribing.")
  end
  local s = { id = H.id(app), event_type = b.event_type, target_url = b.target_url,
    is_enabled = false, workspace_id = b.workspace_id, hook_secret = token(app, 20),
    confirmed = false, events = {} }
  table.insert(subs(app), s)
  local out = shape(s)
  out.results = util.array { shape(s) }
  return util.answer(201, out, { ["X-Hook-Secret"] = s.hook_secret })
end

local function confirm(ctx, p)
  local s, e = get_sub(ctx, p.subscription_id)
  if not s then return table.unpack(e) end
  local b = ctx.body -- {secret} (see the override of ConfirmSubscription)
  if b.secret ~= s.hook_secret then
    return util.prolific_error(400, { secret = { "The secret does not match this subscription's X-Hook-Secret." } })
  end
  s.confirmed, s.is_enabled = true, true
  return util.answer(200, shape(s), { ["X-Hook-Secret"] = s.hook_secret })
end

local function update(ctx, p)
  local s, e = get_sub(ctx, p.subscription_id)
  if not s then return table.unpack(e) end
  local b = ctx.body
  local f = H.fields()
  if not known_type(ctx.app, b.event_type) then
    f.add("event_type", ('"%s" is not a valid event type.'):format(b.event_type))
  end
  if not check_url(b.target_url) then f.add("target_url", "Enter a valid URL.") end
  local bad = f.answer()
  if bad then return f.answer() end
  if b.is_enabled == true and not s.confirmed then
    return util.prolific_error(400, { is_enabled = { "Confirm the subscription with its X-Hook-Secret before enabling it." } })
  end
  s.event_type, s.target_url = b.event_type, b.target_url
  if b.is_enabled ~= nil then s.is_enabled = b.is_enabled end
  return util.answer(200, shape(s))
end

local function list_events(ctx, p)
  local s, e = get_sub(ctx, p.subscription_id)
  if not s then return table.unpack(e) end
  local want
  local st = ctx.params.status
  if st ~= nil then
    want = {}
    local arr = st:sub(1, 1) == "[" and util.decode(st) or { st }
    if type(arr) ~= "table" then
      return util.prolific_error(400, { status = { "Give a status or a JSON array of statuses." } })
    end
    for _, x in ipairs(arr) do
      if x ~= "PENDING" and x ~= "SUCCEEDED" and x ~= "FAILED" then
        return util.prolific_error(400, { status = { ('"%s" is not a valid choice.'):format(tostring(x)) } })
      end
      want[x] = true
    end
  end
  local rid = ctx.params.resource_id
  local items = {}
  for _, ev in ipairs(s.events or {}) do
    if (not want or want[ev.status]) and (rid == nil or ev.resource_id == rid) then
      items[#items + 1] = ev
    end
  end
  return H.paginate_offset(ctx, items)
end

M.routes = {
  { "GET", "hooks/event-types", function(ctx)
      return H.paginate(ctx, event_types(ctx.app))
    end, op = "GetEventTypes" },
  { "POST", "hooks/secrets", create_secret, op = "CreateSecret" },
  { "GET", "hooks/secrets", function(ctx)
      local ws = ctx.params.workspace_id
      if ws == nil then
        return util.prolific_error(400, { workspace_id = { "This field is required." } })
      end
      local items = {}
      for _, s in ipairs(secrets(ctx.app)) do
        if s.workspace_id == ws then
          items[#items + 1] = { id = s.id, value = s.value, workspace_id = s.workspace_id }
        end
      end
      return H.paginate(ctx, items)
    end, op = "GetSecrets" },
  { "POST", "hooks/subscriptions", create_subscription, op = "CreateSubscription" },
  { "GET", "hooks/subscriptions", function(ctx)
      local en = ctx.params.is_enabled
      local want = en == nil or en == true -- the spec: enabled ones unless is_enabled=false
      local ws = ctx.params.workspace_id
      local items = {}
      for _, s in ipairs(subs(ctx.app)) do
        if s.is_enabled == want and (ws == nil or s.workspace_id == ws) then
          items[#items + 1] = shape(s)
        end
      end
      return H.paginate(ctx, items)
    end, op = "GetSubscriptions" },
  { "GET", "hooks/subscriptions/{subscription_id}", function(ctx, p)
      local s, e = get_sub(ctx, p.subscription_id)
      if not s then return table.unpack(e) end
      return util.answer(200, shape(s))
    end, op = "GetSubscription" },
  { "POST", "hooks/subscriptions/{subscription_id}", confirm, op = "ConfirmSubscription" },
  { "PATCH", "hooks/subscriptions/{subscription_id}", update, op = "UpdateSubscription" },
  { "DELETE", "hooks/subscriptions/{subscription_id}", function(ctx, p)
      local s, e = get_sub(ctx, p.subscription_id)
      if not s then return table.unpack(e) end
      local _, i = H.find(subs(ctx.app), s.id)
      table.remove(subs(ctx.app), i)
      return 204, {}, ""
    end, op = "DeleteSubscription" },
  { "GET", "hooks/subscriptions/{subscription_id}/events", list_events, op = "GetEvents" },
}

return M
