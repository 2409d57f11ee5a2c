--- Prolific surveys: surveys built from sections or flat questions, their responses and the
-- aggregated summary.
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
-- Survey limits checked before sending (from Prolific's spec): a question type is `"single"` or
-- `"multiple"`; a section holds 1 to 5 questions; a question has 1 to 10 answer options; a
-- question title is at most 200 characters and an answer value at most 140. A survey has either
-- `sections` or `questions`, not both (only sections render in the Prolific app).
--
-- Attention checks: a question whose title starts with "Attention check" is an attention-check
-- question; the sandbox's simulated participants answer it with its first answer option unless
-- they are simulated to fail it (see `cohort.sandbox.prolific_surveys`). Put the correct answer
-- first.
-- @module cohort.prolific.surveys
local compat = require "cohort.compat"
local util = require "cohort.util"

local M = {}

--- Question types.
M.QUESTION_TYPES = { single = true, multiple = true }

--- Survey limits (Prolific's spec).
M.LIMITS = { section_questions = 5, question_answers = 10, question_title = 200,
  answer_value = 140 }

local function ulen(s) return compat.utf8_len(s) or #s end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function describe(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return type(v)
end

local function check_question(label, where, q)
  if type(q) ~= "table" then util.misuse(label, "%s must be a table", where) end
  util.check_keys(label .. " " .. where, q, { id = true, title = true, type = true, answers = true })
  if type(q.title) ~= "string" or q.title == "" then
    util.misuse(label, "%s.title must be a non-empty string (got %s)", where, describe(q.title))
  end
  if ulen(q.title) > M.LIMITS.question_title then
    util.misuse(label, "%s.title must be at most %d characters (got %d)", where,
      M.LIMITS.question_title, ulen(q.title))
  end
  if not M.QUESTION_TYPES[q.type] then
    util.misuse(label, "%s.type must be one of multiple, single (got %s)", where, describe(q.type))
  end
  if not is_array(q.answers) or #q.answers == 0 then
    util.misuse(label, "%s.answers must be a non-empty array of {value = ...}", where)
  end
  if #q.answers > M.LIMITS.question_answers then
    util.misuse(label, "%s.answers has %d options; at most %d are allowed", where, #q.answers,
      M.LIMITS.question_answers)
  end
  for j, a in ipairs(q.answers) do
    local aw = ("%s.answers[%d]"):format(where, j)
    if type(a) ~= "table" then util.misuse(label, "%s must be a table {value = ...}", aw) end
    util.check_keys(label .. " " .. aw, a, { id = true, value = true })
    local v = a.value
    if type(v) ~= "string" and type(v) ~= "boolean" then
      util.misuse(label, "%s.value must be a string (got %s)", aw, describe(v))
    end
    if type(v) == "string" and (v == "" or ulen(v) > M.LIMITS.answer_value) then
      util.misuse(label, "%s.value must be 1 to %d characters (got %d)", aw,
        M.LIMITS.answer_value, ulen(v))
    end
  end
end

--- Check a survey body (`CreateSurvey`): title, researcher_id, and either sections or questions
-- within the survey limits. Raises naming the method and the offending field.
function M.prepare_create(label, args)
  if type(args.title) ~= "string" or args.title == "" then
    util.misuse(label, "title must be a non-empty string")
  end
  util.check_id(label, "researcher_id", args.researcher_id)
  local has_s, has_q = args.sections ~= nil, args.questions ~= nil
  if has_s == has_q then
    util.misuse(label, "give either sections or questions (got %s)",
      has_s and "both" or "neither")
  end
  if has_s then
    if not is_array(args.sections) or #args.sections == 0 then
      util.misuse(label, "sections must be a non-empty array")
    end
    for i, s in ipairs(args.sections) do
      local where = ("sections[%d]"):format(i)
      if type(s) ~= "table" then util.misuse(label, "%s must be a table", where) end
      util.check_keys(label .. " " .. where, s, { id = true, title = true, questions = true })
      if type(s.title) ~= "string" or s.title == "" then
        util.misuse(label, "%s.title must be a non-empty string", where)
      end
      if not is_array(s.questions) or #s.questions == 0 then
        util.misuse(label, "%s.questions must be a non-empty array", where)
      end
      if #s.questions > M.LIMITS.section_questions then
        util.misuse(label, "%s.questions has %d questions; a section holds at most %d", where,
          #s.questions, M.LIMITS.section_questions)
      end
      for j, q in ipairs(s.questions) do
        check_question(label, ("%s.questions[%d]"):format(where, j), q)
      end
    end
  else
    if not is_array(args.questions) or #args.questions == 0 then
      util.misuse(label, "questions must be a non-empty array")
    end
    for j, q in ipairs(args.questions) do
      check_question(label, ("questions[%d]"):format(j), q)
    end
  end
  return args
end

local function check_question_responses(label, where, list)
  if not is_array(list) then util.misuse(label, "%s must be an array", where) end
  for i, q in ipairs(list) do
    local qw = ("%s[%d]"):format(where, i)
    if type(q) ~= "table" then util.misuse(label, "%s must be a table", qw) end
    util.check_keys(label .. " " .. qw, q, { question_id = true, question_title = true,
      answers = true })
    util.check_id(label, qw .. ".question_id", q.question_id)
    if type(q.question_title) ~= "string" then
      util.misuse(label, "%s.question_title must be a string", qw)
    end
    if not is_array(q.answers) then util.misuse(label, "%s.answers must be an array", qw) end
    for j, a in ipairs(q.answers) do
      local aw = ("%s.answers[%d]"):format(qw, j)
      if type(a) ~= "table" then util.misuse(label, "%s must be a table", aw) end
      util.check_id(label, aw .. ".answer_id", a.answer_id)
      if a.value == nil then util.misuse(label, "%s.value is required", aw) end
    end
  end
end

--- Check a response body (`CreateResponse`): participant and submission ids, and sections or
-- questions of the response schema.
function M.prepare_response(label, args)
  util.check_id(label, "participant_id", args.participant_id)
  util.check_id(label, "submission_id", args.submission_id)
  if args.sections == nil and args.questions == nil then
    util.misuse(label, "give sections or questions (the answers)")
  end
  if args.sections ~= nil then
    if not is_array(args.sections) then util.misuse(label, "sections must be an array") end
    for i, s in ipairs(args.sections) do
      local where = ("sections[%d]"):format(i)
      if type(s) ~= "table" then util.misuse(label, "%s must be a table", where) end
      util.check_id(label, where .. ".section_id", s.section_id)
      check_question_responses(label, where .. ".questions", s.questions)
    end
  end
  if args.questions ~= nil then check_question_responses(label, "questions", args.questions) end
  return args
end

local function prepare_list(label, args)
  util.check_id(label, "researcher_id", args.researcher_id)
  return args
end

local function check_paging(label, args)
  for _, k in ipairs { "offset", "limit" } do
    local v = args[k]
    if v ~= nil and (compat.math_type(v) ~= "integer" or v < (k == "offset" and 0 or 1)) then
      util.misuse(label, "%s must be a %s integer", k, k == "offset" and "non-negative" or "positive")
    end
  end
  return args
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateSurvey = { "POST", "/api/v1/surveys/", "surveys", "create", class = "Survey",
    body = { "researcher_id", "title", "sections", "questions" },
    required = { "researcher_id", "title" },
    prepare = function(...) return M.prepare_create(...) end },
  GetSurveys = { "GET", "/api/v1/surveys/", "surveys", "list", paging = "offset",
    class = "Survey", query = { "researcher_id", "offset", "limit" },
    required = { "researcher_id" },
    prepare = function(label, args) return check_paging(label, prepare_list(label, args)) end },
  GetSurvey = { "GET", "/api/v1/surveys/{survey_id}", "surveys", "get", class = "Survey" },
  DeleteSurvey = { "DELETE", "/api/v1/surveys/{survey_id}", "surveys", "delete", query = {} },
  GetResponses = { "GET", "/api/v1/surveys/{survey_id}/responses/", "surveys", "responses",
    paging = "offset", class = "SurveyResponse", query = { "offset", "limit" },
    prepare = check_paging },
  GetResponse = { "GET", "/api/v1/surveys/{survey_id}/responses/{response_id}", "surveys",
    "response", class = "SurveyResponse" },
  CreateResponse = { "POST", "/api/v1/surveys/{survey_id}/responses/", "surveys",
    "add_response", class = "SurveyResponse",
    body = { "participant_id", "submission_id", "sections", "questions" },
    required = { "participant_id", "submission_id" },
    prepare = function(...) return M.prepare_response(...) end },
  DeleteResponse = { "DELETE", "/api/v1/surveys/{survey_id}/responses/{response_id}", "surveys",
    "delete_response", query = {} },
  DeleteResponses = { "DELETE", "/api/v1/surveys/{survey_id}/responses/", "surveys",
    "delete_responses", query = {} },
  GetSummary = { "GET", "/api/v1/surveys/{survey_id}/responses/summary/", "surveys", "summary",
    class = "SurveySummary" },
}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Classes: name → `{methods =, tostring =}`.
M.classes = {}

local function survey_id(s) return s._id or s.id end

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
        util.misuse(label, "answers[%q]: %s is not one of the question's answer values", key,
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
        describe(k))
    end
  end
  return body
end

--- Add many responses to a survey, `concurrency` at a time; every response is checked before
-- the first is sent.
--
--     local saved, errors = p.surveys:add_responses(survey_id, bodies, { concurrency = 8 })
--
-- @function p.surveys:add_responses
-- @tparam string survey_id
-- @tparam table responses an array of response bodies as for `add_response`
--   (`participant_id`, `submission_id`, `sections` or `questions`)
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table SurveyResponses in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
function M.resource_methods.add_responses(res, survey_id, responses, opts)
  local label = "prolific.surveys:add_responses()"
  if type(responses) ~= "table" then util.misuse(label, "responses must be an array") end
  local packs = {}
  for i, body in ipairs(responses) do packs[i] = { survey_id, body } end
  return require("cohort.resource").bulk(res._client, M.operations.CreateResponse, label, packs, opts)
end

--- Methods of a Survey object.
M.methods = {}

--- Every response of the survey, lazily, across pages (an iterator; it raises the
-- `cohort.Error` on failure, since nil ends a loop). Use `p.surveys:all_responses(id)` for an
-- array, `p.surveys:responses(id)` for one page.
-- @function Survey:responses
-- @tparam[opt] table opts `limit` (page size)
-- @treturn function iterator of SurveyResponse
function M.methods.responses(client, survey, opts)
  return client.surveys:each_responses(survey_id(survey), opts)
end

--- The aggregated summary: per question, how many responses chose each answer.
-- @treturn[1] SurveySummary `{survey_id, questions = {{question_id, question, total_answers,
--   answers = {{answer_id, answer, count}}}}}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.summary(client, survey)
  return client.surveys:summary(survey_id(survey))
end

--- Add a response to the survey.
-- @function Survey:add_response
-- @tparam table args `participant_id`, `submission_id`, and either `answers` (question title or
--   id → answer value, or an array of values for a multiple-answer question; the ids are filled
--   in from the survey) or the raw `sections`/`questions` of Prolific's response schema
-- @treturn[1] SurveyResponse
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.add_response(client, survey, args)
  local label = "Survey:add_response()"
  if type(args) ~= "table" then
    util.misuse(label, "expected a table {participant_id =, submission_id =, answers =}")
  end
  util.check_keys(label, args, { participant_id = true, submission_id = true, answers = true,
    sections = true, questions = true })
  local body = { participant_id = args.participant_id, submission_id = args.submission_id,
    sections = args.sections, questions = args.questions }
  if args.answers ~= nil then
    if args.sections or args.questions then
      util.misuse(label, "give answers or sections/questions, not both")
    end
    local built = M.build_answers(label, survey, args.answers)
    body.sections, body.questions = built.sections, built.questions
  end
  return client.surveys:add_response(survey_id(survey), body)
end

--- Fetch one response of the survey.
-- @function Survey:response
-- @tparam string response_id
-- @treturn[1] SurveyResponse
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.response(client, survey, response_id)
  return client.surveys:response(survey_id(survey), response_id)
end

--- Delete every response of the survey.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete_responses(client, survey)
  local ok, err = client.surveys:delete_responses(survey_id(survey))
  if ok == nil then return nil, err end
  return true
end

--- Delete the survey.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, survey)
  local ok, err = client.surveys:delete(survey_id(survey))
  if ok == nil then return nil, err end
  return true
end

--- Fetch the survey again.
-- @treturn[1] Survey
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, survey)
  return client.surveys:get(survey_id(survey))
end

--- Every question of the survey in order (flattening sections), each `{id, title, type,
-- answers}`.
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
function M.tostring(survey)
  local nq = #M.methods.questions_list(nil, survey)
  local ns = type(survey.sections) == "table" and #survey.sections or 0
  local parts = {}
  if ns > 0 then parts[#parts + 1] = ("%d section%s"):format(ns, ns == 1 and "" or "s") end
  parts[#parts + 1] = ("%d question%s"):format(nq, nq == 1 and "" or "s")
  return ("Survey %s %q (%s)"):format(util.short_id(survey_id(survey)), tostring(survey.title),
    table.concat(parts, ", "))
end

M.classes.Survey = { methods = M.methods, tostring = M.tostring }

M.classes.SurveyResponse = {
  methods = {},
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
