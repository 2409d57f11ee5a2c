-- Latency case (issue #13 point 9): the bulk jobs against a sandbox that answers every platform
-- request BENCH_LATENCY_MS late (default 150, POST /__sandbox/latency), each measured against
-- its latency bound and against a plain loop of single calls doing the same work.
--
--   lua latency.lua DIR
--
-- DIR holds the seed and the journals (on the disk the run measures: a journal record is a
-- sync to disk). The sandbox is started with a seed holding one study of 1,100 submissions
-- AWAITING REVIEW, pinned with `taskset` to the CPU in BENCH_SERVER_CPU when set; the sandbox
-- is reset before every run. The jobs:
--   approve  p.submissions:approve_all{ids = 1,000}          (bulk approve: 1 request)
--   pay      p.bonuses:pay_all{bonuses = 1,000 rows}         (5 set-ups + 5 payments of 200)
--   reject   p.submissions:reject_all{items = 100, concurrency = 8}   (100 transitions)
-- each BENCH_REPEATS times (default 5) with a journal (a new store each run, made before the
-- timed part, as a study's store is made once by its first job) and as many times without one,
-- after one warm-up run of each that is not timed. The requests a run made are counted twice: in the sandbox's request log
-- (GET /__sandbox/requests?path_prefix=/api/, every attempt the server saw) and by the client's
-- debug hook (a line per call). The loops, once each, on a sample of the items (the whole job
-- at this latency would take minutes; the sample's time is scaled to the whole count):
--   approve  sub:approve()                                    first 50 of 1,000
--   pay      p.bonuses:setup{…one row…} then batch:pay()       first 25 of 1,000 (2 requests a row)
--   reject   sub:reject{message =, category =}                all 100
-- BENCH_SEQ_SAMPLE caps every sample (a quick run). Prints, for bench/driver.lua:
--   latency_ms <ms>
--   record_ms <median ms of one journal record (a transaction of its own) on DIR's disk>
--   store_ms <median ms of making a new store: open and close a file that did not exist>
--   bulk <job> <journal 0|1> <seconds> <requests in the log> <requests seen by the hook> <concurrency>
--   seq <job> <items in the sample> <items in the job> <seconds> <requests in the log>
local DIR = assert(arg[1], "usage: latency.lua DIR")
local CPU = os.getenv("BENCH_SERVER_CPU")
if CPU == "" then CPU = nil end
local R = math.tointeger(tonumber(os.getenv("BENCH_REPEATS") or "5")) or 5
local LATENCY = math.tointeger(tonumber(os.getenv("BENCH_LATENCY_MS") or "150")) or 150
local CAP = math.tointeger(tonumber(os.getenv("BENCH_SEQ_SAMPLE") or ""))
local core = require "cohort.core"
local data = require "cohort.sandbox.data"

local STUDY = "60aca280709ee40ec37d4889"
local N_APPROVE, N_PAY, N_REJECT, CONC = 1000, 1000, 100, 8
local SAMPLE = { approve = 50, pay = 25, reject = 100 }
if CAP then for k, v in pairs(SAMPLE) do SAMPLE[k] = math.min(v, CAP) end end
local MESSAGE = ("Your answers did not follow the instructions of the study, so we cannot approve it. "):rep(2)

-- The seed: the default dataset and one large study (a workspace that can pay for it all).
local d = data.default()
d.studies[#d.studies + 1] = { id = STUDY, name = "Bench study", internal_name = "bench",
  status = "ACTIVE", reward = 150, total_available_places = 1100, places_taken = 1100,
  estimated_completion_time = 10, project = d.projects[1].id,
  external_study_url = "https://example.org/bench" }
d.workspaces[1].balance, d.workspaces[1].available_balance = 1e9, 1e9
local ids = {}
for i = 1, N_APPROVE + N_REJECT do
  ids[i] = data.hexid("67700b2c", i)
  d.submissions[#d.submissions + 1] = { id = ids[i], study_id = STUDY,
    participant_id = data.hexid("61cf0a3d", i), status = "AWAITING REVIEW", reward = 150,
    started_at = "2024-05-01T10:00:00.000000Z", completed_at = "2024-05-01T10:10:00.000000Z",
    time_taken = 600, study_code = "C1A2B3C4", bonus_payments = {} }
end
local seed = DIR .. "/latency_seed.json"
local f = assert(io.open(seed, "w"))
f:write(core.encode(d))
f:close()

local sb = assert(require("cohort.sandbox").start { seed = seed, timeout = 60 })
if CPU then assert(os.execute(("taskset -a -pc %s %d >/dev/null"):format(CPU, sb.pid))) end
local calls = 0
local p = require("cohort").prolific { token = sb.token, base_url = sb.url, progress = false,
  debug = function() calls = calls + 1 end }
local ctl = require("cohort").prolific { token = sb.token, base_url = sb.url, progress = false }
local function control(method, path, body)
  return assert(ctl:send { method = method, path = "/__sandbox/" .. path, body = body })
end

local seq = 0
local function journal_path()
  seq = seq + 1
  return ("%s/latency-%d.sqlite"):format(DIR, seq)
end
local function remove_store(path)
  for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
end

-- The requests the server saw since the last reset (platform routes only), all answered 2xx.
local function requests()
  local log = control("GET", "requests?path_prefix=/api/")
  for _, r in ipairs(log.requests) do
    if r.status < 200 or r.status > 299 then
      error(("%s %s answered %d"):format(r.method, r.path, r.status), 0)
    end
  end
  return log.count
end

local function fresh(latency)
  control("POST", "reset")
  control("POST", "latency", { ms = latency })
  calls = 0
end

local items = {}
for i = 1, N_REJECT do
  items[i] = { id = ids[N_APPROVE + i], category = "FAILED_INSTRUCTIONS", message = MESSAGE }
end
local rows = {}
for i = 1, N_PAY do rows[i] = { ids[i], 0.5 } end
local approve_ids = { table.unpack(ids, 1, N_APPROVE) }

local JOBS = {
  { name = "approve", conc = 1, run = function(journal)
      local r = assert(p.submissions:approve_all { ids = approve_ids, journal = journal })
      assert(r.approved == N_APPROVE, "approve_all approved " .. r.approved)
    end },
  { name = "pay", conc = 1, run = function(journal)
      local r = assert(p.bonuses:pay_all { study = STUDY, bonuses = rows, journal = journal })
      assert(r.paid == N_PAY, "pay_all paid " .. r.paid)
      local ledger = control("GET", "ledger")
      assert(ledger.count == N_PAY, "the ledger holds " .. ledger.count .. " payments")
    end },
  { name = "reject", conc = CONC, run = function(journal)
      local r = assert(p.submissions:reject_all { items = items, journal = journal, concurrency = CONC })
      assert(r.rejected == N_REJECT, "reject_all rejected " .. r.rejected)
    end },
}

local journal = require "cohort.workbench.journal"
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- A journal record, a transaction of its own (as an intent or an outcome outside a group), and
-- the making of a new store (open and close a file that does not exist yet).
do
  local path = journal_path()
  local j = assert(journal.open(path, "bench"))
  local t = {}
  for i = 1, 101 do
    local t0 = core.monotime()
    j:begin("bench:" .. i, "record")
    if i > 1 then t[#t + 1] = core.monotime() - t0 end -- the first also writes the run's row
  end
  j:close()
  remove_store(path)
  local made = {}
  for _ = 1, 11 do
    path = journal_path()
    local t0 = core.monotime()
    assert(journal.open(path, "bench")):close()
    made[#made + 1] = core.monotime() - t0
    remove_store(path)
  end
  print(("latency_ms %d"):format(LATENCY))
  print(("record_ms %.3f"):format(median(t) * 1000))
  print(("store_ms %.3f"):format(median(made) * 1000))
end

-- The store of a timed run: made before the run, as a study's store is made by its first job.
local function store_path()
  local path = journal_path()
  assert(journal.open(path, "bench")):close()
  return path
end

-- A warm-up run of each job, not timed: modules loaded, connections open, SQLite started.
for _, job in ipairs(JOBS) do
  fresh(0)
  local path = journal_path()
  job.run(path)
  remove_store(path)
end

-- The bulk jobs, round-robin, with and without a journal.
for _ = 1, R do
  for _, job in ipairs(JOBS) do
    for _, with in ipairs { true, false } do
      fresh(LATENCY)
      local path = with and store_path() or nil
      local t0 = core.monotime()
      job.run(path)
      local dt = core.monotime() - t0
      local hook = calls
      control("POST", "latency", { ms = 0 })
      local n = requests()
      if path then remove_store(path) end
      print(("bulk %s %d %.4f %d %d %d"):format(job.name, with and 1 or 0, dt, n, hook, job.conc))
      io.stderr:write(("  %-8s %-10s %.3f s, %d requests\n"):format(job.name,
        with and "journal" or "no journal", dt, n))
    end
  end
end

-- The loops of single calls, on a sample.
do -- approve
  fresh(0)
  local subs, errors = p.submissions:get_many({ table.unpack(ids, 1, SAMPLE.approve) }, { concurrency = 16 })
  assert(errors.count == 0, "get_many failed")
  control("POST", "latency", { ms = LATENCY })
  control("DELETE", "requests")
  local t0 = core.monotime()
  for i = 1, SAMPLE.approve do assert(subs[i]:approve()) end
  local dt = core.monotime() - t0
  print(("seq approve %d %d %.4f %d"):format(SAMPLE.approve, N_APPROVE, dt, requests()))
  io.stderr:write(("  %-8s loop of %d: %.3f s\n"):format("approve", SAMPLE.approve, dt))
end
do -- bonuses
  fresh(LATENCY)
  control("DELETE", "requests")
  local t0 = core.monotime()
  for i = 1, SAMPLE.pay do
    local batch = assert(p.bonuses:setup { study = STUDY, bonuses = { rows[i] } })
    assert(batch:pay())
  end
  local dt = core.monotime() - t0
  print(("seq pay %d %d %.4f %d"):format(SAMPLE.pay, N_PAY, dt, requests()))
  io.stderr:write(("  %-8s loop of %d: %.3f s\n"):format("pay", SAMPLE.pay, dt))
end
do -- reject
  fresh(0)
  local want = {}
  for i = 1, SAMPLE.reject do want[i] = items[i].id end
  local subs, errors = p.submissions:get_many(want, { concurrency = 16 })
  assert(errors.count == 0, "get_many failed")
  control("POST", "latency", { ms = LATENCY })
  control("DELETE", "requests")
  local t0 = core.monotime()
  for i = 1, SAMPLE.reject do
    assert(subs[i]:reject { message = MESSAGE, category = "FAILED_INSTRUCTIONS" })
  end
  local dt = core.monotime() - t0
  print(("seq reject %d %d %.4f %d"):format(SAMPLE.reject, N_REJECT, dt, requests()))
  io.stderr:write(("  %-8s loop of %d: %.3f s\n"):format("reject", SAMPLE.reject, dt))
end

sb:stop()
os.remove(seed)
