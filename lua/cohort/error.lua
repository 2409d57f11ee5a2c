--- Errors returned by cohort.
-- Runtime failures (network, HTTP status, bad JSON from the server) come back as `nil, err`
-- where `err` is a `cohort.Error`; misuse of the API raises at once. Iterators raise the error
-- object itself, since `nil` ends a loop.
-- @module cohort.error
local M = {}

--- The metatable of every error object.
-- Fields: `kind` (`"http"`, `"transport"`, `"timeout"`, `"decode"`, `"too_large"`), `status`,
-- `code`, `title`, `message`, `detail`, `fields` (field → array of messages), `platform`,
-- `method`, `url` (credentials redacted), `attempts`, `retry_after`.
local Error = { __name = "cohort.Error" }
Error.__index = Error
M.Error = Error

local function short(s, n)
  s = tostring(s)
  if #s > n then return s:sub(1, n - 1) .. "…" end
  return s
end

--- One readable line: what failed, why, and where.
-- @treturn string
function Error:__tostring()
  local parts = { "cohort:" }
  if self.kind == "http" then
    parts[#parts + 1] = ("HTTP %s"):format(self.status or "?")
    if self.title then parts[#parts + 1] = self.title end
    if self.code ~= nil then parts[#parts + 1] = ("[%s]"):format(self.code) end
  else
    parts[#parts + 1] = self.kind or "error"
    if self.code ~= nil then parts[#parts + 1] = ("[%s]"):format(self.code) end
  end
  local msg = self.message
  if msg and msg ~= self.title then parts[#parts + 1] = "— " .. short(msg, 300) end
  if self.method or self.url then
    parts[#parts + 1] = ("(%s %s)"):format(self.method or "", self.url or "")
  end
  if self.attempts and self.attempts > 1 then
    parts[#parts + 1] = ("after %d attempts"):format(self.attempts)
  end
  return table.concat(parts, " ")
end

--- Is `x` a cohort error?
-- @param x any value
-- @treturn boolean
function M.is(x)
  return getmetatable(x) == Error
end

--- Make an error object from a table of fields (the table is adopted, not copied).
-- @tparam table fields
-- @treturn cohort.Error
function M.new(fields)
  return setmetatable(fields, Error)
end

return M
