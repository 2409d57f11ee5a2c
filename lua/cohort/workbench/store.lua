--- The store: one SQLite file a study for what must not be lost.
--
-- The journal of money and bulk actions lives here, and later the event stream and the mirror
-- of a study: each module owns its tables in the same file and declares them through
-- `Store:ensure`. The file is an ordinary SQLite database (WAL mode, `synchronous = FULL`,
-- foreign keys on, a transaction per step) that the `sqlite3` tool reads; its tables are
-- described in docs/workbench.md.
--
--     local Store = require "cohort.workbench.store"
--     local s = assert(Store.open(nil, { study = study.id }))    -- ./cohort-<study id>.sqlite
--     assert(s:ensure("notes", 1, { { "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)" } }))
--     assert(s:run("INSERT INTO notes (text) VALUES (?)", "pilot done"))
--     for _, row in ipairs(assert(s:rows("SELECT * FROM notes"))) do print(row.id, row.text) end
--     s:close()
--
-- **One holder.** A read-write store is held by one process at a time (a kernel lock that
-- dies with the process: a killed run never leaves it locked). A second process is refused at
-- once with an error naming the holder — pid, host, since when, what it runs; a second
-- read-write open in the same process is refused too. Read-only opens (`readonly = true`) take
-- no lock and may run beside the holder.
--
-- **Never a damaged file taken for an empty one.** Opening checks the SQLite header, cohort's
-- application id, the file's length against its header and SQLite's `quick_check`: an emptied,
-- cut, overwritten or foreign file, a directory, or a JSON-lines journal of an earlier cohort is
-- refused with an error that says which, and is never written to.
--
-- Failures return `nil, err`: a `cohort.Error` of kind `"io"` whose `code` says what happened —
-- `LOCKED` (another process holds the store; `err.holder` = `{pid, host, since, label,
-- script}` when it has said), `OPEN_HERE` (this process holds it), `NOT_FOUND`, `DIRECTORY`,
-- `NOT_REGULAR`, `EMPTY`, `NOT_SQLITE`, `OLD_JOURNAL`, `FOREIGN`, `TRUNCATED`, `CORRUPT`,
-- `NEWER` (written by a newer cohort), `IO` (the file system; `err.errno`), or SQLite's own
-- result code (`SQLITE_FULL`, `SQLITE_BUSY`, `SQLITE_CONSTRAINT` …). The message names the
-- method the caller called and the file.
-- @module cohort.workbench.store
local core = require "cohort.core"
local Error = require "cohort.error"
local compat = require "cohort.compat"

local M = {}

--- `PRAGMA application_id` of every cohort store: "coho".
M.APPLICATION_ID = 0x636F686F

--- `PRAGMA user_version`: the layout of the store's own tables (cohort_meta, cohort_owners,
-- cohort_holder). A file with a higher number was written by a newer cohort and is refused.
M.LAYOUT = 1

local LAYOUT_SQL = {
  "PRAGMA user_version = 1",
  [[CREATE TABLE cohort_meta (
      key   TEXT PRIMARY KEY NOT NULL,
      value TEXT NOT NULL)]],
  [[CREATE TABLE cohort_owners (
      owner      TEXT PRIMARY KEY NOT NULL,
      version    INTEGER NOT NULL CHECK (version >= 1),
      updated_at TEXT NOT NULL)]],
  [[CREATE TABLE cohort_holder (
      id    INTEGER PRIMARY KEY CHECK (id = 1),
      pid   INTEGER NOT NULL,
      host  TEXT NOT NULL,
      since TEXT NOT NULL,
      label TEXT NOT NULL,
      script TEXT)]],
}

local NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

local Store = { __name = "cohort.Store" }
Store.__index = Store
M.Store = Store

local function quote(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

local function misuse(label, fmt, ...)
  require("cohort.util").misuse(label, fmt, ...)
end

-- A cohort.Error for the store at `path` as `label` sees it.
local function store_error(label, what, path, e, extra)
  local err = Error.new { kind = "io", title = "Store error", code = e.code,
    message = ("%s: %s %s %s"):format(label, what, path, e.message), path = path,
    errno = e.errno, sqlite = e.sqlite }
  for k, v in pairs(extra or {}) do err[k] = v end
  return err
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- The default file of a study's store: `cohort-<study id>.sqlite` in `dir`, else in
-- `$COHORT_STORE_DIR`, else in the current directory.
-- @tparam string study a study id
-- @tparam[opt] string dir
-- @treturn string path
function M.default_path(study, dir)
  local label = "cohort.store.default_path()"
  if type(study) == "table" then study = study.id end
  if not core.is_id(study) or study:find("[/\\]") or study:sub(1, 1) == "." then
    misuse(label, "study must be a study id (got %s)", type(study) == "string" and ("%q"):format(study) or type(study))
  end
  dir = dir or os.getenv("COHORT_STORE_DIR")
  if dir ~= nil and (type(dir) ~= "string" or dir == "") then
    misuse(label, "dir must be a directory path")
  end
  local name = "cohort-" .. study .. ".sqlite"
  if dir == nil then return name end
  return (dir:gsub("/+$", "")) .. "/" .. name
end

local OPEN_OPTIONS = { label = true, what = true, readonly = true, study = true, check = true,
  create = true, dir = true, busy_timeout = true }

-- Who holds the store at `path` (read without the lock), or nil.
local function read_holder(path)
  local db = core.store_open(path, { application_id = M.APPLICATION_ID, readonly = true,
    check = "none", busy_timeout = 100 })
  if not db then return nil end
  local rows = db:rows("SELECT pid, host, since, label, script FROM cohort_holder WHERE id = 1")
  db:close()
  return rows and rows[1]
end

local function holder_text(h)
  local text = ("pid %s on %s since %s, running %s"):format(tostring(h.pid), tostring(h.host),
    tostring(h.since), tostring(h.label))
  if h.script then text = text .. " (" .. tostring(h.script) .. ")" end
  return text
end

-- Finish opening: check the layout, set the connection's pragmas, record the holder.
local function prepare(s, label, what, path, opts)
  local db = s.db
  local function fail(code, message)
    db:close()
    return nil, store_error(label, what, path, { code = code, message = message })
  end
  local v = db:rows("PRAGMA user_version")
  v = v and v[1] and v[1].user_version
  if v == nil then return fail("CORRUPT", "is damaged (no layout version)") end
  if v > M.LAYOUT then
    return fail("NEWER", ("was written by a newer cohort (store layout %d; this cohort knows %d): "
      .. "use that cohort, or a newer one"):format(v, M.LAYOUT))
  end
  local format = db:rows("SELECT value FROM cohort_meta WHERE key = 'format'")
  if v < 1 or not format or not format[1] then
    return fail("CORRUPT", "is damaged (cohort's application id without cohort's tables)")
  end
  local pragmas = opts.readonly and { "PRAGMA foreign_keys = ON", "PRAGMA query_only = ON" }
    or { "PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL" }
  for _, sql in ipairs(pragmas) do
    local ok, e = db:exec(sql)
    if not ok then db:close(); return nil, store_error(label, what, path, e) end
  end
  if not opts.readonly then
    local mode, e = db:rows("PRAGMA journal_mode = WAL")
    if not mode then db:close(); return nil, store_error(label, what, path, e) end
    if mode[1] == nil or mode[1].journal_mode ~= "wal" then
      return fail("IO", "cannot use WAL mode (journal_mode " .. tostring(mode[1] and mode[1].journal_mode) .. ")")
    end
    local prev = db:rows("SELECT pid, host, since, label, script FROM cohort_holder WHERE id = 1")
    s.previous_holder = prev and prev[1] or nil
    local info = db:info()
    local script = type(rawget(_G, "arg")) == "table" and type(arg[0]) == "string" and arg[0] or nil
    local ok, herr = db:run("INSERT OR REPLACE INTO cohort_holder (id, pid, host, since, label, script) "
      .. "VALUES (1, ?, ?, ?, ?, ?)", info.pid, info.host, iso(info.since), label, script)
    if not ok then db:close(); return nil, store_error(label, what, path, herr) end
  end
  return s
end

--- Open a store, creating it when it does not exist (unless `readonly` or `create = false`).
-- A new file is built complete under a temporary name and then linked into place, so the
-- path never names a half-made store.
-- @tparam[opt] string path the file; nil: `default_path(opts.study, opts.dir)`
-- @tparam[opt] table opts `label` (the method the caller called, named in errors and in the
--   holder record; default `"cohort.store.open()"`), `what` (the noun in messages: `"store"`,
--   `"journal"`), `readonly`, `create` (default true), `study` (recorded in a new store's
--   cohort_meta; names the default file), `dir`, `check` (`"quick"` default, `"full"`,
--   `"none"`), `busy_timeout` (ms SQLite waits on a busy file, default 5000)
-- @treturn[1] cohort.Store
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"io"`, `code` as in the module's description
function M.open(path, opts)
  opts = opts or {}
  local label = type(opts) == "table" and type(opts.label) == "string" and opts.label or "cohort.store.open()"
  if type(opts) ~= "table" then misuse(label, "options must be a table") end
  require("cohort.util").check_keys(label, opts, OPEN_OPTIONS)
  local what = opts.what or "store"
  if type(what) ~= "string" then misuse(label, "what must be a string") end
  if path == nil then
    if opts.study == nil then misuse(label, "give a store path or a study") end
    path = M.default_path(opts.study, opts.dir)
  end
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    misuse(label, "%s must be a file path", what)
  end
  if opts.check ~= nil and opts.check ~= "quick" and opts.check ~= "full" and opts.check ~= "none" then
    misuse(label, "check must be \"quick\", \"full\" or \"none\"")
  end
  if opts.busy_timeout ~= nil and (type(opts.busy_timeout) ~= "number" or opts.busy_timeout < 0) then
    misuse(label, "busy_timeout must be a number of milliseconds")
  end
  local study = opts.study
  if type(study) == "table" then study = study.id end
  local init = {}
  for i, sql in ipairs(LAYOUT_SQL) do init[i] = sql end
  init[#init + 1] = ("INSERT INTO cohort_meta (key, value) VALUES ('format', 'cohort store'), "
    .. "('layout', '%d'), ('created_at', %s), ('created_by', %s)"):format(M.LAYOUT, NOW,
      quote("cohort " .. core.version))
  if type(study) == "string" then
    init[#init + 1] = "INSERT INTO cohort_meta (key, value) VALUES ('study', " .. quote(study) .. ")"
  end
  local copts = { application_id = M.APPLICATION_ID, readonly = opts.readonly == true,
    create = opts.readonly ~= true and opts.create ~= false, init = init, check = opts.check,
    label = label, busy_timeout = opts.busy_timeout }
  local db, e = core.store_open(path, copts)
  if not db and e.code == "OPEN_HERE" then
    -- a store nobody can reach any more still holds the file until it is collected
    collectgarbage("collect")
    collectgarbage("collect")
    db, e = core.store_open(path, copts)
  end
  if not db then
    local extra
    if e.code == "LOCKED" then
      local h = read_holder(path)
      if h then
        extra = { holder = h }
        e.message = "is in use by " .. holder_text(h)
      else
        e.message = "is in use by another process (it has not said which yet)"
      end
      e.message = e.message .. "; one run holds a store at a time (a killed run frees it at once)"
    elseif e.code == "OPEN_HERE" then
      e.message = ("is already open in this process, by %s since %s: close that first"):format(
        tostring(e.label), iso(e.since or os.time()))
      extra = { holder = { label = e.label, since = iso(e.since or os.time()) } }
    end
    return nil, store_error(label, what, path, e, extra)
  end
  local s = setmetatable({ db = db, path = path, label = label, what = what,
    readonly = opts.readonly == true, created = db:info().created }, Store)
  return prepare(s, label, what, path, opts)
end

local function live(self, method)
  if self.db == nil then
    misuse(("cohort.Store:%s()"):format(method), "attempt to use a closed store (%s)", tostring(self.path))
  end
  return self.db
end

local function wrap(self, ok, e, ...)
  if ok == nil then
    e.message = ("failed (%s): %s"):format(tostring(e.code), tostring(e.message))
    return nil, store_error(self.label, self.what, self.path, e)
  end
  return ok, e, ...
end

--- Rows of one SQL statement, `?` parameters bound to the arguments (nil, booleans, numbers,
-- strings). A row is a table column → value; SQL NULL is an absent field.
-- @tparam string sql
-- @param ... parameters
-- @treturn[1] table array of rows
-- @return[2] nil
-- @treturn[2] cohort.Error
function Store:rows(sql, ...)
  return wrap(self, live(self, "rows"):rows(sql, ...))
end

--- Run one SQL statement with `?` parameters; its rows are discarded.
-- @tparam string sql
-- @param ... parameters
-- @treturn[1] integer rows changed
-- @return[2] nil
-- @treturn[2] cohort.Error
function Store:run(sql, ...)
  return wrap(self, live(self, "run"):run(sql, ...))
end

--- Run SQL statements without parameters (a script).
-- @tparam string sql
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function Store:exec(sql)
  return wrap(self, live(self, "exec"):exec(sql))
end

--- Run `fn(store, ...)` in one transaction (`BEGIN IMMEDIATE`): committed when `fn` returns a
-- value other than nil, rolled back when it returns `nil, err` (given back) or raises
-- (raised again after the rollback). Make no network call inside: a transaction is one step
-- on disk, and the effect it records comes before or after it.
-- @tparam function fn
-- @param ... passed to `fn`
-- @return what `fn` returned
-- @return[2] nil
-- @treturn[2] cohort.Error
function Store:transaction(fn, ...)
  local db = live(self, "transaction")
  if type(fn) ~= "function" then misuse("cohort.Store:transaction()", "expected a function") end
  if db:in_transaction() then misuse("cohort.Store:transaction()", "a transaction is already open") end
  local ok, e = self:exec("BEGIN IMMEDIATE")
  if not ok then return nil, e end
  local res = compat.pack(pcall(fn, self, ...))
  if res[1] and res[2] ~= nil then
    local c, ce = self:exec("COMMIT")
    if not c then
      if db:in_transaction() then db:exec("ROLLBACK") end
      return nil, ce
    end
    return compat.unpack(res, 2, res.n)
  end
  if self.db and self.db:in_transaction() then self.db:exec("ROLLBACK") end
  if not res[1] then error(res[2], 0) end
  return nil, res[3]
end

--- The version of each owner's tables: `{owner = version}`.
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] cohort.Error
function Store:owners()
  local rows, e = self:rows("SELECT owner, version FROM cohort_owners")
  if not rows then return nil, e end
  local out = {}
  for _, r in ipairs(rows) do out[r.owner] = r.version end
  return out
end

--- Make sure `owner`'s tables are at `version`: each step from the version the file records
-- (0 when it has none) up to `version` runs in one transaction with the registry's update,
-- so a module adds its tables, and later changes them, without touching anyone else's.
-- Convention: an owner's tables and indexes are named after it (`journal`, `journal_runs`;
-- `events_…`; `mirror_…`).
--
--     store:ensure("events", 2, {
--       { "CREATE TABLE events (id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL)" },
--       { "ALTER TABLE events ADD COLUMN seen_at TEXT" },
--     })
--
-- @tparam string owner a lower-case name (`[a-z][a-z0-9_]*`), not `cohort`
-- @tparam integer version at least 1
-- @tparam table steps `steps[v]`: an SQL string or an array of them, from v - 1 to v
-- @treturn[1] integer the version the file had before (0: none)
-- @return[2] nil
-- @treturn[2] cohort.Error `code` `NEWER` when the file's tables are newer than `version`
function Store:ensure(owner, version, steps)
  local label = "cohort.Store:ensure()"
  live(self, "ensure")
  if type(owner) ~= "string" or not owner:match("^[a-z][a-z0-9_]*$") or owner == "cohort" then
    misuse(label, "owner must be a lower-case name such as \"journal\" (got %s)", tostring(owner))
  end
  if compat.math_type(version) ~= "integer" or version < 1 then
    misuse(label, "version must be an integer from 1")
  end
  if type(steps) ~= "table" then misuse(label, "steps must be a table of SQL per version") end
  for v = 1, version do
    local st = steps[v]
    if type(st) == "string" then st = { st } end
    if type(st) ~= "table" or #st == 0 then misuse(label, "steps[%d] must be SQL (a string or an array of strings)", v) end
    for i, sql in ipairs(st) do
      if type(sql) ~= "string" then misuse(label, "steps[%d][%d] must be an SQL string", v, i) end
    end
  end
  local function current()
    local rows, e = self:rows("SELECT version FROM cohort_owners WHERE owner = ?", owner)
    if not rows then return nil, e end
    return rows[1] and rows[1].version or 0
  end
  local function newer(have)
    return nil, store_error(self.label, self.what, self.path, { code = "NEWER",
      message = ("holds %s tables of version %d, newer than this cohort's %d: use a newer cohort"):format(
        owner, have, version) })
  end
  local have, e = current()
  if not have then return nil, e end
  if have > version then return newer(have) end
  if have == version then return have end
  if self.readonly then
    return nil, store_error(self.label, self.what, self.path, { code = "NOT_FOUND",
      message = ("has no %s tables of version %d (it has %d), and is open read-only"):format(owner, version, have) })
  end
  return self:transaction(function()
    local now, err = current() -- again, under the write lock
    if not now then return nil, err end
    if now > version then return newer(now) end
    for v = now + 1, version do
      local st = steps[v]
      if type(st) == "string" then st = { st } end
      for _, sql in ipairs(st) do
        local ok, xe = self:exec(sql)
        if not ok then return nil, xe end
      end
    end
    local ok, ue = self:run("INSERT INTO cohort_owners (owner, version, updated_at) VALUES (?, ?, "
      .. NOW .. ") ON CONFLICT (owner) DO UPDATE SET version = excluded.version, "
      .. "updated_at = excluded.updated_at", owner, version)
    if not ok then return nil, ue end
    return now
  end)
end

--- Close the store: the holder record is removed and the lock released. Idempotent.
function Store:close()
  local db = self.db
  if db == nil then return end
  self.db = nil
  -- pcall: from the collector, the connection may have been finalized first
  if not self.readonly then pcall(db.run, db, "DELETE FROM cohort_holder WHERE id = 1") end
  db:close()
end
Store.__close = Store.close
Store.__gc = Store.close

--- `cohort.Store cohort-60aca280….sqlite (held: p.bonuses:pay_all())`
function Store:__tostring()
  if self.db == nil then return ("cohort.Store %s (closed)"):format(tostring(self.path)) end
  return ("cohort.Store %s (%s: %s)"):format(self.path, self.readonly and "read-only" or "held",
    self.label)
end

--- Is `x` an open or closed cohort.Store?
function M.is(x)
  return getmetatable(x) == Store
end

return M
