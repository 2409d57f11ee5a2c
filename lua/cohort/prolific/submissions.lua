--- Prolific submissions: validation of the verbs and the `Submission` class.
--
--     for sub in p.submissions:each{study = id, status = "AWAITING REVIEW"} do
--       print(sub)                       --> Submission 625d4a83… AWAITING REVIEW (participant 60bf9310…)
--       local ok, err = sub:approve()
--     end
--
-- A submission in a list carries `participant_id` and `study_code`; the same submission in
-- detail (`get`) carries `participant` and `entered_code`. Both are kept as the server sent them.
-- @module cohort.prolific.submissions
local util = require "cohort.util"

local M = {}

--- Statuses a submission can have (spelled as the server spells them).
M.STATUSES = {
  ["RESERVED"] = true, ["ACTIVE"] = true, ["TIMED-OUT"] = true, ["AWAITING REVIEW"] = true,
  ["APPROVED"] = true, ["PARTIALLY APPROVED"] = true, ["RETURNED"] = true, ["REJECTED"] = true,
  ["SCREENED OUT"] = true, ["UNKNOWN"] = true, ["PROCESSING"] = true,
}

--- Transition actions.
M.ACTIONS = { APPROVE = true, REJECT = true, COMPLETE = true, RETURN = true, START = true,
  SCREEN_OUT = true, UNREJECT = true, UNRETURN = true }

--- Rejection categories.
M.REJECTION_CATEGORIES = {
  TOO_QUICKLY = true, TOO_SLOWLY = true, FAILED_INSTRUCTIONS = true, INCOMP_LONGITUDINAL = true,
  FAILED_CHECK = true, LOW_EFFORT = true, MALINGERING = true, NO_CODE = true, BAD_CODE = true,
  NO_DATA = true, UNSUPP_DEVICE = true, OTHER = true,
}

--- Minimum length of a rejection message, in characters.
M.MIN_REJECT_MESSAGE = 100

local function sorted_keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return table.concat(t, ", ")
end

--- Normalise a status filter: "AWAITING REVIEW" and "AWAITING_REVIEW" both become the query
-- spelling `AWAITING_REVIEW`.
function M.prepare_list(label, args)
  if args.status ~= nil then
    if type(args.status) ~= "string" then
      util.misuse(label, "status must be a string such as \"AWAITING REVIEW\"")
    end
    local spoken = args.status:upper():gsub("_", " ")
    if spoken == "TIMED OUT" then spoken = "TIMED-OUT" end
    if not M.STATUSES[spoken] then
      util.misuse(label, "status %q is not one of: %s", args.status, sorted_keys(M.STATUSES))
    end
    args.status = (spoken:gsub(" ", "_"))
  end
  if args.study ~= nil then util.check_id(label, "study", args.study) end
  return args
end

--- Check a transition body: the action, and for REJECT a message of at least 100 characters
-- and a rejection category.
function M.prepare_transition(label, args)
  local action = args.action
  if type(action) ~= "string" or not M.ACTIONS[action] then
    util.misuse(label, "action must be one of %s (got %s)", sorted_keys(M.ACTIONS),
      tostring(action))
  end
  if action == "REJECT" then
    if type(args.message) ~= "string" or utf8.len(args.message) == nil
        or utf8.len(args.message) < M.MIN_REJECT_MESSAGE then
      util.misuse(label, "message must be a text of at least %d characters for REJECT (got %s)",
        M.MIN_REJECT_MESSAGE, type(args.message) == "string"
          and (utf8.len(args.message) or #args.message) .. " characters" or type(args.message))
    end
    if not M.REJECTION_CATEGORIES[args.rejection_category] then
      util.misuse(label, "rejection_category must be one of %s (got %s)",
        sorted_keys(M.REJECTION_CATEGORIES), tostring(args.rejection_category))
    end
  elseif action == "COMPLETE" and args.completion_code ~= nil
      and type(args.completion_code) ~= "string" then
    util.misuse(label, "completion_code must be a string")
  end
  return args
end

--- request_return: reasons must be a non-empty array of strings.
function M.prepare_return(label, args)
  local reasons = args.request_return_reasons
  if type(reasons) ~= "table" or #reasons == 0 then
    util.misuse(label, "request_return_reasons must be a non-empty array of strings")
  end
  for i, r in ipairs(reasons) do
    if type(r) ~= "string" or r == "" then
      util.misuse(label, "request_return_reasons[%d] must be a non-empty string", i)
    end
  end
  return args
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  GetSubmissions = { "GET", "/api/v1/submissions/", "submissions", "list", paging = "page",
    class = "Submission", query = { "study", "status", "page", "page_size" },
    prepare = function(...) return M.prepare_list(...) end },
  GetSubmission = { "GET", "/api/v1/submissions/{id}/", "submissions", "get",
    class = "Submission" },
  TransitionSubmission = { "POST", "/api/v1/submissions/{id}/transition/", "submissions",
    "transition", class = "Submission",
    body = { "action", "message", "rejection_category", "completion_code",
      "completion_code_data" },
    required = { "action" }, prepare = function(...) return M.prepare_transition(...) end },
  RequestSubmissionReturn = { "POST", "/api/v1/submissions/{id}/request-return/",
    "submissions", "request_return", body = { "request_return_reasons" },
    required = { "request_return_reasons" },
    prepare = function(...) return M.prepare_return(...) end },
  GetStudySubmissions = { "GET", "/api/v1/studies/{id}/submissions/", "submissions",
    "for_study", paging = "page", class = "Submission",
    query = { "status", "page", "page_size" },
    prepare = function(...) return M.prepare_list(...) end },
}

--- Classes this family defines: name → `{methods =, tostring =}`.
M.classes = {}

--- Methods of a Submission object (each takes the client first; see `client:define_class`).
M.methods = {}

--- Approve the submission. Refused by the server before the submission is AWAITING REVIEW.
-- @treturn[1] Submission the updated submission
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.approve(client, sub)
  return client.submissions:transition(sub.id, { action = "APPROVE" })
end

--- Reject the submission.
-- @tparam table args `message` (at least 100 characters) and `category` (a rejection category,
--   e.g. `"LOW_EFFORT"`; `rejection_category` is accepted too)
function M.methods.reject(client, sub, args)
  if type(args) ~= "table" then
    util.misuse("Submission:reject()", "expected a table {message = ..., category = ...}")
  end
  return client.submissions:transition(sub.id, { action = "REJECT", message = args.message,
    rejection_category = args.category or args.rejection_category })
end

--- Mark the submission complete (COMPLETE), optionally with a completion code.
function M.methods.complete(client, sub, args)
  args = args or {}
  return client.submissions:transition(sub.id, { action = "COMPLETE",
    completion_code = args.completion_code or args.code })
end

--- Ask the participant to return the submission.
-- @tparam table reasons an array of reason strings, e.g. `{"Withdrew consent."}`
function M.methods.request_return(client, sub, reasons)
  return client.submissions:request_return(sub.id, { request_return_reasons = reasons })
end

--- Fetch the submission again (the detail form).
function M.methods.refresh(client, sub)
  return client.submissions:get(sub.id)
end

--- `Submission 625d4a83… APPROVED (participant 60bf9310…)`
function M.tostring(sub)
  return ("Submission %s %s (participant %s)"):format(util.short_id(sub.id),
    tostring(sub.status), util.short_id(sub.participant or sub.participant_id))
end

M.classes.Submission = { methods = M.methods, tostring = M.tostring }

return M
