-- Print the markdown table of the schema's overrides (docs/prolific.md, "Where cohort departs
-- from the spec") from the generated module, so the guide never drifts from the table the
-- generator applied.
--
--   eval "$(make -s env)" && lua5.4 tools/overrides_table.lua
local S = require "cohort.schema.prolific"

local out = { "| # | what | why |", "|---|---|---|" }
for i, o in ipairs(S.overrides) do
  out[#out + 1] = ("| %d | %s | %s |"):format(i, o.what:gsub("|", "\\|"), o.why:gsub("|", "\\|"))
end
io.write(table.concat(out, "\n"), "\n")
