-- cohort.workbench.review: the plan (dry run: printed, nothing sent), carrying it out through the journal
-- (statuses and the sandbox's ledger match the plan), re-runs that do nothing twice, bad
-- decisions, misuse, failures, and examples/reconcile_questionpro.lua.
describe("cohort.review", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local STUDY = "60aca280709ee40ec37d4885"
  local SURVEY = 7654321
  local LUA = arg and arg[-1] or "lua5.4"
  local REASON = ("Your response to the survey did not pass our checks, so we cannot approve "
    .. "this submission. Thank you for taking part; contact us with any question.")
  local p, q

  local function sink()
    local out = {}
    return setmetatable(out, { __index = {
      write = function(self, ...) for _, s in ipairs { ... } do self[#self + 1] = s end return self end,
      text = function(self) return table.concat(self) end,
    } })
  end

  local function journal_path()
    local path = os.tmpname()
    os.remove(path)
    return path
  end

  local function writes()
    local n = 0
    for _, r in ipairs(env.requests()) do
      if r.method ~= "GET" and not tostring(r.path):find("/__sandbox/", 1, true) then n = n + 1 end
    end
    return n
  end

  -- the bonuses in the sandbox's ledger (which also holds the rewards of the approvals)
  local function ledger()
    local by_sub, total = {}, 0
    for _, e in ipairs(env.control("GET", "ledger").ledger) do
      if e.kind == "bonus" then
        by_sub[e.submission_id] = (by_sub[e.submission_id] or 0) + e.amount
        total = total + 1
      end
    end
    return by_sub, total
  end

  -- The example's rule: no response or a terminated one → reject; "Always" → bonus £0.50.
  local function rule(_, resp)
    if resp == nil then return { action = "reject", category = "NO_DATA", message = REASON } end
    if resp.responseStatus == "Terminated" then
      return { action = "reject", category = "FAILED_CHECK", message = REASON }
    end
    return { action = "approve", bonus = resp:answer("Q1") == "Always" and 0.5 or nil }
  end

  setup(function() p, q = env.prolific(), env.questionpro() end)
  before_each(function()
    env.reset()
    env.control("DELETE", "requests")
  end)

  it("a dry run prints the plan and sends nothing", function()
    local out = sink()
    local plan = assert(cohort.review({ client = p, id = STUDY },
      { responses = q.responses:each(SURVEY), rule = rule, out = out, progress = false }))
    assert.is_true(plan.dry_run)
    assert.are.equal(27, plan.awaiting_review)
    assert.are.equal(22, plan.with_response)
    assert.are.equal(5, #plan.missing_response)
    assert.are.same({ approve = 19, reject = 8, skip = 0, bonus = 8, bonus_total = 4.0 }, plan.counts)
    assert.are.same({ approve = 19, reject = 8, bonus = 8, bonus_total = 4.0 }, plan.todo)
    assert.is_nil(plan.outcome)
    local text = out:text()
    assert.truthy(text:find("Review of study " .. STUDY .. ": 27 awaiting review, 22 with a "
      .. "response, 5 without", 1, true), text)
    assert.truthy(text:find("#%s+submission%s+participant%s+response%s+action%s+category%s+bonus%s+note"), text)
    assert.truthy(text:find("66300a1b01635f5553e5a684  60bf9a2c0a16dbeec342d142  90000001  approve%s+0%.50"), text)
    assert.truthy(text:find("66300a1b9156a6de58288e3d  60bf9a2c9a0a2370ddc37153  90000010  reject   FAILED_CHECK"), text)
    assert.truthy(text:find("reject   NO_DATA%s+no response"), text)
    assert.truthy(text:find("Plan: 19 approve, 8 reject, 0 skip; 8 bonuses, 4.00 in total (major units)", 1, true), text)
    assert.truthy(text:find("dry run: nothing sent", 1, true), text)
    assert.are.equal(0, writes())
    local _, paid = ledger()
    assert.are.equal(0, paid)
    assert.are.equal(27, #assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" }))
  end)

  it("a real run transitions and pays exactly as planned, and a re-run does nothing twice", function()
    local path = journal_path()
    local study = assert(p.studies:get(STUDY))      -- a Study object this time
    local plan = assert(cohort.review(study, { responses = q.responses:each(SURVEY), rule = rule,
      dry_run = false, journal = path, out = sink(), progress = false }))
    assert.are.same({ 19, 8, 8, 1 }, { plan.outcome.approved, plan.outcome.rejected,
      plan.outcome.bonuses_paid, #plan.outcome.bonus_batches })
    local paid, total = ledger()
    assert.are.equal(8, total)
    for _, d in ipairs(plan.decisions) do
      local sub = assert(p.submissions:get(d.submission.id))
      assert.are.equal(d.action == "approve" and "APPROVED" or "REJECTED", sub.status, d.submission.id)
      assert.are.equal(d.bonus and 50 or nil, paid[d.submission.id], d.submission.id) -- minor units
      assert.is_true(d.done)
    end
    -- again, with the same journal: nothing is sent, nothing paid
    env.control("DELETE", "requests")
    local out = sink()
    local again = assert(cohort.review(study, { responses = q.responses:each(SURVEY), rule = rule,
      dry_run = false, journal = path, out = out, progress = false }))
    assert.are.same({ 0, 0, 0 }, { again.outcome.approved, again.outcome.rejected, again.outcome.bonuses_paid })
    assert.are.equal(27, #again.decisions)       -- the earlier decisions, all done
    for _, d in ipairs(again.decisions) do assert.is_true(d.from_journal and d.done) end
    assert.truthy(out:text():find("Nothing to do", 1, true), out:text())
    assert.are.equal(0, writes())
    assert.are.equal(8, select(2, ledger()))
    os.remove(path)
  end)

  it("a skip with a bonus is paid once, and a skip without one is decided again next time", function()
    local path = journal_path()
    local calls = 0
    local function skipping(sub, resp)
      calls = calls + 1
      if resp and resp:answer("Q1") == "Always" then return { action = "skip", bonus = 1.25 } end
      return "skip"
    end
    local opts = { responses = q.responses:each(SURVEY), rule = skipping, dry_run = false,
      journal = path, out = false, progress = false }
    local plan = assert(cohort.review({ client = p, id = STUDY }, opts))
    assert.are.equal(27, calls)
    assert.are.equal(8, plan.outcome.bonuses_paid)
    assert.are.equal(0, plan.outcome.approved + plan.outcome.rejected)
    opts.responses = q.responses:each(SURVEY)
    local again = assert(cohort.review({ client = p, id = STUDY }, opts))
    assert.are.equal(27 + 19, calls)             -- only the plain skips asked the rule again
    assert.are.equal(0, again.outcome.bonuses_paid)
    local paid, total = ledger()
    assert.are.equal(8, total)
    for _, amount in pairs(paid) do assert.are.equal(125, amount) end
    assert.are.equal(27, #assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" }))
    os.remove(path)
  end)

  it("settles a bonus payment an earlier review sent but never heard back from", function()
    local path = journal_path()
    local opts = { responses = q.responses:each(SURVEY), rule = rule, dry_run = false,
      journal = path, out = false, progress = false }
    -- the payment is made, but the connection drops before its answer arrives
    env.control("POST", "faults", { rules = { { method = "POST", path = "/api/v1/bulk-bonus-payments/",
      fault = "reset", times = 1 } } })
    local plan, err = cohort.review({ client = p, id = STUDY }, opts)
    env.control("DELETE", "faults")
    assert.is_nil(plan)
    assert.is_true(cohort.Error.is(err))
    assert.are.equal(8, select(2, ledger()))      -- the server did pay
    -- the transitions are done and journaled; the run is resumed and finds the payment made
    assert.are.equal(0, #assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" }))
    opts.responses = q.responses:each(SURVEY)
    local again = assert(cohort.review({ client = p, id = STUDY }, opts))
    assert.are.same({ 0, 0, 0, 8 }, { again.outcome.approved, again.outcome.rejected,
      again.outcome.bonuses_paid, again.outcome.skipped })
    assert.are.equal(8, select(2, ledger()))
    opts.responses = q.responses:each(SURVEY)
    local third = assert(cohort.review({ client = p, id = STUDY }, opts))
    assert.are.equal(0, third.outcome.bonuses_paid)
    assert.are.equal(8, select(2, ledger()))
    os.remove(path)
  end)

  it("a bad decision raises naming the submission and the field, before anything is sent", function()
    local first = "66300a1b01635f5553e5a684" -- the first submission awaiting review
    local function raises(pattern, decision)
      local ok, msg = pcall(cohort.review, { client = p, id = STUDY }, {
        responses = q.responses:each(SURVEY), out = false, dry_run = false, journal = journal_path(),
        rule = function(sub) if sub.id == first then return decision end return "approve" end })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("cohort.review(): submission " .. first .. ": " .. pattern, 1, true), tostring(msg))
    end
    raises("message must be at least 100 characters to reject (got 5)",
      { action = "reject", category = "LOW_EFFORT", message = "short" })
    raises("category must be one of", { action = "reject", message = REASON })
    raises("category must be one of", { action = "reject", category = "LAZY", message = REASON })
    raises("bonus must be an amount in MAJOR units", { action = "approve", bonus = 0.125 })
    raises("bonus must be an amount in MAJOR units", { action = "approve", bonus = -1 })
    raises("bonus cannot go with reject", { action = "reject", category = "LOW_EFFORT", message = REASON, bonus = 1 })
    raises("action must be one of approve, reject, skip (got \"pay\")", { action = "pay" })
    raises("unknown field 'catgory'", { action = "approve", catgory = "x" })
    raises("message applies to reject only", { action = "approve", message = REASON })
    raises("the rule must return a table", 42)
    raises("the rule returned \"reject\"", "reject")
    assert.are.equal(0, writes())
    assert.are.equal(27, #assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" }))
  end)

  it("raises on misuse before any request", function()
    local function raises(pattern, study, opts)
      local ok, msg = pcall(cohort.review, study, opts)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find(pattern, 1, true), tostring(msg))
    end
    local good = { responses = {}, rule = function() return "skip" end }
    raises("cohort.review(): study must be a Study object or {client = <Prolific client>, id = <study id>} (got \"" .. STUDY .. "\")", STUDY, good)
    raises("cohort.review(): study.client must be a Prolific client", { client = q, id = STUDY }, good)
    raises("cohort.review(): study id must be a non-empty id string", { client = p }, good)
    raises("cohort.review(): rule must be a function", { client = p, id = STUDY }, { responses = {} })
    raises("cohort.review(): responses is required", { client = p, id = STUDY }, { rule = good.rule })
    raises("cohort.review(): unknown option 'dryrun'", { client = p, id = STUDY },
      { responses = {}, rule = good.rule, dryrun = false })
    raises("cohort.review(): journal is required with dry_run = false: give a file path", { client = p, id = STUDY },
      { responses = {}, rule = good.rule, dry_run = false })
    raises("cohort.review(): out must be an open file", { client = p, id = STUDY },
      { responses = {}, rule = good.rule, out = "plan.txt" })
    assert.are.equal(0, #env.requests())
  end)

  it("returns the server's error when the listing fails", function()
    local bad = env.prolific { token = "not-the-token" }
    local plan, err = cohort.review({ client = bad, id = STUDY },
      { responses = {}, rule = function() return "approve" end, out = false })
    assert.is_nil(plan)
    assert.are.equal(401, err.status)
  end)

  it("a bonus above the limit raises on the plan, before any approval or rejection is sent", function()
    local p = env.prolific()
    local subs = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local first = subs[1].id
    local rule = function(sub)
      if sub.id == first then return { action = "approve", bonus = 150 } end -- pence meant
      return { action = "approve" }
    end
    local j = os.tmpname()
    os.remove(j)
    local before = select(2, ledger())
    local ok, msg = pcall(cohort.review, { client = p, id = STUDY },
      { responses = {}, rule = rule, dry_run = false, journal = j, out = false })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("cohort.review(): submission " .. first .. ": bonus amount 150.00 is above the limit", 1, true), msg)
    assert.are.equal(before, select(2, ledger()))
    local still = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    assert.are.equal(#subs, #still)                        -- nothing approved
    assert.is_nil(io.open(j, "rb"))                        -- no journal begun
    -- the same limit holds in a dry run, and max_bonus lifts it
    assert.has_error(function()
      cohort.review({ client = p, id = STUDY }, { responses = {}, rule = rule, out = false })
    end)
    assert(cohort.review({ client = p, id = STUDY }, { responses = {}, rule = rule, out = false,
      max_bonus = 200 }))
  end)

  it("examples/reconcile_questionpro.lua runs the whole loop against the sandbox", function()
    local sq = require("cohort.sandbox").shell_quote
    local sb = env.sandbox()
    local cmd = ("PROLIFIC_TOKEN=%s PROLIFIC_URL=%s QUESTIONPRO_API_KEY=%s QUESTIONPRO_URL=%s %s %s")
      :format(sq(sb.token), sq(sb.url), sq(sb.api_key), sq(sb.url), sq(LUA),
        "examples/reconcile_questionpro.lua")
    local out, code = env.run(cmd)
    assert.are.equal(0, code, out)
    assert.truthy(out:find("Reconciled: 37 submissions with a response, 8 without, 0 responses "
      .. "without a submission", 1, true), out)
    assert.truthy(out:find("dry run: nothing sent", 1, true), out)
    assert.truthy(out:find("First run: 19 approved, 8 rejected, 8 bonuses of £0.50; second run: "
      .. "0 approved, 0 rejected, 0 bonuses", 1, true), out)
    assert.are.equal(8, select(2, ledger()))
  end)
end)
