-- The sandbox's control API under /__sandbox/ (no authentication): inspect and reset state,
-- seed data, read the request log, and provoke delays, large bodies, error statuses and paging
-- quirks for client tests. Same route-table shape as the platform modules.
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"
local questionpro = require "cohort.sandbox.questionpro"

local M = {}

M.MAX_DELAY = 60000
M.MAX_LARGE = 256 * 1024 * 1024

local function ok_json(v) return util.json(200, v or { ok = true }) end

local function bad(msg) return util.prolific_error(400, msg) end

-- The state as JSON-ready data (arrays marked so that empty ones stay arrays).
function M.export_state(state)
  local out = util.deepcopy(state)
  for _, key in ipairs { "workspaces", "projects", "studies", "submissions" } do
    out[key] = util.array(out[key] or {})
  end
  for _, s in ipairs(out.submissions) do
    s.bonus_payments = util.array(s.bonus_payments or {})
  end
  return out
end

local function body_json(ctx)
  local v, err = util.decode(ctx.req.body or "")
  if type(v) ~= "table" then return nil, "the body must be a JSON object: " .. tostring(err or "") end
  return v
end

local QUIRKS = { repeat_next = "boolean", overlap = "number", next_on_last = "boolean" }

local function set_quirks(ctx)
  local b, err = body_json(ctx)
  if not b then return bad(err) end
  local fields = {}
  for k, v in pairs(b) do
    if not QUIRKS[k] then
      fields[k] = { "Unknown quirk." }
    elseif type(v) ~= QUIRKS[k] then
      fields[k] = { "Must be a " .. QUIRKS[k] .. "." }
    end
  end
  if next(fields) then return bad(fields) end
  local q = ctx.app.quirks
  for k, v in pairs(b) do
    if k == "overlap" then
      v = math.max(0, math.floor(v))
      q[k] = v > 0 and v or nil
    else
      q[k] = v or nil
    end
  end
  return ok_json { ok = true, quirks = q }
end

local function delay(ctx, p)
  local ms = tonumber(p.ms)
  if not ms or ms < 0 then return bad("delay must be a number of milliseconds") end
  ms = math.min(math.floor(ms), M.MAX_DELAY)
  local status, headers, body = util.json(200, { delayed_ms = ms })
  return status, headers, body, { delay = ms }
end

local function large(ctx, p)
  local n = tonumber(p.bytes)
  if not n or n < 0 then return bad("bytes must be a number") end
  n = math.min(math.floor(n), M.MAX_LARGE)
  local head, tail = '{"size":' .. n .. ',"data":"', '"}'
  local pad = math.max(0, n - #head - #tail)
  return 200, { ["Content-Type"] = "application/json" }, head .. string.rep("x", pad) .. tail
end

local function status_page(ctx, p)
  local code = math.tointeger(tonumber(p.code))
  if not code or code < 200 or code > 599 then return bad("status must be 200..599") end
  local kind = ctx.query.type or "json"
  local title = util.title(code)
  local status, headers, body
  if kind == "html" then
    status, headers, body = code, { ["Content-Type"] = "text/html" }, string.format(
      "<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>",
      code, title, code, title)
  elseif kind == "json" or kind == "prolific" then
    status, headers, body = util.prolific_error(code, ctx.query.detail or title)
  elseif kind == "flat" then
    status, headers, body = util.json(code, { message = title, detail = ctx.query.detail or title })
  elseif kind == "qp" or kind == "questionpro" then
    status, headers, body = util.questionpro_error(code, ctx.full_url)
  else
    return bad({ type = { "Must be one of html, json, flat, qp." } })
  end
  if ctx.query.retry_after then headers["Retry-After"] = ctx.query.retry_after end
  return status, headers, body
end

M.routes = {
  { "GET", "health", function() return ok_json { ok = true } end },
  -- what the server holds now: connections, its limits and time-outs, app:tick calls
  { "GET", "server", function(ctx)
      local ok, native = pcall(require, "cohort.sandbox.native")
      local out = ok and native.server() or {}
      out.app_ticks = ctx.app.ticks or 0
      return util.json(200, out)
    end },
  { "POST", "reset", function(ctx) ctx.app:reset(); return ok_json() end },
  { "POST", "seed", function(ctx)
      local b, err = body_json(ctx)
      if not b then return bad(err) end
      local d, nerr = data.normalize(b)
      if not d then return bad(nerr) end
      ctx.app:seed(d)
      return ok_json()
    end },
  { "GET", "state", function(ctx)
      local out = M.export_state(ctx.app.state)
      return util.json(200, out)
    end },
  { "GET", "requests", function(ctx)
      local prefix = ctx.query.path_prefix
      local out = {}
      for _, e in ipairs(ctx.app.log) do
        if not prefix or e.path:sub(1, #prefix) == prefix then out[#out + 1] = e end
      end
      return util.json(200, { requests = util.array(out), count = #out })
    end },
  { "DELETE", "requests", function(ctx) ctx.app.log = {}; return ok_json() end },
  { "GET", "delay/{ms}", delay },
  { "POST", "delay/{ms}", delay },
  { "GET", "large/{bytes}", large },
  { "GET", "status/{code}", status_page },
  { "POST", "status/{code}", status_page },
  -- faults: GET the rules, POST {"rules": [...], "seed": N} to replace them, DELETE to clear
  { "GET", "faults", function(ctx)
      return util.json(200, require("cohort.sandbox.faults").export(ctx.app.faults))
    end },
  { "POST", "faults", function(ctx)
      local faults = require "cohort.sandbox.faults"
      local b, err = body_json(ctx)
      if not b then return bad(err) end
      local state = faults.new(b.seed or ctx.app.fault_seed)
      for i, rule in ipairs(b.rules or {}) do
        local ok, msg = faults.add(state, rule)
        if not ok then return bad(("rules[%d]: %s"):format(i, msg)) end
      end
      ctx.app.faults = state
      return util.json(200, faults.export(state))
    end },
  { "DELETE", "faults", function(ctx)
      ctx.app.faults = require("cohort.sandbox.faults").new(ctx.app.fault_seed)
      return ok_json() -- (POST /__sandbox/reset brings back the rules given by --fault)
    end },
  -- every webhook request the sandbox made, as it went out (headers, exact body)
  { "GET", "hooks/deliveries", function(ctx)
      return util.json(200, { deliveries = util.array(ctx.app.delivery:requests {
        subscription = ctx.query.subscription }) })
    end },
  -- POST latency {"ms": N}: every platform route answers N ms late (0 turns it off)
  { "POST", "latency", function(ctx)
      local b = body_json(ctx)
      local ms = type(b) == "table" and tonumber(b.ms)
      if not ms or ms < 0 or ms > 60000 then return bad("ms must be 0..60000") end
      ctx.app.latency = ms
      return ok_json { latency_ms = ms }
    end },
  { "POST", "shutdown", function(ctx) ctx.app.shutdown = true; return ok_json() end },
  { "GET", "quirks", function(ctx) return util.json(200, { quirks = ctx.app.quirks }) end },
  -- QuestionPro: the per-key call limit ({"limit": N, "window": seconds}; until the next reset)
  -- and HTML pages instead of JSON ({"status": 200, "count": 1}).
  { "GET", "questionpro/rate-limit", function(ctx)
      local limit, window = questionpro.rate_limit(ctx.app)
      return ok_json { limit = limit, window = window }
    end },
  { "POST", "questionpro/rate-limit", function(ctx)
      local b, err = body_json(ctx)
      if not b then return bad(err) end
      local r, fields = questionpro.set_rate_limit(ctx.app, b)
      if not r then return bad(fields) end
      return ok_json(r)
    end },
  { "POST", "questionpro/html", function(ctx)
      local b, err = body_json(ctx)
      if not b then return bad(err) end
      local r, fields = questionpro.set_html(ctx.app, b)
      if not r then return bad(fields) end
      return ok_json(r)
    end },
  { "POST", "quirks", set_quirks },
  { "POST", "studies/{id}/simulate", function(ctx, p)
      return require("cohort.sandbox.prolific_studies").simulate(ctx, p)
    end },
  -- every movement of money: ?kind=reserve|reward|release|bonus|screen-out, ?study=, ?workspace=;
  -- and each workspace's balances and each study's reserve now
  { "GET", "ledger", function(ctx)
      local q = ctx.query
      local out = {}
      for _, e in ipairs(ctx.app.state.ledger or {}) do
        if (q.kind == nil or e.kind == q.kind) and (q.study == nil or e.study_id == q.study)
            and (q.workspace == nil or e.workspace_id == q.workspace) then
          out[#out + 1] = util.deepcopy(e)
        end
      end
      local workspaces, reserves = {}, {}
      local money = require "cohort.sandbox.prolific_money"
      for _, w in ipairs(ctx.app.state.workspaces or {}) do
        workspaces[#workspaces + 1] = { id = w.id, total_balance = w.balance,
          available_balance = w.available_balance,
          reserved = (tonumber(w.balance) or 0) - (tonumber(w.available_balance) or 0) }
      end
      for _, st in ipairs(ctx.app.state.studies or {}) do
        if (tonumber(st._reserve) or 0) > 0 then
          reserves[#reserves + 1] = { study_id = st.id, status = st.status, reserve = st._reserve,
            workspace_id = (money.workspace_of(ctx.app.state, st) or {}).id }
        end
      end
      return util.json(200, { ledger = util.array(out), count = #out,
        workspaces = util.array(workspaces), reserves = util.array(reserves) })
    end },
  -- the participant pool: members passing ?filters=<JSON array> (or who may take the study
  -- ?eligible_for=<id>), paged by offset and limit; one member by id (cohort.sandbox.participants)
  { "GET", "participants", function(ctx)
      return require("cohort.sandbox.participants").list_route(ctx)
    end },
  { "GET", "participants/{id}", function(ctx, p)
      return require("cohort.sandbox.participants").get_route(ctx, p)
    end },
}

-- The sandbox clock (cohort.sandbox.clock) ------------------------------------------------------

local function clock_view(app, limit)
  local c = app.clock
  local out = c:state()
  local list = c:pending()
  limit = math.tointeger(tonumber(limit)) or 1000
  for i = #list, math.max(limit, 0) + 1, -1 do list[i] = nil end
  out.pending_events = util.array(list)
  out.start = c.start and require("cohort.sandbox.clock").iso(c.start) or util.null
  local errs = {}
  for i, e in ipairs(c.errors) do errs[i] = { key = e.key, at = require("cohort.sandbox.clock").iso(e.t), message = e.message } end
  out.errors = util.array(errs)
  return out
end

-- GET clock[?limit=N]: {now, at, rate, stepped, pending, next, next_at, start, pending_events =
-- [{key, t, at}] (the first N to run, default 1000), errors}
M.routes[#M.routes + 1] = { "GET", "clock", function(ctx)
  return util.json(200, clock_view(ctx.app, ctx.query.limit))
end }

-- POST clock/advance {"seconds": N} or {"to": "<ISO time>"}: time moves forward and what falls
-- due on the way happens, in time order; answers {ran, errors, clock}
M.routes[#M.routes + 1] = { "POST", "clock/advance", function(ctx)
  local b, err = body_json(ctx)
  if not b then return bad(err) end
  local c = ctx.app.clock
  local seconds
  if b.to ~= nil then
    local t, why = require("cohort.sandbox.clock").parse_iso(b.to)
    if not t then return bad({ to = { "Not an ISO 8601 time: " .. tostring(why) } }) end
    seconds = math.max(0, t - c:now())
  else
    seconds = b.seconds
    if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds > 100 * 365 * 86400 then
      return bad({ seconds = { "A number of seconds from 0 to 100 years is required." } })
    end
  end
  for k in pairs(b) do
    if k ~= "seconds" and k ~= "to" then return bad({ [k] = { "Unknown field." } }) end
  end
  local ran, errs = c:advance(seconds)
  require("cohort.sandbox.lifecycle").sync(ctx.app)
  local list = {}
  for i, e in ipairs(errs) do list[i] = { key = e.key, message = e.message } end
  return util.json(200, { ran = ran, errors = util.array(list), clock = clock_view(ctx.app) })
end }

-- POST clock/rate {"rate": N | "stepped"}: the rate changes, the time stays
M.routes[#M.routes + 1] = { "POST", "clock/rate", function(ctx)
  local b, err = body_json(ctx)
  if not b then return bad(err) end
  local r = b.rate
  local max = require("cohort.sandbox.clock").MAX_RATE
  if r ~= "stepped" and (type(r) ~= "number" or r ~= r or r <= 0 or r > max) then
    return bad({ rate = { ('A positive number (at most %d) or "stepped" is required.'):format(max) } })
  end
  ctx.app.clock:set_rate(r)
  return util.json(200, clock_view(ctx.app))
end }

-- GET deliveries[?subscription=&status=&resource_id=]: every webhook event with every attempt
-- (due and sent times, status, error, duration; never a secret), and the counts
M.routes[#M.routes + 1] = { "GET", "deliveries", function(ctx)
  local q = ctx.query
  local status = q.status
  if status ~= nil and not require("cohort.sandbox.deliveries").STATUSES[status] then
    return bad({ status = { "One of PENDING, SUCCEEDED, FAILED." } })
  end
  local d = ctx.app.delivery
  local list = d:log { subscription = q.subscription, status = status, resource_id = q.resource_id }
  for _, ev in ipairs(list) do ev.payload = ev.payload or util.null end
  return util.json(200, { deliveries = util.array(list), count = #list, stats = d:stats(),
    disabled = util.array(d:disabled()) })
end }

-- ctx.segs starts with "__sandbox".
function M.handle(ctx)
  return util.dispatch_prolific(M.routes, ctx, 2)
end

return M
