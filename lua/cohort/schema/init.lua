--- Checking and encoding by schema: the one reading of a platform's API description that the
-- client (before anything is sent) and the sandbox (before anything is answered) share.
--
--     local schema = require "cohort.schema"
--     local S = schema.load "prolific"             -- lua/cohort/schema/prolific.lua
--     local op = S.operations.CreateStudy
--     local msg = schema.check(S, op.body.schema, body, { direction = "request" })
--     if msg then error("studies:create(): " .. msg) end
--     local text = schema.encode(S, op.body.schema, body)   -- empty arrays stay []
--
-- `check` returns nil when the value fits, else one message naming the field path as a Lua
-- user writes it (`filters[2].selected_range.lower`, array positions from 1) and the value
-- with its type (`must be a number (got "18", a string)`), and the path itself. Requests are
-- held to more than the spec asks, on purpose: a field the schema does not list is refused
-- (a typo would otherwise be dropped by the server without a word), and a read-only field is
-- refused (the server sets it). Answers (`direction = "response"`) are held to the spec only:
-- unlisted fields pass unless the schema forbids them.
-- @module cohort.schema
local compat = require "cohort.compat"
local core = require "cohort.core"

local M = {}

--- The JSON null sentinel: `field = schema.null` sends `"field": null` (Lua's nil leaves the
-- field out). The same value the decoder gives for a null inside an array.
M.null = core.decode("[null]")[1]

local ARRAY_MT = { __name = "cohort.array" }
local OBJECT_MT = { __name = "cohort.object" }

--- Mark a table as a JSON array, so that an empty one is sent as `[]` where no schema says so.
-- @tparam[opt] table t
-- @treturn table t
function M.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

--- Mark a table as a JSON object, so that an empty one (`{}` in JSON) is not taken for an
-- empty array where the schema wants one (the sandbox marks the `{}` of a request this way).
-- @tparam[opt] table t
-- @treturn table t
function M.object(t)
  return setmetatable(t or {}, OBJECT_MT)
end

local loaded = {}

--- The schema module of a platform (`"prolific"`), loaded once.
-- @tparam string name
-- @treturn table the generated module: `operations`, `schemas`, `overrides`, `source`
function M.load(name)
  local s = loaded[name]
  if s == nil then
    s = require("cohort.schema." .. name)
    loaded[name] = s
  end
  return s
end

-- ------------------------------------------------------------------ values in messages

local function show(v)
  local t = type(v)
  if v == M.null then return "null" end
  if t == "string" then
    local s = v
    if #s > 40 then s = s:sub(1, 37) .. "..." end
    return ("%q, a string"):format(s):gsub("\\\n", "\\n")
  end
  if t == "number" then
    local mt = compat.math_type(v)
    if v ~= v then return "nan, a number" end
    if mt == "integer" then return ("%s, an integer"):format(tostring(v)) end
    return ("%s, a number"):format(tostring(v))
  end
  if t == "boolean" then return tostring(v) .. ", a boolean" end
  if t == "table" then
    if next(v) == nil then
      return getmetatable(v) == OBJECT_MT and "{}, an empty object" or "an empty table"
    end
    if v[1] ~= nil then return "an array" end
    return "a table"
  end
  return "a " .. t
end
M.show = show

local TYPE_WORDS = { string = "a string", integer = "an integer", number = "a number",
  boolean = "a boolean", array = "an array", object = "a table of fields" }

local function join_path(base, key)
  if type(key) == "number" then return base .. "[" .. key .. "]" end
  if base == "" then return key end
  return base .. "." .. key
end

-- ------------------------------------------------------------------ types

local function is_sequence(t)
  if getmetatable(t) == OBJECT_MT then return false end
  local n = #t
  if n == 0 then return next(t) == nil end
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
    count = count + 1
  end
  return count == n
end

local function is_object(t)
  if getmetatable(t) == ARRAY_MT then return false end
  for k in pairs(t) do
    if type(k) ~= "string" then return false end
  end
  return true
end

local function is_finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

local function fits_type(want, v)
  local t = type(v)
  if want == "string" then return t == "string" end
  if want == "boolean" then return t == "boolean" end
  if want == "number" then return t == "number" and is_finite(v) end
  if want == "integer" then
    return t == "number" and is_finite(v) and v % 1 == 0
  end
  if want == "array" then return t == "table" and is_sequence(v) end
  if want == "object" then return t == "table" and is_object(v) end
  return true
end

local FORMATS = {}

function FORMATS.objectId(s)
  return #s == 24 and s:find("^%x+$") ~= nil, "a Prolific id of 24 hexadecimal digits"
end

function FORMATS.uuid(s)
  return s:find("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil,
    "a UUID (8-4-4-4-12 hexadecimal digits)"
end

FORMATS["date-time"] = function(s)
  local date, rest = s:match("^(%d%d%d%d%-%d%d%-%d%d)[Tt ](.*)$")
  local ok = false
  if date and rest then
    local m, d = tonumber(date:sub(6, 7)), tonumber(date:sub(9, 10))
    local h, mi, tail = rest:match("^(%d%d):(%d%d)(.*)$")
    if h and m >= 1 and m <= 12 and d >= 1 and d <= 31 and tonumber(h) < 24
        and tonumber(mi) < 60 then
      tail = tail:gsub("^:%d%d", ""):gsub("^%.%d+", "")
      ok = tail == "" or tail == "Z" or tail == "z" or tail:find("^[+-]%d%d:?%d%d$") ~= nil
    end
  end
  return ok, "a date and time such as \"2025-01-31T09:00:00Z\""
end

function FORMATS.date(s)
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
  local ok = y ~= nil and tonumber(m) >= 1 and tonumber(m) <= 12 and tonumber(d) >= 1
    and tonumber(d) <= 31 and (#s == 10 or FORMATS["date-time"](s))
  return ok, "an ISO 8601 date such as \"2001-01-31\""
end

function FORMATS.uri(s)
  return s:find("^[%a][%w+.-]*://[^%s]+$") ~= nil, "an absolute URL"
end

function FORMATS.email(s)
  return s:find("^[^%s@]+@[^%s@]+%.[^%s@]+$") ~= nil, "an e-mail address"
end

-- ------------------------------------------------------------------ check

local check

local function resolve(S, node)
  local guard = 0
  while node.ref do
    local target = S.schemas[node.ref]
    if target == nil then error("cohort.schema: unknown schema " .. node.ref, 0) end
    if node.nullable and not target.nullable then
      local copy = {}
      for k, v in pairs(target) do copy[k] = v end
      copy.nullable = true
      target = copy
    end
    node = target
    guard = guard + 1
    if guard > 50 then error("cohort.schema: $ref loop", 0) end
  end
  return node
end
M.resolve = resolve

local FORMAT_WORDS = { date = "an ISO 8601 date", ["date-time"] = "a date and time",
  objectId = "a Prolific id", uuid = "a UUID", uri = "a URL", email = "an e-mail address" }

local function alternatives_name(S, node)
  local names = {}
  for i, a in ipairs(node.any_of) do
    -- an unnamed object alternative is told by the fields it requires
    local fields = not a.ref and a.required and #a.required > 0
      and ("a table of fields with " .. table.concat(a.required, " and ")) or nil
    names[i] = (a.format and FORMAT_WORDS[a.format]) or fields
      or (a.type and TYPE_WORDS[a.type]) or a.ref or ("choice " .. i)
  end
  return table.concat(names, " or ")
end

local function depth_of(path) -- how far into the value a message reached
  local _, dots = path:gsub("[.%[]", "")
  return dots + (path ~= "" and 1 or 0)
end

-- How well an alternative fitted, from its first error: deeper is better, and at the same
-- depth an error about a value given beats one about a field missing or not known.
local KIND_RANK = { value = 2, missing = 1, unknown = 1, discriminator = 0 }

local function score(path, kind)
  return depth_of(path) * 3 + KIND_RANK[kind]
end

-- A field that tells the alternatives of an any_of apart: present in every alternative (all
-- objects) with a one-value enum, e.g. `action` of completion-code actions. nil when none.
local disc_cache = setmetatable({}, { __mode = "k" })

local function discriminator(S, node)
  local d = disc_cache[node]
  if d ~= nil then return d or nil end
  d = false
  local first = resolve(S, node.any_of[1])
  for field, p in pairs(first.properties or {}) do
    local ok, values = true, {}
    for i, alt in ipairs(node.any_of) do
      local a = resolve(S, alt)
      local fp = a.properties and a.properties[field] and resolve(S, a.properties[field])
      if not (fp and fp.enum and #fp.enum == 1) then ok = false break end
      values[i] = fp.enum[1]
    end
    if ok and p then d = { field = field, values = values } break end
  end
  disc_cache[node] = d
  return d or nil
end

local function check_any_of(S, node, v, path, ctx)
  local d = type(v) == "table" and discriminator(S, node)
  if d and v[d.field] == nil and is_object(v) then
    local list = {}
    for i, e in ipairs(d.values) do list[i] = ("%q"):format(tostring(e)) end
    local at = join_path(path, d.field)
    return ("%s is required (one of %s)"):format(at, table.concat(list, ", ")), at, "missing"
  end
  if d and v[d.field] ~= nil then
    for i, value in ipairs(d.values) do
      if v[d.field] == value then return check(S, node.any_of[i], v, path, ctx) end
    end
    local list = {}
    for i, e in ipairs(d.values) do list[i] = ("%q"):format(tostring(e)) end
    local at = join_path(path, d.field)
    return ("%s must be one of %s (got %s)"):format(at, table.concat(list, ", "),
      show(v[d.field])), at, "value"
  end
  local best, best_path, best_score
  local missing = {}
  local matched = 0
  for _, alt in ipairs(node.any_of) do
    local msg, at, kind = check(S, alt, v, path, ctx)
    if msg == nil then
      matched = matched + 1
      if not node.one_of then return nil end
    else
      local sc = score(at, kind)
      if kind == "missing" then missing[#missing + 1] = at end
      if best == nil or sc > best_score then best, best_path, best_score = msg, at, sc end
    end
  end
  if matched == 1 or (matched > 1 and not node.one_of) then return nil end
  local where = path == "" and "the body" or path
  if matched > 1 then
    return ("%s must match exactly one of %s, but matches %d"):format(where,
      alternatives_name(S, node), matched), path, "value"
  end
  if #missing == #node.any_of and #missing > 1 then
    local names, seen = {}, {}
    for _, m in ipairs(missing) do
      local name = m:match("([^.%[%]]+)%]?$") or m
      if not seen[name] then seen[name] = true; names[#names + 1] = name end
    end
    return ("%s needs one of %s"):format(where, table.concat(names, " or ")), path, "missing"
  end
  if depth_of(best_path) > depth_of(path) then return best, best_path, "value" end
  return ("%s must be %s (got %s)"):format(where, alternatives_name(S, node), show(v)), path, "value"
end

local function check_object(S, node, v, path, ctx)
  local props = node.properties or {}
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  if node.min_properties and count < node.min_properties then
    local list = {}
    for k in pairs(props) do list[#list + 1] = k end
    table.sort(list)
    return ("%s must give at least one of %s"):format(path == "" and "the body" or path,
      table.concat(list, ", ")), path, "value"
  end
  local request = ctx.direction == "request"
  local names = path == "" and ctx.names or nil
  local function shown(k) return names and names[k] or k end
  for _, k in ipairs(node.required or {}) do
    local p = props[k]
    if v[k] == nil and not (request and p and resolve(S, p).read_only) then
      return ("%s is required"):format(join_path(path, shown(k))), join_path(path, shown(k)), "missing"
    end
  end
  -- sorted, so the same mistake gives the same message every time
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local child = props[k]
    local at = join_path(path, shown(k))
    if child == nil then
      local add = node.additional
      if add == false or (request and ctx.unknown ~= "allow" and add == nil and node.properties) then
        return ("%s is not a field of this request"):format(at), at, "unknown"
      end
      if type(add) == "table" then
        local msg, mp, kind = check(S, add, v[k], at, ctx)
        if msg then return msg, mp, kind end
      end
    else
      if request and ctx.read_only ~= "allow" and resolve(S, child).read_only then
        return ("%s is read-only: Prolific sets it"):format(at), at, "value"
      end
      local msg, mp, kind = check(S, child, v[k], at, ctx)
      if msg then return msg, mp, kind end
    end
  end
  return nil
end

function check(S, node, v, path, ctx)
  node = resolve(S, node)
  if v == M.null then
    if node.nullable then return nil end
    return ("%s must not be null"):format(path == "" and "the body" or path), path, "value"
  end
  if node.any_of then
    local msg, at, kind = check_any_of(S, node, v, path, ctx)
    if msg then return msg, at, kind end
  end
  local want = node.type
  if want == nil and node.properties and type(v) == "table" then want = "object" end
  if want and not fits_type(want, v) then
    local where = path == "" and "the body" or path
    if want == "integer" and type(v) == "number" and is_finite(v) then
      return ("%s must be a whole number (got %s)"):format(where, show(v)), path, "value"
    end
    return ("%s must be %s (got %s)"):format(where, TYPE_WORDS[want] or want, show(v)), path, "value"
  end
  if node.enum then
    local ok = false
    for _, e in ipairs(node.enum) do if e == v then ok = true break end end
    if not ok then
      local list = {}
      for i, e in ipairs(node.enum) do list[i] = type(e) == "string" and ("%q"):format(e) or tostring(e) end
      return ("%s must be one of %s (got %s)"):format(path == "" and "the value" or path,
        table.concat(list, ", "), show(v)), path, #list == 1 and "discriminator" or "value"
    end
  end
  local t = type(v)
  if t == "string" then
    if ctx.direction == "request" and compat.utf8_len(v) == nil then
      return ("%s must be UTF-8 text (got bytes that are not)"):format(path), path, "value"
    end
    local f = node.format and FORMATS[node.format]
    if f and ctx.formats ~= false then
      local ok, what = f(v)
      if not ok then return ("%s must be %s (got %s)"):format(path, what, show(v)), path, "value" end
    end
    local len = (node.min_length or node.max_length) and (compat.utf8_len(v) or #v)
    if node.min_length and len < node.min_length then
      return ("%s must be at least %d characters long (got %d)"):format(path, node.min_length, len), path, "value"
    end
    if node.max_length and len > node.max_length then
      return ("%s must be at most %d characters long (got %d)"):format(path, node.max_length, len), path, "value"
    end
  elseif t == "number" then
    if node.minimum and v < node.minimum then
      return ("%s must be at least %s (got %s)"):format(path, tostring(node.minimum), show(v)), path, "value"
    end
    if node.maximum and v > node.maximum then
      return ("%s must be at most %s (got %s)"):format(path, tostring(node.maximum), show(v)), path, "value"
    end
  elseif t == "table" then
    if want == "array" or (want == nil and node.items) then
      local n = #v
      if node.min_items and n < node.min_items then
        return ("%s must have at least %d item%s (got %d)"):format(path, node.min_items,
          node.min_items == 1 and "" or "s", n), path, "value"
      end
      if node.max_items and n > node.max_items then
        return ("%s must have at most %d items (got %d)"):format(path, node.max_items, n), path, "value"
      end
      if node.items then
        for i = 1, n do
          local msg, at, kind = check(S, node.items, v[i], join_path(path, i), ctx)
          if msg then return msg, at, kind end
        end
      end
    elseif want == "object" or node.properties or (node.required and is_object(v)) then
      local msg, at, kind = check_object(S, node, v, path, ctx)
      if msg then return msg, at, kind end
    end
  end
  return nil
end

--- Check a Lua value against a schema node.
-- @tparam table S a schema module (`schema.load`)
-- @tparam table node a node of it (an operation's `body.schema`, a query parameter, ...)
-- @param value the value
-- @tparam[opt] table opts `direction` (`"request"`, the default: unlisted and read-only fields
--   refused; or `"response"`), `path` (prefix of the field path in messages), `names` (API
--   field name → the name the user wrote, for the top level), `unknown = "allow"` (accept
--   unlisted fields in a request), `read_only = "allow"`, `formats = false` (skip formats)
-- @treturn[1] nil the value fits
-- @treturn[2] string the message (`"filters[2].selected_range.lower must be ..."`)
-- @treturn[2] string the field path
function M.check(S, node, value, opts)
  opts = opts or {}
  local ctx = { direction = opts.direction or "request", names = opts.names,
    unknown = opts.unknown, read_only = opts.read_only, formats = opts.formats }
  return check(S, node, value, opts.path or "", ctx)
end

-- ------------------------------------------------------------------ encode

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function enc_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function enc_number(v)
  if not is_finite(v) then error("cohort.schema.encode: a number is not finite", 0) end
  if compat.math_type(v) == "integer" and (math.type ~= nil or (v > -2^53 and v < 2^53)) then
    return ("%d"):format(v)
  end
  for digits = 14, 17 do
    local s = ("%." .. digits .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
  return ("%.17g"):format(v)
end

local encode

local function enc_array(S, items, t, out)
  out[#out + 1] = "["
  for i = 1, #t do
    if i > 1 then out[#out + 1] = "," end
    encode(S, items, t[i], out)
  end
  out[#out + 1] = "]"
end

local function enc_object(S, node, t, out)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error("cohort.schema.encode: a table mixes keys", 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  out[#out + 1] = "{"
  local props = node and node.properties
  local add = node and type(node.additional) == "table" and node.additional or nil
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = enc_string(k)
    out[#out + 1] = ":"
    encode(S, props and props[k] or add, t[k], out)
  end
  out[#out + 1] = "}"
end

-- The node that describes a table, among the alternatives of an any_of: the first whose kind
-- (array or object) fits.
local function pick(S, node, v)
  for _, alt in ipairs(node.any_of) do
    local a = resolve(S, alt)
    local kind = a.type or (a.properties and "object") or (a.items and "array")
    if (kind == "array" and is_sequence(v)) or (kind == "object" and is_object(v)) then
      return a
    end
  end
  return nil
end

function encode(S, node, v, out)
  if node then node = resolve(S, node) end
  if node and node.any_of and type(v) == "table" then node = pick(S, node, v) end
  local t = type(v)
  if v == M.null or v == nil then out[#out + 1] = "null"
  elseif t == "string" then out[#out + 1] = enc_string(v)
  elseif t == "number" then out[#out + 1] = enc_number(v)
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "table" then
    local kind = node and (node.type or (node.properties and "object") or (node.items and "array"))
    if kind == nil then
      if getmetatable(v) == ARRAY_MT or (v[1] ~= nil and is_sequence(v)) then kind = "array"
      else kind = "object" end
    end
    if kind == "array" then enc_array(S, node and node.items, v, out)
    else enc_object(S, node, v, out) end
  else
    error("cohort.schema.encode: cannot encode a " .. t, 0)
  end
end

--- Encode a Lua value as JSON text, by a schema node: a table the schema calls an array is
-- `[]` when empty, object keys come out sorted, integers without a fraction.
-- @tparam table S a schema module, or nil to encode by the values alone
-- @tparam[opt] table node the node describing `value`
-- @param value the value (`schema.null` for JSON null)
-- @treturn string JSON text
function M.encode(S, node, value)
  local out = {}
  encode(S, node, value, out)
  return table.concat(out)
end

return M
