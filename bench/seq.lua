-- Sequential case, the Lua side: N calls one after the other, over one kept-alive connection
-- where the client allows it. Prints the seconds the N calls took (after one warm-up call).
--
--   lua seq.lua cohort|luasocket BASE_URL IDS_FILE N TOKEN
--
-- cohort:    p.submissions:get(id) — a real Submission object each time.
-- luasocket: socket.http.request with a table sink, then cjson.decode, which is what a script
--            on LuaSocket does (LuaSocket's http sends "Connection: close": one connection per
--            call, it cannot keep one alive).
local mode, base, ids_file, n, token = arg[1], arg[2], arg[3], math.tointeger(tonumber(arg[4])), arg[5]
assert(mode and base and ids_file and n and token, "usage: seq.lua MODE BASE IDS N TOKEN")

local ids = {}
for line in io.lines(ids_file) do if line ~= "" then ids[#ids + 1] = line end end

local clock
do
  local ok, core = pcall(require, "cohort.core")
  if ok then clock = core.monotime else
    local socket = require "socket"
    clock = socket.gettime
  end
end

local call
if mode == "cohort" then
  local p = require("cohort").prolific { token = token, base_url = base }
  call = function(id)
    local sub = assert(p.submissions:get(id))
    assert(sub.id)
  end
elseif mode == "luasocket" then
  local http = require "socket.http"
  local ltn12 = require "ltn12"
  local cjson = require "cjson"
  local headers = { ["Authorization"] = "Token " .. token, ["Accept"] = "application/json" }
  call = function(id)
    local out = {}
    local ok, code = http.request { url = base .. "/api/v1/submissions/" .. id .. "/",
      headers = headers, sink = ltn12.sink.table(out) }
    assert(ok and code == 200, "luasocket: " .. tostring(code))
    local sub = cjson.decode(table.concat(out))
    assert(sub.id)
  end
else
  error("unknown mode " .. tostring(mode))
end

call(ids[1]) -- warm-up: opens the connection
local t0 = clock()
for i = 1, n do call(ids[(i - 1) % #ids + 1]) end
print(string.format("%.6f", clock() - t0))
