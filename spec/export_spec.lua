-- cohort.workbench.export: CSV (RFC 4180) and JSON Lines from arrays and iterators, streaming, the
-- Submission adapter against the sandbox, pluggable adapters, misuse and failure paths, and
-- examples/export_submissions.lua.
describe("cohort.workbench.export", function()
  local env = require "support.env"
  local export = require "cohort.workbench.export"
  local core = require "cohort.core"
  local Error = require("cohort").Error
  local STUDY = "60aca280709ee40ec37d4885"
  local SMALL_STUDY = "60aca280709ee40ec37d4886"
  local SEED_SUB = "625d4a831bcda2d59ac5a251"
  local p

  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() return true end
    return false
  end

  local function tmpdir()
    local d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -p " .. d))
    return d
  end

  -- Parse RFC 4180 CSV text (CRLF or LF) into rows of fields, to check round trips.
  local function parse_csv(text)
    local rows, row, field, i, n = {}, {}, {}, 1, #text
    local quoted = false
    while i <= n do
      local c = text:sub(i, i)
      if quoted then
        if c == '"' then
          if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1
          else quoted = false end
        else field[#field + 1] = c end
      elseif c == '"' then quoted = true
      elseif c == "," then row[#row + 1] = table.concat(field); field = {}
      elseif c == "\r" and text:sub(i + 1, i + 1) == "\n" or c == "\n" then
        if c == "\r" then i = i + 1 end
        row[#row + 1] = table.concat(field); field = {}
        rows[#rows + 1] = row; row = {}
      else field[#field + 1] = c end
      i = i + 1
    end
    if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); rows[#rows + 1] = row end
    return rows
  end

  setup(function()
    env.reset()
    p = env.prolific()
  end)

  describe("CSV from plain tables", function()
    it("quotes per RFC 4180, ends lines with CRLF, sorts the first item's keys", function()
      local dir = tmpdir()
      local path = dir .. "/people.csv"
      local rows = {
        { name = 'Zoë "Z", the first', age = 30, note = "line one\nline two", ok = true },
        { name = "Bob", age = 31.5, note = "cr\rhere", ok = false, extra = "ignored" },
        { name = "Ünïcødé 東京", age = 0.1, tags = { 1, 2 } },
      }
      local n, written = export.csv(rows, path, { progress = false })
      assert.are.equal(3, n)
      assert.are.equal(path, written)
      assert.are.equal(table.concat({
        "age,name,note,ok",
        '30,"Zoë ""Z"", the first","line one\nline two",true',
        '31.5,Bob,"cr\rhere",false',
        "0.1,Ünïcødé 東京,,",
        "",
      }, "\r\n"), read(path))
      assert.is_false(exists(path .. ".tmp"))
      local parsed = parse_csv(read(path))
      assert.are.equal('Zoë "Z", the first', parsed[2][2])
      assert.are.equal("line one\nline two", parsed[2][3])
      os.remove(path)
      os.remove(dir)
    end)

    it("takes columns as names and {header, function}, dotted names, and LF / no header / BOM", function()
      local out = {}
      local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
      local rows = { { id = 1, who = { name = "Ada" }, vals = { 1, 2 }, n = core.decode("null") } }
      local n = export.csv(rows, sink, { progress = false, newline = "\n", columns = {
        "id", "who.name", "vals", "n", { "twice", function(r) return r.id * 2 end },
        { "who", function(r) return r.who end } } })
      assert.are.equal(1, n)
      assert.are.equal('id,who.name,vals,n,twice,who\n1,Ada,"[1,2]",,2,"{""name"":""Ada""}"\n',
        table.concat(out))
      out = {}
      export.csv(rows, sink, { progress = false, header = false, bom = true, columns = { "id" } })
      assert.are.equal("\239\187\1911\r\n", table.concat(out))
    end)

    it("writes numbers in their shortest exact form", function()
      assert.are.equal("150", export.cell_text(150))
      assert.are.equal("150", export.cell_text(150.0))
      assert.are.equal("0.1", export.cell_text(0.1))
      assert.are.equal("0.30000000000000004", export.cell_text(0.1 + 0.2))
      assert.are.equal("-7", export.cell_text(-7))
      assert.are.equal("", export.cell_text(nil))
      assert.are.equal('a""b', export.quote('a"b'):sub(2, -2))
      assert.are.equal("plain", export.quote("plain"))
    end)

    it("reads items from an iterator function, and writes a header for no items only when columns are known", function()
      local i = 0
      local function gen()
        i = i + 1
        if i <= 3 then return { k = i } end
      end
      local out = {}
      local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
      assert.are.equal(3, export.csv(gen, sink, { progress = false }))
      assert.are.equal("k\r\n1\r\n2\r\n3\r\n", table.concat(out))
      out = {}
      assert.are.equal(0, export.csv({}, sink, { progress = false }))
      assert.are.equal("", table.concat(out))
      assert.are.equal(0, export.csv({}, sink, { progress = false, columns = { "a", "b" } }))
      assert.are.equal("a,b\r\n", table.concat(out))
    end)

    it("streams: memory stays flat and the file grows while rows are still coming", function()
      local dir = tmpdir()
      local path = dir .. "/big.csv"
      local N = 50000
      local i, mem_at_1000, size_mid = 0, nil, nil
      local function gen()
        i = i + 1
        if i == 1000 then collectgarbage("collect"); mem_at_1000 = collectgarbage("count") end
        if i == math.floor(N / 2) then
          local f = io.open(path .. ".tmp", "rb")
          size_mid = f:seek("end")
          f:close()
        end
        if i <= N then return { id = i, text = ("row %d, with a comma"):format(i) } end
      end
      assert.are.equal(N, export.csv(gen, path, { progress = false }))
      collectgarbage("collect")
      local growth = collectgarbage("count") - mem_at_1000
      assert.is_true(growth < 512, ("memory grew by %.0f KiB"):format(growth)) -- rows would be MBs
      assert.is_true(size_mid > 100000, "the temporary file was not written while streaming")
      local f = io.open(path, "rb")
      local size = f:seek("end")
      f:close()
      assert.is_true(size > 1000000)
      os.remove(path)
      os.remove(dir)
    end)
  end)

  describe("JSON Lines", function()
    it("writes each item whole, or the given columns", function()
      local dir = tmpdir()
      local path = dir .. "/x.jsonl"
      local rows = { { a = 1, b = { "x", "y" } }, { a = 2, s = "é\n" } }
      assert.are.equal(2, export.jsonl(rows, path, { progress = false }))
      local lines = {}
      for l in io.lines(path) do lines[#lines + 1] = core.decode(l) end
      assert.are.equal(2, #lines)
      assert.are.same({ "x", "y" }, lines[1].b)
      assert.are.equal("é\n", lines[2].s)
      assert.are.equal(2, export.jsonl(rows, path, { progress = false, columns = { "a", { "twice", function(r) return r.a * 2 end } } }))
      lines = {}
      for l in io.lines(path) do lines[#lines + 1] = core.decode(l) end
      assert.are.same({ a = 2, twice = 4 }, lines[2])
      os.remove(path)
      os.remove(dir)
    end)
  end)

  describe("submissions against the sandbox", function()
    it("exports every submission of a study with the study and bonus columns", function()
      local dir = tmpdir()
      local path = dir .. "/subs.csv"
      local n = assert(export.csv(p.submissions:each { study = STUDY, page_size = 10 }, path,
        { progress = false }))
      assert.are.equal(45, n)
      local rows = parse_csv(read(path))
      assert.are.same({ "id", "study_id", "participant", "status", "started_at", "completed_at",
        "time_taken", "reward", "completion_code", "bonus_count", "bonus_total", "bonus_payments" }, rows[1])
      assert.are.equal(46, #rows)
      for i = 2, #rows do assert.are.equal(STUDY, rows[i][2]) end
      assert.are.equal("150", rows[2][8]) -- reward, minor units
      assert.are.equal("", rows[2][10])   -- list items carry no bonuses
      os.remove(path)
      os.remove(dir)
    end)

    it("details = true fetches each detail form and fills the bonus columns (minor units)", function()
      local dir = tmpdir()
      local path = dir .. "/subs.csv"
      local before = #env.requests()
      local n = assert(export.csv(p.submissions:all { study = STUDY }, path,
        { progress = false, details = true }))
      assert.are.equal(45, n)
      assert.is_true(#env.requests() - before >= 45 + 3)
      local seed
      for _, r in ipairs(parse_csv(read(path))) do if r[1] == SEED_SUB then seed = r end end
      assert.are.equal("60bf9310e8dec401be6e9615", seed[3])
      assert.are.equal("8E8AC860", seed[9])
      assert.are.equal("2", seed[10])
      assert.are.equal("3536", seed[11])
      assert.are.equal("1000;2536", seed[12])
      os.remove(path)
      os.remove(dir)
    end)

    it("exports a page as JSON Lines with the server's fields as they are", function()
      local out = {}
      local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
      local page = assert(p.submissions:list { study = SMALL_STUDY })
      assert.are.equal(3, export.jsonl(page, sink, { progress = false }))
      local first = core.decode(table.concat(out):match("^[^\n]+"))
      assert.are.equal(page[1].id, first.id)
      assert.are.equal(page[1].participant_id, first.participant_id)
    end)

    it("returns the server's error and leaves no file when the first page fails", function()
      local dir = tmpdir()
      local path = dir .. "/subs.csv"
      local bad = env.prolific { token = "not-the-token" }
      local n, err = export.csv(bad.submissions:each { study = STUDY }, path, { progress = false })
      assert.is_nil(n)
      assert.is_true(Error.is(err))
      assert.are.equal(401, err.status)
      assert.is_false(exists(path))
      assert.is_false(exists(path .. ".tmp"))
      os.remove(dir)
    end)

    it("a failure after rows were written leaves neither the file nor the temporary file", function()
      local dir = tmpdir()
      local path = dir .. "/subs.csv"
      local f = io.open(path, "w") -- an older export at the same path is left alone
      f:write("old\n")
      f:close()
      local inner, i = p.submissions:each { study = STUDY, page_size = 5 }, 0
      local function failing()
        i = i + 1
        if i == 12 then
          local _, err = p.submissions:get("000000000000000000000000") -- a real 404
          error(err, 0)
        end
        return inner()
      end
      local n, err = export.csv(failing, path, { progress = false })
      assert.is_nil(n)
      assert.are.equal(404, err.status)
      assert.are.equal("old\n", read(path))
      assert.is_false(exists(path .. ".tmp"))
      os.remove(path)
      os.remove(dir)
    end)

    it("an I/O error returns nil, err of kind io", function()
      local n, err = export.csv({ { a = 1 } }, "/nonexistent-dir/x/out.csv", { progress = false })
      assert.is_nil(n)
      assert.is_true(Error.is(err))
      assert.are.equal("io", err.kind)
      assert.truthy(tostring(err):find("cohort.workbench.export.csv()", 1, true))
      assert.is_false(exists("/nonexistent-dir/x/out.csv"))
    end)

    it("misuse raises naming the function and the field, before any request", function()
      local before = #env.requests()
      local function raises(pattern, fn)
        local ok, msg = pcall(fn)
        assert.is_false(ok)
        assert.truthy(tostring(msg):find(pattern, 1, true), tostring(msg))
      end
      raises("cohort.workbench.export.csv(): unknown option 'colums'", function()
        export.csv(p.submissions:each { study = STUDY }, "/tmp/never.csv", { colums = { "id" } })
      end)
      raises("cohort.workbench.export.csv(): columns[2] must be a name or {name, function(item)}", function()
        export.csv(p.submissions:each { study = STUDY }, "/tmp/never.csv", { columns = { "id", { "x" } } })
      end)
      raises("cohort.workbench.export.jsonl(): unknown option 'header'", function()
        export.jsonl({}, "/tmp/never.jsonl", { header = false })
      end)
      raises("cohort.workbench.export.csv(): items must be an array or an iterator function (got string)", function()
        export.csv("nope", "/tmp/never.csv")
      end)
      raises("cohort.workbench.export.csv(): destination must be a path string or an open file (got number)", function()
        export.csv({}, 42)
      end)
      raises("cohort.workbench.export.csv(): newline must be", function()
        export.csv({}, io.stdout, { newline = ";" })
      end)
      raises("cohort.workbench.export.csv(): option 'details' must be one of true, false (got yes)", function()
        export.csv(p.submissions:each { study = STUDY }, "/tmp/never.csv", { details = "yes" })
      end)
      raises("cohort.workbench.export.csv(): adapter 'Nope' is not registered", function()
        export.csv({}, io.stdout, { adapter = "Nope" })
      end)
      assert.are.equal(before, #env.requests())
      assert.is_false(exists("/tmp/never.csv.tmp"))
    end)
  end)

  describe("adapters", function()
    -- A stand-in for a survey response class: the owners of the survey resources register
    -- theirs the same way (one column per question; labels, codes or both).
    local QUESTIONS = { { code = "Q1", text = "Colour?", choices = { [1] = "Red", [2] = "Blue" } },
      { code = "Q2", text = "Pets?", choices = { [1] = "Cat", [2] = "Dog" } } }
    local Response = { __name = "cohort.TestResponse" }
    local function response(id, a1, a2)
      return setmetatable({ id = id, answers = { Q1 = a1, Q2 = a2 } }, Response)
    end

    after_each(function() export.adapters.TestResponse = nil end)

    it("a registered adapter gives question columns with labels, codes or both", function()
      export.register("TestResponse", {
        options = { answers = { "labels", "codes", "both" } },
        columns = function(first, opts)
          local cols = { "id" }
          for _, q in ipairs(QUESTIONS) do
            local mode = opts.answers or "labels"
            if mode == "codes" or mode == "both" then
              cols[#cols + 1] = { q.code .. (mode == "both" and "_code" or ""), function(r) return r.answers[q.code] end }
            end
            if mode == "labels" or mode == "both" then
              cols[#cols + 1] = { q.code .. (mode == "both" and "_label" or ""), function(r) return q.choices[r.answers[q.code]] end }
            end
          end
          return cols
        end,
      })
      local items = { response("r1", 1, 2), response("r2", 2, nil) }
      local function run(opts)
        local out = {}
        local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
        opts.progress = false
        assert.are.equal(2, export.csv(items, sink, opts))
        return table.concat(out)
      end
      assert.are.equal("id,Q1,Q2\r\nr1,Red,Dog\r\nr2,Blue,\r\n", run {})
      assert.are.equal("id,Q1,Q2\r\nr1,1,2\r\nr2,2,\r\n", run { answers = "codes" })
      assert.are.equal("id,Q1_code,Q1_label,Q2_code,Q2_label\r\nr1,1,Red,2,Dog\r\nr2,2,Blue,,\r\n",
        run { answers = "both" })
      local ok, msg = pcall(export.csv, items, io.stdout, { answers = "everything" })
      assert.is_false(ok)
      assert.truthy(msg:find("option 'answers' must be one of labels, codes, both", 1, true), msg)
      -- an option of another class's adapter is refused for these items
      ok, msg = pcall(export.csv, items, io.stdout, { details = true, progress = false })
      assert.is_false(ok)
      assert.truthy(msg:find("option 'details' does not apply to TestResponse items", 1, true), msg)
      -- adapter = false: the plain keys
      assert.are.equal("answers,id\r\n", run { adapter = false }:match("^[^\n]+\n"))
    end)

    it("register() refuses a malformed adapter", function()
      local ok, msg = pcall(export.register, "X", { options = {} })
      assert.is_false(ok)
      assert.truthy(msg:find("cohort.workbench.export.register(): adapter.columns must be a function", 1, true), msg)
    end)
  end)

  describe("examples/export_submissions.lua", function()
    it("exports every submission of a study and prints the path and row count", function()
      local q = require("cohort.sandbox").shell_quote
      local sb = env.sandbox()
      local dir = tmpdir()
      local out_path = dir .. "/out.csv"
      local cmd = ("PROLIFIC_TOKEN=%s PROLIFIC_URL=%s %s examples/export_submissions.lua %s %s")
        :format(q(sb.token), q(sb.url), q(arg and arg[-1] or "lua5.4"), STUDY, q(out_path))
      local out, code = env.run(cmd)
      assert.are.equal(0, code, out)
      assert.truthy(out:find("Wrote 45 submissions of study " .. STUDY .. " to " .. out_path, 1, true), out)
      assert.is_nil(out:find("\r", 1, true), "no progress bar when stderr is not a terminal")
      local rows = parse_csv(read(out_path))
      assert.are.equal(46, #rows)
      os.remove(out_path)
      -- the failure path: a wrong token prints the error and exits 1
      local bad = ("PROLIFIC_TOKEN=wrong-token PROLIFIC_URL=%s %s examples/export_submissions.lua %s %s")
        :format(q(sb.url), q(arg and arg[-1] or "lua5.4"), STUDY, q(out_path))
      out, code = env.run(bad)
      assert.are.equal(1, code, out)
      assert.truthy(out:find("HTTP 401", 1, true), out)
      assert.is_false(exists(out_path))
      os.remove(dir)
    end)
  end)
end)
