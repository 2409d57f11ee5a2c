-- Print the markdown table of the sandbox's filter catalogue (docs/sandbox.md, "Filters") from
-- cohort.sandbox.catalogue, so the guide never drifts from what the sandbox accepts
-- (spec/sandbox_pool_spec.lua checks that the guide holds this exact text).
--
--   eval "$(make -s env)" && lua5.4 tools/filters_table.lua
local catalogue = require "cohort.sandbox.catalogue"

local DYNAMIC = {
  StudyID = "the studies of the sandbox (id → internal name)",
  ParticipantGroupID = "the participant groups of the sandbox (id → name)",
}

local function choices(f)
  if f.type == "range" then return ("%s to %s"):format(f.min, f.max) end
  if f.data_type == "ParticipantID" then return "participant ids (24 hexadecimal digits)" end
  if not f.choices then return DYNAMIC[f.data_type] end
  local ids = {}
  for id in pairs(f.choices) do ids[#ids + 1] = id end
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  local parts = {}
  for i, id in ipairs(ids) do parts[i] = ("`%s` %s"):format(id, f.choices[id]) end
  return table.concat(parts, ", ")
end

local aliases = {}
for alias, id in pairs(catalogue.ALIASES) do
  aliases[id] = (aliases[id] and aliases[id] .. ", " or "") .. "`" .. alias .. "`"
end

local out = { "| filter_id | title | type | data_type | choices or range |", "|---|---|---|---|---|" }
for _, f in ipairs(catalogue.FILTERS) do
  local id = "`" .. f.filter_id .. "`" .. (aliases[f.filter_id] and " (also " .. aliases[f.filter_id] .. ")" or "")
  out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(id, f.title, f.type, f.data_type,
    (choices(f):gsub("|", "\\|")))
end
io.write(table.concat(out, "\n"), "\n")
