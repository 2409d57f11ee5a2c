--- QuestionPro surveys and their questions: the `Survey` and `Question` classes.
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

--- Methods of a Survey (each takes the client first; see `client:define_class`).
M.methods = {}

local function sid(survey) return rawget(survey, "surveyID") or rawget(survey, "id") end

--- One page of the survey's responses.
-- @function Survey:responses
-- @tparam[opt] table args `page`, `per_page` (1..1000; the server's default is 100)
-- @treturn[1] Page of Response (`.count` the total, `.next` true when more pages follow)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.responses(client, survey, args)
  return client.responses:list(sid(survey), args)
end

--- Iterate over every response of the survey, page after page (raises the error object on
-- failure, since nil ends a loop).
-- @function Survey:each_response
-- @tparam[opt] table args `per_page`
-- @treturn function iterator of Response
function M.methods.each_response(client, survey, args)
  return client.responses:each(sid(survey), args)
end

--- Every response of the survey in one array.
-- @function Survey:all_responses
-- @tparam[opt] table args `per_page`
-- @treturn[1] table array of Response
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.all_responses(client, survey, args)
  return client.responses:all(sid(survey), args)
end

--- Every response matching a filter (see `q.responses:filter`), all pages.
-- @function Survey:filter
-- @tparam table args `start_date`, `end_date`, `time_zone`, `custom1`..`custom5`,
--   `result_mode`, `per_page`
-- @treturn[1] table array of Response
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.filter(client, survey, args)
  return client.responses:all_filter(sid(survey), args)
end

--- One response of the survey.
-- @function Survey:response
-- @tparam integer|string response_id
-- @treturn[1] Response
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.response(client, survey, response_id)
  return client.responses:get(sid(survey), response_id)
end

--- Add a response to the survey (see `q.responses:create`).
-- @function Survey:add_response
-- @tparam table body at least `responseSet`; or a full response object
-- @treturn[1] Response the stored response, as the server answers it
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.add_response(client, survey, body)
  return client.responses:create(sid(survey), body)
end

--- Every question of the survey, with its choices (`question.answers`).
-- @treturn[1] table array of Question
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.questions(client, survey)
  return client.surveys:all_questions(sid(survey))
end

--- Fetch the survey again.
-- @treturn[1] Survey
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, survey)
  return client.surveys:get(sid(survey))
end

--- `Survey 7654321 "Test Survey" (Active)`
function M.tostring(survey)
  local s = ("Survey %s %q"):format(tostring(sid(survey)), tostring(rawget(survey, "name")))
  local status = rawget(survey, "status")
  if type(status) == "string" then s = s .. (" (%s)"):format(status) end
  return s
end

--- Methods of a Question.
M.question_methods = {}

--- The choice of this question with the given answer id, code (`scale`) or text.
-- @function Question:choice
-- @param which an answer id (integer), a code (number) or a choice text (string)
-- @treturn table|nil the choice (`answerID`, `text`, `scale`)
function M.question_methods.choice(_, question, which)
  for _, a in ipairs(type(rawget(question, "answers")) == "table" and question.answers or {}) do
    if a.answerID == which or tonumber(a.scale) == which or a.text == which then return a end
  end
  return nil
end

--- `Question Q1 12345678: How often do you conduct surveys?`
function M.question_tostring(question)
  return ("Question %s %s: %s"):format(tostring(rawget(question, "code")),
    tostring(rawget(question, "questionID")), tostring(rawget(question, "text")))
end

local paging = function(...) return require("cohort.questionpro.responses").prepare_paging(...) end

--- Operation rows of this family (see `cohort.questionpro.responses` for the extra fields).
M.operations = {
  GetUserSurveys = { "GET", "/users/{user_id}/surveys", "surveys", "list", paging = "qp",
    class = "Survey", query = { "page", "per_page", "perPage" }, prepare = paging },
  GetSurvey = { "GET", "/surveys/{survey_id}", "surveys", "get", class = "Survey",
    unwrap = true, query = {} },
  GetSurveyQuestions = { "GET", "/surveys/{survey_id}/questions", "surveys", "questions",
    paging = "qp", class = "Question", query = { "page", "per_page", "perPage" },
    prepare = paging },
}

M.classes = {
  Survey = { methods = M.methods, tostring = M.tostring },
  Question = { methods = M.question_methods, tostring = M.question_tostring },
}

return M
