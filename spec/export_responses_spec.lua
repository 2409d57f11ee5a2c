-- The survey-response export adapters (cohort.workbench.export_responses, loaded by cohort.workbench.export):
-- QuestionPro Responses and Prolific SurveyResponses, one row per response and a column per
-- question, with labels, codes or both — against the sandbox.
describe("cohort.workbench.export of survey responses", function()
  local env = require "support.env"
  local export = require "cohort.workbench.export"
  local Error = require("cohort").Error
  local SURVEY = 7654321
  local p, q

  local function csv(items, opts)
    local out = {}
    local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
    opts = opts or {}
    opts.progress = false
    opts.newline = "\n"
    local n, err = export.csv(items, sink, opts)
    return n, table.concat(out), err
  end

  -- rows as arrays of fields (these CSVs have no quoted newlines), by the first column
  local function parse(text)
    local rows, header = {}, nil
    for line in text:gmatch("([^\n]*)\n") do
      local fields = {}
      local i = 1
      while i <= #line + 1 do
        if line:sub(i, i) == '"' then
          local j, buf = i + 1, {}
          while true do
            local c = line:sub(j, j)
            if c == '"' and line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
            elseif c == '"' then j = j + 1 break
            else buf[#buf + 1] = c; j = j + 1 end
          end
          fields[#fields + 1] = table.concat(buf)
          i = j + 1
        else
          local j = line:find(",", i, true) or #line + 1
          fields[#fields + 1] = line:sub(i, j - 1)
          i = j + 1
        end
      end
      if not header then header = fields else
        local row = {}
        for k, name in ipairs(header) do row[name] = fields[k] end
        rows[fields[1]] = row
      end
    end
    return header, rows
  end

  setup(function()
    env.reset()
    p, q = env.prolific(), env.questionpro()
  end)

  describe("QuestionPro responses", function()
    it("export one row per response with a column per question code, labels by default", function()
      local n, text = csv(q.responses:each(SURVEY))
      assert.are.equal(37, n)
      local header, rows = parse(text)
      assert.are.same({ "responseID", "surveyID", "responseStatus", "timestamp", "time_utc",
        "timeTaken", "custom1", "custom2", "custom3", "custom4", "custom5",
        "Q1", "Q2_1", "Q2_2", "Q2_3", "Q2_4" }, header)
      local r = rows["90000003"]
      assert.are.equal("Sometimes", r.Q1)
      assert.are.equal("60bf9310e8dec401be6e9615", r.custom1)
      assert.are.equal("arm-A", r.custom2)
      assert.are.equal("", r.custom3)
      assert.are.equal("2024-05-01T16:00:51Z", r.time_utc)
      assert.are.equal("P003", r.Q2_2)               -- typed text is written as it is
      assert.are.equal("p003@example.org", r.Q2_4)
      assert.are.equal("", rows["90000007"].time_utc) -- IST is ambiguous: no UTC time
      assert.are.equal("", rows["90000007"].Q2_1)     -- a response still in progress
    end)

    it("codes give the choice's numeric code; both give <code>_code and <code>_label", function()
      local _, text = csv(q.responses:each(SURVEY), { answers = "codes" })
      local _, rows = parse(text)
      assert.are.equal("3", rows["90000003"].Q1)
      assert.are.equal("P003", rows["90000003"].Q2_2)
      local header
      _, text = csv(q.responses:all(SURVEY), { answers = "both" })
      header, rows = parse(text)
      assert.are.same({ "Q1_code", "Q1_label", "Q2_1_code", "Q2_1_label" }, { (table.unpack or unpack)(header, 12, 15) })
      assert.are.equal("5", rows["90000005"].Q1_code)
      assert.are.equal("Never", rows["90000005"].Q1_label)
    end)

    it("columns come from the first response unless questions = the survey's questions", function()
      local all = assert(q.responses:all(SURVEY))
      local from_started = { (table.unpack or unpack)(all, 7) } -- 90000007 stopped after Q1
      local _, text = csv(from_started)
      local header = parse(text)
      assert.are.equal("Q1", header[#header])
      local questions = assert(q.surveys:all_questions(SURVEY))
      local rows
      _, text = csv(from_started, { questions = questions })
      header, rows = parse(text)
      assert.are.equal("Q2_4", header[#header])
      assert.are.equal("p008@example.org", rows["90000008"].Q2_4)
    end)

    it("an empty typed answer is an empty cell in every mode, never its label or code", function()
      local created = assert(q.responses:create(SURVEY, {
        responseStatus = "Completed", timeTaken = 12,
        customVariables = { custom1 = "60bf9310e8dec401be6e9699" },
        responseSet = {
          { questionID = 12345678, answerValues = { { answerID = 123456790 } } },
          { questionID = 12345679, answerValues = { { answerID = 100000001, value = { text = "" } } } },
          { questionID = 83734737, answerValues = { { answerID = 100000002, value = { text = "Doe" } } } },
        } }))
      local id = tostring(created.responseID)
      local questions = assert(q.surveys:all_questions(SURVEY))
      for _, opts in ipairs { {}, { answers = "codes" }, { questions = questions },
          { answers = "codes", questions = questions } } do
        local _, text = csv({ assert(q.responses:get(SURVEY, created.responseID)) }, opts)
        local _, rows = parse(text)
        local r = rows[id]
        assert.are.equal("", r.Q2_1)                  -- not FIRST_NAME, not 100000001
        assert.are.equal("Doe", r.Q2_2)
        assert.are.equal(opts.answers == "codes" and "2" or "Often", r.Q1)
      end
      local _, text = csv({ assert(q.responses:get(SURVEY, created.responseID)) }, { answers = "both" })
      local _, rows = parse(text)
      assert.are.equal("", rows[id].Q2_1_code)
      assert.are.equal("", rows[id].Q2_1_label)
      assert.are.equal("Doe", rows[id].Q2_2_label)
      assert.is_true(q.responses:delete(SURVEY, created.responseID))
    end)

    it("JSON Lines writes each response whole", function()
      local out = {}
      local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end }
      assert.are.equal(5, export.jsonl(q.responses:each(7654322), sink, { progress = false }))
      local first = require("cohort.core").decode(table.concat(out):match("^[^\n]+"))
      assert.are.equal(90000101, first.responseID)
      assert.is_table(first.responseSet)
    end)

    it("a failing iterator returns the server's error", function()
      local bad = env.questionpro { api_key = "wrong-key" }
      local n, _, err = csv(bad.responses:each(SURVEY))
      assert.is_nil(n)
      assert.is_true(Error.is(err))
      assert.are.equal(401, err.status)
    end)

    it("a bad answers value raises before any request", function()
      local before = #env.requests()
      local ok, msg = pcall(export.csv, q.responses:each(SURVEY), io.stdout, { answers = "raw" })
      assert.is_false(ok)
      assert.truthy(msg:find("cohort.workbench.export.csv(): option 'answers' must be one of labels, codes, both (got raw)", 1, true), msg)
      assert.are.equal(before, #env.requests())
    end)
  end)

  describe("Prolific survey responses", function()
    local survey, subs

    setup(function()
      local me = assert(p.users:me())
      survey = assert(p.surveys:create { researcher_id = me.id, title = "Export",
        sections = { { title = "About you", questions = {
          { title = "Colour?", type = "single", answers = { { value = "Red" }, { value = "Blue" }, { value = "Green" } } },
          { title = "Pets, if any", type = "multiple", answers = { { value = "Cat" }, { value = "Dog" }, { value = "Fish" } } },
        } } } })
      subs = assert(p.submissions:all { study = "60aca280709ee40ec37d4885" })
      assert(survey:add_response { participant_id = subs[1].participant_id, submission_id = subs[1].id,
        answers = { ["Colour?"] = "Blue", ["Pets, if any"] = { "Cat", "Fish" } } })
      assert(survey:add_response { participant_id = subs[2].participant_id, submission_id = subs[2].id,
        answers = { ["Colour?"] = "Green" } })
    end)

    it("export one row per response with a column per question title", function()
      local n, text = csv(survey:responses())
      assert.are.equal(2, n)
      local header, rows = parse(text)
      assert.are.same({ "id", "participant_id", "submission_id", "date_created", "Colour?", "Pets, if any" }, header)
      local first
      for _, r in pairs(rows) do if r.submission_id == subs[1].id then first = r end end
      assert.are.equal(subs[1].participant_id, first.participant_id)
      assert.are.equal("Blue", first["Colour?"])
      assert.are.equal("Cat;Fish", first["Pets, if any"])
    end)

    it("codes are the option's position when the survey is given, both gives two columns", function()
      local _, text = csv(survey:responses(), { answers = "codes", questions = survey })
      local _, rows = parse(text)
      local byp = {}
      for _, r in pairs(rows) do byp[r.submission_id] = r end
      assert.are.equal("2", byp[subs[1].id]["Colour?"])
      assert.are.equal("1;3", byp[subs[1].id]["Pets, if any"])
      assert.are.equal("3", byp[subs[2].id]["Colour?"])
      assert.are.equal("", byp[subs[2].id]["Pets, if any"])
      local header
      _, text = csv(survey:responses(), { answers = "both", questions = survey })
      header = parse(text)
      assert.are.same({ "Colour?_code", "Colour?_label", "Pets, if any_code", "Pets, if any_label" },
        { (table.unpack or unpack)(header, 5) })
      -- without the survey a code is the answer's id
      _, text = csv(survey:responses(), { answers = "codes" })
      _, rows = parse(text)
      for _, r in pairs(rows) do assert.truthy(#r["Colour?"] > 3) end
    end)

    it("with no responses and adapter named, the header still comes from questions", function()
      local _, text = csv({}, { adapter = "SurveyResponse", questions = survey })
      assert.are.equal("id,participant_id,submission_id,date_created,Colour?,\"Pets, if any\"\n", text)
    end)
  end)
end)
