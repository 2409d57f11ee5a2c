-- Iteration that survives the caller's own changes (issue #13 point 1), on both paging styles
-- and both platforms, over real HTTP: a loop that approves, rejects, returns or deletes what it
-- is given shrinks the list under its own feet; each/all still yield every item that matched
-- when the iteration began, exactly once. Also: relative `next` links, links to another
-- origin, and malformed list envelopes (a scripted server, spec/support/lists/).
describe("paging", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local Error = cohort.Error
  local STUDY = "60aca280709ee40ec37d4885" -- 45 submissions, 27 AWAITING REVIEW
  local SURVEY = 7654321                   -- QuestionPro: 37 responses
  local MESSAGE = ("This submission did not follow the instructions of the study, so it "
    .. "cannot be approved; thank you for your time."):rep(1)

  before_each(function() env.reset() end)
  teardown(function() env.reset() end)

  local function pending(p, study)
    return assert(p.submissions:all { study = study or STUDY, status = "AWAITING REVIEW" })
  end

  -- The README's quick start, as written there (print recorded).
  local function quick_start(p, study)
    local printed = {}
    local function print(s) printed[#printed + 1] = tostring(s) end
    for sub in p.submissions:each { study = study, status = "AWAITING REVIEW" } do
      print(sub)                                --> Submission 625d4a83… AWAITING REVIEW (participant 60bf9310…)
      local ok, err = sub:approve()
      if not ok then print("not approved: " .. tostring(err)) end
    end
    return printed
  end

  -- Seed the sandbox (through its control API) with `n` more AWAITING REVIEW submissions of
  -- STUDY, so that the list spans many pages.
  local function seed_pending(n)
    local state = env.control("GET", "state")
    for i = 1, n do
      state.submissions[#state.submissions + 1] = {
        id = ("64f1%020x"):format(i), study_id = STUDY, participant_id = ("64f2%020x"):format(i),
        status = "AWAITING REVIEW", started_at = "2024-05-01T10:00:00.000000Z",
        completed_at = "2024-05-01T10:10:00.000000Z", study_code = "8E8AC860",
        time_taken = 600, reward = 150, bonus_payments = {} }
    end
    env.control("POST", "seed", state)
  end

  describe("page + page_size (Prolific submissions)", function()
    it("the README quick start approves 27 of 27, one page of 20 and a second", function()
      local p = env.prolific()
      assert.are.equal(27, #pending(p))
      env.control("DELETE", "requests")
      local printed = quick_start(p, STUDY)
      assert.are.equal(27, #printed)
      for _, line in ipairs(printed) do -- a submission yielded twice would fail to approve again
        assert.matches("^Submission %x+… AWAITING REVIEW %(participant %x+…%)$", line)
      end
      local approvals = 0
      for _, r in ipairs(env.requests()) do
        if r.method == "POST" and r.path:find("/transition/$") then approvals = approvals + 1 end
      end
      assert.are.equal(27, approvals)
      assert.are.equal(0, #pending(p))
    end)

    it("approves every one of 97 across pages of 20, 7 and 1, each yielded once", function()
      for _, size in ipairs { 20, 7, 1 } do
        env.reset()
        seed_pending(70)
        local p = env.prolific { page_size = size }
        local want = {}
        for _, s in ipairs(pending(p)) do want[s.id] = true end
        local n, seen = 0, {}
        for sub in p.submissions:each { study = STUDY, status = "AWAITING REVIEW" } do
          assert.is_nil(seen[sub.id], "yielded twice")
          assert.is_true(want[sub.id], "not in the list at the start")
          seen[sub.id], n = true, n + 1
          assert(sub:approve())
        end
        assert.are.equal(97, n, "page size " .. size)
        assert.are.equal(0, #pending(p))
      end
    end)

    it("approves every other one: the rest stay, nothing twice, nothing missed", function()
      local p = env.prolific { page_size = 5 }
      local n, approved, seen = 0, 0, {}
      for sub in p.submissions:each { study = STUDY, status = "AWAITING REVIEW" } do
        assert.is_nil(seen[sub.id], "yielded twice")
        seen[sub.id], n = true, n + 1
        if n % 2 == 1 then assert(sub:approve()); approved = approved + 1 end
      end
      assert.are.equal(27, n)
      assert.are.equal(27 - approved, #pending(p))
    end)

    it("rejects and asks for returns inside the loop, on a study's own list", function()
      local p = env.prolific { page_size = 4 }
      local study = assert(p.studies:get(STUDY))
      local n, seen = 0, {}
      for sub in study:each_submission { status = "AWAITING REVIEW" } do
        assert.is_nil(seen[sub.id], "yielded twice")
        seen[sub.id], n = true, n + 1
        if n % 3 == 0 then
          assert(sub:request_return { "Withdrew consent." })
          assert(sub:approve()) -- a return request leaves it awaiting review
        else
          assert(sub:reject { message = MESSAGE, category = "FAILED_INSTRUCTIONS" })
        end
      end
      assert.are.equal(27, n)
      assert.are.equal(0, #pending(p))
    end)

    it("items others take out of the list are not yielded, and nothing twice", function()
      local p = env.prolific { page_size = 5 }
      local other = env.prolific()
      local ids = {}
      for _, s in ipairs(pending(p)) do ids[#ids + 1] = s.id end
      local taken = {}
      local n, seen = 0, {}
      for sub in p.submissions:each { study = STUDY, status = "AWAITING REVIEW" } do
        assert.is_nil(seen[sub.id], "yielded twice")
        assert.is_nil(taken[sub.id], "yielded one that left the list before it was reached")
        seen[sub.id], n = true, n + 1
        if n == 1 then -- someone else approves the last three, not reached yet
          for i = #ids - 2, #ids do
            assert(other.submissions:transition(ids[i], { action = "APPROVE" }))
            taken[ids[i]] = true
          end
        end
        assert(sub:approve())
      end
      assert.are.equal(24, n)
      assert.are.equal(0, #pending(p))
    end)

    it("all{} still gives every item, and the whole list when nothing changes", function()
      local p = env.prolific { page_size = 6 }
      local all = assert(p.submissions:all { study = STUDY })
      assert.are.equal(45, #all)
      local ids = {}
      for _, s in ipairs(all) do
        assert.is_nil(ids[s.id])
        ids[s.id] = true
      end
    end)

    it("the pages' quirks still hold: a repeated next link, overlapping pages, next on the last", function()
      local p = env.prolific { page_size = 10 }
      for _, quirk in ipairs { { repeat_next = true }, { overlap = 2 }, { next_on_last = true } } do
        env.control("POST", "quirks", quirk)
        local n, seen = 0, {}
        for sub in p.submissions:each { study = STUDY, status = "AWAITING REVIEW" } do
          assert.is_nil(seen[sub.id], "yielded twice")
          seen[sub.id], n = true, n + 1
          assert(sub:approve())
        end
        assert.are.equal(27, n)
        env.reset()
      end
    end)
  end)

  describe("offset + limit (Prolific survey responses)", function()
    local function survey_with(p, n)
      local me = assert(p.users:me())
      local survey = assert(p.surveys:create { researcher_id = me.id, title = "Delete me",
        questions = { { title = "Ready?", type = "single", answers = { { value = "Yes" }, { value = "No" } } } } })
      local subs = assert(p.submissions:all { study = STUDY })
      local bodies = {}
      for i = 1, n do
        bodies[i] = { participant_id = subs[i].participant_id, submission_id = subs[i].id,
          questions = { { question_id = survey.questions[1].id, question_title = "Ready?",
            answers = { { answer_id = survey.questions[1].answers[1].id, value = "Yes" } } } } }
      end
      local saved, errors = p.surveys:add_responses(survey._id, bodies)
      assert.are.equal(0, errors.count)
      assert.are.equal(n, saved.n)
      return survey
    end

    it("deleting every response inside the loop deletes all 23, pages of 3", function()
      local p = env.prolific()
      local survey = survey_with(p, 23)
      local n, seen = 0, {}
      for r in p.surveys:each_responses(survey._id, { limit = 3 }) do
        local id = r._id or r.id
        assert.is_nil(seen[id], "yielded twice")
        seen[id], n = true, n + 1
        assert(p.surveys:delete_response(survey._id, id))
      end
      assert.are.equal(23, n)
      assert.are.equal(0, #assert(p.surveys:all_responses(survey._id)))
    end)

    it("deleting every other response: each yielded once, the rest stay", function()
      local p = env.prolific()
      local survey = survey_with(p, 17)
      local n, deleted, seen = 0, 0, {}
      for r in survey:responses { limit = 4 } do
        local id = r._id or r.id
        assert.is_nil(seen[id], "yielded twice")
        seen[id], n = true, n + 1
        if n % 2 == 0 then assert(p.surveys:delete_response(survey._id, id)); deleted = deleted + 1 end
      end
      assert.are.equal(17, n)
      assert.are.equal(17 - deleted, #assert(p.surveys:all_responses(survey._id)))
    end)
  end)

  describe("QuestionPro responses (page + perPage)", function()
    it("deleting every response inside the loop deletes all 37, pages of 10", function()
      local q = env.questionpro()
      local n, seen = 0, {}
      for resp in q.responses:each(SURVEY, { per_page = 10 }) do
        assert.is_nil(seen[resp.responseID], "yielded twice")
        seen[resp.responseID], n = true, n + 1
        assert.is_true(resp:delete())
      end
      assert.are.equal(37, n)
      assert.are.equal(0, #assert(q.responses:all(SURVEY)))
    end)

    it("deleting some on a survey's iterator and in a filtered list, each yielded once", function()
      local q = env.questionpro { page_size = 6 }
      local survey = assert(q.surveys:get(SURVEY))
      local n, seen = 0, {}
      for resp in survey:each_response() do
        assert.is_nil(seen[resp.responseID], "yielded twice")
        seen[resp.responseID], n = true, n + 1
        if n % 3 ~= 0 then assert(resp:delete()) end
      end
      assert.are.equal(37, n)
      local left = assert(q.responses:all(SURVEY))
      assert.are.equal(12, #left)
      -- the filtered list (a POST that pages) survives deletions too
      local completed = assert(q.responses:all_filter(SURVEY, { result_mode = "completed", per_page = 2 }))
      local m, seen2 = 0, {}
      for resp in q.responses:each_filter(SURVEY, { result_mode = "completed", per_page = 2 }) do
        assert.is_nil(seen2[resp.responseID], "yielded twice")
        seen2[resp.responseID], m = true, m + 1
        assert(resp:delete())
      end
      assert.are.equal(#completed, m)
    end)

    it("every page of a filtered list is retried, not only the first", function()
      local q = env.questionpro { retry_base = 0.01, retry_cap = 0.02 }
      local n = 0
      for _ in q.responses:each_filter(SURVEY, { result_mode = "all", per_page = 10 }) do
        n = n + 1
        if n == 1 then -- page 2 and later: the next two requests fail with 503
          env.control("POST", "faults", { rules = { { method = "POST",
            path = "/a/api/v2/surveys/7654321/responses/filter", fault = "503", times = 2 } } })
        end
      end
      assert.are.equal(37, n)
      assert.are.equal(2, env.control("GET", "faults").rules[1].hits)
      env.control("DELETE", "faults")
    end)
  end)

  describe("links and envelopes", function()
    local lists, c

    setup(function()
      -- the sandbox program with the scripted list server first on its path
      local saved = package.path
      package.path = "spec/support/lists/?.lua;" .. package.path
      lists = assert(require("cohort.sandbox").start {})
      package.path = saved
      c = cohort.prolific { token = "lists-token", base_url = lists.url }
    end)

    teardown(function() if lists then lists:stop() end end)

    local S = dofile("spec/support/lists/cohort/sandbox/server.lua")

    it("follows relative next links on the same origin (a path, then a query)", function()
      local ids = {}
      for sub in c.submissions:each { study = S.RELATIVE } do ids[#ids + 1] = sub.id end
      assert.are.equal(7, #ids)
      local page = assert(c.submissions:list { study = S.RELATIVE })
      assert.are.equal(lists.url .. "/api/v1/submissions/?study=" .. S.RELATIVE .. "&page=2", page.next)
      assert.are.equal(7, #assert(c.submissions:all { study = S.RELATIVE }))
    end)

    it("refuses a next link to another origin", function()
      local n = 0
      local ok, err = pcall(function()
        for _ in c.submissions:each { study = S.AWAY } do n = n + 1 end
      end)
      assert.is_false(ok)
      assert.is_true(Error.is(err))
      assert.are.equal("decode", err.kind)
      assert.matches("leaves the API's origin", err.message)
      assert.are.equal(3, n) -- the first page's items, then the refusal
    end)

    it("a malformed list envelope is a decode error: nil, err from list; each raises it", function()
      for _, study in ipairs { S.RESULTS_5, S.ITEMS, S.ARRAY } do
        local page, err = c.submissions:list { study = study }
        assert.is_nil(page)
        assert.is_true(Error.is(err), study)
        assert.are.equal("decode", err.kind)
        local ok, raised = pcall(function() for _ in c.submissions:each { study = study } do end end)
        assert.is_false(ok)
        assert.is_true(Error.is(raised))
        assert.are.equal("decode", raised.kind)
        local all, aerr = c.submissions:all { study = study }
        assert.is_nil(all)
        assert.are.equal("decode", aerr.kind)
      end
      local _, err = c.submissions:list { study = S.RESULTS_5 }
      assert.matches('the list "results" is a number, not an array', err.message, 1, true)
      -- a count that is not a number is a hint lost, not a broken list: the items still come
      local page = assert(c.submissions:list { study = S.COUNT })
      assert.is_nil(page.count)
      assert.are.same({}, assert(c.submissions:all { study = S.COUNT }))
    end)
  end)
end)
