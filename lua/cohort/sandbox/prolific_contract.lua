-- The spec's contract around every Prolific route of the sandbox: each route row names its
-- operation in cohort.schema.prolific (`op = "GetStudy"`), and the dispatcher
-- (cohort.sandbox.prolific) calls
--
--   M.request(ctx, row, caps)   before the handler: the path ids, the query and the JSON body
--                               are held to the operation's schema (nil, or an error answer);
--                               the handler then finds the decoded body in ctx.body
--   M.finish(ctx, row, ...)     after it: a util.answer is encoded by the operation's success
--                               schema (arrays stay arrays), and with --strict every success
--                               answer is checked against that schema (a departure is a 500)
--
-- The spec's rules are read literally, as Prolific's servers read a request: a field the
-- schema does not list is accepted unless the schema closes the object (additionalProperties:
-- false), and a read-only field (one a client echoes back from a GET) is let through. Field
-- paths in error details are JSON paths with array positions from 0 (`filters.1.filter_id`),
-- the form the sandbox has always used; a body-wide problem goes under `non_field_errors`, as
-- Django REST framework (Prolific's server) does.
--
-- The route table is checked against the schema when the module loads (M.bind): every row names
-- an operation with its method and path, every operation has exactly one row, so a route added
-- without its operation, or an operation of the spec left without a route, fails at start-up.
local schema = require "cohort.schema"
local util = require "cohort.sandbox.util"

local M = {}

local S = schema.load "prolific"
M.S = S

-- Route table -----------------------------------------------------------------------------------

-- "/api/v1/studies/{id}/" and "studies/{id}" → "studies/{id}" (the sandbox's route form).
local function route_form(path)
  return (path:gsub("^/api/v1/", ""):gsub("^/", ""):gsub("/$", ""))
end

--- Check the route rows against the schema and link each row to its operation (`row.operation`).
-- Raises when a row names no operation, or another method or path than its operation's, when
-- two rows name one operation, or when an operation has no row.
-- @tparam table routes rows { METHOD, "path/{param}", handler, op = "OperationId" }
-- @treturn table operationId → row
function M.bind(routes)
  local by_op = {}
  for _, r in ipairs(routes) do
    local where = ("cohort.sandbox: route %s %s"):format(r[1], r[2])
    local op = r.op and S.operations[r.op]
    if not op then error(where .. " names no operation of the spec (op = " .. tostring(r.op) .. ")", 0) end
    if op.method ~= r[1] or route_form(op.path) ~= route_form(r[2]) then
      error(("%s is not %s (%s %s)"):format(where, r.op, op.method, op.path), 0)
    end
    if by_op[r.op] then error(where .. ": a second route for " .. r.op, 0) end
    by_op[r.op] = r
    r.operation = op
  end
  local missing = {}
  for id in pairs(S.operations) do
    if not by_op[id] then missing[#missing + 1] = id end
  end
  if #missing > 0 then
    table.sort(missing)
    error("cohort.sandbox: no route for " .. table.concat(missing, ", "), 0)
  end
  return by_op
end

-- Errors ----------------------------------------------------------------------------------------

-- "filters[2].selected_range.lower" (the schema's path, positions from 1) → the JSON path
-- "filters.1.selected_range.lower".
local function json_path(path)
  local p = path:gsub("%[(%d+)%]", function(n) return "." .. (tonumber(n) - 1) end)
  return (p:gsub("^%.", ""))
end
M.json_path = json_path

-- The schema's message without the path it starts with, in JSON's words rather than Lua's.
local function clean(msg, path)
  if path ~= "" and msg:sub(1, #path + 1) == path .. " " then msg = msg:sub(#path + 2) end
  msg = msg:gsub("a table of fields", "an object")
    :gsub("%(got an empty table%)", "(got [], an empty array)")
    :gsub("%(got a table%)", "(got an object)")
  return msg
end

--- A 400 in Prolific's envelope naming the fields: detail = { [json path] = { message } }.
-- @tparam table faults { {msg, path}, ... } as schema.check gives them (path "" for the body)
function M.field_error(faults)
  local detail = {}
  for _, f in ipairs(faults) do
    local key = f[2] ~= "" and json_path(f[2]) or "non_field_errors"
    if detail[key] == nil then detail[key] = { clean(f[1], f[2]) } end
  end
  return util.prolific_error(400, detail)
end

local function join(base, key)
  if type(key) == "number" then return base .. "[" .. key .. "]" end
  return base == "" and key or base .. "." .. key
end

-- Every fault of a value, not only the first schema.check meets, as Prolific lists every field
-- at fault: where the first fault lies inside an object or array, each field or item is
-- checked in turn (a fault at the value itself, or inside a choice of alternatives, is one).
local function faults(node, value, path, opts, out, depth)
  local msg, at = schema.check(S, node, value, { direction = opts.direction,
    unknown = opts.unknown, read_only = opts.read_only, path = path })
  if not msg then return end
  local n = schema.resolve(S, node)
  if at ~= path and depth < 6 and type(value) == "table" and not n.any_of then
    local before = #out
    if n.properties then
      local keys = {}
      for k in pairs(value) do if type(k) == "string" then keys[#keys + 1] = k end end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local child = n.properties[k] or (type(n.additional) == "table" and n.additional) or nil
        if child then
          faults(child, value[k], join(path, k), opts, out, depth + 1)
        elseif n.additional == false then
          out[#out + 1] = { join(path, k) .. " is not a field of this request", join(path, k) }
        end
      end
      for _, k in ipairs(n.required or {}) do
        if value[k] == nil and not schema.resolve(S, n.properties[k] or {}).read_only then
          out[#out + 1] = { join(path, k) .. " is required", join(path, k) }
        end
      end
    elseif n.items then
      for i = 1, #value do faults(n.items, value[i], join(path, i), opts, out, depth + 1) end
    end
    if #out > before then return end
  end
  out[#out + 1] = { msg, at }
end
M.faults = faults

-- The not-found answer of each kind of object, by the path segment before its id (a malformed
-- id is answered as an unknown one: it cannot name anything).
local NOT_FOUND = {
  submissions = "Submission", studies = "Study", study = "Study", workspaces = "Workspace",
  projects = "Project", ["participant-groups"] = "Participant group", ["filter-sets"] = "Filter set",
  surveys = "Survey", responses = "Response", subscriptions = "Subscription",
  ["mutually-exclusive"] = "Study collection", ["bulk-bonus-payments"] = "Bulk bonus payment",
}

local function not_found(op, name)
  local before = op.path:match("/([^/]+)/{" .. name:gsub("%p", "%%%0") .. "}")
  return util.prolific_error(404, (NOT_FOUND[before] or "Object") .. " not found.")
end

-- Request bodies --------------------------------------------------------------------------------

-- lua-cjson decodes `[]` and `{}` alike, as an empty table. The spec tells arrays from objects,
-- so before decoding, every empty array and empty object outside strings is swapped for a
-- marker, and after decoding the markers become tables marked with schema.array or
-- schema.object: `"participant_ids": {}` is then refused where an array is due.
local EMPTY_ARRAY = '["\\u0001cohort-empty-array\\u0001"]'
local EMPTY_OBJECT = '{"\\u0001cohort-empty-object\\u0001":0}'
local ARRAY_KEY = "\1cohort-empty-array\1"
local OBJECT_KEY = "\1cohort-empty-object\1"

local function mark_text(text)
  if not (text:find("%[%s*%]") or text:find("{%s*}")) then return text, false end
  local out, last, i = {}, 1, 1
  while true do
    local j = text:find('["{%[]', i)
    if not j then break end
    local c = text:sub(j, j)
    if c == '"' then
      local k = j + 1
      while true do
        local q = text:find('["\\]', k)
        if not q then return text, false end -- an unterminated string: the decoder says so
        if text:sub(q, q) == "\\" then k = q + 2 else k = q + 1 break end
      end
      i = k
    else
      local e = text:match(c == "{" and "^{%s*}()" or "^%[%s*%]()", j)
      if e then
        out[#out + 1] = text:sub(last, j - 1)
        out[#out + 1] = c == "{" and EMPTY_OBJECT or EMPTY_ARRAY
        last, i = e, e
      else
        i = j + 1
      end
    end
  end
  out[#out + 1] = text:sub(last)
  return table.concat(out), true
end

-- After decoding: the markers become marked empty tables, and whole numbers integers (lua-cjson
-- decodes every number as a float: 150 would be stored, and shown in messages, as 150.0).
local function finish(v)
  local t = type(v)
  if t == "number" then return math.tointeger(v) or v end
  if t ~= "table" then return v end
  if v[1] == ARRAY_KEY and v[2] == nil then return schema.array() end
  if v[OBJECT_KEY] ~= nil and next(v, OBJECT_KEY) == nil and next(v) == OBJECT_KEY then
    return schema.object()
  end
  for k, x in pairs(v) do
    local tx = type(x)
    if tx == "table" or tx == "number" then v[k] = finish(x) end
  end
  return v
end

--- Decode a JSON request body, empty arrays and objects told apart (schema.array /
-- schema.object marks).
-- @tparam string text
-- @return the value, or nil and the decoder's message
function M.decode(text)
  local marked = mark_text(text)
  -- lua-cjson, not cohort's decoder, which leaves null fields out: a request's null is a value
  -- (`"publish_at": null` clears it, `"reward": null` is refused)
  local v, err = util.decode(marked)
  if v == nil then return nil, err end
  return finish(v)
end

-- Queries ---------------------------------------------------------------------------------------

local TRUE = { ["true"] = true, True = true, ["1"] = true }
local FALSE = { ["false"] = true, False = true, ["0"] = true }

-- A query string value as the type its schema node says (left a string when it is not one, so
-- that the check names the value as given).
local function coerce(node, s)
  node = schema.resolve(S, node)
  local t = node.type
  if t == "integer" then
    if s:find("^[+-]?%d+$") then return math.tointeger(tonumber(s)) or s end
  elseif t == "number" then
    local n = tonumber(s)
    if n and n == n and n ~= math.huge and n ~= -math.huge and not s:find("^%s") then return n end
  elseif t == "boolean" then
    if TRUE[s] then return true end
    if FALSE[s] then return false end
  end
  return s
end

local CHECK = { direction = "request", unknown = "allow", read_only = "allow" }

-- The query parameters of an operation, sorted (so that the same request is answered alike).
local names_of = setmetatable({}, { __mode = "k" })
local function query_names(op)
  local list = names_of[op]
  if list == nil then
    list = {}
    for name in pairs(op.query) do list[#list + 1] = name end
    table.sort(list)
    names_of[op] = list
  end
  return list
end

--- Hold a request to its operation before the handler runs. Sets ctx.body (the decoded JSON
-- body; {} when an optional body is absent, nil when the operation takes none) and ctx.params
-- (the checked query parameters, typed as the schema says).
-- @return nil when the request fits, else status, headers, body of the error answer
function M.request(ctx, row, caps)
  local op = row.operation
  -- Path ids: an id that is not in the operation's format cannot name anything, so the answer
  -- is the one for an unknown object: 404, "Study not found." (as Prolific answers a lookup that
  -- finds nothing).
  for _, p in ipairs(op.path_params) do
    if schema.check(S, p.schema, caps[p.name], { path = p.name }) then return not_found(op, p.name) end
  end
  -- Query: the parameters the operation lists, typed and checked; others are ignored (the
  -- sandbox's own `delay` among them), as Prolific ignores what it does not know.
  local params, bad = {}, {}
  local names = query_names(op)
  for _, name in ipairs(names) do
    local s = ctx.query[name]
    if s ~= nil and s ~= "" then
      local v = coerce(op.query[name], s)
      local msg, path = schema.check(S, op.query[name], v, { direction = "request", path = name })
      if msg then bad[#bad + 1] = { msg, path } else params[name] = v end
    end
  end
  for _, name in ipairs(op.query_required) do
    if ctx.query[name] == nil or ctx.query[name] == "" then bad[#bad + 1] = { name .. " is required", name } end
  end
  if #bad > 0 then return M.field_error(bad) end
  ctx.params = params
  -- Body
  local raw = ctx.req.body or ""
  local given = raw:find("%S") ~= nil
  if not op.body then
    if given then
      return util.prolific_error(400, { non_field_errors = {
        ("%s %s takes no request body."):format(op.method, op.path) } })
    end
    ctx.body = nil
    return nil
  end
  local value
  if given then
    local err
    value, err = M.decode(raw)
    if value == nil then
      return util.prolific_error(400, "JSON parse error - " .. tostring(err))
    end
  elseif op.body.required then
    return util.prolific_error(400, { non_field_errors = { "A JSON request body is required." } })
  else
    value = schema.object()
  end
  local all = {}
  faults(op.body.schema, value, "", CHECK, all, 0)
  if #all > 0 then return M.field_error(all) end
  ctx.body = value
  return nil
end

-- Answers ---------------------------------------------------------------------------------------

-- The encoding of an answer by its success schema: what schema.encode writes (the node decides
-- whether a table is an array or an object, so an empty array stays []), written by lua-cjson.
-- The walk visits only the tables of the answer to find its empty arrays; the text is then
-- written in C rather than in Lua, which keeps the sandbox's
-- throughput (spec/sandbox_contract_spec.lua checks that both write the same JSON).
local ARRAY_MT = getmetatable(schema.array())
local resolved = setmetatable({}, { __mode = "k" })

local function res(node)
  local r = resolved[node]
  if r == nil then
    r = schema.resolve(S, node)
    resolved[node] = r
  end
  return r
end

local function kind_of(n) return n.type or (n.properties and "object") or (n.items and "array") end

local function is_seq(t) -- as schema.encode reads a table: an empty one is both
  local n = #t
  if n == 0 then return next(t) == nil end
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

local function is_obj(t)
  if getmetatable(t) == ARRAY_MT then return false end
  for k in pairs(t) do if type(k) ~= "string" then return false end end
  return true
end

-- schema.encode's choice among the alternatives of an any_of: the first whose kind fits.
local function pick(n, v)
  for _, alt in ipairs(n.any_of) do
    local a = res(alt)
    local k = kind_of(a)
    if (k == "array" and is_seq(v)) or (k == "object" and is_obj(v)) then return a end
  end
  return nil
end

local function holes(node, v, parent, key, out)
  local n = node and res(node)
  if n and n.any_of then n = pick(n, v) end
  local k = n and kind_of(n)
  if k == nil then
    k = (getmetatable(v) == ARRAY_MT or (v[1] ~= nil and is_seq(v))) and "array" or "object"
  end
  if k == "array" then
    if next(v) == nil then
      out[#out + 1] = parent; out[#out + 1] = key; out[#out + 1] = v
      return
    end
    local items = n and n.items
    for i = 1, #v do
      local x = v[i]
      if type(x) == "table" then holes(items, x, v, i, out) end
    end
  else
    local props = n and n.properties
    local add = n and type(n.additional) == "table" and n.additional or nil
    for f, x in pairs(v) do
      if type(x) == "table" then holes(props and props[f] or add, x, v, f, out) end
    end
  end
end

--- JSON text of an answer, encoded by its schema node (arrays stay arrays).
-- @tparam table node the operation's success schema
-- @param value the answer
-- @treturn string
function M.encode(node, value)
  if type(value) ~= "table" then return util.encode(value) end
  local out = {}
  local box = { value }
  holes(node, value, box, 1, out)
  if out[1] == box then return "[]" end
  return util.encode_holes(value, out)
end

local function drift(ctx, op, what, path)
  local detail = { ["answer"] = { what } }
  if path and path ~= "" then detail = { [json_path(path)] = { clean(what, path) } } end
  local status, headers, body = util.prolific_error(500, detail,
    ("Sandbox answer departs from the spec (%s)"):format(ctx.op or "?"), 150001)
  headers["X-Cohort-Sandbox-Drift"] = ctx.op or op.path
  return status, headers, body
end

--- Finish a handler's answer: encode a util.answer by the operation's success schema when the
-- status is the documented one (by value otherwise), and in strict mode (`ctx.app.strict`)
-- check every success answer against the spec: its status, its body's shape, its media type.
-- @return status, headers, body (text)
function M.finish(ctx, row, status, headers, body)
  local op = row.operation
  local success = op.success
  local strict = ctx.app.strict and status >= 200 and status < 300
  if strict and status ~= success.status then
    return drift(ctx, op, ("answered %d where the spec documents %d"):format(status, success.status))
  end
  if util.is_answer(body) then
    local value = body.value
    if status == success.status and success.schema then
      if strict then
        local msg, path = schema.check(S, success.schema, value, { direction = "response" })
        if msg then return drift(ctx, op, msg, path) end
      end
      return status, headers, M.encode(success.schema, value)
    end
    if strict and success.schema == false then
      return drift(ctx, op, "answered a body where the spec documents none")
    end
    return status, headers, util.encode(value)
  end
  if strict then
    if success.schema == false and body ~= nil and body ~= "" then
      return drift(ctx, op, "answered a body where the spec documents none")
    end
    if success.schema and ctx.req.method ~= "HEAD" then
      local ct = (headers["Content-Type"] or ""):match("^[^;%s]+")
      local listed = false
      for _, m in ipairs(success.media or {}) do if m == ct then listed = true end end
      if not listed then
        return drift(ctx, op, ("answered %s, not a media type the spec lists"):format(tostring(ct)))
      end
    end
  end
  return status, headers, body
end

return M
