-- Decode case: a 10,000-submission list (about 3 MB of JSON) into objects.
--
--   lua decode.lua MODE LIST_FILE ITERATIONS [BASE_URL TOKEN]
--
-- MODE
--   cjson   bare cjson.decode(text)                                   (the reference)
--   core    cohort.core.decode(text): cohort's own one-pass decoder (csrc/core_json.c)
--   cohort  p.submissions:list{page_size = 10000}: the whole Page path (resource layer,
--           Client:page, Client:decode, wrapping every item as a Submission), with the
--           client's transport replaced by the canned text so only decoding is measured
--   http    the same list fetched from the server (BASE_URL) for real: transfer included
-- Each iteration starts from a full garbage collection and keeps its result alive until its
-- clock stops. Prints the median seconds of one iteration.
local mode, file, iters = arg[1], arg[2], math.tointeger(tonumber(arg[3] or "5"))
assert(mode and file and iters, "usage: decode.lua MODE FILE ITERATIONS [BASE TOKEN]")
local core = require "cohort.core"
local f = assert(io.open(file, "rb"))
local text = f:read("a")
f:close()

local run
if mode == "cjson" then
  local cjson = require "cjson"
  run = function()
    local v = cjson.decode(text)
    assert(#v.results == 10000)
    return v
  end
elseif mode == "core" then
  run = function()
    local v = core.decode(text)
    assert(#v.results == 10000)
    return v
  end
elseif mode == "cohort" or mode == "http" then
  local p = require("cohort").prolific { token = arg[5] or "bench-token", base_url = arg[4] or "http://127.0.0.1:9" }
  if mode == "cohort" then
    -- the transport answers with the canned text; decoding stays Client:decode's
    p.send = function(self)
      local value, err = self:decode { status = 200, body = text }
      if value == nil then return nil, err end
      return value, { status = 200, headers = {} }
    end
  end
  run = function()
    local page = assert(p.submissions:list { page_size = 200 }) -- the canned page holds 10,000 all the same
    assert(#page == 10000 and getmetatable(page[1]) and page[10000].id)
    return page
  end
else
  error("unknown mode " .. tostring(mode))
end

local times = {}
for i = 1, iters do
  collectgarbage("collect")
  local t0 = core.monotime()
  local keep = run()
  times[i] = core.monotime() - t0
  keep = nil -- luacheck: ignore
end
table.sort(times)
print(string.format("%.6f", times[(iters + 1) // 2]))
