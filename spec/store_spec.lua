-- cohort.workbench.store (cohort.Store) and its C binding core.store_open: the file and its
-- pragmas, the owners' registry, transactions, the single-holder rule in one process and
-- across processes (a killed holder frees the store at once), and every damaged or foreign
-- file refused — by the store and by pay_all — with a clear error, never taken for an empty one.
describe("store", function()
  local env = require "support.env"
  local core = require "cohort.core"
  local compat = require "cohort.compat"
  local Store = require "cohort.workbench.store"
  local q = require("cohort.sandbox").shell_quote
  local STUDY = "60aca280709ee40ec37d4885"
  local LUA = arg and arg[-1] or "lua5.4"
  local APP = Store.APPLICATION_ID

  local function tmp(suffix)
    local path = os.tmpname()
    os.remove(path)
    return path .. (suffix or ".sqlite")
  end
  local function remove_store(path)
    for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
  end
  local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
  end
  local function write(path, bytes)
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    f:close()
  end
  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end
  local function sh(cmd)
    local out, code = env.run(cmd)
    assert.are.equal(0, code, cmd .. "\n" .. out)
    return out
  end

  describe("the file", function()
    it("is a cohort SQLite file in WAL mode, synchronous FULL, foreign keys on", function()
      local path = tmp()
      local s = assert(Store.open(path, { label = "spec", study = STUDY }))
      assert.is_true(s.created)
      assert.are.equal("cohort.Store", getmetatable(s).__name)
      assert.are.same({ { journal_mode = "wal" } }, s:rows("PRAGMA journal_mode"))
      assert.are.same({ { synchronous = 2 } }, s:rows("PRAGMA synchronous")) -- 2 = FULL
      assert.are.same({ { foreign_keys = 1 } }, s:rows("PRAGMA foreign_keys"))
      assert.are.same({ { application_id = APP } }, s:rows("PRAGMA application_id"))
      assert.are.same({ { user_version = Store.LAYOUT } }, s:rows("PRAGMA user_version"))
      local names = {}
      for _, r in ipairs(s:rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) do
        names[#names + 1] = r.name
      end
      assert.are.same({ "cohort_holder", "cohort_meta", "cohort_owners" }, names)
      local meta = {}
      for _, r in ipairs(s:rows("SELECT key, value FROM cohort_meta")) do meta[r.key] = r.value end
      assert.are.equal("cohort store", meta.format)
      assert.are.equal(STUDY, meta.study)
      assert.matches("^cohort ", meta.created_by)
      -- the header says so before SQLite reads anything: "SQLite format 3", application id "coho"
      local head = read(path):sub(1, 100)
      assert.are.equal("SQLite format 3\0", head:sub(1, 16))
      assert.are.equal("coho", head:sub(69, 72))
      -- the holder's record, while it holds the store
      local h = s:rows("SELECT pid, host, label FROM cohort_holder")[1]
      assert.are.equal("spec", h.label)
      assert.are.equal(s.db:info().pid, h.pid)
      s:close()
      s:close() -- idempotent
      assert.matches("closed", tostring(s))
      assert.is_false(exists(path .. "-wal")) -- the last connection folds the WAL in
      -- a closed store ends the holder's record, and no temporary file is left beside it
      s = assert(Store.open(path, { label = "spec", readonly = true }))
      assert.is_false(s.created)
      assert.are.same({}, s:rows("SELECT * FROM cohort_holder"))
      s:close()
      local dir, base = path:match("^(.*)/([^/]+)$")
      assert.are.equal("", sh("ls -a " .. q(dir) .. " | grep -F " .. q(base .. ".tmp") .. " || true"))
      remove_store(path)
    end)

    it("is readable with the sqlite3 tool while a run holds it", function()
      local path = tmp()
      local s = assert(Store.open(path, { label = "p.bonuses:pay_all()" }))
      assert(s:ensure("notes", 1, { "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)" }))
      assert.are.equal(1, s:run("INSERT INTO notes (text) VALUES (?)", "pilot done"))
      assert.are.equal("1668245615\n", sh("sqlite3 -readonly " .. q(path) .. " 'PRAGMA application_id'"))
      assert.are.equal("notes|1\n", sh("sqlite3 -readonly " .. q(path) .. " 'SELECT owner, version FROM cohort_owners'"))
      assert.are.equal("pilot done\n", sh("sqlite3 -readonly " .. q(path) .. " 'SELECT text FROM notes'"))
      assert.matches("|p.bonuses:pay_all()\n", sh("sqlite3 -readonly " .. q(path)
        .. " 'SELECT pid, label FROM cohort_holder'"), 1, true)
      s:close()
      remove_store(path)
    end)

    it("has a default name a study: cohort-<study id>.sqlite, in a directory of choice", function()
      assert.are.equal("cohort-" .. STUDY .. ".sqlite", Store.default_path(STUDY))
      assert.are.equal("/data/cohort-" .. STUDY .. ".sqlite", Store.default_path(STUDY, "/data/"))
      assert.are.equal("cohort-" .. STUDY .. ".sqlite", Store.default_path({ id = STUDY }))
      assert.has_error(function() Store.default_path("../x") end)
      assert.has_error(function() Store.default_path(nil) end)
      local dir = tmp("")
      assert(compat.execute("mkdir " .. q(dir)))
      local s = assert(Store.open(nil, { study = STUDY, dir = dir }))
      assert.are.equal(dir .. "/cohort-" .. STUDY .. ".sqlite", s.path)
      s:close()
      remove_store(s.path)
      os.remove(dir)
    end)
  end)

  it("the sqlite3 commands and the Lua example of docs/workbench.md run as written", function()
    local doc = assert(read("docs/workbench.md"))
    local section = assert(doc:match("\n## The store and the journal\n(.-)\n## "))
    local commands = {}
    for line in assert(section:match("```sh\n(.-)```")):gmatch("[^\n]+") do
      if line:match("^sqlite3 ") then commands[#commands + 1] = line end
    end
    assert.are.equal(5, #commands)
    local example = assert(section:match("%*%*From Lua%.%*%*.-```lua\n(.-)```"))
    local dir = tmp("")
    assert(compat.execute("mkdir " .. q(dir)))
    local root = assert(io.popen("pwd")):read("*l")
    local sb = env.sandbox()
    env.reset()
    sh(("cd %s && %s %s %s %s true 4 2"):format(q(dir), q(LUA), q(root .. "/spec/support/bonus_run.lua"),
      q(sb.url), q(sb.token)))
    local out = {}
    for i, c in ipairs(commands) do out[i] = sh("cd " .. q(dir) .. " && " .. c) end
    assert.matches("setup +intent", out[1])
    assert.matches("pay +outcome +1", out[1])
    assert.are.equal("", out[2])                                -- no step left open
    assert.matches("p.bonuses:pay_all()", out[3], 1, true)
    assert.are.equal("", out[4])                                -- nobody holds it now
    assert.are.equal(2, select(2, out[5]:gsub("%x+\n", "")))   -- two batches paid
    write(dir .. "/example.lua", example)
    assert.are.equal("1\tpilot done\n", sh(("cd %s && %s example.lua"):format(q(dir), q(LUA))))
    assert.are.equal("wave 1 opened\n", sh("cd " .. q(dir) .. " && sqlite3 -readonly cohort-" .. STUDY
      .. ".sqlite 'SELECT text FROM notes WHERE id = 2'"))
    remove_store(dir .. "/cohort-" .. STUDY .. ".sqlite")
    os.remove(dir .. "/example.lua")
    os.remove(dir)
  end)

  describe("SQL", function()
    local path, s
    before_each(function()
      path = tmp()
      s = assert(Store.open(path, { label = "spec" }))
      assert(s:ensure("t", 1, { "CREATE TABLE t (a, b)" }))
    end)
    after_each(function()
      s:close()
      remove_store(path)
    end)

    it("binds nil, booleans, integers, floats and strings, and gives them back", function()
      assert.are.equal(1, s:run("INSERT INTO t VALUES (?, ?)", 42, "a\0b"))
      assert.are.equal(1, s:run("INSERT INTO t VALUES (?, ?)", 0.5, true))
      assert.are.equal(1, s:run("INSERT INTO t VALUES (?, ?)", nil, false))
      local rows = s:rows("SELECT a, b, typeof(a) AS ta FROM t ORDER BY rowid")
      assert.are.same({ { a = 42, b = "a\0b", ta = "integer" }, { a = 0.5, b = 1, ta = "real" },
        { b = 0, ta = "null" } }, rows)
      if compat.has_integers then
        local big = math.maxinteger - 1
        s:run("INSERT INTO t VALUES (?, 'big')", big)
        assert.are.equal(big, s:rows("SELECT a FROM t WHERE b = 'big'")[1].a)
        assert.are.equal("integer", math.type(s:rows("SELECT a FROM t WHERE b = 'big'")[1].a))
      end
      assert.are.same({ { n = 3 } }, s:rows("SELECT count(*) AS n FROM t WHERE rowid <= ?", 3))
    end)

    it("returns SQLite's errors as cohort.Error values naming the caller and the file", function()
      local rows, err = s:rows("SELECT * FROM nowhere")
      assert.is_nil(rows)
      assert.are.equal("io", err.kind)
      assert.are.equal("SQLITE_ERROR", err.code)
      assert.matches("spec: store " .. path .. " failed (SQLITE_ERROR): no such table: nowhere", err.message, 1, true)
      assert(s:exec("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
      local n, cerr = s:run("INSERT INTO u (v) VALUES (?)", nil)
      assert.is_nil(n)
      assert.are.equal("SQLITE_CONSTRAINT", cerr.code)
    end)

    it("raises on misuse: a table bound, a wrong count of parameters, two statements, a closed store", function()
      assert.has_error(function() s:run("INSERT INTO t VALUES (?, ?)", {}, 1) end,
        "cohort.core: store parameter 1: cannot bind a table")
      assert.has_error(function() s:run("INSERT INTO t VALUES (?, ?)", 1) end,
        "cohort.core: store: the statement takes 2 parameters, 1 given")
      assert.has_error(function() s:rows("SELECT 1; SELECT 2") end, "cohort.core: store: one statement at a time")
      local db = core.store_open(path .. "-other", { application_id = APP, create = true })
      db:close()
      assert.has_error(function() db:rows("SELECT 1") end, "cohort.core: attempt to use a closed store")
      remove_store(path .. "-other")
    end)

    it("a transaction commits what fn returns, rolls back on nil, err and on an error raised", function()
      assert.are.equal("done", s:transaction(function(st)
        st:run("INSERT INTO t VALUES (1, 'kept')")
        return "done"
      end))
      local none, err = s:transaction(function(st)
        st:run("INSERT INTO t VALUES (2, 'dropped')")
        return nil, "changed my mind"
      end)
      assert.is_nil(none)
      assert.are.equal("changed my mind", err)
      assert.has_error(function()
        s:transaction(function(st)
          st:run("INSERT INTO t VALUES (3, 'dropped')")
          error("boom", 0)
        end)
      end, "boom")
      assert.are.same({ { b = "kept" } }, s:rows("SELECT b FROM t"))
      assert.is_false(s.db:in_transaction())
    end)

    it("ensure: each owner's tables by version, every step once, a newer file refused", function()
      local steps = { { "CREATE TABLE events (id TEXT PRIMARY KEY)" }, "ALTER TABLE events ADD COLUMN seen TEXT" }
      assert.are.equal(0, s:ensure("events", 1, steps))
      assert.are.equal(1, s:ensure("events", 1, steps))
      assert.are.equal(1, s:ensure("events", 2, steps)) -- only step 2 runs
      assert.are.equal(2, s:ensure("events", 2, steps))
      assert.are.same({ t = 1, events = 2 }, s:owners())
      local ok, err = s:ensure("events", 1, steps)
      assert.is_nil(ok)
      assert.are.equal("NEWER", err.code)
      assert.matches("holds events tables of version 2, newer than this cohort's 1", err.message, 1, true)
      -- a failing step changes nothing
      local bad, berr = s:ensure("mirror", 1, { { "CREATE TABLE mirror_a (x)", "CREATE TABLE nonsense (" } })
      assert.is_nil(bad)
      assert.are.equal("SQLITE_ERROR", berr.code)
      assert.is_nil(s:owners().mirror)
      assert.are.same({}, s:rows("SELECT name FROM sqlite_master WHERE name = 'mirror_a'"))
      assert.has_error(function() s:ensure("Bad Name", 1, steps) end)
      assert.has_error(function() s:ensure("cohort", 1, steps) end)
      assert.has_error(function() s:ensure("x", 0, steps) end, "cohort: cohort.Store:ensure(): version must be an integer from 1")
      assert.has_error(function() s:ensure("x", 3, steps) end,
        "cohort: cohort.Store:ensure(): steps[3] must be SQL (a string or an array of strings)")
    end)
  end)

  describe("one holder", function()
    it("in one process: a second read-write open is refused naming the first; read-only opens may join", function()
      local path = tmp()
      local s = assert(Store.open(path, { label = "p.bonuses:pay_all()" }))
      local again, err = Store.open(path, { label = "p.submissions:approve_all()", what = "journal" })
      assert.is_nil(again)
      assert.are.equal("OPEN_HERE", err.code)
      assert.matches("p.submissions:approve_all(): journal " .. path
        .. " is already open in this process, by p.bonuses:pay_all() since", err.message, 1, true)
      assert.are.equal("p.bonuses:pay_all()", err.holder.label)
      assert(s:ensure("t", 1, { "CREATE TABLE t (a)" }))
      s:run("INSERT INTO t VALUES (1)")
      local ro = assert(Store.open(path, { readonly = true }))
      assert.are.same({ { a = 1 } }, ro:rows("SELECT a FROM t"))
      local nope, rerr = ro:run("INSERT INTO t VALUES (2)")
      assert.is_nil(nope)
      assert.matches("SQLITE_READONLY", rerr.code)
      ro:close()
      s:run("INSERT INTO t VALUES (2)") -- the holder is unharmed by the reader's close
      s:close()
      s = assert(Store.open(path, { label = "again" }))
      assert.are.same({ { n = 2 } }, s:rows("SELECT count(*) AS n FROM t"))
      s = nil -- unreachable, not closed: the next open collects it
      local s2 = assert(Store.open(path, { label = "after" }))
      s2:close()
      remove_store(path)
    end)

    it("across processes: refused at once naming the holder; a killed holder frees it at once", function()
      local path, ready = tmp(), tmp(".ready")
      local script = ([[
        local s = assert(require("cohort.workbench.store").open(%q, { label = "spec holder" }))
        io.open(%q, "w"):close()
        require("cohort.core").sleep(60)
      ]]):format(path, ready)
      local h = io.popen("sh -c " .. q(q(LUA) .. " -e " .. q(script) .. " >/dev/null 2>&1 & echo $!; wait $!")
        .. " 2>/dev/null", "r")
      local pid = compat.tointeger(tonumber(h:read("*l")))
      local deadline = core.monotime() + 30
      while not exists(ready) and core.monotime() < deadline do core.sleep(0.005) end
      assert.is_true(exists(ready), "the holder did not start")
      local s, err = Store.open(path, { label = "p.bonuses:pay_all()", what = "journal" })
      assert.is_nil(s)
      assert.are.equal("LOCKED", err.code)
      assert.are.equal(pid, err.holder.pid)
      assert.are.equal("spec holder", err.holder.label)
      assert.matches(("p.bonuses:pay_all(): journal %s is in use by pid %d on "):format(path, pid),
        err.message, 1, true)
      assert.matches("running spec holder", err.message, 1, true)
      -- refused while the holder still runs: the open did not wait for it
      assert.is_true(compat.execute("kill -0 " .. pid), "the holder ended before the refusal")
      compat.execute("kill -9 " .. pid)
      h:close()
      s = assert(Store.open(path, { label = "after the kill" }))
      assert.are.equal(pid, s.previous_holder.pid) -- it did not close: its record is still there
      s:close()
      remove_store(path)
      os.remove(ready)
    end)
  end)

  describe("a damaged or foreign file", function()
    local p
    setup(function() p = env.prolific() end)

    -- A store with enough rows for several pages, closed (so the WAL is folded in).
    local function full_store()
      local path = tmp()
      local s = assert(Store.open(path, { label = "spec" }))
      assert(s:ensure("t", 1, { "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)" }))
      assert(s:transaction(function(st)
        for i = 1, 200 do st:run("INSERT INTO t (v) VALUES (?)", ("row %d "):format(i):rep(20)) end
        return true
      end))
      s:close()
      assert.is_false(exists(path .. "-wal"))
      return path
    end

    local random_bytes = {}
    for i = 1, 4096 do random_bytes[i] = string.char((i * 7919 + 13) % 251) end

    local cases = {
      { "NUL bytes", "NOT_SQLITE", "is not an SQLite database (it begins with NUL bytes)",
        function(path) write(path, ("\0"):rep(8192)) end },
      { "random bytes", "NOT_SQLITE", "is not an SQLite database (it begins with bytes",
        function(path) write(path, table.concat(random_bytes)) end },
      { "an emptied file (0 bytes)", "EMPTY", "is empty (0 bytes)",
        function(path) write(path, "") end },
      { "a store cut in the middle", "TRUNCATED", "is cut short",
        function(path)
          local src = full_store()
          local bytes = read(src)
          remove_store(src)
          write(path, bytes:sub(1, math.floor(#bytes / 2)))
        end },
      { "a store cut inside a page", "TRUNCATED", "is cut short",
        function(path)
          local src = full_store()
          local bytes = read(src)
          remove_store(src)
          write(path, bytes:sub(1, 4096 * 3 + 1000))
        end },
      { "a store with a page overwritten", "CORRUPT", "is damaged",
        function(path)
          local src = full_store()
          local bytes = read(src)
          remove_store(src)
          write(path, bytes:sub(1, 4096 * 4) .. ("\255"):rep(4096) .. bytes:sub(4096 * 5 + 1))
        end },
      { "a JSON-lines journal of the old format", "OLD_JOURNAL", "is a JSON-lines journal of an earlier cohort",
        function(path)
          write(path, '{"key":"bonus:60aca280709ee40ec37d4885:1:3f2a","phase":"intent","step":"pay","time":1700000000}\n'
            .. '{"key":"bonus:60aca280709ee40ec37d4885:1:3f2a","phase":"outcome","step":"pay","ok":true}\n')
        end },
      { "another program's SQLite file", "FOREIGN", "is an SQLite database of another program (it has no application id",
        function(path) sh("sqlite3 " .. q(path) .. " 'CREATE TABLE t (x); INSERT INTO t VALUES (1)'") end },
      { "an SQLite file with another application id", "FOREIGN", "is an SQLite database of another program (application id 0x47504b47",
        function(path) sh("sqlite3 " .. q(path) .. " 'PRAGMA application_id = 1196444487; CREATE TABLE t (x)'") end },
      { "a store of a newer cohort", "NEWER", "was written by a newer cohort (store layout 99",
        function(path)
          local src = full_store()
          sh("sqlite3 " .. q(src) .. " 'PRAGMA user_version = 99'")
          assert(os.rename(src, path))
        end },
      { "a directory", "DIRECTORY", "is a directory, not a store file",
        function(path) assert(compat.execute("mkdir " .. q(path))) end },
    }

    for _, case in ipairs(cases) do
      local name, code, text, make = case[1], case[2], case[3], case[4]
      it(name .. ": refused (" .. code .. "), never used as an empty store", function()
        local path = tmp()
        make(path)
        local before = read(path)
        local s, err = Store.open(path, { label = "spec.open()" })
        assert.is_nil(s)
        assert.are.equal("io", err.kind)
        assert.are.equal(code, err.code)
        assert.matches("spec.open(): store " .. path .. " " .. text, err.message, 1, true)
        assert.matches(text, tostring(err), 1, true)
        -- the same through the journal of a payment: raised before anything is sent
        env.reset()
        env.control("DELETE", "requests")
        local subs = assert(p.submissions:all { study = STUDY })
        local ok, perr = pcall(p.bonuses.pay_all, p.bonuses, { study = STUDY, journal = path,
          bonuses = { { subs[1].id, 0.5 }, { subs[2].id, 0.5 } } })
        assert.is_false(ok)
        assert.are.equal(code, perr.code)
        assert.matches("p.bonuses:pay_all(): journal " .. path .. " " .. text, tostring(perr), 1, true)
        for _, r in ipairs(env.requests()) do assert.are_not.equal("POST", r.method, r.path) end
        assert.are.equal(0, #env.control("GET", "ledger").ledger)
        -- and the file is as it was
        assert.are.equal(before, read(path))
        if code ~= "CORRUPT" and code ~= "NEWER" then assert.is_false(exists(path .. "-wal")) end
        if code == "DIRECTORY" then os.remove(path) else remove_store(path) end
      end)
    end

    it("a missing file is made only when asked: read-only and create = false give NOT_FOUND", function()
      local path = tmp()
      local s, err = Store.open(path, { readonly = true })
      assert.is_nil(s)
      assert.are.equal("NOT_FOUND", err.code)
      s, err = Store.open(path, { create = false })
      assert.are.equal("NOT_FOUND", err.code)
      assert.is_false(exists(path))
    end)
  end)

  it("misuse raises naming the method", function()
    assert.has_error(function() Store.open(5) end, "cohort: cohort.store.open(): store must be a file path")
    assert.has_error(function() Store.open("x", { colour = 1 }) end, "cohort: cohort.store.open(): unknown option 'colour'")
    assert.has_error(function() Store.open(nil, {}) end, "cohort: cohort.store.open(): give a store path or a study")
    assert.has_error(function() Store.open("x", { check = "thorough" }) end,
      "cohort: cohort.store.open(): check must be \"quick\", \"full\" or \"none\"")
    local p = env.prolific()
    assert.has_error(function()
      p.bonuses:pay_all { study = STUDY, bonuses = { { "60bf9310e8dec401be6e9615", 1 } }, journal = 5 }
    end, "cohort: p.bonuses:pay_all(): journal must be a file path (or true: the study's cohort-<study id>.sqlite)")
  end)
end)
