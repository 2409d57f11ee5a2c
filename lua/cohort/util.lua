--- Small helpers shared by the Lua layer: the one misuse error, argument checks, ids for
-- printing. Not part of the public API.
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

--- Raise the misuse error, naming the method the user called:
-- `cohort: p.submissions:get(): id must be ...`. Every misuse in cohort goes through here.
-- @tparam string method the call as the user wrote it, e.g. `"sub:reject()"`
-- @tparam string fmt a `string.format` pattern
-- @param ... its values
function M.misuse(method, fmt, ...)
  error(("cohort: %s: " .. fmt):format(method, ...), blame())
end

--- A value as misuse messages show it, with its type: `"150", a string`; `nil`.
-- @param v any value
-- @treturn string
function M.show(v)
  if v == nil then return "nil" end
  return require("cohort.schema").show(v)
end

--- Check that every key of `t` is allowed; raise naming the method and the unknown key.
-- @tparam string method
-- @tparam table t
-- @tparam table allowed set of allowed keys
function M.check_keys(method, t, allowed)
  for k in pairs(t) do
    if not allowed[k] then M.misuse(method, "unknown option '%s'", tostring(k)) end
  end
end

--- A well-formed id of unknown platform: a non-empty string of printable characters without
-- spaces, at most 128 bytes (the operations check ids by their schema format instead).
-- @tparam string method
-- @tparam string field the argument as the user wrote it
-- @param id the value
-- @treturn string id
function M.check_id(method, field, id)
  if not is_id(id) then
    M.misuse(method, "%s must be a non-empty id string without spaces (got %s)", field, M.show(id))
  end
  return id
end

--- The keys of a set, sorted and joined with ", ".
-- @tparam table set
-- @treturn string
function M.sorted_keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = tostring(k) end
  table.sort(t)
  return table.concat(t, ", ")
end

--- A shallow copy of a table (nil gives an empty table).
-- @tparam ?table t
-- @treturn table
function M.copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- First 8 characters of an id and an ellipsis, for printing.
-- @param id
-- @treturn string
function M.short_id(id)
  if type(id) ~= "string" then return tostring(id) end
  if #id > 8 then return id:sub(1, 8) .. "…" end
  return id
end

--- Whether `x` is a number other than NaN and ±infinity.
-- @param x
-- @treturn boolean
function M.finite(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end

--- An amount in minor units rounded to a hundredth; a whole number as an integer (prints "315"
-- rather than "315.0").
-- @tparam number x
-- @treturn number
function M.cents(x)
  local r = math.floor(x * 100 + 0.5) / 100
  return r == math.floor(r) and require("cohort.compat").tointeger(r) or r
end

return M
