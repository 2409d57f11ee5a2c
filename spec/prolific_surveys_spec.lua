-- Prolific surveys end to end against the sandbox: create (sections and flat), list/get,
-- responses (add, each, get, delete, delete-all), the summary, the simulated response, and the
-- misuse and HTTP error paths.
describe("Prolific surveys", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local p, me

  local SUB = "625d4a831bcda2d59ac5a251"
  local PID = "60bf9310e8dec401be6e9615"

  local function sectioned()
    return {
      researcher_id = me.id, title = "Ice cream deep dive",
      sections = {
        { title = "Ice cream", questions = {
          { title = "Do you like ice cream on a cone?", type = "single",
            answers = { { value = "Yes" }, { value = "No" } } },
          { title = "What are your favourite flavours?", type = "multiple",
            answers = { { value = "Chocolate" }, { value = "Vanilla" }, { value = "Mint" } } },
        } },
        { title = "Checks", questions = {
          { title = "Attention check: choose Blue", type = "single",
            answers = { { value = "Blue" }, { value = "Red" }, { value = "Green" } } },
        } },
      },
    }
  end

  local function raises(pattern, f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok)
    assert.matches(pattern, tostring(msg))
  end

  setup(function()
    env.reset()
    p = env.prolific()
    me = assert(p.users:me())
  end)

  teardown(function() env.reset() end)

  it("creates a survey with sections; ids are given to sections, questions and answers", function()
    local s = assert(p.surveys:create(sectioned()))
    assert.are.equal("cohort.Survey", getmetatable(s).__name)
    assert.matches("^%x+$", s._id)
    assert.are.equal(24, #s._id)
    assert.are.equal(2, #s.sections)
    assert.are.equal(0, #s.questions)
    local q = s.sections[1].questions[1]
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", q.id)
    assert.is_string(q.answers[1].id)
    assert.are.equal(('Survey %s… "Ice cream deep dive" (2 sections, 3 questions)'):format(s._id:sub(1, 8)),
      tostring(s))
    local again = assert(p.surveys:get(s._id))
    assert.are.equal(s.title, again.title)
    assert.are.equal(q.id, again.sections[1].questions[1].id)
  end)

  it("creates a flat survey (questions without sections)", function()
    local s = assert(p.surveys:create { researcher_id = me.id, title = "Flat",
      questions = { { title = "Tea or coffee?", type = "single",
        answers = { { value = "Tea" }, { value = "Coffee" } } } } })
    assert.are.equal(0, #s.sections)
    assert.are.equal(1, #s.questions)
    assert.matches("%(1 question%)$", tostring(s))
    local r = assert(s:add_response { participant_id = PID, submission_id = SUB,
      answers = { ["Tea or coffee?"] = "Coffee" } })
    assert.are.equal(PID, r.participant_id)
    assert.are.equal("Coffee", r.questions[1].answers[1].value)
    local sum = assert(s:summary())
    assert.are.equal(1, sum:count("Tea or coffee?", "Coffee"))
    assert.are.equal(0, sum:count("Tea or coffee?", "Tea"))
  end)

  it("add responses → each → get → summary → delete one → delete all", function()
    local s = assert(p.surveys:create(sectioned()))
    for i = 1, 25 do
      local flavours = i % 2 == 0 and { "Chocolate", "Mint" } or { "Vanilla" }
      assert(s:add_response { participant_id = ("%024x"):format(i), submission_id = ("%024x"):format(1000 + i),
        answers = { ["Do you like ice cream on a cone?"] = i <= 20 and "Yes" or "No",
          ["What are your favourite flavours?"] = flavours,
          ["Attention check: choose Blue"] = "Blue" } })
    end
    -- the raw form of Prolific's schema works too (from the resource)
    local q1 = s.sections[1].questions[1]
    assert(p.surveys:add_response(s._id, { participant_id = PID, submission_id = SUB,
      sections = { { section_id = s.sections[1].id, questions = { { question_id = q1.id,
        question_title = q1.title, answers = { { answer_id = q1.answers[2].id, value = "No" } } } } } } }))

    -- each walks every page (default limit 20: two pages), never stopping at 20
    local n, first = 0, nil
    for r in s:responses() do
      n = n + 1
      first = first or r
      assert.are.equal("cohort.SurveyResponse", getmetatable(r).__name)
    end
    assert.are.equal(26, n)
    local page = assert(p.surveys:responses(s._id))
    assert.are.equal(20, #page)
    assert.are.equal(26, page.count)
    assert.truthy(page.next)
    assert.are.equal(26, #assert(p.surveys:all_responses(s._id, { limit = 7 })))

    local one = assert(s:response(first.id))
    assert.are.equal(first.id, one._id)
    assert.matches("^SurveyResponse %x+… participant ", tostring(one))

    local sum = assert(s:summary())
    assert.are.equal(s._id, sum.survey_id)
    assert.are.equal(3, #sum.questions)
    assert.are.equal(26, sum.questions[1].total_answers)
    assert.are.equal(20, sum:count("Do you like ice cream on a cone?", "Yes"))
    assert.are.equal(6, sum:count(q1.id, q1.answers[2].id))
    assert.are.equal(12, sum:count("What are your favourite flavours?", "Mint"))
    assert.are.equal(13, sum:count("What are your favourite flavours?", "Vanilla"))
    assert.matches("^SurveySummary %x+… 3 questions, 76 answers$", tostring(sum))

    assert(p.surveys:delete_response(s._id, first.id))
    local _, err = s:response(first.id)
    assert.are.equal(404, err.status)
    assert.are.equal(25, #assert(p.surveys:all_responses(s._id)))

    assert.is_true(s:delete_responses())
    assert.are.equal(0, #assert(p.surveys:all_responses(s._id)))
    assert.are.equal(0, assert(s:summary()).questions[1].total_answers)
  end)

  it("lists a researcher's surveys by offset/limit, and deletes a survey", function()
    local before = assert(p.surveys:all { researcher_id = me.id })
    local made = {}
    for i = 1, 3 do
      local body = sectioned()
      body.title = "Paged " .. i
      made[i] = assert(p.surveys:create(body))
    end
    local all = assert(p.surveys:all { researcher_id = me.id, limit = 2 })
    assert.are.equal(#before + 3, #all)
    local page = assert(p.surveys:list { researcher_id = me.id, limit = 2, offset = 1 })
    assert.are.equal(2, #page)
    assert.are.equal(#before + 3, page.count)
    local other = assert(p.surveys:all { researcher_id = "5c83c95d4c266300156edc01" })
    assert.are.equal(0, #other)

    assert.is_true(made[1]:delete())
    local _, err = p.surveys:get(made[1]._id)
    assert.is_true(Error.is(err))
    assert.are.equal(404, err.status)
    assert.are.equal(#before + 2, #assert(p.surveys:all { researcher_id = me.id }))
  end)

  it("raises on misuse before sending, naming the method and the field", function()
    local function sent() return #env.requests() end
    env.control("DELETE", "requests")
    local body = sectioned()
    body.sections[1].questions[1].type = "text"
    raises('p%.surveys:create%(%): sections%[1%]%.questions%[1%]%.type must be one of "single", "multiple" %(got "text", a string%)',
      p.surveys.create, p.surveys, body)
    body = sectioned()
    for i = 1, 5 do
      table.insert(body.sections[1].questions, { title = "Extra " .. i, type = "single", answers = { { value = "x" } } })
    end
    raises("sections%[1%]%.questions must have at most 5 items %(got 7%)", p.surveys.create, p.surveys, body)
    body = sectioned()
    local many = {}
    for i = 1, 11 do many[i] = { value = "v" .. i } end
    body.sections[1].questions[2].answers = many
    raises("sections%[1%]%.questions%[2%]%.answers must have at most 10 items %(got 11%)", p.surveys.create, p.surveys, body)
    body = sectioned()
    body.sections[1].questions[1].title = ("x"):rep(201)
    raises("sections%[1%]%.questions%[1%]%.title must be at most 200 characters long %(got 201%)", p.surveys.create, p.surveys, body)
    body = sectioned()
    body.questions = { { title = "q", type = "single", answers = { { value = "a" } } } }
    raises("p%.surveys:create%(%): give either sections or questions %(got both%)", p.surveys.create, p.surveys, body)
    raises("p%.surveys:create%(%): researcher_id is required", p.surveys.create, p.surveys,
      { title = "x", questions = { { title = "q", type = "single", answers = { { value = "a" } } } } })
    raises("p%.surveys:create%(%): questions%[1%]%.answers must not be empty", p.surveys.create, p.surveys,
      { researcher_id = me.id, title = "x", questions = { { title = "q", type = "single", answers = {} } } })
    raises("p%.surveys:create%(%): colour is not a field of this request", p.surveys.create, p.surveys,
      { researcher_id = me.id, title = "x", colour = "red", questions = { { title = "q", type = "single", answers = { { value = "a" } } } } })
    raises("p%.surveys:list%(%): researcher_id is required", p.surveys.list, p.surveys, {})
    raises('p%.surveys:get%(%): survey_id must be a Prolific id of 24 hexadecimal digits %(got "", a string%)', p.surveys.get, p.surveys, "")
    raises("p%.surveys:responses%(%): limit must be at least 1 %(got 0, an integer%)", p.surveys.responses,
      p.surveys, "000000000000000000000000", { limit = 0 })
    raises('p%.surveys:add_response%(%): submission_id must be a Prolific id of 24 hexadecimal digits %(got "has space", a string%)',
      p.surveys.add_response, p.surveys, "000000000000000000000000",
      { participant_id = PID, submission_id = "has space", questions = {} })
    raises("p%.surveys:add_response%(%): answers needs the survey's questions", p.surveys.add_response,
      p.surveys, "000000000000000000000000", { participant_id = PID, submission_id = SUB, answers = {} })
    assert.are.equal(0, sent())

    local s = assert(p.surveys:create(sectioned()))
    env.control("DELETE", "requests")
    raises('survey:add_response%(%): answers%["Do you like ice cream on a cone%?"%] must be one of the question\'s answer values %(got "Maybe", a string%)',
      s.add_response, s, { participant_id = PID, submission_id = SUB,
        answers = { ["Do you like ice cream on a cone?"] = "Maybe" } })
    raises("question is single%-answer, got 2 values", s.add_response, s, { participant_id = PID,
      submission_id = SUB, answers = { ["Do you like ice cream on a cone?"] = { "Yes", "No" } } })
    raises("answers%[\"Nope\"%]: no question of the survey has this title or id", s.add_response, s,
      { participant_id = PID, submission_id = SUB, answers = { Nope = "x" } })
    assert.are.equal(0, sent())
  end)

  it("answers HTTP errors as nil, err: unknown survey, answers not in the survey", function()
    local _, err = p.surveys:get("000000000000000000000000")
    assert.are.equal(404, err.status)
    assert.are.equal("http", err.kind)
    local _, e2 = p.surveys:summary("000000000000000000000000")
    assert.are.equal(404, e2.status)
    local s = assert(p.surveys:create(sectioned()))
    local _, e3 = p.surveys:add_response(s._id, { participant_id = PID, submission_id = SUB,
      questions = { { question_id = "00000000-0000-4000-8000-000000000000", question_title = "x",
        answers = { { answer_id = "00000000-0000-4000-8000-000000000001", value = "x" } } } } })
    assert.are.equal(400, e3.status)
    assert.is_table(e3.fields)
    assert.truthy(e3.fields["questions.0.question_id"])
    -- the iterator raises the error object
    local ok, raised = pcall(function()
      for _ in p.surveys:each_responses("000000000000000000000000") do end
    end)
    assert.is_false(ok)
    assert.is_true(Error.is(raised))
    assert.are.equal(404, raised.status)
  end)

  it("simulate_response answers every question and fails the attention check on demand #sandbox54", function()
    -- in-process: the sandbox application, as csrc/sandbox.c drives it
    local server = require "cohort.sandbox.server"
    local sim = require "cohort.sandbox.prolific_surveys"
    local cjson = require("cjson").new()
    local app = server.new {}
    local function call(method, uri, body)
      local status, _, rb = app:handle { method = method, uri = uri, body = body and cjson.encode(body) or "",
        headers = { host = "sandbox.test", authorization = "Token " .. app.token }, time = os.time() }
      return status, cjson.decode(rb)
    end
    local status, s = call("POST", "/api/v1/surveys/", sectioned())
    assert.are.equal(201, status)
    local good = assert(sim.simulate_response(app, s._id, PID, SUB, false))
    local bad = assert(sim.simulate_response(app, s._id, PID, "625d4a831bcda2d59ac5a252", true))
    local function check_answer(r)
      local sec = r.sections[2]
      return sec.questions[1].answers[1].value
    end
    assert.are.equal(3, #good.sections[1].questions + #good.sections[2].questions)
    assert.are.equal("Blue", check_answer(good))
    assert.are_not.equal("Blue", check_answer(bad))
    assert.is_true(sim.is_attention_check { title = "ATTENTION CHECK – pick 3" })
    local st, sum = call("GET", "/api/v1/surveys/" .. s._id .. "/responses/summary/")
    assert.are.equal(200, st)
    assert.are.equal(2, sum.questions[1].total_answers)
    assert.is_nil(sim.simulate_response(app, "000000000000000000000000", PID, SUB, false))
  end)
end)
