--- The few Lua 5.3/5.4 features cohort's library modules use, for every host: Lua 5.4
-- (primary), 5.3, 5.1 and LuaJIT 2.1 (LÖVE, Defold). On 5.3+ each helper is the standard
-- function itself; on 5.1/LuaJIT it is a small equivalent. No globals are read or written
-- beyond the standard library, and nothing is patched.
--
--   local compat = require "cohort.compat"
--   compat.math_type(3)   --> "integer" (on 5.1/LuaJIT: any integral number below 2^53)
--
-- 5.1 and LuaJIT have one number type (a double): `math_type` calls a number "integer" when its
-- value is integral and below 2^53 in size, so validation such as "retries must be an integer"
-- accepts 3 and refuses 3.5 on every host; only 3.0 versus 3 cannot be told apart there.
-- @module cohort.compat
local M = {}

local floor, huge = math.floor, math.huge

--- The host: "5.4", "5.3", "5.2", "5.1" or "jit" (LuaJIT, which reports 5.1).
M.host = (type(rawget(_G, "jit")) == "table" and "jit") or _VERSION:match("%d+%.%d+") or "?"

--- True when numbers have an integer subtype (5.3+).
M.has_integers = math.type ~= nil

--- True when a coroutine can yield across pcall, metamethods and for-in iterators
-- (5.2+ and LuaJIT; not plain 5.1).
M.yield_across_pcall = M.host ~= "5.1"

--- math.type: "integer", "float" or nil for a non-number.
-- @param v any value
-- @treturn string|nil
M.math_type = math.type or function(v)
  if type(v) ~= "number" then return nil end
  if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return "integer" end
  return "float"
end

--- math.tointeger: the value as an integer when it has an integral value, else nil.
-- @param v a number (or a string spelling one, as 5.4.4 accepts)
-- @treturn number|nil
M.tointeger = math.tointeger or function(v)
  local n = tonumber(v)
  if n == nil or n ~= n or n == huge or n == -huge or n ~= floor(n) then return nil end
  return n
end

--- Floor division a // b.
-- @tparam number a
-- @tparam number b
-- @treturn number
function M.idiv(a, b)
  return floor(a / b)
end

--- table.pack: the arguments in a table with their count in `n`.
M.pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end

--- table.unpack (unpack on 5.1/LuaJIT).
M.unpack = table.unpack or rawget(_G, "unpack")

-- Bytes of a UTF-8 sequence starting with byte c (0 when c cannot start one).
local function seq_len(c)
  if c < 0x80 then return 1 end
  if c >= 0xC2 and c <= 0xDF then return 2 end
  if c >= 0xE0 and c <= 0xEF then return 3 end
  if c >= 0xF0 and c <= 0xF4 then return 4 end
  return 0
end

-- Is s:sub(i, i + n - 1) a valid UTF-8 sequence of n bytes (no overlong forms, no surrogates)?
local function valid_seq(s, i, n)
  local c = s:byte(i)
  local cp = n == 1 and c or n == 2 and c - 0xC0 or n == 3 and c - 0xE0 or c - 0xF0
  for k = 1, n - 1 do
    local b = s:byte(i + k)
    if b == nil or b < 0x80 or b > 0xBF then return false end
    cp = cp * 64 + (b - 0x80)
  end
  if n == 3 and (cp < 0x800 or (cp >= 0xD800 and cp <= 0xDFFF)) then return false end
  if n == 4 and (cp < 0x10000 or cp > 0x10FFFF) then return false end
  return true
end

--- utf8.len: the number of UTF-8 characters of s, or nil and the position of the first
-- invalid byte.
-- @tparam string s
-- @treturn number|nil
M.utf8_len = (rawget(_G, "utf8") and utf8.len) or function(s)
  local i, n, len = 1, #s, 0
  while i <= n do
    local k = seq_len(s:byte(i))
    if k == 0 or not valid_seq(s, i, k) then return nil, i end
    i, len = i + k, len + 1
  end
  return len
end

--- utf8.offset(s, n) for n >= 1: the byte position where the n-th character starts
-- (#s + 1 for the character after the last), or nil.
-- @tparam string s
-- @tparam number n
-- @treturn number|nil
M.utf8_offset = (rawget(_G, "utf8") and utf8.offset) or function(s, n)
  local i, count = 1, 1
  while count < n do
    if i > #s then return nil end
    i = i + 1
    while i <= #s and s:byte(i) >= 0x80 and s:byte(i) <= 0xBF do i = i + 1 end
    count = count + 1
  end
  return i
end

--- os.execute with 5.2+ results on every host: true|nil, "exit"|"signal", code.
-- @tparam string cmd
function M.execute(cmd)
  local a, b, c = os.execute(cmd)
  if type(a) == "number" then -- 5.1 / LuaJIT: the wait status
    local code = a >= 256 and floor(a / 256) or a
    return code == 0 or nil, "exit", code
  end
  return a, b, c
end

--- Closes a file handle from io.popen with 5.2+ results on every host (true|nil, "exit", code).
-- On 5.1/LuaJIT the exit code is not available: the result is true, "exit", 0.
-- @param h a file handle
function M.pclose(h)
  local a, b, c = h:close()
  if b == nil then return a, "exit", 0 end
  return a, b, c
end

--- load(chunk, name, mode, env) for a string chunk on every host (5.1: loadstring + setfenv).
-- @tparam string chunk
-- @tparam string name
-- @tparam string mode
-- @tparam table env
-- @treturn function|nil
-- @return[2] nil
-- @treturn[2] string the syntax error
function M.load(chunk, name, mode, env)
  if M.host ~= "5.1" then return load(chunk, name, mode, env) end
  local fn, err = rawget(_G, "loadstring")(chunk, name)
  if fn and env then rawget(_G, "setfenv")(fn, env) end
  return fn, err
end

return M
