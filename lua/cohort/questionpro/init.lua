--- QuestionPro: the client and its resources.
--
--     local q = cohort.questionpro{ api_key = os.getenv("QUESTIONPRO_API_KEY"), datacenter = "eu" }
--
-- The key is sent in the `api-key` header. `auth = "query"` sends the legacy `?apiKey=`
-- parameter instead (retired by QuestionPro on 2024-03-31; only for old accounts); cohort then
-- redacts it from every URL it shows, including the `resourceUrl` that error bodies echo.
-- @module cohort.questionpro
local client_mod = require "cohort.client"
local resource = require "cohort.resource"
local util = require "cohort.util"

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

local OPTIONS = { api_key = true, datacenter = true, base_url = true, auth = true, timeout = true,
  connect_timeout = true, retries = true, ca_file = true, max_size = true, page_size = true,
  insecure = true }

--- Make a QuestionPro client.
-- @tparam[opt] table opts `api_key` (default `$QUESTIONPRO_API_KEY`), `datacenter` (one of
--   us, eu, ca, sg, au, ae, sa, ksa; default `$QUESTIONPRO_DATACENTER` or us), `base_url`
--   (overrides the data centre; default `$QUESTIONPRO_URL`; the `/a/api/v2` prefix is added),
--   `auth` (`"header"`, the default, or `"query"`), `timeout`, `connect_timeout`, `ca_file`,
--   `max_size`, `page_size`, `insecure`.
-- @treturn Client
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
  local base = opts.base_url or os.getenv("QUESTIONPRO_URL")
  if base == "" then base = nil end
  base = client_mod.check_base_url(label, base or M.DATACENTERS[dc], opts.insecure)
  if not base:find(M.PREFIX, 1, true) then base = base .. M.PREFIX end
  local c = client_mod.new {
    platform = "questionpro", name = "questionpro", base_url = base,
    auth = auth == "query" and "query" or "api-key", secret = key,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, ca_file = opts.ca_file,
    max_size = opts.max_size, page_size = opts.page_size,
  }
  c.datacenter = opts.base_url and nil or dc
  resource.attach(c, (require "cohort.questionpro.operations"))
  return c
end

return M
