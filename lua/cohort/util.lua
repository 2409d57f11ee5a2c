--- Small helpers shared by the Lua layer (argument checking, shortening ids).
-- Not part of the public API.
-- @module cohort.util
local M = {}

-- 1 to 128 bytes, no control character or space (in C: a pattern over every byte costs more
-- than the rest of building a request)
local is_id = require("cohort.core").is_id

--- The stack level of the first function outside cohort's own Lua files, as seen from the
-- function that calls this one's caller: misuse errors point at the user's line.
local function blame()
  for level = 3, 40 do
    local info = debug.getinfo(level, "S")
    if info == nil then return 1 end
    -- "tail": Lua 5.1's placeholder for a frame a tail call replaced
    if info.what ~= "C" and info.what ~= "tail" and not info.source:find("[/\\]cohort[/\\]") then
      return level - 1
    end
  end
  return 1
end
M.blame = blame

--- Raise a misuse error that names the method: "cohort: p.submissions:get(): id must be ...".
function M.misuse(method, fmt, ...)
  error(("cohort: %s: " .. fmt):format(method, ...), blame())
end

--- Check that every key of `t` is allowed; raise naming the method and the unknown key.
function M.check_keys(method, t, allowed)
  for k in pairs(t) do
    if not allowed[k] then
      error(("cohort: %s: unknown option '%s'"):format(method, tostring(k)), blame())
    end
  end
end

--- A well-formed id: a non-empty string of printable characters without spaces, at most 128.
function M.check_id(method, field, id)
  if not is_id(id) then
    error(("cohort: %s: %s must be a non-empty id string without spaces (got %s)")
      :format(method, field, type(id) == "string" and ("%q"):format(id) or type(id)), blame())
  end
  return id
end

--- First 8 characters of an id and an ellipsis, for printing.
function M.short_id(id)
  if type(id) ~= "string" then return tostring(id) end
  if #id > 8 then return id:sub(1, 8) .. "…" end
  return id
end

return M
