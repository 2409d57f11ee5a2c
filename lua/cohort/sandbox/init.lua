-- Starts and stops a cohort-sandbox process from Lua (specs, the demo, researchers' scripts).
--
--   local sandbox = require "cohort.sandbox"
--   local sb = sandbox.start{ port = 0, token = nil, api_key = nil, seed = "data.json",
--                             tls = { "cert.pem", "key.pem" }, bin = "cohort-sandbox",
--                             strict = false, args = { ... }, timeout = 10 }
--   sb.url, sb.token, sb.api_key, sb.pid, sb.log_file
--   sb:stop()            -- idempotent; also on GC (every host) and <close> (Lua 5.4)
--
-- The handle's verbs drive the control API (/__sandbox/…) without the core or any URL:
--
--   sb:simulate(study, { participants = 8, returns = 0.1 })   -- study: a Study or its id
--   sb:advance(3600)      sb:clock()                           -- the sandbox clock
--   sb:ledger()           sb:deliveries()                      -- money; webhook deliveries
--   sb:participants{ filters = {...}, limit = 10 }             -- the participant pool
--   sb:reset()            sb:requests{ path_prefix = "/api/v1/" }
--
-- Each returns the answer's data, or nil and a cohort.Error (kind "http" with the sandbox's
-- message); misuse raises naming the verb (`sb:advance(): seconds must be …`). `M.VERBS` lists
-- every verb and the route it calls; spec/sandbox_verbs_spec.lua checks that every control
-- route has one.
--
-- The program is started through /bin/sh in the background; its stdout (the one ready line)
-- goes to a temporary file that is polled, its stderr to a temporary log file (sb.log_file).
-- The shell then waits for it, so closing the popen handle after `kill` reaps the process and
-- gives its exit status. The child gets this Lua's package.path and package.cpath, so it finds
-- the same cohort modules.
local M = {}

local Sandbox = {}
Sandbox.__index = Sandbox

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = q

local function sleep(seconds)
  os.execute("sleep " .. string.format("%.3f", seconds))
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Closes the launcher's pipe and returns the server's exit status. The shell also prints it,
-- since close() gives no status on Lua 5.1 and LuaJIT.
local function reap(handle)
  local rest = handle:read("*a") or ""
  local _, _, code = handle:close()
  return code or tonumber(rest:match("exit (%d+)"))
end

local function alive(pid)
  local ok = os.execute(("kill -0 %d 2>/dev/null"):format(pid))
  return ok == true or ok == 0 -- 5.1/LuaJIT: the exit status
end

function M.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("cohort.sandbox.start: options must be a table", 2) end
  local bin = opts.bin or os.getenv("COHORT_SANDBOX") or "cohort-sandbox"
  local token = opts.token or "sandbox-token"
  local api_key = opts.api_key or "sandbox-api-key"
  local args = { "--port", tostring(opts.port or 0), "--token", token, "--api-key", api_key }
  if opts.host then args[#args + 1] = "--host"; args[#args + 1] = opts.host end
  if opts.seed then args[#args + 1] = "--seed"; args[#args + 1] = opts.seed end
  -- strict: every Prolific answer is checked against the spec (a departure answers 500)
  if opts.strict then args[#args + 1] = "--strict" end
  if opts.tls then
    local cert = opts.tls.cert or opts.tls[1]
    local key = opts.tls.key or opts.tls[2]
    if not cert or not key then
      error("cohort.sandbox.start: tls needs { cert, key }", 2)
    end
    args[#args + 1] = "--tls"; args[#args + 1] = cert; args[#args + 1] = key
  end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = tostring(a) end

  local ready_file = os.tmpname()
  local log_file = opts.log_file or os.tmpname()
  local cmd = { "LUA_PATH=" .. q(package.path), "LUA_PATH_5_4=" .. q(package.path),
                -- the server is Lua 5.4: from another Lua (LuaJIT, 5.1, 5.3) it keeps 5.4's C paths
                "LUA_CPATH=" .. q(package.cpath), "LUA_CPATH_5_4=" .. q(_VERSION == "Lua 5.4"
                  and package.cpath or os.getenv("LUA_CPATH_5_4") or ";;"),
                q(bin) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
  local line = table.concat(cmd, " ") .. " >" .. q(ready_file) .. " 2>>" .. q(log_file)
    .. " </dev/null & echo $!; wait $!; s=$?; echo \"exit $s\"; exit $s"
  local handle = assert(io.popen("exec /bin/sh -c " .. q(line), "r"))
  local pid = tonumber(handle:read("*l") or "")
  if not pid then
    handle:close()
    os.remove(ready_file)
    return nil, "cohort.sandbox.start: could not start " .. bin
  end

  local timeout = opts.timeout or 10
  local waited, url, step = 0, nil, 0.01
  while true do
    local text = read_all(ready_file)
    if text then url = text:match("cohort%-sandbox listening on (%S+)") end
    if url then break end
    if not alive(pid) or waited >= timeout then
      if alive(pid) then os.execute(("kill %d 2>/dev/null"):format(pid)) end
      local code = reap(handle)
      os.remove(ready_file)
      local log = read_all(log_file) or ""
      return nil, string.format("cohort.sandbox.start: %s %s (exit %s)%s", bin,
        waited >= timeout and "did not become ready in time" or "exited",
        tostring(code), log ~= "" and (": " .. log:gsub("%s+$", "")) or "")
    end
    sleep(step)
    waited = waited + step
    step = math.min(step * 2, 0.1)
  end
  os.remove(ready_file)

  local sb = setmetatable({
    url = url, token = token, api_key = api_key, pid = pid, log_file = log_file,
    _handle = handle, _remove_log = opts.log_file == nil,
  }, Sandbox)
  -- Lua 5.1 and LuaJIT call no __gc of a table: a userdata sentinel stops a dropped handle's
  -- server, or the popen handle's own finalizer would wait for it forever. Finalizers run
  -- newest first, so this one runs before the popen handle's.
  if newproxy then -- 5.1 and LuaJIT only
    local sentinel = newproxy(true)
    getmetatable(sentinel).__gc = function() if not sb._stopped then sb:stop() end end
    sb._sentinel = sentinel
  end
  return sb
end

--- A handle on a sandbox that is already running (started by someone else: `cohort-sandbox
-- --port 8080`), for its verbs: `local sb = sandbox.connect("http://127.0.0.1:8080")`.
-- `sb:stop()` on it only forgets it; the server keeps running.
-- @tparam string url the sandbox's URL
-- @tparam[opt] table opts `token`, `api_key` (what the sandbox expects; defaults as `start`'s)
-- @treturn table the handle
function M.connect(url, opts)
  if type(url) ~= "string" or not url:match("^https?://[^/]") then
    require("cohort.util").misuse("cohort.sandbox.connect()", "url must be the sandbox's http(s) URL (got %s)",
      type(url) == "string" and ("%q"):format(url) or type(url))
  end
  opts = opts or {}
  return setmetatable({ url = (url:gsub("/+$", "")), token = opts.token or "sandbox-token",
    api_key = opts.api_key or "sandbox-api-key", connected = true }, Sandbox)
end

-- Stops the server (SIGTERM) and reaps it. Returns true and the exit code; later calls
-- return true and the same code.
function Sandbox:stop()
  if self._stopped then return true, self.exit_code end
  self._stopped = true
  if self._session then self._session:close(); self._session = nil end
  if self.connected then return true end -- not ours to stop
  os.execute(("kill %d 2>/dev/null"):format(self.pid))
  local code = reap(self._handle)
  self._handle = nil
  self.exit_code = code
  if self._remove_log then os.remove(self.log_file) end
  return true, code
end

Sandbox.__gc = function(self) if not self._stopped and self._handle then self:stop() end end
Sandbox.__close = Sandbox.__gc
Sandbox.__tostring = function(self)
  return "cohort.sandbox " .. tostring(self.url) .. (self._stopped and " (stopped)" or "")
end


-- ------------------------------------------------------------------ verbs: the control API

local function misuse(verb, fmt, ...)
  require("cohort.util").misuse(("sb:%s()"):format(verb), fmt, ...)
end

-- The core session the verbs share (no credentials: the control API takes none).
local function session(self)
  if self._stopped then error("cohort: sb: attempt to use a stopped sandbox", 3) end
  local s = self._session
  if s == nil then
    s = require("cohort.core").session { platform = "prolific", retries = 0, timeout = 120 }
    self._session = s
  end
  return s
end

local function encode(v)
  return require("cohort.schema").encode(nil, nil, v)
end

-- One control request; the decoded answer or nil, err. `raw`: the core's result as it is.
local function call(self, verb, method, path, ids, body, query, raw)
  local r = session(self):request { method = method, base = self.url, path = "/__sandbox/" .. path,
    ids = ids, query = query, body = body ~= nil and encode(body) or nil,
    headers = body ~= nil and { ["Content-Type"] = "application/json" } or nil }
  if raw then -- the answer as it came: status, body, headers (an error status is not an error)
    return { status = r.status or (r.err and r.err.status), body = r.body or (r.err and r.err.body),
      headers = r.headers, err = r.err }
  end
  if r.err then
    r.err.method = r.err.method or method
    local Error = require "cohort.error"
    local e = Error.new(r.err)
    e.message = ("sb:%s(): %s"):format(verb, tostring(e.message or e.title or ""))
    return nil, e
  end
  if r.body == nil or r.body == "" then return true end
  local ok, v = pcall(require("cohort.core").decode, r.body)
  if not ok then return nil, require("cohort.error").new { kind = "decode", method = method,
    message = ("sb:%s(): the sandbox answered something that is not JSON"):format(verb) } end
  return v
end

-- A subscription given as a Subscription object or its id → its id.
local function subscription_id(v)
  if type(v) == "table" then return v.id end
  return v
end

local function check_table(verb, name, v)
  if v ~= nil and type(v) ~= "table" then misuse(verb, "%s must be a table (got %s)", name, type(v)) end
end

local function check_number(verb, name, v, min, max)
  if type(v) ~= "number" or v ~= v or v < min or (max and v > max) then
    misuse(verb, "%s must be a number from %s%s (got %s)", name, tostring(min),
      max and (" to " .. tostring(max)) or " up", tostring(v))
  end
end

local function study_id(verb, study)
  local id = type(study) == "table" and study.id or study
  if type(id) ~= "string" or not id:find("^%x+$") or #id ~= 24 then
    misuse(verb, "study must be a Study or its id of 24 hexadecimal digits (got %s)", tostring(id))
  end
  return id
end

--- Every verb and the control route it calls (`{method, path}`), for the docs and the spec.
M.VERBS = {}

local function verb(name, method, path, fn)
  M.VERBS[#M.VERBS + 1] = { name = name, method = method, path = path }
  Sandbox[name] = function(self, ...)
    if getmetatable(self) ~= Sandbox then
      error(("cohort: sb:%s(): called with a dot; write sb:%s(...)"):format(name, name), 2)
    end
    return fn(self, ...)
  end
end

--- sb:health() → true while the sandbox answers.
-- @function Sandbox:health
verb("health", "GET", "health", function(self)
  local v, err = call(self, "health", "GET", "health")
  if not v then return nil, err end
  return v.ok == true
end)

--- sb:server() → the server's figures: connections, limits, time-outs, ticks.
-- @function Sandbox:server
verb("server", "GET", "server", function(self) return call(self, "server", "GET", "server") end)

--- sb:reset() → true: the dataset, pool, clock, ledger and deliveries as at the start.
-- @function Sandbox:reset
verb("reset", "POST", "reset", function(self)
  local v, err = call(self, "reset", "POST", "reset", nil, {})
  if not v then return nil, err end
  return true
end)

--- sb:seed(dataset) → true: replace the dataset (the structure of lua/cohort/sandbox/data.lua).
-- @function Sandbox:seed
verb("seed", "POST", "seed", function(self, dataset)
  if type(dataset) ~= "table" then misuse("seed", "dataset must be a table") end
  local v, err = call(self, "seed", "POST", "seed", nil, dataset)
  if not v then return nil, err end
  return true
end)

--- sb:state() → the whole state as JSON data (workspaces, projects, studies, submissions …).
-- @function Sandbox:state
verb("state", "GET", "state", function(self) return call(self, "state", "GET", "state") end)

--- sb:requests{path_prefix = "/api/v1/"} → the request log (the last thousand or so), oldest first.
-- @function Sandbox:requests
verb("requests", "GET", "requests", function(self, opts)
  check_table("requests", "opts", opts)
  local v, err = call(self, "requests", "GET", "requests", nil, nil,
    opts and opts.path_prefix and { path_prefix = opts.path_prefix } or nil)
  if not v then return nil, err end
  return v.requests, v.count
end)

--- sb:clear_requests() → true: empty the request log.
-- @function Sandbox:clear_requests
verb("clear_requests", "DELETE", "requests", function(self)
  local v, err = call(self, "clear_requests", "DELETE", "requests")
  if not v then return nil, err end
  return true
end)

--- sb:delay(ms) → the answer (`status`, `body`, `headers`) of a GET answered `ms` ms late.
-- @function Sandbox:delay
verb("delay", "GET", "delay/{ms}", function(self, ms)
  check_number("delay", "ms", ms, 0, 60000)
  return call(self, "delay", "GET", "delay/{}", { tostring(math.floor(ms)) }, nil, nil, true)
end)

--- sb:large(bytes) → the answer (`status`, `body`, `headers`) of about `bytes` bytes of JSON.
-- @function Sandbox:large
verb("large", "GET", "large/{bytes}", function(self, bytes)
  check_number("large", "bytes", bytes, 0)
  return call(self, "large", "GET", "large/{}", { tostring(math.floor(bytes)) }, nil, nil, true)
end)

--- sb:status(code, {type = "json"|"html"|"flat"|"qp", detail =, retry_after =}) → the answer
-- (`status`, `body`, `headers`) with that status, in that platform's error shape.
-- @function Sandbox:status
verb("status", "GET", "status/{code}", function(self, code, opts)
  check_number("status", "code", code, 200, 599)
  check_table("status", "opts", opts)
  return call(self, "status", "GET", "status/{}", { tostring(math.floor(code)) }, nil, opts, true)
end)

--- sb:faults() → the fault rules; sb:set_faults{rules = {...}, seed = n}; sb:clear_faults().
-- @function Sandbox:faults
verb("faults", "GET", "faults", function(self) return call(self, "faults", "GET", "faults") end)
verb("set_faults", "POST", "faults", function(self, def)
  if type(def) ~= "table" then misuse("set_faults", "expected a table {rules = {...}, seed = n}") end
  return call(self, "set_faults", "POST", "faults", nil, def)
end)
verb("clear_faults", "DELETE", "faults", function(self)
  local v, err = call(self, "clear_faults", "DELETE", "faults")
  if not v then return nil, err end
  return true
end)

--- sb:latency(ms) → every platform route answers `ms` milliseconds late (0 turns it off).
-- @function Sandbox:latency
verb("latency", "POST", "latency", function(self, ms)
  check_number("latency", "ms", ms, 0, 60000)
  return call(self, "latency", "POST", "latency", nil, { ms = ms })
end)

--- sb:quirks() → the paging quirks; sb:set_quirks{repeat_next =, overlap =, next_on_last =}.
-- @function Sandbox:quirks
verb("quirks", "GET", "quirks", function(self)
  local v, err = call(self, "quirks", "GET", "quirks")
  if not v then return nil, err end
  return v.quirks
end)
verb("set_quirks", "POST", "quirks", function(self, q)
  if type(q) ~= "table" then misuse("set_quirks", "expected a table of quirks") end
  return call(self, "set_quirks", "POST", "quirks", nil, q)
end)

--- sb:questionpro_rate_limit() → {limit, window}; sb:set_questionpro_rate_limit{limit =, window =}.
-- @function Sandbox:questionpro_rate_limit
verb("questionpro_rate_limit", "GET", "questionpro/rate-limit", function(self)
  return call(self, "questionpro_rate_limit", "GET", "questionpro/rate-limit")
end)
verb("set_questionpro_rate_limit", "POST", "questionpro/rate-limit", function(self, def)
  if type(def) ~= "table" then misuse("set_questionpro_rate_limit", "expected a table {limit =, window =}") end
  return call(self, "set_questionpro_rate_limit", "POST", "questionpro/rate-limit", nil, def)
end)

--- sb:questionpro_html{status = 200, count = 1} → QuestionPro answers HTML pages instead of JSON.
-- @function Sandbox:questionpro_html
verb("questionpro_html", "POST", "questionpro/html", function(self, def)
  if type(def) ~= "table" then misuse("questionpro_html", "expected a table {status =, count =}") end
  return call(self, "questionpro_html", "POST", "questionpro/html", nil, def)
end)

--- sb:simulate(study, {participants =, returns =, timeouts =, failed_checks =, duration_ms =,
-- seed =}) → what the sandbox did: participants from the pool take the (ACTIVE) study.
-- @function Sandbox:simulate
verb("simulate", "POST", "studies/{id}/simulate", function(self, study, opts)
  local id = study_id("simulate", study)
  check_table("simulate", "opts", opts)
  return call(self, "simulate", "POST", "studies/{}/simulate", { id }, opts or {})
end)

--- sb:ledger() or sb:ledger{kind = "bonus", study =, workspace =} → the movements of money
-- (an array; every movement without a filter), their count, and the answer (with the
-- workspaces' balances and the studies' reserves).
-- @function Sandbox:ledger
verb("ledger", "GET", "ledger", function(self, opts)
  check_table("ledger", "opts", opts)
  local v, err = call(self, "ledger", "GET", "ledger", nil, nil, opts)
  if not v then return nil, err end
  return v.ledger, v.count, v
end)

--- sb:clock{limit = n} → the sandbox clock: `now`, `at`, `rate`, `stepped`, `pending`, `next`,
-- `pending_events` (the first `limit` to run), `errors`.
-- @function Sandbox:clock
verb("clock", "GET", "clock", function(self, opts)
  check_table("clock", "opts", opts)
  return call(self, "clock", "GET", "clock", nil, nil, opts and opts.limit and { limit = opts.limit } or nil)
end)

--- sb:advance(seconds) or sb:advance{to = "<ISO 8601 time>"} → what ran (`ran`, `errors`) and the
-- clock: time moves forward and what falls due on the way happens, in time order (scheduled
-- publishing, time-outs, automatic approval, webhook retries).
-- @function Sandbox:advance
verb("advance", "POST", "clock/advance", function(self, seconds)
  local body
  if type(seconds) == "table" then
    if type(seconds.to) ~= "string" then misuse("advance", "give seconds, or {to = \"<ISO 8601 time>\"}") end
    body = { to = seconds.to }
  else
    check_number("advance", "seconds", seconds, 0, 100 * 365 * 86400)
    body = { seconds = seconds }
  end
  return call(self, "advance", "POST", "clock/advance", nil, body)
end)

--- sb:clock_rate(rate) → the clock: `rate` a positive number (600: ten minutes a second) or
-- `"stepped"` (time moves only by sb:advance).
-- @function Sandbox:clock_rate
verb("clock_rate", "POST", "clock/rate", function(self, rate)
  if rate ~= "stepped" then check_number("clock_rate", "rate", rate, 0) end
  return call(self, "clock_rate", "POST", "clock/rate", nil, { rate = rate })
end)

--- sb:deliveries{subscription =, status = "PENDING"|"SUCCEEDED"|"FAILED", resource_id =} →
-- every webhook event with every attempt (an array), and the whole answer (counts, disabled
-- subscriptions).
-- @function Sandbox:deliveries
verb("deliveries", "GET", "deliveries", function(self, opts)
  check_table("deliveries", "opts", opts)
  if opts and type(opts.subscription) == "table" then
    opts = require("cohort.util").copy(opts)
    opts.subscription = subscription_id(opts.subscription)
  end
  local v, err = call(self, "deliveries", "GET", "deliveries", nil, nil, opts)
  if not v then return nil, err end
  return v.deliveries, v
end)

--- sb:sent_deliveries{subscription =} → the requests the delivery engine sent (to one
-- subscription's target, or to all), as they went out (headers and bytes), oldest first.
-- @function Sandbox:sent_deliveries
verb("sent_deliveries", "GET", "hooks/deliveries", function(self, opts)
  check_table("sent_deliveries", "opts", opts)
  for k in pairs(opts or {}) do
    if k ~= "subscription" then misuse("sent_deliveries", "unknown option '%s'", tostring(k)) end
  end
  local sub = opts and subscription_id(opts.subscription)
  local v, err = call(self, "sent_deliveries", "GET", "hooks/deliveries", nil, nil,
    sub ~= nil and { subscription = sub } or nil)
  if not v then return nil, err end
  return v.deliveries
end)

--- sb:participants{filters = {...}, eligible_for = study, offset =, limit =} → the pool's
-- members who pass the filters (catalogue filters, as a study takes them) or who may take the
-- study, with their demographics and history (an array), and the whole answer (`count`, `pool`).
-- @function Sandbox:participants
verb("participants", "GET", "participants", function(self, opts)
  check_table("participants", "opts", opts)
  opts = opts or {}
  local q = { offset = opts.offset, limit = opts.limit }
  if opts.filters ~= nil then
    check_table("participants", "filters", opts.filters)
    q.filters = encode(require("cohort.schema").array(opts.filters))
  end
  if opts.eligible_for ~= nil then q.eligible_for = study_id("participants", opts.eligible_for) end
  for k in pairs(opts) do
    if q[k] == nil and k ~= "filters" and k ~= "eligible_for" then
      misuse("participants", "unknown option '%s'", tostring(k))
    end
  end
  local v, err = call(self, "participants", "GET", "participants", nil, nil, q)
  if not v then return nil, err end
  return v.results, v
end)

--- sb:participant(id) → one member of the pool: demographics, groups and study history.
-- @function Sandbox:participant
verb("participant", "GET", "participants/{id}", function(self, id)
  if type(id) ~= "string" or #id ~= 24 or id:find("[^%x]") then
    misuse("participant", "id must be a participant id of 24 hexadecimal digits (got %s)", tostring(id))
  end
  return call(self, "participant", "GET", "participants/{}", { id })
end)

--- sb:shutdown() → true: the sandbox stops after answering (sb:stop() also reaps it).
-- @function Sandbox:shutdown
verb("shutdown", "POST", "shutdown", function(self)
  local v, err = call(self, "shutdown", "POST", "shutdown", nil, {})
  if not v then return nil, err end
  return true
end)

M.Sandbox = Sandbox

return M
