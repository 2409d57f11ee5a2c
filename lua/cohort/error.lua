--- Errors returned by cohort.
-- Runtime failures (network, HTTP status, bad JSON from the server) come back as `nil, err`
-- where `err` is a `cohort.Error`; misuse of the API raises at once. Iterators raise the error
-- object itself, since `nil` ends a loop.
--
-- Every error has a `kind` from one closed list, `M.KINDS`:
--
-- * `"http"` — the server answered with a status of 400 or more (`status`, and from the body's
--   envelope `code`, `title`, `message`, `detail`, `fields`; `retry_after` when it said when to
--   come back);
-- * `"transport"` — no answer: DNS, a refused or reset connection, TLS, a truncated answer
--   (`code` is libcurl's name, such as `COULDNT_CONNECT` or `PARTIAL_FILE`);
-- * `"timeout"` — no complete answer in time (`code` `CONNECT_TIMEOUT` or `OPERATION_TIMEDOUT`);
-- * `"decode"` — an answer that is not what was due: not JSON (the message names the content
--   type and, for an HTML page, its title), an empty body where JSON was due, a list without
--   its envelope;
-- * `"too_large"` — the answer passed `max_size`, or its headers passed their limit;
-- * `"redirect"` — the server answered 3xx (`status`, `location` with credentials removed);
--   redirects are never followed, since they would carry the credentials elsewhere;
-- * `"closed"` — the client was closed while the request was in flight;
-- * `"refused"` — a money guard refused a payment before anything was sent;
-- * `"io"` — a file of the workbench could not be read or written.
--
-- `Error.new` raises on any other kind: an error object of an unknown kind is a bug in cohort,
-- and would slip past every `if err.kind == ...` of the caller.
-- @module cohort.error
local M = {}

--- The closed list of error kinds: kind → one line saying what it means.
M.KINDS = {
  http = "the server answered with a status of 400 or more",
  transport = "the request got no answer: DNS, connection, TLS, or a truncated answer",
  timeout = "no complete answer in time",
  decode = "the answer is not what was due: not JSON, empty, or a list without its envelope",
  too_large = "the answer (body or headers) passed its size limit",
  redirect = "the server answered 3xx; redirects are never followed",
  closed = "the client was closed while the request was in flight",
  refused = "a money guard refused the payment before anything was sent",
  io = "a file could not be read or written",
}

--- The metatable of every error object.
-- Fields: `kind` (one of `M.KINDS`), `status`, `code`, `title`, `message`, `detail`,
-- `fields` (field → array of messages), `platform`, `method`, `url` (credentials redacted),
-- `location` (of a redirect, redacted), `attempts`, `retry_after` (seconds, as the server
-- said, even when it was more than cohort waits).
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
    parts[#parts + 1] = ("HTTP %s"):format(tostring(self.status or "?"))
    if self.title then parts[#parts + 1] = tostring(self.title) end
    if self.code ~= nil then parts[#parts + 1] = ("[%s]"):format(tostring(self.code)) end
  else
    parts[#parts + 1] = tostring(self.kind or "error")
    if self.kind == "redirect" and self.status then
      parts[#parts + 1] = ("HTTP %s"):format(tostring(self.status))
    end
    if self.code ~= nil then parts[#parts + 1] = ("[%s]"):format(tostring(self.code)) end
  end
  local msg = self.message
  if msg and msg ~= self.title then parts[#parts + 1] = "— " .. short(msg, 300) end
  if self.method or self.url then
    parts[#parts + 1] = ("(%s %s)"):format(tostring(self.method or ""), tostring(self.url or ""))
  end
  if type(self.attempts) == "number" and self.attempts > 1 then
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
-- Raises when `fields.kind` is not one of `M.KINDS` (a bug in the caller, never a runtime
-- failure).
-- @tparam table fields
-- @treturn cohort.Error
function M.new(fields)
  if type(fields) ~= "table" or M.KINDS[fields.kind] == nil then
    error(("cohort: Error.new(): kind %s is not one of cohort.Error.KINDS")
      :format(type(fields) == "table" and ("%q"):format(tostring(fields.kind)) or "(no table)"), 2)
  end
  return setmetatable(fields, Error)
end

return M
