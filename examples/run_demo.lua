-- make demo: start a sandbox, run the examples against it, stop it.
local sandbox = require "cohort.sandbox"
local q = sandbox.shell_quote

local sb = assert(sandbox.start {})
local lua = arg[-1] or "lua5.4"
local env = table.concat({
  "PROLIFIC_TOKEN=" .. q(sb.token), "PROLIFIC_URL=" .. q(sb.url),
  "QUESTIONPRO_API_KEY=" .. q(sb.api_key), "QUESTIONPRO_URL=" .. q(sb.url),
  "COHORT_SANDBOX_URL=" .. q(sb.url),
}, " ")

local status = 0
for _, example in ipairs { "quickstart", "study_workflow", "game_loop", "longitudinal" } do
  -- the game loop shows frames going on while slow requests complete
  assert(sb:latency(example == "game_loop" and 200 or 0))
  local path = "examples/" .. example .. ".lua"
  local f = io.open(path, "r")
  if f then
    f:close()
    print(("== %s (against the sandbox at %s)"):format(path, sb.url))
    local ok = os.execute(env .. " " .. q(lua) .. " " .. q(path))
    if not ok then status = 1 end
    print()
  end
end
sb:stop()
os.exit(status)
