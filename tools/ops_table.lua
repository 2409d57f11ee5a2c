-- Print the markdown table "operation → Lua method" of docs/prolific.md from the one operations
-- table (lua/cohort/prolific/operations.lua), so the guide never drifts from the code.
--
--   eval "$(make -s env)" && lua5.4 tools/ops_table.lua > /tmp/ops.md
--
-- Rows are grouped by resource family in the order the client attaches them, and by
-- operationId within a family. A paging row named `list` gives `list`/`each`/`all`; another
-- paging row `x` gives `x`/`each_x`/`all_x` (see lua/cohort/resource.lua). A hand-written
-- resource method of the same name (resource_methods of the family module) replaces the
-- generated one; it is marked with a star.
local operations = require "cohort.prolific.operations"

local order, rows = {}, {}
for i, family in ipairs(operations.FAMILIES) do order[family] = i end

for op_id, row in pairs(operations) do
  rows[#rows + 1] = { id = op_id, method = row[1], path = row[2], resource = row[3],
    name = row[4], paging = row.paging }
end

local function family_rank(resource)
  return order[resource] or math.huge
end

table.sort(rows, function(a, b)
  local fa, fb = family_rank(a.resource), family_rank(b.resource)
  if fa ~= fb then return fa < fb end
  return a.id < b.id
end)

local hand = {}
for _, family in ipairs(operations.FAMILIES) do
  local mod = require("cohort.prolific." .. family)
  for name in pairs(mod.resource_methods or {}) do hand[family .. ":" .. name] = true end
end

local function methods(r)
  local star = hand[r.resource .. ":" .. r.name] and "\\*" or ""
  local out = { ("`p.%s:%s()`%s"):format(r.resource, r.name, star) }
  if r.paging then
    local each = r.name == "list" and "each" or "each_" .. r.name
    local all = r.name == "list" and "all" or "all_" .. r.name
    out[#out + 1] = ("`:%s()`"):format(each)
    out[#out + 1] = ("`:%s()`"):format(all)
  end
  return table.concat(out, ", ")
end

print("| operationId | HTTP | path | Lua | paging |")
print("|---|---|---|---|---|")
for _, r in ipairs(rows) do
  print(("| %s | %s | `%s` | %s | %s |"):format(r.id, r.method, r.path, methods(r),
    r.paging or ""))
end
print()
print(("%d operations. \\* hand-written (validation or a friendlier return) over the generated "
  .. "method of the same name."):format(#rows))

-- Hand-written resource methods that are not an operation of their own.
local ops_names = {}
for _, r in ipairs(rows) do ops_names[r.resource .. ":" .. r.name] = true end
local extra = {}
for _, family in ipairs(operations.FAMILIES) do
  local mod = require("cohort.prolific." .. family)
  local names = {}
  for name in pairs(mod.resource_methods or {}) do
    if not ops_names[family .. ":" .. name] then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do extra[#extra + 1] = ("`p.%s:%s()`"):format(family, name) end
end
if #extra > 0 then
  print()
  print("Helpers built on these operations: " .. table.concat(extra, ", ") .. ".")
end

-- The objects the answers are wrapped in, and their methods.
print()
print("| object | methods |")
print("|---|---|")
for _, family in ipairs(operations.FAMILIES) do
  local mod = require("cohort.prolific." .. family)
  local classes = {}
  for cname in pairs(mod.classes or {}) do classes[#classes + 1] = cname end
  table.sort(classes)
  for _, cname in ipairs(classes) do
    local names = {}
    for m in pairs(mod.classes[cname].methods or {}) do names[#names + 1] = "`:" .. m .. "()`" end
    table.sort(names)
    print(("| %s | %s |"):format(cname, #names > 0 and table.concat(names, " ")
      or "(fields only)"))
  end
end
