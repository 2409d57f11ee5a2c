-- Concurrent case, cohort: N calls of p.submissions:get with C in flight, through
-- p:map(ids, fn, {concurrency = C}) (tasks on one libcurl multi handle).
-- Prints the seconds the N calls took (after a warm-up round that opens the C connections).
--
--   lua conc.lua BASE_URL IDS_FILE N C TOKEN
local base, ids_file, n, c, token = arg[1], arg[2], math.tointeger(tonumber(arg[3])),
  math.tointeger(tonumber(arg[4])), arg[5]
assert(base and ids_file and n and c and token, "usage: conc.lua BASE IDS N C TOKEN")
local core = require "cohort.core"
local p = require("cohort").prolific { token = token, base_url = base, max_connections = c }

local ids = {}
for line in io.lines(ids_file) do if line ~= "" then ids[#ids + 1] = line end end
local work = {}
for i = 1, n do work[i] = ids[(i - 1) % #ids + 1] end

-- Each call gets a Submission object and keeps its id, as the other clients do (py_bench.py
-- returns r.json()["id"]; raw_multi keeps nothing): what is measured is the cost of a call, not
-- of holding 5,000 objects.
local function get(id)
  local sub, err = p.submissions:get(id)
  if sub == nil then return nil, err end
  return sub.id
end

local function run(list)
  local subs, errors = p:map(list, get, { concurrency = c })
  assert(errors.count == 0, "concurrent: " .. tostring(errors[next(errors)]))
  assert(subs.n == #list and type(subs[#list]) == "string")
end

local warm = {}
for i = 1, c do warm[i] = ids[i] end
run(warm)
local t0 = core.monotime()
run(work)
print(string.format("%.6f", core.monotime() - t0))
