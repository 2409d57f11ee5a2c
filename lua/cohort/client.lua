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

--- Host part of an http(s) URL, lower-cased, without port (an IPv6 address keeps its
-- brackets); nil when the URL has no authority.
-- @tparam string url
-- @treturn[1] string the host
-- @treturn[1] string|nil the user information before an `@`, when there is one
-- @return[2] nil
local function url_host(url)
  local authority = url:match("^%a[%w+.-]*://([^/?#]*)")
  if not authority then return nil end
  local userinfo = authority:match("^(.*)@")
  if userinfo then authority = authority:sub(#userinfo + 2) end
  if authority:sub(1, 1) == "[" then
    local host = authority:match("^(%[[^%]]*%])")
    return host and host:lower(), userinfo
  end
  return (authority:gsub(":%d*$", "")):lower(), userinfo
end
M.url_host = url_host

-- One part of a dotted IPv4 address, written as inet_aton would read it the same way: a
-- decimal from 0 to 255 without leading zeros (libcurl reads "010" as octal).
local function octet(s)
  return s ~= nil and (s == "0" or s:match("^[1-9]%d?%d?$") ~= nil) and tonumber(s) <= 255
end

--- Is `host` (as `url_host` gives it) this machine: `localhost`, `[::1]` or an address of
-- 127.0.0.0/8 written in full? Decided on the parsed host, never on a prefix:
-- `127.attacker.example` and `localhost.evil.com` are other machines.
-- @tparam string host
-- @treturn boolean
function M.is_loopback(host)
  if host == "localhost" or host == "[::1]" then return true end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return a == "127" and octet(b) and octet(c) and octet(d) or false
end

--- Check a base URL: http(s) only, a plain host (no user name or password, query or
-- fragment), and plain http only to loopback (`M.is_loopback`) unless `insecure`.
-- @tparam string method the constructor, for the message
-- @tparam string url
-- @tparam[opt] boolean insecure allow http:// to another host
-- @treturn string the URL without trailing slashes
function M.check_base_url(method, url, insecure)
  if type(url) ~= "string" or not url:match("^https?://[^/]") then
    util.misuse(method, "base_url must be an http:// or https:// URL (got %s)",
      type(url) == "string" and ("%q"):format(url) or type(url))
  end
  local host, userinfo = url_host(url)
  if userinfo then
    util.misuse(method, "base_url must not carry a user name or password (they would be sent "
      .. "and shown); the token or key is the only credential")
  end
  if url:find("[?#]") then -- (not shown: a query is where a key would be)
    util.misuse(method, "base_url must not have a query or a fragment; give the call's "
      .. "parameters to the call")
  end
  if host == nil or host == "" or not (host:match("^[%w._-]+$") or host:match("^%[[%x:.]+%]$")) then
    util.misuse(method, "base_url %q has no valid host", url)
  end
  if url:match("^http://") and not M.is_loopback(host) and not insecure then
    util.misuse(method, "base_url %q would send the credentials unencrypted; use https:// or "
      .. "pass insecure = true", url)
  end
  return (url:gsub("/+$", ""))
end

-- What the secret is called where the user gave it, for the messages about it.
local SECRET_NAMES = { token = "token ($PROLIFIC_TOKEN)", ["api-key"] = "api_key ($QUESTIONPRO_API_KEY)",
  query = "api_key ($QUESTIONPRO_API_KEY)" }

--- The shortest token or API key accepted: a shorter one could not be masked in messages
-- without masking ordinary words too (the core refuses it as well).
M.SECRET_MIN = 8

--- Check a token or API key before anything is made: a string of at least `M.SECRET_MIN`
-- characters with no control character (a NUL would cut it; a line break, often left by a
-- file it was read from, would break the header). Raises naming the option; never shows the
-- secret.
-- @tparam string method the constructor, for the message
-- @tparam string name the option as the user wrote it (`"token"`, `"api_key"`)
-- @param secret the value
function M.check_secret(method, name, secret)
  if type(secret) ~= "string" then util.misuse(method, "%s must be a string", name) end
  if secret:find("%c") then
    util.misuse(method, "%s contains a control character (a NUL, a line break or another byte "
      .. "below 32; a trailing newline read from a file is the usual cause)", name)
  end
  if #secret < M.SECRET_MIN then
    util.misuse(method, "%s is shorter than %d characters: too short to keep out of every "
      .. "message safely (real tokens and keys are longer)", name, M.SECRET_MIN)
  end
end

--- Make a client.
-- @tparam table cfg `platform`, `base_url`, `auth` (`"token"`, `"api-key"`, `"query"`),
--   `secret` (checked by `M.check_secret`), `secret_name` (the option it came from, for
--   messages), `timeout`, `connect_timeout`, `ca_file`, `max_size`, `page_size`, `name`,
--   `max_connections`, `retries` (retries after the first attempt, 0 to 100, default 3),
--   `retry_base`, `retry_cap`, `retry_budget` (seconds), `debug` (true: a line per request on
--   stderr; or a function(line); default on when `$COHORT_DEBUG` is set — URLs shown are
--   redacted), `progress` (progress bars of long operations: nil = when stderr is a terminal,
--   false = never)
-- @treturn Client
function M.new(cfg)
  if cfg.secret ~= nil or cfg.auth ~= nil then
    M.check_secret(cfg.label or "cohort client", cfg.secret_name or SECRET_NAMES[cfg.auth] or "secret",
      cfg.secret)
  end
  local retries = cfg.retries
  if retries == nil then retries = 3 end
  local ok, session = pcall(core.session, {
    auth = cfg.auth, secret = cfg.secret, platform = cfg.platform,
    timeout = cfg.timeout, connect_timeout = cfg.connect_timeout,
    ca_file = cfg.ca_file, max_size = cfg.max_size, max_connections = cfg.max_connections,
    retries = retries, retry_base = cfg.retry_base, retry_cap = cfg.retry_cap,
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
    var = cfg.var, -- the conventional variable (`p`, `q`): how misuse errors name its methods
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
-- Tasks in flight are not stranded: the tasks this client spawned (`spawn`, `submit`, `map`)
-- end with a cohort.Error of kind `"closed"` naming the client (their `on_error` runs), a
-- request of another client's task in flight on this one returns that error, and every other
-- client goes on working. Any further call on this client raises "attempt to use a closed
-- client". When a callback run here raises, `close` raises after closing.
function Client:close()
  self._closed = true
  async.close(self)
end
Client.__close = Client.close

-- Raise when the client is closed, naming the method called.
local function check_open(client, name)
  if client._closed then util.misuse(("%s:%s()"):format(client.var or client.name, name), "attempt to use a closed client") end
end

--- Decode a response body: the JSON due, as Lua values (cohort's own decoder, `core.decode`).
-- An empty body is an error here (JSON was due); `Client:send` returns `true` before calling
-- this for the answers that may be empty (204, HEAD, a request marked `empty_ok`).
-- @tparam table result a core result (`status`, `body`, `headers`)
-- @treturn[1] value
-- @return[2] nil
-- @treturn[2] cohort.Error of kind `"decode"`: the message names the content type and, for an
--   HTML page, its title (the secret masked)
function Client:decode(result)
  local body = result.body or ""
  local ok, value
  if body ~= "" then ok, value = pcall(core.decode, body) end
  if ok then return value end
  local err = self._session:not_json(result.status or 0, body,
    body ~= "" and result.headers and result.headers["content-type"] or nil,
    value ~= nil and tostring(value) or nil)
  err.platform, err.url, err.attempts = self.platform, result.url, 1
  return nil, Error.new(err)
end

--- Send one request description and return the decoded JSON.
-- @tparam table req `method`, `path`, `ids`, `query`, `body` (table → JSON, or string),
--   `headers`, `url` (absolute, same origin), `timeout` (seconds), `retries` (retries after the
--   first attempt, 0 to 100; the client's by default), `idempotent` (safe to repeat: GET, HEAD,
--   PUT, DELETE are by default), `raw` (return the body text undecoded, e.g. CSV), `compress`
--   (ask for a compressed answer: lists and raw downloads do; a single object gains nothing
--   from it), `empty_ok` (an empty body is the documented success: return `true` for it; without
--   it an empty body where JSON is due is an error of kind `"decode"` — only a 204 and a HEAD are
--   always allowed to be empty)
-- @treturn[1] value decoded JSON (`true` for an allowed empty answer)
-- @treturn[1] table the raw result (`status`, `headers`, `raw_headers`, `url`)
-- @return[2] nil
-- @treturn[2] cohort.Error: any kind of `cohort.error.KINDS`; a 3xx is kind `"redirect"`, never a
--   success
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
  if result.body == "" and (result.status == 204 or req.empty_ok or req.method == "HEAD") then
    return true, result
  end
  local value, err = self:decode(result)
  if value == nil then
    if type(err) == "table" and err.method == nil then err.method = req.method or "GET" end
    return nil, err
  end
  return value, result
end

-- ------------------------------------------------------------------ non-blocking use

--- Run `fn(...)` in a task where every cohort call yields instead of blocking.
-- See `cohort.async` and docs/async.md for the model; closing this client ends the task.
-- @tparam function fn
-- @param ... arguments for `fn`
-- @treturn Task
function Client:spawn(fn, ...)
  check_open(self, "spawn")
  return async.spawn_on(self, fn, ...)
end

--- Advance transfers and resume finished tasks (of every client); never blocks. Call it once
-- per frame. Raises inside a callback or a task, and after settling every task of the step
-- when an `on_done`/`on_error` callback raised.
-- @treturn integer tasks still running
function Client:poll()
  if self._closed then check_open(self, "poll") end
  return async.poll(self)
end

--- Block until `task` is done and return its results, or nil, err (inside a task: yield).
-- Raises inside a callback, when a task would wait for itself, and after settling every task
-- of the step when an `on_done`/`on_error` callback raised.
-- @tparam Task task
-- @return[1] the task's results
-- @return[2] nil
-- @treturn[2] the error the task raised
function Client:wait(task)
  check_open(self, "wait")
  return async.wait(task, self)
end

--- Run `fn(item, i)` over `items` with `{concurrency = N}` (default 8, at most 64); every
-- argument is checked before the first call. Blocks outside a task, yields inside one.
-- @tparam table items an array
-- @tparam function fn returns a value, or nil, err
-- @tparam[opt] table opts `concurrency`, `progress` (false: no bar), `label` (the bar's)
-- @tparam[opt] string method for cohort's bulk helpers: the method to name in misuse errors
--   (e.g. `"p.submissions:get_many()"`) instead of `p:map()`
-- @treturn table values in input order (`n` = count; nil where an item failed)
-- @treturn table errors by index (`count` = how many failed)
function Client:map(items, fn, opts, method)
  if self._closed then util.misuse(method or (self.var or self.name) .. ":map()", "attempt to use a closed client") end
  return async.map(items, fn, opts, self, method)
end

--- Sleep `seconds` without blocking other tasks (inside a task it yields; outside it blocks).
-- @tparam number seconds
function Client:sleep(seconds)
  return async.sleep(seconds, self)
end

--- Callback form for hosts with their own event loop: send `req` (as for `send`) and call
-- `callback(value)` or `callback(nil, err)` from a later `poll()` (or `wait`) when it
-- finishes. The callback is an `on_done`/`on_error` handler: the same rules hold (no `poll()`
-- or blocking `wait()` inside it; an error it raises is raised by that `poll()`).
-- @tparam table req a request description (as for `send`)
-- @tparam function callback
-- @treturn Task
function Client:submit(req, callback)
  local method = (self.var or self.name) .. ":submit()"
  check_open(self, "submit")
  if type(req) ~= "table" then util.misuse(method, "req must be a request table (got %s)", type(req)) end
  if type(callback) ~= "function" then
    util.misuse(method, "callback must be a function (got %s)", type(callback))
  end
  local task = async.spawn_on(self, function()
    return self:send(req)
  end)
  if task:done() then -- finished at once: nothing was sent
    if task.state == "failed" then
      task.claimed = true
      if not Error.is(task.error) then error(task.error, 0) end -- misuse: raise it here
      callback(nil, task.error)
    else
      local value, err = compat.unpack(task.results, 1, task.results.n)
      if value == nil then callback(nil, err) else callback(value) end
    end
    return task
  end
  task._what = "the " .. method .. " callback"
  task.on_done = function(value, err)
    if value == nil then callback(nil, err) else callback(value) end
  end
  task.on_error = function(err) callback(nil, err) end
  return task
end

--- The metatable for objects of class `name` on this client.
-- @tparam string name
-- @treturn ?table
function Client:class(name)
  return self._classes[name]
end

--- Register a class: `def.methods` (functions taking `(client, obj, ...)`), `def.getters`
-- (fields computed on access, never stored: functions `(client, obj)`), `def.tostring`
-- (`(obj, client)`), `def.key` (function(obj) → its id), `def.var` (the conventional variable
-- name in errors: `sub`). Methods are closures over the client, so objects keep only the server's fields; a
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
    -- the client as a second argument: a class may print by its settings (QuestionPro's
    -- time zones)
    __tostring = def.tostring and function(obj) return def.tostring(obj, client) end or nil,
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
