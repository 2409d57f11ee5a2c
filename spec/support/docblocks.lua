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

--- Every ```lua block of the file at `path`, in order: `{code =, heading =, line =}`, where
-- `heading` is the title of the nearest heading above it (any level, without the #s; "" before
-- the first) and `line` the line of its opening fence.
function M.all(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local out, heading, n, code, other = {}, "", 0, nil, false
  for line in (text .. "\n"):gmatch("(.-)\n") do
    n = n + 1
    if code then
      if line:find("^```") then
        out[#out].code = table.concat(code, "\n") .. "\n"
        code = nil
      else
        code[#code + 1] = line
      end
    elseif other then -- a fence of another language: a "# comment" in it is no heading
      if line:find("^```") then other = false end
    elseif line == "```lua" then
      code = {}
      out[#out + 1] = { heading = heading, line = n }
    elseif line:find("^```") then
      other = true
    elseif line:find("^#+ ") then
      heading = line:gsub("^#+ ", "")
    end
  end
  return out
end

--- The `n`th (default 1) ```lua block under the heading `title` (any level) of the file at
-- `path`, up to the next heading.
function M.under(path, title, n)
  local k = 0
  for _, b in ipairs(M.all(path)) do
    if b.heading == title then
      k = k + 1
      if k == (n or 1) then return b.code end
    end
  end
  error(("%s: no lua block %d under the heading '%s'"):format(path, n or 1, title))
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
    local t = require("cohort.compat").pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    printed[#printed + 1] = table.concat(t, "\t")
  end }, { __index = _G })
  local fn = assert(require("cohort.compat").load(code, "=(docs example)", "t", env))
  fn()
  return printed, expected
end

--- A `-->` comment as a Lua pattern: "…" stands for any text (the guides abbreviate ids as
-- tostring does, and URLs and times change from run to run).
function M.pattern(want)
  local parts = {}
  for piece in (want .. "…"):gmatch("(.-)…") do
    parts[#parts + 1] = piece:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
  end
  return "^" .. table.concat(parts, ".-") .. "$"
end

return M
