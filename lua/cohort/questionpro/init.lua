--- QuestionPro: the client and its resources.
--
--     local q = cohort.questionpro{ api_key = os.getenv("QUESTIONPRO_API_KEY"), datacenter = "eu" }
--     for resp in q.responses:each(7654321) do print(resp, resp:answer("Q1")) end
--
-- The key is sent in the `api-key` header. `auth = "query"` sends the legacy `?apiKey=`
-- parameter instead (retired by QuestionPro on 2024-03-31; only for old accounts); cohort then
-- redacts it from every URL it shows, including the `resourceUrl` that error bodies echo
-- (`err.resource_url`).
--
-- Ids: QuestionPro's ids are integers; every method takes them as integers (`7654321`) or as
-- digit strings (`"7654321"`). Anything else raises at once.
--
-- Errors: besides the common fields of a `cohort.Error` (`status`, `code` = QuestionPro's
-- numeric `id`, `title` = its `name`, `message`, `resource_url`, `docs`), an error returned by a
-- QuestionPro client carries `err.reason` (see `M.reason`) and `err.rate_limited` (a boolean).
-- The mapping looks at the HTTP status first and QuestionPro's id second, because id 1013
-- means "no access" with status 403 and "API call limit exceeded" with status 429.
-- @module cohort.questionpro
local compat = require "cohort.compat"
local client_mod = require "cohort.client"
local Error = require "cohort.error"
local resource = require "cohort.resource"
local util = require "cohort.util"
local responses = require "cohort.questionpro.responses"

local M = {}

--- Hosts by data centre.
M.DATACENTERS = {
  us = "https://api.questionpro.com", eu = "https://api.questionpro.eu",
  ca = "https://api.questionpro.ca", sg = "https://api.questionpro.sg",
  au = "https://api.questionpro.au", ae = "https://api.questionpro.ae",
  sa = "https://api.surveyanalytics.com", ksa = "https://api.questionprosa.com",
}

--- The path prefix of the v2 API.
M.PREFIX = "/a/api/v2"

--- The server's page size when `perPage` is not given, and the largest it accepts.
M.DEFAULT_PER_PAGE = 100
M.MAX_PER_PAGE = 1000

local OPTIONS = { api_key = true, datacenter = true, base_url = true, auth = true, timeout = true,
  connect_timeout = true, retries = true, ca_file = true, max_size = true, page_size = true,
  insecure = true, time_zones = true, max_connections = true, retry_base = true,
  retry_cap = true, retry_budget = true, debug = true, progress = true }

-- ------------------------------------------------------------------ paging style "qp"

-- QuestionPro's lists: {"response": [...], "pagination": {"perPage", "totalItems",
-- "currentPage", "totalPages", "links": {...}}} over page (from 1) and perPage (default 100).
-- The next page is computed (page + 1) rather than read from links.next, so no link ever
-- carries the key; the iteration goes on while the server says there are more pages, or — when
-- it gives no pagination — while pages come back full (never stopping at the default 100).
local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

client_mod.styles.qp = {
  first = function(query, size)
    if size and query.perPage == nil then query.perPage = size end
    return query
  end,
  items = function(body)
    local r = body.response
    if type(r) == "table" then return r end
    return {}
  end,
  count = function(body)
    local p = body.pagination
    return type(p) == "table" and compat.tointeger(tonumber(p.totalItems)) or nil
  end,
  next = function(body, req, got)
    if got == 0 then return nil end
    local p = type(body.pagination) == "table" and body.pagination or {}
    local q = req.query or {}
    local current = tonumber(p.currentPage) or tonumber(q.page) or 1
    local total = tonumber(p.totalPages)
    if total then
      if current >= total then return nil end
    else
      local per = tonumber(p.perPage) or tonumber(q.perPage) or M.DEFAULT_PER_PAGE
      if got < per then return nil end
    end
    local nq = copy(q)
    nq.page = compat.tointeger(current + 1)
    return { query = nq }
  end,
}

-- ------------------------------------------------------------------ errors

--- The reasons `M.reason` gives, by HTTP status (then QuestionPro id for 400 and 403).
M.REASONS = {
  rate_limited = "429, id 1013: more than 300 calls a minute for the key (2,400 for the organisation)",
  unauthorized = "401, id 1010: the API key is wrong",
  forbidden = "403 (ids 1011, 1013): the key's user may not access this resource",
  not_found = "404, id 1040: no such survey, response or user",
  invalid_json = "400, id 1001: the request body is not JSON",
  invalid_body = "400, id 1002: the request body does not have the expected schema",
  invalid_parameters = "400, ids 1000 and 1003: invalid URL parameters",
  bad_request = "another 400",
  server_error = "5xx",
  not_json = "the server answered something that is not JSON (an HTML page from a proxy, a "
    .. "login page of the wrong data centre)",
  transport = "the request did not complete (connection, TLS, DNS)",
  timeout = "the request timed out",
}

--- Classify an error of a QuestionPro call: HTTP status first, then QuestionPro's id.
-- @tparam cohort.Error err
-- @treturn string one of the keys of `M.REASONS` (`"rate_limited"`, `"unauthorized"`,
--   `"forbidden"`, `"not_found"`, `"invalid_json"`, `"invalid_body"`, `"invalid_parameters"`,
--   `"bad_request"`, `"server_error"`, `"not_json"`, `"transport"`, `"timeout"`), or `"other"`
function M.reason(err)
  if type(err) ~= "table" then return "other" end
  local status, code = err.status, tonumber(err.code)
  if err.kind == "timeout" then return "timeout" end
  if err.kind == "transport" then return "transport" end
  if status == 429 then return "rate_limited" end
  if status == 401 then return "unauthorized" end
  if status == 403 then return "forbidden" end
  if status == 404 then return "not_found" end
  if err.body_kind == "decode" or err.kind == "decode" then return "not_json" end
  if status == 400 then
    if code == 1001 then return "invalid_json" end
    if code == 1002 then return "invalid_body" end
    if code == 1000 or code == 1003 then return "invalid_parameters" end
    return "bad_request"
  end
  if type(status) == "number" and status >= 500 then return "server_error" end
  if code == 1013 then return "forbidden" end
  return "other"
end

--- Is this error QuestionPro's API call limit (HTTP 429, id 1013)? A 403 with the same id 1013
-- is not: that one means the user has no access.
-- @tparam cohort.Error err
-- @treturn boolean
function M.is_rate_limited(err)
  return M.reason(err) == "rate_limited"
end

local function annotate(err)
  err.reason = M.reason(err)
  err.rate_limited = err.reason == "rate_limited"
  return err
end

-- The client's send with QuestionPro's errors annotated (`reason`, `rate_limited`); the
-- transport (retries, non-blocking tasks) stays the shared client's.
local function qp_send(self, req)
  local value, result = client_mod.Client.send(self, req)
  if value == nil then
    result.method = result.method or req.method
    return nil, annotate(result)
  end
  return value, result
end

-- The client's decode, with a clear error when a 2xx answer is an HTML page (a login page, as
-- when the data centre is wrong) rather than JSON.
local function qp_decode(self, result)
  local raw = result.body
  if type(raw) == "string" and raw:match("^%s*<") then
    local ctype = result.headers and result.headers["content-type"] or "text/html"
    -- the page's title as the core gives it: shortened, and with the key masked (a login page
    -- may echo what it was sent)
    local title = self._session:not_json(result.status or 200, raw, ctype).message
      :match('%(title "(.*)"%)$')
    return nil, Error.new {
      kind = "decode", status = result.status, platform = "questionpro", attempts = 1,
      url = result.url, title = "Not JSON", body_kind = "decode",
      message = ("QuestionPro answered an HTML page (%s%s) instead of JSON; check the data "
        .. "centre, base_url and API key"):format(ctype,
        title and (", title \"" .. title .. "\"") or ""),
    }
  end
  return client_mod.Client.decode(self, result)
end

-- ------------------------------------------------------------------ methods from rows

--- Check a QuestionPro id (an integer, or a string of digits) and return it as a string.
-- @tparam string label the method, for the message
-- @tparam string field the argument's name
-- @param v the value
-- @treturn string
function M.check_id(label, field, v)
  if compat.math_type(v) == "float" and v == math.floor(v) and v > 0 and v < 2 ^ 53 then
    v = compat.tointeger(v)
  end
  if compat.math_type(v) == "integer" and v > 0 then return ("%d"):format(v) end
  if type(v) == "string" and v:match("^%d+$") and #v <= 19 and v:match("[1-9]") then return v end
  util.misuse(label, "%s must be a positive integer id such as 7654321 (got %s)", field,
    type(v) == "string" and ("%q"):format(v) or tostring(v))
end

-- Iterate over every item of every page of a POST request, sending the body with each page.
local function iterate_post(c, spec, req)
  local current, page, i = req, nil, 0
  return function()
    while true do
      if page == nil then
        if current == nil then return nil end
        local p, err = c:page(spec, current)
        if p == nil then error(err, 0) end
        page, i = p, 0
        local nxt = p._next
        if nxt and #p > 0 then
          current = { method = req.method, path = req.path, ids = req.ids, query = nxt.query,
            body = req.body, headers = req.headers, timeout = req.timeout }
        else
          current = nil
        end
      end
      i = i + 1
      local item = page[i]
      if item == nil then page = nil else return item end
    end
  end
end

local function collect(iter_fn)
  local out = {}
  local ok, err = pcall(function()
    for item in iter_fn() do out[#out + 1] = item end
  end)
  if not ok then
    if Error.is(err) then return nil, err end
    error(err, 0)
  end
  return out
end

local create_many

--- Post many responses to a survey, `concurrency` at a time (default 8, at most 64). Every
-- response is checked before the first is sent.
--
--     local saved, errors = q.responses:create_many(7654321, trials, { concurrency = 8 })
--
-- @function q.responses:create_many
-- @tparam integer|string survey_id
-- @tparam table list an array of response bodies, as for `create`
-- @tparam[opt] table opts `concurrency`, `progress`
-- @treturn table the created responses in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
create_many = function(res, survey_id, list, opts)
  local label = "questionpro.responses:create_many()"
  if type(list) ~= "table" then util.misuse(label, "expected an array of responses") end
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "options must be a table") end
  util.check_keys(label, opts, { concurrency = true, progress = true })
  local row = require("cohort.questionpro.operations").CreateResponse
  for i, body in ipairs(list) do
    local ok, err = pcall(row._build, survey_id, body)
    if not ok then
      util.misuse(label, "item %d: %s", i, (tostring(err):gsub("^.-cohort: .-%(%): ", "")))
    end
  end
  local client = res._client
  return client:map(list, function(body) return res:create(survey_id, body) end,
    { concurrency = opts.concurrency, progress = opts.progress, label = label })
end

local function attach(c, ops)
  for op_id, row in pairs(ops) do
    row.id = op_id
    row._placeholders = resource.placeholders(row[2])
    row._query = resource.set_of(row.query)
    row._body = resource.set_of(row.body)
    local res = resource.resource(c, row[3])
    local method, lname = row[1], row[4]
    local label = ("questionpro.%s:%s()"):format(row[3], lname)
    local names = row._placeholders

    local function build(...)
      local n = select("#", ...)
      local args = compat.pack(...)
      for i, name in ipairs(names) do args[i] = M.check_id(label, name, args[i]) end
      local extra = args[#names + 1]
      if row.raw_string and type(extra) == "string" then
        if n > #names + 1 then util.misuse(label, "too many arguments") end
        return { method = method, path = row[2], ids = { compat.unpack(args, 1, #names) },
          body = extra }
      end
      local req = resource.build(c, row, label, compat.unpack(args, 1, math.max(n, #names)))
      if row.split then
        local body, query = row.split(label, req.body or {}, c)
        req.body, req.query = body, query
      end
      return req
    end
    row._build = build

    if row.paging then
      local spec = { style = row.paging, class = row.class }
      local page_name, each_name, all_name = lname, "each_" .. lname, "all_" .. lname
      if lname == "list" then each_name, all_name = "each", "all" end
      res[page_name] = function(_, ...) return c:page(spec, build(...)) end
      if method == "GET" then
        res[each_name] = function(_, ...) return c:iterate(spec, build(...)) end
        res[all_name] = function(_, ...) return c:collect(spec, build(...)) end
      else
        res[each_name] = function(_, ...) return iterate_post(c, spec, build(...)) end
        res[all_name] = function(_, ...)
          local req = build(...)
          return collect(function() return iterate_post(c, spec, req) end)
        end
      end
    else
      res[lname] = function(_, ...)
        local value, err = c:send(build(...))
        if value == nil then return nil, err end
        if row.returns_true then return true end
        if row.unwrap and type(value) == "table" and value.response ~= nil then
          value = value.response
        end
        if row.class then return c:wrap(row.class, value) end
        return value
      end
    end
  end
end

-- Define a class whose metatable also answers computed fields (`getters`) that are never
-- stored in the object.
local function define(c, name, def)
  local mt = c:define_class(name, def)
  if def.getters then
    local methods = mt.__index
    local getters = def.getters
    mt.__index = function(obj, k)
      local m = methods[k]
      if m ~= nil then return m end
      local g = getters[k]
      if g then return g(c, obj) end
      return nil
    end
  end
end

--- Make a QuestionPro client.
-- @tparam[opt] table opts `api_key` (default `$QUESTIONPRO_API_KEY`; at least 8 characters, no
--   control characters), `datacenter` (one of us, eu, ca, sg, au, ae, sa, ksa; default
--   `$QUESTIONPRO_DATACENTER` or us), `base_url` (default `$QUESTIONPRO_URL`; an explicit
--   `base_url` or a set `$QUESTIONPRO_URL` always wins over `datacenter`, so a rehearsal against
--   a sandbox never reaches the live service; the `/a/api/v2` prefix is added), `auth`
--   (`"header"`, the default, or `"query"` for the
--   retired `?apiKey=`), `page_size` (the `perPage` of lists, 1..1000; the server's default is
--   100), `time_zones` (abbreviation → offset such as `{ IST = "+05:30" }`, to decide ambiguous
--   zone abbreviations in timestamps), `timeout`, `connect_timeout`, `ca_file`, `max_size`,
--   `insecure`, `retries` (retries after the first attempt, default 3; 0 turns retrying off),
--   `retry_base`, `retry_cap`, `retry_budget`, `max_connections`, `debug`, `progress` (as for
--   Prolific).
-- @treturn Client with resources `surveys` and `responses`
function M.new(opts)
  local label = "cohort.questionpro()"
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "expected a table of options") end
  util.check_keys(label, opts, OPTIONS)
  local key = opts.api_key or os.getenv("QUESTIONPRO_API_KEY")
  if type(key) ~= "string" or key == "" then
    util.misuse(label, "no api_key: pass api_key = ... or set QUESTIONPRO_API_KEY")
  end
  local dc = opts.datacenter or os.getenv("QUESTIONPRO_DATACENTER") or "us"
  if not M.DATACENTERS[dc] then
    local names = {}
    for k in pairs(M.DATACENTERS) do names[#names + 1] = k end
    table.sort(names)
    util.misuse(label, "datacenter %q is not one of %s", tostring(dc), table.concat(names, ", "))
  end
  local auth = opts.auth or "header"
  if auth ~= "header" and auth ~= "query" then
    util.misuse(label, "auth must be \"header\" or \"query\" (got %s)", tostring(auth))
  end
  if opts.page_size ~= nil and (compat.math_type(opts.page_size) ~= "integer" or opts.page_size < 1
      or opts.page_size > M.MAX_PER_PAGE) then
    util.misuse(label, "page_size must be an integer from 1 to %d", M.MAX_PER_PAGE)
  end
  local zones = responses.check_zones(label, opts.time_zones)
  -- an explicit base_url, then $QUESTIONPRO_URL, then the data centre: a URL someone set is
  -- never dropped silently for the live service
  local base = opts.base_url
  if base == nil or base == "" then base = os.getenv("QUESTIONPRO_URL") end
  if base == "" then base = nil end
  base = client_mod.check_base_url(label, base or M.DATACENTERS[dc], opts.insecure)
  if not base:find(M.PREFIX, 1, true) then base = base .. M.PREFIX end
  local c = client_mod.new {
    label = label,
    platform = "questionpro", name = "questionpro", base_url = base,
    auth = auth == "query" and "query" or "api-key", secret = key,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, ca_file = opts.ca_file,
    max_size = opts.max_size, page_size = opts.page_size, retries = opts.retries,
    max_connections = opts.max_connections, retry_base = opts.retry_base,
    retry_cap = opts.retry_cap, retry_budget = opts.retry_budget, debug = opts.debug,
    progress = opts.progress,
  }
  c.datacenter = (base == M.DATACENTERS[dc] .. M.PREFIX) and dc or nil
  c.auth = auth
  c.time_zones = zones
  c.send = qp_send
  c.decode = qp_decode
  local ops = require "cohort.questionpro.operations"
  for _, name in ipairs(ops.FAMILIES) do
    local fam = require("cohort.questionpro." .. name)
    for cname, def in pairs(fam.classes or {}) do define(c, cname, def) end
  end
  attach(c, ops)
  c.responses.create_many = create_many
  return c
end

return M
