-- HAND-WRITTEN (QuestionPro publishes no OpenAPI file): QuestionPro's v2 operations in the
-- node format of the generated lua/cohort/schema/prolific.lua, so that one generator
-- (cohort.resource) and one checker (cohort.schema) serve both platforms. Written from
-- ../shared/api/seeds/001_8de0d12a7b8e28d6.txt (the create-a-response call, the full response
-- object and its JSON Schema, the error bodies) and the QuestionPro facts of
-- ../shared/api/README.md (endpoints, the filter's body, paging by page + perPage).
--
-- Paths are relative to the API's prefix `/a/api/v2`, which the client's base URL carries.
-- QuestionPro's ids are integers; path ids are checked as positive integers (the client takes
-- digit strings too). `paging = "qp"`: page (from 1) + perPage (at most 1000), answered
-- `{response = [...], pagination = {totalItems, totalPages, currentPage, ...}}`. Object
-- answers come wrapped in `{response = ...}`.
-- @module cohort.schema.questionpro
local ID = { type = "integer", minimum = 1 }
local PAGE = {
  page = { type = "integer", minimum = 1 },
  perPage = { type = "integer", minimum = 1, maximum = 1000 },
}
local STR = { type = "string" }

local function list_of(ref)
  return { type = "object", required = { "response" }, properties = {
    response = { type = "array", items = { ref = ref } }, pagination = { ref = "Pagination" } } }
end

local function one(ref)
  return { type = "object", required = { "response" }, properties = { response = { ref = ref } } }
end

return {
  count = 8,
  source = "hand-written from api/seeds/001_8de0d12a7b8e28d6.txt and api/README.md",
  overrides = {},
  operations = {
    GetUserSurveys = {
      method = "GET", path = "/users/{user_id}/surveys", summary = "List a user's surveys",
      tags = { "Surveys" }, paging = "qp",
      path_params = { { name = "user_id", schema = ID } },
      query = PAGE, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = list_of("Survey") },
    },
    GetSurvey = {
      method = "GET", path = "/surveys/{survey_id}", summary = "Retrieve a survey",
      tags = { "Surveys" },
      path_params = { { name = "survey_id", schema = ID } },
      query = {}, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = one("Survey") },
    },
    GetSurveyQuestions = {
      method = "GET", path = "/surveys/{survey_id}/questions",
      summary = "List a survey's questions and their choices", tags = { "Surveys" }, paging = "qp",
      path_params = { { name = "survey_id", schema = ID } },
      query = PAGE, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = list_of("Question") },
    },
    GetResponses = {
      method = "GET", path = "/surveys/{survey_id}/responses", summary = "List a survey's responses",
      tags = { "Responses" }, paging = "qp",
      path_params = { { name = "survey_id", schema = ID } },
      query = PAGE, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = list_of("Response") },
    },
    FilterResponses = {
      method = "POST", path = "/surveys/{survey_id}/responses/filter",
      summary = "List the responses matching a filter (dates, custom variables, status)",
      tags = { "Responses" }, paging = "qp",
      path_params = { { name = "survey_id", schema = ID } },
      query = PAGE, query_required = {},
      body = { required = true, schema = { ref = "ResponseFilter" } },
      success = { status = 200, media = { "application/json" }, schema = list_of("Response") },
    },
    GetResponse = {
      method = "GET", path = "/surveys/{survey_id}/responses/{response_id}",
      summary = "Retrieve a response", tags = { "Responses" },
      path_params = { { name = "survey_id", schema = ID }, { name = "response_id", schema = ID } },
      query = {}, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = one("Response") },
    },
    CreateResponse = {
      method = "POST", path = "/surveys/{survey_id}/responses", summary = "Create a response",
      tags = { "Responses" },
      path_params = { { name = "survey_id", schema = ID } },
      query = {}, query_required = {},
      body = { required = true, schema = { ref = "ResponseIn" } },
      success = { status = 200, media = { "application/json" }, schema = one("Response") },
    },
    DeleteResponse = {
      method = "DELETE", path = "/surveys/{survey_id}/responses/{response_id}",
      summary = "Delete a response", tags = { "Responses" },
      path_params = { { name = "survey_id", schema = ID }, { name = "response_id", schema = ID } },
      query = {}, query_required = {},
      success = { status = 200, media = { "application/json" }, schema = one("Deleted") },
    },
  },
  schemas = {
    Pagination = { type = "object", properties = {
      perPage = { type = "integer" }, totalItems = { type = "integer" },
      currentPage = { type = "integer" }, totalPages = { type = "integer" },
      links = { type = "object" } } },
    Survey = { type = "object", required = { "surveyID" }, properties = {
      surveyID = { type = "integer" }, name = STR, status = STR, ownerID = { type = "integer" } } },
    Question = { type = "object", required = { "questionID" }, properties = {
      questionID = { type = "integer" }, code = STR, text = STR, type = STR,
      answers = { type = "array", items = { type = "object", properties = {
        answerID = { type = "integer" }, text = STR, scale = STR } } } } },
    -- an answer's value: the choice's code (scale), typed text, an "other" text, ...
    AnswerValue = { type = "object", additional = false, properties = {
      scale = STR, other = STR, text = STR, dynamicExplodeText = STR, result = STR,
      fileLink = STR, weight = { type = "number" } } },
    ResponseItem = { type = "object", required = { "questionID", "answerValues" }, properties = {
      questionID = { type = "integer" },
      questionCode = STR, questionText = STR, questionDescription = STR,
      imageUrl = { type = "string", nullable = true },
      answerValues = { type = "array", min_items = 1, items = { type = "object",
        required = { "answerID" }, properties = {
          answerID = { type = "integer" }, answerText = STR,
          value = { ref = "AnswerValue" } } } } } },
    -- the body of a new response: at least its answers; a full response object (as a list or
    -- get answers it) may be sent back as it came
    ResponseIn = { type = "object", required = { "responseSet" }, properties = {
      responseSet = { type = "array", min_items = 1, items = { ref = "ResponseItem" } },
      ipAddress = STR, timestamp = STR,
      location = { type = "object", properties = {
        country = { type = "string", nullable = true }, region = STR,
        latitude = { type = "number" }, longitude = { type = "number" },
        radius = { type = "number" }, countryCode = STR } },
      duplicate = { type = "boolean" }, timeTaken = { type = "integer" },
      responseStatus = { type = "string", enum = { "Completed", "Started", "Terminated" } },
      externalReference = STR,
      customVariables = { type = "object", additional = { type = "string", nullable = true } },
      language = STR, currentInset = STR, operatingSystem = STR, osDeviceType = STR,
      browser = STR, responseID = { type = "integer" }, surveyID = { type = "integer" },
      surveyName = STR } },
    Response = { type = "object", required = { "responseID" }, properties = {
      responseID = { type = "integer" }, surveyID = { type = "integer" }, surveyName = STR,
      timestamp = STR, responseStatus = STR, customVariables = { type = "object" },
      responseSet = { type = "array", items = { ref = "ResponseItem" } } } },
    -- README: the filter's body is startDate, endDate, timeZone, custom1..custom5, resultMode
    ResponseFilter = { type = "object", properties = {
      startDate = STR, endDate = STR, timeZone = STR,
      custom1 = STR, custom2 = STR, custom3 = STR, custom4 = STR, custom5 = STR,
      resultMode = { type = "string", enum = { "0", "1", "2", "3" } } } },
    Deleted = { type = "object", properties = {
      success = { type = "boolean" }, responseID = { type = "integer" }, message = STR } },
  },
}
