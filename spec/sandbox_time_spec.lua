-- The sandbox clock over HTTP: stepped through the control API (GET /__sandbox/clock, POST
-- /__sandbox/clock/advance), accelerated by --clock-rate 600, every time stamp the sandbox
-- writes taken from it, and what happens on it: scheduled publishing (a study's
-- SCHEDULE_PUBLISH, a collection's publish_at), a submission's maximum allowed time
-- (TIMED-OUT, its place free again), Prolific's approval after 21 days awaiting review; and
-- POST /__sandbox/reset.
describe("sandbox clock over HTTP", function()
  local core = require "cohort.core"
  local cohort = require "cohort"

  -- ISO 8601 (UTC) ↔ Unix seconds, on every Lua the client runs on (the sandbox's own clock
  -- module is Lua 5.4 code)
  local clock = { AUTO_APPROVE_AFTER = 21 * 86400 }
  function clock.parse_iso(s)
    local y, mo, d, h, mi, sec, frac = s:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)Z$")
    y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
    if mo <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    local days = era * 146097 + doe - 719468
    return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) + (tonumber("0" .. frac) or 0)
  end
  function clock.iso(t)
    local whole = math.floor(t)
    local us = math.floor((t - whole) * 1e6 + 0.5)
    if us >= 1000000 then whole, us = whole + 1, 0 end
    return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. string.format(".%06dZ", us)
  end

  local START = "2026-01-05T09:00:00Z"
  local T0 = clock.parse_iso(START)
  local WS = "60a42f4c693c29420793cb74"
  local PROJECT = "60a42f4c693c29420793cb75"
  local sb, p, session

  local function control(method, path, body, raw)
    local r = session:request { method = method, base = sb.url, path = "/__sandbox/" .. path,
      body = body and core.encode(body) or raw }
    if r.err and r.err.kind ~= "http" then error(r.err.message) end
    if r.err then return r.err, r.err.status end
    return core.decode(r.body), 200
  end
  local function now() return control("GET", "clock").now end
  local function advance(seconds) return control("POST", "clock/advance", { seconds = seconds }) end
  local function iso(t) return clock.iso(t) end

  local function study_fields(extra)
    local f = { name = "Timed", description = "A study on the sandbox clock.",
      external_study_url = "https://example.org/timed", prolific_id_option = "url_parameters",
      completion_codes = { { code = "T1ME", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 100, total_available_places = 4, project = PROJECT }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  local function pending_at(key)
    for _, e in ipairs(control("GET", "clock").pending_events) do
      if e.key == key then return e.at end
    end
  end

  local function simulate(st, body)
    local run, status = control("POST", "studies/" .. st.id .. "/simulate", body)
    assert(status == 200, tostring(run.message))
    return run.submission_ids
  end

  setup(function()
    sb = assert(require("cohort.sandbox").start { strict = true,
      args = { "--clock-rate", "stepped", "--clock-start", START } })
    p = cohort.prolific { token = sb.token, base_url = sb.url }
    session = core.session {}
  end)
  teardown(function()
    session:close()
    sb:stop()
  end)
  before_each(function() control("POST", "reset") end)

  it("is stepped through the control API, and every time stamp the sandbox writes is sandbox time", function()
    local c = control("GET", "clock")
    assert.are.same({ true, "stepped", iso(T0), T0 }, { c.stepped, c.rate, c.at, c.now })
    local st = assert(p.studies:create(study_fields()))
    assert.are.equal(iso(T0), st.date_created)
    local r = advance(90)
    assert.are.equal(iso(T0 + 90), r.clock.at)
    st = assert(st:publish())
    assert.are.equal(iso(T0 + 90), st.published_at)
    assert(p.messages:send { recipient = "60bf9310e8dec401be6e9615", study = st.id, body = "Hello" })
    local sent = assert(p.messages:all { user_id = "60bf9310e8dec401be6e9615" })
    assert.are.equal(iso(T0 + 90), sent[#sent].sent_at)
    local ids = simulate(st, { participants = 2, duration_ms = 1000, seed = 4 })
    r = control("POST", "clock/advance", { to = "2026-01-05T09:01:32Z" })
    assert.are.equal(iso(T0 + 92), r.clock.at)
    for _, id in ipairs(ids) do
      local sub = assert(p.submissions:get(id))
      assert.are.equal("AWAITING REVIEW", sub.status)
      local started, completed = clock.parse_iso(sub.started_at), clock.parse_iso(sub.completed_at)
      assert.is_true(started >= T0 + 90 and completed > started and completed <= T0 + 91, sub.completed_at)
    end
    local ledger = control("GET", "ledger").ledger
    assert.are.equal(iso(T0 + 90), ledger[1].time)
    -- time stands still between steps
    assert.are.equal(T0 + 92, now())
    -- what the control API refuses
    local bad, status = control("POST", "clock/advance", { seconds = -1 })
    assert.are.equal(400, status)
    assert.truthy(bad.fields.seconds)
    local _, s2 = control("POST", "clock/advance", { seconds = 1, later = true })
    assert.are.equal(400, s2)
    local _, s3 = control("POST", "clock/advance", nil, "not json")
    assert.are.equal(400, s3)
    assert.are.equal(T0 + 92, now())
  end)

  it("publishes a SCHEDULED study at its publish_at", function()
    local st = assert(p.studies:create(study_fields()))
    st = assert(st:schedule { at = "2026-01-05T11:00:00Z" })
    assert.are.equal("SCHEDULED", st.status)
    assert.are.equal(iso(T0 + 7200), pending_at("publish:" .. st.id))
    advance(7199)
    assert.are.equal("SCHEDULED", assert(st:refresh()).status)
    advance(1)
    st = assert(st:refresh())
    assert.are.equal("ACTIVE", st.status)
    assert.are.equal(iso(T0 + 7200), st.published_at)
    assert.is_nil(pending_at("publish:" .. st.id))
    -- a cancelled schedule never publishes
    local other = assert(assert(p.studies:create(study_fields())):schedule { at = "2026-01-05T12:00:00Z" })
    assert(other:cancel_publish())
    advance(3 * 3600)
    assert.are.equal("UNPUBLISHED", assert(other:refresh()).status)
  end)

  it("publishes a collection at its publish_at, a zone name read as Prolific writes it", function()
    local a = assert(p.studies:create(study_fields()))
    local b = assert(p.studies:create(study_fields()))
    local c = assert(p.collections:create { project_id = PROJECT, name = "Arms", description = "d",
      study_ids = { a.id, b.id } })
    c = assert(c:schedule { at = "2026-01-05T12:00:00 Europe/London" })  -- January: GMT
    assert.are.equal("SCHEDULED", c.status)
    assert.are.equal(iso(T0 + 3 * 3600), pending_at("publish:" .. c.id))
    local summer = assert(p.collections:create { project_id = PROJECT, name = "Later", description = "d",
      study_ids = { assert(p.studies:create(study_fields())).id } })
    summer = assert(summer:schedule { at = "2026-07-01T12:00:00 Europe/London" })  -- BST
    assert.are.equal("2026-07-01T11:00:00.000000Z", pending_at("publish:" .. summer.id))
    local _, err = p.collections:transition(assert(p.collections:create { project_id = PROJECT,
      name = "Zone", description = "d", study_ids = { assert(p.studies:create(study_fields())).id } }).id,
      { action = "SCHEDULE_PUBLISH", publish_at = "2026-07-01T12:00:00 Mars/Olympus" })
    assert.are.equal(400, err.status)
    assert.matches("Europe/London", tostring(err.fields.publish_at[1]))

    advance(3 * 3600 - 1)
    assert.are.equal("SCHEDULED", assert(c:refresh()).status)
    advance(1)
    assert.are.equal("ACTIVE", assert(c:refresh()).status)
    for _, st in ipairs { a, b } do
      st = assert(st:refresh())
      assert.are.equal("ACTIVE", st.status)
      assert.are.equal(iso(T0 + 3 * 3600), st.published_at)
    end
    assert.are.equal("SCHEDULED", assert(summer:refresh()).status)
    summer = assert(summer:cancel())
    assert.are.equal("UNPUBLISHED", summer.status)
    assert.is_nil(pending_at("publish:" .. summer.id))
  end)

  it("times a submission out at its start + maximum_allowed_time, and its place is free again", function()
    local st = assert(assert(p.studies:create(study_fields { estimated_completion_time = 1,
      maximum_allowed_time = 2, total_available_places = 2 })):publish())
    -- participants who would take an hour: longer than the 2 minutes allowed
    local ids = simulate(st, { participants = 2, duration_ms = 3600000, seed = 9 })
    local _, full = control("POST", "studies/" .. st.id .. "/simulate", { participants = 1 })
    assert.are.equal(400, full) -- both places are taken
    for _, id in ipairs(ids) do
      local sub = assert(p.submissions:get(id))
      assert.are.equal(iso(clock.parse_iso(sub.started_at) + 120), pending_at("max_time:" .. id))
    end
    advance(30 * 60)
    for _, id in ipairs(ids) do
      assert.are.equal("TIMED-OUT", assert(p.submissions:get(id)).status)
      assert.is_nil(pending_at("max_time:" .. id))
    end
    st = assert(st:refresh())
    assert.are.equal(0, st.places_taken)
    -- the places are free again: two more participants take them
    local more = simulate(st, { participants = 2, duration_ms = 1000, seed = 10 })
    advance(2)
    for _, id in ipairs(more) do assert.are.equal("AWAITING REVIEW", assert(p.submissions:get(id)).status) end
    -- a submission that completes in time is not timed out
    advance(3600)
    for _, id in ipairs(more) do assert.are.equal("AWAITING REVIEW", assert(p.submissions:get(id)).status) end
  end)

  it("approves what is left AWAITING REVIEW 21 days on, and pays it once", function()
    local st = assert(assert(p.studies:create(study_fields())):publish())
    local ids = simulate(st, { participants = 2, duration_ms = 1000, seed = 5 })
    advance(2)
    local subs = {}
    for i, id in ipairs(ids) do subs[i] = assert(p.submissions:get(id)) end
    assert(subs[1]:approve()) -- the researcher approves one; Prolific the other
    local due = clock.parse_iso(subs[2].completed_at) + clock.AUTO_APPROVE_AFTER
    assert.are.equal(iso(due), pending_at("auto_approve:" .. ids[2]))
    assert.is_nil(pending_at("auto_approve:" .. ids[1]))
    control("POST", "clock/advance", { to = iso(due - 60) })
    assert.are.equal("AWAITING REVIEW", assert(subs[2]:refresh()).status)
    advance(120)
    assert.are.equal("APPROVED", assert(subs[2]:refresh()).status)
    local rewards = {}
    for _, e in ipairs(control("GET", "ledger?kind=reward&study=" .. st.id).ledger) do
      rewards[e.submission_id] = (rewards[e.submission_id] or 0) + 1
      if e.submission_id == ids[2] then
        assert.are.equal(iso(due), e.time)
        assert.matches("21 days", e.note)
      end
    end
    assert.are.same({ [ids[1]] = 1, [ids[2]] = 1 }, rewards)
  end)

  it("POST /__sandbox/reset puts the clock back at its start with the dataset's events, the ledger and deliveries empty", function()
    local fresh = control("GET", "clock")
    assert(assert(p.studies:create(study_fields())):publish())
    assert(p.hooks:create_secret { workspace_id = WS })
    assert(p.hooks:subscribe { workspace_id = WS, event_type = "study.status.change",
      target_url = "https://example.org/hook" })
    assert(assert(p.studies:create(study_fields())):publish())
    advance(5 * 86400)
    assert.is_true(control("GET", "ledger").count > 0)
    assert.is_true(control("GET", "deliveries").count > 0)
    control("POST", "reset")
    local c = control("GET", "clock")
    assert.are.equal(iso(T0), c.at)
    assert.are.same(fresh.pending_events, c.pending_events)
    assert.are.equal(0, control("GET", "ledger").count)
    assert.are.equal(0, control("GET", "deliveries").count)
  end)

  it("--clock-rate 600 runs ten sandbox minutes a real second", function()
    local fast = assert(require("cohort.sandbox").start { strict = true,
      args = { "--clock-rate", "600", "--clock-start", START } })
    local s = core.session {}
    local function clock_of()
      local t0 = core.monotime()
      local c = core.decode(s:request { base = fast.url, path = "/__sandbox/clock" }.body)
      return c, t0, core.monotime()
    end
    local c1, a0, a1 = clock_of()
    assert.are.equal(600, c1.rate)
    core.sleep(0.2)
    local c2, b0, b1 = clock_of()
    -- the sandbox read its clock inside each request: the sandbox seconds between the readings
    -- are 600 times the real time between them, which lies within the measured bounds
    local d = c2.now - c1.now
    assert.is_true(d >= 600 * (b0 - a1) - 1e-3 and d <= 600 * (b1 - a0) + 1e-3,
      ("%.3f sandbox s for %.3f..%.3f real s"):format(d, b0 - a1, b1 - a0))
    -- a publication ten sandbox minutes ahead happens about a real second later
    local fp = cohort.prolific { token = fast.token, base_url = fast.url }
    local st = assert(fp.studies:create(study_fields()))
    st = assert(st:schedule { at = iso(c2.now + 600) })
    local deadline = core.monotime() + 15
    repeat core.sleep(0.05); st = assert(st:refresh()) until st.status ~= "SCHEDULED" or core.monotime() > deadline
    assert.are.equal("ACTIVE", st.status)
    assert.are.equal(iso(clock.parse_iso(st.publish_at)), st.published_at)
    -- and the rate can change: stepped, the time stands
    local stepped = core.decode(s:request { method = "POST", base = fast.url, path = "/__sandbox/clock/rate",
      body = core.encode { rate = "stepped" } }.body)
    assert.is_true(stepped.stepped)
    assert.are.equal(stepped.now, clock_of().now)
    s:close()
    fast:stop()
  end)
end)
