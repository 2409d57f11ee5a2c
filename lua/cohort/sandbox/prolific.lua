-- Prolific API emulation: a table of routes under /api/v1/.
-- Each row is { METHOD, "path/{param}/", handler(ctx, params), op = "OperationId" }: the
-- operation of cohort.schema.prolific it serves. Before a handler runs, the dispatcher holds the
-- request to that operation's schema (path ids, query, JSON body: see
-- cohort.sandbox.prolific_contract), so a handler finds the checked body in ctx.body and the
-- typed query in ctx.params, and checks only what the schema cannot say (ids that exist, states,
-- sums). Handlers answer util.answer(status, value) — encoded by the operation's success schema,
-- so arrays stay arrays — or util.prolific_error(...). To add an operation, add a row (the
-- route table is checked against the schema at start-up). Paths are matched segment by segment
-- on decoded segments, the trailing "/" is optional.
local util = require "cohort.sandbox.util"
local contract = require "cohort.sandbox.prolific_contract"

local M = {}

local null = util.null

M.DEFAULT_PAGE_SIZE = 20
M.MAX_PAGE_SIZE = 200

M.REJECTION_CATEGORIES = {
  TOO_QUICKLY = true, TOO_SLOWLY = true, FAILED_INSTRUCTIONS = true, INCOMP_LONGITUDINAL = true,
  FAILED_CHECK = true, LOW_EFFORT = true, MALINGERING = true, NO_CODE = true, BAD_CODE = true,
  NO_DATA = true, UNSUPP_DEVICE = true, OTHER = true,
}

local function nn(v) if v == nil then return null end return v end

local function find(list, id)
  for i, x in ipairs(list) do
    if x.id == id then return x, i end
  end
end
M.find = find

-- Shapes ---------------------------------------------------------------------------------------

-- Does the participant have another submission in the same study? (Prolific's has_siblings)
local function has_siblings(state, s)
  for _, o in ipairs(state.submissions) do
    if o ~= s and o.study_id == s.study_id and o.participant_id == s.participant_id then
      return true
    end
  end
  return false
end

-- The list shape (SubmissionShort, plus the live list's is_complete, time_taken, reward).
-- `siblings`: participant → count of their submissions in the study, when the caller has it.
function M.submission_list_item(s, state, siblings)
  local sib
  if siblings then sib = (siblings[s.study_id .. s.participant_id] or 0) > 1
  else sib = state ~= nil and has_siblings(state, s) end
  return {
    id = s.id,
    participant_id = s.participant_id,
    study_code = nn(s.study_code),
    status = s.status,
    started_at = s.started_at,
    completed_at = nn(s.completed_at),
    return_requested = nn(s.return_requested),
    has_siblings = sib,
    is_complete = s.completed_at ~= nil and s.completed_at ~= null,
    time_taken = nn(s.time_taken),
    reward = nn(s.reward),
    study_id = s.study_id,
    attention_check = s.attention_check,
  }
end

function M.submission_detail(s)
  local bonus = {}
  for i, b in ipairs(s.bonus_payments or {}) do bonus[i] = b end
  return {
    id = s.id,
    started_at = s.started_at,
    status = s.status,
    study_id = s.study_id,
    completed_at = nn(s.completed_at),
    entered_code = nn(s.study_code),
    participant = s.participant_id,
    parent_study_id = nn(s.parent_study_id),
    bonus_payments = util.array(bonus),
    return_requested = nn(s.return_requested),
    time_taken = nn(s.time_taken),
    reward = nn(s.reward),
    is_complete = s.completed_at ~= nil and s.completed_at ~= null,
    attention_check = s.attention_check,
  }
end

-- Paging ---------------------------------------------------------------------------------------

local function positive_int(v)
  local n = tonumber(v)
  if n and n == math.floor(n) and n >= 1 then return math.tointeger(n) end
end

-- Answers one page of `items` (already shaped) in the live envelope, honouring the quirks.
function M.paginate(ctx, items)
  -- page and page_size were checked by the contract (integers, page_size at most 200)
  local q = ctx.query
  local size, page = M.DEFAULT_PAGE_SIZE, 1
  if q.page_size ~= nil and q.page_size ~= "" then
    size = positive_int(q.page_size)
    if not size then
      return util.prolific_error(400, { page_size = { "A valid integer is required." } })
    end
    size = math.min(size, M.MAX_PAGE_SIZE)
  end
  if q.page ~= nil and q.page ~= "" then
    page = positive_int(q.page)
    if not page then return util.prolific_error(404, "Invalid page.") end
  end
  local n = #items
  local last = math.max(1, (n + size - 1) // size)
  if page > last then return util.prolific_error(404, "Invalid page.") end

  local quirks = ctx.app.quirks or {}
  local from, to = (page - 1) * size + 1, math.min(page * size, n)
  local overlap = tonumber(quirks.overlap) or 0
  if page > 1 and overlap > 0 then from = math.max(1, from - math.floor(overlap)) end
  local results = {}
  for i = from, to do results[#results + 1] = items[i] end

  -- Keep the other query parameters in their order, replace page (and keep page_size).
  local function link(p)
    local pairs_list = {}
    for _, kv in ipairs(ctx.qlist) do
      if kv[1] ~= "page" and kv[1] ~= "delay" then pairs_list[#pairs_list + 1] = kv end
    end
    if p > 1 then pairs_list[#pairs_list + 1] = { "page", tostring(p) } end
    return ctx.url(ctx.path, pairs_list)
  end

  local next_href = page < last and link(page + 1) or null
  if quirks.repeat_next and page == 2 then next_href = link(2) end
  if quirks.next_on_last and page == last then next_href = link(last + 1) end
  return util.answer(200, {
    results = util.array(results),
    _links = {
      self = { href = link(page), title = "Current" },
      next = { href = next_href, title = "Next" },
      previous = { href = page > 1 and link(page - 1) or null, title = "Previous" },
      last = { href = link(last), title = "Last" },
    },
    meta = { count = n },
  })
end

-- Simulated participants -----------------------------------------------------------------------

-- Submissions made by POST /__sandbox/studies/{id}/simulate carry `sim` = { arrive, active_at,
-- end_at (sandbox Unix seconds), outcome ("AWAITING REVIEW" | "RETURNED" | "TIMED-OUT"),
-- time_taken, failed_check, survey_id }: RESERVED until active_at, ACTIVE until end_at, then
-- the outcome. Each step is an event on the sandbox clock (cohort.sandbox.lifecycle.sync puts
-- new ones there), and reading submissions also brings them up to date. Once the researcher
-- changes a simulated submission (e.g. screens it out) the simulation leaves it alone. Every
-- change goes through cohort.sandbox.lifecycle.submission_status (money, webhooks, time-outs).

--- Bring one simulated submission up to sandbox time `now`; returns the time of its next step,
-- or nil when it has none left.
function M.advance_submission(app, s, now)
  local sim = s.sim
  if type(sim) ~= "table" or sim.done then return nil end
  local lifecycle = require "cohort.sandbox.lifecycle"
  if sim.last ~= nil and s.status ~= sim.last then
    sim.done = true
    return nil
  end
  if now >= sim.active_at and s.status == "RESERVED" then
    lifecycle.submission_status(app, s, "ACTIVE", { t = sim.active_at })
    sim.last = s.status
  end
  if now >= sim.end_at then
    if sim.outcome == "AWAITING REVIEW" then
      s.completed_at = require("cohort.sandbox.data").iso_time(sim.end_at)
      s.study_code = sim.code or null
      s.time_taken = sim.time_taken
    else
      s.time_taken = null
    end
    sim.done = true
    if s.status == "ACTIVE" or s.status == "RESERVED" then
      lifecycle.submission_status(app, s, sim.outcome, { t = sim.end_at })
    end
    sim.last = s.status
    if sim.outcome == "AWAITING REVIEW" and sim.survey_id then
      local ok, surveys = pcall(require, "cohort.sandbox.prolific_surveys")
      local fn = ok and type(surveys) == "table" and surveys.simulate_response or nil
      if type(fn) == "function" then
        pcall(fn, app, sim.survey_id, s.participant_id, s.id, sim.failed_check)
      end
    end
    return nil
  end
  sim.last = s.status
  return now >= sim.active_at and sim.end_at or sim.active_at
end

--- Bring every simulated submission up to sandbox time `now` (default: the clock's now).
function M.advance(app, now)
  now = now or (app.clock and app.clock:now()) or os.time()
  for _, s in ipairs(app.state.submissions or {}) do
    if type(s.sim) == "table" and not s.sim.done then M.advance_submission(app, s, now) end
  end
end

-- Handlers -------------------------------------------------------------------------------------

local function normalize_status(s)
  if s == nil or s == "" then return nil end
  return (s:gsub("_", " ")):upper()
end

local function list_submissions(ctx, study_id)
  M.advance(ctx.app, ctx.req.time)
  local want = normalize_status(ctx.params.status)
  local subs = ctx.app.state.submissions
  local count = {}
  for _, s in ipairs(subs) do
    local k = tostring(s.study_id) .. tostring(s.participant_id)
    count[k] = (count[k] or 0) + 1
  end
  local items = {}
  for _, s in ipairs(subs) do
    if (study_id == nil or s.study_id == study_id) and (want == nil or s.status == want) then
      items[#items + 1] = M.submission_list_item(s, nil, count)
    end
  end
  return M.paginate(ctx, items)
end

local function get_submission(ctx, id)
  M.advance(ctx.app, ctx.req.time)
  local s = find(ctx.app.state.submissions, id)
  if not s then return nil, util.prolific_error(404, "Submission not found.") end
  return s
end

--- The request's JSON body, as the contract checked it (an empty table when the operation's
-- optional body was not given). Kept for handlers written before the contract: returns the body.
function M.body_json(ctx)
  return ctx.body or {}
end

local function now_iso(ctx)
  return require("cohort.sandbox.data").iso_time(ctx.req.time or os.time())
end

local function transition(ctx, p)
  local s, status, headers, body = get_submission(ctx, p.id)
  if not s then return status, headers, body end
  local b = ctx.body
  local action = b.action -- APPROVE, REJECT or COMPLETE (the schema's enum)
  local lifecycle = require "cohort.sandbox.lifecycle"
  local new
  if action == "APPROVE" or action == "REJECT" then
    if s.status ~= "AWAITING REVIEW" then
      return util.prolific_error(400, string.format(
        "Cannot %s a submission with status %s; it must be AWAITING REVIEW.",
        action:lower(), s.status), nil, 140001)
    end
    if action == "REJECT" then
      local fields = {}
      if type(b.message) ~= "string" or utf8.len(b.message) == nil or utf8.len(b.message) < 100 then
        fields.message = { "Ensure this field has at least 100 characters." }
      end
      if b.rejection_category == nil then
        fields.rejection_category = { "This field is required when rejecting." }
      end
      if next(fields) then return util.prolific_error(400, fields) end
      new = "REJECTED"
    else
      new = "APPROVED"
    end
  else -- COMPLETE
    if s.status ~= "ACTIVE" then
      return util.prolific_error(400, string.format(
        "Cannot complete a submission with status %s; it must be ACTIVE.", s.status), nil, 140001)
    end
    new = "AWAITING REVIEW"
  end
  local before = { s.completed_at, s.rejection_category }
  if new == "REJECTED" then s.rejection_category = b.rejection_category end
  if new == "AWAITING REVIEW" then s.completed_at = now_iso(ctx) end
  local ok, e1, e2, e3 = lifecycle.submission_status(ctx.app, s, new)
  if not ok then -- the reward cannot be paid (402): nothing changed
    s.completed_at, s.rejection_category = before[1], before[2]
    return e1, e2, e3
  end
  return util.answer(200, M.submission_detail(s))
end

-- Tell the webhook subscriptions of the study's workspace about a submission's new status.
function M.submission_event(app, s, st)
  local hooks = require "cohort.sandbox.prolific_hooks"
  st = st or find(app.state.studies, s.study_id)
  local ws = require("cohort.sandbox.prolific_money").workspace_of(app.state, st)
  hooks.record_event(app, "submission.status.change", s.id, {
    resource_id = s.id, event_type = "submission.status.change",
    participant_id = s.participant_id, status = s.status, study_id = s.study_id }, ws)
end

local function is_hex_id(v)
  return type(v) == "string" and #v == 24 and v:match("^%x+$") ~= nil
end
M.is_hex_id = is_hex_id

-- An array of ids (the schema checked their type and format), or nil and a message for the
-- field's detail: not empty, at most `max`.
function M.id_array(v, max)
  if type(v) ~= "table" then return nil, "This field is required." end
  if #v == 0 then return nil, "This list may not be empty." end
  if max and #v > max then
    return nil, string.format("Ensure this field has no more than %d elements.", max)
  end
  return v
end

-- Participants ----------------------------------------------------------------------------------

-- Kinds of objects whose ids are not participants' ids: state key, id field, what to call it.
local NOT_PARTICIPANTS = {
  { "submissions", "id", "a submission" }, { "studies", "id", "a study" },
  { "workspaces", "id", "a workspace" }, { "projects", "id", "a project" },
  { "participant_groups", "id", "a participant group" }, { "surveys", "_id", "a survey" },
  { "study_collections", "id", "a study collection" }, { "filter_sets", "id", "a filter set" },
}

--- Why an id (24 hexadecimal digits, as the schema checked) cannot be a participant's, or nil.
-- When the state has a participant pool (`state.participants`: an array of {id} or ids) the id
-- must be one of it; without one the sandbox knows only the ids that name something else — a
-- submission's id given for its participant's is the commonest slip, and Prolific refuses it.
function M.not_participant(state, id)
  local pool = state.participants
  if type(pool) == "table" and #pool > 0 then
    for _, x in ipairs(pool) do
      if x == id or (type(x) == "table" and x.id == id) then return nil end
    end
    return "is not the id of a participant"
  end
  if state.user and state.user.id == id then return "is the researcher's id, not a participant's" end
  for _, kind in ipairs(NOT_PARTICIPANTS) do
    for _, x in ipairs(state[kind[1]] or {}) do
      if x[kind[2]] == id then
        local extra = ""
        if kind[1] == "submissions" then extra = (" (its participant is %s)"):format(x.participant_id) end
        return ("is the id of %s, not of a participant%s"):format(kind[3], extra)
      end
    end
  end
  return nil
end

--- field.N → message for each id of `ids` that is not a participant's, or nil when all may be.
function M.check_participants(state, ids, field)
  local fields
  for i, id in ipairs(ids) do
    local why = M.not_participant(state, id)
    if why then
      fields = fields or {}
      fields[("%s.%d"):format(field, i - 1)] = { ('"%s" %s.'):format(id, why) }
    end
  end
  return fields
end


local function request_return(ctx, p)
  local s, status, headers, body = get_submission(ctx, p.id)
  if not s then return status, headers, body end
  local reasons = ctx.body.request_return_reasons -- an array of strings (the schema)
  if #reasons == 0 then
    return util.prolific_error(400, { request_return_reasons = { "Give at least one reason." } })
  end
  for i, r in ipairs(reasons) do
    if r:match("^%s*$") then
      return util.prolific_error(400, { ["request_return_reasons." .. (i - 1)] = {
        "This field may not be blank." } })
    end
  end
  if s.status ~= "ACTIVE" and s.status ~= "AWAITING REVIEW" then
    return util.prolific_error(400, string.format(
      "Cannot request the return of a submission with status %s.", s.status), nil, 140001)
  end
  s.return_requested = now_iso(ctx)
  s.return_reasons = reasons
  return util.answer(200, { id = s.id, status = s.status, participant = s.participant_id,
    return_requested = s.return_requested })
end

-- POST submissions/bulk-approve/: {submission_ids} or {study_id, participant_ids} (the schema's
-- oneOf). The sandbox is stricter than the live service (which approves asynchronously): every
-- id must exist (and belong to study_id when given) and every submission must be AWAITING
-- REVIEW, or nothing is approved.
local function bulk_approve(ctx)
  M.advance(ctx.app, ctx.req.time)
  local b = ctx.body
  local subs = ctx.app.state.submissions
  local targets, fields = {}, {}
  if b.submission_ids ~= nil then
    local ids, why = M.id_array(b.submission_ids, 1000)
    if not ids then return util.prolific_error(400, { submission_ids = { why } }) end
    local missing = {}
    -- one pass over the submissions, not one per id (a batch of 1,000 in a large study)
    local by_id = {}
    for _, s in ipairs(subs) do
      if by_id[s.id] == nil then by_id[s.id] = s end
    end
    for _, id in ipairs(ids) do
      local s = by_id[id]
      if not s or (b.study_id ~= nil and s.study_id ~= b.study_id) then
        missing[#missing + 1] = id
      else
        targets[#targets + 1] = s
      end
    end
    if #missing > 0 then
      fields.submission_ids = { "Unknown submission ids" .. (b.study_id ~= nil
        and " for this study" or "") .. ": " .. table.concat(missing, ", ") }
    end
  else
    if not find(ctx.app.state.studies, b.study_id) then fields.study_id = { "Study not found." } end
    local ids, why = M.id_array(b.participant_ids, 1000)
    if not ids then
      fields.participant_ids = { why }
    elseif not fields.study_id then
      local missing = {}
      for _, pid in ipairs(ids) do
        local hit
        for _, s in ipairs(subs) do
          if s.study_id == b.study_id and s.participant_id == pid then hit = s end
        end
        if hit then targets[#targets + 1] = hit else missing[#missing + 1] = pid end
      end
      if #missing > 0 then
        fields.participant_ids = { "No submission in this study for: " .. table.concat(missing, ", ") }
      end
    end
  end
  if next(fields) then return util.prolific_error(400, fields) end
  local wrong = {}
  for _, s in ipairs(targets) do
    if s.status ~= "AWAITING REVIEW" then wrong[#wrong + 1] = s.id .. " (" .. s.status .. ")" end
  end
  if #wrong > 0 then
    return util.prolific_error(400, "Only submissions AWAITING REVIEW can be approved: "
      .. table.concat(wrong, ", "), nil, 140001)
  end
  -- every reward is paid, or none (402 when the money is not there)
  local money = require "cohort.sandbox.prolific_money"
  local okm, m1, m2, m3 = money.check_rewards(ctx.app, targets)
  if not okm then return m1, m2, m3 end
  local lifecycle = require "cohort.sandbox.lifecycle"
  for _, s in ipairs(targets) do lifecycle.submission_status(ctx.app, s, "APPROVED") end
  return util.answer(200, "The request to bulk approve has been made successfully.")
end

local function study_of(ctx, id)
  local st = find(ctx.app.state.studies, id)
  if not st then return nil, util.prolific_error(404, "Study not found.") end
  return st
end

-- Minutes a submission took (its time_taken, or the time since it started, or the estimate).
local function minutes_of(st, s)
  if type(s.time_taken) == "number" then return s.time_taken / 60 end
  return tonumber(st.estimated_completion_time) or 1
end

-- Screen-out payment bounds in minor units: minimum 10p (14c) a minute, recommended at
-- £9.00 ($12.00) an hour, over the average time of the submissions.
local function screen_out_bounds(st, targets, currency)
  local total = 0
  for _, s in ipairs(targets) do total = total + minutes_of(st, s) end
  local avg = #targets > 0 and total / #targets or 0
  local per_min = currency == "USD" and 14 or 10
  local rec_hour = currency == "USD" and 1200 or 900
  return math.ceil(avg * per_min - 1e-9), math.ceil(avg * rec_hour / 60 - 1e-9), avg
end

local function screen_out_targets(ctx, st, b)
  local ids, why = M.id_array(b.submission_ids, 1000)
  if not ids then return nil, { submission_ids = { why } } end
  local targets, bad = {}, {}
  for _, id in ipairs(ids) do
    local s = find(ctx.app.state.submissions, id)
    if s and s.study_id == st.id then targets[#targets + 1] = s else bad[#bad + 1] = id end
  end
  if #bad > 0 then
    return nil, { submission_ids = { "Not submissions of this study: " .. table.concat(bad, ", ") } }
  end
  return targets
end

local function calculate_screen_out(ctx, p)
  M.advance(ctx.app, ctx.req.time)
  local st, e1, e2, e3 = study_of(ctx, p.id)
  if not st then return e1, e2, e3 end
  local targets, fields = screen_out_targets(ctx, st, ctx.body)
  if not targets then return util.prolific_error(400, fields) end
  local money = require "cohort.sandbox.prolific_money"
  local currency = money.currency_of(ctx.app.state, st)
  local minimum, recommended, avg = screen_out_bounds(st, targets, currency)
  return util.answer(200, {
    recommended_reward = { amount = recommended, currency = currency },
    minimum_reward = { amount = minimum, currency = currency },
    average_submission_time_minutes = math.floor(avg * 100 + 0.5) / 100,
  })
end

-- POST studies/{id}/screen-out-submissions/: a custom-screening study only; submissions ACTIVE
-- or AWAITING REVIEW become SCREENED OUT and are paid bonus_per_submission (major units) or
-- reward_per_hour (major units an hour) through the workspace balance, like a bonus.
local function screen_out(ctx, p)
  M.advance(ctx.app, ctx.req.time)
  local st, e1, e2, e3 = study_of(ctx, p.id)
  if not st then return e1, e2, e3 end
  local b = ctx.body
  local fields = {}
  local targets, tf = screen_out_targets(ctx, st, b)
  if not targets then fields = tf end
  local bps, rph = b.bonus_per_submission, b.reward_per_hour
  if bps == nil and rph == nil then
    fields.bonus_per_submission = { "Either bonus_per_submission or reward_per_hour must be provided." }
  end
  if bps ~= nil and bps <= 0 then fields.bonus_per_submission = { "A positive number is required." } end
  if rph ~= nil and rph <= 0 then fields.reward_per_hour = { "A positive number is required." } end
  if next(fields) then return util.prolific_error(400, fields) end
  if st.is_custom_screening ~= true then
    return util.prolific_error(400, "Screening out is only possible in a custom screening study "
      .. "(is_custom_screening: true).", nil, 140001)
  end
  local wrong = {}
  for _, s in ipairs(targets) do
    if s.status ~= "ACTIVE" and s.status ~= "AWAITING REVIEW" then
      wrong[#wrong + 1] = s.id .. " (" .. s.status .. ")"
    end
  end
  if #wrong > 0 then
    return util.prolific_error(400, "Only ACTIVE or AWAITING REVIEW submissions can be screened out: "
      .. table.concat(wrong, ", "), nil, 140001)
  end
  local money = require "cohort.sandbox.prolific_money"
  local currency = money.currency_of(ctx.app.state, st)
  local minimum = screen_out_bounds(st, targets, currency)
  local amount
  if bps ~= nil then
    amount = math.floor(bps * 100 + 0.5)
  else
    local _, _, avg = screen_out_bounds(st, targets, currency)
    amount = math.floor(rph * 100 * avg / 60 + 0.5)
  end
  if amount < minimum then
    return util.prolific_error(400, { bonus_per_submission = { string.format(
      "The payment per submission (%d minor units) is below the minimum of %d.", amount, minimum) } })
  end
  local entries = {}
  for _, s in ipairs(targets) do
    entries[#entries + 1] = { participant_id = s.participant_id, submission_id = s.id, amount = amount }
  end
  local ok, r1, r2, r3 = money.charge(ctx, st, entries, "screen-out")
  if not ok then return r1, r2, r3 end
  local lifecycle = require "cohort.sandbox.lifecycle"
  for _, s in ipairs(targets) do lifecycle.submission_status(ctx.app, s, "SCREENED OUT") end
  if b.increase_places then
    st.total_available_places = (st.total_available_places or 0) + #targets
  end
  return util.answer(202, {
    message = "The request to bulk screen out has been made successfully.",
    payment_per_participant = { amount = amount, currency = currency },
  })
end

local function user_me(ctx)
  local u = ctx.app.state.user
  local out = {}
  for k, v in pairs(u) do out[k] = v end
  out.email = type(u.email) == "string" and u.email or ""
  return util.answer(200, out)
end

M.routes = {
  { "POST", "submissions/bulk-approve", bulk_approve, op = "BulkApproveSubmissions" },
  { "POST", "submissions/{id}/request-return", request_return, op = "RequestSubmissionReturn" },
  { "POST", "studies/{id}/screen-out-submissions", screen_out, op = "BulkScreenOutSubmissions" },
  { "POST", "studies/{id}/calculate-screen-out-payment", calculate_screen_out,
    op = "CalculateBulkScreenOutPayment" },
  { "GET", "users/me", user_me, op = "GetUser" },
  { "GET", "submissions", function(ctx) return list_submissions(ctx, ctx.params.study) end,
    op = "GetSubmissions" },
  { "GET", "submissions/{id}", function(ctx, p)
      local s, status, headers, body = get_submission(ctx, p.id)
      if not s then return status, headers, body end
      return util.answer(200, M.submission_detail(s))
    end, op = "GetSubmission" },
  { "POST", "submissions/{id}/transition", transition, op = "TransitionSubmission" },
  { "GET", "studies/{id}/submissions", function(ctx, p)
      if not find(ctx.app.state.studies, p.id) then
        return util.prolific_error(404, "Study not found.")
      end
      return list_submissions(ctx, p.id)
    end, op = "GetStudySubmissions" },
}

-- Route modules of the other resource families (lua/cohort/sandbox/prolific_<family>.lua), each
-- returning { routes = { rows as above } }; their rows are appended to M.routes in this order.
M.FAMILIES = {
  "studies", "money", "workspaces", "surveys", "collections", "hooks", "filters", "groups",
}
for _, family in ipairs(M.FAMILIES) do
  local mod = require("cohort.sandbox.prolific_" .. family)
  for _, row in ipairs(mod.routes or {}) do M.routes[#M.routes + 1] = row end
end

-- Every row names its operation, every operation has its row (raises at start-up otherwise).
M.by_operation = contract.bind(M.routes)

--- Answer a request under /api/v1/ (ctx.segs starts with "api", "v1"): route it, hold it to its
-- operation's schema, run the handler, and finish its answer by the success schema.
function M.handle(ctx)
  local ok, handler, caps, row = util.route(M.routes, ctx.req, ctx.segs, 3)
  if not ok then return util.dispatch_prolific(M.routes, ctx, 3) end
  ctx.op = row.op
  local s, h, b = contract.request(ctx, row, caps)
  if s then return s, h, b end
  local status, headers, body, opts = handler(ctx, caps)
  status, headers, body = contract.finish(ctx, row, status, headers or {}, body)
  return status, headers, body, opts
end

return M
