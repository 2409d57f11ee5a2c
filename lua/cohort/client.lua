--- The client shared by both platforms: transport, decoding, objects and pagination.
-- A platform module (`cohort.prolific`, `cohort.questionpro`) makes a client with its auth
-- scheme and base URL, then attaches resources generated from its declaration tables
-- (`cohort.resource`). This is the one place that turns a core result into `value` or
-- `nil, err`.
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
  if client._closed then util.misuse(("%s:%s()"):format(client.name, name), "attempt to use a closed client") end
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
--   (e.g. `"prolific.submissions:get_many()"`) instead of `prolific:map()`
-- @treturn table values in input order (`n` = count; nil where an item failed)
-- @treturn table errors by index (`count` = how many failed)
function Client:map(items, fn, opts, method)
  if self._closed then util.misuse(method or self.name .. ":map()", "attempt to use a closed client") end
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
  local method = self.name .. ":submit()"
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
-- Class methods are closures over the client, so objects keep only the server's fields.
function Client:class(name)
  return self._classes[name]
end

--- Register a class: `def.methods` (functions taking `(client, obj, ...)`), `def.tostring`.
function Client:define_class(name, def)
  local client = self
  local methods = {}
  for k, f in pairs(def.methods or {}) do
    methods[k] = function(obj, ...) return f(client, obj, ...) end
  end
  local mt = {
    __name = "cohort." .. name,
    __client = client, -- the client an object came from (cohort.workbench.review uses it)
    __index = methods,
    __tostring = def.tostring and function(obj) return def.tostring(obj) end or nil,
  }
  self._classes[name] = mt
  return mt
end

--- Give a decoded JSON object its class (in place).
function Client:wrap(name, obj)
  if type(obj) ~= "table" then return obj end
  local mt = self._classes[name]
  if mt then setmetatable(obj, mt) end
  return obj
end

-- ------------------------------------------------------------------ pagination

local Page = { __name = "cohort.Page" }
Page.__index = Page
M.Page = Page

-- A count as a person would write it: an integer plainly, anything else (a float such as 1e300
-- or 2^63, which %d refuses) as Lua prints it.
local function count_text(n)
  if compat.math_type(n) == "integer" then return ("%d"):format(n) end
  return tostring(n)
end

function Page:__tostring()
  local what = self.class or "item"
  local s = ("Page of %s %s"):format(count_text(#self), tostring(what))
  if self.count ~= nil then s = s .. (" (%s in all)"):format(count_text(self.count)) end
  if self.next then s = s .. ", more to come" end
  return s
end

-- The two paging styles. Each knows how to ask for the first page and how to find the next.
-- `page`: page + page_size, the live envelope {results, _links, meta}; `offset`: offset + limit.
local styles = {}

-- The href of `_links.next`, when it is a usable string (JSON null decodes to a userdata).
local function next_href(body)
  local links = type(body._links) == "table" and body._links or nil
  local n = links and links.next
  local href = type(n) == "table" and n.href or n
  if type(href) == "string" and href ~= "" then return href end
  return nil
end

-- offset and limit of a request: from the URL it followed, else from its query
local function offset_limit(req)
  local q = req.query or {}
  local offset, limit = tonumber(q.offset), tonumber(q.limit)
  if req.url then
    offset = tonumber(req.url:match("[?&]offset=(%d+)")) or offset
    limit = tonumber(req.url:match("[?&]limit=(%d+)")) or limit
  end
  return offset or 0, limit
end


-- The count of an envelope, when it is a number (a count of another type is ignored).
local function number_or_nil(v)
  if type(v) == "number" and v == v then return v end
  return nil
end

local function meta_count(body)
  local meta = type(body.meta) == "table" and body.meta or nil
  return number_or_nil(meta and meta.count) or number_or_nil(body.count)
end

-- `items(body)` gives the list of the envelope, or nil when it has none; `key` names the
-- field(s) the list is in, for the message and the check of an empty one (Client:page).
styles.page = {
  key = "results",
  first = function(query, size)
    if size and query.page_size == nil then query.page_size = size end
    return query
  end,
  items = function(body) return body.results end,
  count = meta_count,
  next = function(body)
    local href = next_href(body)
    return href and { url = href } or nil
  end,
}

styles.offset = {
  key = { "results", "data" },
  first = function(query, size)
    if size and query.limit == nil then query.limit = size end
    return query
  end,
  items = function(body)
    if body.results ~= nil then return body.results end
    return body.data
  end,
  count = function(body) return meta_count(body) or number_or_nil(body.total) end,
  -- offset paging: follow a next link when there is one, else ask for the next offset
  next = function(body, req, got)
    local href = next_href(body)
    if href then return { url = href } end
    local offset, limit = offset_limit(req)
    limit = limit or got
    if got == 0 or got < limit then return nil end
    local count = styles.offset.count(body)
    offset = offset + got
    if type(count) == "number" and offset >= count then return nil end
    local nq = {}
    for k, v in pairs(req.query or {}) do nq[k] = v end
    nq.offset, nq.limit = offset, limit
    return { query = nq }
  end,
}
M.styles = styles

-- The envelope's list, checked: nil and a message when the body is not an envelope holding an
-- array of objects. An empty Lua table is `[]` or `{}` in the text (the decoder makes both the
-- same), so for an empty list the raw text tells which.
local function envelope_items(style, body, raw)
  local keys = style.key
  local names = type(keys) == "table" and table.concat(keys, '" or "') or keys
  if type(body) ~= "table" or (next(body) ~= nil and #body > 0) then
    return nil, ("expected a JSON object holding a list%s, got %s"):format(
      names and (' in "%s"'):format(names) or "",
      type(body) == "table" and "an array" or type(body) == "boolean" and "an empty or boolean answer"
        or "a " .. type(body))
  end
  local items = style.items(body)
  if items == nil then
    return nil, ("expected a JSON object holding a list%s; the answer has none"):format(
      names and (' in "%s"'):format(names) or "")
  end
  if type(items) ~= "table" then
    return nil, ('the list%s is a %s, not an array'):format(
      names and (' "%s"'):format(names) or "", type(items))
  end
  local n = #items
  if n == 0 then
    if next(items) ~= nil then
      return nil, ("the list%s is an object, not an array"):format(
        names and (' "%s"'):format(names) or "")
    end
    if keys and type(raw) == "string" then
      local found = false
      for _, k in ipairs(type(keys) == "table" and keys or { keys }) do
        if raw:find('"' .. k .. '"%s*:%s*%[') then found = true end
      end
      if not found then
        return nil, ("the list%s is an object, not an array"):format(
          names and (' "%s"'):format(names) or "")
      end
    end
  end
  for i = 1, n do
    if type(items[i]) ~= "table" then
      return nil, ("item %d of the list is a %s, not an object"):format(i, type(items[i]))
    end
  end
  return items
end

--- Fetch one page. Returns a Page (array of objects with `.count` and `.next`) or nil, err.
-- `spec`: `{style=, class=, req=}`; `req.query` is not modified. An answer that is not an
-- envelope holding an array of objects (`{"results": 5}`, `{"results": {}}`, `[]`,
-- `{"results": [1, 2]}`) is an error of kind `"decode"`.
-- @treturn[1] Page
-- @return[2] nil
-- @treturn[2] cohort.Error
function Client:page(spec, req)
  local style = styles[spec.style]
  if not req.compress then -- a list: worth compressing (a copy; the caller's table is kept)
    local c = {}
    for k, v in pairs(req) do c[k] = v end
    c.compress, req = true, c
  end
  local body, result = self:send(req)
  if body == nil then return nil, result end
  local items, why = envelope_items(style, body, result and result.body)
  if items == nil then
    return nil, Error.new { kind = "decode", platform = self.platform, attempts = 1,
      status = result and result.status, title = "Not a list", message = why,
      method = req.method or "GET", url = result and result.url }
  end
  local page = setmetatable({ class = spec.class, count = style.count(body) }, Page)
  for i = 1, #items do page[i] = self:wrap(spec.class, items[i]) end
  local nxt = style.next(body, req, #items)
  if nxt then
    page.next = nxt.url or true
    page._next = nxt
  end
  return page
end

--- Iterate every item of every page, lazily, following `next` links.
-- A cycle guard stops at a `next` already visited — unless the server's count says items are
-- still missing, in which case (page-number paging) the next page number is asked for directly;
-- an item repeated from the page before (pages overlapping) is dropped; a 404 on a page after the first means the end; a `next` link to
-- another origin is refused (credentials never leave the API's host). Errors are raised (the
-- cohort.Error object), since nil ends a loop.
function Client:iterate(spec, req, on_page)
  local function key_of(r)
    return r.url or core.build_url { base = self.base_url, path = r.path, ids = r.ids,
      query = r.query }
  end
  local function derive(r, fields)
    local d = { method = req.method, base = req.base, path = req.path, ids = req.ids,
      headers = req.headers, timeout = req.timeout, query = req.query, retries = req.retries,
      idempotent = req.idempotent, compress = true }
    for k, v in pairs(fields) do d[k] = v end
    return d
  end
  -- Duplicates only come from items shifting across a page boundary, so the ids of this page
  -- and the one before are enough: memory stays flat however many pages there are.
  local seen_urls, seen_ids, prev_ids = { [key_of(req)] = true }, {}, {}
  local current, page, i, pages, unique = req, nil, 0, 0, 0
  local page_no = tonumber(req.query and req.query.page) or 1
  return function()
    while true do
      if page == nil then
        if current == nil then return nil end
        local p, err = self:page(spec, current)
        pages, current = pages + 1, nil
        if p == nil then
          if pages > 1 and err.kind == "http" and err.status == 404 then return nil end
          error(err, 0)
        end
        page, i = p, 0
        prev_ids, seen_ids = seen_ids, {}
        if on_page then on_page(p) end
        local nxt = p._next
        if nxt and #p > 0 then
          local r = derive(req, { url = nxt.url, query = nxt.query or req.query })
          if seen_urls[key_of(r)] and spec.style == "page" and p.count
              and unique + #p < p.count then
            -- the link repeats a page although items are missing: ask for the next number
            local q = {}
            for k, v in pairs(req.query or {}) do q[k] = v end
            q.page = page_no + 1
            r = derive(req, { query = q })
          end
          local key = key_of(r)
          if not seen_urls[key] then
            if r.url and not M.same_origin(self.base_url, r.url) then
              error(Error.new { kind = "decode", platform = self.platform, attempts = 1,
                title = "Bad next link", url = r.url,
                message = "the next-page link leaves the API's origin; refusing to follow it" }, 0)
            end
            seen_urls[key] = true
            current = r
            page_no = tonumber(r.url and r.url:match("[?&]page=(%d+)")) or
              tonumber(r.query and r.query.page) or page_no + 1
          end
        end
      end
      i = i + 1
      local item = page[i]
      if item == nil then
        page = nil
      else
        local id = type(item) == "table" and item.id or nil
        if id == nil or not (seen_ids[id] or prev_ids[id]) then
          if id ~= nil then seen_ids[id] = true end
          unique = unique + 1
          return item
        end
      end
    end
  end
end

--- Every item of every page in one array (or nil, err).
-- A progress bar on stderr (when it is a terminal, after half a second, and unless the call or
-- the client says `progress = false`) counts the items against the server's total.
function Client:collect(spec, req)
  local out = {}
  local enabled = req.progress
  if enabled == nil then enabled = self.progress end
  local bar = require("cohort.prompt.progress").new { label = spec.class or "items", enabled = enabled,
    delay = 0.5 }
  -- the iterator is called directly, not by `for`, and under async.pcall: on plain Lua 5.1 a
  -- task cannot yield from inside a for-in iterator or a pcall
  local ok, err = async.pcall(function()
    local it = self:iterate(spec, req, function(page)
      if page.count and not bar.total then bar:set_total(page.count) end
    end)
    local item = it()
    while item ~= nil do
      out[#out + 1] = item
      bar:add(1)
      item = it()
    end
  end)
  bar:finish()
  if not ok then
    if Error.is(err) then return nil, err end
    error(err, 0)
  end
  return out
end

--- Same scheme, host and port?
function M.same_origin(a, b)
  local function origin(u) return (u:match("^(%a[%w+.-]*://[^/?#]*)") or ""):lower() end
  return origin(a) ~= "" and origin(a) == origin(b)
end

return M
