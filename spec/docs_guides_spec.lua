-- The ```lua blocks of docs/async.md, docs/questionpro.md and docs/reliability.md that no other
-- spec runs, each taken from the guide itself (support.docblocks), run against the sandbox with
-- what it prints recorded, and checked twice: what it printed is what its `-->` comments say,
-- and it did what it says (the requests the sandbox saw, the sandbox's state, files written).
--
-- The blocks are written for a new user: `cohort.prolific()` and `cohort.questionpro()` take
-- their credentials from $PROLIFIC_TOKEN/$PROLIFIC_URL and $QUESTIONPRO_API_KEY/$QUESTIONPRO_URL.
-- A spec cannot set the environment of its own process, so the substitutions below hand those
-- same calls the sandbox's token or key and URL; every other substitution says why it is made.
-- In a `-->` comment, "…" stands for any text (an address that differs from run to run); a
-- tab stands for print's tab.
--
-- Already run elsewhere, so not here: the second block of async.md's "The rules" section
-- (spec/async_spec.lua), reliability.md's "The money guard" (spec/money_guard_spec.lua);
-- spec/questionpro_spec.lua reads the guide's operations table, not a block.
describe("the examples of docs/async.md, docs/questionpro.md, docs/reliability.md", function()
  local env = require "support.env"
  local docblocks = require "support.docblocks"
  local core = require "cohort.core"
  local STUDY = "60aca280709ee40ec37d4885"   -- the sandbox's ACTIVE study, 45 submissions
  local SURVEY = 7654321                     -- the sandbox's QuestionPro survey, 37 responses
  local QP = "/a/api/v2"
  local sb

  setup(function() sb = env.sandbox() end)
  before_each(function() env.reset() end)
  teardown(function() env.reset() end)

  -- ------------------------------------------------------------------ helpers

  -- the client a block makes from the environment → the same client on the sandbox
  local function prolific_subs(extra)
    local subs = { ['require("cohort").prolific()'] =
      ("require(\"cohort\").prolific{ token = %q, base_url = %q }"):format(sb.token, sb.url) }
    for k, v in pairs(extra or {}) do subs[k] = v end
    return subs
  end

  local function creds() return ("api_key = %q, base_url = %q"):format(sb.api_key, sb.url) end

  local function questionpro_subs(extra)
    local subs = { ["questionpro()"] = "questionpro{ " .. creds() .. " }" }
    for k, v in pairs(extra or {}) do subs[k] = v end
    return subs
  end

  local pattern = require("support.docblocks").pattern

  -- printed[1..#expected] are the `-->` lines, in order; `n` lines in all (default #expected)
  local function prints(expected, printed, n)
    assert.is_true(#expected > 0, "the block has no --> comment")
    for i, want in ipairs(expected) do
      assert.is_truthy(printed[i] and printed[i]:find(pattern(want)),
        ("line %d: the guide says %q, the block printed %q"):format(i, want, tostring(printed[i])))
    end
    assert.are.equal(n or #expected, #printed, "lines printed:\n" .. table.concat(printed, "\n"))
  end

  -- the sandbox's request log, as "METHOD path status" lines, those whose path matches `pat`
  local function seen(pat)
    local out = {}
    for _, r in ipairs(env.requests()) do
      if r.path:find(pat) then out[#out + 1] = ("%s %s %d"):format(r.method, r.path, r.status) end
    end
    return out
  end

  local function count(list, pat)
    local n = 0
    for _, v in ipairs(list) do if v:find(pat) then n = n + 1 end end
    return n
  end

  local function tmp_store()
    local path = os.tmpname()
    os.remove(path) -- a new store, made by the first call that opens it
    return path
  end

  local remove_store = require("support.env").remove_store

  local exists = require("support.env").exists

  -- ------------------------------------------------------------------ docs/async.md

  it("async.md, The rules: a callback that raises is reported by poll()", function()
    local code = docblocks.under("docs/async.md", "The rules: callbacks, errors, close", 1)
    local printed, expected = docblocks.run(code, prolific_subs())
    -- no `-->` (spec/async_spec.lua checks every line of this section is its own, comments too):
    -- what it prints is the plain comment on the print, up to its "…", after the place of the
    -- poll() that raised (line 5), as Lua prefixes an error
    assert.are.equal(0, #expected)
    local shown = assert(code:match("print%(err%) end%s+%-%- ([^\n]-) …\n"))
    assert.are.equal(1, #printed)
    assert.are.equal("(docs example):5: " .. shown, printed[1]:sub(1, #shown + 18))
    assert.matches("^%(docs example%):5: cohort: p:poll%(%): a task's on_done callback "
      .. "raised an error: %(docs example%):3: the welcome screen broke for "
      .. "60a42f4c693c29420793cb73\nstack traceback:\n", printed[1])
    assert.are.same({ "GET /api/v1/users/me/ 200" }, seen("^/api/v1/"))
  end)

  it("async.md, In a frame loop: every trial is saved while the loop goes on", function()
    local p = env.prolific()
    local me = assert(p.users:me())
    local survey = assert(p.surveys:create { researcher_id = me.id, title = "Reaction time",
      questions = { { title = "Reaction time", type = "single",
        answers = { { value = "< 300 ms" }, { value = "300 ms or more" } } } } })
    local id = survey._id or survey.id
    env.control("DELETE", "requests")
    local code = docblocks.under("docs/async.md", "In a frame loop")
    -- "your survey's id" → the survey made above, as the guide describes it; the loop ends by
    -- itself (its stand-in game quits once the five trials are saved)
    local placeholder = assert(code:match('p%.surveys:get%("(%x+)"%)'))
    local printed, expected = docblocks.run(code, prolific_subs { [placeholder] = id })
    prints(expected, printed)
    assert.are.same({ "5 trials saved" }, expected)
    local posts = count(seen("^/api/v1/"), "^POST /api/v1/surveys/" .. id .. "/responses/ 201$")
    assert.are.equal(5, posts)
    -- reaction times 0.1 … 0.5 s: two under 300 ms, three not
    local summary = assert(p.surveys:summary(id))
    local counts = {}
    for _, a in ipairs(summary.questions[1].answers) do counts[a.answer] = a.count end
    assert.are.same({ ["< 300 ms"] = 2, ["300 ms or more"] = 3 }, counts)
  end)

  it("async.md, In a host with its own event loop: the callback runs from its timer", function()
    -- the host: `timer.every(dt, fn)` keeps fn, which the spec then calls as the host's timer
    -- would, until the callback has printed (a bound: 5 s)
    local ticks = {}
    assert.is_nil(rawget(_G, "timer"))
    _G.timer = { every = function(dt, fn) ticks[#ticks + 1] = { dt = dt, fn = fn } end }
    finally(function() _G.timer = nil end)
    local code = docblocks.under("docs/async.md", "In a host with its own event loop")
    local printed, expected = docblocks.run(code, prolific_subs())
    assert.are.equal(1, #ticks)
    assert.are.equal(0.016, ticks[1].dt)
    local deadline = core.monotime() + 5
    while #printed == 0 and core.monotime() < deadline do
      ticks[1].fn()
      core.sleep(0.016)
    end
    prints(expected, printed)
    assert.are.same({ "GET /api/v1/users/me/ 200" }, seen("^/api/v1/"))
  end)

  it("async.md, Bulk work: map gives every value and every error in input order", function()
    local printed, expected = docblocks.run(docblocks.under("docs/async.md", "Bulk work"),
      prolific_subs())
    prints(expected, printed)
    local gets = seen("^/api/v1/submissions/%x+/$")
    assert.are.equal(46, #gets)   -- the study's 45 and the one that does not exist
    assert.are.equal(45, count(gets, " 200$"))
    local failed = {}
    for _, g in ipairs(gets) do if not g:find(" 200$") then failed[#failed + 1] = g end end
    assert.are.same({ "GET /api/v1/submissions/000000000000000000000000/ 404" }, failed)
  end)

  -- ------------------------------------------------------------------ docs/questionpro.md

  it("questionpro.md, QuestionPro with cohort: every response of the survey", function()
    -- the key from the environment → the sandbox's; the eu data centre is kept and the
    -- sandbox's URL given as well, since an explicit base_url wins over datacenter
    local code = docblocks.under("docs/questionpro.md", "QuestionPro with cohort")
    local printed, expected = docblocks.run(code, {
      ['os.getenv("QUESTIONPRO_API_KEY")'] = ("%q"):format(sb.api_key),
      ['datacenter = "eu"'] = ('datacenter = "eu", base_url = %q'):format(sb.url),
    })
    assert.are.equal(2, #expected)
    prints(expected, printed, 37)  -- the guide's first lines, then a line for each response
    -- each: the response's id and custom1, then its time in UTC (nil for IST, which is
    -- ambiguous) and its answer to Q1
    local stored = env.control("GET", "state").questionpro.responses[tostring(SURVEY)]
    for i, line in ipairs(printed) do
      local r = stored[i]
      local time = line:match("^" .. r.responseID .. "\t" .. r.customVariables.custom1
        .. "\t(%S+)\t%a+$")
      assert.is_truthy(time, line)
      if r.timestamp:find(" IST$") then
        assert.are.equal("nil", time)
      else
        assert.matches("^2024%-05%-%d%dT%d%d:%d%d:%d%dZ$", time)
      end
    end
    local log = seen("^" .. QP)
    assert.are.same({ "GET " .. QP .. "/surveys/7654321 200",
      "GET " .. QP .. "/surveys/7654321/responses 200" }, log)
  end)

  it("questionpro.md, Surveys: the user's surveys and a survey's questions", function()
    local printed, expected = docblocks.run(docblocks.under("docs/questionpro.md", "Surveys"),
      questionpro_subs())
    prints(expected, printed)
    assert.are.same({
      "GET " .. QP .. "/users/5551234/surveys 200",    -- list
      "GET " .. QP .. "/users/5551234/surveys 200",    -- each
      "GET " .. QP .. "/users/5551234/surveys 200",    -- all
      "GET " .. QP .. "/surveys/7654321 200",
      "GET " .. QP .. "/surveys/7654321/questions 200",
    }, seen("^" .. QP))
  end)

  it("questionpro.md, Responses: each deletes every response, though the pages move", function()
    local printed, expected = docblocks.run(docblocks.under("docs/questionpro.md", "Responses", 1),
      questionpro_subs())
    prints(expected, printed)
    local log = seen("^" .. QP)
    assert.are.equal(37, count(log, "^DELETE " .. QP .. "/surveys/7654321/responses/9%d+ 200$"))
    local st = env.control("GET", "state").questionpro
    assert.are.equal(0, #st.responses[tostring(SURVEY)])
    assert.are.equal(5, #st.responses["7654322"])   -- the other survey is untouched
  end)

  it("questionpro.md, Responses: filters by custom variable and by dates", function()
    local responses = assert(env.questionpro().responses:all(SURVEY))
    env.control("DELETE", "requests")
    local printed, expected = docblocks.run(docblocks.under("docs/questionpro.md", "Responses", 2),
      questionpro_subs())
    prints(expected, printed)
    -- the filters as sent, in the API's names
    local bodies = {}
    for _, r in ipairs(env.requests()) do
      assert.are.equal("POST " .. QP .. "/surveys/7654321/responses/filter 200",
        ("%s %s %d"):format(r.method, r.path, r.status))
      bodies[#bodies + 1] = core.decode(r.body)
    end
    assert.are.same({ { custom1 = "60bf9310e8dec401be6e9615" },
      { startDate = "2024-05-01", endDate = "2024-05-07", timeZone = "UTC",
        resultMode = "2" } }, bodies)   -- "completed", in the API's code
    -- the count the guide shows, from the responses themselves: completed, dated in that week
    local parse = require("cohort.questionpro.responses").parse_timestamp
    local week = 0
    for _, r in ipairs(responses) do
      local t = parse(r.timestamp, { IST = 330 })
      if r.responseStatus == "Completed" and t.utc >= "2024-05-01" and t.utc < "2024-05-08" then
        week = week + 1
      end
    end
    assert.are.equal(tostring(week), printed[1]:match("\t(%d+)$"))
  end)

  it("questionpro.md, Timestamps and time zones: an ambiguous zone, then decided", function()
    -- the client made with time_zones gets the sandbox's key and URL too (the same words in
    -- the `-->` line, the advice of time_error, are left alone)
    local code = docblocks.under("docs/questionpro.md", "Timestamps and time zones")
    local printed, expected = docblocks.run(code, questionpro_subs {
        ["local q = cohort.questionpro{ time_zones"] =
          "local q = cohort.questionpro{ " .. creds() .. ", time_zones" })
    prints(expected, printed)
    assert.are.same({ "GET " .. QP .. "/surveys/7654321/responses/90000007 200",
      "GET " .. QP .. "/surveys/7654321/responses/90000007 200" }, seen("^" .. QP))
  end)

  it("questionpro.md, Errors: a response that does not exist", function()
    local printed, expected = docblocks.run(docblocks.under("docs/questionpro.md", "Errors"),
      questionpro_subs())
    prints(expected, printed)
    assert.are.same({ "GET " .. QP .. "/surveys/7654321/responses/90000099 404" }, seen("^" .. QP))
  end)

  it("questionpro.md, Errors: over the call limit, it waits what the server says", function()
    -- the sandbox's limit set to one call a minute, and that call made: the block's is refused
    env.control("POST", "questionpro/rate-limit", { limit = 1, window = 60 })
    assert(env.questionpro().surveys:get(SURVEY))
    env.control("DELETE", "requests")
    -- the block's own sleep prints how long it would sleep instead, so the spec does not wait
    -- a minute
    local printed = docblocks.run(docblocks.under("docs/questionpro.md", "Errors"),
      questionpro_subs { ['os.execute("sleep " .. tonumber(s))'] = 'print("sleep", s)' })
    assert.are.equal(1, #printed)
    local s = tonumber(printed[1]:match("^sleep\t(%d+)$"))
    assert.is_truthy(s and s >= 59 and s <= 60, printed[1])
    -- one attempt: a Retry-After past the retry budget is returned at once, not waited for
    assert.are.same({ "GET " .. QP .. "/surveys/7654321/responses/90000099 429" }, seen("^" .. QP))
  end)

  -- ------------------------------------------------------------------ docs/reliability.md

  it("reliability.md, The journal: a payment, approvals and a rejection, journaled", function()
    -- `journal = true` is cohort-<study id>.sqlite in the current directory (the repository
    -- here): both names of that file → a temporary path
    local dir = os.getenv("COHORT_STORE_DIR")
    local default = (dir and dir:gsub("/+$", "") .. "/" or "") .. "cohort-" .. STUDY .. ".sqlite"
    assert.are.equal(default, require("cohort.workbench.store").default_path(STUDY))
    assert.is_false(exists(default))
    local path = tmp_store()
    finally(function() remove_store(path) end)
    local p = env.prolific()
    local waiting = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local printed, expected = docblocks.run(docblocks.under("docs/reliability.md", "The journal"),
      prolific_subs {
        ["journal = true"] = ("journal = %q"):format(path),
        ['"cohort-" .. study.id .. ".sqlite"'] = ("%q"):format(path),
      })
    prints(expected, printed)
    assert.is_false(exists(default))
    -- the bonuses: 0.50 to the first submission's participant, 1.25 to the second's
    local ledger = assert(sb:ledger { kind = "bonus" })
    local paid = {}
    for _, e in ipairs(ledger) do paid[e.participant_id] = e.amount end
    assert.are.same({ [waiting[1].participant_id] = 50, [waiting[2].participant_id] = 125 }, paid)
    -- the transitions
    for i, want in pairs { [3] = "APPROVED", [4] = "APPROVED", [5] = "REJECTED" } do
      assert.are.equal(want, assert(p.submissions:get(waiting[i].id)).status)
    end
    for i = 6, #waiting do
      assert.are.equal("AWAITING REVIEW", assert(p.submissions:get(waiting[i].id)).status)
    end
    -- one journal holds every step of the three calls, each with its outcome
    local j = assert(require("cohort.workbench.journal").open(path))
    local steps = {}
    for _, k in ipairs(j.order) do
      local rec = j.outcomes[k]
      assert.is_truthy(rec and rec.ok, "a step without a good outcome: " .. k)
      steps[rec.step] = (steps[rec.step] or 0) + 1
    end
    local rejected = j:outcome("reject:" .. waiting[5].id, "reject")
    j:close()
    assert.are.same({ setup = 1, pay = 1, approve = 1, reject = 1 }, steps)
    assert.is_true(rejected.ok)
  end)
end)
