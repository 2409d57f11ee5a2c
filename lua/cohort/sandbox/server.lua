-- The sandbox application: parses the command line and answers requests.
-- csrc/sandbox.c calls require("cohort.sandbox.server").new(argv) and then app:handle(req)
-- for each request, under one lock (see docs/internals.md, "The sandbox").
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"
local prolific = require "cohort.sandbox.prolific"
local questionpro = require "cohort.sandbox.questionpro"
local control = require "cohort.sandbox.control"
local faults = require "cohort.sandbox.faults"
local clockmod = require "cohort.sandbox.clock"
local deliveries = require "cohort.sandbox.deliveries"
local lifecycle = require "cohort.sandbox.lifecycle"

local ok_native, native = pcall(require, "cohort.sandbox.native")
local now = ok_native and native.now or function() return os.time() + 0.0 end

local M = {}

M.USAGE = [[
usage: cohort-sandbox [options]

A local, stateful emulator of the Prolific and QuestionPro APIs.

  --host H          address to listen on (default 127.0.0.1)
  --port N          port (default 0: any free port)
  --token T         Prolific token expected in "Authorization: Token T" (default sandbox-token)
  --api-key K       QuestionPro key expected in the "api-key" header (default sandbox-api-key)
  --seed FILE.json  dataset replacing the default one (structure: lua/cohort/sandbox/data.lua)
  --qp-rate-limit N QuestionPro calls allowed per key per minute before 429/1013
                    (default 300; 0 = no limit)
  --tls CERT KEY    serve HTTPS with this PEM certificate and key
  --fault M:PATH:F[:times=N][:rate=P]
                    make requests misbehave (repeatable); F is 429, 429-retry-after, 500, 502,
                    503, 504, reset, truncate, malformed, stall or drip; see faults.lua
  --fault-seed N    seed of the fault generator (rate), for repeatable runs
  --strict          check every Prolific answer against the spec's success schema; an answer
                    that departs from it becomes a 500 naming the field (for the sandbox's
                    own tests)
  --max-connections N  connections held at once (default: as many as the open-file
                    limit allows, less 256)
  --idle-timeout S  close a connection silent for S seconds (default 15; 0 = never)
  --request-timeout S  close a connection that has not sent a complete request S seconds
                    after it opened or got its last answer (default 30; 0 = never)
  --clock-rate R    sandbox seconds a real second (default 1: real time; 600: ten minutes a
                    second), or "stepped": time moves only by POST /__sandbox/clock/advance
  --clock-start T   the sandbox time at start: Unix seconds or ISO 8601 (default: now)
  --pool-size N     members of the participant pool (default 30000; 0 to 1000000)
  --pool-seed N     seed of the participant pool (default 1): the same seed, the same people
  --help            show this text

Prints "cohort-sandbox listening on http://127.0.0.1:PORT" once ready.
Routes: /api/v1/... (Prolific), /a/api/v2/... (QuestionPro), /__sandbox/... (control API).
]]

M.LOG_MAX = 1000
-- the oldest entries are dropped this many at a time: dropping one from the front on every
-- request moved the whole log each time, the largest single cost of a simple GET
M.LOG_SLACK = 100
M.MAX_DELAY = 60000

local App = {}
App.__index = App
M.App = App

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read " .. tostring(err), 0) end
  local s = f:read("a")
  f:close()
  return s
end

function M.load_dataset(text, source)
  local d, err = util.decode(text)
  if d == nil then return nil, (source or "dataset") .. ": bad JSON: " .. tostring(err) end
  local nd, nerr = data.normalize(d)
  if not nd then return nil, (source or "dataset") .. ": " .. nerr end
  return nd
end

function M.new(argv)
  argv = argv or {}
  local app = setmetatable({
    host = "127.0.0.1", port = 0, token = "sandbox-token", api_key = "sandbox-api-key",
    tls_cert = nil, tls_key = nil, shutdown = false,
    log = {}, log_seq = 0, quirks = {},
  }, App)
  local dataset
  local fault_rules, fault_seed = {}, 1
  local i = 1
  local function value(flag)
    local v = argv[i + 1]
    if v == nil then error(flag .. " needs a value", 0) end
    i = i + 1
    return v
  end
  while i <= #argv do
    local a = argv[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    if flag then
      a = flag
      table.insert(argv, i + 1, inline)
    end
    if a == "--help" or a == "-h" then
      return { help = M.USAGE }
    elseif a == "--host" then
      app.host = value(a)
    elseif a == "--port" then
      local v = value(a)
      local n = tonumber(v)
      if not n or n ~= math.floor(n) or n < 0 or n > 65535 then
        error("--port: not a port number: " .. v, 0)
      end
      app.port = math.tointeger(n)
    elseif a == "--token" then
      app.token = value(a)
    elseif a == "--api-key" then
      app.api_key = value(a)
    elseif a == "--qp-rate-limit" then
      local v = value(a)
      local n = tonumber(v)
      if not n or n ~= math.floor(n) or n < 0 then
        error("--qp-rate-limit: not a number of calls: " .. v, 0)
      end
      app.qp_rate_limit = math.tointeger(n)
    elseif a == "--seed" then
      local path = value(a)
      local d, err = M.load_dataset(read_file(path), path)
      if not d then error(err, 0) end
      dataset = d
    elseif a == "--fault" then
      local rule, err = faults.parse_flag(value(a))
      if not rule then error(err, 0) end
      fault_rules[#fault_rules + 1] = rule
    elseif a == "--fault-seed" then
      fault_seed = tonumber(value(a)) or error("--fault-seed needs a number", 0)
    elseif a == "--max-connections" or a == "--idle-timeout" or a == "--request-timeout" then
      -- read by csrc/sandbox.c (app.max_connections, app.idle_timeout, app.request_timeout)
      local v = value(a)
      local n = tonumber(v)
      if not n or n < 0 or n > 86400 * 365 then error(a .. ": not a number: " .. v, 0) end
      app[a:sub(3):gsub("%-", "_")] = n
    elseif a == "--tls" then
      app.tls_cert = value(a)
      app.tls_key = value(a)
    elseif a == "--strict" then
      app.strict = true
    elseif a == "--clock-rate" then
      app.clock_rate = clockmod.parse_rate(value(a))
    elseif a == "--clock-start" then
      app.clock_start = clockmod.parse_start(value(a))
    elseif a == "--pool-size" or a == "--pool-seed" then
      -- the participant pool (cohort.sandbox.participants builds it on first use)
      local v = value(a)
      local n = math.tointeger(tonumber(v))
      local pool = require "cohort.sandbox.pool"
      if not n or (a == "--pool-size" and (n < 0 or n > pool.MAX_SIZE)) then
        error(("%s: not a whole number%s: %s"):format(a, a == "--pool-size"
          and (" from 0 to %d"):format(pool.MAX_SIZE) or "", v), 0)
      end
      app[a == "--pool-size" and "pool_size" or "pool_seed"] = n
    else
      error("unknown argument: " .. a, 0)
    end
    i = i + 1
  end
  app.scheme = app.tls_cert and "https" or "http"
  app.fault_seed, app.fault_rules = fault_seed, fault_rules
  for _, rule in ipairs(fault_rules) do
    local ok, err = faults.add(faults.new(1), rule)
    if not ok then error("--fault: " .. err, 0) end
  end
  app.initial = dataset or data.default()
  app.state = util.deepcopy(app.initial)
  app.clock = clockmod.new { rate = app.clock_rate or 1, start = app.clock_start }
  app:new_delivery()
  lifecycle.open(app)
  app:reset_faults()
  return app
end

-- Documentation domains (RFC 2606): the docs' examples subscribe with them, and no researcher's
-- receiver can be there, so their deliveries are signed and logged but never sent.
local function documentation_domain(url)
  local host = url:match("^https?://([^/:?#]+)")
  host = host and host:lower() or ""
  for _, d in ipairs { "example.com", "example.net", "example.org" } do
    if host == d or host:sub(-#d - 1) == "." .. d then
      return ("not sent: %s is a documentation domain (RFC 2606)"):format(host)
    end
  end
  if host:match("%.example$") then
    return ("not sent: %s is a documentation domain (RFC 2606)"):format(host)
  end
end

-- A new webhook delivery engine on the app's clock (the old one, if any, is closed: its events
-- belonged to the state that went).
function App:new_delivery()
  if self.delivery then self.delivery:close() end
  local app = self
  local hooks = require "cohort.sandbox.prolific_hooks"
  local ids = require("cohort.sandbox.prolific_surveys").helpers
  self.delivery = deliveries.new {
    clock = self.clock,
    secret = function(sub) return hooks.secret_of(app, sub.workspace_id) end,
    new_id = function() return ids.id(app) end,
    sink = documentation_domain,
  }
end

-- Keeps a failure of the state's own bookkeeping with the clock's errors (GET /__sandbox/clock)
-- instead of failing every request and tick after it.
local function guarded(app, what, fn, ...)
  local ok, err = pcall(fn, ...)
  if not ok then
    local errs = app.clock.errors
    errs[#errs + 1] = { key = what, t = app.clock:now(), message = tostring(err) }
    if #errs > clockmod.ERRORS_KEPT then table.remove(errs, 1) end
  end
end

-- Runs what the sandbox clock has made due, and puts new simulated submissions on it.
function App:catch_up()
  self.clock:due()
  guarded(self, "sync", lifecycle.sync, self)
end

-- Sends what the delivery engine has ready and collects what has finished (never blocks).
function App:pump()
  if self.delivery:busy() then guarded(self, "delivery", self.delivery.pump, self.delivery) end
end

-- Called by csrc/sandbox.c about every 10 ms, under the same lock as handle, with the Unix
-- time (docs/internals.md, "The sandbox"): the sandbox clock's due events (scheduled publishing,
-- time-outs, automatic approval, webhook retries), then the delivery engine, which never blocks.
-- Returns nothing: called again in 10 ms.
function App:tick(now)
  self.ticks = (self.ticks or 0) + 1
  self.tick_time = now
  self:catch_up()
  self:pump()
end

-- Restores the dataset the server started with and clears the log and the quirks; the clock
-- goes back to its start with nothing pending, and the webhook deliveries start over.
function App:reset()
  self.state = util.deepcopy(self.initial)
  self.log = {}
  self.quirks = {}
  self.latency = nil
  self.clock:reset()
  self:new_delivery()
  lifecycle.open(self)
  self:reset_faults()
end

-- The fault rules given by --fault (none by default), with a fresh generator.
function App:reset_faults()
  self.faults = faults.new(self.fault_seed)
  for _, rule in ipairs(self.fault_rules or {}) do faults.add(self.faults, rule) end
end

-- A new state (POST /__sandbox/seed): the clock keeps its time, the events and deliveries of
-- the old state go.
function App:seed(dataset)
  self.state = dataset
  self.clock:clear()
  self:new_delivery()
  lifecycle.open(self)
end

local SECRET_QUERY = { apiKey = true, apikey = true, api_key = true, token = true }
local SECRET_HEADERS = { authorization = true, ["api-key"] = true, apikey = true, cookie = true }

function App:record(ctx, status, started)
  if ctx.path:find("^/__sandbox/requests") then return end
  -- the credentials never enter the log, wherever a client put them
  local function scrub(v)
    if type(v) ~= "string" then return v end
    for _, secret in ipairs { self.token, self.api_key } do
      if secret and secret ~= "" then
        local i = v:find(secret, 1, true)
        while i do
          v = v:sub(1, i - 1) .. "[REDACTED]" .. v:sub(i + #secret)
          i = v:find(secret, i + 10, true)
        end
      end
    end
    return v
  end
  local query = {}
  for k, v in pairs(ctx.query) do
    query[k] = SECRET_QUERY[k] and "[REDACTED]" or scrub(v)
  end
  local headers = {}
  for k, v in pairs(ctx.req.headers or {}) do
    if not SECRET_HEADERS[k] then headers[k] = scrub(v) end
  end
  local body = ctx.req.body or ""
  if #body > 65536 then body = body:sub(1, 65536) end
  body = scrub(body)
  self.log_seq = self.log_seq + 1
  self.log[#self.log + 1] = {
    seq = self.log_seq, method = ctx.req.method, path = ctx.path, query = query,
    status = status, time = ctx.req.time or started, real_time = ctx.req.real_time or started,
    duration_ms = math.floor((now() - started) * 1000 + 0.5),
    auth = ctx.auth, headers = headers, body = body,
  }
  local n = #self.log
  if n > M.LOG_MAX + M.LOG_SLACK then
    table.move(self.log, n - M.LOG_MAX + 1, n, 1)
    for i = n, M.LOG_MAX + 1, -1 do self.log[i] = nil end
  end
end

-- Prolific: "Authorization: Token <token>".
local function prolific_auth(app, ctx)
  local h = ctx.req.headers.authorization
  if not h then return false, "Authentication credentials were not provided." end
  local scheme, tok = h:match("^(%S+)%s+(.-)%s*$")
  if not scheme or scheme:lower() ~= "token" then return false, "Invalid token header." end
  if tok ~= app.token then return false, "Invalid token." end
  ctx.auth = "token"
  return true
end

-- QuestionPro: the api-key header, or the retired ?apiKey= query parameter.
local function questionpro_auth(app, ctx)
  local h = ctx.req.headers["api-key"]
  if h ~= nil then
    if h == app.api_key then ctx.auth = "api-key"; return true end
    return false
  end
  local q = ctx.query.apiKey
  if q ~= nil and q == app.api_key then ctx.auth = "query"; return true end
  return false
end

function App:dispatch(ctx)
  local segs = ctx.segs
  if segs[1] == "api" and segs[2] == "v1" then
    ctx.platform = "prolific"
    local ok, why = prolific_auth(self, ctx)
    if not ok then return util.prolific_error(401, why) end
    local status, headers, body, opts = prolific.handle(ctx)
    return status, headers, util.body_text(body), opts
  elseif segs[1] == "a" and segs[2] == "api" and segs[3] == "v2" then
    ctx.platform = "questionpro"
    if not questionpro_auth(self, ctx) then
      return util.questionpro_error(401, ctx.full_url)
    end
    return questionpro.handle(ctx)
  elseif segs[1] == "__sandbox" then
    ctx.platform = "sandbox"
    return control.handle(ctx)
  elseif segs[1] == "a" and segs[2] == "api" then
    return util.questionpro_error(404, ctx.full_url)
  end
  return util.prolific_error(404, "Not found: " .. ctx.path)
end

function App:handle(req)
  local started = now()
  -- nothing answers from a state the clock has passed: what is due runs first, and every time
  -- the request records is sandbox time
  self:catch_up()
  req.real_time = req.time or started
  req.time = self.clock:now()
  req.headers = req.headers or {}
  req.body = req.body or ""
  local path, qs, segs = util.split_uri(req.uri or "/")
  local query, qlist = util.parse_query(qs)
  local host = req.headers.host or (self.host .. ":" .. tostring(self.port))
  local origin = self.scheme .. "://" .. host
  local ctx = {
    app = self, req = req, path = path, qs = qs, query = query, qlist = qlist, segs = segs,
    origin = origin, full_url = origin .. (req.uri or "/"),
  }
  -- Absolute URL of a path with the given { name, value } query pairs.
  function ctx.url(p, pairs_list)
    local q = util.build_query(pairs_list or {})
    return origin .. p .. (q ~= "" and ("?" .. q) or "")
  end

  local fault = faults.match(self.faults, ctx)
  local ok, status, headers, body, opts
  if fault and faults.replaces(fault) then
    ok, status, headers, body = true, faults.answer(fault)
  else
    ok, status, headers, body, opts = pcall(self.dispatch, self, ctx)
    if ok and fault then status, headers, body, opts = faults.spoil(fault, status, headers, body, opts) end
  end
  if not ok then
    self:record(ctx, 500, started)
    error(status, 0)
  end
  opts = opts or {}
  local d = tonumber(query.delay)
  if d and d > 0 then opts.delay = math.max(opts.delay or 0, d) end
  -- an injected latency (POST /__sandbox/latency) slows every platform route
  if self.latency and self.latency > 0 and not ctx.path:find("^/__sandbox/") then
    opts.delay = math.max(opts.delay or 0, self.latency)
  end
  if opts.delay then opts.delay = math.min(opts.delay, M.MAX_DELAY) end
  guarded(self, "sync", lifecycle.sync, self)
  -- an event the request raised goes out now (a transfer started, never waited for)
  self:pump()
  self:record(ctx, status, started)
  return status, headers or {}, body or "", opts
end

return M
