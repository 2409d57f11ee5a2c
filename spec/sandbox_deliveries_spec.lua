-- Webhook deliveries (lua/cohort/sandbox/deliveries.lua) over real HTTP on loopback, to the
-- recording receiver (spec/support/receiver.c), on a stepped sandbox clock: signatures that
-- cohort.workbench.webhooks.verify accepts over the raw bytes, one X-Event-ID across retries,
-- Prolific's retry schedule, FAILED and disabling, and a pump that never blocks.
describe("cohort.sandbox.deliveries #sandbox54", function()
  local core = require "cohort.core"
  local clock = require "cohort.sandbox.clock"
  local deliveries = require "cohort.sandbox.deliveries"
  local webhooks = require "cohort.workbench.webhooks"
  local util = require "cohort.sandbox.util"
  local receiver = require "support.receiver"

  local START = 1767225600 -- 2026-01-01T00:00:00Z, sandbox time
  -- real-time limits of attempts, longer under valgrind and the sanitizers (make check)
  local SLOW = os.getenv("COHORT_SLOW") and 4 or 1
  local SECRET = "whsec-Kq7c2Vt9-sandbox-secret"
  local rcv
  local engines = {}

  setup(function() rcv = receiver.start() end)
  teardown(function() rcv:stop() end)
  after_each(function()
    for _, d in ipairs(engines) do d:close() end
    engines = {}
  end)

  -- event ids unique across the engines of this file (the receiver sees them all)
  local nids = 0
  local function new_id()
    nids = nids + 1
    return ("%024x"):format(0x5eed0000 + nids)
  end

  local function engine(opts)
    local c = clock.new { rate = "stepped", start = START }
    local o = { clock = c, timeout = 5, connect_timeout = 2, seed = 7, new_id = new_id }
    for k, v in pairs(opts or {}) do o[k] = v end
    local d = deliveries.new(o)
    engines[#engines + 1] = d
    return d, o.clock
  end

  local nsubs = 0
  local function sub(path, extra)
    nsubs = nsubs + 1
    local s = { id = ("sub%04d"):format(nsubs), target_url = rcv:url(path), is_enabled = true,
      secret = SECRET, workspace_id = "ws1" }
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end

  local function payload(rid, status)
    return { resource_id = rid, event_type = "submission.status.change",
      participant_id = "60bf9310e8dec401be6e9615", status = status or "AWAITING REVIEW" }
  end

  -- Runs the tick (clock, then pump) until cond() holds; at most 15 s of real time, which only
  -- bounds a broken run: nothing asserts how long anything took.
  local function drive(d, c, cond)
    local t0 = core.monotime()
    repeat
      c:due()
      d:pump()
      if cond() then return true end
      core.sleep(0.003)
    until core.monotime() - t0 > 15
    return false
  end

  local function settled(d, id)
    return function()
      local ev = d:event(id)
      return ev.status ~= "PENDING" or (ev.attempts[#ev.attempts] and not ev.attempts[#ev.attempts].pending
        and not d:busy())
    end
  end

  -- the receiver's requests for one event id
  local function arrivals(id)
    local out = {}
    for _, r in ipairs(rcv:requests()) do
      if r.headers["x-event-id"] == id then out[#out + 1] = r end
    end
    return out
  end

  it("a delivery arrives signed as Prolific signs, and verify accepts it over the raw bytes", function()
    local d, c = engine()
    local s = sub("/ok")
    local ev = d:enqueue(s, "submission.status.change", payload("625d4a831bcda2d59ac5a251"))
    assert.are.equal("PENDING", ev.status)
    assert.is_true(drive(d, c, function() return d:event(ev.id).status ~= "PENDING" end))
    local done = d:event(ev.id)
    assert.are.equal("SUCCEEDED", done.status)
    local got = arrivals(ev.id)
    assert.are.equal(1, #got)
    local r = got[1]
    assert.are.equal("POST", r.method)
    assert.are.equal("/ok", r.path)
    assert.are.equal(done.body, r.body)          -- the exact bytes that were signed
    assert.are.same(payload("625d4a831bcda2d59ac5a251"), util.decode(r.body))
    assert.are.equal("application/json", r.headers["content-type"])
    assert.truthy(r.headers["user-agent"]:find("^cohort%-sandbox/"))
    assert.are.equal(ev.id, r.headers["x-event-id"])
    assert.are.equal(tostring(START), r.headers["x-timestamp"])  -- the event's sandbox time
    assert.is_true(webhooks.verify(SECRET, r.headers, r.body))
    -- the request timestamp is wall-clock time, so verify's replay window holds on any clock
    assert.is_true(math.abs(tonumber(r.headers["x-prolific-request-timestamp"]) - os.time()) < 60)
    assert.are.equal(r.headers["x-prolific-request-timestamp"], done.attempts[1].timestamp)
    -- and it is a real check: another secret, or one byte changed, is refused
    assert.is_nil(webhooks.verify(SECRET .. "x", r.headers, r.body))
    assert.is_nil(webhooks.verify(SECRET, r.headers, (r.body:gsub("AWAITING", "AWAITINg"))))
    assert.are.equal(1, #done.attempts)
    assert.are.equal(200, done.attempts[1].status)
    assert.are.equal("number", type(done.attempts[1].duration_ms))
    assert.are.equal(START, done.attempts[1].time)
  end)

  it("every retry carries the same X-Event-ID and bytes, each freshly signed", function()
    local d, c = engine()
    local s = sub("/seq/500,503,drop,302,200")
    local ev = d:enqueue(s, "submission.status.change", payload("r-retry"))
    for _ = 1, 5 do
      assert.is_true(drive(d, c, settled(d, ev.id)))
      local e = d:event(ev.id)
      if e.status ~= "PENDING" then break end
      c:advance_to(e.next_attempt)
    end
    local e = d:event(ev.id)
    assert.are.equal("SUCCEEDED", e.status)
    local got = arrivals(ev.id)
    assert.are.equal(5, #got)
    for _, r in ipairs(got) do
      assert.are.equal(ev.id, r.headers["x-event-id"])
      assert.are.equal(e.body, r.body)
      assert.is_true(webhooks.verify(SECRET, r.headers, r.body))
    end
    assert.are.equal(5, #e.attempts)
    assert.are.equal(500, e.attempts[1].status)
    assert.are.equal(503, e.attempts[2].status)
    assert.is_nil(e.attempts[3].status)
    assert.truthy(e.attempts[3].error:find("GOT_NOTHING", 1, true))
    assert.are.equal(302, e.attempts[4].status)       -- a redirect is not a delivery
    assert.are.equal("answered 302, not 2xx", e.attempts[4].error)
    assert.are.equal(200, e.attempts[5].status)
  end)

  -- Steps a failing event through its whole schedule: before each retry's time nothing is sent,
  -- at it the attempt arrives. Returns the due times (sandbox seconds after START).
  local function walk_schedule(d, c, ev_id)
    local dues = { 0 }
    assert.is_true(drive(d, c, settled(d, ev_id)))
    while d:event(ev_id).status == "PENDING" do
      local e = d:event(ev_id)
      local n = #arrivals(ev_id)
      local k = #e.attempts -- the retry now scheduled
      local prev = dues[#dues] + START
      assert.is_true(e.next_attempt >= prev)
      assert.is_true(e.next_attempt <= prev + deliveries.max_delay(k))
      assert.are.equal(e.next_attempt, c:when("delivery:" .. ev_id))
      -- just before: nothing goes out
      c:advance_to(e.next_attempt - 0.001)
      d:pump()
      assert.is_false(d:busy())
      assert.are.equal(n, #arrivals(ev_id))
      -- at the time: the attempt
      c:advance_to(e.next_attempt)
      assert.is_true(drive(d, c, function() return #arrivals(ev_id) == n + 1 end))
      assert.is_true(drive(d, c, settled(d, ev_id)))
      local after = d:event(ev_id)
      assert.are.equal(e.next_attempt, after.attempts[k + 1].due)
      dues[#dues + 1] = e.next_attempt - START
    end
    return dues
  end

  it("retries follow Prolific's schedule on a stepped clock, then the event is FAILED", function()
    local d, c = engine { seed = 7 }
    local s = sub("/status/500")
    local ev = d:enqueue(s, "submission.status.change", payload("r-schedule"))
    local dues = walk_schedule(d, c, ev.id)
    local e = d:event(ev.id)
    assert.are.equal("FAILED", e.status)
    assert.is_nil(e.next_attempt)
    -- the schedule as documented: retry k waits jitter · 60 · 2^(k-1) after the last due time,
    -- at most 11 retries, none past 24 h after the first attempt
    local want, t = { 0 }, 0
    for k = 1, 11 do
      t = t + deliveries.jitter(7, 1, k) * 60 * 2 ^ (k - 1)
      if t > 86400 then break end
      want[#want + 1] = t
    end
    assert.are.equal(#want, #dues)
    for i = 1, #want do assert.is_true(math.abs(want[i] - dues[i]) < 1e-6) end
    assert.are.equal(#want, #e.attempts)
    assert.is_true(#e.attempts >= 2 and #e.attempts <= 12)
    for _, a in ipairs(e.attempts) do assert.are.equal(500, a.status) end
    assert.truthy(e.reason:find("cut%-off") or e.reason:find("all 12 attempts failed", 1, true))
    -- the persistent-failure rule needs 5 days: one bad day does not disable
    assert.is_true(s.is_enabled)
  end)

  it("the jitter is reproducible from the seed, and another seed gives another schedule", function()
    local function run(seed)
      local d, c = engine { seed = seed, retries = 4 }
      local ev = d:enqueue(sub("/status/503"), "study.status.change", payload("r-seed"))
      return walk_schedule(d, c, ev.id)
    end
    local a, b, other = run(99), run(99), run(100)
    assert.are.equal(5, #a)
    assert.are.same(a, b)
    assert.are_not.same(a, other)
  end)

  it("a whole day jumped at once plays out every retry that fits, in order", function()
    local d, c = engine { seed = 3 }
    local ev = d:enqueue(sub("/status/500"), "submission.status.change", payload("r-jump"))
    assert.is_true(drive(d, c, settled(d, ev.id)))
    c:advance(2 * 86400)
    assert.is_true(drive(d, c, function() return d:event(ev.id).status == "FAILED" end))
    local e = d:event(ev.id)
    local t, n = 0, 1
    for k = 1, 11 do
      t = t + deliveries.jitter(3, 1, k) * 60 * 2 ^ (k - 1)
      if t > 86400 then break end
      n = n + 1
      assert.is_true(math.abs(START + t - e.attempts[n].due) < 1e-6)
    end
    assert.are.equal(n, #e.attempts)
    assert.are.equal(n, #arrivals(ev.id))
  end)

  it("the cut-off: no retry later than `cutoff` after the first attempt", function()
    local d, c = engine { seed = 11, cutoff = 400 }
    local ev = d:enqueue(sub("/status/500"), "submission.status.change", payload("r-cutoff"))
    local dues = walk_schedule(d, c, ev.id)
    local want, t = 1, 0
    for k = 1, 11 do
      t = t + deliveries.jitter(11, 1, k) * 60 * 2 ^ (k - 1)
      if t > 400 then break end
      want = want + 1
    end
    assert.is_true(want < 12)
    assert.are.equal(want, #dues)
    local e = d:event(ev.id)
    assert.are.equal("FAILED", e.status)
    assert.are.equal(("the next retry would pass the 400 s cut-off after %d attempts"):format(want), e.reason)
    assert.is_true(dues[#dues] <= 400)
  end)

  it("event ids are 24 hex digits, fresh for every event, the same for a seed", function()
    local function ids(seed)
      local d = deliveries.new { clock = clock.new { rate = "stepped", start = START }, seed = seed }
      engines[#engines + 1] = d
      local out = {}
      for i = 1, 50 do
        out[i] = d:enqueue({ id = "s", target_url = "http://127.0.0.1:1/", is_enabled = false },
          "study.status.change", {}).id
      end
      return out
    end
    local a = ids(5)
    local seen = {}
    for _, id in ipairs(a) do
      assert.truthy(id:match("^%x+$") and #id == 24)
      assert.is_nil(seen[id])
      seen[id] = true
    end
    assert.are.same(a, ids(5))
    assert.are_not.same(a, ids(6))
    local d = engine { new_id = function() return "same" end }
    d:enqueue(sub("/ok"), "study.status.change", {})
    assert.has_error(function() d:enqueue(sub("/ok"), "study.status.change", {}) end,
      "cohort.sandbox.deliveries: enqueue(): new_id() gave no fresh id")
  end)

  it("all retries used: FAILED after 1 + retries attempts", function()
    local d, c = engine { retries = 3, first_delay = 1 }
    local ev = d:enqueue(sub("/status/500"), "submission.status.change", payload("r-used"))
    for _ = 1, 10 do
      assert.is_true(drive(d, c, settled(d, ev.id)))
      local e = d:event(ev.id)
      if e.status ~= "PENDING" then break end
      c:advance_to(e.next_attempt)
    end
    local e = d:event(ev.id)
    assert.are.equal("FAILED", e.status)
    assert.are.equal(4, #e.attempts)
    assert.are.equal("all 4 attempts failed", e.reason)
  end)

  it("persistent failure: 5 days of nothing but failures disable the subscription", function()
    local disabled = {}
    local d, c = engine { retries = 0, on_disable = function(s, why)
      s.is_enabled = false
      disabled[#disabled + 1] = { s.id, why }
    end }
    local s = sub("/status/500")
    local ids = {}
    for day = 0, 4 do
      local ev = d:enqueue(s, "submission.status.change", payload("day" .. day))
      ids[#ids + 1] = ev.id
      assert.is_true(drive(d, c, settled(d, ev.id)))
      assert.are.equal("FAILED", d:event(ev.id).status)
      assert.is_true(s.is_enabled, "still enabled on day " .. day)
      c:advance(86400)
    end
    -- day 5: the failure 5 days after the first one turns it off
    local ev = d:enqueue(s, "submission.status.change", payload("day5"))
    assert.is_true(drive(d, c, settled(d, ev.id)))
    assert.is_false(s.is_enabled)
    assert.are.equal(1, #disabled)
    assert.are.equal(s.id, disabled[1][1])
    assert.truthy(disabled[1][2]:find("failed for 432000 s", 1, true))
    assert.are.equal(1, #d:disabled())
    assert.are.same({ s.id }, d:disabled()[1].subscriptions)
    -- a later event of a disabled subscription is FAILED without an attempt
    local late = d:enqueue(s, "submission.status.change", payload("late"))
    d:pump()
    local l = d:event(late.id)
    assert.are.equal("FAILED", l.status)
    assert.are.equal(0, #l.attempts)
    assert.are.equal("the subscription is disabled", l.reason)
    -- turned back on by the researcher: a fresh 5-day window
    s.is_enabled = true
    c:advance(86400)
    local again = d:enqueue(s, "submission.status.change", payload("again"))
    assert.is_true(drive(d, c, settled(d, again.id)))
    assert.are.equal("FAILED", d:event(again.id).status)
    assert.are.equal(1, #d:event(again.id).attempts)
    assert.is_true(s.is_enabled)
    assert.are.equal(1, #disabled)
  end)

  it("a success resets the failing window", function()
    local d, c = engine { retries = 0 }
    -- requests 1, 2 fail, 3 succeeds, the rest fail
    local s = sub("/seq/500,500,200,500")
    for day = 0, 7 do
      local ev = d:enqueue(s, "submission.status.change", payload("d" .. day))
      assert.is_true(drive(d, c, settled(d, ev.id)))
      assert.are.equal(day == 2 and "SUCCEEDED" or "FAILED", d:event(ev.id).status)
      assert.is_true(s.is_enabled, "enabled on day " .. day) -- failing since day 3 only
      c:advance(86400)
    end
    local ev = d:enqueue(s, "submission.status.change", payload("d8"))
    assert.is_true(drive(d, c, settled(d, ev.id)))
    assert.is_false(s.is_enabled)
  end)

  it("disable_on_failed: the last failure marks the event FAILED and disables at once", function()
    local d, c = engine { retries = 2, first_delay = 1, disable_on_failed = true }
    local s = sub("/status/502")
    local ev = d:enqueue(s, "submission.status.change", payload("r-strict"))
    local other = d:enqueue(s, "submission.status.change", payload("r-other"))
    -- the second event waits on its own retry when the first one fails for good
    for _ = 1, 10 do
      assert.is_true(drive(d, c, function() return not d:busy() end))
      if d:event(ev.id).status ~= "PENDING" then break end
      c:advance_to(d:event(ev.id).next_attempt)
    end
    assert.are.equal("FAILED", d:event(ev.id).status)
    assert.are.equal(3, #d:event(ev.id).attempts)
    assert.is_false(s.is_enabled)
    local o = d:event(other.id)
    assert.are.equal("FAILED", o.status)
    assert.truthy(o.reason:find("the subscription was disabled", 1, true))
    assert.is_nil(c:when("delivery:" .. other.id))
  end)

  it("a subscription the researcher disabled gets no attempt", function()
    local d = engine()
    local s = sub("/ok")
    local ev = d:enqueue(s, "study.status.change", payload("r-off"))
    s.is_enabled = false
    d:pump()
    local e = d:event(ev.id)
    assert.are.equal("FAILED", e.status)
    assert.are.equal(0, #e.attempts)
    assert.are.equal(0, #arrivals(ev.id))
  end)

  describe("never blocking", function()
    it("a receiver that never answers does not stall pump; the attempt times out", function()
      local d, c = engine { timeout = 0.5 * SLOW }
      local hang = d:enqueue(sub("/hang"), "submission.status.change", payload("r-hang"))
      local ok = d:enqueue(sub("/ok"), "submission.status.change", payload("r-ok"))
      -- pump returns while the hanging request is at the receiver, unanswered, and meanwhile
      -- the other delivery completes
      local seen_pending_after_arrival = false
      assert.is_true(drive(d, c, function()
        local h = d:event(hang.id)
        if #arrivals(hang.id) == 1 and h.attempts[1] and h.attempts[1].pending then
          seen_pending_after_arrival = true
        end
        return seen_pending_after_arrival and d:event(ok.id).status == "SUCCEEDED"
      end))
      assert.are.equal("PENDING", d:event(hang.id).status)
      assert.are.equal(1, d:in_flight_count())
      -- then the engine's per-attempt limit ends it, and a retry is scheduled
      assert.is_true(drive(d, c, settled(d, hang.id)))
      local h = d:event(hang.id)
      assert.are.equal("PENDING", h.status)
      assert.is_nil(h.attempts[1].status)
      assert.truthy(h.attempts[1].error:find("^timeout OPERATION_TIMEDOUT"))
      assert.is_number(h.next_attempt)
      assert.are.equal(0, d:in_flight_count())
    end)

    it("a listener that never accepts: the connect time-out applies", function()
      local bh = io.popen("exec blackhole 20", "r")
      local port, pid = bh:read("*n", "*n")
      local d, c = engine { connect_timeout = 0.3 * SLOW }
      local ev = d:enqueue({ id = "bh", target_url = ("http://127.0.0.1:%d/x"):format(port),
        is_enabled = true, secret = SECRET }, "submission.status.change", payload("r-bh"))
      d:pump()
      assert.are.equal(1, d:in_flight_count()) -- submitted, and pump has returned
      assert.is_true(drive(d, c, settled(d, ev.id)))
      os.execute(("kill %d"):format(pid))
      bh:close()
      local e = d:event(ev.id)
      assert.truthy(e.attempts[1].error:find("^timeout CONNECT_TIMEOUT"))
      assert.are.equal("PENDING", e.status)
    end)

    it("a refused connection is a failed attempt", function()
      local d, c = engine()
      local ev = d:enqueue({ id = "refused", target_url = "http://127.0.0.1:1/hook",
        is_enabled = true, secret = SECRET }, "submission.status.change", payload("r-ref"))
      assert.is_true(drive(d, c, settled(d, ev.id)))
      assert.truthy(d:event(ev.id).attempts[1].error:find("^transport COULDNT_CONNECT"))
    end)

    it("a slow receiver within the limit is a delivery", function()
      local d, c = engine { timeout = 5 }
      local ev = d:enqueue(sub("/slow/200"), "submission.status.change", payload("r-slow"))
      assert.is_true(drive(d, c, settled(d, ev.id)))
      assert.are.equal("SUCCEEDED", d:event(ev.id).status)
    end)

    it("at most max_in_flight attempts are under way at once", function()
      local d, c = engine { timeout = 0.3 * SLOW, max_in_flight = 2 }
      local ids = {}
      for i = 1, 5 do ids[i] = d:enqueue(sub("/hang"), "submission.status.change", payload("h" .. i)).id end
      local most = 0
      assert.is_true(drive(d, c, function()
        most = math.max(most, d:in_flight_count())
        for _, id in ipairs(ids) do
          if #d:event(id).attempts == 0 or d:event(id).attempts[1].pending then return false end
        end
        return true
      end))
      assert.are.equal(2, most)
      for _, id in ipairs(ids) do assert.truthy(d:event(id).attempts[1].error:find("^timeout")) end
    end)
  end)

  it("secrets never appear in the log, the errors, tostring or what is sent", function()
    local secret_calls = 0
    local d, c = engine { timeout = 0.3 * SLOW, secret = function(s)
      secret_calls = secret_calls + 1
      return s.secret
    end }
    local evs = {
      d:enqueue(sub("/ok"), "submission.status.change", payload("s1")),
      d:enqueue(sub("/status/500"), "submission.status.change", payload("s2")),
      d:enqueue(sub("/drop"), "submission.status.change", payload("s3")),
      d:enqueue(sub("/hang"), "submission.status.change", payload("s4")),
      d:enqueue({ id = "bad", target_url = "http://127.0.0.1:1/" .. SECRET, is_enabled = true,
        secret = SECRET }, "submission.status.change", payload("s5")),
      d:enqueue(sub("/ok", { secret = false }), "submission.status.change", payload("s6")),
    }
    assert.is_true(drive(d, c, function() return not d:busy() end))
    assert.is_true(secret_calls >= 5)
    local everything = util.encode(d:log()) .. tostring(d) .. util.encode(d:stats())
    for _, ev in ipairs(evs) do
      everything = everything .. util.encode(d:events(ev.subscription_id))
    end
    -- the URL is the researcher's own and is shown; the signing secret never is
    local without_url = everything:gsub("http://127%.0%.0%.1:1/" .. SECRET:gsub("%p", "%%%0"), "")
    assert.is_nil(without_url:find(SECRET, 1, true))
    for _, r in ipairs(rcv:requests()) do assert.is_nil(r.raw:find(SECRET, 1, true)) end
    -- no secret: the attempt fails and says why, and is retried later
    local nos = d:event(evs[6].id)
    assert.are.equal("PENDING", nos.status)
    assert.truthy(nos.attempts[1].error:find("no webhook secret", 1, true))
  end)

  it("the events route's rows have the schema's fields and filter by status and resource", function()
    local f = assert(io.open("spec/fixtures/prolific-openapi-2025.json", "rb"))
    local spec = core.decode(f:read("*a"))
    f:close()
    local fields = {}
    for k in pairs(spec.components.schemas.SubscriptionEvent.properties) do fields[#fields + 1] = k end
    table.sort(fields)
    local d, c = engine { retries = 0 }
    local good, bad = sub("/ok"), sub("/status/500")
    local a = d:enqueue(good, "submission.status.change", payload("res-A"))
    local b = d:enqueue(good, "submission.status.change", payload("res-B"))
    local x = d:enqueue(bad, "submission.status.change", payload("res-A"))
    assert.is_true(drive(d, c, function() return not d:busy() end))
    local rows = d:events(good.id)
    assert.are.equal(2, #rows)
    for _, row in ipairs(rows) do
      local keys = {}
      for k in pairs(row) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same(fields, keys)
      assert.are.equal("SUCCEEDED", row.status)
      assert.are.equal(good.target_url, row.target_url)
      assert.truthy(row.datetime_created:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$"))
    end
    assert.are.same({ a.id, b.id }, { rows[1].id, rows[2].id })
    assert.are.equal(1, #d:events(good.id, { resource_id = "res-B" }))
    assert.are.equal(0, #d:events(good.id, { status = "FAILED" }))
    assert.are.equal(1, #d:events(bad.id, { status = { "FAILED", "PENDING" } }))
    assert.are.equal(x.id, d:events(bad.id, { status = { FAILED = true } })[1].id)
    assert.are.same({}, d:events("no-such-subscription"))
    assert.has_error(function() d:events(good.id, { status = "DONE" }) end,
      "cohort.sandbox.deliveries: events(): unknown status DONE")
    -- the control view: every attempt, and counts
    local log = d:log { subscription = bad.id }
    assert.are.equal(1, #log)
    assert.are.equal(500, log[1].attempts[1].status)
    assert.are.same({ pending = 0, succeeded = 2, failed = 1, in_flight = 0, attempts = 3 }, d:stats())
  end)

  it("drop forgets a deleted subscription's events and cancels their retries", function()
    local d, c = engine()
    local s = sub("/status/500")
    local ev = d:enqueue(s, "submission.status.change", payload("r-drop"))
    assert.is_true(drive(d, c, settled(d, ev.id)))
    assert.is_number(c:when("delivery:" .. ev.id))
    assert.are.equal(1, d:drop(s.id))
    assert.is_nil(d:event(ev.id))
    assert.is_nil(c:when("delivery:" .. ev.id))
    assert.are.same({}, d:events(s.id))
    assert.are.equal(0, #d:log())
  end)

  it("keeps at most max_events finished events, the oldest going first", function()
    local d, c = engine { max_events = 3 }
    local s = sub("/ok")
    local ids = {}
    for i = 1, 6 do ids[i] = d:enqueue(s, "study.status.change", payload("m" .. i)).id end
    assert.is_true(drive(d, c, function() return not d:busy() end))
    local rows = d:events(s.id)
    assert.are.same({ ids[4], ids[5], ids[6] }, { rows[1].id, rows[2].id, rows[3].id })
    assert.is_nil(d:event(ids[1]))
  end)

  it("refuses misuse at once, naming the method", function()
    assert.has_error(function() deliveries.new {} end,
      "cohort.sandbox.deliveries.new(): clock must be a cohort.sandbox.clock")
    assert.has_error(function() deliveries.new { clock = clock.new {}, retries = 1.5 } end,
      "cohort.sandbox.deliveries.new(): retries must be an integer number >= 0")
    assert.has_error(function() deliveries.new { clock = clock.new {}, colour = 1 } end,
      "cohort.sandbox.deliveries.new(): unknown option 'colour'")
    local d = engine()
    assert.has_error(function() d:enqueue(nil, "x") end,
      "cohort.sandbox.deliveries: enqueue(): subscription must be a table")
    assert.has_error(function() d:enqueue({ id = "s", target_url = "ftp://x/" }, "x") end,
      "cohort.sandbox.deliveries: enqueue(): subscription.target_url must be an http:// or https:// URL")
    assert.has_error(function() d:enqueue({ id = "s", target_url = "http://x/" }, "") end,
      "cohort.sandbox.deliveries: enqueue(): event_type must be a non-empty string")
    assert.has_error(function() d:enqueue({ id = "s", target_url = "http://x/" }, "e", "text") end,
      "cohort.sandbox.deliveries: enqueue(): payload must be a table")
    d:close()
    d:close()
    assert.has_error(function() d:enqueue({ id = "s", target_url = "http://x/" }, "e") end,
      "cohort.sandbox.deliveries: enqueue(): the engine is closed")
    assert.are.equal(0, d:pump())
  end)

  it("docs/sandbox.md's example runs as written, against the receiver", function()
    local docblocks = require "support.docblocks"
    local code = docblocks.block("docs/sandbox.md", "Webhook deliveries")
    local printed, expected = docblocks.run(code, { ["http://127.0.0.1:8000"] = rcv:url("") })
    assert.are.equal(2, #expected)
    assert.are.same(expected, printed)
  end)
end)
