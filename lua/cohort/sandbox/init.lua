-- Starts and stops a cohort-sandbox process from Lua (specs, the demo, researchers' scripts).
--
--   local sandbox = require "cohort.sandbox"
--   local sb = sandbox.start{ port = 0, token = nil, api_key = nil, seed = "data.json",
--                             tls = { "cert.pem", "key.pem" }, bin = "cohort-sandbox",
--                             strict = false, args = { ... }, timeout = 10 }
--   sb.url, sb.token, sb.api_key, sb.pid, sb.log_file
--   sb:stop()            -- idempotent; also on __gc and __close (local sb <close> = ...)
--
-- The program is started through /bin/sh in the background; its stdout (the one ready line)
-- goes to a temporary file that is polled, its stderr to a temporary log file (sb.log_file).
-- The shell then waits for it, so closing the popen handle after `kill` reaps the process and
-- gives its exit status. The child gets this Lua's package.path and package.cpath, so it finds
-- the same cohort modules.
local M = {}

local Sandbox = {}
Sandbox.__index = Sandbox

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = q

local function sleep(seconds)
  os.execute("sleep " .. string.format("%.3f", seconds))
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Closes the launcher's pipe and returns the server's exit status. The shell also prints it,
-- since close() gives no status on Lua 5.1 and LuaJIT.
local function reap(handle)
  local rest = handle:read("*a") or ""
  local _, _, code = handle:close()
  return code or tonumber(rest:match("exit (%d+)"))
end

local function alive(pid)
  local ok = os.execute(("kill -0 %d 2>/dev/null"):format(pid))
  return ok == true or ok == 0 -- 5.1/LuaJIT: the exit status
end

function M.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("cohort.sandbox.start: options must be a table", 2) end
  local bin = opts.bin or os.getenv("COHORT_SANDBOX") or "cohort-sandbox"
  local token = opts.token or "sandbox-token"
  local api_key = opts.api_key or "sandbox-api-key"
  local args = { "--port", tostring(opts.port or 0), "--token", token, "--api-key", api_key }
  if opts.host then args[#args + 1] = "--host"; args[#args + 1] = opts.host end
  if opts.seed then args[#args + 1] = "--seed"; args[#args + 1] = opts.seed end
  -- strict: every Prolific answer is checked against the spec (a departure answers 500)
  if opts.strict then args[#args + 1] = "--strict" end
  if opts.tls then
    local cert = opts.tls.cert or opts.tls[1]
    local key = opts.tls.key or opts.tls[2]
    if not cert or not key then
      error("cohort.sandbox.start: tls needs { cert, key }", 2)
    end
    args[#args + 1] = "--tls"; args[#args + 1] = cert; args[#args + 1] = key
  end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = tostring(a) end

  local ready_file = os.tmpname()
  local log_file = opts.log_file or os.tmpname()
  local cmd = { "LUA_PATH=" .. q(package.path), "LUA_PATH_5_4=" .. q(package.path),
                -- the server is Lua 5.4: from another Lua (LuaJIT, 5.1, 5.3) it keeps 5.4's C paths
                "LUA_CPATH=" .. q(package.cpath), "LUA_CPATH_5_4=" .. q(_VERSION == "Lua 5.4"
                  and package.cpath or os.getenv("LUA_CPATH_5_4") or ";;"),
                q(bin) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
  local line = table.concat(cmd, " ") .. " >" .. q(ready_file) .. " 2>>" .. q(log_file)
    .. " </dev/null & echo $!; wait $!; s=$?; echo \"exit $s\"; exit $s"
  local handle = assert(io.popen("exec /bin/sh -c " .. q(line), "r"))
  local pid = tonumber(handle:read("*l") or "")
  if not pid then
    handle:close()
    os.remove(ready_file)
    return nil, "cohort.sandbox.start: could not start " .. bin
  end

  local timeout = opts.timeout or 10
  local waited, url, step = 0, nil, 0.01
  while true do
    local text = read_all(ready_file)
    if text then url = text:match("cohort%-sandbox listening on (%S+)") end
    if url then break end
    if not alive(pid) or waited >= timeout then
      if alive(pid) then os.execute(("kill %d 2>/dev/null"):format(pid)) end
      local code = reap(handle)
      os.remove(ready_file)
      local log = read_all(log_file) or ""
      return nil, string.format("cohort.sandbox.start: %s %s (exit %s)%s", bin,
        waited >= timeout and "did not become ready in time" or "exited",
        tostring(code), log ~= "" and (": " .. log:gsub("%s+$", "")) or "")
    end
    sleep(step)
    waited = waited + step
    step = math.min(step * 2, 0.1)
  end
  os.remove(ready_file)

  return setmetatable({
    url = url, token = token, api_key = api_key, pid = pid, log_file = log_file,
    _handle = handle, _remove_log = opts.log_file == nil,
  }, Sandbox)
end

-- Stops the server (SIGTERM) and reaps it. Returns true and the exit code; later calls
-- return true and the same code.
function Sandbox:stop()
  if self._stopped then return true, self.exit_code end
  self._stopped = true
  os.execute(("kill %d 2>/dev/null"):format(self.pid))
  local code = reap(self._handle)
  self._handle = nil
  self.exit_code = code
  if self._remove_log then os.remove(self.log_file) end
  return true, code
end

Sandbox.__gc = function(self) if not self._stopped and self._handle then self:stop() end end
Sandbox.__close = Sandbox.__gc
Sandbox.__tostring = function(self)
  return "cohort.sandbox " .. tostring(self.url) .. (self._stopped and " (stopped)" or "")
end

M.Sandbox = Sandbox

return M
