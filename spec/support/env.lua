-- Shared test environment: the sandbox of the run, clients pointed at it, and raw access to the
-- sandbox's control API (through cohort.core, so no other HTTP client is needed).
local M = {}

local sandbox

--- The sandbox of this run (started on first use), in strict mode: every Prolific answer is
-- checked against the spec's success schema, and one that departs from it answers 500.
function M.sandbox()
  if sandbox == nil then
    sandbox = assert(require("cohort.sandbox").start { strict = true })
  end
  return sandbox
end

function M.stop()
  if sandbox then sandbox:stop() end
  sandbox = nil
end

--- A Prolific client on the sandbox; `opts` are added to the defaults.
function M.prolific(opts)
  local sb = M.sandbox()
  local o = { token = sb.token, base_url = sb.url }
  for k, v in pairs(opts or {}) do o[k] = v end
  return require("cohort").prolific(o)
end

--- A QuestionPro client on the sandbox.
function M.questionpro(opts)
  local sb = M.sandbox()
  local o = { api_key = sb.api_key, base_url = sb.url }
  for k, v in pairs(opts or {}) do o[k] = v end
  return require("cohort").questionpro(o)
end

local control_session

--- Call the control API: method, path under /__sandbox/, optional Lua table body.
-- Returns the decoded answer; raises on failure (specs want loud set-up errors).
function M.control(method, path, body)
  local core = require "cohort.core"
  control_session = control_session or core.session {}
  local r = control_session:request { method = method, base = M.sandbox().url,
    path = "/__sandbox/" .. path, body = body and core.encode(body) or nil }
  if r.err then error("sandbox control " .. method .. " " .. path .. ": " .. tostring(r.err.message)) end
  return core.decode(r.body)
end

--- Reset the sandbox to its dataset (clears the log and quirks).
function M.reset()
  return M.control("POST", "reset")
end

--- The request log, newest last.
function M.requests()
  local log = M.control("GET", "requests")
  return log.requests or log
end

--- How many requests of the log have `method` and a path matching the Lua pattern `pattern`.
function M.count_requests(method, pattern)
  local n = 0
  for _, r in ipairs(M.requests()) do
    if r.method == method and r.path:find(pattern) then n = n + 1 end
  end
  return n
end

--- Run a shell command, return its stdout and exit code.
function M.run(cmd)
  -- the shell prints the exit code: 5.1 and LuaJIT's close() does not return it
  local h = io.popen(cmd .. " 2>&1; echo \"__cohort_exit=$?\"", "r")
  local out = h:read("*a")
  h:close()
  local code
  out = out:gsub("__cohort_exit=(%d+)\n$", function(c) code = tonumber(c); return "" end)
  return out, code
end

--- The whole of a file (raises when it cannot be read).
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

--- Whether a file can be opened.
function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- Remove a store and what SQLite keeps beside it.
function M.remove_store(path)
  for _, suffix in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(path .. suffix) end
end

--- The build tree's directory of fixtures.
M.FIXTURES = "spec/fixtures"

return M
