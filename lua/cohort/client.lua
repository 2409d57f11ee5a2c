--- The client shared by both platforms: transport, decoding, objects and their classes.
-- A platform module (`cohort.prolific`, `cohort.questionpro`) makes a client with its auth
-- scheme and base URL, then attaches the methods `cohort.resource` generates from its rows;
-- lists go through `cohort.paging`. This is the one place that turns a core result into
-- `value` or `nil, err`.
-- @module cohort.client
local compat = require "cohort.compat"
local core = require "cohort.core"
local Error = require "cohort.error"
local util = require "cohort.util"
local async = require "cohort.async"

local M = {}

local Client = { __name = "cohort.Client" }
Client.__index = Client
M.Client = Client

local LOOPBACK = { ["127.0.0.1"] = true, ["localhost"] = true, ["[::1]"] = true }

--- Host part of an http(s) URL, lower-cased, without port.
local function url_host(url)
  local authority = url:match("^%a[%w+.-]*://([^/?#]*)")
  if not authority then return nil end
  authority = authority:gsub("^.*@", "")
  if authority:sub(1, 1) == "[" then return authority:match("^(%[[^%]]*%])"):lower() end
  return (authority:gsub(":%d*$", "")):lower()
end
M.url_host = url_host

--- Check a base URL: http(s) only, and plain http only to loopback unless `insecure`.
function M.check_base_url(method, url, insecure)
  if type(url) ~= "string" or not url:match("^https?://[^/]") then
    util.misuse(method, "base_url must be an http:// or https:// URL (got %s)",
      type(url) == "string" and ("%q"):format(url) or type(url))
  end
  local host = url_host(url)
  if url:match("^http://") and not LOOPBACK[host] and not host:match("^127%.") and not insecure then
    util.misuse(method, "base_url %q would send the credentials unencrypted; use https:// or "
      .. "pass insecure = true", url)
  end
  return (url:gsub("/+$", ""))
end

--- Make a client.
-- @tparam table cfg `platform`, `base_url`, `auth` (`"token"`, `"api-key"`, `"query"`),
--   `secret`, `timeout`, `connect_timeout`, `ca_file`, `max_size`, `page_size`, `name`,
--   `max_connections`, `retries` (attempts in all, default 4), `retry_base`, `retry_cap`,
--   `retry_budget` (seconds), `debug` (true: a line per request on stderr; or a
--   function(line); default on when `$COHORT_DEBUG` is set — URLs shown are redacted),
--   `progress` (progress bars of long operations: nil = when stderr is a terminal, false = never)
-- @treturn Client
function M.new(cfg)
  local ok, session = pcall(core.session, {
    auth = cfg.auth, secret = cfg.secret, platform = cfg.platform,
    timeout = cfg.timeout, connect_timeout = cfg.connect_timeout,
    ca_file = cfg.ca_file, max_size = cfg.max_size, max_connections = cfg.max_connections,
    retries = cfg.retries or 4, retry_base = cfg.retry_base, retry_cap = cfg.retry_cap,
    retry_budget = cfg.retry_budget,
  })
  if not ok then
    util.misuse(cfg.label or "cohort client", "%s", (tostring(session):gsub("^cohort%.core: ", "")))
  end
  local debug = cfg.debug
  if debug == nil and (os.getenv("COHORT_DEBUG") or "") ~= "" then debug = true end
  if debug == true then debug = function(line) io.stderr:write(line, "\n") end end
  if debug ~= nil and debug ~= false and type(debug) ~= "function" then
    util.misuse(cfg.label or "cohort client", "debug must be true, false or a function(line)")
  end
  return setmetatable({
    debug = debug or nil,
    progress = cfg.progress,
    platform = cfg.platform,
    name = cfg.name or cfg.platform,
    base_url = cfg.base_url,
    page_size = cfg.page_size,
    _session = session,
    _classes = {},
  }, Client)
end

function Client:__tostring()
  return ("cohort.%s client %s (credentials hidden)"):format(self.name, self.base_url)
end

--- Close the client's connections. Idempotent; also done by the garbage collector.
function Client:close()
  self._session:close()
end
Client.__close = Client.close

--- Decode a response body: JSON to Lua values through the core's private cjson instance.
-- @treturn[1] value (`true` for an empty body)
-- @return[2] nil
-- @treturn[2] cohort.Error of kind `"decode"`
function Client:decode(result)
  local body = result.body
  if body == nil or body == "" or result.status == 204 then return true end
  local ok, value = pcall(core.decode, body)
  if not ok then
    return nil, Error.new {
      kind = "decode", status = result.status, platform = self.platform,
      title = "Invalid JSON", message = "the server's answer is not valid JSON: " .. tostring(value),
      url = result.url, attempts = 1,
    }
  end
  return value
end

--- Send one request description and return the decoded JSON.
-- @tparam table req `method`, `path`, `ids`, `query`, `body` (table → JSON, or string),
--   `headers`, `url` (absolute, same origin), `timeout`, `retries` (attempts in all),
--   `idempotent` (safe to repeat: GET, HEAD, PUT, DELETE are by default), `raw` (return the
--   body text undecoded, e.g. CSV), `compress` (ask for a compressed answer: lists and raw
--   downloads do; a single object gains nothing from it)
-- @treturn[1] value decoded JSON (`true` for an empty answer)
-- @treturn[1] table the raw result (`status`, `headers`, `raw_headers`, `url`)
-- @return[2] nil
-- @treturn[2] cohort.Error
function Client:send(req)
  local creq = req
  -- a request made by cohort.resource is already the core's (its `base` is this client's);
  -- anything else is copied, never changed
  if req.base ~= self.base_url or type(req.body) == "table" or (req.raw and not req.compress) then
    local body = req.body
    if type(body) == "table" then body = core.encode(body) end
    creq = {
      method = req.method, base = self.base_url, path = req.path, ids = req.ids,
      query = req.query, headers = req.headers, body = body, url = req.url, timeout = req.timeout,
      retries = req.retries, idempotent = req.idempotent, compress = req.compress or req.raw,
    }
  end
  local started = self.debug and core.monotime()
  local result = async.request(self._session, creq)
  if started then -- the URL comes from the core, already redacted
    self.debug(("cohort: %s %s -> %s (%.0f ms)"):format(req.method or "GET", tostring(result.url),
      result.err and tostring(Error.new(result.err)) or tostring(result.status),
      (core.monotime() - started) * 1000))
  end
  if result.err then return nil, Error.new(result.err) end
  if req.raw then return result.body, result end
  local value, err = self:decode(result)
  if value == nil then return nil, err end
  return value, result
end

-- ------------------------------------------------------------------ non-blocking use

--- Run `fn(...)` in a task where every cohort call yields instead of blocking.
-- See `cohort.async` for the model.
-- @tparam function fn
-- @treturn Task
function Client:spawn(fn, ...)
  return async.spawn(fn, ...)
end

--- Advance transfers and resume finished tasks; never blocks. Call it once per frame.
-- @treturn integer tasks still running
function Client:poll()
  return async.poll()
end

--- Block until `task` is done and return its results, or nil, err.
function Client:wait(task)
  return async.wait(task)
end

--- Run `fn(item, i)` over `items` with `{concurrency = N}` (default 8, at most 64).
-- @treturn table values in input order (`n` = count; nil where an item failed)
-- @treturn table errors by index (`count` = how many failed)
function Client:map(items, fn, opts)
  return async.map(items, fn, opts)
end

--- Sleep `seconds` without blocking other tasks (inside a task it yields; outside it blocks).
function Client:sleep(seconds)
  return async.sleep(seconds)
end

--- Callback form for hosts with their own event loop: send `req` (as for `send`) and call
-- `callback(value, err)` from a later `poll()` (or `wait`) when it finishes.
-- @treturn Task
function Client:submit(req, callback)
  if type(callback) ~= "function" then
    util.misuse("client:submit()", "callback must be a function")
  end
  local task = async.spawn(function()
    return self:send(req)
  end)
  task.on_done = function(value, err) callback(value, err) end
  task.on_error = function(err) callback(nil, err) end
  if task:done() then -- finished at once (only when nothing was sent)
    if task.state == "done" then callback(compat.unpack(task.results, 1, task.results.n))
    else callback(nil, task.error) end
  end
  return task
end

--- The metatable for objects of class `name` on this client.
-- @tparam string name
-- @treturn ?table
function Client:class(name)
  return self._classes[name]
end

--- Register a class: `def.methods` (functions taking `(client, obj, ...)`), `def.getters`
-- (fields computed on access, never stored: functions `(client, obj)`), `def.tostring`,
-- `def.key` (function(obj) → its id), `def.var` (the conventional variable name in errors:
-- `sub`). Methods are closures over the client, so objects keep only the server's fields; a
-- method called with a dot (`sub.approve()`) raises and says so.
-- @tparam string name
-- @tparam table def
-- @treturn table the metatable (`__methods` holds the methods, verbs are added there)
function Client:define_class(name, def)
  local client = self
  local var = def.var or name:lower()
  local methods = {}
  local mt = {
    __name = "cohort." .. name,
    __client = client, -- the client an object came from (cohort.workbench.review uses it)
    __methods = methods,
    __key = def.key,
    __tostring = def.tostring and function(obj) return def.tostring(obj) end or nil,
  }
  for k, f in pairs(def.methods or {}) do
    methods[k] = function(obj, ...)
      if getmetatable(obj) ~= mt then
        util.misuse(("%s.%s()"):format(var, k), "called with a dot; write %s:%s(...)", var, k)
      end
      return f(client, obj, ...)
    end
  end
  local getters = def.getters
  if getters then
    mt.__index = function(obj, k)
      local m = methods[k]
      if m ~= nil then return m end
      local g = getters[k]
      if g then return g(client, obj) end
      return nil
    end
  else
    mt.__index = methods
  end
  self._classes[name] = mt
  return mt
end

--- Give a decoded JSON object its class (in place).
-- @tparam string name the class
-- @param obj a decoded value
-- @return obj
function Client:wrap(name, obj)
  if type(obj) ~= "table" then return obj end
  local mt = self._classes[name]
  if mt then setmetatable(obj, mt) end
  return obj
end

return M
