-- Money as on Prolific, over HTTP against a sandbox of its own: publishing reserves the study's
-- cost (rewards, fees, VAT — the formula GetStudyCost and CalculateStudyCost show) and is refused
-- when the available balance is short; approvals pay from the reserve; rejections give the
-- place's money back; returns and time-outs free places, and their money once the study no
-- longer recruits; more places reserve more; bonuses draw on the available balance, and paying a
-- batch again pays again; the ledger (GET /__sandbox/ledger) accounts for every movement.
describe("sandbox money", function()
  local core = require "cohort.core"
  local cohort = require "cohort"

  local WS, USD_WS = "5a1e0000000000000000000a", "5a1e0000000000000000000b"
  local PROJECT, USD_PROJECT = "5a1e0000000000000000001a", "5a1e0000000000000000001b"
  local BALANCE = 20000
  local sb, p, session

  local function control(method, path, body)
    local r = session:request { method = method, base = sb.url, path = "/__sandbox/" .. path,
      body = body and core.encode(body) or nil }
    if r.err then error("control " .. path .. ": " .. tostring(r.err.message)) end
    return core.decode(r.body)
  end
  local function advance(seconds) return control("POST", "clock/advance", { seconds = seconds }) end
  local function balance(ws) return assert(p.workspaces:balance(ws or WS)) end
  local function ledger(query) return control("GET", "ledger" .. (query or "")) end
  local function reserve_of(id)
    for _, r in ipairs(ledger().reserves) do if r.study_id == id then return r.reserve end end
    return 0
  end

  local function study(extra, project)
    local f = { name = "Paid", description = "A study with money on it.",
      external_study_url = "https://example.org/paid", prolific_id_option = "url_parameters",
      completion_codes = { { code = "PA1D", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 100, total_available_places = 4,
      project = project or PROJECT }
    for k, v in pairs(extra or {}) do f[k] = v end
    return assert(p.studies:create(f))
  end

  local function simulate(st, body)
    return control("POST", "studies/" .. st.id .. "/simulate", body).submission_ids
  end

  local function subs_of(ids)
    local out = {}
    for i, id in ipairs(ids) do out[i] = assert(p.submissions:get(id)) end
    return out
  end

  -- Every entry of the ledger moves the balances it shows as its kind says, one after the
  -- other from the opening balances, and the last ones are the workspace's balances now.
  local function check_books()
    local last = { [WS] = { BALANCE, BALANCE }, [USD_WS] = { BALANCE, BALANCE } }
    local reserve = {}
    for _, e in ipairs(ledger().ledger) do
      local prev = last[e.workspace_id]
      local dt, da = e.total_balance - prev[1], e.available_balance - prev[2]
      local r = reserve[e.study_id] or 0
      local where = ("ledger entry %d (%s %s)"):format(e.seq, e.kind, tostring(e.note))
      assert.are.equal(math.floor(e.total), e.total, where) -- whole minor units
      if e.kind == "reserve" then
        assert.are.same({ 0, -e.total, r + e.total }, { dt, da, e.study_reserve }, where)
      elseif e.kind == "release" then
        assert.are.same({ 0, e.total, r - e.total }, { dt, da, e.study_reserve }, where)
      elseif e.kind == "reward" then
        assert.are.equal(-e.total, dt, where)
        assert.is_true(da <= 0 and da >= -e.total, where)
        assert.are.equal(r - (e.total + da), e.study_reserve, where) -- the rest came from the reserve
        assert.are.equal(e.total, math.floor(e.amount + e.fees + e.vat + 0.5), where)
      elseif e.kind == "bonus" or e.kind == "screen-out" then
        assert.are.same({ -e.total, -e.total }, { dt, da }, where)
      else
        error("unknown ledger kind " .. tostring(e.kind))
      end
      assert.is_true(e.available_balance >= 0 and e.study_reserve >= 0, where)
      last[e.workspace_id] = { e.total_balance, e.available_balance }
      reserve[e.study_id] = e.study_reserve
    end
    for ws, b in pairs(last) do
      local now = balance(ws)
      assert.are.same(b, { now.total_balance, now.available_balance }, ws)
      -- what lies between them is the reserves of the workspace's studies
      local reserved = 0
      for _, r in ipairs(ledger().reserves) do if r.workspace_id == ws then reserved = reserved + r.reserve end end
      assert.are.equal(now.total_balance - now.available_balance, reserved, ws)
    end
  end

  setup(function()
    sb = assert(require("cohort.sandbox").start { strict = true,
      args = { "--clock-rate", "stepped", "--clock-start", "2026-02-02T10:00:00Z" } })
    p = cohort.prolific { token = sb.token, base_url = sb.url }
    session = core.session {}
  end)
  teardown(function()
    session:close()
    sb:stop()
  end)
  before_each(function()
    control("POST", "reset")
    control("POST", "seed", {
      workspaces = {
        { id = WS, title = "Lab", currency_code = "GBP", balance = BALANCE, available_balance = BALANCE },
        { id = USD_WS, title = "US lab", currency_code = "USD", balance = BALANCE, available_balance = BALANCE },
      },
      projects = { { id = PROJECT, title = "Money", workspace = WS },
        { id = USD_PROJECT, title = "Dollars", workspace = USD_WS } },
    })
  end)

  it("publishing reserves the study's cost as GetStudyCost and CalculateStudyCost price it", function()
    local st = study { reward = 150, total_available_places = 20 }
    local cost = assert(st:cost { is_projected = true })
    assert.are.same({ 3000, 1000, 200 }, { cost.rewards.rewards.amount, cost.rewards.fees.amount,
      cost.rewards.tax.amount })
    local calc = assert(p.studies:calculate_cost { reward = 150, total_available_places = 20 })
    assert.are.equal(4200, calc.total_cost)
    assert.are.equal(4200, assert(st:refresh()).total_cost)
    st = assert(st:publish())
    local b = balance()
    assert.are.same({ BALANCE, BALANCE - 4200 }, { b.total_balance, b.available_balance })
    local l = ledger()
    assert.are.equal(1, l.count)
    local e = l.ledger[1]
    assert.are.same({ "reserve", "available", "reserve", 4200, 3000, 1000, 200, 20, st.id, 4200 },
      { e.kind, e.from, e.to, e.total, e.amount, e.fees, e.vat, e.places, e.study_id, e.study_reserve })
    assert.are.equal(4200, reserve_of(st.id))
    -- no VAT in a USD workspace: 1000 + 333.34 of fees, 1333 reserved
    local us = assert(study({ total_available_places = 10 }, USD_PROJECT):publish())
    assert.are.equal(1333, reserve_of(us.id))
    assert.are.equal(BALANCE - 1333, balance(USD_WS).available_balance)
    check_books()
  end)

  it("a study costing ten times the available balance does not publish, nor schedule", function()
    local avail = balance().available_balance
    local big = study { reward = 1000, total_available_places = 143 } -- 143,000 + fees + VAT
    assert.is_true(big.total_cost >= 10 * avail)
    local _, err = big:publish()
    assert.are.equal(402, err.status)
    assert.matches("Insufficient funds: publishing this study %(143 places%) needs 200200", err.message)
    assert.matches("available balance is 20000", err.message)
    local _, serr = big:schedule { at = "2026-03-01T09:00:00Z" }
    assert.are.equal(402, serr.status)
    assert.are.equal("UNPUBLISHED", assert(big:refresh()).status)
    assert.are.equal(avail, balance().available_balance)
    assert.are.equal(0, ledger().count)
    -- a collection publishes all its studies or none
    local ok1, ok2 = study(), study { reward = 1000, total_available_places = 20 }
    local c = assert(p.collections:create { project_id = PROJECT, name = "Arms", description = "d",
      study_ids = { ok1.id, ok2.id } })
    local _, cerr = c:publish()
    assert.are.equal(402, cerr.status)
    assert.are.equal("UNPUBLISHED", assert(ok1:refresh()).status)
    assert.are.equal(0, ledger().count)
  end)

  it("approvals pay from the reserve; a rejection gives the place's money back", function()
    local st = assert(study():publish())                   -- 4 places × 140 reserved
    assert.are.equal(560, reserve_of(st.id))
    local subs = subs_of(simulate(st, { participants = 4, duration_ms = 1000, seed = 3 }))
    advance(2)
    assert(subs[1]:approve())
    local b = balance()
    assert.are.same({ BALANCE - 140, BALANCE - 560 }, { b.total_balance, b.available_balance })
    assert.are.equal(420, reserve_of(st.id))
    local paid = ledger("?kind=reward").ledger[1]
    assert.are.same({ subs[1].id, subs[1].participant, "reserve", "participant", 140, 100, 33.34, 6.67 },
      { paid.submission_id, paid.participant_id, paid.from, paid.to, paid.total, paid.amount, paid.fees, paid.vat })
    assert(subs[2]:reject { category = "LOW_EFFORT", message = ("The free-text answers are empty and "
      .. "the task was not attempted, so this submission cannot be approved, sorry.") })
    assert.are.equal(BALANCE - 420, balance().available_balance)
    assert.are.equal(280, reserve_of(st.id))
    local back = ledger("?kind=release").ledger[1]
    assert.are.same({ subs[2].id, 140, "reserve", "available" }, { back.submission_id, back.total, back.from, back.to })
    assert.are.equal(4, assert(st:refresh()).places_taken) -- a rejected submission keeps its place
    assert(p.submissions:bulk_approve { submission_ids = { subs[3].id } })
    assert.are.equal(140, reserve_of(st.id))
    -- stopped with one still awaiting review: it keeps its money; approved, the study completes
    st = assert(st:stop())
    assert.are.equal("AWAITING REVIEW", st.status)
    assert.are.equal(140, reserve_of(st.id))
    assert(subs[4]:approve())
    assert.are.equal("COMPLETED", assert(st:refresh()).status)
    assert.are.equal(0, reserve_of(st.id))
    assert.are.same({ BALANCE - 420, BALANCE - 420 }, { balance().total_balance, balance().available_balance })
    check_books()
  end)

  it("returns and time-outs free their places; the money comes back once the study stops recruiting", function()
    local st = assert(study { total_available_places = 3 }:publish())
    local returned = simulate(st, { participants = 3, returns = 1, duration_ms = 1000, seed = 1 })
    advance(2)
    for _, s in ipairs(subs_of(returned)) do assert.are.equal("RETURNED", s.status) end
    -- recruiting: the places open again and keep their money for the next participants
    assert.are.equal(0, assert(st:refresh()).places_taken)
    assert.are.equal(420, reserve_of(st.id))
    local timed = assert(study { estimated_completion_time = 1, maximum_allowed_time = 2,
      total_available_places = 2 }:publish())
    local slow = simulate(timed, { participants = 2, duration_ms = 3600000, seed = 2 })
    advance(30 * 60)
    for _, s in ipairs(subs_of(slow)) do assert.are.equal("TIMED-OUT", s.status) end
    assert.are.equal(0, assert(timed:refresh()).places_taken)
    assert.are.equal(280, reserve_of(timed.id))
    -- stopped with nothing pending: COMPLETED, every unused place's money released
    st = assert(st:stop())
    assert.are.equal("COMPLETED", st.status)
    assert.are.equal(0, reserve_of(st.id))
    assert.are.equal("COMPLETED", assert(timed:stop()).status)
    assert.are.same({ BALANCE, BALANCE }, { balance().total_balance, balance().available_balance })
    -- stopped while participants are still at it: their time-outs give their money back
    local late = assert(study { total_available_places = 2 }:publish())
    local live = simulate(late, { participants = 2, duration_ms = 3600000, seed = 8 })
    advance(10 * 60)
    assert.are.equal("AWAITING REVIEW", assert(late:stop()).status)
    assert.are.equal(280, reserve_of(late.id))
    advance(3 * 3600)
    for _, s in ipairs(subs_of(live)) do assert.are.equal("TIMED-OUT", s.status) end
    assert.are.equal("COMPLETED", assert(late:refresh()).status)
    assert.are.equal(0, reserve_of(late.id))
    assert.are.equal(BALANCE, balance().available_balance)
    check_books()
  end)

  it("more places after publishing reserve their cost, refused when the balance is short", function()
    local st = assert(study():publish())
    st = assert(st:update { total_available_places = 6 })
    assert.are.equal(6, st.total_available_places)
    assert.are.equal(840, reserve_of(st.id))
    local _, err = st:update { total_available_places = 1000 }
    assert.are.equal(402, err.status)
    assert.are.equal(6, assert(st:refresh()).total_available_places)
    check_books()
  end)

  it("docs/sandbox.md's money example runs as written", function()
    local docblocks = require "support.docblocks"
    local printed, expected = docblocks.run(docblocks.block("docs/sandbox.md", "Money"))
    assert.are.equal(7, #expected)
    assert.are.same(expected, printed)
  end)

  it("bonuses draw on the available balance; paying a batch again pays it again", function()
    local st = assert(study():publish())
    local subs = subs_of(simulate(st, { participants = 2, duration_ms = 1000, seed = 6 }))
    advance(2)
    local batch = assert(p.bonuses:setup { study = st, bonuses = { { subs[1].id, 2.5 }, { subs[2].id, 1 } } })
    assert.are.equal(490, math.floor(batch.total_amount + 0.5)) -- 350 + 116.67 + 23.34
    local before = balance().available_balance
    assert(batch:pay())
    assert.are.equal(before - 490, balance().available_balance)
    assert.are.equal(560, reserve_of(st.id)) -- the reserve is for the rewards
    assert(batch:pay { again = true })        -- not idempotent on Prolific: paid again
    assert.are.equal(before - 980, balance().available_balance)
    assert.are.same({ 250, 250 }, assert(subs[1]:refresh()).bonus_payments)
    local bonuses = ledger("?kind=bonus").ledger
    assert.are.equal(4, #bonuses)
    assert.are.equal(490, bonuses[3].total + bonuses[4].total)
    assert.matches("paid again", bonuses[3].note)
    -- what the balance cannot cover is refused, and nothing is paid
    local huge = assert(p.bonuses:setup { study = st, bonuses = { { subs[1].id, 500 } },
      max_bonus = false })
    local _, err = huge:pay()
    assert.are.equal(402, err.status)
    assert.are.equal(4, ledger("?kind=bonus").count)
    check_books()
  end)
end)
