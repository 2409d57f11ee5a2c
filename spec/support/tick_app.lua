-- A bare app for csrc/sandbox.c, to test the C side's contract on its own (tick, delay, drip,
-- shutdown) whatever the sandbox application does. Loaded by the server when
-- COHORT_SANDBOX_APP=support.tick_app (spec/sandbox_server_spec.lua).
--
-- Flags: --port N, --interval MS (what tick returns; default nothing), --fail (tick raises),
-- --stop-after N (tick sets app.shutdown on its N-th call).
-- Routes: GET /ticks -> {"count":N,"first":T,"last":T}; GET /delay/MS; GET /drip/MS (a 64-byte
-- body, one byte every MS); GET /deliver starts a request back to this server on a
-- cohort.core session that only tick pumps (step(0)), as webhook deliveries will be, and
-- GET /delivered gives what came back; anything else -> 200 "ok".
local M = {}

local App = {}
App.__index = App

function M.new(argv)
  local app = setmetatable({ host = "127.0.0.1", port = 0, count = 0 }, App)
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--port" then
      app.port = math.tointeger(tonumber(argv[i + 1])); i = i + 1
    elseif a == "--interval" then
      app.interval = tonumber(argv[i + 1]); i = i + 1
    elseif a == "--fail" then
      app.fail = true
    elseif a == "--stop-after" then
      app.stop_after = tonumber(argv[i + 1]); i = i + 1
    end
    i = i + 1 -- other flags (the launcher's --token, --api-key ...) are ignored
  end
  return app
end

function App:tick(now)
  assert(type(now) == "number", "tick: now is not a number")
  if self.session then
    for _, r in ipairs(self.session:step(0)) do self.delivered = r.body or ("error: " .. r.err.message) end
  end
  self.count = self.count + 1
  self.first = self.first or now
  self.last = now
  if self.stop_after and self.count >= self.stop_after then self.shutdown = true end
  if self.fail then error("tick_app: a failing tick", 0) end
  return self.interval
end

local JSON = { ["Content-Type"] = "application/json" }

function App:handle(req)
  local path = req.uri:match("^[^?]*")
  if path == "/ticks" then
    return 200, JSON, ('{"count":%d,"first":%.6f,"last":%.6f}')
      :format(self.count, self.first or 0, self.last or 0)
  end
  if path == "/deliver" then
    self.session = self.session or require("cohort.core").session {}
    self.session:submit { base = "http://" .. req.headers.host, path = "/hello" }
    return 200, JSON, '{"submitted":true}'
  elseif path == "/delivered" then
    return 200, { ["Content-Type"] = "text/plain" }, self.delivered or ""
  end
  local ms = path:match("^/delay/(%d+)$")
  if ms then return 200, JSON, '{"delayed":true}', { delay = tonumber(ms) } end
  ms = path:match("^/drip/(%d+)$")
  if ms then return 200, { ["Content-Type"] = "text/plain" }, ("d"):rep(64), { drip = tonumber(ms), drip_bytes = 1 } end
  return 200, { ["Content-Type"] = "text/plain" }, "ok"
end

return M
