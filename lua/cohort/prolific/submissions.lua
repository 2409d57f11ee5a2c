--- Prolific submissions: rows, validators and the `Submission` class.
--
--     for sub in p.submissions:each{study = id, status = "AWAITING REVIEW"} do
--       print(sub)                       --> Submission 625d4a83… AWAITING REVIEW (participant 60bf9310…)
--       local ok, err = sub:approve()
--     end
--
-- A submission in a list carries `participant_id` and `study_code`; the same submission in
-- detail (`get`) carries `participant` and `entered_code`. Both are kept as the server sent them.
-- The journaled bulk jobs (`approve_all`, `reject_all`, `get_many`, `sub:wait_for`) live in
-- `cohort.workbench.bulk`.
-- @module cohort.prolific.submissions
local compat = require "cohort.compat"
local schema = require "cohort.schema"
local util = require "cohort.util"

local M = {}

local S = schema.load "prolific"

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

--- Most ids one bulk approve (or screen-out) request may carry.
M.MAX_BULK = 1000

--- Minimum length of a rejection message, in characters (Prolific refuses shorter ones).
M.MIN_REJECT_MESSAGE = 100

--- Statuses a submission can have, spelled as the server spells them (with spaces).
M.STATUSES = set(S.schemas.SubmissionShort.properties.status.enum)

--- Rejection categories.
M.REJECTION_CATEGORIES = set(S.schemas.SubmissionTransition.properties.rejection_category.enum)

--- A status as the list filters spell it: "AWAITING REVIEW" and "awaiting_review" both become
-- `AWAITING_REVIEW` (the schema then checks it against the filter's enum).
-- @param status
-- @return the filter's spelling, or `status` unchanged when it is not a string
function M.filter_status(status)
  if type(status) ~= "string" then return status end
  local s = status:upper():gsub("[ _]", "_")
  if s == "TIMED_OUT" then s = "TIMED-OUT" end
  return s
end

local function status_filter(args)
  args.status = M.filter_status(args.status)
  return args
end

-- ids of submissions (or Submission objects), at most M.MAX_BULK
local function id_list(args, ctx, field)
  local list = args[field]
  if type(list) ~= "table" then return end
  if #list == 0 then ctx.misuse("%s must not be empty", ctx.name(field)) end
  if #list > M.MAX_BULK then
    ctx.misuse("%s has %d ids; at most %d per call (send them in batches)", ctx.name(field), #list,
      M.MAX_BULK)
  end
  local out = {}
  for i, x in ipairs(list) do out[i] = type(x) == "table" and x.id or x end
  args[field] = out
end

--- Check a transition body beyond its schema: REJECT needs a `message` of at least 100
-- characters and a `rejection_category`.
-- @tparam table args the body (API names)
-- @tparam table ctx the validator's context (`cohort.resource`)
-- @treturn table args
function M.check_transition(args, ctx)
  if args.action == "REJECT" then
    local m = args.message
    if m == nil then
      ctx.misuse("%s is required to reject (at least %d characters)", ctx.name("message"),
        M.MIN_REJECT_MESSAGE)
    end
    local n = type(m) == "string" and compat.utf8_len(m)
    if n and n < M.MIN_REJECT_MESSAGE then
      ctx.misuse("%s must be at least %d characters to reject (got %d)", ctx.name("message"),
        M.MIN_REJECT_MESSAGE, n)
    end
    if args.rejection_category == nil then
      ctx.misuse("%s is required to reject (one of %s)", ctx.name("rejection_category"),
        util.sorted_keys(M.REJECTION_CATEGORIES))
    end
  end
  return args
end

--- Check a whole transition body (for callers outside a request: the bulk jobs, the review
-- workbench): the schema and `check_transition`; raises naming `label`.
-- @tparam string label
-- @tparam table args `action`, `message`, `rejection_category`, ...
-- @tparam[opt] table names API field → the name the caller wrote (`{rejection_category =
--   "category"}`)
-- @tparam[opt] string prefix put before field names in messages (`"items[2]."`)
-- @treturn table args
function M.prepare_transition(label, args, names, prefix)
  names, prefix = names or {}, prefix or ""
  local ctx = { label = label, name = function(k) return prefix .. (names[k] or k) end,
    misuse = function(fmt, ...) util.misuse(label, fmt, ...) end }
  M.check_transition(args, ctx)
  local msg = schema.check(S, S.operations.TransitionSubmission.body.schema, args, { names = names })
  if msg then util.misuse(label, "%s%s", prefix, msg) end
  return args
end

local function check_reasons(args, ctx)
  local r = args.request_return_reasons
  if type(r) == "table" and #r == 0 then
    ctx.misuse("%s must give at least one reason", ctx.name("request_return_reasons"))
  end
  return args
end

local function check_screen_out(args, ctx)
  id_list(args, ctx, "submission_ids")
  if ctx.row.name == "screen_out" and (args.bonus_per_submission == nil) == (args.reward_per_hour == nil) then
    ctx.misuse("give bonus_per_submission or reward_per_hour (major units), one of them")
  end
  for _, k in ipairs { "bonus_per_submission", "reward_per_hour" } do
    local v = args[k]
    if type(v) == "number" and not (v > 0 and v < math.huge) then
      ctx.misuse("%s must be an amount in major units greater than 0 (got %s)", k, util.show(v))
    end
  end
  return args
end

local function check_bulk_approve(args, ctx)
  id_list(args, ctx, "submission_ids")
  id_list(args, ctx, "participant_ids")
  if args.submission_ids ~= nil and args.study_id ~= nil then
    ctx.misuse("%s goes with %s only; give %s alone", ctx.name("study_id"),
      ctx.name("participant_ids"), ctx.name("submission_ids"))
  end
  if type(args.study_id) == "table" then args.study_id = args.study_id.id end
  if args.participant_ids ~= nil and args.study_id == nil then
    ctx.misuse("%s needs %s (the study they took part in)", ctx.name("participant_ids"), ctx.name("study_id"))
  end
  return args
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "GetSubmissions", resource = "submissions", name = "list", class = "Submission",
    prepare = status_filter,
    note = "`status` may be spelled as the server spells it (\"AWAITING REVIEW\") or as the filter does (\"AWAITING_REVIEW\")" },
  { op = "GetSubmission", resource = "submissions", name = "get", class = "Submission",
    verbs = { refresh = {} } },
  { op = "TransitionSubmission", resource = "submissions", name = "transition",
    class = "Submission", idempotent = true, prepare = M.check_transition,
    verbs = {
      approve = { fixed = { action = "APPROVE" } },
      reject = { fixed = { action = "REJECT" },
        args = { message = "message", category = "rejection_category" },
        note = "`message` of at least 100 characters; `category` one of Prolific's rejection categories" },
      complete = { fixed = { action = "COMPLETE" }, optional = true,
        args = { completion_code = "completion_code" } },
    } },
  { op = "RequestSubmissionReturn", resource = "submissions", name = "request_return",
    aliases = { reasons = "request_return_reasons" }, prepare = check_reasons,
    verbs = { request_return = { on = "Submission", arg = "request_return_reasons" } } },
  { op = "BulkApproveSubmissions", resource = "submissions", name = "bulk_approve",
    idempotent = true, prepare = check_bulk_approve,
    aliases = { ids = "submission_ids", study = "study_id", participants = "participant_ids" },
    note = "at most 1,000 ids a call; `ids` may hold Submission objects" },
  { op = "BulkScreenOutSubmissions", resource = "submissions", name = "screen_out",
    ids_from = { "study" }, aliases = { ids = "submission_ids" }, prepare = check_screen_out,
    note = "`bonus_per_submission` or `reward_per_hour` in MAJOR units" },
  { op = "CalculateBulkScreenOutPayment", resource = "submissions", name = "screen_out_payment",
    idempotent = true, ids_from = { "study" }, aliases = { ids = "submission_ids" },
    prepare = check_screen_out },
  { op = "GetStudySubmissions", resource = "submissions", name = "for_study",
    class = "Submission", prepare = status_filter,
    verbs = {
      submissions = { on = "Study", rest = true },
      each_submission = { on = "Study", rest = true, mode = "each" },
      all_submissions = { on = "Study", rest = true, mode = "all" },
    } },
}

--- `Submission 625d4a83… APPROVED (participant 60bf9310…)`
-- @tparam table sub
-- @treturn string
function M.tostring(sub)
  return ("Submission %s %s (participant %s)"):format(util.short_id(sub.id),
    tostring(sub.status), util.short_id(sub.participant or sub.participant_id))
end

--- Classes.
M.classes = { Submission = { var = "sub", tostring = M.tostring } }

return M
