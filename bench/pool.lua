-- The sandbox's participant pool: generation time and retained memory by size, and the cost of
-- an eligibility count and a draw over it (not part of `make bench`'s report; run it alone):
--
--   eval "$(make -s env)" && lua5.4 bench/pool.lua [size ...]     (default 30000 100000)
--
-- Times are CPU seconds (os.clock), the median of 5 runs; memory is what the Lua heap keeps
-- after a full collection, less what it held before the pool was made.
local pool = require "cohort.sandbox.pool"

local sizes = {}
for i, a in ipairs(arg) do sizes[i] = assert(math.tointeger(tonumber(a)), "sizes are whole numbers") end
if #sizes == 0 then sizes = { 30000, 100000 } end

local NOW = 1735689600
local FILTERS = { { filter_id = "current-country-of-residence", selected_values = { "0", "1" } },
  { filter_id = "age", selected_range = { lower = 25, upper = 40 } },
  { filter_id = "approval_rate", selected_range = { lower = 98 } } }

local function median(f)
  local t = {}
  for i = 1, 5 do
    collectgarbage("collect")
    local t0 = os.clock()
    f()
    t[i] = os.clock() - t0
  end
  table.sort(t)
  return t[3]
end

print("| members | generation (s) | heap kept (MiB) | count, 3 filters (s) | draw 500 (s) |")
print("|---:|---:|---:|---:|---:|")
for _, n in ipairs(sizes) do
  local gen = median(function() pool.new { seed = 1, size = n, now = NOW } end)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local p = pool.new { seed = 1, size = n, now = NOW }
  collectgarbage("collect")
  local kept = (collectgarbage("count") - before) / 1024
  local count = median(function() p:count(FILTERS) end)
  local draw = median(function() p:draw(FILTERS, 500, nil, 1) end)
  print(("| %d | %.3f | %.1f | %.4f | %.4f |"):format(n, gen, kept, count, draw))
end
