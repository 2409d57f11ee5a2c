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
local Error = require "cohort.error"
local core = require "cohort.core"

local M = {}

--- Most ids one bulk approve (or screen-out) request may carry.
M.MAX_BULK = 1000

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

--- Methods of a Submission object (each takes the client first; see `client:define_class`).
M.methods = {}

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
    if type(args.message) ~= "string" or require("cohort.compat").utf8_len(args.message) == nil
        or require("cohort.compat").utf8_len(args.message) < M.MIN_REJECT_MESSAGE then
      util.misuse(label, "message must be a text of at least %d characters for REJECT (got %s)",
        M.MIN_REJECT_MESSAGE, type(args.message) == "string"
          and (require("cohort.compat").utf8_len(args.message) or #args.message) .. " characters" or type(args.message))
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
  TransitionSubmission = { idempotent = true, "POST", "/api/v1/submissions/{id}/transition/", "submissions",
    "transition", class = "Submission",
    body = { "action", "message", "rejection_category", "completion_code",
      "completion_code_data" },
    required = { "action" }, prepare = function(...) return M.prepare_transition(...) end },
  RequestSubmissionReturn = { "POST", "/api/v1/submissions/{id}/request-return/",
    "submissions", "request_return", body = { "request_return_reasons" },
    required = { "request_return_reasons" },
    prepare = function(...) return M.prepare_return(...) end },
  BulkApproveSubmissions = { "POST", "/api/v1/submissions/bulk-approve/", "submissions",
    "bulk_approve", body = { "submission_ids", "study_id", "participant_ids" } },
  BulkScreenOutSubmissions = { "POST", "/api/v1/studies/{id}/screen-out-submissions/",
    "submissions", "screen_out",
    body = { "submission_ids", "bonus_per_submission", "reward_per_hour", "increase_places" } },
  CalculateBulkScreenOutPayment = { idempotent = true, "POST", "/api/v1/studies/{id}/calculate-screen-out-payment/",
    "submissions", "screen_out_payment", body = { "submission_ids" } },
  GetStudySubmissions = { "GET", "/api/v1/studies/{id}/submissions/", "submissions",
    "for_study", paging = "page", class = "Submission",
    query = { "status", "page", "page_size" },
    prepare = function(...) return M.prepare_list(...) end },
}

-- ------------------------------------------------------------------ bulk operations

-- An array of ids (strings, or objects with an `id` field such as Submission), checked.
local function id_list(label, field, list, max)
  if type(list) ~= "table" or #list == 0 then
    util.misuse(label, "%s must be a non-empty array of ids", field)
  end
  if #list > max then
    util.misuse(label, "%s has %d ids; at most %d per call (send them in batches)", field, #list, max)
  end
  local out = {}
  for i, x in ipairs(list) do
    local id = type(x) == "table" and x.id or x
    out[i] = util.check_id(label, ("%s[%d]"):format(field, i), id)
  end
  return out
end

local function send_row(client, row, label, ...)
  local resource = require "cohort.resource"
  local req = resource.build(client, row, label, ...)
  return client:send(req)
end

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Approve many submissions at once (at most 1,000 per call; Prolific approves them
-- asynchronously). Every submission must be AWAITING REVIEW.
--
--     p.submissions:bulk_approve{ ids = { sub1.id, sub2.id } }           -- submission ids
--     p.submissions:bulk_approve{ study = study.id, ids = subs }          -- Submission objects too
--     p.submissions:bulk_approve{ study = study.id, participants = { pid1, pid2 } }
--
-- @function p.submissions:bulk_approve
-- @tparam table args `ids` (submission ids or Submission objects; with `study` they must belong
--   to it) or `participants` (participant ids, needs `study`)
-- @treturn[1] string the server's acknowledgement
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.bulk_approve(res, args)
  local label = "prolific.submissions:bulk_approve()"
  if type(args) ~= "table" then
    util.misuse(label, "expected a table {ids = {...}} or {study = ..., participants = {...}}")
  end
  util.check_keys(label, args, { ids = true, study = true, participants = true,
    submission_ids = true, participant_ids = true, study_id = true })
  local study = args.study or args.study_id
  local ids = args.ids or args.submission_ids
  local participants = args.participants or args.participant_ids
  if (ids == nil) == (participants == nil) then
    util.misuse(label, "give ids (submission ids) or participants (participant ids, with study)")
  end
  local body = {}
  if study ~= nil then body.study_id = util.check_id(label, "study", study) end
  if ids ~= nil then
    body.submission_ids = id_list(label, "ids", ids, M.MAX_BULK)
  else
    if study == nil then util.misuse(label, "participants needs study = <study id>") end
    body.participant_ids = id_list(label, "participants", participants, M.MAX_BULK)
  end
  return send_row(res._client, M.operations.BulkApproveSubmissions, label, body)
end

local SCREEN_OUT_KEYS = { study = true, ids = true, submission_ids = true,
  bonus_per_submission = true, reward_per_hour = true, increase_places = true }

local function screen_out_args(label, study, args)
  if type(study) == "table" and args == nil then study, args = study.study, study end
  if type(args) ~= "table" then
    util.misuse(label, "expected a table {study = ..., ids = {...}, ...}")
  end
  util.check_keys(label, args, SCREEN_OUT_KEYS)
  study = study or args.study
  util.check_id(label, "study", study)
  local body = { submission_ids = id_list(label, "ids", args.ids or args.submission_ids,
    M.MAX_BULK) }
  return study, body
end

--- Screen out submissions of a custom-screening study, paying each a bonus (Prolific sends the
-- participants a message). Give `bonus_per_submission` (MAJOR units, e.g. 0.50 for £0.50) or
-- `reward_per_hour` (MAJOR units an hour, e.g. 6.00).
--
--     p.submissions:screen_out{ study = id, ids = {...}, bonus_per_submission = 0.5 }
--
-- @function p.submissions:screen_out
-- @tparam table args `study`, `ids`, `bonus_per_submission` | `reward_per_hour`, `increase_places`
-- @treturn[1] table `{message, payment_per_participant = {amount (minor units), currency}}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.screen_out(res, study, args)
  local label = "prolific.submissions:screen_out()"
  local sid, body = screen_out_args(label, study, args)
  if type(study) == "table" then args = study end
  local bps, rph = args.bonus_per_submission, args.reward_per_hour
  if (bps == nil) == (rph == nil) then
    util.misuse(label, "give bonus_per_submission or reward_per_hour (major units), not both")
  end
  for name, v in pairs { bonus_per_submission = bps, reward_per_hour = rph } do
    if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
      util.misuse(label, "%s must be a finite amount in major units greater than 0 (got %s)",
        name, tostring(v))
    end
  end
  if args.increase_places ~= nil and type(args.increase_places) ~= "boolean" then
    util.misuse(label, "increase_places must be a boolean")
  end
  body.bonus_per_submission, body.reward_per_hour = bps, rph
  body.increase_places = args.increase_places
  return send_row(res._client, M.operations.BulkScreenOutSubmissions, label, sid, body)
end

--- The minimum and recommended screen-out payments for some submissions.
-- @function p.submissions:screen_out_payment
-- @tparam table args `study`, `ids`
-- @treturn[1] table `{minimum_reward = {amount, currency}, recommended_reward = {...},
--   average_submission_time_minutes}` (amounts in minor units in the sandbox)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.screen_out_payment(res, study, args)
  local label = "prolific.submissions:screen_out_payment()"
  if type(study) == "table" then
    util.check_keys(label, study, { study = true, ids = true, submission_ids = true })
  elseif type(args) == "table" then
    util.check_keys(label, args, { ids = true, submission_ids = true })
  end
  local sid, body = screen_out_args(label, study, args)
  return send_row(res._client, M.operations.CalculateBulkScreenOutPayment, label, sid, body)
end

-- ------------------------------------------------------------------ waiting

local function clock()
  return core.monotime()
end

-- Inside a task this yields to the frame loop; outside it blocks.
local function sleep(client, seconds)
  return client:sleep(seconds)
end

--- Statuses a submission never leaves (by itself).
M.FINAL = { APPROVED = true, REJECTED = true, RETURNED = true, ["TIMED-OUT"] = true,
  ["SCREENED OUT"] = true, ["PARTIALLY APPROVED"] = true }

local ORDER = { RESERVED = 1, ACTIVE = 2, ["AWAITING REVIEW"] = 3 }

--- Normalise a status argument ("AWAITING_REVIEW" → "AWAITING REVIEW").
function M.spoken_status(label, status)
  if type(status) ~= "string" then
    util.misuse(label, "status must be a string such as \"AWAITING REVIEW\" (got %s)", type(status))
  end
  local spoken = status:upper():gsub("_", " ")
  if spoken == "TIMED OUT" then spoken = "TIMED-OUT" end
  if not M.STATUSES[spoken] then
    util.misuse(label, "status %q is not one of: %s", status, sorted_keys(M.STATUSES))
  end
  return spoken
end

--- Poll the submission until it reaches `status`.
-- Gives up early when the submission reaches a final status (RETURNED, APPROVED, ...) that is
-- not the one awaited.
-- @function Submission:wait_for
-- @tparam string status e.g. `"AWAITING REVIEW"` (or `"AWAITING_REVIEW"`)
-- @tparam[opt] table opts `timeout` (seconds, default 60), `interval` (seconds between polls,
--   default 1)
-- @treturn[1] Submission the submission in that status (detail form)
-- @return[2] nil
-- @treturn[2] cohort.Error of kind `"timeout"` (`err.submission` holds the last one seen), or
--   the error of a failed poll
function M.methods.wait_for(client, sub, status, opts)
  local label = "Submission:wait_for()"
  local want = M.spoken_status(label, status)
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "opts must be a table {timeout =, interval =}") end
  util.check_keys(label, opts, { timeout = true, interval = true })
  local timeout, interval = opts.timeout or 60, opts.interval or 1
  if type(timeout) ~= "number" or timeout < 0 or timeout ~= timeout then
    util.misuse(label, "timeout must be a number of seconds")
  end
  if type(interval) ~= "number" or interval <= 0 or interval ~= interval then
    util.misuse(label, "interval must be a positive number of seconds")
  end
  local deadline = clock() + timeout
  local last = sub
  while true do
    local cur, err = client.submissions:get(sub.id)
    if cur == nil then return nil, err end
    last = cur
    if cur.status == want then return cur end
    local unreachable = M.FINAL[cur.status]
      or (ORDER[cur.status] and ORDER[want] and ORDER[cur.status] > ORDER[want])
    if unreachable then
      return nil, Error.new { kind = "timeout", code = "UNREACHABLE", platform = "prolific",
        title = "Status not reached", method = "GET", submission = cur, attempts = 1,
        message = ("submission %s is %s and will not become %s"):format(sub.id, cur.status, want) }
    end
    local left = deadline - clock()
    if left <= 0 then
      return nil, Error.new { kind = "timeout", platform = "prolific", title = "Timed out",
        method = "GET", submission = last, attempts = 1,
        message = ("submission %s is still %s after %gs waiting for %s"):format(sub.id,
          tostring(last.status), timeout, want) }
    end
    sleep(client, math.min(interval, left))
  end
end

--- Classes this family defines: name → `{methods =, tostring =}`.
M.classes = {}


--- Approve the submission. Refused by the server before the submission is AWAITING REVIEW.
-- @treturn[1] Submission the updated submission
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.approve(client, sub)
  return client.submissions:transition(sub.id, { action = "APPROVE" })
end

--- Reject the submission.
-- @function Submission:reject
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
-- @function Submission:request_return
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

--- Fetch many submissions (the detail form), `concurrency` at a time.
--
--     local subs, errors = p.submissions:get_many(ids, { concurrency = 16 })
--
-- @function p.submissions:get_many
-- @tparam table ids submission ids (or Submission objects); all are checked before sending
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table Submissions in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
function M.resource_methods.get_many(res, ids, opts)
  local label = "prolific.submissions:get_many()"
  if type(ids) ~= "table" then util.misuse(label, "ids must be an array of submission ids") end
  local packs = {}
  for i, id in ipairs(ids) do packs[i] = { type(id) == "table" and id.id or id } end
  return require("cohort.resource").bulk(res._client, M.operations.GetSubmission, label, packs, opts)
end

-- ------------------------------------------------------------------ journaled bulk work

--- Approve many submissions: batches of at most 1,000 through the bulk-approve endpoint, one
-- batch after the other, optionally through a journal (see `cohort.workbench.journal`).
--
--     assert(p.submissions:approve_all{ ids = passed, study = study.id, journal = true })
--
-- With `journal`, a re-run skips batches whose approval is recorded and, for a batch sent but
-- not answered, sends only the submissions that are not APPROVED yet.
-- @function p.submissions:approve_all
-- @tparam table args `ids` (submission ids or Submission objects), `study` (optional),
--   `journal` (optional: a store file path, or true with `study`: the study's
--   `cohort-<study id>.sqlite`), `batch_size` (at most 1000, the default), `progress`
-- @treturn[1] table `{approved = n, skipped = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.approve_all(res, args)
  local label = "prolific.submissions:approve_all()"
  local journal = require "cohort.workbench.journal"
  if type(args) ~= "table" then util.misuse(label, "expected a table {ids = ...}") end
  util.check_keys(label, args, { ids = true, study = true, journal = true, batch_size = true,
    progress = true })
  local size = args.batch_size or M.MAX_BULK
  if require("cohort.compat").math_type(size) ~= "integer" or size < 1 or size > M.MAX_BULK then
    util.misuse(label, "batch_size must be an integer from 1 to %d", M.MAX_BULK)
  end
  if type(args.ids) ~= "table" or #args.ids == 0 then
    util.misuse(label, "ids must be a non-empty array of submission ids")
  end
  local ids = {}
  for i, x in ipairs(args.ids) do
    ids[i] = util.check_id(label, ("ids[%d]"):format(i), type(x) == "table" and x.id or x)
  end
  local j = journal.from_opts(label, args)
  local run = { approved = 0, skipped = 0 }
  local client = res._client
  local bar = require("cohort.prompt.progress").new { label = "approvals", total = #ids, delay = 0.5,
    enabled = args.progress == nil and client.progress or args.progress }
  local function fail(err)
    bar:finish()
    if j then j:close() end
    return nil, err
  end
  for first = 1, #ids, size do
    bar:set(run.approved + run.skipped)
    local batch = { require("cohort.compat").unpack(ids, first, math.min(first + size - 1, #ids)) }
    local key = "approve:" .. journal.digest(table.concat(batch, ","))
    local done = j and j:outcome(key, "approve")
    if done and done.ok then
      run.skipped = run.skipped + #batch
    else
      if j and j:uncertain(key, "approve") then -- sent, answer unknown: keep the rest only
        local rest = {}
        for _, id in ipairs(batch) do
          local sub, err = res:get(id)
          if not sub then return fail(err) end
          if sub.status ~= "APPROVED" then rest[#rest + 1] = id end
        end
        run.skipped = run.skipped + #batch - #rest
        batch = rest
      end
      if #batch > 0 then
        if j then j:begin(key, "approve", { count = #batch }) end
        local ok, err = res:bulk_approve { ids = batch, study = args.study }
        if ok == nil then
          if j and journal.definite(err) then j:finish(key, "approve", { ok = false, error = tostring(err) }) end
          return fail(err)
        end
        run.approved = run.approved + #batch
      end
      if j then j:finish(key, "approve", { ok = true }) end
    end
  end
  bar:set(run.approved + run.skipped)
  bar:finish()
  if j then j:close() end
  return run
end

--- Reject many submissions, one after the other, optionally through a journal.
--
--     p.submissions:reject_all{ journal = "cohort-60aca280709ee40ec37d4885.sqlite", items = {
--       { id = sub.id, category = "FAILED_CHECK", message = "…at least 100 characters…" } } }
--
-- Every item is checked before anything is sent. With `journal`, a re-run skips recorded
-- rejections and does not send again one whose submission is already REJECTED.
-- @function p.submissions:reject_all
-- @tparam table args `items` (`{id =, message =, category =}`), `journal` (optional: a store
--   file path),
--   `progress`
-- @treturn[1] table `{rejected = n, skipped = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.reject_all(res, args)
  local label = "prolific.submissions:reject_all()"
  local journal = require "cohort.workbench.journal"
  if type(args) ~= "table" then util.misuse(label, "expected a table {items = ...}") end
  util.check_keys(label, args, { items = true, journal = true, progress = true })
  if type(args.items) ~= "table" or #args.items == 0 then
    util.misuse(label, "items must be a non-empty array of {id =, message =, category =}")
  end
  local bodies = {}
  for i, item in ipairs(args.items) do
    if type(item) ~= "table" then util.misuse(label, "items[%d] must be a table", i) end
    local id = util.check_id(label, ("items[%d].id"):format(i), type(item.id) == "table" and item.id.id or item.id)
    bodies[i] = { id = id, body = M.prepare_transition(("%s items[%d]"):format(label, i), {
      action = "REJECT", message = item.message,
      rejection_category = item.category or item.rejection_category }) }
  end
  local j = journal.from_opts(label, args)
  local run = { rejected = 0, skipped = 0 }
  local bar = require("cohort.prompt.progress").new { label = "rejections", total = #bodies, delay = 0.5,
    enabled = args.progress == nil and res._client.progress or args.progress }
  for _, b in ipairs(bodies) do
    bar:set(run.rejected + run.skipped)
    local key = "reject:" .. b.id
    local done = j and j:outcome(key, "reject")
    local skip = done and done.ok
    if not skip and j and j:uncertain(key, "reject") then
      local sub, err = res:get(b.id)
      if not sub then bar:finish(); j:close(); return nil, err end
      skip = sub.status == "REJECTED"
      if skip then j:finish(key, "reject", { ok = true, verified = true }) end
    end
    if skip then
      run.skipped = run.skipped + 1
    else
      if j then j:begin(key, "reject") end
      local ok, err = res:transition(b.id, b.body)
      if ok == nil then
        if j and journal.definite(err) then j:finish(key, "reject", { ok = false, error = tostring(err) }) end
        bar:finish()
        if j then j:close() end
        return nil, err
      end
      if j then j:finish(key, "reject", { ok = true }) end
      run.rejected = run.rejected + 1
    end
  end
  bar:set(run.rejected + run.skipped)
  bar:finish()
  if j then j:close() end
  return run
end

M.classes.Submission = { methods = M.methods, tostring = M.tostring }

return M
