-- Shared helpers of the sandbox's Lua side: JSON (through a private lua-cjson instance),
-- URL decoding, query strings, responses and the error envelopes of both platforms.
local cjson_mod = require "cjson"

local M = {}

local cjson = cjson_mod.new()
cjson.encode_sparse_array(true)
cjson.decode_max_depth(200)
cjson.encode_max_depth(200)

M.null = cjson.null

-- lua-cjson 2.1.0 encodes an empty table as {}. Tables marked with M.array() encode as []
-- even when empty: they are swapped for a sentinel string before encoding, and the sentinel's
-- JSON text is replaced by [] afterwards. The mark is cohort.schema's, so that the schema's
-- encoder (which builds the Prolific answers) keeps them arrays too.
local schema = require "cohort.schema"
local ARRAY_MT = getmetatable(schema.array())
local SENTINEL = "\1cohort-sandbox-empty-array\1"
local SENTINEL_JSON = cjson.encode(SENTINEL)

M.array = schema.array


local function prepare(v)
  if type(v) ~= "table" then return v end
  if getmetatable(v) == ARRAY_MT and next(v) == nil then return SENTINEL end
  local out = {}
  for k, x in pairs(v) do out[k] = prepare(x) end
  return out
end

function M.encode(v)
  local s = cjson.encode(prepare(v))
  if s:find(SENTINEL_JSON, 1, true) then
    s = s:gsub(SENTINEL_JSON:gsub("%p", "%%%0"), "[]")
  end
  -- lua-cjson escapes "/" as "\/"; every "/" it emits is so escaped, so this is exact.
  if s:find("\\/", 1, true) then s = s:gsub("\\/", "/") end
  return s
end

--- Encode a value, writing `[]` for the empty tables listed in `holes` ({parent, key, ...}
-- triples: parent[key] is the empty table) and any empty table marked with M.array; the value
-- is not copied (the listed tables are swapped for the sentinel while lua-cjson writes, then put
-- back).
function M.encode_holes(v, holes)
  local n = #holes
  for i = 1, n, 3 do holes[i][holes[i + 1]] = SENTINEL end
  local ok, s = pcall(cjson.encode, v)
  for i = 1, n, 3 do holes[i][holes[i + 1]] = holes[i + 2] end
  if not ok then error(s, 0) end
  if n > 0 then s = s:gsub(SENTINEL_JSON:gsub("%p", "%%%0"), "[]") end
  if s:find("\\/", 1, true) then s = s:gsub("\\/", "/") end
  return s
end

-- Returns the value, or nil and a message.
function M.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil, tostring(v)
end

function M.deepcopy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.deepcopy(x) end
  return setmetatable(out, getmetatable(v))
end

function M.unescape(s, plus)
  if plus then s = s:gsub("+", " ") end
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- "a=1&b=x+y" → { a = "1", b = "x y" } (the first value wins for repeated keys) and an array
-- of { name, value } pairs in order.
function M.parse_query(qs)
  local map, list = {}, {}
  if not qs or qs == "" then return map, list end
  for part in qs:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    if not k then k, v = part, "" end
    k, v = M.unescape(k, true), M.unescape(v, true)
    list[#list + 1] = { k, v }
    if map[k] == nil then map[k] = v end
  end
  return map, list
end

-- Builds a query string from an array of { name, value } pairs.
function M.build_query(pairs_list)
  local out = {}
  for _, p in ipairs(pairs_list) do
    out[#out + 1] = M.escape(p[1]) .. "=" .. M.escape(p[2])
  end
  return table.concat(out, "&")
end

-- "/api/v1/x%2Fy/?q" → path "/api/v1/x%2Fy/", query "q", segments { "api", "v1", "x/y" }.
-- Segments are decoded one by one after splitting, so an encoded "/" or ".." never changes the
-- route. Empty segments at either end (leading "/", trailing "/") are dropped.
function M.split_uri(uri)
  local path, query = uri:match("^([^?#]*)%??([^#]*)")
  path = path or "/"
  local segs = {}
  for seg in (path .. "/"):gmatch("([^/]*)/") do segs[#segs + 1] = seg end
  while segs[1] == "" do table.remove(segs, 1) end
  while #segs > 0 and segs[#segs] == "" do segs[#segs] = nil end
  for i, s in ipairs(segs) do segs[i] = M.unescape(s, false) end
  return path, query, segs
end

-- Matches segments against a pattern array; "{name}" captures. Returns the captures or nil.
function M.match(pattern, segs, from)
  from = from or 1
  if #segs - from + 1 ~= #pattern then return nil end
  local caps = {}
  for i, p in ipairs(pattern) do
    local s = segs[from + i - 1]
    local name = p:match("^{(.+)}$")
    if name then
      if s == "" then return nil end
      caps[name] = s
    elseif p ~= s then
      return nil
    end
  end
  return caps
end

-- Splits "users/{id}/me" into a pattern array.
function M.pattern(s)
  local out = {}
  for seg in s:gmatch("[^/]+") do out[#out + 1] = seg end
  return out
end

-- Runs a route table: rows { method, "path/{x}/", handler }. Returns handler results, or
-- nil, "not_found" / nil, "method_not_allowed", allowed.
--- Answer a request from a route table with Prolific's envelope for a wrong method (405, with
-- Allow) or an unknown path (404). `from`: the first path segment the table's patterns match.
function M.dispatch_prolific(routes, ctx, from)
  local ok, handler, caps = M.route(routes, ctx.req, ctx.segs, from)
  if ok then return handler(ctx, caps) end
  if handler == "method_not_allowed" then
    local status, headers, body = M.prolific_error(405,
      string.format('Method "%s" not allowed.', ctx.req.method))
    headers.Allow = table.concat(caps, ", ")
    return status, headers, body
  end
  return M.prolific_error(404, "Not found: " .. ctx.path)
end

-- Returns true, the handler, the captures and the row; or false and "not_found" /
-- "method_not_allowed" and the allowed methods.
function M.route(routes, req, segs, from)
  local allowed = {}
  for _, r in ipairs(routes) do
    r.segs = r.segs or M.pattern(r[2])
    local caps = M.match(r.segs, segs, from)
    if caps then
      if r[1] == req.method or (r[1] == "GET" and req.method == "HEAD") then
        return true, r[3], caps, r
      end
      allowed[#allowed + 1] = r[1]
    end
  end
  if #allowed > 0 then return false, "method_not_allowed", allowed end
  return false, "not_found"
end

-- A JSON answer whose encoding is left to the dispatcher: a Prolific route's answer is encoded
-- by the operation's success schema (cohort.sandbox.prolific_contract), so that the arrays of
-- the spec stay arrays even when empty, and checked against it in --strict mode. Anything
-- else (control and QuestionPro routes, error statuses) is encoded as M.json does.
local ANSWER_MT = { __name = "cohort.sandbox.answer" }

function M.answer(status, value, extra_headers)
  local h = { ["Content-Type"] = "application/json" }
  for k, v in pairs(extra_headers or {}) do h[k] = v end
  return status, h, setmetatable({ value = value }, ANSWER_MT)
end

function M.is_answer(body)
  return getmetatable(body) == ANSWER_MT
end

-- The body text of a handler's answer (an M.answer, or already text).
function M.body_text(body)
  if getmetatable(body) == ANSWER_MT then return M.encode(body.value) end
  return body
end

function M.json(status, value, extra_headers)
  local h = { ["Content-Type"] = "application/json" }
  for k, v in pairs(extra_headers or {}) do h[k] = v end
  return status, h, M.encode(value)
end

local TITLES = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
  [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}
M.TITLES = TITLES

function M.title(status)
  return TITLES[status] or ("HTTP " .. tostring(status))
end

-- Prolific's error codes by status (Prolific's own numbering is not public; these are stable
-- and documented in the sandbox only).
local PROLIFIC_CODES = {
  [400] = 140000, [401] = 140101, [403] = 140300, [404] = 140100, [405] = 140500,
  [409] = 140900, [429] = 142900, [500] = 150000, [502] = 150200, [503] = 150300,
}

-- Prolific's nested envelope. detail: a string, an array of strings, or field → messages.
function M.prolific_error(status, detail, title, code)
  code = code or PROLIFIC_CODES[status] or (100000 + status * 100)
  return M.json(status, { error = {
    status = status,
    error_code = code,
    title = title or M.title(status),
    detail = detail or M.title(status),
    additional_information = "/api/v1/errors/" .. code,
    traceback = "sandbox-" .. string.format("%08x", math.random(0, 0x7fffffff)),
    interactive = false,
  } })
end

local QP = {
  [400] = { 1000, "Bad Request", "Invalid URL parameters" },
  [401] = { 1010, "Unauthorized", "Incorrect API Key" },
  [403] = { 1011, "Forbidden", "Permission not granted" },
  [404] = { 1000, "Not Found", "Resource not found" },
  [405] = { 1000, "Method Not Allowed", "Method not allowed" },
  [429] = { 1013, "Too Many Requests", "API call limit exceeded" },
  [500] = { 1500, "Internal Server Error", "Internal server error" },
}

-- QuestionPro's envelope; resource_url echoes the request URL as the real API does.
function M.questionpro_error(status, resource_url, message, id)
  local e = QP[status] or { status, M.title(status), M.title(status) }
  return M.json(status, { response = { error = {
    docs = "https://www.questionpro.com/api/error-codes.html",
    name = e[2],
    httpStatusCode = status,
    id = id or e[1],
    message = message or e[3],
    resourceUrl = resource_url,
  } } })
end

return M
