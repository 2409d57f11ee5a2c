-- Every ```lua block of docs/workbench.md (but the pay_all one, which spec/money_guard_spec.lua
-- runs) is taken from the guide itself, run against the suite's sandbox as a reader would run
-- it, and checked twice: what it prints is what its `-->` comments say, and it did what the
-- guide says on the sandbox or in the files it wrote. Each test starts from a reset sandbox.
--
-- The blocks are run through support.docblocks with a few plain-text replacements, each for a
-- reason given where it is made:
-- * `cohort.prolific()` and `cohort.questionpro()` read the credentials from the environment,
--   which the reader's shell sets; Lua cannot set it, so they are given the sandbox's;
-- * a file a block writes in the current directory gets a temporary path instead (removed
--   after the test), so the suite writes nothing into the checkout.
-- A block that writes to `io.stdout` (an export to the terminal, the review's plan) writes to a
-- temporary file put in its place while the block runs, and the test reads it back.
describe("docs/workbench.md", function()
  local env = require "support.env"
  local docblocks = require "support.docblocks"
  local core = require "cohort.core"
  local q = require("cohort.sandbox").shell_quote
  local GUIDE = "docs/workbench.md"
  local STUDY = "60aca280709ee40ec37d4885"

  local made = {}

  -- A fresh path nobody has made: os.tmpname() creates an empty file, which the store refuses
  -- (an empty file may be a journal someone emptied) and an export would replace anyway.
  local function tmp()
    local path = os.tmpname()
    os.remove(path)
    made[#made + 1] = path
    return path
  end

  local slurp = require("support.env").read

  local exists = require("support.env").exists

  -- RFC 4180 CSV text → rows of fields (quoted fields may hold commas, quotes and line ends).
  local function parse_csv(text)
    local rows, row, field, i, n = {}, {}, {}, 1, #text
    local quoted = false
    while i <= n do
      local c = text:sub(i, i)
      if quoted then
        if c == '"' and text:sub(i + 1, i + 1) == '"' then
          field[#field + 1] = '"'
          i = i + 1
        elseif c == '"' then
          quoted = false
        else
          field[#field + 1] = c
        end
      elseif c == '"' then
        quoted = true
      elseif c == "," then
        row[#row + 1] = table.concat(field)
        field = {}
      elseif c == "\r" or c == "\n" then
        if c == "\r" then
          assert.are.equal("\n", text:sub(i + 1, i + 1), "a CR not followed by LF")
          i = i + 1
        end
        row[#row + 1] = table.concat(field)
        rows[#rows + 1] = row
        row, field = {}, {}
      else
        field[#field + 1] = c
      end
      i = i + 1
    end
    assert.are.equal(0, #row + #field, "the last line has no line end")
    return rows
  end

  -- The header (as one comma-joined line) and the data rows of CSV text, as records keyed by
  -- the header's names.
  local function read_csv(text)
    local rows = parse_csv(text)
    local header = table.remove(rows, 1)
    local records = {}
    for i, r in ipairs(rows) do
      assert.are.equal(#header, #r, "row " .. i .. " has another number of fields")
      local rec = {}
      for j, name in ipairs(header) do rec[name] = r[j] end
      records[i] = rec
    end
    return table.concat(header, ","), records
  end

  -- `sqlite3 -readonly <path> <sql>`: what the guide tells readers to look inside with.
  local function sqlite(path, sql)
    local out, code = env.run(("sqlite3 -readonly %s %s"):format(q(path), q(sql)))
    assert.are.equal(0, code, out)
    return out
  end

  -- The sandbox's submissions of the study, counted by status.
  local function statuses()
    local by = {}
    for _, s in ipairs(env.control("GET", "state").submissions) do
      if s.study_id == STUDY then by[s.status] = (by[s.status] or 0) + 1 end
    end
    return by
  end

  -- Requests the blocks sent, by "METHOD path" pattern.
  local sent = env.count_requests

  -- Runs `code` with `subs` and the sandbox's credentials (see the top), with io.stdout a
  -- temporary file; returns printed lines, expected lines, and what went to io.stdout.
  local function run(code, subs)
    local sb = env.sandbox()
    local all = {
      ["cohort.prolific()"] = ("cohort.prolific{ token = %q, base_url = %q }")
        :format(sb.token, sb.url),
      ["cohort.questionpro()"] = ("cohort.questionpro{ api_key = %q, base_url = %q }")
        :format(sb.api_key, sb.url),
    }
    for from, to in pairs(subs or {}) do all[from] = to end
    local out_path = tmp()
    local out = assert(io.open(out_path, "w+b"))
    local stdout = io.stdout
    io.stdout = out
    local ok, printed, expected = pcall(docblocks.run, code, all)
    io.stdout = stdout
    out:close()
    if not ok then error(printed, 0) end
    return printed, expected, slurp(out_path)
  end

  before_each(function() env.reset() end)

  after_each(function()
    for _, path in ipairs(made) do
      for _, suffix in ipairs { "", ".tmp", "-wal", "-shm", "-journal" } do
        os.remove(path .. suffix)
      end
    end
    for k in pairs(made) do made[k] = nil end
  end)

  teardown(function() env.reset() end)

  local SUBMISSION_HEADER = "id,study_id,participant,status,started_at,completed_at,time_taken,"
    .. "reward,completion_code,bonus_count,bonus_total,bonus_payments"

  it("Export: a study's submissions to CSV and JSON Lines, chosen columns, an open file",
    function()
      local code = docblocks.under("docs/workbench.md", "Export: CSV and JSON Lines")
      local csv, people, jsonl = tmp(), tmp(), tmp()
      local printed, expected, stdout = run(code, {
        ["submissions.csv"] = csv, ["people.csv"] = people, ["submissions.jsonl"] = jsonl })
      assert.are.equal(2, #expected)
      assert.are.same(expected, printed)

      -- every submission of the study, one row each, with the Submission adapter's columns
      local header, rows = read_csv(slurp(csv))
      assert.are.equal(SUBMISSION_HEADER, header)
      local n = 0
      for _, count in pairs(statuses()) do n = n + count end
      assert.are.equal(45, n)
      assert.are.equal(n, #rows)
      local ids = {}
      for _, r in ipairs(rows) do
        assert.are.equal(STUDY, r.study_id)
        assert.are.equal("150", r.reward)                     -- minor units
        ids[r.id] = true
      end
      assert.falsy(exists(csv .. ".tmp"))

      -- the chosen and computed columns, CRLF line ends (RFC 4180)
      assert.are.equal("id,name,address.city,age_next_year\r\n1,Ada,London,37\r\n"
        .. "2,Alan,Wilmslow,42\r\n", slurp(people))

      -- one JSON object a line, the server's fields as they came: the same submissions
      local lines = 0
      for line in slurp(jsonl):gmatch("([^\n]*)\n") do
        lines = lines + 1
        local obj = core.decode(line)
        assert.are.equal(STUDY, obj.study_id)
        assert.truthy(ids[obj.id], obj.id)
        assert.truthy(obj.participant_id)
      end
      assert.are.equal(45, lines)

      -- the page went to the open file: a header and its 20 rows
      local page_header, page_rows = read_csv(stdout)
      assert.are.equal(SUBMISSION_HEADER, page_header)
      assert.are.equal(20, #page_rows)
    end)

  it("Submissions: details = true fills the bonus columns from each detail form", function()
    -- a bonus paid before the export, so the columns have something to show
    local p = env.prolific()
    local batch = assert(p.bonuses:setup { study = STUDY,
      bonuses = { { "60bf9a2c0a16dbeec342d142", 1.25 } } })
    assert(batch:pay())
    env.control("DELETE", "requests")
    local code = docblocks.under("docs/workbench.md", "Submissions")
    local csv = tmp()
    local printed, expected = run(code, { ["subs.csv"] = csv })
    assert.are.equal(1, #expected)
    assert.are.same(expected, printed)
    local header, rows = read_csv(slurp(csv))
    assert.are.equal(SUBMISSION_HEADER, header)
    assert.are.equal(45, #rows)
    -- each row's bonus columns are its submission's bonus payments in the sandbox's state
    local paid = {}
    for _, s in ipairs(env.control("GET", "state").submissions) do
      local list, sum = {}, 0
      for i, amount in ipairs(s.bonus_payments or {}) do
        list[i] = ("%d"):format(amount)
        sum = sum + amount
      end
      paid[s.id] = { tostring(#list), ("%d"):format(sum), table.concat(list, ";") }
    end
    for _, r in ipairs(rows) do
      assert.are.same(paid[r.id], { r.bonus_count, r.bonus_total, r.bonus_payments })
    end
    assert.are.same({ "1", "125", "125" }, paid["66300a1b01635f5553e5a684"])   -- paid above
    assert.are.same({ "2", "3536", "1000;2536" }, paid["625d4a831bcda2d59ac5a251"]) -- dataset's
    -- one request per row for the detail form
    assert.are.equal(45, sent("GET", "^/api/v1/submissions/[0-9a-f]+/$"))
  end)

  it("Adapters: a class of your own registers its export shape", function()
    local export = require "cohort.workbench.export"
    local code = docblocks.under("docs/workbench.md", "Adapters (survey responses)")
    local csv, jsonl = tmp(), tmp()
    local ok, err = pcall(function()
      local printed, expected = run(code, { ["paper.csv"] = csv, ["paper.jsonl"] = jsonl })
      assert.are.equal(3, #expected)
      assert.are.same(expected, printed)
      -- jsonl wrote what `record` returns: the id and answers, not the participant
      local records = {}
      for line in slurp(jsonl):gmatch("([^\n]*)\n") do
        records[#records + 1] = core.decode(line)
      end
      assert.are.same({ { id = "P1", answers = { Q1 = 1, Q2 = 2 } },
        { id = "P2", answers = { Q1 = 3 } } }, records)
      -- the default is labels (one column a question)
      local form = setmetatable({ id = "P3", participant_id = "x", answers = { Q1 = 2 } },
        { __name = "PaperResponse" })
      assert(export.csv({ form }, csv, { newline = "\n" }))
      assert.are.equal("id,participant_id,Q1,Q2\nP3,x,Sometimes,\n", slurp(csv))
      -- the prose after the block: another adapter's option raises
      local raised, msg = pcall(export.csv, { form }, csv, { details = true })
      assert.is_false(raised)
      assert.truthy(tostring(msg):find("option 'details' does not apply to PaperResponse items",
        1, true), tostring(msg))
    end)
    -- the adapter is the process's: other specs must not see it
    export.adapters.PaperResponse = nil
    if not ok then error(err, 0) end
  end)

  it("Progress: a bar of your own, drawn while approving each submission", function()
    local progress = require "cohort.prompt.progress"
    local code = docblocks.under("docs/workbench.md", "Progress")
    -- the bar is drawn only on a terminal: forced on, and drawn into a file put for io.stderr
    local err_path = tmp()
    local errf = assert(io.open(err_path, "w+b"))
    local stderr, default = io.stderr, progress.default
    local before = statuses()
    io.stderr, progress.default = errf, true
    local ok, printed, expected = pcall(run, code)
    io.stderr, progress.default = stderr, default
    errf:close()
    if not ok then error(printed, 0) end
    assert.are.equal(1, #expected)
    assert.are.same(expected, printed)
    local by = statuses()
    assert.are.equal(27, before["AWAITING REVIEW"])
    assert.is_nil(by["AWAITING REVIEW"])
    assert.are.equal(before.APPROVED + 27, by.APPROVED)
    -- the final state, ending the line
    local drawn = slurp(err_path)
    assert.truthy(drawn:find("\rapproving  27/27  %[#+%]  100%%  [^\n]* in 0:%d%d\27%[K\n$"),
      drawn)
  end)

  it("cohort.reconcile: who answered, who did not", function()
    local code = docblocks.under("docs/workbench.md", "`cohort.reconcile`")
    env.control("DELETE", "requests")
    local printed, expected = run(code)
    assert.are.equal(2, #expected)
    -- the loop prints a line a pair; the guide shows the first, and says how many
    assert.truthy(code:find("-- … one line a pair: 37 in all", 1, true))
    assert.are.equal(37 + 1, #printed)
    assert.are.equal(expected[1], printed[1])
    local shape = "^Submission %x+… [A-Z ]+ %(participant %x+…%)\tResponse %d+ "
    for i = 2, 37 do assert.truthy(printed[i]:find(shape), printed[i]) end
    assert.are.equal(expected[2], printed[38])
    -- it only reads
    for _, r in ipairs(env.requests()) do assert.are.equal("GET", r.method, r.path) end
  end)

  it("cohort.review: the plan as the guide prints it, then carried out with a journal",
    function()
      local code = docblocks.under("docs/workbench.md", "`cohort.review`")
      local journal = tmp()
      local before = statuses()
      local printed, expected, stdout = run(code,
        { ["cohort-60aca280709ee40ec37d4885.sqlite"] = journal })
      assert.are.equal(2, #expected)
      assert.are.same(expected, printed)

      -- every line of the plan the guide shows (but its "…" lines) is a line printed
      local guide = slurp(GUIDE)
      local at = assert(guide:find("The plan is printed as a table", 1, true))
      local shown = assert(guide:match("```\n(.-)```", at))
      local lines = {}
      for line in stdout:gmatch("([^\n]*)\n") do lines[line] = true end
      local n = 0
      for line in shown:gmatch("([^\n]*)\n") do
        if line ~= "…" then
          n = n + 1
          assert.truthy(lines[line], "not printed: " .. line .. "\n" .. stdout)
        end
      end
      assert.are.equal(7, n)

      -- carried out: 19 approved and 8 rejected of the 27, 8 bonuses of £0.50 paid
      local by = statuses()
      assert.is_nil(by["AWAITING REVIEW"])
      assert.are.equal(before.APPROVED + 19, by.APPROVED)
      assert.are.equal(before.REJECTED + 8, by.REJECTED)
      local ledger = env.control("GET", "ledger?kind=bonus").ledger
      local bonuses = 0
      for _, e in ipairs(ledger) do
        assert.are.equal(50, e.amount)
        bonuses = bonuses + 1
      end
      assert.are.equal(8, bonuses)
      -- the journal is a store the sqlite3 tool reads: the run finished
      assert.are.equal("0\n", sqlite(journal,
        "SELECT count(*) FROM journal_state WHERE last_phase = 'intent'"))
      assert.truthy(tonumber(sqlite(journal, "SELECT count(*) FROM journal_runs")) > 0)
    end)

  it("approve_all and reject_all: counts, and a journal that does nothing twice", function()
    local code = docblocks.under("docs/workbench.md",
      "Approving and rejecting many: `approve_all`, `reject_all`")
    local journal = tmp()
    -- `journal = true` and its name written out are both cohort-<study>.sqlite in the current
    -- directory: one temporary path for both
    local before = statuses()
    local printed, expected = run(code, { ["journal = true"] = ("journal = %q"):format(journal),
      ['"cohort-" .. STUDY .. ".sqlite"'] = ("%q"):format(journal) })
    assert.are.equal(3, #expected)
    assert.are.same(expected, printed)
    local by = statuses()
    assert.is_nil(by["AWAITING REVIEW"])
    assert.are.equal(before.APPROVED + 20, by.APPROVED)
    assert.are.equal(before.REJECTED + 7, by.REJECTED)
    -- one bulk-approve request, 7 transitions: the second reject_all sent none
    assert.are.equal(1, sent("POST", "^/api/v1/submissions/bulk%-approve/$"))
    assert.are.equal(7, sent("POST", "/transition/$"))
    assert.are.equal("approve|1\nreject|7\n", sqlite(journal,
      "SELECT step, count(*) FROM journal_state WHERE ok = 1 GROUP BY step ORDER BY step"))
  end)

  it("The store: a table of your own in the study's store", function()
    local code = docblocks.under("docs/workbench.md", "The store and the journal")
    local store = tmp()
    -- Store.open(nil, …) is cohort-<study>.sqlite in the current directory
    local printed, expected = run(code, { ["Store.open(nil,"] = ("Store.open(%q,"):format(store) })
    assert.are.equal(1, #expected)
    assert.are.same(expected, printed)
    assert.are.equal("1|pilot done\n2|wave 1 opened\n",
      sqlite(store, "SELECT id, text FROM notes ORDER BY id"))
    assert.are.equal("notes|1\n", sqlite(store, "SELECT owner, version FROM cohort_owners"))
    assert.are.equal(STUDY .. "\n",
      sqlite(store, "SELECT value FROM cohort_meta WHERE key = 'study'"))
    assert.are.equal("", sqlite(store, "SELECT pid FROM cohort_holder"))   -- closed: no holder
  end)

  it("Exporting survey responses: QuestionPro's and Prolific's, labels, both, codes", function()
    local code = docblocks.under("docs/workbench.md", "Exporting survey responses")
    local qp, both, pro = tmp(), tmp(), tmp()
    local printed, expected = run(code, { ["qp.csv"] = qp, ["qp-both.csv"] = both,
      ["prolific.csv"] = pro })
    assert.are.equal(3, #expected)
    assert.are.same(expected, printed)
    local fixed = "responseID,surveyID,responseStatus,timestamp,time_utc,timeTaken,"
      .. "custom1,custom2,custom3,custom4,custom5,"
    local header, rows = read_csv(slurp(qp))
    assert.are.equal(fixed .. "Q1,Q2_1,Q2_2,Q2_3,Q2_4", header)
    assert.are.equal(37, #rows)
    assert.are.same({ "90000001", "Always", "60bf9a2c0a16dbeec342d142" },
      { rows[1].responseID, rows[1].Q1, rows[1].custom1 })
    header, rows = read_csv(slurp(both))
    assert.are.equal(fixed .. "Q1_code,Q1_label,Q2_1_code,Q2_1_label,Q2_2_code,Q2_2_label,"
      .. "Q2_3_code,Q2_3_label,Q2_4_code,Q2_4_label", header)
    assert.are.equal(37, #rows)
    assert.are.same({ "1", "Always", "P001", "P001" },
      { rows[1].Q1_code, rows[1].Q1_label, rows[1].Q2_2_code, rows[1].Q2_2_label })
    header, rows = read_csv(slurp(pro))
    assert.are.equal("id,participant_id,submission_id,date_created,How do you sleep?", header)
    assert.are.equal(1, #rows)
    assert.are.same({ "60bf9310e8dec401be6e9615", "625d4a831bcda2d59ac5a251", "2" },
      { rows[1].participant_id, rows[1].submission_id, rows[1]["How do you sleep?"] })
  end)
end)
