--- The journal of money and bulk actions, in the study's store: intent before, outcome after.
--
-- Bonus payments and bulk approvals or rejections accept `{journal = "cohort-<study>.sqlite"}`
-- (a store file, see `cohort.workbench.store`), or `{journal = true}` when the call names its
-- study: the study's default store, `cohort-<study id>.sqlite` in the current directory (or in
-- `$COHORT_STORE_DIR`). Each step commits a row *before* it is sent (`intent`) and another
-- *after* its answer (`outcome`), each its own transaction, synced to disk (WAL,
-- `synchronous = FULL`). Running the same work again with the same journal — after a crash, a
-- kill, a power cut at any point — skips every step whose outcome is recorded, checks with the
-- server what became of a step whose intent is recorded without an outcome (it may or may not
-- have happened), and does the rest. Nothing is paid or transitioned twice.
--
-- Steps are named by a key derived from their content (the study, the batch's rows), so the
-- same input gives the same keys on every run. The rows, as `sqlite3` shows them:
--
--     seq|run|key|step|phase|ok|at|data
--     1|1|bonus:60ac…:1:3f2a…|setup|intent||2026-11-23T10:15:02.123Z|{"study":"60ac…","rows":3}
--     2|1|bonus:60ac…:1:3f2a…|setup|outcome|1|2026-11-23T10:15:02.140Z|{"batch_id":"6a5b…"}
--
-- One run holds a journal at a time: a second process is refused at once with an error naming
-- the holder, and a damaged or foreign file is refused, never read as "nothing done yet"
-- (see `cohort.workbench.store`).
-- @module cohort.workbench.journal
local core = require "cohort.core"
local compat = require "cohort.compat"
local Store = require "cohort.workbench.store"
local util = require "cohort.util"

local M = {}

--- The journal's tables in the store (owner `"journal"`), by version.
M.VERSION = 1
M.STEPS = {
  {
    [[CREATE TABLE journal_runs (
        id      INTEGER PRIMARY KEY,
        label   TEXT NOT NULL,
        pid     INTEGER NOT NULL,
        host    TEXT NOT NULL,
        script  TEXT,
        started TEXT NOT NULL,
        ended   TEXT)]],
    [[CREATE TABLE journal (
        seq   INTEGER PRIMARY KEY,
        run   INTEGER NOT NULL REFERENCES journal_runs (id),
        key   TEXT NOT NULL,
        step  TEXT NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('intent', 'outcome')),
        ok    INTEGER CHECK (ok IN (0, 1)),
        at    TEXT NOT NULL,
        data  TEXT NOT NULL CHECK (json_valid(data)))]],
    "CREATE INDEX journal_by_step ON journal (key, step, seq)",
    [[CREATE VIEW journal_state AS
        SELECT j.key, j.step, j.phase AS last_phase, j.ok, j.at, j.run, j.data
        FROM journal AS j
        WHERE j.seq = (SELECT max(seq) FROM journal WHERE key = j.key AND step = j.step)]],
  },
}

local NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

local Journal = { __name = "cohort.Journal" }
Journal.__index = Journal

local function slot(key, step) return key .. "\0" .. step end

-- Fill the journal's view of what is recorded: the last intent of each step, and its outcome
-- when one was recorded after it (a new intent starts a new attempt).
local function note(j, rec)
  local k = slot(rec.key, rec.step)
  if j.undo then -- inside a group: how to forget this record if the group is rolled back
    j.undo[#j.undo + 1] = { k = k, intent = j.intents[k], outcome = j.outcomes[k], order = #j.order }
  end
  if rec.phase == "intent" then
    if j.intents[k] == nil then j.order[#j.order + 1] = k end
    j.intents[k] = rec
    j.outcomes[k] = nil
  else
    j.outcomes[k] = rec
  end
end

local function record_of(row)
  local ok, rec = pcall(core.decode, row.data)
  if not ok or type(rec) ~= "table" then rec = {} end
  rec.key, rec.step, rec.phase, rec.time, rec.seq, rec.run = row.key, row.step, row.phase,
    row.time, row.seq, row.run
  if row.ok ~= nil then rec.ok = row.ok == 1 end
  return rec
end

--- Open (or create) the journal in the store at `path` and read what it records.
-- @tparam string path the store file
-- @tparam[opt] string label the method the caller called, named in errors and in the holder
--   record (default `"cohort.journal.open()"`)
-- @tparam[opt] table opts `create` (default true; false: a missing file is an error of code
--   `NOT_FOUND`), `study` (recorded in a new store)
-- @treturn[1] Journal
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"io"` with `code` (`LOCKED`, `OPEN_HERE`, `EMPTY`,
--   `NOT_SQLITE`, `OLD_JOURNAL`, `FOREIGN`, `TRUNCATED`, `CORRUPT`, `DIRECTORY`, …)
function M.open(path, label, opts)
  label = label or "cohort.journal.open()"
  opts = opts or {}
  if type(path) ~= "string" or path == "" then
    util.misuse(label, "the journal must be a file path")
  end
  local store, err = Store.open(path, { label = label, what = "journal", study = opts.study,
    create = opts.create })
  if not store then return nil, err end
  local j = setmetatable({ path = path, label = label, store = store, intents = {},
    outcomes = {}, order = {} }, Journal)
  local _, e = store:ensure("journal", M.VERSION, M.STEPS)
  if e then store:close(); return nil, e end
  local rows
  rows, e = store:rows("SELECT seq, run, key, step, phase, ok, "
    .. "CAST(strftime('%s', at) AS INTEGER) AS time, data FROM journal ORDER BY seq")
  if not rows then store:close(); return nil, e end
  for _, row in ipairs(rows) do note(j, record_of(row)) end
  return j
end

-- The run row: written with the first record, so a journal only read leaves no run behind.
local function run_id(j)
  if j.run then return j.run end
  local info = j.store.db:info()
  local script = type(rawget(_G, "arg")) == "table" and type(arg[0]) == "string" and arg[0] or nil
  local rows, err = j.store:rows("INSERT INTO journal_runs (label, pid, host, script, started) "
    .. "VALUES (?, ?, ?, ?, " .. NOW .. ") RETURNING id", j.label, info.pid, info.host, script)
  if not rows then error(err, 0) end
  j.run = rows[1].id
  return j.run
end

local function append(j, method, key, step, phase, data)
  local label = ("cohort.Journal:%s()"):format(method)
  if j.store == nil then util.misuse(label, "the journal is closed") end
  if type(key) ~= "string" or key == "" then util.misuse(label, "key must be a non-empty string") end
  if type(step) ~= "string" or step == "" then util.misuse(label, "step must be a non-empty string") end
  if data ~= nil and type(data) ~= "table" then util.misuse(label, "data must be a table") end
  local fields, ok = {}, nil
  for k, v in pairs(data or {}) do
    if k == "ok" and type(v) == "boolean" then ok = v
    elseif k ~= "key" and k ~= "step" and k ~= "phase" and k ~= "time" and k ~= "seq" and k ~= "run" then
      fields[k] = v
    end
  end
  local fine, text = pcall(core.encode, fields)
  if not fine then util.misuse(label, "data must be JSON-encodable: %s", tostring(text)) end
  if next(fields) == nil then text = "{}" end
  local ok_column = nil
  if ok ~= nil then ok_column = ok and 1 or 0 end
  local function insert()
    local rows, err = j.store:rows("INSERT INTO journal (run, key, step, phase, ok, at, data) "
      .. "VALUES (?, ?, ?, ?, ?, " .. NOW .. ", ?) RETURNING seq, CAST(strftime('%s', at) AS INTEGER) AS time",
      run_id(j), key, step, phase, ok_column, text)
    if not rows then error(err, 0) end -- nothing is sent after an intent that is not on disk
    return rows[1]
  end
  local row
  if j.run == nil and not j.store.db:in_transaction() then
    -- the run's row and its first record: one transaction, one sync
    local fine, res, terr = pcall(j.store.transaction, j.store, insert)
    if not fine or res == nil then
      j.run = nil
      error(fine and terr or res, 0)
    end
    row = res
  else
    row = insert() -- autocommit: a transaction of its own; in a group, part of the group's
  end
  local rec = {}
  for k, v in pairs(fields) do rec[k] = v end
  rec.key, rec.step, rec.phase, rec.ok, rec.time, rec.seq, rec.run = key, step, phase, ok,
    row.time, row.seq, j.run
  note(j, rec)
  return rec
end

--- The recorded outcome of a step's last attempt, if any.
-- @tparam string key
-- @tparam string step
-- @treturn table|nil the record (its data fields and `key`, `step`, `phase`, `ok`, `time`, `seq`)
function Journal:outcome(key, step)
  return self.outcomes[slot(key, step)]
end

--- The recorded intent of a step's last attempt, if any.
-- @tparam string key
-- @tparam string step
-- @treturn table|nil
function Journal:intent(key, step)
  return self.intents[slot(key, step)]
end

--- Is the step begun but not finished (intent without outcome)? Then it may have happened.
-- @tparam string key
-- @tparam string step
-- @treturn boolean
function Journal:uncertain(key, step)
  return self:intent(key, step) ~= nil and self:outcome(key, step) == nil
end

--- Record the intent of a step, committed before this returns: call it before sending the
-- step. A new intent starts a new attempt (an earlier outcome of the step no longer counts).
-- Raises a `cohort.Error` (kind `"io"`) when it cannot be recorded, so nothing is sent.
-- @tparam string key
-- @tparam string step
-- @tparam[opt] table data JSON-encodable details, kept with the record
-- @treturn table the record
function Journal:begin(key, step, data)
  return append(self, "begin", key, step, "intent", data)
end

--- Record the outcome of a step (after its answer), committed before this returns. `data.ok`
-- (true: done, false: definitely refused) is kept in the `ok` column.
-- @tparam string key
-- @tparam string step
-- @tparam[opt] table data
-- @treturn table the record
function Journal:finish(key, step, data)
  return append(self, "finish", key, step, "outcome", data)
end

--- Record several steps in one transaction — one sync to disk instead of one per record, for
-- work that sends many steps at once. `fn(journal)` calls `begin` and `finish` as usual; what
-- they record is on disk together when `group` returns, and not before: send nothing that an
-- intent of the group covers until then (outcomes may be grouped freely — one not yet on disk
-- only leaves its step to be checked on resume). Make no network call inside `fn`. If `fn`
-- raises, or the commit fails, nothing of the group is recorded (in the file or in this
-- object) and the error is raised.
--
--     j:group(function()
--       for _, b in ipairs(wave) do j:begin(b.key, "approve", { count = #b.ids }) end
--     end)   -- now send the wave
--
-- @tparam function fn
-- @return what `fn` returned
function Journal:group(fn)
  local label = "cohort.Journal:group()"
  if self.store == nil then util.misuse(label, "the journal is closed") end
  if type(fn) ~= "function" then util.misuse(label, "expected a function") end
  if self.undo then util.misuse(label, "groups do not nest") end
  self.undo = { run = self.run }
  local fine, res, err = pcall(self.store.transaction, self.store, function()
    return compat.pack(fn(self))
  end)
  local undo = self.undo
  self.undo = nil
  if fine and res then return compat.unpack(res, 1, res.n) end
  for i = #undo, 1, -1 do -- forget, newest first, what the rolled-back group noted
    local u = undo[i]
    self.intents[u.k], self.outcomes[u.k] = u.intent, u.outcome
    for o = #self.order, u.order + 1, -1 do self.order[o] = nil end
  end
  self.run = undo.run
  error(fine and err or res, 0)
end

--- Close the journal: its run is marked ended and the store released. Idempotent.
function Journal:close()
  local store = self.store
  if store == nil then return end
  self.store = nil
  if self.run and store.db then
    pcall(store.run, store, "UPDATE journal_runs SET ended = " .. NOW .. " WHERE id = ?", self.run)
  end
  store:close()
end
Journal.__close = Journal.close
Journal.__gc = Journal.close

--- `cohort.Journal cohort-60ac….sqlite (12 steps)`
function Journal:__tostring()
  local n = 0
  for _ in pairs(self.intents) do n = n + 1 end
  return ("cohort.Journal %s (%d steps%s)"):format(self.path, n, self.store and "" or ", closed")
end

--- A short, stable digest of a text (hex), for step keys.
-- @tparam string text
-- @treturn string 16 hex digits
function M.digest(text)
  return (core.hmac_sha256("cohort.workbench.journal", text):gsub(".", function(c)
    return ("%02x"):format(c:byte())
  end)):sub(1, 16)
end

--- Is this error a definite refusal — the step did not happen (a 4xx other than 408 and 429) —
-- rather than a failure that leaves it unknown (time-out, reset, 5xx)? Only a definite refusal
-- is recorded as an outcome; an unknown one stays open for the next run to check.
-- @tparam cohort.Error err
-- @treturn boolean
function M.definite(err)
  return err.kind == "http" and type(err.status) == "number" and err.status >= 400
    and err.status < 500 and err.status ~= 408 and err.status ~= 429
end

--- Open the journal named in `opts.journal` for the method `label`, or return nil when there
-- is none. `journal = true` is the study's default store (`opts.study` must name it). A journal
-- that cannot be opened — held by another run, damaged, foreign — raises its `cohort.Error`
-- (kind `"io"`, `code` as for `open`), before anything is sent.
-- @tparam string label the method, e.g. `"p.bonuses:pay_all()"`
-- @tparam table opts the method's arguments
-- @treturn Journal|nil
function M.from_opts(label, opts)
  if opts == nil or opts.journal == nil or opts.journal == false then return nil end
  local path = opts.journal
  local study = opts.study
  if type(study) == "table" then study = study.id end
  if path == true then
    if type(study) ~= "string" then
      util.misuse(label, "journal = true needs study = <id> (the study's store, cohort-<study id>.sqlite); "
        .. "or give journal a file path")
    end
    util.check_id(label, "study", study)
    path = Store.default_path(study)
  elseif type(path) ~= "string" or path == "" then
    util.misuse(label, "journal must be a file path (or true: the study's cohort-<study id>.sqlite)")
  end
  local j, err = M.open(path, label, { study = type(study) == "string" and study or nil })
  if not j then error(err, 0) end
  return j
end

return M
