-- The webhook receiver of the delivery specs (build/receiver, from spec/support/receiver.c):
-- started in its own process on 127.0.0.1, it records every request byte for byte in a
-- directory and answers as the path says (/status/500, /seq/500,drop,200, /hang, /slow/300 …).
--
--   local receiver = require "support.receiver"
--   local r = receiver.start()
--   r:url("/seq/500,200")   --> "http://127.0.0.1:PORT/seq/500,200"
--   r:requests()            --> { { method, path, headers = {lower-case = value}, body, raw }, ... }
--   r:stop()
local M = {}

local Receiver = {}
Receiver.__index = Receiver

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

function M.start(lifetime)
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p '" .. dir .. "'"), "receiver: cannot make " .. dir)
  local h = assert(io.popen("exec receiver '" .. dir .. "' " .. tostring(lifetime or 120), "r"))
  local port, pid = h:read("*n", "*n")
  assert(port and pid, "receiver: did not start (is build/receiver built? make build)")
  return setmetatable({ dir = dir, port = port, pid = pid, handle = h }, Receiver)
end

function Receiver:url(path)
  return ("http://127.0.0.1:%d%s"):format(self.port, path or "/")
end

local function parse(raw)
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  local method, path = lines[1]:match("^(%S+) (%S+)")
  local headers = {}
  for i = 2, #lines do
    local k, v = lines[i]:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k:lower()] = v end
  end
  return { method = method, path = path, headers = headers, body = body, raw = raw }
end

--- Every request recorded so far, in the order they arrived.
function Receiver:requests()
  local out = {}
  for i = 1, 100000 do
    local f = io.open(("%s/%06d.http"):format(self.dir, i), "rb")
    if not f then break end
    out[i] = parse(f:read("*a"))
    f:close()
  end
  return out
end

function Receiver:count()
  return #self:requests()
end

function Receiver:stop()
  if self.stopped then return end
  self.stopped = true
  sh(("kill %d 2>/dev/null"):format(self.pid))
  self.handle:close()
  sh("rm -rf '" .. self.dir .. "'")
end

return M
