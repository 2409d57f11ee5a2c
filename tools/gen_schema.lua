-- Generates lua/cohort/schema/prolific.lua from Prolific's OpenAPI file: the paths, parameters,
-- bodies, success statuses and response shapes of the 85 operations cohort covers, in a compact
-- form that the client (checks and JSON encoding) and the sandbox (validation and answers) both
-- read. The departures from the spec are the rows of tools/schema_overrides.lua, each with its
-- reason.
--
--   lua5.4 tools/gen_schema.lua [spec.json] > lua/cohort/schema/prolific.lua
--
-- The default input is ../shared/api/prolific-openapi-2025.json when it exists, else the copy
-- in spec/fixtures/. spec/schema_spec.lua regenerates the module and fails if the result differs
-- from the committed file. Output is deterministic: keys sorted, no time stamps.
local cjson = require "cjson"

local OUT_OF_SCOPE = {
  -- the AI Task Builder family and the deprecated requirements list are not covered (api/README.md)
  prefix = "/api/v1/data-collection/",
  ops = { ["GET /api/v1/eligibility-requirements/"] = true },
}

local input = arg[1]
if not input then
  local f = io.open("../shared/api/prolific-openapi-2025.json", "rb")
  if f then f:close(); input = "../shared/api/prolific-openapi-2025.json"
  else input = "spec/fixtures/prolific-openapi-2025.json" end
end
local f = assert(io.open(input, "rb"))
local text = f:read("a")
f:close()
local spec = cjson.decode(text)
local overrides = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/schema_overrides.lua")

local null = cjson.null
local function val(x) if x == null then return nil end return x end

local function sha256(s)
  local tmp = os.tmpname()
  local h = assert(io.open(tmp, "wb")); h:write(s); h:close()
  local p = assert(io.popen("sha256sum " .. tmp))
  local sum = p:read("l"):match("^(%x+)")
  p:close()
  os.remove(tmp)
  return sum
end

local components = spec.components.schemas

local function fail(fmt, ...)
  io.stderr:write("gen_schema: ", fmt:format(...), "\n")
  os.exit(1)
end

local function ref_name(r)
  local name = r:match("^#/components/schemas/(.+)$")
  if not name or not components[name] then fail("unresolved $ref %s", r) end
  return name
end

-- ------------------------------------------------------------------ conversion

-- A converted node: type, format, enum, nullable, read_only, properties, required (sorted),
-- additional (false | true | node), items, any_of (+ one_of = true), ref, minimum, maximum,
-- min_length, max_length, min_items, max_items, default.
local convert

local SCALARS = { minimum = "minimum", maximum = "maximum", minLength = "min_length",
  maxLength = "max_length", minItems = "min_items", maxItems = "max_items",
  minProperties = "min_properties" }

local function merge_into(dst, src)
  for k, v in pairs(src) do
    if k == "properties" then
      dst.properties = dst.properties or {}
      for pk, pv in pairs(v) do dst.properties[pk] = pv end
    elseif k == "required" then
      local set = {}
      for _, r in ipairs(dst.required or {}) do set[r] = true end
      for _, r in ipairs(v) do set[r] = true end
      local list = {}
      for r in pairs(set) do list[#list + 1] = r end
      table.sort(list)
      dst.required = list
    elseif dst[k] == nil then
      dst[k] = v
    end
  end
end

-- allOf: the union of the parts, with $refs resolved (OpenAPI's intent: one object with every
-- part's properties). A lone $ref with only a description around it stays a ref.
local function convert_all_of(x, depth)
  local parts = x.allOf
  local only_ref = #parts == 1 and parts[1]["$ref"]
  local node
  if only_ref then
    node = { ref = ref_name(only_ref) }
  else
    node = {}
    for _, part in ipairs(parts) do
      local c = convert(part, depth + 1)
      if c.ref then c = convert(components[c.ref], depth + 1) end
      merge_into(node, c)
    end
  end
  local rest = {}
  for k, v in pairs(x) do if k ~= "allOf" then rest[k] = v end end
  local own = convert(rest, depth + 1)
  if only_ref and (own.properties or own.required or own.enum) then
    local c = convert(components[node.ref], depth + 1)
    node = {}
    merge_into(node, c)
  end
  merge_into(node, own)
  return node
end

function convert(x, depth)
  depth = depth or 0
  if depth > 60 then fail("schema nests too deep") end
  if type(x) ~= "table" then fail("schema is not an object") end
  if x["$ref"] then
    local node = { ref = ref_name(x["$ref"]) }
    if val(x.nullable) then node.nullable = true end
    return node
  end
  if x.allOf then return convert_all_of(x, depth) end
  local node = {}
  local alts = x.anyOf or x.oneOf
  if alts then
    node.any_of = {}
    for i, a in ipairs(alts) do node.any_of[i] = convert(a, depth + 1) end
    if x.oneOf then node.one_of = true end
  end
  if type(val(x.type)) == "string" then node.type = x.type end
  if type(val(x.format)) == "string" then node.format = x.format end
  if val(x.nullable) == true then node.nullable = true end
  if val(x.readOnly) == true then node.read_only = true end
  if type(val(x.enum)) == "table" then
    node.enum = {}
    for i, e in ipairs(x.enum) do node.enum[i] = val(e) end
  end
  for from, to in pairs(SCALARS) do
    if type(val(x[from])) == "number" then node[to] = x[from] end
  end
  local d = val(x.default)
  if d ~= nil and type(d) ~= "table" then node.default = d end
  if type(val(x.properties)) == "table" then
    node.properties = {}
    for k, v in pairs(x.properties) do node.properties[k] = convert(v, depth + 1) end
  end
  if type(val(x.required)) == "table" and #x.required > 0 then
    node.required = {}
    for i, r in ipairs(x.required) do node.required[i] = r end
    table.sort(node.required)
  end
  local ap = val(x.additionalProperties)
  if ap == false then node.additional = false
  elseif type(ap) == "table" then
    local c = convert(ap, depth + 1)
    node.additional = next(c) and c or true
  end
  if type(val(x.items)) == "table" then node.items = convert(x.items, depth + 1) end
  return node
end

-- ------------------------------------------------------------------ the operations

local operations, used_overrides = {}, {}
local n_ops = 0

local function op_key(method, path) return method:upper() .. " " .. path end

local name_of = {}
for i, o in ipairs(overrides) do
  if o.name then name_of[o.op] = { name = o.name, row = i } end
end

local function success_of(responses)
  local codes = {}
  for code in pairs(responses) do
    local n = tonumber(code)
    if n and n >= 200 and n < 300 then codes[#codes + 1] = n end
  end
  table.sort(codes)
  if #codes == 0 then fail("no success status") end
  local status = codes[1]
  local r = responses[tostring(status)]
  local content = val(r.content)
  local out = { status = status, schema = false }
  if content then
    local media = {}
    for m in pairs(content) do media[#media + 1] = m end
    table.sort(media)
    out.media = media
    local json = content["application/json"]
    if json and val(json.schema) then
      out.schema = convert(json.schema)
    elseif content["text/csv"] then
      out.schema = { type = "string" }
    end
  end
  return out
end

local function params_of(path_item, op)
  local all = {}
  for _, p in ipairs(val(path_item.parameters) or {}) do all[#all + 1] = p end
  for _, p in ipairs(val(op.parameters) or {}) do all[#all + 1] = p end
  local path_params, query, query_required = {}, {}, {}
  for _, p in ipairs(all) do
    if p["$ref"] then fail("parameter $ref not supported") end
    if p["in"] == "path" then
      path_params[p.name] = convert(val(p.schema) or { type = "string" })
    elseif p["in"] == "query" then
      query[p.name] = convert(val(p.schema) or { type = "string" })
      if val(p.required) then query_required[#query_required + 1] = p.name end
    end
  end
  table.sort(query_required)
  return path_params, query, query_required
end

for path, item in pairs(spec.paths) do
  for method, op in pairs(item) do
    if ({ get = 1, post = 1, put = 1, patch = 1, delete = 1 })[method] then
      local key = op_key(method, path)
      if not path:find(OUT_OF_SCOPE.prefix, 1, true) and not OUT_OF_SCOPE.ops[key] then
        local id = val(op.operationId)
        if name_of[key] then
          id = name_of[key].name
          used_overrides[name_of[key].row] = true
        end
        if not id then fail("%s has no operationId and no override names it", key) end
        if operations[id] then fail("operationId %s twice", id) end
        local path_params, query, query_required = params_of(item, op)
        local order = {}
        for name in path:gmatch("{([^}]*)}") do
          if not path_params[name] then fail("%s: path parameter %s undeclared", id, name) end
          order[#order + 1] = { name = name, schema = path_params[name] }
        end
        local body
        local rb = val(op.requestBody)
        if rb then
          local content = val(rb.content) or {}
          local media = content["application/json"]
          if not media then fail("%s: request body is not JSON", id) end
          body = { schema = convert(val(media.schema) or {}), required = val(rb.required) == true }
        end
        local summary = val(op.summary)
        operations[id] = {
          method = method:upper(), path = path, summary = summary, tags = val(op.tags),
          path_params = order, query = query, query_required = query_required, body = body,
          success = success_of(op.responses),
        }
        n_ops = n_ops + 1
      end
    end
  end
end

-- ------------------------------------------------------------------ overrides

local function walk_nodes(node, fn, seen)
  if type(node) ~= "table" then return end
  seen = seen or {}
  if seen[node] then return end
  seen[node] = true
  for name, child in pairs(node.properties or {}) do
    fn(name, child, node)
    walk_nodes(child, fn, seen)
  end
  if type(node.items) == "table" then walk_nodes(node.items, fn, seen) end
  if type(node.additional) == "table" then walk_nodes(node.additional, fn, seen) end
  for _, a in ipairs(node.any_of or {}) do walk_nodes(a, fn, seen) end
end

-- Converted components, only those the operations reach (computed after overrides that add refs).
local schemas = {}
for name, s in pairs(components) do schemas[name] = convert(s) end

local function set_format(node, format)
  local target = node
  if node.type == "array" and type(node.items) == "table" then target = node.items end
  if target.ref or target.any_of then return false end
  if target.type == "string" and target.format == nil then
    target.format = format
    return true
  end
  return false
end

local function node_at(root, field)
  local node = root
  if field == "" then return node end
  for part in field:gmatch("[^.]+") do
    if part == "[]" then node = node.items
    else node = node.properties and node.properties[part] end
    if node == nil then return nil end
  end
  return node
end

for i, o in ipairs(overrides) do
  if o.ids then
    local set = {}
    for _, n in ipairs(o.ids) do set[n] = true end
    local hit = false
    local function fix(name, child)
      if set[name] and set_format(child, o.format) then hit = true end
    end
    for _, s in pairs(schemas) do walk_nodes(s, fix) end
    for _, op in pairs(operations) do
      for name, q in pairs(op.query) do fix(name, q) end
      if op.body then walk_nodes(op.body.schema, fix) end
      if op.success.schema then walk_nodes(op.success.schema, fix) end
    end
    if hit then used_overrides[i] = true end
  elseif o.path_params then
    for _, op in pairs(operations) do
      for _, p in ipairs(op.path_params) do
        if p.schema.format == nil then p.schema.format = o.path_params; used_overrides[i] = true end
      end
    end
  elseif o.schema then
    local root = schemas[o.schema] or fail("override %d: no schema %s", i, o.schema)
    local node = node_at(root, o.field) or fail("override %d: no field %s in %s", i, o.field, o.schema)
    for k, v in pairs(o.patch) do node[k] = v end
    used_overrides[i] = true
  elseif o.op and not o.name then
    local op = operations[o.op] or fail("override %d: no operation %s", i, o.op)
    if o.query_drop then
      for _, q in ipairs(o.query_drop) do
        if not op.query[q] then fail("override %d: %s has no query parameter %s", i, o.op, q) end
        op.query[q] = nil
        for j = #op.query_required, 1, -1 do
          if op.query_required[j] == q then table.remove(op.query_required, j) end
        end
      end
    end
    if o.query then for k, v in pairs(o.query) do op.query[k] = v end end
    if o.paging then op.paging = o.paging end
    if o.body ~= nil then op.body = o.body or nil end
    if o.success then op.success = o.success end
    used_overrides[i] = true
  end
end
for i, o in ipairs(overrides) do
  if not used_overrides[i] then fail("override %d (%s) matches nothing", i, o.why) end
end

-- Keep only the components the operations reach.
local reached = {}
local function reach(node)
  if type(node) ~= "table" then return end
  if node.ref and not reached[node.ref] then
    reached[node.ref] = true
    reach(schemas[node.ref])
  end
  for _, c in pairs(node.properties or {}) do reach(c) end
  reach(node.items)
  if type(node.additional) == "table" then reach(node.additional) end
  for _, a in ipairs(node.any_of or {}) do reach(a) end
end
for _, op in pairs(operations) do
  for _, p in ipairs(op.path_params) do reach(p.schema) end
  for _, q in pairs(op.query) do reach(q) end
  if op.body then reach(op.body.schema) end
  if op.success.schema then reach(op.success.schema) end
end
for name in pairs(schemas) do if not reached[name] then schemas[name] = nil end end

-- ------------------------------------------------------------------ output

local KEY_ORDER = { "name", "ref", "type", "format", "nullable", "read_only", "enum", "default",
  "minimum", "maximum", "min_length", "max_length", "min_items", "max_items", "min_properties", "required",
  "additional", "items", "any_of", "one_of", "properties",
  "method", "path", "summary", "tags", "paging", "path_params", "query", "query_required",
  "body", "success", "status", "media", "schema" }
local RANK = {}
for i, k in ipairs(KEY_ORDER) do RANK[k] = i end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") and not ({
    ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
    ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
    ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
    ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1 })[k]
end

local function lit(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.17g"):format(v)
  end
  return tostring(v)
end

local function sorted_keys(t, ranked)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if ranked then
      local ra, rb = RANK[a] or 1000, RANK[b] or 1000
      if ra ~= rb then return ra < rb end
    end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- One-line for small nodes, multi-line for large ones.
local function emit(v, indent, ranked)
  if type(v) ~= "table" then return lit(v) end
  local n = #v
  local parts = {}
  if n > 0 and next(v, n > 0 and n or nil) == nil then
    for i = 1, n do parts[i] = emit(v[i], indent .. "  ", true) end
  else
    for _, k in ipairs(sorted_keys(v, ranked)) do
      local key = is_ident(k) and k or ("[" .. lit(k) .. "]")
      -- a `properties` or `query` table maps field names to nodes: its keys sort by name
      local child_ranked = not (k == "properties" or k == "query" or k == "operations"
        or k == "schemas")
      parts[#parts + 1] = key .. " = " .. emit(v[k], indent .. "  ", child_ranked)
    end
  end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #parts == 0 then return "{}" end
  if #one + #indent <= 96 and not one:find("\n") then return one end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. ",\n"
    .. indent .. "}"
end

local override_list = {}
for i, o in ipairs(overrides) do
  local what
  if o.ids then what = "fields named " .. table.concat(o.ids, ", ") .. ": format " .. o.format
  elseif o.path_params then what = "every path parameter: format " .. o.path_params
  elseif o.schema then what = o.schema .. (o.field ~= "" and ("." .. o.field) or "")
  elseif o.name then what = o.op .. " named " .. o.name
  else
    local bits = {}
    if o.paging then bits[#bits + 1] = "paging " .. o.paging end
    if o.query then
      local q = sorted_keys(o.query)
      bits[#bits + 1] = "query " .. table.concat(q, ", ")
    end
    if o.query_drop then bits[#bits + 1] = "without query " .. table.concat(o.query_drop, ", ") end
    if o.body ~= nil then bits[#bits + 1] = "body" end
    if o.success then bits[#bits + 1] = "success" end
    what = o.op .. ": " .. table.concat(bits, "; ")
  end
  override_list[i] = { op = o.op and not o.op:find(" ") and o.op or nil, what = what, why = o.why }
end

local out = {}
local function w(s) out[#out + 1] = s end
w("-- GENERATED by tools/gen_schema.lua from prolific-openapi-2025.json: do not edit by hand.")
w("-- Regenerate with `lua5.4 tools/gen_schema.lua > lua/cohort/schema/prolific.lua`;")
w("-- spec/schema_spec.lua fails when this file differs from what the generator gives.")
w("--")
w("-- Node fields: type, format (objectId: 24 hexadecimal digits; uuid; date-time; uri; email),")
w("-- nullable, read_only, enum, default, minimum, maximum, min_length, max_length, min_items,")
w("-- max_items, required (sorted), additional (false, true or a node: additionalProperties),")
w("-- items, any_of (one_of = true when the spec says oneOf), ref (a name in `schemas`),")
w("-- properties. An operation: method, path, summary, tags, paging (page | offset), path_params")
w("-- (in path order), query, query_required, body {schema, required}, success {status, media,")
w("-- schema (false: no body)}. `overrides` lists every departure from the spec and its reason")
w("-- (tools/schema_overrides.lua).")
w("-- @module cohort.schema.prolific")
local module = {
  source = { file = "prolific-openapi-2025.json", sha256 = sha256(text),
    title = val(spec.info.title), version = val(spec.info.version), openapi = val(spec.openapi) },
  count = n_ops,
  overrides = override_list,
  operations = operations,
  schemas = schemas,
}
w("return " .. emit(module, "", true))
io.write(table.concat(out, "\n"), "\n")
io.stderr:write(("gen_schema: %d operations, %d schemas, %d overrides\n"):format(n_ops,
  (function() local c = 0 for _ in pairs(schemas) do c = c + 1 end return c end)(), #overrides))
