-- Prolific money and organisation end to end against the sandbox: bonuses (set-up, pay, pay
-- again refused by the client's guard — and paid again when meant, as the live service does —
-- balance, ledger), messages, workspaces (+ balance) and projects. The money guard itself
-- (caps, limits, CSV, confirm): spec/money_guard_spec.lua; the books of studies (reserves,
-- rewards, releases): spec/sandbox_money_spec.lua.
describe("Prolific money", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local WORKSPACE = "60a42f4c693c29420793cb74"
  local PROJECT = "60a42f4c693c29420793cb75"
  local STUDY = "60aca280709ee40ec37d4885"
  local SEED_SUB = "625d4a831bcda2d59ac5a251"
  local SEED_PID = "60bf9310e8dec401be6e9615"
  local NOBODY = "000000000000000000000000"
  local p

  local function raises(pattern, fn)
    local n = #env.requests()
    local ok, msg = pcall(fn)
    assert.is_false(ok)
    assert.matches(pattern, tostring(msg))
    assert.are.equal(n, #env.requests(), "a request was sent")
  end

  local function study_fields(extra)
    local f = {
      name = "Bonus study", description = "A study whose participants get bonuses.",
      external_study_url = "https://example.org/b", prolific_id_option = "url_parameters",
      completion_codes = { { code = "B0NU5", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 100, total_available_places = 5,
    }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  setup(function()
    env.reset()
    p = env.prolific()
  end)

  describe("bonuses", function()
    it("set up shows amount, fees, VAT and total; pay; paying again is refused by the client", function()
      local other = assert(p.submissions:list { study = STUDY, status = "AWAITING REVIEW" })[1]
      local before = assert(p.workspaces:balance(WORKSPACE))
      local batch = assert(p.bonuses:setup { study = STUDY, bonuses = {
        { SEED_PID, 4.25 }, { participant = other.participant_id, amount = 4.25 } } })
      assert.are.equal("cohort.BonusBatch", getmetatable(batch).__name)
      assert.are.equal(850, batch.amount) -- minor units
      assert.are.equal(283.34, batch.fees) -- a third, rounded up
      assert.are.equal(56.67, batch.vat) -- 20% of the fees (GBP)
      assert.are.equal(1190.01, batch.total_amount)
      assert.are.equal(1190.01, batch.total) -- cohort's: amount + fees + VAT
      assert.are.same({ SEED_PID, 4.25 }, { batch.rows[1][1], batch.rows[1][2] })
      assert.are.equal(other.participant_id, batch.rows[2].id)
      assert.are.equal(("BonusBatch %s… amount 850 + fees 283.34 + VAT 56.67 = total 1190.01 (minor units)")
        :format(batch.id:sub(1, 8)), tostring(batch))
      -- the CSV body went out in major units
      local log = env.requests()
      local body = require("cohort.core").decode(log[#log].body)
      assert.are.equal(SEED_PID .. ",4.25\n" .. other.participant_id .. ",4.25\n", body.csv_bonuses)
      assert.are.equal(STUDY, body.study_id)

      assert.is_string(assert(batch:pay()))
      local sent = #env.requests()
      local _, again = batch:pay()
      assert.is_true(Error.is(again))
      assert.are.equal("refused", again.kind)
      assert.are.equal("ALREADY_PAID", again.code)
      assert.matches("batch:pay%(%): bonus batch %x+… was paid by this client already", again.message)
      local _, again2 = p.bonuses:pay(batch.id)
      assert.are.equal("ALREADY_PAID", again2.code)
      assert.are.equal(sent, #env.requests(), "a second payment was sent")

      local after = assert(p.workspaces:balance(WORKSPACE))
      assert.are.equal(before.available_balance - 1190, after.available_balance)
      assert.are.equal(before.total_balance - 1190, after.total_balance)
      local sub = assert(p.submissions:get(SEED_SUB))
      assert.are.same({ 1000, 2536, 425 }, sub.bonus_payments)
      assert.are.same({ 425 }, assert(p.submissions:get(other.id)).bonus_payments)
      local ledger = env.control("GET", "ledger")
      assert.are.equal(2, ledger.count)
      assert.are.equal(425, ledger.ledger[1].amount)
      assert.are.equal("bonus", ledger.ledger[1].kind)
      assert.are.equal(SEED_SUB, ledger.ledger[1].submission_id)
      assert.are.equal(SEED_PID, ledger.ledger[1].participant_id)
      assert.are.equal(batch.id, ledger.ledger[1].batch_id)
      -- the rows' totals add up to what left the balance (their shares of fees and VAT)
      assert.are.equal(1190, ledger.ledger[1].total + ledger.ledger[2].total)

      -- the live service's pay is not idempotent ("participants being paid multiple times"):
      -- a second pay, when meant (`again = true`), pays the batch again, and the ledger says so
      assert.is_string(assert(batch:pay { again = true }))
      local twice = assert(p.workspaces:balance(WORKSPACE))
      assert.are.equal(before.available_balance - 2 * 1190, twice.available_balance)
      assert.are.same({ 1000, 2536, 425, 425 }, assert(sub:refresh()).bonus_payments)
      ledger = env.control("GET", "ledger")
      assert.are.equal(4, ledger.count)
      assert.are.equal(batch.id, ledger.ledger[4].batch_id)
      assert.matches("paid again: payment 2 of this batch", ledger.ledger[4].note, 1, true)
      local _, nf = p.bonuses:pay(NOBODY)
      assert.are.equal(404, nf.status)
    end)

    it("pays a batch again only when told to, and sends it then", function()
      local batch = assert(p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 } } })
      assert(batch:pay())
      local n = #env.requests()
      -- what the server does with it (Prolific pays again) is the server's: here, it is sent
      batch:pay { again = true }
      local log = env.requests()
      assert.are.equal(n + 1, #log)
      assert.matches("/bulk%-bonus%-payments/" .. batch.id .. "/pay/$", log[#log].path)
      raises("batch:pay%(%): again must be true or false %(got 1, an integer%)", function()
        batch:pay { again = 1 }
      end)
    end)

    it("validates amounts and rows before sending", function()
      raises("p%.bonuses:setup%(%): bonuses%[1%] amount must be greater than 0 %(major units; got 0, an integer%)", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 0 } } }
      end)
      raises("amount must be a finite number", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 0 / 0 } } }
      end)
      raises("amount must be a finite number", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, math.huge } } }
      end)
      raises("more than 2 decimals", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 0.125 } } }
      end)
      raises("bonuses%[2%] amount must be greater than 0", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 }, { SEED_PID, -2 } } }
      end)
      local rows = {}
      for i = 1, 201 do rows[i] = { SEED_PID, 1 } end
      raises("at most 200 per set%-up", function() p.bonuses:setup { study = STUDY, bonuses = rows } end)
      raises("bonuses must be a non%-empty array", function() p.bonuses:setup { study = STUDY, bonuses = {} } end)
      raises("study is required", function() p.bonuses:setup { bonuses = { { SEED_PID, 1 } } } end)
      raises('bonuses%[1%] amount must be a finite number in major units, e.g. 1.50 for £1.50 %(got "1,50", a string%)', function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, "1,50" } } }
      end)
      raises('bonuses%[1%] amount must be a finite number .* %(got "1.50", a string%)', function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, "1.50" } } }
      end)
      raises('bonuses%[1%] id must be a Prolific id of 24 hexadecimal digits %(got "nope", a string%)', function()
        p.bonuses:setup { study = STUDY, bonuses = { { "nope", 1 } } }
      end)
      raises("currency is not a field of this request", function()
        p.bonuses:setup { study = STUDY, bonuses = { { SEED_PID, 1 } }, currency = "GBP" }
      end)
    end)

    it("answers 400 naming the rows that are not of the study", function()
      local batch, err = p.bonuses:setup { study = STUDY, bonuses = { { NOBODY, 1 } } }
      assert.is_nil(batch)
      assert.are.equal(400, err.status)
      assert.truthy(err.fields.csv_bonuses)
      -- a study that is not there: the guard reads its reward first (404); without the limit
      -- the set-up itself answers 400
      local _, err2 = p.bonuses:setup { study = NOBODY, bonuses = { { SEED_PID, 1 } } }
      assert.are.equal(404, err2.status)
      local _, err3 = p.bonuses:setup { study = NOBODY, bonuses = { { SEED_PID, 1 } }, max_bonus = false }
      assert.are.equal(400, err3.status)
    end)

    it("refuses to publish from a workspace without the funds (402)", function()
      env.reset()
      local ws = assert(p.workspaces:create { title = "Empty wallet" })
      local pr = assert(ws:create_project { title = "Broke" })
      local st = assert(pr:create_study(study_fields()))
      local _, perr = st:publish()
      assert.are.equal(402, perr.status)
      assert.matches("Insufficient funds: publishing this study %(5 places%) needs 700", perr.message)
      assert.are.equal("UNPUBLISHED", assert(st:refresh()).status)
      assert.are.equal(0, assert(ws:balance()).available_balance)
    end)

    it("refuses to pay what the workspace cannot cover (402)", function()
      -- £800.00 costs 80000 + fees 26666.67 + VAT 5333.34: more than the 100000 it holds
      local before = assert(p.workspaces:balance(WORKSPACE))
      local paid_before = assert(p.submissions:get(SEED_SUB)).bonus_payments
      local ledger_before = env.control("GET", "ledger").count
      local batch = assert(p.bonuses:setup { study = STUDY, bonuses = { { SEED_SUB, 800 } },
        max_bonus = false })
      assert.is_true(batch.total > before.available_balance)
      local _, err = batch:pay()
      assert.are.equal(402, err.status)
      assert.matches("Insufficient funds", err.message)
      assert.are.equal(before.available_balance, assert(p.workspaces:balance(WORKSPACE)).available_balance)
      assert.are.same(paid_before, assert(p.submissions:get(SEED_SUB)).bonus_payments)
      assert.are.equal(ledger_before, env.control("GET", "ledger").count)
    end)
  end)

  describe("messages", function()
    it("sends, lists a conversation, lists unread", function()
      assert.is_true(p.messages:send { recipient = SEED_PID, study = STUDY, body = "Thank you!" })
      local convo = assert(p.messages:all { user_id = SEED_PID })
      assert.are.equal(1, #convo)
      assert.are.equal("Thank you!", convo[1].body)
      assert.are.equal("cohort.Message", getmetatable(convo[1]).__name)
      assert.matches("^Message %d%d%d%d%-", tostring(convo[1]))
      local recent = assert(p.messages:all { created_after = "2024-05-01T10:30:00Z" })
      assert.is_true(#recent >= 2) -- a seeded one and ours
      local unread = assert(p.messages:all_unread())
      assert.are.equal(1, #unread)
      assert.is_string(unread[1].sender_id)
      raises("give user_id", function() p.messages:list {} end)
      raises("p%.messages:send%(%): recipient is required", function()
        p.messages:send { study_id = STUDY, body = "x" }
      end)
      raises("body must not be blank", function()
        p.messages:send { recipient_id = SEED_PID, study_id = STUDY, body = "  " }
      end)
      local ok, err = p.messages:send { recipient_id = SEED_PID, study_id = NOBODY, body = "x" }
      assert.is_nil(ok)
      assert.are.equal(400, err.status)
    end)

    it("sends to many participants and to a participant group", function()
      local pids = { "60bf9a2c" .. ("%016x"):format(1), "60bf9a2c" .. ("%016x"):format(2) }
      assert.is_true(p.messages:send_bulk { ids = pids, study_id = STUDY, body = "Reminder" })
      assert.are.equal(1, #assert(p.messages:all { user_id = pids[2] }))
      raises("ids must not be empty", function()
        p.messages:send_bulk { ids = {}, study_id = STUDY, body = "x" }
      end)
      local _, err = p.messages:send_to_group { group = NOBODY, body = "Hello group" }
      assert.are.equal(404, err.status)
      raises("group is required", function()
        p.messages:send_to_group { body = "x" }
      end)
      local g = assert(p.groups:create { workspace_id = WORKSPACE, name = "Messaged",
        participant_ids = { SEED_PID } })
      assert.is_true(p.messages:send_to_group { participant_group_id = g.id, body = "Hello group" })
      local convo = assert(p.messages:all { user_id = SEED_PID })
      assert.are.equal("Hello group", convo[#convo].body)
    end)
  end)

  describe("workspaces and projects", function()
    it("list, create, get, update, balance", function()
      local all = assert(p.workspaces:all())
      assert.is_true(#all >= 1)
      assert.are.equal("cohort.Workspace", getmetatable(all[1]).__name)
      local ws = assert(p.workspaces:create { title = "Lab", currency_code = "USD",
        naivety_distribution_rate = 0.5 })
      assert.are.equal("Lab", ws.title)
      assert.are.equal(('Workspace %s… "Lab"'):format(ws.id:sub(1, 8)), tostring(ws))
      local up = assert(ws:update { description = "Our lab" })
      assert.are.equal("Our lab", up.description)
      assert.are.equal("Our lab", assert(p.workspaces:get(ws.id)).description)
      local bal = assert(ws:balance())
      assert.are.equal("USD", bal.currency_code)
      assert.are.equal(0, bal.total_balance)
      local seeded = assert(p.workspaces:balance(WORKSPACE))
      assert.is_true(seeded.available_balance > 0)
      raises("p%.workspaces:create%(%): title is required", function()
        p.workspaces:create {}
      end)
      raises("ws:update%(%): naivety_distribution_rate must be at most 1 %(got 2, an integer%)", function()
        ws:update { naivety_distribution_rate = 2 }
      end)
      raises('currency_code must be a string %(got 5, an integer%)', function()
        p.workspaces:create { title = "x", currency_code = 5 }
      end)
      local _, err = p.workspaces:get(NOBODY)
      assert.are.equal(404, err.status)
      local _, berr = p.workspaces:balance(NOBODY)
      assert.are.equal(404, berr.status)
    end)

    it("projects: create, list, get, update, and their studies", function()
      local pr = assert(p.projects:create(WORKSPACE, { title = "Pilot" }))
      assert.are.equal(WORKSPACE, pr.workspace)
      assert.are.equal(('Project %s… "Pilot"'):format(pr.id:sub(1, 8)), tostring(pr))
      local list = assert(p.projects:all(WORKSPACE))
      local ids = {}
      for _, x in ipairs(list) do ids[x.id] = true end
      assert.is_true(ids[pr.id] and ids[PROJECT])
      local ws = assert(p.workspaces:get(WORKSPACE))
      assert.are.equal(#list, #assert(ws:all_projects()))
      local up = assert(pr:update { title = "Pilot 2" })
      assert.are.equal("Pilot 2", up.title)
      assert.are.equal("Pilot 2", assert(p.projects:get(pr.id)).title)
      local st = assert(pr:create_study(study_fields()))
      assert.are.equal(pr.id, st.project)
      local studies = assert(pr:all_studies())
      assert.are.equal(1, #studies)
      assert.are.equal(st.id, studies[1].id)
      raises("project:update%(%): title must not be blank", function() pr:update { title = "" } end)
      raises("project:update%(%): colour is not a field of this request", function()
        pr:update { colour = "red" }
      end)
      raises("p%.projects:create%(%): workspace_id is required", function()
        p.projects:create(nil, { title = "x" })
      end)
      local _, err = p.projects:create(NOBODY, { title = "x" })
      assert.are.equal(404, err.status)
      local _, gerr = p.projects:get(NOBODY)
      assert.are.equal(404, gerr.status)
    end)
  end)
end)
