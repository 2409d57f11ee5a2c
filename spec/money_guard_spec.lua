-- The money guard (issue 13, point 6), over HTTP against the sandbox: spend caps per client and
-- per call counting Prolific's fees and VAT, the totals of a study's cost and of a bonus set-up,
-- the sanity limit per bonus, one row per participant, string amounts, the bonus CSV reader,
-- pay_all's confirm, a second payment of a batch refused by the client, and
-- examples/pay_bonuses.lua. Nothing here depends on whether the sandbox refuses or makes a second
-- payment of a batch: the guard refuses it before it is sent.
describe("money guard", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local Error = cohort.Error
  local bulk = require "cohort.workbench.bulk"
  local money = require "cohort.workbench.money"
  local q = require("cohort.sandbox").shell_quote
  local STUDY = "60aca280709ee40ec37d4885"   -- ACTIVE, reward 150 (£1.50): the limit is £7.50
  local DRAFT = "60aca280709ee40ec37d4887"
  local SEED_PID = "60bf9310e8dec401be6e9615"
  local NOBODY = "000000000000000000000000"
  local p, subs

  -- POSTs of money: a set-up or a payment (a GET of the study's reward is not one)
  local function money_posts()
    local n = 0
    for _, r in ipairs(env.requests()) do
      if r.method == "POST" and (r.path:find("bonus%-payments") or r.path:find("/transition/")) then
        n = n + 1
      end
    end
    return n
  end

  local count = env.count_requests

  local function ledger()
    local l = env.control("GET", "ledger")
    local by = {}
    for _, e in ipairs(l.ledger) do by[e.submission_id] = (by[e.submission_id] or 0) + e.amount end
    return l.count, by
  end

  -- raises `pattern` (plain text) and sends no money POST
  local function raises(text, fn)
    local before = money_posts()
    local ok, msg = pcall(fn)
    assert.is_false(ok, "did not raise")
    assert.truthy(tostring(msg):find(text, 1, true), tostring(msg))
    assert.are.equal(before, money_posts(), "a money request was sent")
    return tostring(msg)
  end

  local function refused(code, v, err)
    assert.is_nil(v)
    assert.is_true(Error.is(err), tostring(err))
    assert.are.equal("refused", err.kind)
    assert.are.equal(code, err.code, tostring(err))
    return err
  end

  local function rows(n, amount, from)
    local out = {}
    for i = 1, n do out[i] = { subs[(from or 0) + i].id, amount } end
    return out
  end

  local function tmp(suffix)
    local path = os.tmpname()
    os.remove(path)
    return path .. (suffix or "")
  end

  local function remove_store(path)
    for _, s in ipairs { "", "-wal", "-shm" } do os.remove(path .. s) end
  end

  local function write(path, text)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
  end

  setup(function()
    env.reset()
    p = env.prolific()
    subs = assert(p.submissions:all { study = STUDY, page_size = 100 })
    table.sort(subs, function(a, b) return a.id < b.id end)
  end)

  before_each(function() env.reset() end)
  after_each(function()
    env.control("POST", "latency", { ms = 0 })
    env.control("DELETE", "faults")
  end)

  -- ------------------------------------------------------------------ caps

  describe("the client's spend cap", function()
    it("is checked when the client is made", function()
      for _, bad in ipairs { -1, 1.5, "50000", true, 0 / 0, math.huge } do
        assert.has_error(function() env.prolific { spend_cap = bad } end)
      end
      local ok, msg = pcall(env.prolific, { spend_cap = "500" })
      assert.is_false(ok)
      assert.truthy(msg:find("cohort.prolific(): spend_cap must be a whole number of minor units", 1, true), msg)
      assert.is_nil(env.prolific { spend_cap = false }.money.cap)
      assert.are.equal(0, env.prolific { spend_cap = 0 }.money.cap)
    end)

    it("counts what the client pays, fees and VAT included, and refuses what would pass it", function()
      local c = env.prolific { spend_cap = 500 }       -- £5.00
      assert.are.equal(
        "cohort money guard: 0 spent in this process of a spend cap of 500 (minor units, fees and VAT included; 500 left)",
        tostring(c.money))
      -- 6.00 alone is 600: refused before anything is sent
      env.control("DELETE", "requests")
      local err = refused("SPEND_CAP", c.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 6 } } })
      assert.are.equal("client", err.scope)
      assert.are.equal(600, err.cost)
      assert.are.equal(500, err.cap)
      assert.are.equal(0, money_posts())
      assert.are.equal("cohort: refused [SPEND_CAP] — p.bonuses:setup(): this bonus would pass the "
        .. "client's spend_cap = 500: the cost is 600 minor units before fees and VAT (6.00 in major "
        .. "units) and 0 is spent in this process already (500 left); nothing was sent", tostring(err))
      -- 3.00 costs 300 + fees 100 + VAT 20 = 420
      local batch = assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 3 } } })
      assert.are.equal(420, batch.total)
      assert(batch:pay())
      assert.are.equal(420, c.money:spent())
      assert.are.equal(80, c.money:left())
      -- 0.60 costs 60 + 20 + 4 = 84 > 80 left: set up (the amounts alone fit), refused after
      local posts = money_posts()
      err = refused("SPEND_CAP", c.bonuses:setup { study = STUDY, bonuses = { { subs[2].id, 0.6 } } })
      assert.are.equal(posts + 1, money_posts()) -- the set-up, no payment
      assert.are.equal("cohort.BonusBatch", getmetatable(err.batch).__name)
      assert.are.equal(84, err.batch.total)
      assert.truthy(err.message:find("420 is spent in this process already (80 left)", 1, true), err.message)
      assert.truthy(err.message:find("nothing was paid", 1, true), err.message)
      -- paying that batch anyway is refused too, before anything is sent
      refused("SPEND_CAP", err.batch:pay())
      assert.are.equal(posts + 1, money_posts())
      -- 0.50 costs 50 + 16.67 + 3.34 = 70.01: fits
      assert(assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[3].id, 0.5 } } }):pay())
      assert.are.equal(490.01, c.money:spent())
      local n, by = ledger()
      assert.are.same({ 2, 300, 50 }, { n, by[subs[1].id], by[subs[3].id] })
      assert.are.equal(2, #c.money:payments())
      assert.are.equal("paid", c.money:payments()[1].state)
      -- pay_all with nothing left under the cap: refused, nothing sent
      posts = money_posts()
      refused("SPEND_CAP", c.bonuses:pay_all { study = STUDY, bonuses = rows(2, 0.5, 5) })
      assert.are.equal(posts, money_posts())
    end)

    it("cannot keep a batch it does not know within the cap, and says so", function()
      local other = env.prolific()
      local batch = assert(other.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 1 } } })
      local c = env.prolific { spend_cap = 50000 }
      local posts = money_posts()
      local err = refused("UNKNOWN_COST", c.bonuses:pay(batch.id))
      assert.truthy(err.message:find("its cost is not known to this client", 1, true), err.message)
      assert.are.equal(posts, money_posts())
      -- a client without a cap pays it
      assert(other.bonuses:pay(batch.id))
    end)

    it("is never passed by tasks paying at the same time", function()
      local c = env.prolific { spend_cap = 500 }
      local a = assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 3 } } })   -- 420
      local b = assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[2].id, 3 } } })   -- 420
      env.control("POST", "latency", { ms = 50 })
      local t1 = c:spawn(function() return a:pay() end)
      local t2 = c:spawn(function() return b:pay() end)
      local r1, e1 = c:wait(t1)
      local r2, e2 = c:wait(t2)
      assert.are.equal(1, (r1 and 1 or 0) + (r2 and 1 or 0))
      refused("SPEND_CAP", nil, e1 or e2)
      assert.are.equal(1, (ledger()))
      assert.are.equal(420, c.money:spent())
    end)

    it("counts a payment whose answer was lost, and refuses to send it again", function()
      local c = env.prolific { spend_cap = 1000 }
      local batch = assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 3 } } })
      env.control("POST", "faults", { rules = { { method = "POST", path = "/api/v1/bulk-bonus-payments/",
        fault = "reset", times = 1 } } })
      local _, err = batch:pay()
      assert.are_not.equal("refused", err.kind) -- the connection dropped
      env.control("DELETE", "faults")
      assert.are.equal(420, c.money:spent())      -- it may have been paid: it counts
      assert.are.equal("unknown", c.money:payments()[1].state)
      local posts = money_posts()
      local again = refused("ALREADY_PAID", batch:pay())
      assert.truthy(again.message:find("its answer was lost, so it may have been paid", 1, true), again.message)
      assert.are.equal(posts, money_posts())
      assert.are.equal(1, (ledger()))              -- the sandbox did pay, once
    end)

    it("a refusal by the server does not count", function()
      local c = env.prolific { spend_cap = 200000 }
      -- more than the workspace's 100000: Prolific (and the sandbox) answer 402
      local batch = assert(c.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 800 } },
        max_bonus = false })
      local _, err = batch:pay()
      assert.are.equal(402, err.status)
      assert.are.equal(0, c.money:spent())
      assert.are.equal("refused", c.money:payments()[1].state)
      -- refused by the server, so paying it again is not refused by the guard
      local n = money_posts()
      local _, again = batch:pay()
      assert.are.equal(402, again.status)
      assert.are.equal(n + 1, money_posts())
    end)
  end)

  describe("a cap per call", function()
    it("pay_all{spend_cap}: the whole bill is checked before anything is paid; a re-run pays with the same set-ups", function()
      local path = tmp(".sqlite")
      local list = rows(15, 1)        -- 15.00: 1500 + fees 500 + VAT 100 = 2100
      env.control("DELETE", "requests")
      -- the amounts alone pass 1000: nothing is sent, not even a set-up
      local err = refused("SPEND_CAP", p.bonuses:pay_all { study = STUDY, bonuses = list,
        journal = path, spend_cap = 1000 })
      assert.are.equal("call", err.scope)
      assert.are.equal(0, money_posts())
      assert.truthy(err.message:find("p.bonuses:pay_all(): these 15 bonuses would pass spend_cap = 1000 of this call: "
        .. "the cost is 1500 minor units before fees and VAT (15.00 in major units); nothing was sent", 1, true), err.message)
      -- the amounts fit 2000, the bill (2100.03 in batches of 5) does not: set up, not paid
      err = refused("SPEND_CAP", p.bonuses:pay_all { study = STUDY, bonuses = list, journal = path,
        spend_cap = 2000, batch_size = 5 })
      assert.are.equal(3, count("POST", "/submissions/bonus%-payments/$"))
      assert.are.equal(0, count("POST", "/pay/$"))
      assert.are.equal(0, (ledger()))
      assert.are.equal(2100.03, err.cost)
      assert.truthy(err.message:find("paying 3 batches (15 bonuses) would pass spend_cap = 2000 of this call", 1, true), err.message)
      -- the same call with a larger cap pays the batches already set up
      local run = assert(p.bonuses:pay_all { study = STUDY, bonuses = list, journal = path,
        spend_cap = 2200, batch_size = 5 })
      assert.are.same({ 15, 0, 0, 3 }, { run.paid, run.skipped, run.verified, #run.batches })
      assert.are.equal(2100.03, run.cost)
      assert.are.equal(3, count("POST", "/submissions/bonus%-payments/$")) -- no new set-up
      assert.are.equal(3, count("POST", "/pay/$"))
      assert.are.equal(15, (ledger()))
      remove_store(path)
    end)

    it("setup{spend_cap} and pay{spend_cap}, on their own", function()
      local c = env.prolific()                          -- no cap of its own
      local err = refused("SPEND_CAP", c.bonuses:setup { study = STUDY, spend_cap = 100,
        bonuses = { { subs[1].id, 1 } } })               -- 100 + 33.34 + 6.67 = 140.01
      assert.are.equal(140.01, err.cost)
      local batch = err.batch
      local posts = money_posts()
      err = refused("SPEND_CAP", batch:pay { spend_cap = 140 })
      assert.are.equal("call", err.scope)
      err = refused("SPEND_CAP", c.bonuses:pay(batch.id, { spend_cap = 140 }))
      assert.are.equal(posts, money_posts())
      assert(c.bonuses:pay(batch.id, { spend_cap = 141 }))
      assert.are.equal(140.01, c.money:spent())
      assert.are.equal(1, (ledger()))
      assert.has_error(function() batch:pay { spend_cap = -5 } end,
        "cohort: batch:pay(): spend_cap must be a whole number of minor units, 0 or more (e.g. 50000 for £500.00, fees and VAT included), or false for none (got -5, an integer)")
      raises("p.bonuses:pay_all(): spend_cap must be a whole number", function()
        c.bonuses:pay_all { study = STUDY, bonuses = rows(1, 1), spend_cap = "20" }
      end)
    end)
  end)

  -- ------------------------------------------------------------------ totals

  describe("totals", function()
    it("study:cost() gives the total besides Prolific's breakdown; setup gives the batch's", function()
      local study = assert(p.studies:create {
        name = "Costed", description = "A study whose cost is read.",
        external_study_url = "https://example.org/c", prolific_id_option = "url_parameters",
        completion_codes = { { code = "C0ST", code_type = "COMPLETED",
          actions = { { action = "MANUALLY_REVIEW" } } } },
        estimated_completion_time = 5, reward = 150, total_available_places = 20 })
      local cost = assert(study:cost { is_projected = true })
      assert.are.equal("cohort.StudyCost", getmetatable(cost).__name)
      assert.are.equal(3000, cost.rewards.rewards.amount)   -- the server's answer, as it came
      assert.are.equal(1000, cost.rewards.fees.amount)
      assert.are.equal(200, cost.rewards.tax.amount)
      assert.are.same({ 4200, 4200, 0, "GBP" }, { cost.total, cost.rewards_total, cost.bonuses_total, cost.currency })
      assert.are.equal("StudyCost 4200 GBP (minor units): rewards 3000 + fees 1000 + VAT 200, bonuses 0 + fees 0 + VAT 0",
        tostring(cost))
      -- agrees with the calculator
      assert.are.equal(cost.total, assert(p.studies:calculate_cost { reward = 150, total_available_places = 20 }).total_cost)
      -- bonuses count in a study's cost once paid
      local batch = assert(env.prolific().bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 4.25 }, { subs[2].id, 4.25 } } })
      assert.are.same({ 850, 283.34, 56.67, 1190.01, 1190.01 },
        { batch.amount, batch.fees, batch.vat, batch.total_amount, batch.total })
      assert.matches("= total 1190%.01 %(minor units%)$", tostring(batch))
      assert(batch:pay())
      local now = assert(p.studies:cost(STUDY))
      assert.are.equal(1190.01, now.bonuses_total)
      assert.are.equal(now.rewards_total + 1190.01, now.total)
      -- a total is computed from whichever the answer carries
      local b = require "cohort.prolific.bonuses"
      assert.are.equal(315, b.total { amount = 225, fees = 75, vat = 15, total_amount = 315 })
      assert.are.equal(320, b.total { amount = 225, fees = 75, vat = 20, total_amount = 315 }) -- the larger
      assert.are.equal(315, b.total { total_amount = 315 })
      assert.is_nil(b.total {})
    end)

    it("publishing a study is counted against the caps, by its projected cost", function()
      local fields = {
        name = "Capped", description = "A study under a spend cap.",
        external_study_url = "https://example.org/c", prolific_id_option = "url_parameters",
        completion_codes = { { code = "C4PD", code_type = "COMPLETED",
          actions = { { action = "MANUALLY_REVIEW" } } } },
        estimated_completion_time = 5, reward = 150, total_available_places = 20 } -- 4200 in all
      local c = env.prolific { spend_cap = 4000 }
      local study = assert(c.studies:create(fields))
      local n = count("POST", "/transition/$")
      local err = refused("SPEND_CAP", study:publish())
      assert.are.equal(4200, err.cost)
      assert.truthy(err.message:find("study:publish(): publishing study " .. study.id:sub(1, 8), 1, true), err.message)
      assert.are.equal(n, count("POST", "/transition/$"))
      assert.are.equal("UNPUBLISHED", assert(study:refresh()).status)
      refused("SPEND_CAP", c.studies:transition(study.id, { action = "PUBLISH" }))
      refused("SPEND_CAP", study:schedule { at = os.time() + 3600 })
      assert.are.equal(n, count("POST", "/transition/$"))
      -- per call, on a client without a cap; actions that do not spend are not counted
      local free = env.prolific()
      refused("SPEND_CAP", free.studies:transition(study.id, { action = "PUBLISH", spend_cap = 4199 }))
      refused("SPEND_CAP", assert(free.studies:get(study.id)):publish { spend_cap = 100 })
      assert.has_error(function() study:publish { colour = "red" } end,
        "cohort: study:publish(): takes no arguments but {spend_cap = n}; write study:publish()")
      local wide = env.prolific { spend_cap = 9000 }
      local live = assert(assert(wide.studies:get(study.id)):publish())
      assert.are.equal("ACTIVE", live.status)
      assert.are.equal(4200, wide.money:spent())
      -- a refused publish (already ACTIVE) does not count
      local _, again = wide.studies:transition(study.id, { action = "PUBLISH" })
      assert.are.equal(400, again.status)
      assert.are.equal(4200, wide.money:spent())
      assert.are.equal("refused", wide.money:payments()[2].state)
      assert(live:pause())                     -- no cost
      assert.are.equal(4200, wide.money:spent())
      assert.are.equal(2, #wide.money:payments())
    end)
  end)

  -- ------------------------------------------------------------------ before anything is sent

  describe("before anything is sent", function()
    it("a bonus above 5 × the study's reward is refused, naming the call and the row", function()
      local p = env.prolific()                  -- a client that has not read the reward yet
      env.control("DELETE", "requests")
      local list = rows(3, 1)
      list[3][2] = 150                          -- meant as pence: £150
      local msg = raises("cohort: p.bonuses:pay_all(): bonuses[3] amount 150 is above the limit of 7.50 "
        .. "(5 × the study's reward of £1.50); bonus amounts are in MAJOR units (150 pays £150.00): "
        .. "if you meant £1.50, write 1.50; to allow it, pass max_bonus = 150", function()
        p.bonuses:pay_all { study = STUDY, bonuses = list }
      end)
      assert.matches("money_guard_spec%.lua:%d+: cohort:", msg) -- it points at the caller's line
      raises("p.bonuses:setup(): bonuses[1] amount 7.51 is above the limit of 7.50", function()
        p.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 7.51 } } }
      end)
      raises("p.bonuses:setup(): csv_bonuses[2] (line 2) amount 150 is above the limit of 7.50", function()
        p.bonuses:setup { study = STUDY, csv_bonuses = subs[1].id .. ",1\n" .. subs[2].id .. ",150\n" }
      end)
      assert.are.equal(0, money_posts())
      -- the reward was fetched once for all of it
      assert.are.equal(1, count("GET", "/studies/" .. STUDY .. "/$"))
      -- exactly the limit is allowed
      assert(p.bonuses:setup { study = STUDY, bonuses = { { subs[1].id, 7.50 } } })
    end)

    it("max_bonus overrides the limit, or turns it off", function()
      local list = rows(2, 1)
      list[2][2] = 150
      raises("p.bonuses:pay_all(): bonuses[2] amount 150 is above max_bonus = 100.00 (major units)", function()
        p.bonuses:pay_all { study = STUDY, bonuses = list, max_bonus = 100 }
      end)
      local b = assert(p.bonuses:setup { study = STUDY, bonuses = list, max_bonus = 150 })
      assert.are.equal(15100, b.amount)
      assert(p.bonuses:setup { study = STUDY, bonuses = list, max_bonus = false })
      for _, bad in ipairs { 0, -1, 0.001, "10", true } do
        raises("max_bonus must be an amount in MAJOR units", function()
          p.bonuses:pay_all { study = STUDY, bonuses = list, max_bonus = bad }
        end)
      end
      -- a Study object brings its reward: nothing fetched
      env.control("DELETE", "requests")
      local study = assert(p.studies:get(STUDY))
      env.control("DELETE", "requests")
      local fresh = env.prolific()
      raises("bonuses[2] amount 150 is above the limit of 7.50", function()
        fresh.bonuses:pay_all { study = study, bonuses = list }
      end)
      assert.are.equal(0, count("GET", "/studies/"))
    end)

    it("a failure to read the reward is nil, err and nothing is paid", function()
      local _, err = p.bonuses:pay_all { study = NOBODY, bonuses = rows(1, 1) }
      assert.are.equal(404, err.status)
      assert.are.equal(0, money_posts())
    end)

    it("the same participant or submission twice in one call is refused", function()
      local list = { { subs[1].id, 1 }, { subs[2].id, 1 }, { submission = subs[1].id, amount = 2 } }
      raises("p.bonuses:pay_all(): bonuses[3] pays " .. subs[1].id .. " a second time (also bonuses[1]): "
        .. "give one row per participant or submission (add the amounts up), so that nobody is paid twice by mistake",
        function() p.bonuses:pay_all { study = STUDY, bonuses = list } end)
      -- across batches of one call too
      local many = rows(5, 1)
      many[6] = { subs[2].id, 1 }
      raises("bonuses[6] pays " .. subs[2].id .. " a second time (also bonuses[2])", function()
        p.bonuses:pay_all { study = STUDY, bonuses = many, batch_size = 2 }
      end)
      raises("p.bonuses:setup(): bonuses[2] pays " .. SEED_PID .. " a second time", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 }, { participant = SEED_PID, amount = 1 } } }
      end)
      raises("p.bonuses:setup(): csv_bonuses[2] (line 3) pays " .. SEED_PID .. " a second time (also csv_bonuses[1] (line 1))",
        function()
          p.bonuses:setup { study = STUDY, csv_bonuses = SEED_PID .. ",1\n\n" .. SEED_PID .. ",2\n" }
        end)
    end)

    it("an amount given as a string is refused, naming the row", function()
      local list = rows(3, 1)
      list[2][2] = "1.50"
      raises('p.bonuses:pay_all(): bonuses[2] amount must be a finite number in major units, e.g. 1.50 for £1.50 (got "1.50", a string)',
        function() p.bonuses:pay_all { study = STUDY, bonuses = list } end)
      raises('p.bonuses:setup(): bonuses[1] amount must be a finite number in major units, e.g. 1.50 for £1.50 (got "1,50", a string)',
        function() p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, "1,50" } } } end)
      local b = assert(p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 } } })
      raises("batch:pay(): takes no arguments; write batch:pay()", function() b:pay { amount = 1 } end)
    end)
  end)

  -- ------------------------------------------------------------------ the CSV reader

  describe("read_bonus_csv", function()
    local A, B, C = "60bf9310e8dec401be6e9615", "60bf9a2c0a16dbeec342d142", "60bf9a2c9a0a2370ddc37153"

    local function amounts(rows_)
      local out = {}
      for i, r in ipairs(rows_) do out[i] = { r[1], r[2], r.line } end
      return out
    end

    it("reads a decimal point or a decimal comma, with or without a header, BOM, CRLF, blank lines", function()
      local r = assert(bulk.read_bonus_csv("\239\187\191participant_id,amount\r\n" .. A .. ",1.50\r\n\r\n"
        .. B .. ",\"2,25\"\r\n" .. C .. ",3\r\n"))
      assert.are.same({ { A, 1.5, 2 }, { B, 2.25, 4 }, { C, 3, 5 } }, amounts(r))
      assert.are.same({ "participant_id", "amount" }, r.header)
      assert.are.equal(",", r.separator)
      -- semicolons (a spreadsheet where the comma is the decimal mark), tabs
      r = bulk.read_bonus_csv(A .. ";1,50\n" .. B .. ";2.5\n")
      assert.are.same({ { A, 1.5, 1 }, { B, 2.5, 2 } }, amounts(r))
      assert.are.equal(";", r.separator)
      r = bulk.read_bonus_csv("id\tbonus\n" .. A .. "\t0,75\n")
      assert.are.same({ { A, 0.75, 2 } }, amounts(r))
      -- id,1,50: three fields, the last of 1 or 2 digits: a decimal comma
      r = bulk.read_bonus_csv(A .. ",1,50\n" .. B .. ",1,5\n" .. C .. ",.5\n")
      assert.are.same({ { A, 1.5, 1 }, { B, 1.5, 2 }, { C, 0.5, 3 } }, amounts(r))
      -- CR alone, no final line break, a trailing separator, spaces around fields
      r = bulk.read_bonus_csv(A .. " , 1.50 ,\r" .. B .. ',"2"')
      assert.are.same({ { A, 1.5, 1 }, { B, 2, 2 } }, amounts(r))
      -- one line of text without a line break: parse_bonus_csv
      assert.are.same({ { A, 1.5, 1 } }, amounts(bulk.parse_bonus_csv(A .. ",1.50")))
      local none, err = bulk.parse_bonus_csv(A .. ";1,5,0")
      assert.is_nil(none)
      assert.are.equal("cohort.workbench.bulk.parse_bonus_csv(): line 1: amount \"1,5,0\" has a thousands "
        .. "separator or several decimal marks; write it as 1500.00 or 1500,00", err.message)
    end)

    it("refuses what it cannot read for sure, naming the line", function()
      local function bad(text, why, line)
        local r, err = bulk.read_bonus_csv(text)
        assert.is_nil(r, text)
        assert.are.same({ "decode", "BAD_LINE", line }, { err.kind, err.code, err.line })
        assert.truthy(tostring(err):find("cohort: decode [BAD_LINE] — cohort.workbench.bulk.read_bonus_csv(): "
          .. why, 1, true), tostring(err))
      end
      bad(A .. ",1,500\n", 'line 1: 1,500 is ambiguous: a thousands separator (1500) or a decimal comma', 1)
      bad("id;amount\n" .. A .. ";1,500\n", 'line 2: amount "1,500" is ambiguous', 2)
      bad(A .. ",\"1.234,50\"\n", 'line 1: amount "1.234,50" has a thousands separator', 1)
      bad(A .. ",£1.50\n", 'line 1: amount "£1.50" must be the number alone, without a currency', 1)
      bad(A .. ",1.50 GBP\n", 'line 1: amount "1.50 GBP" must be the number alone', 1)
      bad(A .. ",1.505\n", 'line 1: amount "1.505" has more than 2 decimals', 1)
      bad(A .. ",0\n", 'line 1: amount "0" must be greater than 0', 1)
      bad(A .. ",-1\n", 'line 1: amount "-1" must be greater than 0', 1)
      bad("\n\n" .. A .. "\n", "line 3: expected 2 fields", 3)
      bad(A .. ",1,50,x\n", "line 1: expected 2 fields", 1)
      bad(A .. ",1\nnope,1\n", 'line 2: id must be a Prolific id of 24 hexadecimal digits (got "nope", a string)', 2)
      bad(A .. ',"1.50\n', "line 1: a quote is not closed", 1)
      bad(A .. ',"1.50"x\n', "line 1: text after a closing quote", 1)
      bad("participant_id,amount\n\n", "the text has no bonus rows", nil)
      bad(A .. ",\n", 'line 1: amount "" is empty', 1)
      local ok, msg = pcall(bulk.read_bonus_csv, 5)
      assert.is_false(ok)
      assert.truthy(msg:find("read_bonus_csv(): expected a file path or the CSV text (got 5, an integer)", 1, true), msg)
    end)

    it("reads a file, and a file it cannot open is nil, err", function()
      local path = tmp(".csv")
      write(path, "participant_id;amount\r\n" .. A .. ";1,25\r\n" .. B .. ";x\r\n")
      local none, bad = bulk.read_bonus_csv(path)
      assert.is_nil(none)
      assert.are.same({ "decode", 3, path }, { bad.kind, bad.line, bad.source })
      assert.truthy(bad.message:find(path .. " line 3: amount \"x\" is not an amount in major units", 1, true), bad.message)
      write(path, "participant_id;amount\r\n" .. A .. ";1,25\r\n")
      assert.are.same({ { A, 1.25, 2 } }, amounts(assert(bulk.read_bonus_csv(path))))
      os.remove(path)
      local r, err = bulk.read_bonus_csv(path)
      assert.is_nil(r)
      assert.are.same({ "io", "NOT_FOUND" }, { err.kind, err.code })
      assert.truthy(tostring(err):find("cannot read " .. path, 1, true), tostring(err))
    end)

    it("its rows pay as they read, and the guard names their lines", function()
      local text = "participant_id,amount\n" .. subs[1].participant_id .. ',"0,50"\n'
        .. subs[2].participant_id .. ",1,25\n"
      local run = assert(p.bonuses:pay_all { study = STUDY, bonuses = bulk.read_bonus_csv(text) })
      assert.are.equal(2, run.paid)
      local _, by = ledger()
      assert.are.same({ 50, 125 }, { by[subs[1].id], by[subs[2].id] })
      raises("p.bonuses:pay_all(): bonuses[2] (line 3) amount 125 is above the limit of 7.50", function()
        p.bonuses:pay_all { study = STUDY, bonuses = bulk.read_bonus_csv(
          "id;amount\n" .. subs[1].participant_id .. ";0,50\n" .. subs[2].participant_id .. ";125\n") }
      end)
    end)
  end)

  -- ------------------------------------------------------------------ confirm

  describe("pay_all's confirm", function()
    it("shows each batch's bill after its set-up; false pays nothing and a re-run asks again", function()
      local path = tmp(".sqlite")
      local list = rows(5, 0.5)
      local seen = {}
      local err = refused("NOT_CONFIRMED", p.bonuses:pay_all { study = STUDY, bonuses = list,
        journal = path, batch_size = 3, confirm = function(batch, info)
          seen[#seen + 1] = { id = batch.id, total = batch.total, rows = #batch.rows,
            first = batch.rows[1][1], amount = batch.rows[1].amount, index = info.index,
            count = info.count, bill = info.bill, text = tostring(batch) }
          return false
        end })
      assert.are.equal(1, #seen)
      assert.are.same({ 210, 3, subs[1].id, 0.5, 1, 2, 350.01 },
        { seen[1].total, seen[1].rows, seen[1].first, seen[1].amount, seen[1].index, seen[1].count, seen[1].bill })
      assert.matches("^BonusBatch %x+… amount 150 %+ fees 50 %+ VAT 10 = total 210 %(minor units%)$", seen[1].text)
      assert.are.equal(seen[1].id, err.batch.id)
      assert.are.equal(0, err.run.paid)
      assert.truthy(err.message:find("p.bonuses:pay_all(): batch 1 of 2 (3 bonuses, total 210 minor units) "
        .. "was not confirmed, so nothing of it was paid; the same call (with the same journal) asks again", 1, true), err.message)
      assert.are.equal(0, count("POST", "/pay/$"))
      assert.are.equal(0, (ledger()))
      -- the second asks again, about the same set-up; yes to the first, no to the second
      local setups = count("POST", "/submissions/bonus%-payments/$")
      local asked = {}
      err = refused("NOT_CONFIRMED", p.bonuses:pay_all { study = STUDY, bonuses = list,
        journal = path, batch_size = 3, confirm = function(batch, info)
          asked[#asked + 1] = batch.id
          return info.index == 1
        end })
      assert.are.equal(seen[1].id, asked[1])
      assert.are.equal(2, #asked)
      assert.are.equal(3, err.run.paid)
      assert.are.equal(setups, count("POST", "/submissions/bonus%-payments/$"))
      assert.are.equal(3, (ledger()))
      -- a third: the paid batch is skipped, the other one asked about and paid
      asked = {}
      local run = assert(p.bonuses:pay_all { study = STUDY, bonuses = list, journal = path,
        batch_size = 3, confirm = function(batch) asked[#asked + 1] = batch.id return true end })
      assert.are.same({ 2, 3 }, { run.paid, run.skipped })
      assert.are.equal(1, #asked)
      assert.are.equal(5, (ledger()))
      -- only true pays
      local none = assert(p.bonuses:pay_all { study = STUDY, bonuses = list, journal = path,
        batch_size = 3, confirm = function() error("not asked: all paid") end })
      assert.are.same({ 0, 5 }, { none.paid, none.skipped })
      remove_store(path)
    end)

    it("anything but true stops; a confirm that raises raises, leaving the journal free", function()
      local path = tmp(".sqlite")
      refused("NOT_CONFIRMED", p.bonuses:pay_all { study = STUDY, bonuses = rows(1, 1),
        confirm = function() return "yes" end })
      local ok, msg = pcall(p.bonuses.pay_all, p.bonuses, { study = STUDY, bonuses = rows(1, 1),
        journal = path, confirm = function() error("the researcher closed the window") end })
      assert.is_false(ok)
      assert.matches("the researcher closed the window", tostring(msg))
      assert.are.equal(0, (ledger()))
      -- the journal was closed: the next run holds it and pays
      assert(p.bonuses:pay_all { study = STUDY, bonuses = rows(1, 1), journal = path,
        confirm = function() return true end })
      assert.are.equal(1, (ledger()))
      raises("p.bonuses:pay_all(): confirm must be a function(batch, info) that returns true to pay the batch (got true, a boolean)",
        function() p.bonuses:pay_all { study = STUDY, bonuses = rows(1, 1), confirm = true } end)
      remove_store(path)
    end)
  end)

  -- ------------------------------------------------------------------ the guard object

  it("p.money: spent, left, payments, and a dot for a colon", function()
    local c = env.prolific { spend_cap = 1000 }
    assert.are.equal(money.Guard, getmetatable(c.money))
    assert(assert(c.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 } } }):pay())
    assert.are.same({ 140.01, 859.99 }, { c.money:spent(), c.money:left() })
    local pay = c.money:payments()[1]
    assert.are.same({ "paid", 140.01, "batch:pay()" }, { pay.state, pay.cost, pay.label })
    assert.matches("^paying bonus batch %x+…$", pay.what)
    assert.are.equal("cohort money guard: 140.01 spent in this process of a spend cap of 1000 "
      .. "(minor units, fees and VAT included; 859.99 left)", tostring(c.money))
    assert.has_error(function() c.money.spent() end,
      "cohort: p.money.spent(): called with a dot; write p.money:spent()")
    assert.is_nil(env.prolific().money:left())
  end)

  -- ------------------------------------------------------------------ the guides' examples

  -- The first ```lua block under `## <title>` of a guide, run as written after the plain-text
  -- replacements `subs`; returns what it printed and what its `--> ` comments expect (hex ids
  -- shortened to "ID…" in both).
  local function run_block(path, title, subs)
    local compat = require "cohort.compat"
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    local start = assert(text:find("\n## " .. title .. "\n", 1, true), path .. ": no section " .. title)
    local stop = text:find("\n## ", start + 4, true) or #text
    local code = assert(text:sub(start, stop):match("```lua\n(.-)```"), path .. ": no lua block in " .. title)
    for from, to in pairs(subs or {}) do
      local i = code:find(from, 1, true)
      assert(i, path .. ": the example has no " .. from)
      code = code:sub(1, i - 1) .. to .. code:sub(i + #from)
    end
    local function ids(line) return (line:gsub("%x%x%x%x%x%x%x%x…", "ID…")) end
    local expected, printed = {}, {}
    for line in code:gmatch("[^\n]+") do
      local want = line:match("%-%-> (.*)$")
      if want then expected[#expected + 1] = ids(want) end
    end
    local envt = setmetatable({ print = function(...)
      local t = compat.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      printed[#printed + 1] = ids(table.concat(t, "\t"))
    end }, { __index = _G })
    assert(compat.load(code, "=(" .. path .. ")", "t", envt))()
    return printed, expected
  end

  it("docs/reliability.md's money guard example runs as written", function()
    local sb = env.sandbox()
    local printed, expected = run_block("docs/reliability.md", "The money guard", {
      ["cohort.prolific{ spend_cap = 50000 }"] = ("cohort.prolific{ spend_cap = 50000, token = %q, base_url = %q }")
        :format(sb.token, sb.url) })
    assert.are.equal(3, #expected)
    assert.are.same(expected, printed)
    assert.are.equal(2, (ledger()))
  end)

  it("docs/workbench.md's pay_all example runs as written", function()
    local sb = env.sandbox()
    local csv, path = tmp(".csv"), tmp(".sqlite")
    write(csv, "participant_id,amount\n60bf9a2c0a16dbeec342d142,1.50\n60bf9a2ca84e55ad514c270b,\"0,50\"\n")
    local subs = {
      ["cohort.prolific{ spend_cap = 50000 }"] = ("cohort.prolific{ spend_cap = 50000, token = %q, base_url = %q }")
        :format(sb.token, sb.url),
      ['read_bonus_csv("bonuses.csv")'] = ("read_bonus_csv(%q)"):format(csv),
      ["journal = true,"] = ("journal = %q,"):format(path),
    }
    local printed, expected = run_block("docs/workbench.md", "Paying bonuses: `pay_all`", subs)
    assert.are.equal(2, #expected)
    assert.are.same(expected, printed)
    assert.are.equal(2, (ledger()))
    -- run again: the journal has paid it all
    printed = run_block("docs/workbench.md", "Paying bonuses: `pay_all`", subs)
    assert.are.same({ "0\t2\t0" }, printed)
    assert.are.equal(2, (ledger()))
    os.remove(csv)
    remove_store(path)
  end)

  -- ------------------------------------------------------------------ the example

  it("examples/pay_bonuses.lua shows each bill, pays on yes, and never pays twice", function()
    local sb = env.sandbox()
    local dir = tmp(".d")
    assert(os.execute("mkdir " .. q(dir)))
    local csv = dir .. "/bonuses.csv"
    write(csv, "participant_id,amount\r\n" .. subs[1].participant_id .. ',"0,50"\r\n'
      .. subs[2].participant_id .. ",1.25\r\n")
    local function run_example(input, extra)
      return env.run(("printf %s | COHORT_STORE_DIR=%s PROLIFIC_TOKEN=%s PROLIFIC_URL=%s %s examples/pay_bonuses.lua %s %s %s")
        :format(q(input), q(dir), q(sb.token), q(sb.url), q(arg and arg[-1] or "lua5.4"), STUDY, q(csv), extra or ""))
    end
    local out, code = run_example("n\n")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("2 bonuses read from " .. csv, 1, true), out)
    assert.truthy(out:find("Batch 1 of 1, 2 bonuses: BonusBatch ", 1, true), out)
    assert.truthy(out:find("amount 175 + fees 58.34 + VAT 11.67 = total 245.01 (minor units)", 1, true), out)
    assert.truthy(out:find("Stopped: cohort: refused [NOT_CONFIRMED]", 1, true), out)
    assert.are.equal(0, (ledger()))
    out, code = run_example("y\n", "--cap 200")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("would pass spend_cap = 200 of this call", 1, true), out)
    out, code = run_example("y\n", "--cap 300")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("Paid 2 bonuses for 245.01 minor units (fees and VAT included); 0 were paid before", 1, true), out)
    assert.truthy(out:find("cohort money guard: 245.01 spent in this process", 1, true), out)
    out, code = run_example("", "--yes")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("Paid 0 bonuses for 0 minor units (fees and VAT included); 2 were paid before", 1, true), out)
    assert.are.equal(2, (ledger()))
    write(csv, subs[1].participant_id .. ",150\n")
    out, code = run_example("", "--yes")
    assert.are.equal(1, code, out)
    assert.truthy(out:find("bonuses[1] (line 1) amount 150 is above the limit of 7.50", 1, true), out)
    os.execute("rm -rf " .. q(dir))
  end)
end)
