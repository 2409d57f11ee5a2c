-- A scripted list server for the paging specs (spec/paging_spec.lua), run by the sandbox
-- program itself: the spec starts `cohort-sandbox` with this directory first on LUA_PATH, so `require "cohort.sandbox.server"` finds this module instead of the sandbox's
-- application. It answers GET /api/v1/submissions/ with list envelopes the real sandbox never
-- gives, chosen by the `study` query parameter:
--
--   RELATIVE   7 items, 3 a page; `next` links relative to the page: "/api/v1/…?page=2" (a
--              path), then "?study=…&page=3" (a query)
--   AWAY       a `next` link to another origin
--   RESULTS_5  {"results": 5}
--   ITEMS      {"results": [1, 2]}
--   COUNT      {"results": [], "meta": {"count": "many"}}
--   ARRAY      [1, 2, 3]
local M = {}

M.RELATIVE = "64c000000000000000000001"
M.AWAY = "64c000000000000000000002"
M.RESULTS_5 = "64c000000000000000000003"
M.ITEMS = "64c000000000000000000004"
M.COUNT = "64c000000000000000000005"
M.ARRAY = "64c000000000000000000006"

local ARRAY = {} -- marks a table that is a JSON array even when empty

local function json(v)
  local t = type(v)
  if t == "table" then
    if v[1] ~= nil or getmetatable(v) == ARRAY then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = json(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = ("%q:%s"):format(k, json(v[k])) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if t == "string" then return ("%q"):format(v) end
  if v == nil then return "null" end
  return tostring(v)
end

local function item(i)
  return { id = ("64d%021d"):format(i), status = "AWAITING REVIEW", participant_id = ("64e%021d"):format(i) }
end

local function page_of(n, size, page)
  local results = setmetatable({}, ARRAY)
  for i = (page - 1) * size + 1, math.min(page * size, n) do results[#results + 1] = item(i) end
  return results
end

local App = {}
App.__index = App

function App:handle(req)
  local path, query = req.uri:match("^([^?]*)%??(.*)$")
  local q = {}
  for k, v in query:gmatch("([^&=]+)=([^&]*)") do q[k] = v end
  local function answer(status, body)
    return status, { ["Content-Type"] = "application/json" }, type(body) == "string" and body or json(body)
  end
  if path ~= "/api/v1/submissions/" then return answer(404, { error = { detail = "Not found." } }) end
  local page = tonumber(q.page) or 1
  if q.study == M.RELATIVE then
    local nexts = { "/api/v1/submissions/?study=" .. M.RELATIVE .. "&page=2",
      "?study=" .. M.RELATIVE .. "&page=3" }
    if page > 3 then return answer(404, { error = { detail = "Invalid page." } }) end
    return answer(200, { results = page_of(7, 3, page), meta = { count = 7 },
      _links = { next = { href = nexts[page] } } })
  elseif q.study == M.AWAY then
    return answer(200, { results = page_of(6, 3, page), meta = { count = 6 },
      _links = { next = { href = "http://127.0.0.2:9/api/v1/submissions/?page=2" } } })
  elseif q.study == M.RESULTS_5 then
    return answer(200, '{"results":5}')
  elseif q.study == M.ITEMS then
    return answer(200, '{"results":[1,2]}')
  elseif q.study == M.COUNT then
    return answer(200, '{"results":[],"meta":{"count":"many"}}')
  elseif q.study == M.ARRAY then
    return answer(200, "[1,2,3]")
  end
  return answer(404, { error = { detail = "Unknown scenario." } })
end

--- The app for csrc/sandbox.c: `--port N` is the only option read.
function M.new(argv)
  local app = setmetatable({ host = "127.0.0.1", port = 0 }, App)
  for i = 1, #argv do
    if argv[i] == "--port" then app.port = math.tointeger(tonumber(argv[i + 1])) or 0 end
  end
  return app
end

return M
