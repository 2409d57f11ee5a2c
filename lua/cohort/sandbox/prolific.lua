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

-- Handlers -------------------------------------------------------------------------------------

local function normalize_status(s)
  if s == nil or s == "" then return nil end
  return (s:gsub("_", " ")):upper()
end

local function list_submissions(ctx, study_id)
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
  local s = find(ctx.app.state.submissions, id)
  if not s then return nil, util.prolific_error(404, "Submission not found.") end
  return s
end

local function body_json(ctx)
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
  local b, err1, err2, err3 = body_json(ctx)
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
  return util.json(200, M.submission_detail(s))
end

M.routes = {
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
  local ok, handler, caps = util.route(M.routes, ctx.req, ctx.segs, 3)
  if ok then return handler(ctx, caps) end
  if handler == "method_not_allowed" then
    local status, headers, body = util.prolific_error(405,
      string.format('Method "%s" not allowed.', ctx.req.method))
    headers.Allow = table.concat(caps, ", ")
    return status, headers, body
  end
  return util.prolific_error(404, "Not found: " .. ctx.path)
end

return M
