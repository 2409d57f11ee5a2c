-- Webhooks delivered by the sandbox, end to end over HTTP: a receiver (build/receiver) on
-- loopback, a subscription made and confirmed through the real client (p.hooks), events raised
-- by submissions and studies changing status, POSTed signed as Prolific signs (checked with
-- cohort.workbench.webhooks.verify over the raw bytes received), retried on Prolific's
-- schedule as the sandbox clock is stepped, one X-Event-ID across retries, and the delivery
-- log through GET /api/v1/hooks/subscriptions/{id}/events/ and GET /__sandbox/deliveries.
describe("sandbox webhooks", function()
  local core = require "cohort.core"
  local cohort = require "cohort"
  local webhooks = require "cohort.workbench.webhooks"
  local receiver = require "support.receiver"

  local WS = "60a42f4c693c29420793cb74"      -- the default dataset's workspace
  local STUDY = "60aca280709ee40ec37d4885"   -- its active study (27 awaiting review)
  local DRAFT = "60aca280709ee40ec37d4887"   -- its draft
  local START = "2026-03-02T09:00:00Z"
  local sb, p, session
  local receivers = {}

  local function control(method, path, body)
    local r = session:request { method = method, base = sb.url, path = "/__sandbox/" .. path,
      body = body and core.encode(body) or nil }
    assert(r.err == nil, r.err and r.err.message)
    return core.decode(r.body), r.body
  end

  local function rcv()
    local r = receiver.start()
    receivers[#receivers + 1] = r
    return r
  end

  -- Waits until cond() holds (the sandbox's tick pumps the deliveries); the 15 s only bound a
  -- broken run: nothing asserts how long anything took.
  local function wait(cond, what)
    local t0 = core.monotime()
    repeat
      local v = cond()
      if v then return v end
      core.sleep(0.005)
    until core.monotime() - t0 > 15
    error("timed out waiting for " .. what)
  end

  -- The sandbox's view of a subscription's events, and the one event of it.
  local function log(sub_id) return control("GET", "deliveries?subscription=" .. sub_id) end
  local function idle(sub_id)
    return function()
      local l = log(sub_id)
      local ev = l.deliveries[#l.deliveries]
      if not ev then return nil end
      local last = ev.attempts[#ev.attempts]
      if last and not last.pending then return ev end
    end
  end

  local function awaiting(n)
    return assert(p.submissions:list { study = STUDY, status = "AWAITING REVIEW" })[n]
  end

  setup(function()
    sb = assert(require("cohort.sandbox").start { strict = true,
      args = { "--clock-rate", "stepped", "--clock-start", START } })
    p = cohort.prolific { token = sb.token, base_url = sb.url }
    session = core.session {}
  end)
  teardown(function()
    for _, r in ipairs(receivers) do r:stop() end
    session:close()
    sb:stop()
  end)
  before_each(function() control("POST", "reset") end)

  it("a submission's new status is POSTed to the confirmed subscription, signed over the bytes sent", function()
    local r = rcv()
    local secret = assert(p.hooks:create_secret { workspace_id = WS })
    local hook = assert(p.hooks:subscribe { workspace_id = WS, event_type = "submission.status.change",
      target_url = r:url("/status/200") })
    assert.is_true(hook.is_enabled)
    -- an unconfirmed subscription, one of another event type and one of another workspace get nothing
    local pending_sub, x_hook_secret = assert(p.hooks:create_subscription { workspace_id = WS,
      event_type = "submission.status.change", target_url = r:url("/status/201") })
    assert.is_false(pending_sub.is_enabled)
    assert(p.hooks:subscribe { workspace_id = WS, event_type = "study.status.change",
      target_url = r:url("/status/202") })
    local other = assert(p.workspaces:create { title = "Another lab" })
    assert(p.hooks:create_secret { workspace_id = other.id })
    assert(p.hooks:subscribe { workspace_id = other.id, event_type = "submission.status.change",
      target_url = r:url("/status/203") })

    local sub = awaiting(1)
    assert(sub:approve())
    local ev = wait(idle(hook.id), "the delivery")
    assert.are.equal("SUCCEEDED", ev.status)

    local got = r:requests()
    assert.are.equal(1, #got)
    local req = got[1]
    assert.are.equal("POST", req.method)
    assert.are.equal("/status/200", req.path)
    assert.are.equal("application/json", req.headers["content-type"])
    assert.is_true(webhooks.verify(secret.value, req.headers, req.body))
    local nope, why = webhooks.verify(secret.value, req.headers, req.body .. " ")
    assert.is_nil(nope)
    assert.matches("does not match", why)
    local payload = core.decode(req.body)
    assert.are.same({ resource_id = sub.id, event_type = "submission.status.change",
      participant_id = sub.participant_id, status = "APPROVED", study_id = STUDY }, payload)
    -- X-Timestamp is the event's sandbox time (the clock is stepped: still its start)
    assert.are.equal(("%d"):format(control("GET", "clock").now), req.headers["x-timestamp"])

    -- the log through the API: the event, its id the X-Event-ID, SUCCEEDED, the payload
    local events = assert(p.hooks:all_events(hook.id))
    assert.are.equal(1, #events)
    assert.are.equal(req.headers["x-event-id"], events[1].id)
    assert.are.equal("SUCCEEDED", events[1].status)
    assert.are.equal(sub.id, events[1].resource_id)
    assert.are.equal(r:url("/status/200"), events[1].target_url)
    assert.are.equal("APPROVED", events[1].payload.status)
    assert.are.equal(0, #assert(p.hooks:all_events(hook.id, { status = "FAILED" })))
    assert.are.equal(1, #assert(p.hooks:all_events(hook.id, { resource_id = sub.id })))

    -- the control API: every attempt with its time, status and duration; nothing else was
    -- delivered anywhere, and no secret is shown
    local all, text = control("GET", "deliveries")
    assert.are.equal(1, all.count)
    local a = all.deliveries[1].attempts[1]
    assert.are.equal(200, a.status)
    assert.are.equal((START:gsub("Z$", ".000000Z")), a.at)
    assert.is_number(a.duration_ms)
    assert.is_nil(a.error)
    assert.are.same({ pending = 0, succeeded = 1, failed = 0, in_flight = 0, attempts = 1 }, all.stats)
    assert.is_nil(text:find(secret.value, 1, true))
    assert.is_nil(text:find(x_hook_secret, 1, true))
    local _, sent = control("GET", "hooks/deliveries")
    assert.is_nil(sent:find(secret.value, 1, true))
    assert.are.equal(1, #r:requests())
  end)

  it("a failing receiver gets the retries as the clock advances, with one X-Event-ID, until it answers 2xx", function()
    local r = rcv()
    local secret = assert(p.hooks:create_secret { workspace_id = WS })
    local hook = assert(p.hooks:subscribe { workspace_id = WS, event_type = "submission.status.change",
      target_url = r:url("/seq/500,drop,503,200") })
    local sub = awaiting(2)
    assert(sub:reject { category = "LOW_EFFORT", message = ("The answers were given without reading "
      .. "the questions; several free-text answers are empty, so we cannot approve it.") })
    local outcomes = {}
    for attempt = 1, 4 do
      local ev = wait(function()
        local e = idle(hook.id)()
        return e and #e.attempts == attempt and e
      end, "attempt " .. attempt)
      local a = ev.attempts[attempt]
      outcomes[attempt] = a.status or a.error:match("^(%a+)")
      if attempt < 4 then
        assert.are.equal("PENDING", ev.status)
        -- the retry waits for the clock: nothing more is sent until it gets there
        assert.are.equal(attempt, #r:requests())
        local wait_s = ev.next_attempt - control("GET", "clock").now
        assert.is_true(wait_s >= 0 and wait_s <= 60 * 2 ^ (attempt - 1), tostring(wait_s))
        -- a second past it: the times come through JSON to 14 significant digits
        control("POST", "clock/advance", { seconds = wait_s + 1 })
      else
        assert.are.equal("SUCCEEDED", ev.status)
      end
    end
    assert.are.same({ 500, "transport", 503, 200 }, outcomes)
    local got = r:requests()
    assert.are.equal(4, #got)
    for i = 2, 4 do
      assert.are.equal(got[1].headers["x-event-id"], got[i].headers["x-event-id"])
      assert.are.equal(got[1].body, got[i].body)       -- the same bytes every time
    end
    for _, req in ipairs(got) do assert.is_true(webhooks.verify(secret.value, req.headers, req.body)) end
    local events = assert(p.hooks:all_events(hook.id))
    assert.are.equal(1, #events)
    assert.are.equal(got[1].headers["x-event-id"], events[1].id)
    assert.are.equal("SUCCEEDED", events[1].status)
    assert.are.equal("REJECTED", core.decode(got[4].body).status)
  end)

  it("a receiver that never answers 2xx: the retries run out on the clock and the event is FAILED", function()
    local r = rcv()
    assert(p.hooks:create_secret { workspace_id = WS })
    local hook = assert(p.hooks:subscribe { workspace_id = WS, event_type = "study.status.change",
      target_url = r:url("/status/500") })
    assert(assert(p.studies:get(DRAFT)):publish())
    wait(idle(hook.id), "the first attempt")
    assert.are.equal(1, #r:requests())
    -- a day and more in one step: each retry falls due in turn
    control("POST", "clock/advance", { seconds = 25 * 3600 })
    local ev = wait(function()
      local e = log(hook.id).deliveries[1]
      return e.status ~= "PENDING" and e
    end, "FAILED")
    assert.are.equal("FAILED", ev.status)
    local n = #ev.attempts
    assert.is_true(n >= 2 and n <= 12, tostring(n))     -- 1 + at most 11 retries, within 24 h
    assert.matches("attempts failed", ev.reason or "")
    assert.are.equal(n, #r:requests())
    local first_due = ev.attempts[1].due
    for i, a in ipairs(ev.attempts) do
      assert.are.equal(500, a.status)
      assert.is_true(a.due - first_due <= 86400)
      if i > 1 then assert.is_true(a.due >= ev.attempts[i - 1].due) end
    end
    for _, req in ipairs(r:requests()) do
      assert.are.equal(ev.id, req.headers["x-event-id"])
      assert.are.equal(DRAFT, core.decode(req.body).resource_id)
    end
    local failed = assert(p.hooks:all_events(hook.id, { status = "FAILED" }))
    assert.are.equal(1, #failed)
    assert.are.equal(ev.id, failed[1].id)
    assert.are.equal("ACTIVE", failed[1].payload.status)
  end)

  it("study status changes — also by the clock — are delivered; reset clears the log", function()
    local r = rcv()
    local secret = assert(p.hooks:create_secret { workspace_id = WS })
    local hook = assert(p.hooks:subscribe { workspace_id = WS, event_type = "study.status.change",
      target_url = r:url("/status/204") })
    local draft = assert(p.studies:get(DRAFT))
    local now = control("GET", "clock").now
    assert(draft:schedule { at = now + 3600 })
    wait(function() return #r:requests() == 1 end, "SCHEDULED")
    control("POST", "clock/advance", { seconds = 3600 })
    wait(function() return #r:requests() == 2 end, "ACTIVE, by the clock")
    local statuses = {}
    for i, req in ipairs(r:requests()) do
      assert.is_true(webhooks.verify(secret.value, req.headers, req.body))
      statuses[i] = core.decode(req.body).status
    end
    assert.are.same({ "SCHEDULED", "ACTIVE" }, statuses)
    wait(function()
      local l = log(hook.id)
      return l.stats.succeeded == 2
    end, "both SUCCEEDED")
    assert.are.equal(("%d"):format(now + 3600), r:requests()[2].headers["x-timestamp"])
    control("POST", "reset")
    local after = control("GET", "deliveries")
    assert.are.equal(0, after.count)
    local _, err = p.hooks:subscription(hook.id)
    assert.are.equal(404, err.status)
  end)

  it("docs/sandbox.md's rehearsal example runs as written, against the receiver", function()
    local r = rcv()
    local docblocks = require "support.docblocks"
    local code = docblocks.block("docs/sandbox.md", "Webhooks in a rehearsal")
    local printed, expected = docblocks.run(code, { ["http://127.0.0.1:8000"] = r:url("") })
    assert.are.equal(4, #expected)
    assert.are.same(expected, printed)
    assert.are.equal(1, #r:requests())
  end)

  it("a deleted subscription gets no more retries", function()
    local r = rcv()
    assert(p.hooks:create_secret { workspace_id = WS })
    local hook = assert(p.hooks:subscribe { workspace_id = WS, event_type = "submission.status.change",
      target_url = r:url("/status/503") })
    assert(awaiting(3):approve())
    wait(idle(hook.id), "the first attempt")
    assert(hook:delete())
    control("POST", "clock/advance", { seconds = 3 * 3600 })
    assert.are.equal(0, control("GET", "deliveries").count)
    assert.are.equal(1, #r:requests())
  end)
end)
