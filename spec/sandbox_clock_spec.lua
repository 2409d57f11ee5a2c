-- The sandbox clock (lua/cohort/sandbox/clock.lua): rates, stepping, the order of scheduled
-- events, no double firing, and advances across many events. Real time is a fake source here,
-- so nothing depends on how fast the machine is.
describe("cohort.sandbox.clock #sandbox54", function()
  local clock = require "cohort.sandbox.clock"
  local START = 1767225600 -- 2026-01-01T00:00:00Z

  -- a real-time source the spec moves by hand
  local function fake(t0)
    local f = { t = t0 or 5000.0 }
    f.source = function() return f.t end
    return f
  end

  describe("rates", function()
    it("real time by default: sandbox time moves with the source from start", function()
      local f = fake()
      local c = clock.new { start = START, source = f.source }
      assert.are.equal(START, c:now())
      f.t = f.t + 2.5
      assert.are.equal(START + 2.5, c:now())
      assert.is_false(c:stepped())
    end)

    it("start defaults to the real time now", function()
      local f = fake(1700000000.25)
      local c = clock.new { source = f.source }
      assert.are.equal(1700000000.25, c:now())
      -- and without a fake source, the real clock
      local real = clock.new {}
      assert.is_true(math.abs(real:now() - os.time()) <= 2)
    end)

    it("rate 600: ten sandbox minutes a real second", function()
      local f = fake()
      local c = clock.new { rate = 600, start = START, source = f.source }
      f.t = f.t + 1
      assert.are.equal(START + 600, c:now())
      f.t = f.t + 0.5
      assert.are.equal(START + 900, c:now())
    end)

    it("stepped: real time passing changes nothing; advance moves it", function()
      local f = fake()
      local c = clock.new { rate = "stepped", start = START, source = f.source }
      f.t = f.t + 3600
      assert.are.equal(START, c:now())
      assert.is_true(c:stepped())
      c:advance(90)
      assert.are.equal(START + 90, c:now())
      c:advance_to(START + 1000)
      assert.are.equal(START + 1000, c:now())
      c:advance_to(START) -- the past: no-op, time never goes back
      assert.are.equal(START + 1000, c:now())
    end)

    it("advance on a running clock adds to the rate's time", function()
      local f = fake()
      local c = clock.new { rate = 60, start = START, source = f.source }
      c:advance(3600)
      f.t = f.t + 1
      assert.are.equal(START + 3600 + 60, c:now())
    end)

    it("set_rate keeps the time where it is", function()
      local f = fake()
      local c = clock.new { rate = 10, start = START, source = f.source }
      f.t = f.t + 1
      assert.are.equal(START + 10, c:now())
      c:set_rate("stepped")
      f.t = f.t + 100
      assert.are.equal(START + 10, c:now())
      c:set_rate(1)
      f.t = f.t + 5
      assert.are.equal(START + 15, c:now())
    end)

    it("never goes backwards when the real source does", function()
      local f = fake()
      local c = clock.new { rate = 1, start = START, source = f.source }
      f.t = f.t + 10
      assert.are.equal(START + 10, c:now())
      f.t = f.t - 8
      assert.are.equal(START + 10, c:now())
      f.t = f.t + 9
      assert.are.equal(START + 11, c:now())
    end)

    it("refuses bad rates, options and starts, naming the method", function()
      assert.has_error(function() clock.new { rate = 0 } end,
        'cohort.sandbox.clock: new(): rate must be a positive number of sandbox seconds a real second (at most 31536000) or "stepped", not 0')
      assert.has_error(function() clock.new { rate = "fast" } end)
      assert.has_error(function() clock.new { rate = -1 } end)
      assert.has_error(function() clock.new { rate = 0 / 0 } end)
      assert.has_error(function() clock.new { speed = 2 } end, "cohort.sandbox.clock.new(): unknown option 'speed'")
      assert.has_error(function() clock.new { start = "now" } end, "cohort.sandbox.clock.new(): start must be Unix seconds")
      local c = clock.new { rate = "stepped", start = START }
      assert.has_error(function() c:set_rate(0) end)
      assert.has_error(function() c:advance(-1) end,
        "cohort.sandbox.clock: advance(): seconds must be a finite number >= 0")
      assert.has_error(function() c:advance(math.huge) end)
      assert.has_error(function() c:advance("10") end)
    end)

    it("reads the command line's --clock-rate and --clock-start", function()
      assert.are.equal(600, clock.parse_rate("600"))
      assert.are.equal(0.5, clock.parse_rate("0.5"))
      assert.are.equal("stepped", clock.parse_rate("stepped"))
      assert.has_error(function() clock.parse_rate("0") end, '--clock-rate: not a positive number or "stepped": 0')
      assert.has_error(function() clock.parse_rate("fast") end)
      assert.are.equal(START, clock.parse_start(tostring(START)))
      assert.are.equal(START, clock.parse_start("2026-01-01T00:00:00Z"))
      assert.has_error(function() clock.parse_start("tomorrow") end,
        "--clock-start: tomorrow: not an ISO 8601 date (YYYY-MM-DD…)")
    end)
  end)

  describe("times as Prolific writes them", function()
    it("iso() is ISO 8601 UTC with microseconds", function()
      assert.are.equal("2026-01-01T00:00:00.000000Z", clock.iso(START))
      assert.are.equal("2026-01-01T00:00:01.250000Z", clock.iso(START + 1.25))
      assert.are.equal("2026-01-01T00:00:02.000000Z", clock.iso(START + 1.9999999))
      local c = clock.new { rate = "stepped", start = START + 86400 }
      assert.are.equal("2026-01-02T00:00:00.000000Z", c:iso())
    end)

    it("parse_iso reads dates, times, fractions and offsets", function()
      assert.are.equal(START, clock.parse_iso("2026-01-01"))
      assert.are.equal(START, clock.parse_iso("2026-01-01T00:00:00Z"))
      assert.are.equal(START, clock.parse_iso("2026-01-01T00:00:00.000000Z"))
      assert.are.equal(START + 0.5, clock.parse_iso("2026-01-01T00:00:00.5Z"))
      assert.are.equal(START, clock.parse_iso("2026-01-01T01:00:00+01:00"))
      assert.are.equal(START, clock.parse_iso("2025-12-31T19:00:00-0500"))
      assert.are.equal(START + 13 * 3600 + 45 * 60, clock.parse_iso("2026-01-01 13:45 UTC"))
      assert.are.equal(951782400, clock.parse_iso("2000-02-29T00:00:00Z"))
      assert.are.equal(0, clock.parse_iso("1970-01-01T00:00:00Z"))
      -- every day of four years round-trips through iso()
      for day = 0, 4 * 366 do
        local t = START + day * 86400 + 3723.5
        assert.are.equal(t, clock.parse_iso(clock.iso(t)))
      end
    end)

    it("parse_iso refuses what it cannot read, saying why", function()
      local t, err = clock.parse_iso("2050-02-28T13:45:00 Europe/London")
      assert.is_nil(t)
      assert.are.equal('unsupported time zone " Europe/London" (give Z or an offset such as +01:00)', err)
      assert.are.same({ nil, "day out of range" }, { clock.parse_iso("2026-02-29") })
      assert.are.same({ nil, "month out of range" }, { clock.parse_iso("2026-13-01") })
      assert.are.same({ nil, "time of day out of range" }, { clock.parse_iso("2026-01-01T24:00:00Z") })
      assert.is_nil(clock.parse_iso("01/02/2026"))
      assert.is_nil(clock.parse_iso(42))
    end)
  end)

  describe("scheduled events", function()
    local c
    before_each(function() c = clock.new { rate = "stepped", start = START } end)

    it("run in time order, ties in the order scheduled, each with now() at its own time", function()
      local ran = {}
      local function note(name)
        return function(t, key) ran[#ran + 1] = { name, t, key, c:now() } end
      end
      c:at(START + 30, "d", note("d"))
      c:at(START + 10, "a", note("a"))
      c:at(START + 20, "b", note("b"))
      c:at(START + 20, "c", note("c"))
      assert.are.equal(START + 10, c:next_time())
      assert.are.same({ "a", "b", "c", "d" }, (function()
        local keys = {}
        for i, p in ipairs(c:pending()) do keys[i] = p.key end
        return keys
      end)())
      local n = c:advance(25)
      assert.are.equal(3, n)
      assert.are.same({
        { "a", START + 10, "a", START + 10 },
        { "b", START + 20, "b", START + 20 },
        { "c", START + 20, "c", START + 20 },
      }, ran)
      assert.are.equal(START + 25, c:now())
      assert.are.equal(1, c:advance(5))
      assert.are.same({ "d", START + 30, "d", START + 30 }, ran[4])
    end)

    it("never run early, and never twice", function()
      local count = 0
      c:at(START + 60, "x", function() count = count + 1 end)
      assert.are.equal(0, c:due())
      assert.are.equal(0, c:advance(59.999))
      assert.are.equal(0, count)
      assert.are.equal(1, c:advance(0.001))
      assert.are.equal(1, count)
      assert.are.equal(0, c:due())
      assert.are.equal(0, c:advance(3600))
      assert.are.equal(1, count)
      assert.is_nil(c:when("x"))
    end)

    it("due(upto) runs only what is due by then, and never what is still in the future", function()
      local ran = {}
      for i = 1, 5 do c:at(START + i, "e" .. i, function() ran[#ran + 1] = i end) end
      c:advance(0)
      assert.are.equal(0, #ran)
      -- a stepped clock at START: upto beyond now is held to now
      assert.are.equal(0, c:due(START + 10))
      c.base_sandbox = START + 5 -- (as an advance without running)
      assert.are.equal(2, c:due(START + 2))
      assert.are.same({ 1, 2 }, ran)
      assert.are.equal(3, c:due())
      assert.are.same({ 1, 2, 3, 4, 5 }, ran)
    end)

    it("a key names one pending event: scheduling it again replaces it", function()
      local fired = {}
      c:at(START + 10, "max_time:s1", function(t) fired[#fired + 1] = t end)
      c:at(START + 40, "max_time:s1", function(t) fired[#fired + 1] = t end)
      assert.are.equal(START + 40, c:when("max_time:s1"))
      assert.are.equal(1, #c:pending())
      c:advance(100)
      assert.are.same({ START + 40 }, fired)
    end)

    it("cancel removes a pending event", function()
      local fired = false
      c:at(START + 10, "publish:st1", function() fired = true end)
      assert.is_true(c:cancel("publish:st1"))
      assert.is_false(c:cancel("publish:st1"))
      assert.is_false(c:cancel("never-scheduled"))
      c:advance(20)
      assert.is_false(fired)
      assert.are.equal(0, c:state().pending)
    end)

    it("an advance across a day of 2,000 events runs each once, in order, at its own time", function()
      local seed = 12345
      local function rnd() seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 end
      local times, seen, order = {}, {}, {}
      for i = 1, 2000 do
        local t = START + math.floor(rnd() * 86400 * 1000) / 1000
        times[i] = t
        c:at(t, "e" .. i, function(at, key)
          assert.are.equal(at, c:now())
          seen[key] = (seen[key] or 0) + 1
          order[#order + 1] = at
        end)
      end
      local n, errs = c:advance(86400)
      assert.are.equal(2000, n)
      assert.are.same({}, errs)
      for i = 1, 2000 do assert.are.equal(1, seen["e" .. i]) end
      for i = 2, #order do assert.is_true(order[i - 1] <= order[i]) end
      table.sort(times)
      assert.are.same(times, order)
      assert.are.equal(START + 86400, c:now())
    end)

    it("what an event schedules inside the advance runs in the same advance, where it would have", function()
      -- a submission starts at +10 min, times out 30 min later; the approval window after that
      local log = {}
      c:at(START + 600, "start:s1", function()
        log[#log + 1] = { "ACTIVE", c:now() }
        c:after(1800, "max_time:s1", function()
          log[#log + 1] = { "TIMED-OUT", c:now() }
          c:at(c:now() + clock.AUTO_APPROVE_AFTER, "auto_approve:s1", function()
            log[#log + 1] = { "APPROVED", c:now() }
          end)
        end)
      end)
      assert.are.equal(2, c:advance(8 * 3600))
      assert.are.same({ { "ACTIVE", START + 600 }, { "TIMED-OUT", START + 2400 } }, log)
      assert.are.equal(START + 2400 + 21 * 86400, c:when("auto_approve:s1"))
      assert.are.equal(1, c:advance(30 * 86400))
      assert.are.same({ "APPROVED", START + 2400 + 21 * 86400 }, log[3])
    end)

    it("a chain of retries an advance jumps over plays out one after another", function()
      local at = {}
      local function retry(k)
        return function()
          at[#at + 1] = c:now() - START
          if k < 11 then c:after(60 * 2 ^ (k - 1), "delivery:e1", retry(k + 1)) end
        end
      end
      c:at(START, "delivery:e1", retry(1))
      c:advance(86400 * 2)
      assert.are.same({ 0, 60, 180, 420, 900, 1860, 3780, 7620, 15300, 30660, 61380 }, at)
    end)

    it("an event scheduled in the past runs at once, and time seen inside never goes back", function()
      local seen = {}
      c:at(START + 100, "late", function()
        seen[#seen + 1] = c:now()
        c:at(START + 50, "past", function() seen[#seen + 1] = c:now() end)
      end)
      c:advance(200)
      assert.are.same({ START + 100, START + 100 }, seen)
    end)

    it("an event that raises is not run again, and the others still run", function()
      local ran = {}
      c:at(START + 1, "a", function() ran[#ran + 1] = "a" end)
      c:at(START + 2, "boom", function() error("handler broke") end)
      c:at(START + 3, "b", function() ran[#ran + 1] = "b" end)
      local n, errs = c:advance(10)
      assert.are.equal(3, n)
      assert.are.same({ "a", "b" }, ran)
      assert.are.equal(1, #errs)
      assert.are.equal("boom", errs[1].key)
      assert.are.equal(START + 2, errs[1].t)
      assert.truthy(errs[1].message:find("handler broke", 1, true))
      assert.are.equal(1, #c.errors)
      assert.are.equal(0, c:advance(10))
    end)

    it("advance from inside an event is refused; a nested due() does nothing", function()
      local inner_err, nested
      c:at(START + 1, "a", function()
        inner_err = select(2, pcall(c.advance, c, 5))
        nested = c:due()
      end)
      c:at(START + 1, "b", function() end)
      assert.are.equal(2, c:advance(1))
      assert.truthy(tostring(inner_err):find("advance(): not from inside a scheduled event", 1, true))
      assert.are.equal(0, nested)
    end)

    it("clear drops every pending event and keeps the time", function()
      local fired = 0
      for i = 1, 5 do c:at(START + i, "e" .. i, function() fired = fired + 1 end) end
      c:cancel("e2")
      c:advance(1.5)
      assert.are.equal(1, fired)
      assert.are.equal(3, c:clear())
      assert.are.equal(START + 1.5, c:now())
      assert.are.equal(0, c:advance(10))
      assert.are.equal(1, fired)
      assert.is_nil(c:next_time())
      c:at(START + 20, "e1", function() fired = fired + 1 end)
      assert.are.equal(1, c:advance(10))
      assert.are.equal(2, fired)
    end)

    it("re-scheduling one key many times keeps the schedule small", function()
      for i = 1, 10000 do c:at(START + i, "max_time:s1", function() end) end
      assert.are.equal(1, c:state().pending)
      assert.is_true(#c.heap < 200)
      assert.are.equal(START + 10000, c:next_time())
      assert.are.equal(1, c:advance(20000))
    end)

    it("refuses bad arguments, naming the method", function()
      assert.has_error(function() c:at("soon", "k", function() end) end,
        "cohort.sandbox.clock: at(): t must be a number of sandbox seconds")
      assert.has_error(function() c:at(START, "", function() end) end,
        "cohort.sandbox.clock: at(): key must be a non-empty string")
      assert.has_error(function() c:at(START, 7, function() end) end)
      assert.has_error(function() c:at(START, "k", "fn") end,
        "cohort.sandbox.clock: at(): fn must be a function")
      assert.has_error(function() c:at(0 / 0, "k", function() end) end)
      assert.has_error(function() c:after(-1, "k", function() end) end)
      assert.has_error(function() c:cancel(nil) end,
        "cohort.sandbox.clock: cancel(): key must be a non-empty string")
    end)

    it("state() and tostring show the time, the rate and what is pending", function()
      c:at(START + 5, "publish:st1", function() end)
      local s = c:state()
      assert.are.same({ now = START, at = "2026-01-01T00:00:00.000000Z", rate = "stepped",
        stepped = true, pending = 1, next = START + 5, next_at = "2026-01-01T00:00:05.000000Z" }, s)
      assert.are.equal("cohort.sandbox.Clock 2026-01-01T00:00:00.000000Z (stepped, 1 pending)", tostring(c))
      assert.are.same({ { key = "publish:st1", t = START + 5, at = "2026-01-01T00:00:05.000000Z" } }, c:pending())
      assert.are.equal("auto_approve:abc", clock.key("auto_approve", "abc"))
    end)
  end)

  it("the review window is Prolific's documented 21 days", function()
    local f = assert(io.open("spec/fixtures/prolific-openapi-2025.json", "rb"))
    local text = f:read("*a")
    f:close()
    assert.truthy(text:find("Submissions that are awaiting review are automatically approved after 21 days", 1, true))
    assert.are.equal(21 * 86400, clock.AUTO_APPROVE_AFTER)
  end)

  it("docs/sandbox.md's example runs as written", function()
    local docblocks = require "support.docblocks"
    local printed, expected = docblocks.run(docblocks.block("docs/sandbox.md", "The clock"))
    assert.are.equal(3, #expected)
    assert.are.same(expected, printed)
  end)
end)
