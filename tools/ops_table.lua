-- Print the markdown tables "operation → Lua method" and "object → verbs" of docs/prolific.md
-- (or, given `questionpro`, of docs/questionpro.md) from the registry the generator fills
-- (lua/cohort/resource.lua, from the rows of lua/cohort/<platform>/*.lua), so the guides never
-- drift from the code.
--
--   eval "$(make -s env)" && lua5.4 tools/ops_table.lua [prolific|questionpro] > /tmp/ops.md
--
-- Rows come in the order of the family modules and, within a family, in the order of its
-- rows. A paging row named `list` gives `list`/`each`/`all`; another paging row `x` gives
-- `x`/`each_x`/`all_x`.
local which = ... or "prolific"
local P = require("cohort." .. which).platform()

print("| operationId | HTTP | path | Lua | paging |")
print("|---|---|---|---|---|")
local ops = 0
for _, c in ipairs(P.rows) do
  ops = ops + 1
  local names = { ("`%s.%s:%s()`"):format(P.var, c.resource, c.name) }
  if c.style then
    names[2] = ("`:%s()`"):format(c.entries.each.name)
    names[3] = ("`:%s()`"):format(c.entries.all.name)
  end
  print(("| %s | %s | `%s` | %s | %s |"):format(c.op_id, c.method, c.path,
    table.concat(names, ", "), c.style or ""))
end
print()
print(("%d operations, one method each (three for a list); every one checked against the "
  .. "schema before it is sent."):format(ops))

local helpers = {}
for _, e in ipairs(P.entries) do
  if e.kind == "helper" then helpers[#helpers + 1] = ("`%s`"):format(e.label) end
end
print()
print("Bulk jobs and waits (cohort.workbench.bulk): " .. table.concat(helpers, ", ") .. ".")

-- The objects the answers are wrapped in: their conventional name, verbs and methods.
print()
print("| object | written as | verbs (→ operation) | other methods |")
print("|---|---|---|---|")
local names = {}
for name in pairs(P.classes) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local cls = P.classes[name]
  local verbs, other = {}, {}
  for vname, e in pairs(cls.entries) do
    if e.kind == "verb" then
      verbs[#verbs + 1] = ("`:%s()` %s"):format(vname, e.op)
    else
      other[#other + 1] = ("`:%s()`"):format(vname)
    end
  end
  for m in pairs(cls.methods or {}) do other[#other + 1] = ("`:%s()`"):format(m) end
  table.sort(verbs)
  table.sort(other)
  print(("| %s | `%s` | %s | %s |"):format(name, cls.var,
    #verbs > 0 and table.concat(verbs, ", ") or "", table.concat(other, ", ")))
end

-- Every departure from Prolific's OpenAPI file (tools/schema_overrides.lua), with its reason.
if which ~= "prolific" then return end
local S = require("cohort.schema").load "prolific"
print()
print("### Where cohort departs from the spec")
print()
print("The schema follows Prolific's OpenAPI file except in these rows of the override table "
  .. "(`tools/schema_overrides.lua`), each resolving a contradiction of the spec with itself or "
  .. "with a live fact of the API:")
print()
print("| what | why |")
print("|---|---|")
for _, o in ipairs(S.overrides) do
  print(("| %s | %s |"):format(o.what, (o.why:gsub("|", "\\|"))))
end
