-- cohort.workbench.reconcile: Prolific submissions joined with QuestionPro responses (custom1) and with
-- Prolific survey responses (participant_id), duplicates, orphans, the `by` key, and the
-- failure and misuse paths — against the sandbox.
describe("cohort.reconcile", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local STUDY = "60aca280709ee40ec37d4885"
  local SURVEY = 7654321
  local SEED_PARTICIPANT = "60bf9310e8dec401be6e9615"
  local p, q

  setup(function()
    env.reset()
    p, q = env.prolific(), env.questionpro()
  end)

  it("joins a study's submissions with QuestionPro responses by custom1", function()
    local r = assert(cohort.reconcile {
      submissions = p.submissions:each { study = STUDY },
      responses = q.responses:each(SURVEY),
    })
    assert.are.equal(37, #r.pairs)          -- the survey has 37 responses, one per participant
    assert.are.equal(8, #r.missing_response) -- the study's last 8 submissions did not answer
    assert.are.equal(0, #r.orphan_responses)
    assert.are.equal(0, #r.duplicates)
    local seed
    for _, pair in ipairs(r.pairs) do
      assert.are.equal(pair.submission.participant_id, pair.response.custom.custom1)
      assert.are.equal(pair.participant_id, pair.submission.participant_id)
      assert.is_false(pair.duplicate)
      assert.are.equal(1, #pair.responses)
      if pair.participant_id == SEED_PARTICIPANT then seed = pair end
    end
    assert.are.equal(90000003, seed.response.responseID)
    for _, s in ipairs(r.missing_response) do assert.are.equal(STUDY, s.study_id) end
  end)

  it("joins Prolific survey responses by participant_id, keeping and flagging duplicates", function()
    local me = assert(p.users:me())
    local survey = assert(p.surveys:create { researcher_id = me.id, title = "Reconcile",
      questions = { { title = "Colour?", type = "single",
        answers = { { value = "Red" }, { value = "Blue" } } } } })
    local subs = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local function answer(sub, colour)
      return assert(survey:add_response { participant_id = sub.participant_id,
        submission_id = sub.id, answers = { ["Colour?"] = colour } })
    end
    answer(subs[1], "Red")
    answer(subs[2], "Blue")
    answer(subs[2], "Red")            -- the same participant twice
    answer({ participant_id = "0123456789abcdef01234567", id = "0123456789abcdef01234568" }, "Red")
    local r = assert(cohort.reconcile { submissions = subs, responses = survey:responses() })
    assert.are.equal(2, #r.pairs)
    assert.are.equal(#subs - 2, #r.missing_response)
    assert.are.equal(1, #r.orphan_responses)
    assert.are.equal("0123456789abcdef01234567", r.orphan_responses[1].participant_id)
    local dup = r.pairs[2]
    assert.are.equal(subs[2], dup.submission)
    assert.is_true(dup.duplicate)
    assert.are.equal(2, #dup.responses)
    assert.are.equal(dup.responses[1], dup.response) -- the first one that came
    assert.are.equal(1, #r.duplicates)
    assert.are.equal(subs[2].participant_id, r.duplicates[1].participant_id)
    assert.are.same({ subs[2] }, r.duplicates[1].submissions)
    assert.is_false(r.pairs[1].duplicate)
  end)

  it("takes arrays and another key: a custom variable or a function", function()
    local responses = assert(q.responses:all(SURVEY))
    local subs = { { id = "a", participant_id = "arm-A" }, { id = "b", participant = "nobody" } }
    local r = assert(cohort.reconcile { submissions = subs, responses = responses, by = "custom2" })
    assert.are.equal(1, #r.pairs)
    assert.are.equal(19, #r.pairs[1].responses) -- every arm-A response, all kept
    assert.is_true(r.pairs[1].duplicate)
    assert.are.same({ subs[2] }, r.missing_response)
    assert.are.equal(18, #r.orphan_responses)   -- the arm-B ones, in the order they came
    assert.are.equal(90000002, r.orphan_responses[1].responseID)
    r = assert(cohort.reconcile { submissions = subs, responses = responses,
      by = function(resp) return resp.responseID == 90000005 and "nobody" or nil end })
    assert.are.equal(1, #r.pairs)
    assert.are.equal(90000005, r.pairs[1].response.responseID)
    assert.are.equal(36, #r.orphan_responses)   -- responses without a key are orphans
  end)

  it("returns the server's error when an iterator fails", function()
    local bad = env.questionpro { api_key = "wrong-key" }
    local r, err = cohort.reconcile { submissions = p.submissions:each { study = STUDY },
      responses = bad.responses:each(SURVEY) }
    assert.is_nil(r)
    assert.is_true(cohort.Error.is(err))
    assert.are.equal(401, err.status)
  end)

  it("raises on misuse, naming the function and the field, before any request", function()
    local before = #env.requests()
    local function raises(pattern, args)
      local ok, msg = pcall(cohort.reconcile, args)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find(pattern, 1, true), tostring(msg))
    end
    raises("cohort.reconcile(): expected a table", nil)
    raises("cohort.reconcile(): submissions is required", { responses = {} })
    raises("cohort.reconcile(): responses is required", { submissions = {} })
    raises("cohort.reconcile(): unknown option 'response'", { submissions = {}, response = {} })
    raises("cohort.reconcile(): responses must be an array or an iterator function (got string)",
      { submissions = {}, responses = "x" })
    raises("cohort.reconcile(): by must be nil", { submissions = p.submissions:each { study = STUDY },
      responses = {}, by = 5 })
    assert.are.equal(before, #env.requests())
  end)
end)
