--- Prolific surveys: rows, validators and the `Survey`, `SurveyResponse` and `SurveySummary`
-- classes.
--
--     local survey = assert(p.surveys:create{
--       researcher_id = me.id, title = "Ice cream",
--       sections = { { title = "Taste", questions = {
--         { title = "Do you like ice cream?", type = "single",
--           answers = { { value = "Yes" }, { value = "No" } } } } } },
--     })
--     survey:add_response{ participant_id = pid, submission_id = sid,
--                          answers = { ["Do you like ice cream?"] = "Yes" } }
--     for r in survey:responses() do print(r) end      -- every response, lazily
--     print(survey:summary())                           -- counts per question and answer
--
-- Prolific names a survey's id `_id` (a response's too, in detail; a response in a list has
-- `id`). Both are kept as the server sent them; the methods read whichever is present.
--
-- The schema checks the survey limits (a question type is `"single"` or `"multiple"`, a
-- section holds at most 5 questions, a question at most 10 answers, a title at most 200
-- characters, an answer at most 140); a survey has either `sections` or `questions`, not both
-- (only sections render in the Prolific app).
--
-- Attention checks: a question whose title starts with "Attention check" is an attention-check
-- question; the sandbox's simulated participants answer it with its first answer option unless
-- they are simulated to fail it (see `cohort.sandbox.prolific_surveys`). Put the correct answer
-- first.
-- @module cohort.prolific.surveys
local util = require "cohort.util"

local M = {}

local function describe(v) return util.show(v) end

local function survey_id(s) return rawget(s, "_id") or rawget(s, "id") end

local function non_empty(ctx, list, where)
  if type(list) == "table" and #list == 0 then ctx.misuse("%s must not be empty", where) end
end

local function check_questions(ctx, qs, where)
  non_empty(ctx, qs, where)
  for j, q in ipairs(type(qs) == "table" and qs or {}) do
    if type(q) == "table" then non_empty(ctx, q.answers, ("%s[%d].answers"):format(where, j)) end
  end
end

--- Check a survey body beyond its schema: either `sections` or `questions`, none empty.
-- @tparam table args
-- @tparam table ctx
-- @treturn table args
function M.check_survey(args, ctx)
  local has_s, has_q = args.sections ~= nil, args.questions ~= nil
  if has_s == has_q then
    ctx.misuse("give either sections or questions (got %s)", has_s and "both" or "neither")
  end
  if has_s then
    non_empty(ctx, args.sections, "sections")
    for i, sec in ipairs(type(args.sections) == "table" and args.sections or {}) do
      if type(sec) == "table" then check_questions(ctx, sec.questions, ("sections[%d].questions"):format(i)) end
    end
  else
    check_questions(ctx, args.questions, "questions")
  end
  return args
end

--- Turn `answers = {[question title or id] = value or {values...}}` into the `sections` or
-- `questions` of a response, using the survey's own structure (ids, titles). Raises on an
-- unknown question or answer, or several answers to a single-answer question.
function M.build_answers(label, survey, answers)
  if type(answers) ~= "table" then
    util.misuse(label, "answers must be a table {[question title or id] = value or {values}}")
  end
  local used = {}
  local function answer_question(q)
    local given = answers[q.id]
    local key = q.id
    if given == nil then given, key = answers[q.title], q.title end
    if given == nil then return nil end
    used[key] = true
    local values = type(given) == "table" and given or { given }
    if q.type == "single" and #values > 1 then
      util.misuse(label, "answers[%q]: question is single-answer, got %d values", key, #values)
    end
    local out = {}
    for _, v in ipairs(values) do
      local found
      for _, opt in ipairs(q.answers or {}) do
        if opt.value == v or opt.id == v then found = opt break end
      end
      if not found then
        util.misuse(label, "answers[%q] must be one of the question's answer values (got %s)", key,
          describe(v))
      end
      out[#out + 1] = { answer_id = found.id, value = found.value }
    end
    return { question_id = q.id, question_title = q.title, answers = out }
  end
  local body = {}
  if type(survey.sections) == "table" and #survey.sections > 0 then
    body.sections = {}
    for _, s in ipairs(survey.sections) do
      local qs = {}
      for _, q in ipairs(s.questions or {}) do qs[#qs + 1] = answer_question(q) end
      if #qs > 0 then body.sections[#body.sections + 1] = { section_id = s.id, questions = qs } end
    end
  else
    body.questions = {}
    for _, q in ipairs(survey.questions or {}) do body.questions[#body.questions + 1] = answer_question(q) end
  end
  for k in pairs(answers) do
    if not used[k] then
      util.misuse(label, "answers[%s]: no question of the survey has this title or id",
        type(k) == "string" and ("%q"):format(k) or tostring(k))
    end
  end
  return body
end


-- A response body: `answers` (question title or id → value) are turned into sections or
-- questions with the survey's ids, when the call is made on a Survey.
local function check_response(args, ctx)
  if args.answers ~= nil then
    if args.sections ~= nil or args.questions ~= nil then
      ctx.misuse("give answers or sections/questions, not both")
    end
    if ctx.object == nil then
      ctx.misuse("answers needs the survey's questions: call survey:add_response{...}")
    end
    local built = M.build_answers(ctx.label, ctx.object, args.answers)
    args.answers, args.sections, args.questions = nil, built.sections, built.questions
  end
  if args.sections == nil and args.questions == nil then
    ctx.misuse("give sections or questions (the answers)")
  end
  return args
end

local function TRUE() return true end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateSurvey", resource = "surveys", name = "create", class = "Survey",
    prepare = M.check_survey },
  { op = "GetSurveys", resource = "surveys", name = "list", class = "Survey" },
  { op = "GetSurvey", resource = "surveys", name = "get", class = "Survey",
    verbs = { refresh = {} } },
  { op = "DeleteSurvey", resource = "surveys", name = "delete", returns = TRUE,
    returns_text = "true", verbs = { delete = { on = "Survey" } } },
  { op = "GetResponses", resource = "surveys", name = "responses", class = "SurveyResponse",
    verbs = { responses = { on = "Survey", rest = true, mode = "each" } } },
  { op = "GetResponse", resource = "surveys", name = "response", class = "SurveyResponse",
    verbs = { response = { on = "Survey", rest = true } } },
  { op = "CreateResponse", resource = "surveys", name = "add_response", class = "SurveyResponse",
    prepare = check_response,
    verbs = { add_response = { on = "Survey", rest = true,
      note = "`answers`: question title or id → answer value (or an array of values); the ids come from the survey" } } },
  { op = "DeleteResponse", resource = "surveys", name = "delete_response", returns = TRUE,
    returns_text = "true" },
  { op = "DeleteResponses", resource = "surveys", name = "delete_responses", returns = TRUE,
    returns_text = "true",
    verbs = { delete_responses = { on = "Survey" } } },
  { op = "GetSummary", resource = "surveys", name = "summary", class = "SurveySummary",
    verbs = { summary = { on = "Survey" } } },
}

--- Methods of a Survey object besides its verbs.
M.methods = {}

--- Every question of the survey in order (flattening sections), each `{id, title, type,
-- answers}`.
-- @treturn table
function M.methods.questions_list(_, survey)
  local out = {}
  if type(survey.sections) == "table" then
    for _, s in ipairs(survey.sections) do
      for _, q in ipairs(s.questions or {}) do out[#out + 1] = q end
    end
  end
  if type(survey.questions) == "table" then
    for _, q in ipairs(survey.questions) do out[#out + 1] = q end
  end
  return out
end

--- `Survey 62fcb37b… "Do you like ice cream?" (1 section, 2 questions)`
-- @tparam table survey
-- @treturn string
function M.tostring(survey)
  local nq = #M.methods.questions_list(nil, survey)
  local ns = type(survey.sections) == "table" and #survey.sections or 0
  local parts = {}
  if ns > 0 then parts[#parts + 1] = ("%d section%s"):format(ns, ns == 1 and "" or "s") end
  parts[#parts + 1] = ("%d question%s"):format(nq, nq == 1 and "" or "s")
  return ("Survey %s %q (%s)"):format(util.short_id(survey_id(survey)), tostring(survey.title),
    table.concat(parts, ", "))
end

--- Classes.
M.classes = {}

M.classes.Survey = { var = "survey", key = survey_id, methods = M.methods, tostring = M.tostring }

M.classes.SurveyResponse = {
  var = "response", key = survey_id,
  --- `SurveyResponse 63063d07… participant 5c83c95d… (submission 63063cfc…)`
  tostring = function(r)
    return ("SurveyResponse %s participant %s (submission %s)"):format(
      util.short_id(r._id or r.id), util.short_id(r.participant_id),
      util.short_id(r.submission_id))
  end,
}

--- The count for one answer of one question in a summary (question title or id, answer value or
-- id); 0 when nobody chose it.
local function summary_count(_, summary, question, answer)
  for _, q in ipairs(summary.questions or {}) do
    if q.question_id == question or q.question == question then
      for _, a in ipairs(q.answers or {}) do
        if a.answer_id == answer or a.answer == answer then return a.count or 0 end
      end
      return 0
    end
  end
  return 0
end

M.classes.SurveySummary = {
  var = "summary", key = function(x) return x.survey_id end,
  methods = { count = summary_count },
  --- `SurveySummary 63346b3a… 2 questions, 10 answers`
  tostring = function(s)
    local total = 0
    for _, q in ipairs(s.questions or {}) do total = total + (q.total_answers or 0) end
    local n = #(s.questions or {})
    return ("SurveySummary %s %d question%s, %d answers"):format(util.short_id(s.survey_id), n,
      n == 1 and "" or "s", total)
  end,
}

return M
