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

-- ------------------------------------------------------------------ rows

-- Path ids: integers, or strings of digits (checked by the schema as positive integers).
local function id_in(v)
  if type(v) == "string" and v:match("^%d+$") and #v <= 18 then return compat.tointeger(tonumber(v)) end
  if compat.math_type(v) == "float" and v == math.floor(v) and v > 0 and v < 2 ^ 53 then
    return compat.tointeger(v)
  end
  return v
end

local function id_out(v) return ("%d"):format(v) end

local platform

--- The compiled rows of QuestionPro (`cohort.resource.platform`), made once.
-- @treturn table
function M.platform()
  if platform == nil then
    platform = resource.platform { name = "questionpro", var = "q", schema = "questionpro",
      families = { require "cohort.questionpro.surveys", responses },
      id_in = id_in, id_out = id_out, unwrap = "response" }
    require("cohort.workbench.bulk").declare(platform)
  end
  return platform
end

--- Make a QuestionPro client.
-- @tparam[opt] table opts `api_key` (default `$QUESTIONPRO_API_KEY`; at least 8 characters, no
--   control characters), `datacenter` (one of us, eu, ca, sg, au, ae, sa, ksa; default
--   `$QUESTIONPRO_DATACENTER` or us), `base_url` (default `$QUESTIONPRO_URL`; an explicit
--   `base_url` or a set `$QUESTIONPRO_URL` always wins over `datacenter`, so a rehearsal against
--   a sandbox never reaches the live service; the `/a/api/v2` prefix is added), `auth`
--   (`"header"`, the default, or `"query"` for the retired `?apiKey=`), `page_size` (the
--   `perPage` of lists, 1..1000; the server's default is 100), `time_zones` (abbreviation →
--   offset such as `{ IST = "+05:30" }`, to decide ambiguous zone abbreviations in timestamps),
--   `timeout`, `connect_timeout`, `ca_file`, `max_size`, `insecure`, `retries` (retries after
--   the first attempt, default 3; 0 turns retrying off), `retry_base`, `retry_cap`,
--   `retry_budget`, `max_connections`, `debug`, `progress` (as for Prolific).
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
  local base = opts.base_url
  -- an explicit base_url, then $QUESTIONPRO_URL, then the data centre: a URL someone set is
  -- never dropped silently for the live service
  if base == nil or base == "" then base = os.getenv("QUESTIONPRO_URL") end
  if base == "" then base = nil end
  base = client_mod.check_base_url(label, base or M.DATACENTERS[dc], opts.insecure)
  if not base:find(M.PREFIX, 1, true) then base = base .. M.PREFIX end
  local c = client_mod.new {
    label = label,
    platform = "questionpro", name = "questionpro", var = "q", base_url = base,
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
  local P = M.platform()
  resource.attach(c, P)
  require("cohort.workbench.bulk").attach(c, P)
  return c
end

return M
