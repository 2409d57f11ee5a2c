--- The one generator: resource methods and object verbs from rows, for both platforms, and
-- the registry that `help(x)` and `tools/ops_table.lua` read.
--
-- A platform (`cohort.prolific`, `cohort.questionpro`) gives its schema module
-- (`cohort.schema.<name>`) and its resource family modules; each family holds rows, validators
-- and classes. A row names an operation of the schema and says only what is Lua's:
--
--     { op = "TransitionSubmission", resource = "submissions", name = "transition",
--       class = "Submission",                      -- the answer's class
--       aliases = { category = "rejection_category" },  -- user's name → the API's
--       prepare = check_transition,                -- a validator: function(args, ctx)
--       idempotent = true,                         -- a POST safe to repeat (retried like a GET)
--       verbs = {                                  -- methods of objects (of `class`, or `on`)
--         approve = { fixed = { action = "APPROVE" } },
--         reject = { fixed = { action = "REJECT" },
--                    args = { message = "message", category = "rejection_category" } } } }
--
-- The method, path, path parameters, query parameters, body and success status come from the
-- schema, never from the row. From each row this module makes `client.<resource>:<name>(ids...,
-- args, opts)`:
--
-- * each path id is checked by its schema format (Prolific's ids are 24 hexadecimal digits);
-- * the keys of `args` are the query parameters and body fields (after `aliases`); each query
--   value is checked (type, enum, format) and converted for the URL, the body is checked with
--   `schema.check` (types, enums, required fields, nested items, id formats) and encoded with
--   `schema.encode` (empty arrays as `[]`); an operation without a body sends none and refuses
--   arguments;
-- * `opts`: `retries`, `retry_unsafe`, `timeout`, `progress`;
-- * a paging operation gives `list` (one Page), `each` (every item of every page, lazily) and
--   `all` (an array of every item) — `x`, `each_x`, `all_x` for a paging row named `x`.
--
-- Every check happens before the first byte is sent, and a misuse raises naming the method as
-- the user called it and the field as the user wrote it (`sub:reject(): message must ...`).
-- A method called with a dot instead of a colon raises and says so.
--
-- Verb fields: `fixed` (fields always sent), `args` (the verb's table: user's key → API
-- field), `optional` (the table may be left out), `arg` (a single positional argument becomes
-- this field), `rest` (the verb passes its arguments on: further path ids, then args, opts),
-- `defaults` (API field → the object's field, used when the caller gives none), `mode` (`"each"`
-- or `"all"` for a paging row; `"page"` by default), `on` (the class that gets the verb).
--
-- Further row fields: `returns` (function(value, result, client) → what the method returns),
-- `ids_from` (args fields that may stand for the path ids: `{study = ...}`), `list_arg` (an
-- array given as args becomes this field), `json_text` (args may be a JSON text), `raw`
-- (`{accept = "text/csv, ..."}`: the body text is returned as it came, unless JSON), `note`
-- (a line for help and the operations table).
-- @module cohort.resource
local compat = require "cohort.compat"
local core = require "cohort.core"
local schema = require "cohort.schema"
local paging = require "cohort.paging"
local util = require "cohort.util"

local M = {}

-- Per-call options, the table after the arguments: `retries` (retries after the first try),
-- `retry_unsafe` (retry even though the operation is not safe to repeat — only when you know
-- why), `timeout` (seconds), `progress` (`all`: a bar on stderr when it is a terminal; false:
-- none).
local CALL_OPTIONS = { retries = true, retry_unsafe = true, timeout = true, progress = true }

--- Compiled platforms by name: `{name, var, schema, rows, classes, entries, methods, ...}`.
-- `entries` is the registry: one entry per method, verb and helper (see `describe`).
M.registry = {}

-- function → its registry entry (weak: clients come and go)
local by_fn = setmetatable({}, { __mode = "k" })

--- The registry entry of a generated method, verb or helper.
-- @tparam function fn
-- @treturn ?table `{kind, label, call, op, http, summary, style, mode, class, returns, note}`
function M.entry_of(fn)
  return by_fn[fn]
end

--- Remember `fn` as the function of registry entry `e`.
-- @tparam function fn
-- @tparam table e
-- @treturn function fn
function M.register(fn, e)
  by_fn[fn] = e
  return fn
end

local Resource = { __name = "cohort.Resource" }
Resource.__index = Resource

function Resource:__tostring()
  local names = {}
  for k, v in pairs(self) do
    if type(v) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  return ("cohort resource %s.%s: %s"):format(self._platform, self._name, table.concat(names, ", "))
end

--- Make (or return) the resource table `name` on `client`.
-- @tparam Client client
-- @tparam string name
-- @treturn table
function M.resource(client, name)
  local r = rawget(client, name)
  if r == nil then
    r = setmetatable({ _name = name, _platform = client.name, _client = client }, Resource)
    client[name] = r
  end
  return r
end

local copy = util.copy

-- ------------------------------------------------------------------ signatures

-- The fields of a body schema, required ones first, for signatures.
local function body_fields(S, node)
  node = schema.resolve(S, node)
  local req, opt, seen = {}, {}, {}
  local function add(n)
    n = schema.resolve(S, n)
    local required = {}
    for _, k in ipairs(n.required or {}) do required[k] = true end
    for k, p in pairs(n.properties or {}) do
      if not seen[k] and not schema.resolve(S, p).read_only then
        seen[k] = true
        local list = required[k] and req or opt
        list[#list + 1] = k
      end
    end
  end
  if node.any_of then
    for _, a in ipairs(node.any_of) do add(a) end
  else
    add(node)
  end
  table.sort(req)
  table.sort(opt)
  for _, k in ipairs(opt) do req[#req + 1] = k end
  return req
end

local PAGING_PARAMS = { page = true, page_size = true, offset = true, limit = true, perPage = true }

local function query_fields(c)
  local out, tail = {}, {}
  for k in pairs(c.query) do
    if PAGING_PARAMS[k] then tail[#tail + 1] = k else out[#out + 1] = k end
  end
  table.sort(out)
  table.sort(tail)
  for _, k in ipairs(tail) do out[#out + 1] = k end
  return out
end

-- `{a, b, c, …}` of field names as the user writes them
local function field_list(names, shown, skip)
  local out = {}
  for _, k in ipairs(names) do
    if not (skip and skip[k]) then out[#out + 1] = shown[k] or k end
  end
  if #out > 6 then return "{" .. table.concat(out, ", ", 1, 5) .. ", …}" end
  return "{" .. table.concat(out, ", ") .. "}"
end

local function call_form(prefix, ids, fields)
  if #ids == 0 then
    if fields == nil then return prefix .. "()" end
    return prefix .. fields
  end
  local s = table.concat(ids, ", ")
  if fields then s = s .. ", " .. fields end
  return prefix .. "(" .. s .. ")"
end

-- ------------------------------------------------------------------ compiling rows

local RETURNS = {
  page = "one page of %s: a Page (array, .count, .next)",
  each = "every %s of every page, lazily (an iterator; raises the error)",
  all = "an array of every %s of every page (or nil, err)",
}

local function returns_text(P, c, mode)
  local what = c.class or "item"
  if c.style then return RETURNS[mode or "page"]:format(what) end
  if c.returns_text then return c.returns_text end
  if c.raw then return "the text of the answer (JSON answers decoded)" end
  if c.empty_ok then return "true (the answer has no body)" end
  return c.class or "the decoded answer"
end

local function add_entry(P, e)
  P.entries[#P.entries + 1] = e
  if e.on then
    P.classes[e.on].entries[e.name] = e
  else
    P.methods[e.resource] = P.methods[e.resource] or {}
    P.methods[e.resource][e.name] = e
  end
  return e
end

-- The registry entries of a row: one method, or list/each/all of a paging row.
local function entries_of_row(P, c)
  local base = { platform = P.name, kind = "method", resource = c.resource, op = c.op_id,
    http = c.method .. " " .. c.path, summary = c.schema_op.summary, style = c.style,
    class = c.class, note = c.note }
  local function entry(name, mode)
    local e = copy(base)
    e.name, e.mode = name, mode
    local prefix = ("%s.%s:%s"):format(P.var, c.resource, name)
    e.label = prefix .. "()"
    e.call = c.call:gsub("^[^%(%{]*", prefix, 1)
    e.short = c.short:gsub("^[^%(%{]*", prefix, 1)
    e.dot_label = ("%s.%s.%s()"):format(P.var, c.resource, name)
    e.returns = returns_text(P, c, mode)
    return add_entry(P, e)
  end
  if c.style then
    local each, all = "each_" .. c.name, "all_" .. c.name
    if c.name == "list" then each, all = "each", "all" end
    c.entries = { page = entry(c.name, "page"), each = entry(each, "each"), all = entry(all, "all") }
  else
    c.entries = { call = entry(c.name, "call") }
  end
end

-- A verb of a row: the registry entry and what the object method needs.
local function compile_verb(P, c, vname, v)
  local on = v.on or c.class
  local cls = P.classes[on]
  if cls == nil then
    error(("cohort.resource: verb %s of %s: no class %s"):format(vname, c.op_id, tostring(on)))
  end
  if cls.verbs[vname] or (cls.methods and cls.methods[vname]) then
    error(("cohort.resource: %s:%s defined twice"):format(on, vname))
  end
  local vc = copy(v)
  vc.row, vc.name, vc.on = c, vname, on
  vc.mode = v.mode or (c.style and "page") or "call"
  vc.shown = copy(c.shown)
  for user, api in pairs(v.args or {}) do vc.shown[api] = user end
  local prefix = cls.var .. ":" .. vname
  vc.label = prefix .. "()"
  vc.dot_label = cls.var .. "." .. vname .. "()"
  local fields
  if v.args then
    local list = {}
    for user in pairs(v.args) do list[#list + 1] = user end
    table.sort(list)
    fields = "{" .. table.concat(list, ", ") .. "}"
  elseif v.arg then
    fields = "{" .. (c.shown[v.arg] or v.arg) .. "…}"
  end
  local ids = {}
  if v.rest then
    local from_object = v.no_ids and 0 or cls.path_count or 1
    for i = from_object + 1, #c.params do ids[#ids + 1] = c.params[i].name end
    local rest_fields = c.call:match("(%b{})%)?$")
    fields = rest_fields
  end
  vc.call = call_form(prefix, ids, fields)
  vc.short = call_form(prefix, ids, fields and "{...}")
  local via = c.entries[vc.mode == "call" and "call" or vc.mode]
  local fixed = {}
  for k, val in pairs(v.fixed or {}) do fixed[#fixed + 1] = ("%s = %s"):format(k, tostring(val)) end
  table.sort(fixed)
  cls.verbs[vname] = vc
  vc.entry = add_entry(P, { platform = P.name, kind = "verb", on = on, var = cls.var, name = vname,
    label = vc.label, call = vc.call, short = vc.short, dot_label = vc.dot_label, op = c.op_id,
    http = c.method .. " " .. c.path, summary = c.schema_op.summary, style = c.style,
    mode = vc.mode, class = c.class, returns = returns_text(P, c, vc.mode ~= "call" and vc.mode or nil),
    via = via and via.label, fixed = #fixed > 0 and table.concat(fixed, ", ") or nil,
    note = v.note })
  return vc
end

--- Compile a platform's rows against its schema and fill its registry (once per platform).
-- @tparam table def `name` (`"prolific"`), `var` (the client's conventional name, `"p"`),
--   `schema` (a schema module's name), `families` (modules with `rows` and `classes`),
--   `id_in`/`id_out` (optional: how path ids are taken and written), `unwrap` (an envelope
--   field object answers come in)
-- @treturn table the compiled platform
function M.platform(def)
  if M.registry[def.name] then return M.registry[def.name] end
  local S = schema.load(def.schema)
  local P = { name = def.name, var = def.var, S = S, rows = {}, classes = {}, entries = {},
    methods = {}, id_in = def.id_in, id_out = def.id_out, unwrap = def.unwrap,
    helpers = {} }
  for _, fam in ipairs(def.families) do
    for cname, cls in pairs(fam.classes or {}) do
      if P.classes[cname] then error("cohort.resource: class " .. cname .. " defined twice") end
      local c = copy(cls)
      c.name = cname
      c.verbs, c.entries = {}, {}
      c.var = c.var or cname:lower()
      local key = cls.key or "id"
      if type(key) == "string" then
        local field = key
        c.key = function(obj) return rawget(obj, field) end
      end
      c.path_ids = cls.path_ids or c.key
      P.classes[cname] = c
    end
  end
  local names = {}
  local ops_used = {}
  for _, fam in ipairs(def.families) do
    for _, row in ipairs(fam.rows or {}) do
      local op = S.operations[row.op]
      if op == nil then error("cohort.resource: " .. tostring(row.op) .. " is not an operation of the schema") end
      local c = copy(row)
      c.op_id, c.schema_op = row.op, op
      c.method, c.path = op.method, op.path
      c.params = {}
      for i, prm in ipairs(op.path_params) do
        local sc = prm.schema
        c.params[i] = { name = prm.name, schema = sc,
          oid = sc.type == "string" and sc.format == "objectId" and not sc.enum and not sc.nullable }
      end
      c.query = op.query or {}
      c.query_required = op.query_required or {}
      c.body = op.body
      c.empty_ok = op.success and op.success.schema == false or nil
      c.style = op.paging
      c.aliases = row.aliases or {}
      c.shown = {}
      for short, long in pairs(c.aliases) do c.shown[long] = short end
      c.prefix = ("%s.%s:%s"):format(def.var, row.resource, row.name)
      c.label = c.prefix .. "()"
      c.dot_label = ("%s.%s.%s()"):format(def.var, row.resource, row.name)
      local ids = {}
      for i, p in ipairs(c.params) do ids[i] = p.name end
      local fields
      if c.body then
        fields = field_list(body_fields(S, c.body.schema), c.shown)
        if next(c.query) then
          local q = {}
          for i, k in ipairs(query_fields(c)) do q[i] = c.shown[k] or k end
          fields = fields:gsub("}$", ", " .. table.concat(q, ", ") .. "}")
        end
      elseif next(c.query) then
        fields = field_list(query_fields(c), c.shown)
      end
      c.call = call_form(c.prefix, ids, fields)
      c.short = call_form(c.prefix, ids, fields and "{...}")
      local key = row.resource .. ":" .. row.name
      if names[key] then error("cohort.resource: " .. key .. " defined twice") end
      names[key] = true
      ops_used[row.op] = (ops_used[row.op] or 0) + 1
      P.rows[#P.rows + 1] = c
      entries_of_row(P, c)
      for vname, v in pairs(row.verbs or {}) do compile_verb(P, c, vname, v) end
    end
  end
  P.ops_used = ops_used
  M.registry[def.name] = P
  return P
end

-- ------------------------------------------------------------------ building requests

local function check_opts(label, opts)
  if opts == nil then return end
  if type(opts) ~= "table" then util.misuse(label, "options must be a table (got %s)", util.show(opts)) end
  util.check_keys(label, opts, CALL_OPTIONS)
  local r, t = opts.retries, opts.timeout
  if r ~= nil and (compat.math_type(r) ~= "integer" or r < 0 or r > 100) then
    util.misuse(label, "retries must be an integer from 0 to 100, the retries after the first "
      .. "attempt (got %s)", util.show(r))
  end
  -- (the core's limit: 7 days; NaN fails every comparison)
  if t ~= nil and not (type(t) == "number" and t > 0 and t <= 604800) then
    util.misuse(label, "timeout must be a positive number of seconds (got %s)", util.show(t))
  end
end

local function has_enum(node, value)
  for _, e in ipairs(node.enum or {}) do if e == value then return true end end
  return false
end

--- The context a row's validator gets: `label` (the call as the user made it), `client`,
-- `name(api_field)` (the field as the user wrote it), `misuse(fmt, ...)`.
local function context(client, c, label, shown, obj)
  return {
    label = label, client = client, row = c, object = obj,
    name = function(api) return shown[api] or api end,
    misuse = function(fmt, ...) util.misuse(label, fmt, ...) end,
  }
end

-- The per-call options and the row's raw Accept header on a built request `req`.
local function finish(req, c, opts)
  if c.raw then req.headers, req.raw = { Accept = c.raw.accept }, true end
  if opts then
    req.retries, req.timeout, req.progress = opts.retries, opts.timeout, opts.progress
    if opts.retry_unsafe then req.idempotent = true end
  end
  return req
end

--- Build the request of compiled row `c`: checks every id, query parameter and body field.
-- @tparam table P the compiled platform
-- @tparam Client client
-- @tparam table c the compiled row
-- @tparam string label the call as the user made it, for errors
-- @tparam table ids the path ids, in order
-- @tparam ?table args query parameters and body fields (the user's names)
-- @tparam ?table opts per-call options
-- @tparam ?table shown API field → the user's name (a verb's own names)
-- @tparam ?table obj the object a verb was called on
-- @treturn table the request, for `Client:send`
function M.build(P, client, c, label, ids, args, opts, shown, obj)
  local S = P.S
  shown = shown or c.shown
  check_opts(label, opts)
  local path_ids = {}
  for i, prm in ipairs(c.params) do
    local v = ids[i]
    if v == nil then
      util.misuse(label, "%s is required; write %s", shown[prm.name] or prm.name, c.short)
    end
    if P.id_in then v = P.id_in(v) end
    -- a Prolific id (24 hex digits) is by far the commonest path parameter: checked here
    -- directly, and by the schema (for its message) only when it does not fit
    if not (prm.oid and type(v) == "string" and #v == 24 and not v:find("[^%x]")) then
      local msg = schema.check(S, prm.schema, v, { path = shown[prm.name] or prm.name })
      if msg then util.misuse(label, "%s", msg) end
    end
    path_ids[i] = P.id_out and P.id_out(v) or v
  end
  local given = args ~= nil
  if not given and not c.prepare and not c.body and #c.query_required == 0 then
    -- a call with its ids only (`get(id)`): nothing more to check or build
    return finish({ method = c.method, base = client.base_url, path = c.path, ids = path_ids,
      idempotent = c.idempotent, empty_ok = c.empty_ok }, c, opts)
  end
  if given then
    if type(args) == "string" and c.json_text then
      local ok, v = pcall(core.decode, args)
      if not ok or type(v) ~= "table" then
        util.misuse(label, "the JSON text is not a JSON object (%s)", tostring(v))
      end
      args = v
    end
    if type(args) ~= "table" then
      util.misuse(label, "expected a table of %s (got %s); write %s",
        c.body and "fields" or "query parameters", util.show(args), c.short)
    end
    if c.list_arg and args[1] ~= nil then
      args = { [c.list_arg] = args }
    else
      args = copy(args)
    end
    for short, long in pairs(c.aliases) do
      if args[short] ~= nil and short ~= long then
        if args[long] ~= nil then util.misuse(label, "give %s or %s, not both", short, long) end
        args[long], args[short] = args[short], nil
      end
    end
  end
  if not c.body and next(c.query) == nil and given then
    util.misuse(label, "takes no fields (the operation has neither query nor body); write %s",
      c.short)
  end
  args = args or {}
  if c.prepare then args = c.prepare(args, context(client, c, label, shown, obj)) or args end
  local query, body = {}, {}
  for k, v in pairs(args) do
    if c.query[k] ~= nil then
      query[k] = v
    elseif c.body then
      body[k] = v
    else
      util.misuse(label, "unknown option '%s'", tostring(shown[k] or k))
    end
  end
  for _, k in ipairs(c.query_required) do
    if query[k] == nil then util.misuse(label, "%s is required", shown[k] or k) end
  end
  local req = { method = c.method, base = client.base_url, path = c.path, ids = path_ids,
    idempotent = c.idempotent, empty_ok = c.empty_ok }
  if next(query) ~= nil then
    for k, v in pairs(query) do
      local node = c.query[k]
      local r = schema.resolve(S, node)
      if type(v) == "boolean" and r.type == "string" and has_enum(r, "true") then v = tostring(v) end
      local msg = schema.check(S, node, v, { path = shown[k] or k })
      if msg then util.misuse(label, "%s", msg) end
      if type(v) == "boolean" then v = tostring(v) end
      if type(v) == "table" then
        util.misuse(label, "%s must be a single value (got %s)", shown[k] or k, util.show(v))
      end
      query[k] = v
    end
    req.query = query
  end
  if c.body then
    if next(body) ~= nil or given or c.body.required then
      local msg = schema.check(S, c.body.schema, body, { names = shown })
      if msg then util.misuse(label, "%s", msg) end
      req.body = schema.encode(S, c.body.schema, body)
    else
      -- nothing given and the body is optional: send none, unless the schema needs fields
      local msg = schema.check(S, c.body.schema, body, { names = shown })
      if msg then util.misuse(label, "%s", msg) end
    end
  end
  return finish(req, c, opts)
end

-- Send a built request and shape the answer as the row says.
local function answer(P, client, c, req)
  local value, result = client:send(req)
  if value == nil then return nil, result end
  if c.raw then
    local ctype = (result.headers or {})["content-type"] or ""
    if ctype:find("json", 1, true) then return client:decode(result) end
    return value
  end
  if c.returns then return c.returns(value, result, client) end
  if P.unwrap and type(value) == "table" and value[P.unwrap] ~= nil then value = value[P.unwrap] end
  if c.class then return client:wrap(c.class, value) end
  return value
end

local function spec_of(P, c)
  local cls = c.class and P.classes[c.class]
  return { style = c.style, class = c.class, key = cls and cls.key or nil }
end

local function with_page_size(client, c, req)
  req.compress = true -- a list: worth compressing
  local size = client.page_size
  if size then
    local key = paging.styles[c.style].size
    req.query = req.query or {}
    if req.query[key] == nil then req.query[key] = size end
  end
  return req
end

-- Run a request of row `c` in `mode` ("call", "page", "each", "all").
local function run(P, client, c, mode, req)
  if mode == "call" then return answer(P, client, c, req) end
  with_page_size(client, c, req)
  local spec = spec_of(P, c)
  if mode == "page" then return paging.page(client, spec, req) end
  if mode == "each" then return paging.iterate(client, spec, req) end
  return paging.collect(client, spec, req)
end
M.run = run

--- The compiled row behind `resource:name` of a platform.
-- @tparam string platform
-- @tparam string resource
-- @tparam string name
-- @treturn table
function M.row(platform, resource, name)
  for _, c in ipairs(M.registry[platform].rows) do
    if c.resource == resource and c.name == name then return c end
  end
  error("cohort.resource: no method " .. resource .. ":" .. name)
end

-- ------------------------------------------------------------------ attaching to a client

-- The arguments of a resource method: path ids, args, opts.
local function split_args(c, label, ...)
  local n = select("#", ...)
  local first = ...
  local np = #c.params
  if c.ids_from and np > 0 and type(first) == "table" then
    local args = copy(first)
    local ids = {}
    for i, f in ipairs(c.ids_from) do ids[i] = args[f]; args[f] = nil end
    if n > 2 then util.misuse(label, "too many arguments; write %s", c.short) end
    return ids, args, (select(2, ...))
  end
  if n > np + 2 then util.misuse(label, "too many arguments; write %s", c.short) end
  local ids = {}
  for i = 1, np do ids[i] = (select(i, ...)) end
  local args, opts = select(np + 1, ...)
  return ids, args, opts
end

-- The method `mode` of row `c` on resource table `res`.
local function method(P, client, res, c, mode)
  local e = c.entries[mode]
  local fn = function(self, ...)
    if self ~= res then util.misuse(e.dot_label, "called with a dot; write %s", e.short) end
    local ids, args, opts = split_args(c, e.label, ...)
    return run(P, client, c, mode, M.build(P, client, c, e.label, ids, args, opts))
  end
  return M.register(fn, e)
end

-- The verb `vc` of a class whose metatable is `mt`.
local function verb(P, client, mt, cls, vc)
  local c = vc.row
  local label = vc.label
  local fn = function(obj, ...)
    if getmetatable(obj) ~= mt then
      util.misuse(vc.dot_label, "called with a dot; write %s", vc.short)
    end
    local ids = {}
    if not vc.no_ids then
      ids = { cls.path_ids(obj) }
      if ids[1] == nil then util.misuse(label, "this %s has no id", cls.name) end
    end
    local args, opts
    if vc.rest then
      local np = #c.params - #ids
      local n = select("#", ...)
      if n > np + 2 then util.misuse(label, "too many arguments; write %s", vc.short) end
      for i = 1, np do ids[#ids + 1] = (select(i, ...)) end
      args, opts = select(np + 1, ...)
      if args ~= nil and type(args) ~= "table" and not (c.json_text and type(args) == "string") then
        util.misuse(label, "expected a table (got %s); write %s", util.show(args), vc.short)
      end
    elseif vc.arg then
      local a
      a, opts = ...
      if a == nil then util.misuse(label, "%s is required; write %s", vc.arg, vc.short) end
      args = { [vc.arg] = a }
    elseif vc.args then
      local a
      a, opts = ...
      if a == nil and not vc.optional then
        util.misuse(label, "expected a table; write %s", vc.short)
      end
      if a ~= nil and type(a) ~= "table" then
        util.misuse(label, "expected a table (got %s); write %s", util.show(a), vc.short)
      end
      util.check_keys(label, a or {}, vc.args)
      args = {}
      for user, api in pairs(vc.args) do
        if a and a[user] ~= nil then
          if args[api] ~= nil and args[api] ~= a[user] then
            util.misuse(label, "give %s once", user)
          end
          args[api] = a[user]
        end
      end
    else
      local a
      a, opts = ...
      if a ~= nil then util.misuse(label, "takes no arguments; write %s", vc.short) end
    end
    if vc.fixed or vc.defaults then
      args = copy(args) -- never the caller's table
      for k, v in pairs(vc.fixed or {}) do
        if args[k] ~= nil and args[k] ~= v then util.misuse(label, "%s is set by this verb", vc.shown[k] or k) end
        args[k] = v
      end
      for api, field in pairs(vc.defaults or {}) do
        if args[api] == nil then args[api] = rawget(obj, field) end
      end
    end
    local req = M.build(P, client, c, label, ids, args, opts, vc.shown, obj)
    return run(P, client, c, vc.mode, req)
  end
  return M.register(fn, vc.entry)
end

--- Attach a compiled platform to a client: its classes, every row's methods, every verb.
-- @tparam Client client
-- @tparam table P from `platform`
function M.attach(client, P)
  for cname, cls in pairs(P.classes) do
    local mt = client:define_class(cname, { methods = cls.methods, getters = cls.getters,
      tostring = cls.tostring, key = cls.key, var = cls.var })
    for _, vc in pairs(cls.verbs) do
      mt.__methods[vc.name] = verb(P, client, mt, cls, vc)
    end
  end
  for _, c in ipairs(P.rows) do
    local res = M.resource(client, c.resource)
    for mode, e in pairs(c.entries) do res[e.name] = method(P, client, res, c, mode) end
  end
end

return M
