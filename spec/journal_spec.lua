-- The journal for money and bulk actions, on the study's SQLite store: re-running completes the
-- rest and never pays or transitions anything twice — also after a SIGKILL at any instant of a
-- bonus run — and a second run on the same journal at the same time is refused and pays nothing.
describe("journal", function()
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote
  local core = require "cohort.core"
  local compat = require "cohort.compat"
  local STUDY = "60aca280709ee40ec37d4885"
  local LUA = arg and arg[-1] or "lua5.4"
  local APP = 0x636F686F
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
    return path .. ".sqlite"
  end

  local function remove_store(path)
    for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
  end

  -- What the spec sees of a journal from outside, read-only (no lock): SQL rows, or nil.
  local function peek(path, sql)
    local db = core.store_open(path, { application_id = APP, readonly = true, check = "none",
      busy_timeout = 1000 })
    if not db then return nil end
    local rows = db:rows(sql)
    db:close()
    return rows
  end
  local function journal_rows(path)
    local rows = peek(path, "SELECT count(*) AS n FROM journal")
    return rows and rows[1].n or 0
  end

  local function read(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
  end

  -- Start `cmd` in the background under a shell that waits for it (so it is reaped as soon as
  -- it ends) and writes "exit=<status>" after its output in `out`. Returns the command's pid
  -- and the handle whose close waits for the end.
  local function spawn(cmd, out)
    local h = io.popen("sh -c " .. q(cmd .. " >" .. q(out) .. " 2>&1 & echo $!; wait $!; echo \"exit=$?\" >>"
      .. q(out)) .. " 2>/dev/null", "r") -- (the shell's "Killed" notice is not wanted)
    local pid = compat.tointeger(tonumber(h:read("*l")))
    return pid, h
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
    -- what the store holds: 3 batches × (setup, pay) × (intent, outcome), two runs, both ended
    assert.are.equal(12, journal_rows(path))
    local runs = peek(path, "SELECT label, ended FROM journal_runs ORDER BY id")
    assert.are.equal(1, #runs) -- the second run only read: it wrote no run
    assert.are.equal("p.bonuses:pay_all()", runs[1].label)
    assert.is_string(runs[1].ended)
    assert.are.same({}, peek(path, "SELECT * FROM journal_state WHERE last_phase = 'intent'"))
    remove_store(path)
  end)

  it("checks every row before anything is sent, and opens no journal then", function()
    env.control("DELETE", "requests")
    local path = journal_path()
    assert.has_error(function()
      p.bonuses:pay_all { study = STUDY, bonuses = { { "a", 1 }, { "b", -1 } }, journal = path }
    end)
    assert.has_error(function() p.bonuses:pay_all { study = STUDY, bonuses = { { "a", 1 } }, batch_size = 201 } end)
    assert.are.equal(0, #env.requests())
    assert.is_nil(io.open(path, "rb"))
  end)

  it("journal = true is the study's store, cohort-<study id>.sqlite in the current directory", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(compat.execute("mkdir " .. q(dir)))
    local sb = env.sandbox()
    local root = assert(io.popen("pwd")):read("*l")
    local out, code = env.run(("cd %s && %s %s %s %s true 4 2"):format(q(dir), q(LUA),
      q(root .. "/spec/support/bonus_run.lua"), q(sb.url), q(sb.token)))
    assert.are.equal(0, code, out)
    assert.matches("done paid=4", out)
    local file = dir .. "/cohort-" .. STUDY .. ".sqlite"
    assert.are.same({ { value = STUDY } }, peek(file, "SELECT value FROM cohort_meta WHERE key = 'study'"))
    assert.are.equal(8, journal_rows(file))
    remove_store(file)
    os.remove(dir)
    -- a call that does not name its study cannot use the default
    assert.has_error(function()
      p.submissions:reject_all { items = { { id = "x", category = "FAILED_CHECK", message = ("m"):rep(100) } },
        journal = true }
    end)
  end)

  it("SIGKILL at any instant of a bonus run, then resume: each participant paid exactly once", function()
    local N, SIZE = 12, 3        -- 4 batches: setup and pay, intent and outcome: 16 journal rows
    local ROWS = 16
    local TRIALS = os.getenv("COHORT_SLOW") and 12 or 30
    local seed = os.time()
    math.randomseed(seed)
    local sb = env.sandbox()
    local function command(path)
      return ("%s spec/support/bonus_run.lua %s %s %s %d %d"):format(q(LUA), q(sb.url), q(sb.token),
        q(path), N, SIZE)
    end
    local uncertain_trials, killed_trials = 0, 0
    for trial = 1, TRIALS do
      env.reset()
      env.control("POST", "latency", { ms = 15 }) -- a window between each request and its record
      local path, out = journal_path(), os.tmpname()
      -- kill when the journal has k rows (k = 0 … 16, so the kills fall at every step whatever
      -- the speed of the machine), then after a random further 0-12 ms: inside the request, or
      -- inside SQLite's commit of the next row
      local k = (trial - 1) % (ROWS + 1)
      local extra = math.random(0, 12) / 1000
      local pid, h = spawn(command(path), out)
      local deadline = core.monotime() + 60
      while journal_rows(path) < k and not read(out):find("exit=") and core.monotime() < deadline do
        core.sleep(0.001)
      end
      core.sleep(extra)
      compat.execute("kill -9 " .. pid .. " 2>/dev/null")
      h:close() -- the shell has reaped it
      local status = read(out):match("exit=(%d+)")
      local where = ("trial %d (k=%d, +%.0f ms, seed %d)"):format(trial, k, extra * 1000, seed)
      assert.is_not_nil(status, where .. ": no exit status\n" .. read(out))
      if status == "137" then killed_trials = killed_trials + 1
      else assert.are.equal("0", status, where .. ": the run failed before the kill\n" .. read(out)) end
      -- was a payment left between its intent and its outcome?
      local open = peek(path, "SELECT key FROM journal_state WHERE step = 'pay' AND last_phase = 'intent'")
      if open and #open > 0 then uncertain_trials = uncertain_trials + 1 end
      env.control("POST", "latency", { ms = 0 })
      local resumed, code = env.run(command(path))
      assert.are.equal(0, code, where .. ": " .. resumed)
      local counts, total = ledger_counts()
      assert.are.equal(N, total, ("%s: %d payments for %d participants\n%s"):format(where, total, N, resumed))
      for sub, c in pairs(counts) do
        assert.are.equal(1, c, ("%s: %s paid %d times"):format(where, sub, c))
      end
      -- and the journal knows every step settled
      assert.are.same({}, peek(path, "SELECT key, step FROM journal_state WHERE last_phase = 'intent'"), where)
      remove_store(path)
      os.remove(out)
    end
    -- the kills did cut runs short, and some of them between a payment and its record
    if os.getenv("COHORT_SPEC_VERBOSE") then
      print(("\n%d trials, %d killed, %d between a payment and its outcome"):format(TRIALS, killed_trials, uncertain_trials))
    end
    assert.is_true(killed_trials >= math.floor(TRIALS * 2 / 3), ("only %d of %d runs were killed"):format(killed_trials, TRIALS))
    assert.is_true(uncertain_trials >= (TRIALS >= 30 and 3 or 1),
      ("only %d trials stopped between a payment and its outcome"):format(uncertain_trials))
  end)

  it("SIGKILL at any instant of a concurrent reject_all, then resume: each submission transitioned exactly once", function()
    local N, CONC = 20, 4        -- 5 waves of 4; an intent and an outcome each: 40 journal rows
    local ROWS = 2 * N
    local TRIALS = os.getenv("COHORT_SLOW") and 12 or 30
    local seed = os.time()
    math.randomseed(seed)
    local sb = env.sandbox()
    env.reset()
    local pending = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    assert.is_true(#pending >= N)
    local ids_file = os.tmpname()
    local f = assert(io.open(ids_file, "w"))
    local wanted = {}
    for i = 1, N do
      f:write(pending[i].id, "\n")
      wanted[pending[i].id] = true
    end
    f:close()
    local function command(path)
      return ("%s spec/support/reject_run.lua %s %s %s %s %d"):format(q(LUA), q(sb.url), q(sb.token),
        q(path), q(ids_file), CONC)
    end
    -- how long a whole run takes here, start-up included
    env.reset()
    env.control("POST", "latency", { ms = 15 })
    local path0, out0 = journal_path(), os.tmpname()
    local t0 = core.monotime()
    local _, h0 = spawn(command(path0), out0)
    h0:close()
    local whole = core.monotime() - t0
    assert.matches("done rejected=" .. N, read(out0))
    remove_store(path0)
    os.remove(out0)
    local uncertain_trials, killed_trials = 0, 0
    for trial = 1, TRIALS do
      env.reset()
      env.control("POST", "latency", { ms = 15 }) -- a window between each request and its record
      local path, out = journal_path(), os.tmpname()
      -- odd trials: kill at a random instant of the whole run's time; even ones: when the journal
      -- has k rows (spread over 0 … 40, whatever the speed of the machine), then after a random
      -- further 0-12 ms — inside the requests of a wave, or inside a commit
      local k = trial % 2 == 0 and math.floor((trial - 1) * (ROWS + 1) / TRIALS) or nil
      local extra = k and math.random(0, 12) / 1000 or math.random() * whole
      local pid, h = spawn(command(path), out)
      local deadline = core.monotime() + 60
      while k and journal_rows(path) < k and not read(out):find("exit=") and core.monotime() < deadline do
        core.sleep(0.001)
      end
      core.sleep(extra)
      compat.execute("kill -9 " .. pid .. " 2>/dev/null")
      h:close()
      local status = read(out):match("exit=(%d+)")
      local where = ("trial %d (%s, +%.0f ms, seed %d)"):format(trial, k and ("k=" .. k) or "at random",
        extra * 1000, seed)
      assert.is_not_nil(status, where .. ": no exit status\n" .. read(out))
      if status == "137" then killed_trials = killed_trials + 1
      else assert.are.equal("0", status, where .. ": the run failed before the kill\n" .. read(out)) end
      local open = peek(path, "SELECT key FROM journal_state WHERE step = 'reject' AND last_phase = 'intent'")
      if open and #open > 0 then uncertain_trials = uncertain_trials + 1 end
      env.control("POST", "latency", { ms = 0 })
      local resumed, code = env.run(command(path))
      assert.are.equal(0, code, where .. ": " .. resumed)
      -- the sandbox's request log over both runs: one transition request for each submission,
      -- answered 200, and none for any other
      local sent = {}
      for _, r in ipairs(env.requests()) do
        local id = r.method == "POST" and r.path:match("^/api/v1/submissions/(%x+)/transition/$")
        if id then
          assert.is_true(wanted[id] ~= nil, where .. ": a transition of " .. id)
          assert.are.equal(200, r.status, where .. ": " .. id .. " answered " .. tostring(r.status))
          sent[id] = (sent[id] or 0) + 1
        end
      end
      for id in pairs(wanted) do
        assert.are.equal(1, sent[id], ("%s: %s transitioned %s times\n%s"):format(where, id, tostring(sent[id]), resumed))
      end
      for _, s in ipairs(assert(p.submissions:all { study = STUDY, status = "REJECTED" })) do
        if wanted[s.id] then wanted[s.id] = false end
      end
      for id, v in pairs(wanted) do
        assert.is_false(v, where .. ": " .. id .. " is not REJECTED")
        wanted[id] = true
      end
      -- every rejection has one outcome, done, and none is left open; a run records a step's
      -- intent once (a resumed run records it again only when the server shows it not done)
      assert.are.same({}, peek(path, "SELECT key, step FROM journal_state WHERE last_phase = 'intent'"), where)
      assert.are.same({ { n = N, done = N } }, peek(path,
        "SELECT count(DISTINCT key) AS n, sum(ok) AS done FROM journal WHERE phase = 'outcome'"), where)
      assert.are.same({}, peek(path, "SELECT key, phase, count(*) AS n FROM journal WHERE phase = 'outcome' "
        .. "GROUP BY key HAVING n > 1"), where)
      assert.are.same({}, peek(path, "SELECT key, run, count(*) AS n FROM journal WHERE phase = 'intent' "
        .. "GROUP BY key, run HAVING n > 1"), where)
      remove_store(path)
      os.remove(out)
    end
    os.remove(ids_file)
    if os.getenv("COHORT_SPEC_VERBOSE") then
      print(("\n%d trials, %d killed, %d between a rejection and its outcome"):format(TRIALS, killed_trials, uncertain_trials))
    end
    assert.is_true(killed_trials >= math.floor(TRIALS * 2 / 3), ("only %d of %d runs were killed"):format(killed_trials, TRIALS))
    assert.is_true(uncertain_trials >= (TRIALS >= 30 and 3 or 1),
      ("only %d trials stopped between a rejection and its outcome"):format(uncertain_trials))
  end)

  it("two runs on one journal at once: the second is refused at once, naming the first, and pays nothing", function()
    local N, SIZE = 12, 3
    local sb = env.sandbox()
    local path, out = journal_path(), os.tmpname()
    local function command()
      return ("%s spec/support/bonus_run.lua %s %s %s %d %d"):format(q(LUA), q(sb.url), q(sb.token),
        q(path), N, SIZE)
    end
    env.control("POST", "latency", { ms = 60 }) -- the first run takes half a second or more
    local pid, h = spawn(command(), out)
    local deadline = core.monotime() + 60
    while journal_rows(path) < 1 and core.monotime() < deadline do core.sleep(0.002) end
    assert.is_true(journal_rows(path) >= 1, "the first run did not start: " .. read(out))
    local second, code = env.run(command())
    local first_done = read(out):find("exit=") ~= nil
    h:close()
    assert.is_false(first_done, "the second run waited for the first to end")
    assert.are_not.equal(0, code)
    assert.matches("p.bonuses:pay_all(): journal " .. path .. " is in use by pid " .. pid, second, 1, true)
    assert.matches("running p.bonuses:pay_all() (spec/support/bonus_run.lua)", second, 1, true)
    assert.matches("exit=0", read(out), 1, true)
    local counts, total = ledger_counts()
    assert.are.equal(N, total)
    for sub, c in pairs(counts) do assert.are.equal(1, c, sub) end
    local posts = 0
    for _, r in ipairs(env.requests()) do
      if r.method == "POST" and r.path:find("bonus") then posts = posts + 1 end
    end
    assert.are.equal(2 * N / SIZE, posts) -- the first run's setups and payments, nothing more
    remove_store(path)
    os.remove(out)
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
    remove_store(path)
  end)

  it("reject_all with concurrency: a refusal stops new rejections, those in flight are recorded, a re-run does the rest once", function()
    local path = journal_path()
    local MSG = ("Your answers did not follow the instructions of the study, so we cannot approve it. "):rep(2)
    local pending = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local done_before = assert(p.submissions:all { study = STUDY, status = "REJECTED" })[1]
    local items = {}
    for i = 1, 16 do items[#items + 1] = { id = pending[i].id, category = "LOW_EFFORT", message = MSG } end
    table.insert(items, 3, { id = done_before.id, category = "LOW_EFFORT", message = MSG }) -- refused: 400
    for _, bad in ipairs { 0, 65, 2.5, "8" } do
      local ok, msg = pcall(p.submissions.reject_all, p.submissions, { items = items, concurrency = bad })
      assert.is_false(ok)
      assert.matches("cohort: p.submissions:reject_all(): concurrency must be an integer from 1 to 64 (got "
        .. (type(bad) == "string" and '"8"' or tostring(bad)), tostring(msg), 1, true)
    end
    env.control("DELETE", "requests")
    env.control("POST", "latency", { ms = 30 })
    local run, err = p.submissions:reject_all { items = items, journal = path, concurrency = 4 }
    assert.is_nil(run)
    assert.are.equal(400, err.status)
    local sent = 0
    for _, r in ipairs(env.requests()) do
      if r.method == "POST" and r.path:find("/transition/$") then sent = sent + 1 end
    end
    assert.is_true(sent < #items, ("%d of %d sent after the refusal"):format(sent, #items))
    -- nothing left open: each step sent has its outcome, the refusal is recorded as one
    assert.are.same({}, peek(path, "SELECT key FROM journal_state WHERE last_phase = 'intent'"))
    assert.are.same({ { ok = 0 } }, peek(path, "SELECT ok FROM journal_state WHERE key = 'reject:" .. done_before.id .. "'"))
    -- the same call without the refused item: what was done is skipped, the rest done once
    table.remove(items, 3)
    env.control("DELETE", "requests")
    run = assert(p.submissions:reject_all { items = items, journal = path, concurrency = 4 })
    assert.are.equal(16, run.rejected + run.skipped)
    assert.are.equal(sent - 1, run.skipped) -- those sent before, less the refused one
    local again = {}
    for _, r in ipairs(env.requests()) do
      local id = r.method == "POST" and r.path:match("^/api/v1/submissions/(%x+)/transition/$")
      if id then
        assert.is_nil(again[id], id .. " sent twice")
        assert.are.equal(200, r.status)
        again[id] = true
      end
    end
    local rejected = {}
    for _, s in ipairs(assert(p.submissions:all { study = STUDY, status = "REJECTED" })) do rejected[s.id] = true end
    for _, item in ipairs(items) do assert.is_true(rejected[item.id], item.id) end
    remove_store(path)
  end)

  it("a new attempt after a definite refusal is uncertain again until its outcome", function()
    local journal = require "cohort.workbench.journal"
    local path = journal_path()
    local j = assert(journal.open(path, "spec"))
    j:begin("k", "pay", { batch_id = "b" })
    j:finish("k", "pay", { ok = false, error = "HTTP 402" })
    assert.is_false(j:uncertain("k", "pay"))
    assert.is_false(j:outcome("k", "pay").ok)
    j:begin("k", "pay", { batch_id = "b" }) -- tried again: the refusal no longer says what happened
    assert.is_true(j:uncertain("k", "pay"))
    j:close()
    j = assert(journal.open(path, "spec"))
    assert.is_true(j:uncertain("k", "pay"))
    assert.are.equal("b", j:intent("k", "pay").batch_id)
    j:finish("k", "pay", { ok = true })
    j:close()
    j = assert(journal.open(path, "spec"))
    assert.is_true(j:outcome("k", "pay").ok)
    assert.is_false(j:uncertain("k", "pay"))
    j:close()
    assert.has_error(function() j:begin("k", "pay") end, "cohort: cohort.Journal:begin(): the journal is closed")
    remove_store(path)
  end)

  it("a group records its steps together, or nothing of them when it fails", function()
    local journal = require "cohort.workbench.journal"
    local path = journal_path()
    local j = assert(journal.open(path, "spec"))
    assert.are.equal("sent", j:group(function(g)
      for i = 1, 3 do g:begin("wave:" .. i, "approve", { count = i }) end
      return "sent"
    end))
    assert.is_true(j:uncertain("wave:2", "approve"))
    assert.has_error(function()
      j:group(function(g)
        g:finish("wave:1", "approve", { ok = true })
        g:begin("wave:4", "approve")
        error("no room on the disk", 0)
      end)
    end, "no room on the disk")
    -- nothing of the failed group, neither in this object nor in the file
    assert.is_true(j:uncertain("wave:1", "approve"))
    assert.is_nil(j:intent("wave:4", "approve"))
    assert.are.equal(3, #j.order)
    assert.has_error(function() j:group(function(g) g:group(function() end) end) end,
      "cohort: cohort.Journal:group(): groups do not nest")
    j:close()
    assert.are.same({ { n = 3 } }, peek(path, "SELECT count(*) AS n FROM journal"))
    j = assert(journal.open(path, "spec"))
    assert.is_true(j:uncertain("wave:1", "approve"))
    assert.is_nil(j:intent("wave:4", "approve"))
    j:close()
    remove_store(path)
  end)

  it("a journal that cannot be written raises before the step is sent", function()
    local journal = require "cohort.workbench.journal"
    local path = journal_path()
    local j = assert(journal.open(path, "spec"))
    j.store.db:exec("PRAGMA query_only = ON") -- as a full disk or a read-only file would
    local ok, err = pcall(j.begin, j, "k", "pay", { batch_id = "b" })
    assert.is_false(ok)
    assert.are.equal("io", err.kind)
    assert.matches("spec: journal " .. path .. " failed (SQLITE_READONLY)", tostring(err), 1, true)
    assert.is_nil(j:intent("k", "pay"))
    j:close()
    remove_store(path)
  end)
end)
