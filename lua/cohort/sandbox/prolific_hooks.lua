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
-- Events: M.record_event(app, event_type, resource_id, payload, workspace) hands the event to
-- the delivery engine (app.delivery, cohort.sandbox.deliveries) for every confirmed, enabled
-- subscription of that type in the workspace of the resource; the engine POSTs it to the
-- target_url, signed with the workspace's secret (hook_secrets), retries it on Prolific's
-- schedule on the sandbox clock, and keeps the log GET /hooks/subscriptions/{id}/events/ pages
-- (PENDING, SUCCEEDED, FAILED). The sandbox raises submission.status.change (every status a
-- submission takes) and study.status.change (every status a study takes, also through its
-- collection and the clock); cohort.sandbox.lifecycle is where they come from.
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

-- An http:// or https:// URL (the live service takes only public https; the sandbox also
-- delivers to loopback and plain http, so a receiver on the researcher's machine can be used).
local function check_url(v)
  return type(v) == "string" and v:match("^https?://[^/%s?#]+[^%s]*$") ~= nil
end

--- The signing secret of a workspace (the value of its hook secret), or nil: what the delivery
-- engine signs with (never the subscription's X-Hook-Secret, which only confirms it).
function M.secret_of(app, workspace_id)
  local s = H.find(secrets(app), workspace_id, "workspace_id")
  return s and s.value or nil
end

-- The workspace of a study or a submission, by id (the events' callers usually know it).
local function workspace_of_resource(app, id)
  local money = require "cohort.sandbox.prolific_money"
  local state = app.state
  local st = H.find(state.studies or {}, id)
  if not st then
    local sub = H.find(state.submissions or {}, id)
    st = sub and H.find(state.studies or {}, sub.study_id)
  end
  return st and money.workspace_of(state, st) or nil
end

--- Raise an event: every confirmed, enabled subscription of `event_type` in the workspace gets
-- it, to be delivered by app.delivery. `workspace` (a workspace table or id) is the resource's;
-- found from `resource_id` (a study or a submission) when not given.
-- @treturn integer how many subscriptions it was queued for
function M.record_event(app, event_type, resource_id, payload, workspace)
  local list = app.state.hook_subscriptions
  if list == nil or #list == 0 or app.delivery == nil then return 0 end
  local n = 0
  local ws
  for _, s in ipairs(list) do
    if s.is_enabled and s.confirmed ~= false and s.event_type == event_type then
      if ws == nil then
        if type(workspace) == "table" then ws = workspace.id
        elseif type(workspace) == "string" then ws = workspace
        else ws = (workspace_of_resource(app, resource_id) or {}).id or false end
      end
      if ws == false or s.workspace_id == ws then
        local p = {}
        for k, v in pairs(type(payload) == "table" and payload or {}) do p[k] = v end
        if p.resource_id == nil then p.resource_id = resource_id end
        if p.event_type == nil then p.event_type = event_type end
        app.delivery:enqueue(s, event_type, p)
        n = n + 1
      end
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
    confirmed = false }
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
  local items = ctx.app.delivery and ctx.app.delivery:events(s.id,
    { status = want, resource_id = ctx.params.resource_id }) or {}
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
      if ctx.app.delivery then ctx.app.delivery:drop(s.id) end -- its pending events go too
      return 204, {}, ""
    end, op = "DeleteSubscription" },
  { "GET", "hooks/subscriptions/{subscription_id}/events", list_events, op = "GetEvents" },
}

return M
