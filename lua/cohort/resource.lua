--- Resource methods generated from a declaration table of operations.
--
-- A platform keeps one operations table: operationId → `{ METHOD, "/path/{id}/", "resource",
-- "lua_method", class = "Submission", paging = "page"|"offset", query = {allowed keys},
-- body = {allowed keys}, required = {keys}, prepare = fn }`. From each row this module makes a
-- method on `client.<resource>`:
--
-- * path placeholders become the first arguments, in order, each checked as a well-formed id;
-- * the next argument is a table: the query of a GET/DELETE, the JSON body otherwise; its keys
--   are checked against `query`/`body` when the row lists them, and `required` keys must be
--   present; `prepare(label, args)` may validate further and return the table to send;
-- * an optional third table holds per-call options: `retries`, `retry_unsafe`, `timeout`;
--   a row marked `idempotent = true` (a POST the API documents as safe to repeat, such as a
--   transition) is retried like a GET;
-- * the answer is wrapped in the row's class; a `paging` row gives `list` (one Page), `each`
--   (an iterator over every item of every page) and `all` (an array of every item). A paging
--   row named `x` other than `list` gives `x`, `each_x` and `all_x`.
--
-- Hand-written methods of a resource family (validation-heavy verbs) are added on top.
-- @module cohort.resource
local compat = require "cohort.compat"
local util = require "cohort.util"

local M = {}

-- Per-call options, the table after the arguments: `retries` (retries after the first attempt,
-- 0 for none), `retry_unsafe`
-- (retry even though the operation is not safe to repeat — only when you know why),
-- `timeout` (seconds), `progress` (`all`: a bar on stderr when it is a terminal; false: none).
local CALL_OPTIONS = { retries = true, retry_unsafe = true, timeout = true, progress = true }

local Resource = { __name = "cohort.Resource" }
Resource.__index = Resource

function Resource:__tostring()
  local names = {}
  for k, v in pairs(self) do
    if type(v) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  return ("cohort resource %s.%s: %s"):format(self._platform, self._name,
    table.concat(names, ", "))
end

--- Path placeholder names of a template, in order.
function M.placeholders(path)
  local out = {}
  for name in path:gmatch("{([^}]*)}") do out[#out + 1] = name end
  return out
end

--- Make (or return) the resource table `name` on `client`.
function M.resource(client, name)
  local r = client[name]
  if r == nil then
    r = setmetatable({ _name = name, _platform = client.name, _client = client }, Resource)
    client[name] = r
  end
  return r
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- A set from a list (nil stays nil): the allowed keys of an operation row.
function M.set_of(list)
  if list == nil then return nil end
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

--- Build the request of one operation row from a call's arguments.
-- Returns the request table and the label used in error messages.
function M.build(client, row, label, ...)
  local method, path = row[1], row[2]
  local names = row._placeholders
  local nnames = #names
  local ids = {}
  local n = select("#", ...)
  for i = 1, nnames do
    ids[i] = util.check_id(label, names[i], (select(i, ...)))
  end
  local args, opts = select(nnames + 1, ...)
  if n > nnames + 2 then
    util.misuse(label, "too many arguments (expected %d id%s, an optional table and options)",
      #names, #names == 1 and "" or "s")
  end
  if opts ~= nil then
    if type(opts) ~= "table" then util.misuse(label, "options must be a table") end
    util.check_keys(label, opts, CALL_OPTIONS)
    local r, t = opts.retries, opts.timeout
    if r ~= nil and (compat.math_type(r) ~= "integer" or r < 0 or r > 100) then
      util.misuse(label, "retries must be an integer from 0 to 100, the retries after the first "
        .. "attempt (got %s)", type(r) == "string" and ("%q"):format(r) or tostring(r))
    end
    -- (the core's limit: 7 days; NaN fails every comparison)
    if t ~= nil and not (type(t) == "number" and t > 0 and t <= 604800) then
      util.misuse(label, "timeout must be a positive number of seconds (got %s)",
        type(t) == "string" and ("%q, a string"):format(t) or tostring(t))
    end
  end
  local query_only = method == "GET" or method == "DELETE"
  if args ~= nil and type(args) ~= "table" then
    util.misuse(label, "expected a table of %s, got %s",
      query_only and "query parameters" or "fields", type(args))
  end
  -- the request built for the core directly (`base` included), so `Client:send` need not copy
  -- it; a GET without arguments (the common `get(id)`) has no query table at all
  local req = { method = method, base = client.base_url, path = path, ids = ids,
    idempotent = row.idempotent }
  if opts then
    req.retries, req.timeout, req.progress = opts.retries, opts.timeout, opts.progress
    if opts.retry_unsafe then req.idempotent = true end
  end
  if args == nil and query_only and not (row.prepare or row.required or row.paging) then
    return req
  end
  args = copy(args)
  local allowed = query_only and row._query or row._body
  if allowed then util.check_keys(label, args, allowed) end
  for _, k in ipairs(row.required or {}) do
    if args[k] == nil then util.misuse(label, "field '%s' is required", k) end
  end
  if row.prepare then args = row.prepare(label, args, client) or args end
  if query_only then
    req.query = args
  elseif row.raw_body then
    req.body = args
  elseif next(args) ~= nil or method ~= "DELETE" then
    req.body = args
  end
  return req
end

--- Run one operation for many argument lists, `concurrency` at a time: every request is built
-- (and so checked) before the first is sent, so a misuse raises with nothing sent; then the
-- calls go out through `client:map`, results in input order with per-item errors.
-- @tparam table client the client whose `map` runs the calls
-- @tparam table row the operation row
-- @tparam string label the bulk method's name for misuse errors
-- @tparam table packs an array of argument lists (`{id, body}` …)
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table values (`n` = count; nil where an item failed)
-- @treturn table errors by index (`count` = how many failed)
function M.bulk(client, row, label, packs, opts)
  if type(packs) ~= "table" then util.misuse(label, "expected an array") end
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "options must be a table") end
  util.check_keys(label, opts, { concurrency = true, progress = true })
  local reqs = {}
  for i, pack in ipairs(packs) do
    local ok, req = pcall(M.build, client, row, label, compat.unpack(pack, 1, pack.n or #pack))
    if not ok then
      util.misuse(label, "item %d: %s", i, (tostring(req):gsub("^.-cohort: .-%(%): ", "")))
    end
    reqs[i] = req
  end
  return client:map(reqs, function(req)
    local value, err = client:send(req)
    if value == nil then return nil, err end
    return row.class and client:wrap(row.class, value) or value
  end, { concurrency = opts.concurrency, progress = opts.progress, label = label })
end

--- Attach the methods of every row of `ops` to `client`. `families` maps a resource name to its
-- hand-written part: `{ resource_methods = {name = fn(resource, ...)} }`; a hand-written method replaces
-- a generated one of the same name.
function M.attach(client, ops, families)
  for op_id, row in pairs(ops) do
    row.id = op_id
    row._placeholders = M.placeholders(row[2])
    row._query = M.set_of(row.query)
    row._body = M.set_of(row.body)
    local res = M.resource(client, row[3])
    local lname = row[4]
    local label = ("%s.%s:%s()"):format(client.name, row[3], lname)
    if row.paging then
      local spec = { style = row.paging, class = row.class }
      local page_name, each_name, all_name = lname, "each_" .. lname, "all_" .. lname
      if lname == "list" then each_name, all_name = "each", "all" end
      local function request(...)
        local req = M.build(client, row, label, ...)
        req.compress = true -- a list: worth compressing
        if client.page_size then
          local key = row.paging == "page" and "page_size" or "limit"
          if req.query[key] == nil then req.query[key] = client.page_size end
        end
        return req
      end
      res[page_name] = function(_, ...)
        return client:page(spec, request(...))
      end
      res[each_name] = function(_, ...)
        return client:iterate(spec, request(...))
      end
      res[all_name] = function(_, ...)
        return client:collect(spec, request(...))
      end
    else
      res[lname] = function(_, ...)
        local req = M.build(client, row, label, ...)
        local value, err = client:send(req)
        if value == nil then return nil, err end
        if row.class then return client:wrap(row.class, value) end
        return value
      end
    end
  end
  for name, fam in pairs(families or {}) do
    local res = M.resource(client, name)
    for mname, f in pairs(fam.resource_methods or {}) do res[mname] = f end
  end
end

return M
