-- The sandbox as a server (csrc/sandbox.c): answers held back without holding a thread, the
-- periodic tick, thousands of idle or slow connections held while others are answered and
-- then cut by the time-outs, and a clean stop with all of that going on.
--
-- build/flood (spec/support/flood.c) opens the connections. Under make check (COHORT_SLOW:
-- the sandbox runs under valgrind or ASan) the counts are scaled down and the time-outs
-- lengthened, since the server is ten to fifty times slower there.
describe("cohort-sandbox server", function()
  local core = require "cohort.core"
  local env = require "support.env"
  local sandbox = require "cohort.sandbox"
  local SLOW = os.getenv("COHORT_SLOW") ~= nil
  local ME = "/api/v1/users/me/"
  local ME_ID = "60a42f4c693c29420793cb73"

  local function port_of(sb) return tonumber(sb.url:match(":(%d+)$")) end

  local function get(s, base, path)
    local r = s:request { base = base, path = path }
    assert.is_nil(r.err, r.err and r.err.message)
    return r
  end

  local function server_info(base)
    local s = core.session {}
    local info = core.decode(get(s, base, "/__sandbox/server").body)
    s:close()
    return info
  end

  -- Runs build/flood in the background; returns its pipe and its first line ("held K failed F").
  local function flood(sb, n, mode, give_up)
    local h = assert(io.popen(("exec flood 127.0.0.1 %d %d %s %d"):format(port_of(sb), n, mode,
      give_up or 90), "r"))
    return h, h:read("*l") or ""
  end

  -- Polls `fn` until it returns a true value (at most `seconds`); returns that value.
  local function eventually(seconds, fn)
    local t0 = core.monotime()
    while true do
      local v = fn()
      if v or core.monotime() - t0 > seconds then return v end
      os.execute("sleep 0.05")
    end
  end

  describe("answers held back (opts.delay, the drip fault)", function()
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

    it("answers other clients while 200 delayed answers wait", function()
      local sb = env.sandbox()
      local held = core.session { max_connections = 200 }
      local delay = SLOW and 5000 or 1500
      for _ = 1, 200 do held:submit { base = sb.url, path = "/__sandbox/delay/" .. delay } end
      local info = eventually(20, function()
        assert.are.same({}, held:step(0))
        local i = server_info(sb.url)
        return i.suspended >= 200 and i
      end)
      assert.is_table(info, "the 200 delayed answers never all waited at once")
      -- a normal request, answered while every delayed one still waits
      local me = assert(env.prolific().users:me())
      assert.are.equal(ME_ID, me.id)
      assert.are.same({}, held:step(0))
      local done = 0
      while done < 200 do
        for _, r in ipairs(held:step(200)) do
          assert.is_nil(r.err)
          assert.are.equal(200, r.status)
          done = done + 1
        end
      end
      held:close()
    end)

    it("drips a body in pieces, complete and right, while others are answered", function()
      env.control("POST", "faults", { rules = { { path = ME, fault = "drip", drip_ms = 10, drip_bytes = 4 } } })
      local sb = env.sandbox()
      local s = core.session { auth = "token", secret = sb.token }
      local id = s:submit { base = sb.url, path = ME }
      assert.is_true(eventually(20, function()
        assert.are.same({}, s:step(0))
        return server_info(sb.url).suspended >= 1
      end), "the answer never dripped")
      -- the dripping answer takes about a second (4 bytes every 10 ms); a control route is not
      -- subject to faults and answers in the meantime
      assert.are.same({ { ok = true } }, { env.control("GET", "health") })
      assert.are.same({}, s:step(0))
      local r
      repeat r = s:step(200)[1] until r
      env.control("DELETE", "faults")
      assert.are.equal(id, r.id)
      assert.is_nil(r.err)
      assert.are.equal(ME_ID, core.decode(r.body).id)
      s:close()
    end)

    it("a drip slower than the client's time-out is a timeout error", function()
      env.control("POST", "faults", { rules = { { path = ME, fault = "drip", drip_ms = 200 } } })
      local _, err = env.prolific { timeout = 0.5, retries = 1 }.users:me()
      env.control("DELETE", "faults")
      assert.are.equal("timeout", err.kind)
    end)
  end)

  describe("app:tick", function()
    -- A sandbox running spec/support/tick_app.lua (through a wrapper setting COHORT_SANDBOX_APP).
    local function tick_sandbox(args)
      local wrapper = os.tmpname()
      local f = assert(io.open(wrapper, "w"))
      f:write("#!/bin/sh\nCOHORT_SANDBOX_APP=support.tick_app exec ",
        sandbox.shell_quote(os.getenv("COHORT_SANDBOX") or "cohort-sandbox"), ' "$@"\n')
      f:close()
      os.execute("chmod +x " .. sandbox.shell_quote(wrapper))
      local sb, err = sandbox.start { bin = wrapper, args = args, log_file = os.tmpname() }
      os.remove(wrapper)
      return assert(sb, err)
    end
    local function ticks(sb)
      local s = core.session {}
      local t = core.decode(get(s, sb.url, "/ticks").body)
      s:close()
      return t
    end
    local function read(path)
      local f = io.open(path)
      local s = f and f:read("*a") or ""
      if f then f:close() end
      return s
    end

    it("the sandbox's own app is ticked with no request arriving", function()
      local sb = env.sandbox()
      local before = server_info(sb.url)
      assert.is_true(before.ticks >= 1)
      local after = eventually(20, function()
        local i = server_info(sb.url)
        return i.app_ticks > before.app_ticks and i
      end)
      assert.is_table(after, "app:tick was not called again")
      assert.is_true(after.ticks > before.ticks)
    end)

    it("is called with the Unix time, from the server's own thread, while answers wait", function()
      local sb = tick_sandbox {}
      local s = core.session {}
      s:submit { base = sb.url, path = "/delay/1500" }
      assert.are.same({}, s:step(50))
      local first = ticks(sb)
      assert.is_true(first.count >= 1)
      assert.is_true(math.abs(first.first - os.time()) < 60, "not the Unix time")
      local later = eventually(20, function()
        local t = ticks(sb)
        return t.count > first.count and t
      end)
      assert.is_table(later, "no tick while an answer was held back")
      assert.is_true(later.last >= first.last)
      local r
      repeat r = s:step(200)[1] until r
      assert.is_nil(r.err)
      s:close()
      assert.are.equal(0, select(2, sb:stop()))
    end)

    it("keeps to the delay it returns (never sooner)", function()
      local sb = tick_sandbox { "--interval", "250" }
      local a = ticks(sb)
      os.execute("sleep 1")
      local b = ticks(sb)
      -- the upper bound only: a loaded machine makes ticks late, never early
      local allowed = (b.last - a.last) / 0.25 + 1
      assert.is_true(b.count - a.count <= allowed,
        ("%d ticks in %.2f s at 250 ms"):format(b.count - a.count, b.last - a.last))
      sb:stop()
    end)

    it("an error in tick is logged once, and serving and ticking go on", function()
      local sb = tick_sandbox { "--fail" }
      local first = eventually(20, function() local t = ticks(sb); return t.count >= 2 and t end)
      assert.is_table(first)
      local later = eventually(20, function() local t = ticks(sb); return t.count > first.count + 5 and t end)
      assert.is_table(later, "ticking stopped after an error")
      local log = read(sb.log_file)
      local _, logged = log:gsub("error in app:tick: tick_app: a failing tick", "")
      assert.are.equal(1, logged)
      assert.are.equal(0, select(2, sb:stop()))
      os.remove(sb.log_file)
    end)

    it("can pump cohort.core's non-blocking session: a request to the server itself, sent from tick", function()
      local sb = tick_sandbox {}
      local s = core.session {}
      assert.are.equal('{"submitted":true}', get(s, sb.url, "/deliver").body)
      local got = eventually(20, function()
        local b = get(s, sb.url, "/delivered").body
        return b ~= "" and b
      end)
      assert.are.equal("ok", got)
      s:close()
      assert.are.equal(0, select(2, sb:stop()))
    end)

    it("app.shutdown set by a tick stops the server with status 0", function()
      local sb = tick_sandbox { "--stop-after", "5" }
      local rest = sb._handle:read("*a") -- the launcher's shell prints "exit N" once the server ends
      local _, _, code = sb._handle:close()
      sb._stopped = true
      assert.are.equal(0, code or tonumber(rest:match("exit (%d+)")))
      os.remove(sb.log_file)
    end)
  end)

  describe("held connections", function()
    local IDLE_N = SLOW and 1000 or 10000
    local SLOW_N = SLOW and 200 or 1000
    local IDLE_S = SLOW and 8 or 3      -- --idle-timeout
    local REQUEST_S = SLOW and 15 or 5  -- --request-timeout
    local sb, p
    setup(function()
      sb = assert(sandbox.start { args = { "--idle-timeout", IDLE_S, "--request-timeout", REQUEST_S } })
      p = require("cohort").prolific { token = sb.token, base_url = sb.url, retries = 1, timeout = 60 }
    end)
    teardown(function() sb:stop() end)

    it("reports its limits and time-outs", function()
      local info = server_info(sb.url)
      assert.are.equal(IDLE_S, info.idle_timeout)
      assert.are.equal(REQUEST_S, info.request_timeout)
      assert.is_true(info.connection_limit >= IDLE_N + 16, "the limit leaves no room for the flood")
    end)

    it(IDLE_N .. " idle connections: others are still answered, then the idle time-out cuts them", function()
      local hard = env.run("ulimit -Hn"):match("%S+")
      assert.is_true(hard == "unlimited" or tonumber(hard) >= IDLE_N + 300,
        "the hard limit of open files (" .. tostring(hard) .. ") is too low for " .. IDLE_N .. " connections")
      local cut_before = server_info(sb.url).cut
      local h, line = flood(sb, IDLE_N, "idle")
      assert.are.equal(("held %d failed 0"):format(IDLE_N), line)
      local info = server_info(sb.url)
      assert.is_true(info.connections >= IDLE_N, ("the server holds %d"):format(info.connections))
      local me, err = p.users:me()
      assert.is_nil(err)
      assert.are.equal(ME_ID, me.id)
      local rest = h:read("*a")
      h:close()
      assert.are.equal(("cut %d\n"):format(IDLE_N), rest)
      local after = server_info(sb.url)
      assert.is_true(after.connections < 16)
      assert.are.equal(cut_before, after.cut) -- by the idle time-out, not the request time-out
    end)

    it(SLOW_N .. " slow-header clients: others are still answered, then the request time-out cuts them", function()
      local cut_before = server_info(sb.url).cut
      local h, line = flood(sb, SLOW_N, "slow")
      assert.are.equal(("held %d failed 0"):format(SLOW_N), line)
      local info = server_info(sb.url)
      assert.is_true(info.connections >= SLOW_N, ("the server holds %d"):format(info.connections))
      local me, err = p.users:me()
      assert.is_nil(err)
      assert.are.equal(ME_ID, me.id)
      local rest = h:read("*a")
      h:close()
      assert.are.equal(("cut %d\n"):format(SLOW_N), rest)
      local after = server_info(sb.url)
      -- a byte a second kept them clear of the idle time-out: the request time-out cut them
      assert.are.equal(cut_before + SLOW_N, after.cut)
    end)
  end)

  it("POST /__sandbox/shutdown answers, then stops the server with status 0", function()
    local sb = assert(sandbox.start {})
    local s = core.session {}
    local r = s:request { method = "POST", base = sb.url, path = "/__sandbox/shutdown" }
    assert.is_nil(r.err)
    assert.are.same({ ok = true }, core.decode(r.body))
    local rest = sb._handle:read("*a") -- the launcher's shell prints "exit N" once the server ends
    local _, _, code = sb._handle:close()
    sb._stopped = true
    assert.are.equal(0, code or tonumber(rest:match("exit (%d+)")))
    s:close()
  end)

  for _, signal in ipairs { "INT", "TERM" } do
    it("stops cleanly on SIG" .. signal .. " with exit status 0, connections held and answers waiting", function()
      local sb = assert(sandbox.start { args = { "--fault", "GET:" .. ME .. ":drip:drip_ms=50" } })
      local s = core.session {}
      assert.is_nil(s:request { base = sb.url, path = "/__sandbox/health" }.err)
      local h, line = flood(sb, SLOW and 100 or 1000, "idle")
      assert.matches("^held %d+ failed 0$", line)
      local waiting = core.session { auth = "token", secret = sb.token }
      waiting:submit { base = sb.url, path = "/__sandbox/delay/30000" }
      waiting:submit { base = sb.url, path = ME } -- dripping
      assert.is_true(eventually(20, function()
        assert.are.same({}, waiting:step(0))
        return server_info(sb.url).suspended >= 2
      end))
      os.execute(("kill -%s %d"):format(signal, sb.pid))
      sb._stopped = true
      local rest = sb._handle:read("*a") -- the launcher prints "exit N" (5.1/LuaJIT: close() gives no status)
      local _, _, code = sb._handle:close()
      code = code or tonumber(rest:match("exit (%d+)"))
      assert.are.equal(0, code)
      local r = s:request { base = sb.url, path = "/__sandbox/health" }
      assert.are.equal("transport", r.err.kind)
      assert.matches("^cut %d+", h:read("*a"))
      h:close()
      local done = {}
      repeat
        for _, x in ipairs(waiting:step(200)) do done[#done + 1] = x end
      until #done == 2
      for _, x in ipairs(done) do assert.is_table(x.err) end
      waiting:close()
      s:close()
    end)
  end
end)
