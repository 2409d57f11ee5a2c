-- Prolific API emulation: a table of routes under /api/v1/.
-- Each row is { METHOD, "path/{param}/", handler(ctx, params) }; handlers return
-- status, headers, body[, opts] (use util.json / util.prolific_error). To add an operation,
-- add a row. Paths are matched segment by segment on decoded segments, the trailing "/" is
-- optional.
local util = require "cohort.sandbox.util"

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

function M.submission_list_item(s)
  return {
    id = s.id,
    participant_id = s.participant_id,
    study_code = nn(s.study_code),
    status = s.status,
    started_at = nn(s.started_at),
    completed_at = nn(s.completed_at),
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
    started_at = nn(s.started_at),
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
  local q = ctx.query
  local size, page = M.DEFAULT_PAGE_SIZE, 1
  if q.page_size ~= nil then
    size = positive_int(q.page_size)
    if not size then
      return util.prolific_error(400, { page_size = { "A valid integer is required." } })
    end
    size = math.min(size, M.MAX_PAGE_SIZE)
  end
  if q.page ~= nil then
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
  return util.json(200, {
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
-- end_at (Unix seconds), outcome ("AWAITING REVIEW" | "RETURNED" | "TIMED-OUT"), time_taken,
-- failed_check, survey_id }. Their status is computed from the clock whenever submissions or
-- studies are read (no threads): RESERVED until active_at, ACTIVE until end_at, then the outcome.
-- Once the researcher changes a simulated submission (e.g. screens it out) the simulation
-- leaves it alone. Other families may call M.advance(app, now) before reading submissions.
function M.advance(app, now)
  now = now or os.time()
  local state = app.state
  for _, s in ipairs(state.submissions or {}) do
    local sim = s.sim
    if type(sim) == "table" and not sim.done then
      if sim.last ~= nil and s.status ~= sim.last then
        sim.done = true
      elseif now >= sim.end_at then
        s.status = sim.outcome
        sim.last, sim.done = s.status, true
        if sim.outcome == "AWAITING REVIEW" then
          s.completed_at = require("cohort.sandbox.data").iso_time(sim.end_at)
          s.study_code = sim.code or null
          s.time_taken = sim.time_taken
          if sim.survey_id then
            local ok, surveys = pcall(require, "cohort.sandbox.prolific_surveys")
            local fn = ok and type(surveys) == "table" and surveys.simulate_response or nil
            if type(fn) == "function" then
              pcall(fn, app, sim.survey_id, s.participant_id, s.id, sim.failed_check)
            end
          end
        else
          s.time_taken = null
        end
      elseif now >= sim.active_at then
        s.status = "ACTIVE"
        sim.last = s.status
      else
        s.status = "RESERVED"
        sim.last = s.status
      end
    end
  end
end

-- Handlers -------------------------------------------------------------------------------------

local function normalize_status(s)
  if s == nil or s == "" then return nil end
  return (s:gsub("_", " ")):upper()
end

local function list_submissions(ctx, study_id)
  M.advance(ctx.app, ctx.req.time)
  local want = normalize_status(ctx.query.status)
  local items = {}
  for _, s in ipairs(ctx.app.state.submissions) do
    if (study_id == nil or s.study_id == study_id) and (want == nil or s.status == want) then
      items[#items + 1] = M.submission_list_item(s)
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

function M.body_json(ctx)
  if ctx.req.body == nil or ctx.req.body == "" then return {} end
  local v, err = util.decode(ctx.req.body)
  if type(v) ~= "table" then
    return nil, util.prolific_error(400, "JSON parse error - " .. tostring(err or "not an object"))
  end
  return v
end

local function transition(ctx, p)
  local s, status, headers, body = get_submission(ctx, p.id)
  if not s then return status, headers, body end
  local b, err1, err2, err3 = M.body_json(ctx)
  if not b then return err1, err2, err3 end
  local action = b.action
  if type(action) ~= "string" or action == "" then
    return util.prolific_error(400, { action = { "This field is required." } })
  end
  local now = os.date("!%Y-%m-%dT%H:%M:%S.000000Z")
  if action == "APPROVE" or action == "REJECT" then
    if s.status ~= "AWAITING REVIEW" then
      return util.prolific_error(400, string.format(
        "Cannot %s a submission with status %s; it must be AWAITING REVIEW.",
        action:lower(), s.status), nil, 140001)
    end
    if action == "REJECT" then
      local fields = {}
      if type(b.message) ~= "string" or #b.message < 100 then
        fields.message = { "Ensure this field has at least 100 characters." }
      end
      if not M.REJECTION_CATEGORIES[b.rejection_category] then
        fields.rejection_category = { string.format('"%s" is not a valid choice.',
          tostring(b.rejection_category == nil and "" or b.rejection_category)) }
      end
      if next(fields) then return util.prolific_error(400, fields) end
      s.status = "REJECTED"
      s.rejection_category = b.rejection_category
    else
      s.status = "APPROVED"
    end
  elseif action == "COMPLETE" then
    if s.status ~= "ACTIVE" then
      return util.prolific_error(400, string.format(
        "Cannot complete a submission with status %s; it must be ACTIVE.", s.status), nil, 140001)
    end
    s.status = "AWAITING REVIEW"
    s.completed_at = now
  else
    return util.prolific_error(400, { action = { string.format('"%s" is not a valid choice.', action) } })
  end
  M.submission_event(ctx.app, s)
  return util.json(200, M.submission_detail(s))
end

-- Tell the webhook subscriptions about a submission's new status.
function M.submission_event(app, s)
  local hooks = require "cohort.sandbox.prolific_hooks"
  hooks.record_event(app, "submission.status.change", s.id, {
    resource_id = s.id, event_type = "submission.status.change",
    participant_id = s.participant_id, status = s.status, study_id = s.study_id })
end

local function is_hex_id(v)
  return type(v) == "string" and #v == 24 and v:match("^%x+$") ~= nil
end
M.is_hex_id = is_hex_id

-- An array of id strings, or nil and a message for the field's detail.
function M.id_array(v, max)
  if type(v) ~= "table" then return nil, "Expected a list of items." end
  if #v == 0 then return nil, "This list may not be empty." end
  if max and #v > max then
    return nil, string.format("Ensure this field has no more than %d elements.", max)
  end
  for i, x in ipairs(v) do
    if type(x) ~= "string" or x == "" then
      return nil, string.format("Item %d: not a valid id.", i)
    end
  end
  return v
end

local function now_iso(ctx)
  return require("cohort.sandbox.data").iso_time(ctx.req.time or os.time())
end

local function request_return(ctx, p)
  local s, status, headers, body = get_submission(ctx, p.id)
  if not s then return status, headers, body end
  local b, e1, e2, e3 = M.body_json(ctx)
  if not b then return e1, e2, e3 end
  local reasons = b.request_return_reasons
  if type(reasons) ~= "table" or #reasons == 0 then
    return util.prolific_error(400, { request_return_reasons = { "This field is required." } })
  end
  for _, r in ipairs(reasons) do
    if type(r) ~= "string" or r == "" then
      return util.prolific_error(400, { request_return_reasons = { "Each reason must be a non-empty string." } })
    end
  end
  if s.status ~= "ACTIVE" and s.status ~= "AWAITING REVIEW" then
    return util.prolific_error(400, string.format(
      "Cannot request the return of a submission with status %s.", s.status), nil, 140001)
  end
  s.return_requested = now_iso(ctx)
  s.return_reasons = reasons
  return util.json(200, { id = s.id, status = s.status, participant = s.participant_id,
    return_requested = s.return_requested })
end

-- POST submissions/bulk-approve/: {submission_ids} or {study_id, participant_ids}. The sandbox is
-- stricter than the live service (which approves asynchronously): every id must exist (and belong
-- to study_id when given) and every submission must be AWAITING REVIEW, or nothing is approved.
local function bulk_approve(ctx)
  M.advance(ctx.app, ctx.req.time)
  local b, e1, e2, e3 = M.body_json(ctx)
  if not b then return e1, e2, e3 end
  local subs = ctx.app.state.submissions
  local targets, fields = {}, {}
  if b.submission_ids ~= nil then
    local ids, why = M.id_array(b.submission_ids, 1000)
    if not ids then return util.prolific_error(400, { submission_ids = { why } }) end
    local missing = {}
    for _, id in ipairs(ids) do
      local s = find(subs, id)
      if not s or (type(b.study_id) == "string" and s.study_id ~= b.study_id) then
        missing[#missing + 1] = id
      else
        targets[#targets + 1] = s
      end
    end
    if #missing > 0 then
      fields.submission_ids = { "Unknown submission ids" .. (type(b.study_id) == "string"
        and " for this study" or "") .. ": " .. table.concat(missing, ", ") }
    end
  elseif b.participant_ids ~= nil or b.study_id ~= nil then
    if type(b.study_id) ~= "string" or not find(ctx.app.state.studies, b.study_id) then
      fields.study_id = { b.study_id == nil and "This field is required." or "Study not found." }
    end
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
  else
    fields.submission_ids = { "Provide submission_ids, or study_id and participant_ids." }
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
  for _, s in ipairs(targets) do s.status = "APPROVED" end
  return util.json(200, "The request to bulk approve has been made successfully.")
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
  local b, b1, b2, b3 = M.body_json(ctx)
  if not b then return b1, b2, b3 end
  local targets, fields = screen_out_targets(ctx, st, b)
  if not targets then return util.prolific_error(400, fields) end
  local money = require "cohort.sandbox.prolific_money"
  local currency = money.currency_of(ctx.app.state, st)
  local minimum, recommended, avg = screen_out_bounds(st, targets, currency)
  return util.json(200, {
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
  local b, b1, b2, b3 = M.body_json(ctx)
  if not b then return b1, b2, b3 end
  local fields = {}
  local targets, tf = screen_out_targets(ctx, st, b)
  if not targets then fields = tf end
  local bps, rph = b.bonus_per_submission, b.reward_per_hour
  if bps == nil and rph == nil then
    fields.bonus_per_submission = { "Either bonus_per_submission or reward_per_hour must be provided." }
  end
  if bps ~= nil and (type(bps) ~= "number" or bps <= 0 or bps ~= bps) then
    fields.bonus_per_submission = { "A positive number is required." }
  end
  if rph ~= nil and (type(rph) ~= "number" or rph <= 0 or rph ~= rph) then
    fields.reward_per_hour = { "A positive number is required." }
  end
  if b.increase_places ~= nil and type(b.increase_places) ~= "boolean" then
    fields.increase_places = { "Must be a valid boolean." }
  end
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
  for _, s in ipairs(targets) do s.status = "SCREENED OUT" end
  if b.increase_places then
    st.total_available_places = (st.total_available_places or 0) + #targets
  end
  return util.json(202, {
    message = "The request to bulk screen out has been made successfully.",
    payment_per_participant = { amount = amount, currency = currency },
  })
end

M.routes = {
  { "POST", "submissions/bulk-approve", bulk_approve },
  { "POST", "submissions/{id}/request-return", request_return },
  { "POST", "studies/{id}/screen-out-submissions", screen_out },
  { "POST", "studies/{id}/calculate-screen-out-payment", calculate_screen_out },
  { "GET", "users/me", function(ctx)
      return util.json(200, ctx.app.state.user)
    end },
  { "GET", "submissions", function(ctx)
      local study = ctx.query.study
      if study == "" then study = nil end
      return list_submissions(ctx, study)
    end },
  { "GET", "submissions/{id}", function(ctx, p)
      local s, status, headers, body = get_submission(ctx, p.id)
      if not s then return status, headers, body end
      return util.json(200, M.submission_detail(s))
    end },
  { "POST", "submissions/{id}/transition", transition },
  { "GET", "studies/{id}/submissions", function(ctx, p)
      if not find(ctx.app.state.studies, p.id) then
        return util.prolific_error(404, "Study not found.")
      end
      return list_submissions(ctx, p.id)
    end },
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

-- ctx.segs starts with "api", "v1".
function M.handle(ctx)
  return util.dispatch_prolific(M.routes, ctx, 3)
end

return M
