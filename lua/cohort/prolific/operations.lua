--- Prolific's operations: operationId (as in Prolific's OpenAPI spec) → HTTP method, path,
-- resource and Lua method, plus what `cohort.resource` needs to generate the method. This one
-- table is checked against the spec file by `spec/prolific_operations_spec.lua`.
-- @module cohort.prolific.operations
local submissions = require "cohort.prolific.submissions"

return {
  -- users
  GetUser = { "GET", "/api/v1/users/me/", "users", "me", class = "User" },
  -- submissions
  GetSubmissions = { "GET", "/api/v1/submissions/", "submissions", "list", paging = "page",
    class = "Submission", query = { "study", "status", "page", "page_size" },
    prepare = submissions.prepare_list },
  GetSubmission = { "GET", "/api/v1/submissions/{id}/", "submissions", "get",
    class = "Submission" },
  TransitionSubmission = { "POST", "/api/v1/submissions/{id}/transition/", "submissions",
    "transition", class = "Submission",
    body = { "action", "message", "rejection_category", "completion_code", "completion_code_data" },
    required = { "action" }, prepare = submissions.prepare_transition },
  RequestSubmissionReturn = { "POST", "/api/v1/submissions/{id}/request-return/", "submissions",
    "request_return", body = { "request_return_reasons" }, required = { "request_return_reasons" },
    prepare = submissions.prepare_return },
  GetStudySubmissions = { "GET", "/api/v1/studies/{id}/submissions/", "submissions",
    "for_study", paging = "page", class = "Submission",
    query = { "status", "page", "page_size" }, prepare = submissions.prepare_list },
}
