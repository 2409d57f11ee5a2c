-- Runs the ```lua examples of a guide's section as written, and compares what they print with
-- their `--> ` comments (in order; a tab in a comment stands for print's tab).
local M = {}

--- The first ```lua block under the heading `## <title>` of the file at `path`.
function M.block(path, title)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local start = text:find("\n## " .. title .. "\n", 1, true)
  assert(start, path .. ": no section '" .. title .. "'")
  local stop = text:find("\n## ", start + 4, true) or #text
  local section = text:sub(start, stop)
  local code = section:match("```lua\n(.-)```")
  assert(code, path .. ": no lua block in '" .. title .. "'")
  return code
end

--- Runs `code` (after the plain-text replacements `subs`, { from = to }); returns the lines it
-- printed and the lines its `--> ` comments expect.
function M.run(code, subs)
  for from, to in pairs(subs or {}) do
    local i = code:find(from, 1, true)
    while i do
      code = code:sub(1, i - 1) .. to .. code:sub(i + #from)
      i = code:find(from, i + #to, true)
    end
  end
  local expected = {}
  for line in code:gmatch("[^\n]+") do
    local want = line:match("%-%-> (.*)$")
    if want then expected[#expected + 1] = want end
  end
  local printed = {}
  local env = setmetatable({ print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    printed[#printed + 1] = table.concat(t, "\t")
  end }, { __index = _G })
  local fn = assert(require("cohort.compat").load(code, "=(docs example)", "t", env))
  fn()
  return printed, expected
end

return M
