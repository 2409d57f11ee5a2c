-- Prolific studies end to end against the sandbox: every study operation through the public Lua
-- API, the life cycle, simulated participants with wait_for and approval, bulk approve and
-- screen-out.
describe("Prolific studies", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local PROJECT = "60a42f4c693c29420793cb75"
  local WORKSPACE = "60a42f4c693c29420793cb74"
  local ACTIVE_STUDY = "60aca280709ee40ec37d4885"
  local DRAFT = "60aca280709ee40ec37d4887"
  local p

  local function fields(extra)
    local f = {
      name = "Reaction times", description = "A five-minute reaction-time task.",
      external_study_url = "https://example.org/rt?PROLIFIC_PID={{%PROLIFIC_PID%}}",
      prolific_id_option = "url_parameters",
      completion_codes = { { code = "C0DE1234", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 100, total_available_places = 20,
    }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  -- Number of requests the sandbox has logged (to prove misuse sends nothing).
  local function logged()
    return #env.requests()
  end

  local function raises(pattern, fn)
    local n = logged()
    local ok, msg = pcall(fn)
    assert.is_false(ok)
    assert.matches(pattern, tostring(msg))
    assert.are.equal(n, logged(), "a request was sent")
  end

  setup(function()
    env.reset()
    p = env.prolific()
  end)

  describe("create / get / list / update / delete", function()
    it("creates a draft and gets it back as a Study", function()
      local st = assert(p.studies:create(fields()))
      assert.are.equal("UNPUBLISHED", st.status)
      assert.matches("^%x+$", st.id)
      assert.are.equal(24, #st.id)
      assert.are.equal("cohort.Study", getmetatable(st).__name)
      assert.are.equal(('Study %s… UNPUBLISHED "Reaction times" (reward 100 minor units, 20 places)')
        :format(st.id:sub(1, 8)), tostring(st))
      local again = assert(p.studies:get(st.id))
      assert.are.equal(st.id, again.id)
      assert.are.equal(100, again.reward)
      assert.are.equal(PROJECT, again.project)
    end)

    it("raises on misuse before sending anything", function()
      raises("p%.studies:create%(%): reward is required", function()
        local f = fields(); f.reward = nil
        p.studies:create(f)
      end)
      raises("reward must be a whole number .*minor units", function()
        p.studies:create(fields { reward = 1.5 })
      end)
      raises("prolific_id_option must be one of", function()
        p.studies:create(fields { prolific_id_option = "url" })
      end)
      raises("p%.studies:create%(%): colour is not a field of this request", function() p.studies:create(fields { colour = "red" }) end)
      raises('p%.studies:create%(%): reward must be a number %(got "150", a string%)', function()
        p.studies:create(fields { reward = "150" })
      end)
      raises('p%.studies:create%(%): filters%[2%]%.selected_range%.lower must be an integer or an ISO 8601 date %(got "18", a string%)', function()
        p.studies:create(fields { filters = {
          { filter_id = "handedness", selected_values = { "1" } },
          { filter_id = "age", selected_range = { lower = "18" } } } })
      end)
      raises("p%.studies:create%(%): device_compatibility must be an array", function()
        p.studies:create(fields { device_compatibility = "desktop" })
      end)
      raises("completion_codes%[1%]%.code_type", function()
        p.studies:create(fields { completion_codes = { { code = "X", code_type = "DONE", actions = {} } } })
      end)
      raises("p%.studies:get%(%): id must be", function() p.studies:get("has space") end)
      raises('p%.studies:list%(%): status must be one of ACTIVE, .* %(got "DONE", a string%)', function() p.studies:list { status = "DONE" } end)
    end)

    it("answers 404 for an unknown study", function()
      local st, err = p.studies:get("000000000000000000000000")
      assert.is_nil(st)
      assert.is_true(Error.is(err))
      assert.are.equal(404, err.status)
    end)

    it("lists studies with a status filter, and a project's studies", function()
      local page = assert(p.studies:list())
      assert.is_true(page.count >= 3)
      local drafts = assert(p.studies:all { status = "UNPUBLISHED" })
      for _, st in ipairs(drafts) do assert.are.equal("UNPUBLISHED", st.status) end
      local found = false
      for _, st in ipairs(drafts) do if st.id == DRAFT then found = true end end
      assert.is_true(found)
      local both = assert(p.studies:all { status = { "ACTIVE", "UNPUBLISHED" } })
      assert.are.equal(#both, page.count)
      local n = 0
      for st in p.studies:each_for_project(PROJECT, { page_size = 1 }) do
        assert.are.equal("cohort.Study", getmetatable(st).__name)
        n = n + 1
      end
      assert.is_true(n >= 3)
      local _, err = p.studies:for_project("000000000000000000000000")
      assert.are.equal(404, err.status)
    end)

    it("updates a draft; deletes only drafts", function()
      local st = assert(p.studies:create(fields()))
      local up = assert(st:update { name = "Renamed", reward = 120 })
      assert.are.equal("Renamed", up.name)
      assert.are.equal(120, up.reward)
      raises("nothing to update", function() st:update {} end)
      assert.is_true(st:delete())
      local _, err = p.studies:get(st.id)
      assert.are.equal(404, err.status)
      local _, err2 = p.studies:delete(ACTIVE_STUDY)
      assert.are.equal(400, err2.status)
      assert.matches("cannot be deleted", err2.message)
    end)
  end)

  describe("life cycle", function()
    it("publishes, restricts updates, pauses, starts and stops", function()
      local st = assert(p.studies:create(fields()))
      local _, err = st:pause()
      assert.are.equal(400, err.status)
      assert.matches("Cannot PAUSE a study with status UNPUBLISHED", err.message)
      local live = assert(st:publish())
      assert.are.equal("ACTIVE", live.status)
      assert.is_string(live.published_at)
      local _, again = live:publish()
      assert.are.equal(400, again.status)
      -- after publishing: only internal_name and more places
      local _, uerr = live:update { name = "New name" }
      assert.are.equal(400, uerr.status)
      assert.is_table(uerr.fields)
      assert.is_table(uerr.fields.name)
      assert.truthy(assert(live:update { internal_name = "rt-2" }).internal_name == "rt-2")
      assert.are.equal(25, assert(live:update { total_available_places = 25 }).total_available_places)
      local _, lerr = live:update { total_available_places = 5 }
      assert.are.equal(400, lerr.status)
      assert.truthy(lerr.fields.total_available_places)
      local paused = assert(live:pause())
      assert.are.equal("PAUSED", paused.status)
      assert.are.equal("ACTIVE", assert(paused:start()).status)
      local stopped = assert(live:stop())
      assert.are.equal("COMPLETED", stopped.status) -- nothing to review
      local _, serr = stopped:stop()
      assert.are.equal(400, serr.status)
      -- more places reopen a completed study
      assert.are.equal("ACTIVE", assert(stopped:update { total_available_places = 30 }).status)
    end)

    it("schedules a publication and cancels it", function()
      local st = assert(p.studies:create(fields()))
      local sched = assert(st:schedule { at = os.time() + 3600 })
      assert.are.equal("SCHEDULED", sched.status)
      assert.is_string(sched.publish_at)
      local back = assert(sched:cancel_publish())
      assert.are.equal("UNPUBLISHED", back.status)
      local _, err = back:cancel_publish()
      assert.are.equal(400, err.status)
      local _, past = st:schedule { at = "2001-01-01T00:00:00Z" }
      assert.are.equal(400, past.status)
      assert.truthy(past.fields.publish_at)
      raises('study:schedule%(%): at must be a date and time such as "2025%-01%-31T09:00:00Z" %(got "tomorrow", a string%)', function() st:schedule { at = "tomorrow" } end)
      raises("action must be one of", function() p.studies:transition(st.id, { action = "LAUNCH" }) end)
    end)
  end)

  describe("costs, export, tests, forecasts", function()
    it("cost, calculator, clone, export, test, forecasts, access details", function()
      local st = assert(p.studies:create(fields()))
      local cost = assert(st:cost { is_projected = true })
      assert.are.equal(2000, cost.rewards.rewards.amount) -- 20 places × 100
      assert.are.equal("GBP", cost.rewards.rewards.currency)
      raises('study:cost%(%): is_projected must be a boolean %(got "yes", a string%)', function() st:cost { is_projected = "yes" } end)

      local calc = assert(p.studies:calculate_cost { reward = 100, total_available_places = 5 })
      assert.is_true(calc.total_cost > 500)
      raises("p%.studies:calculate_cost%(%): reward must be a whole number of minor units", function()
        p.studies:calculate_cost { reward = -1, total_available_places = 5 }
      end)

      local copy = assert(st:clone { block_previous_participants = false })
      assert.are_not.equal(st.id, copy.id)
      assert.are.equal("UNPUBLISHED", copy.status)
      assert.are.equal(st.name, copy.name)
      local _, cerr = p.studies:clone("000000000000000000000000")
      assert.are.equal(404, cerr.status)

      local csv = assert(p.studies:export(ACTIVE_STUDY))
      assert.is_string(csv)
      assert.matches("^submission_id,participant_id,status", csv)
      local lines = 0
      for _ in csv:gmatch("\n") do lines = lines + 1 end
      assert.are.equal(46, lines) -- header + 45 submissions
      assert.are.equal("Your export should arrive shortly.",
        assert(st:export { method = "EMAIL" }).status)
      raises('study:export%(%): method must be one of "EMAIL" %(got "FAX", a string%)', function() st:export { method = "FAX" } end)
      local _, eerr = p.studies:export("000000000000000000000000")
      assert.are.equal(404, eerr.status)

      local test = assert(st:test { target_participant_id = "60bf9310e8dec401be6e9615" })
      assert.is_string(test.study_id)
      assert.matches("^https://", test.study_url)
      raises("study:test%(%): the body needs one of target_participant_id or target_participant_group_id", function() st:test {} end)
      raises("the body must match exactly one of", function()
        st:test { target_participant_id = "60bf9310e8dec401be6e9615",
          target_participant_group_id = "60bf9310e8dec401be6e9615" }
      end)
      raises('target_participant_id must be a Prolific id of 24 hexadecimal digits %(got "not%-an%-object%-id", a string%)', function()
        st:test { target_participant_id = "not-an-object-id" }
      end)

      local f = assert(st:predicted_recruitment_time())
      assert.is_number(f.precise_recruitment_time_hours)
      assert.is_string(f.display_string)
      local f2 = assert(p.studies:predict_recruitment_time {
        filters = {}, workspace_id = WORKSPACE, reward = 100, study_type = "SINGLE",
        total_available_places = 50, estimated_completion_time = 5 })
      assert.is_true(f2.upper_bound_hours >= f2.lower_bound_hours)
      raises("study_type must be one of", function()
        p.studies:predict_recruitment_time { filters = {}, workspace_id = WORKSPACE, reward = 100,
          study_type = "ONE", total_available_places = 50, estimated_completion_time = 5 }
      end)
      local _, ferr = p.studies:predict_recruitment_time { filters = {},
        workspace_id = "000000000000000000000000", reward = 100, study_type = "SINGLE",
        total_available_places = 50, estimated_completion_time = 5 }
      assert.are.equal(400, ferr.status)
      assert.truthy(ferr.fields.workspace_id)

      local task = assert(p.studies:create(fields { external_study_url = nil,
        access_details = { { external_url = "https://example.org/a", total_allocation = 10 },
                           { external_url = "https://example.org/b", total_allocation = 10 } } }))
      local prog = assert(task:access_details_progress())
      assert.are.equal(2, #prog.progress)
      assert.are.equal(0, prog.progress[1].allocated)
    end)
  end)

  describe("simulated participants", function()
    it("run a published study: wait_for AWAITING REVIEW, approve, bulk approve", function()
      local st = assert(p.studies:create(fields { total_available_places = 10 }))
      -- a draft cannot be run
      local ok, msg = pcall(env.control, "POST", "studies/" .. st.id .. "/simulate", { participants = 2 })
      assert.is_false(ok)
      assert.matches("ACTIVE", msg)
      st = assert(st:publish())
      local run = env.control("POST", "studies/" .. st.id .. "/simulate",
        { participants = 6, returns = 0, timeouts = 0, failed_checks = 0.5, duration_ms = 300, seed = 6 })
      assert.are.equal(6, run.created)
      assert.are.equal(6, #run.submission_ids)
      local first = assert(p.submissions:get(run.submission_ids[1]))
      assert.matches("^%x+$", first.participant)
      assert.are.equal(24, #first.participant)
      assert.is_true(first.status == "RESERVED" or first.status == "ACTIVE")
      -- approving too early is refused by the server
      local _, early = first:approve()
      assert.are.equal(400, early.status)
      local done = assert(first:wait_for("AWAITING_REVIEW", { timeout = 5, interval = 0.05 }))
      assert.are.equal("AWAITING REVIEW", done.status)
      assert.is_number(done.time_taken)
      assert.is_true(done.attention_check == "passed" or done.attention_check == "failed")
      assert.are.equal("C0DE1234", done.entered_code)
      local approved = assert(done:approve())
      assert.are.equal("APPROVED", approved.status)
      -- the rest: wait, then bulk approve those that passed
      local passed, failed = {}, {}
      for i = 2, #run.submission_ids do
        local s = assert(assert(p.submissions:get(run.submission_ids[i]))
          :wait_for("AWAITING REVIEW", { timeout = 5, interval = 0.05 }))
        if s.attention_check == "passed" then passed[#passed + 1] = s else failed[#failed + 1] = s end
      end
      assert.is_true(#failed > 0 and #passed > 0) -- seed 6 at 50%: mixed
      if #passed > 0 then
        assert.is_string(assert(p.submissions:bulk_approve { ids = passed }))
        for _, s in ipairs(passed) do
          assert.are.equal("APPROVED", assert(s:refresh()).status)
        end
      end
      -- approving again: not AWAITING REVIEW any more → 400, nothing changes
      local _, berr = p.submissions:bulk_approve { ids = { approved.id, failed[1].id } }
      assert.are.equal(400, berr.status)
      assert.are.equal("AWAITING REVIEW", assert(failed[1]:refresh()).status)
      -- by participant ids
      assert(p.submissions:bulk_approve { study = st.id, participants = { failed[1].participant } })
      assert.are.equal("APPROVED", assert(failed[1]:refresh()).status)
      -- wait_for on a final status gives up at once
      local _, werr = approved:wait_for("ACTIVE", { timeout = 5 })
      assert.are.equal("timeout", werr.kind)
      assert.are.equal("APPROVED", werr.submission.status)
      -- study stop with submissions approved → COMPLETED or AWAITING REVIEW
      local stopped = assert(st:stop())
      assert.is_true(stopped.status == "COMPLETED" or stopped.status == "AWAITING REVIEW")
    end)

    it("returns and time-outs by their rates; wait_for times out", function()
      local st = assert(assert(p.studies:create(fields { total_available_places = 4 })):publish())
      local run = env.control("POST", "studies/" .. st.id .. "/simulate",
        { participants = 4, returns = 0.5, timeouts = 0.5, duration_ms = 400, seed = 3 })
      local sub = assert(p.submissions:get(run.submission_ids[1]))
      local _, err = sub:wait_for("AWAITING REVIEW", { timeout = 0.05, interval = 0.02 })
      assert.are.equal("timeout", err.kind)
      local seen = {}
      for _, id in ipairs(run.submission_ids) do
        local s = assert(p.submissions:get(id))
        local _, e = s:wait_for("AWAITING REVIEW", { timeout = 5, interval = 0.05 })
        assert.are.equal("timeout", e.kind)
        seen[e.submission.status] = true
      end
      assert.is_true(seen["RETURNED"] or seen["TIMED-OUT"])
      assert.is_nil(seen["AWAITING REVIEW"])
      -- more participants than places
      local ok = pcall(env.control, "POST", "studies/" .. st.id .. "/simulate", { participants = 50 })
      assert.is_false(ok)
    end)

    it("answer the study's Prolific survey, failing attention checks at the rate", function()
      local me = assert(p.users:me())
      local survey = assert(p.surveys:create { researcher_id = me.id, title = "Taste",
        sections = { { title = "Questions", questions = {
          { title = "Do you like tea?", type = "single",
            answers = { { value = "Yes" }, { value = "No" } } },
          { title = "Attention check: pick Blue", type = "single",
            answers = { { value = "Blue" }, { value = "Red" } } } } } } })
      local sid = survey._id or survey.id
      local st = assert(assert(p.studies:create(fields {
        external_study_url = "https://example.org/s?survey_id=" .. sid .. "&PROLIFIC_PID={{%PROLIFIC_PID%}}",
        total_available_places = 6 })):publish())
      local run = env.control("POST", "studies/" .. st.id .. "/simulate",
        { participants = 6, failed_checks = 0.5, duration_ms = 250, seed = 6 })
      assert.are.equal(sid, run.survey_id)
      local failed = 0
      for _, id in ipairs(run.submission_ids) do
        local s = assert(assert(p.submissions:get(id)):wait_for("AWAITING REVIEW",
          { timeout = 5, interval = 0.05 }))
        if s.attention_check == "failed" then failed = failed + 1 end
      end
      local responses = assert(p.surveys:all_responses(sid))
      assert.are.equal(6, #responses)
      assert.is_true(failed > 0 and failed < 6)
    end)

    it("bulk_approve and wait_for validate before sending", function()
      local many = {}
      for i = 1, 1001 do many[i] = ("%024x"):format(i) end
      raises("at most 1000 per call", function() p.submissions:bulk_approve { ids = many } end)
      raises("the body needs one of participants or ids", function() p.submissions:bulk_approve {} end)
      raises("study goes with participants only", function()
        p.submissions:bulk_approve { study = "60aca280709ee40ec37d4885", ids = { "625d4a831bcda2d59ac5a251" } }
      end)
      raises("participants needs study", function()
        p.submissions:bulk_approve { participants = { "60bf9310e8dec401be6e9615" } }
      end)
      raises('ids%[2%] must be a Prolific id of 24 hexadecimal digits %(got "b c", a string%)', function() p.submissions:bulk_approve { ids = { "625d4a831bcda2d59ac5a251", "b c" } } end)
      local sub = assert(p.submissions:get("625d4a831bcda2d59ac5a251"))
      raises('sub:wait_for%(%): status must be one of .* %(got "DONE", a string%)', function() sub:wait_for("DONE") end)
      raises("unknown option 'every'", function() sub:wait_for("APPROVED", { every = 1 }) end)
      local _, err = p.submissions:bulk_approve { ids = { "000000000000000000000000" } }
      assert.are.equal(400, err.status)
      assert.truthy(err.fields.submission_ids)
    end)

    it("screens out submissions of a custom screening study", function()
      local st = assert(assert(p.studies:create(fields { is_custom_screening = true,
        total_available_places = 3 })):publish())
      local run = env.control("POST", "studies/" .. st.id .. "/simulate",
        { participants = 3, duration_ms = 200, seed = 1 })
      local subs = {}
      for i, id in ipairs(run.submission_ids) do
        subs[i] = assert(assert(p.submissions:get(id)):wait_for("AWAITING REVIEW",
          { timeout = 5, interval = 0.05 }))
      end
      local calc = assert(p.submissions:screen_out_payment { study = st.id, ids = { subs[1].id } })
      assert.is_number(calc.minimum_reward.amount)
      assert.are.equal("GBP", calc.minimum_reward.currency)
      local _, low = p.submissions:screen_out { study = st.id, ids = { subs[1].id },
        bonus_per_submission = 0.01 }
      assert.are.equal(400, low.status)
      local res = assert(p.submissions:screen_out { study = st.id, ids = { subs[1].id, subs[2].id },
        bonus_per_submission = 5, increase_places = true })
      assert.are.equal(500, res.payment_per_participant.amount)
      local s1 = assert(subs[1]:refresh())
      assert.are.equal("SCREENED OUT", s1.status)
      assert.are.same({ 500 }, s1.bonus_payments)
      assert.are.equal(5, assert(st:refresh()).total_available_places)
      raises("give bonus_per_submission or reward_per_hour", function()
        p.submissions:screen_out { study = st.id, ids = { subs[3].id } }
      end)
      -- not a custom screening study
      local _, nerr = p.submissions:screen_out(ACTIVE_STUDY, { ids = { "625d4a831bcda2d59ac5a251" },
        bonus_per_submission = 1 })
      assert.are.equal(400, nerr.status)
    end)
  end)
end)
