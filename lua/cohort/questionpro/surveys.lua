--- QuestionPro surveys and their questions: rows and the `Survey` and `Question` classes.
--
--     for survey in q.surveys:each(5551234) do          -- a user's surveys (user id)
--       print(survey)                                  --> Survey 7654321 "Test Survey" (Active)
--       for _, question in ipairs(assert(survey:questions())) do print(question) end
--       for resp in survey:each_response() do ... end
--     end
--
-- Surveys and questions keep the server's fields (`surveyID`, `name`, `status`; `questionID`,
-- `code`, `text`, `type`, `answers` with each choice's `answerID`, `text` and `scale`).
-- @module cohort.questionpro.surveys
local M = {}

local PAGED = { per_page = "perPage" }

--- Rows (see `cohort.resource`; the operations are in `cohort.schema.questionpro`).
M.rows = {
  { op = "GetUserSurveys", resource = "surveys", name = "list", class = "Survey", aliases = PAGED },
  { op = "GetSurvey", resource = "surveys", name = "get", class = "Survey",
    verbs = { refresh = {} } },
  { op = "GetSurveyQuestions", resource = "surveys", name = "questions", class = "Question",
    aliases = PAGED, verbs = { questions = { on = "Survey", rest = true, mode = "all" } } },
}

local function sid(survey) return rawget(survey, "surveyID") or rawget(survey, "id") end

--- `Survey 7654321 "Test Survey" (Active)`
-- @tparam table survey
-- @treturn string
function M.tostring(survey)
  local s = ("Survey %s %q"):format(tostring(sid(survey)), tostring(rawget(survey, "name")))
  local status = rawget(survey, "status")
  if type(status) == "string" then s = s .. (" (%s)"):format(status) end
  return s
end

--- Methods of a Question.
M.question_methods = {}

--- The choice of this question with the given answer id, code (`scale`) or text.
-- @tparam Client client
-- @tparam table question the Question
-- @param which an answer id (integer), a code (number) or a choice text (string)
-- @treturn table|nil the choice (`answerID`, `text`, `scale`)
function M.question_methods.choice(client, question, which)
  for _, a in ipairs(type(rawget(question, "answers")) == "table" and question.answers or {}) do
    if a.answerID == which or tonumber(a.scale) == which or a.text == which then return a end
  end
  return nil
end

--- `Question Q1 12345678: How often do you conduct surveys?`
-- @tparam table question
-- @treturn string
function M.question_tostring(question)
  return ("Question %s %s: %s"):format(tostring(rawget(question, "code")),
    tostring(rawget(question, "questionID")), tostring(rawget(question, "text")))
end

--- Classes.
M.classes = {
  Survey = { var = "survey", key = sid, tostring = M.tostring },
  Question = { var = "question", key = "questionID", methods = M.question_methods,
    tostring = M.question_tostring },
}

return M
