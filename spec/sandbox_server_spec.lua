-- The sandbox as a server: concurrency under delays, and signals.
describe("cohort-sandbox server", function()
  local core = require "cohort.core"
  local env = require "support.env"

  it("serves many delayed requests concurrently", function()
    local sb = env.sandbox()
    local s = core.session {}
    local n, delay = 20, 500
    local t0 = core.monotime()
    for _ = 1, n do s:submit { base = sb.url, path = "/__sandbox/delay/" .. delay } end
    local done = 0
    while done < n do
      for _, r in ipairs(s:step(200)) do
        assert.is_nil(r.err)
        done = done + 1
      end
    end
    local elapsed = core.monotime() - t0
    -- one after the other would take n * delay = 10 s; concurrently about 0.5 s
    assert.is_true(elapsed < n * delay / 1000 / 2, ("took %.2f s"):format(elapsed))
    s:close()
  end)

  for _, signal in ipairs { "INT", "TERM" } do
    it("stops cleanly on SIG" .. signal .. " with exit status 0", function()
      local sb = assert(require("cohort.sandbox").start {})
      local s = core.session {}
      assert.is_nil(s:request { base = sb.url, path = "/__sandbox/health" }.err)
      os.execute(("kill -%s %d"):format(signal, sb.pid))
      sb._stopped = true
      local rest = sb._handle:read("*a") -- the launcher prints "exit N" (5.1/LuaJIT: close() gives no status)
      local _, _, code = sb._handle:close()
      code = code or tonumber(rest:match("exit (%d+)"))
      assert.are.equal(0, code)
      local r = s:request { base = sb.url, path = "/__sandbox/health" }
      assert.are.equal("transport", r.err.kind)
      s:close()
    end)
  end
end)
