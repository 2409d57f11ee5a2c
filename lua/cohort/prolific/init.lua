--- Prolific: the client and its resources.
--
--     local cohort = require "cohort"
--     local p = cohort.prolific{ token = os.getenv("PROLIFIC_TOKEN") }
--     print(p.users:me())
--
-- Every method comes from the rows of the family modules (`cohort.prolific.<family>`) through
-- `cohort.resource`, checked against `cohort.schema.prolific`; the journaled bulk jobs are
-- attached by `cohort.workbench.bulk`.
-- @module cohort.prolific
local compat = require "cohort.compat"
local client_mod = require "cohort.client"
local resource = require "cohort.resource"
local util = require "cohort.util"

local M = {}

--- The default base URL.
M.DEFAULT_URL = "https://api.prolific.com"

--- The resource family modules, in the order the guide and the operations table list them.
M.FAMILIES = { "users", "submissions", "studies", "bonuses", "messages", "workspaces",
  "surveys", "collections", "hooks", "filters", "filter_sets", "groups", "invitations" }

local OPTIONS = { token = true, base_url = true, timeout = true, connect_timeout = true,
  retries = true, ca_file = true, max_size = true, page_size = true, max_connections = true,
  retry_base = true, retry_cap = true, retry_budget = true, debug = true, progress = true, insecure = true, spend_cap = true }

local platform

--- The compiled rows of Prolific (`cohort.resource.platform`), made once.
-- @treturn table
function M.platform()
  if platform == nil then
    local families = {}
    for i, name in ipairs(M.FAMILIES) do families[i] = require("cohort.prolific." .. name) end
    platform = resource.platform { name = "prolific", var = "p", schema = "prolific",
      families = families }
    require("cohort.workbench.bulk").declare(platform)
  end
  return platform
end

--- Make a Prolific client.
-- @tparam[opt] table opts `token` (default `$PROLIFIC_TOKEN`), `base_url` (default
--   `$PROLIFIC_URL` or `https://api.prolific.com`), `timeout` (total seconds per request,
--   default 30), `connect_timeout` (default 10), `ca_file`, `max_size` (bytes, default 64 MiB),
--   `page_size` (items per page when listing; the server's default is 20), `max_connections`
--   (parallel connections to the API, default 16; further requests queue), `insecure` (allow
--   `http://` to a host other than loopback), `retries`, `retry_base`, `retry_cap` (seconds of
--   back-off: full jitter up to min(cap, base·2^n); defaults 0.25 and 8), `retry_budget`
--   (seconds from the first attempt after which no retry starts; default 60), `spend_cap`
--   (the most this client may spend in this process, in MINOR units with Prolific's fees and
--   VAT: bonus payments and studies published; see `cohort.workbench.money`; default none).
-- @treturn Client with resources `users`, `submissions`, …, and `money` (its money guard)
function M.new(opts)
  local label = "cohort.prolific()"
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "expected a table of options") end
  util.check_keys(label, opts, OPTIONS)
  local token = opts.token or os.getenv("PROLIFIC_TOKEN")
  if type(token) ~= "string" or token == "" then
    util.misuse(label, "no token: pass token = ... or set PROLIFIC_TOKEN")
  end
  local base = opts.base_url or os.getenv("PROLIFIC_URL")
  if base == "" then base = nil end
  base = client_mod.check_base_url(label, base or M.DEFAULT_URL, opts.insecure)
  local money = require "cohort.workbench.money"
  local cap = money.check_cap(label, opts.spend_cap)
  if opts.page_size ~= nil and (compat.math_type(opts.page_size) ~= "integer" or opts.page_size < 1) then
    util.misuse(label, "page_size must be a positive integer")
  end
  local c = client_mod.new {
    label = label,
    platform = "prolific", name = "prolific", var = "p", base_url = base, auth = "token", secret = token,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, ca_file = opts.ca_file,
    max_size = opts.max_size, page_size = opts.page_size, max_connections = opts.max_connections,
    retries = opts.retries, retry_base = opts.retry_base, retry_cap = opts.retry_cap,
    retry_budget = opts.retry_budget, debug = opts.debug, progress = opts.progress,
  }
  local P = M.platform()
  resource.attach(c, P)
  require("cohort.workbench.bulk").attach(c, P)
  money.attach(c, cap)
  return c
end

return M
