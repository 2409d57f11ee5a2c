-- The journal for money and bulk actions: re-running completes the rest and never pays or
-- transitions anything twice — also after a SIGKILL at any point of a bonus run.
describe("journal", function()
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote
  local STUDY = "60aca280709ee40ec37d4885"
  local LUA = arg and arg[-1] or "lua5.4"
  local p

  local function ledger_counts()
    local counts, total = {}, 0
    for _, e in ipairs(env.control("GET", "ledger").ledger) do
      counts[e.submission_id] = (counts[e.submission_id] or 0) + 1
      total = total + 1
    end
    return counts, total
  end

  local function journal_path()
    local path = os.tmpname()
    os.remove(path)
    return path
  end

  setup(function() p = env.prolific() end)
  before_each(function() env.reset() end)
  after_each(function() env.control("POST", "latency", { ms = 0 }) end)

  it("a second run with the same journal pays nothing again", function()
    local path = journal_path()
    local subs = assert(p.submissions:all { study = STUDY })
    local rows = {}
    for i = 1, 7 do rows[i] = { subs[i].id, 1.25 } end
    local run = assert(p.bonuses:pay_all { study = STUDY, bonuses = rows, journal = path, batch_size = 3 })
    assert.are.same({ 7, 0, 0, 3 }, { run.paid, run.skipped, run.verified, #run.batches })
    local again = assert(p.bonuses:pay_all { study = STUDY, bonuses = rows, journal = path, batch_size = 3 })
    assert.are.same({ 0, 7 }, { again.paid, again.skipped })
    local _, total = ledger_counts()
    assert.are.equal(7, total)
    os.remove(path)
  end)

  it("checks every row before anything is sent", function()
    env.control("DELETE", "requests")
    assert.has_error(function()
      p.bonuses:pay_all { study = STUDY, bonuses = { { "a", 1 }, { "b", -1 } }, journal = journal_path() }
    end)
    assert.has_error(function() p.bonuses:pay_all { study = STUDY, bonuses = { { "a", 1 } }, batch_size = 201 } end)
    assert.are.equal(0, #env.requests())
  end)

  it("SIGKILL at 50 points of a bonus run, then resume: each participant paid exactly once", function()
    local N, SIZE = 12, 3                 -- 4 batches: 16 journal lines in an uncut run
    local LINES = 16
    local sb = env.sandbox()
    local core = require "cohort.core"
    local function command(path)
      return ("%s spec/support/bonus_run.lua %s %s %s %d %d"):format(q(LUA), q(sb.url), q(sb.token),
        q(path), N, SIZE)
    end
    local function lines(path)
      local f = io.open(path, "rb")
      if not f then return 0 end
      local n = select(2, f:read("*a"):gsub("\n", ""))
      f:close()
      return n
    end
    local uncertain_trials, killed_trials = 0, 0
    for trial = 1, 50 do
      env.reset()
      env.control("POST", "latency", { ms = 15 }) -- a window between each request and its record
      local path = journal_path()
      -- run in the background; SIGKILL it as soon as the journal has k lines (k = 0 … 16), so
      -- the kills fall at every step of the run whatever the speed of the machine
      local k = (trial - 1) % (LINES + 1)
      local h = io.popen("exec sh -c " .. q(command(path) .. " >/dev/null 2>&1 & echo $!"), "r")
      local pid = require("cohort.compat").tointeger(tonumber(h:read("*l")))
      h:close()
      local deadline = core.monotime() + 60
      while lines(path) < k and require("cohort.compat").execute("kill -0 " .. pid .. " 2>/dev/null") and core.monotime() < deadline do
        core.sleep(0.001)
      end
      if require("cohort.compat").execute("kill -9 " .. pid .. " 2>/dev/null") then killed_trials = killed_trials + 1 end
      while require("cohort.compat").execute("kill -0 " .. pid .. " 2>/dev/null") do core.sleep(0.005) end
      -- was a payment left between its intent and its outcome?
      local f = io.open(path, "rb")
      if f then
        local open = {}
        for line in f:lines() do
          local key, phase, step = line:match('"key":"([^"]+)"'), line:match('"phase":"(%a+)"'),
            line:match('"step":"(%a+)"')
          if key and step == "pay" then open[key] = phase == "intent" or nil end
        end
        f:close()
        if next(open) then uncertain_trials = uncertain_trials + 1 end
      end
      env.control("POST", "latency", { ms = 0 })
      local resumed, code = env.run(command(path))
      assert.are.equal(0, code, resumed)
      local counts, total = ledger_counts()
      assert.are.equal(N, total, ("trial %d (k=%d): %d payments for %d participants\n%s"):format(trial, k,
        total, N, resumed))
      for sub, c in pairs(counts) do
        assert.are.equal(1, c, ("trial %d: %s paid %d times"):format(trial, sub, c))
      end
      os.remove(path)
    end
    -- the kills did cut runs short, and some of them between a payment and its record
    assert.is_true(killed_trials >= 40, "only " .. killed_trials .. " runs were killed")
    assert.is_true(uncertain_trials >= 5, "only " .. uncertain_trials .. " trials stopped between a payment and its outcome")
  end)

  it("approve_all and reject_all: a re-run transitions nothing twice", function()
    local path = journal_path()
    local pending = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local ids = {}
    for i = 1, 10 do ids[i] = pending[i].id end
    local run = assert(p.submissions:approve_all { ids = ids, journal = path, batch_size = 4 })
    assert.are.same({ 10, 0 }, { run.approved, run.skipped })
    run = assert(p.submissions:approve_all { ids = ids, journal = path, batch_size = 4 })
    assert.are.same({ 0, 10 }, { run.approved, run.skipped })
    local msg = ("Your answers did not follow the instructions of the study, so we cannot approve it. "):rep(2)
    local items = {}
    for i = 11, 13 do items[#items + 1] = { id = pending[i].id, category = "FAILED_INSTRUCTIONS", message = msg } end
    local r = assert(p.submissions:reject_all { items = items, journal = path })
    assert.are.same({ 3, 0 }, { r.rejected, r.skipped })
    r = assert(p.submissions:reject_all { items = items, journal = path })
    assert.are.same({ 0, 3 }, { r.rejected, r.skipped })
    assert.has_error(function()
      p.submissions:reject_all { items = { { id = pending[14].id, category = "FAILED_CHECK", message = "short" } } }
    end)
    os.remove(path)
  end)
end)
