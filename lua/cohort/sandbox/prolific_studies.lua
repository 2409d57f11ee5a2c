-- Sandbox: Prolific studies as route rows { METHOD, "path/{param}", handler(ctx, params) } (see
-- cohort.sandbox.prolific), and the participant simulation behind
-- POST /__sandbox/studies/{id}/simulate (M.simulate, routed by cohort.sandbox.control).
--
-- The study state machine (../shared/api/README.md):
--   UNPUBLISHED --PUBLISH--> ACTIVE          UNPUBLISHED --SCHEDULE_PUBLISH{publish_at}--> SCHEDULED
--   SCHEDULED --CANCEL_PUBLISH--> UNPUBLISHED (a SCHEDULED study becomes ACTIVE at publish_at)
--   ACTIVE --PAUSE--> PAUSED   PAUSED --START--> ACTIVE
--   ACTIVE|PAUSED --STOP--> AWAITING REVIEW (submissions wait for review) or COMPLETED
-- Anything else is 400. After publishing only internal_name and total_available_places (increase
-- only; a COMPLETED study becomes ACTIVE again) may change; only drafts may be deleted.
-- Money (reward, costs) is in minor units.
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"

local M = {}

local null = util.null

local function P() return require "cohort.sandbox.prolific" end
local function money() return require "cohort.sandbox.prolific_money" end

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local function now_of(ctx) return ctx.req.time or os.time() end

-- Validation ------------------------------------------------------------------------------------
-- The contract (cohort.sandbox.prolific_contract) has held the body to CreateStudy / BaseStudy
-- (types, enums, required fields, nested completion codes and filters); what is left here is
-- what the schema cannot say.

-- The fields a study keeps from a create or update body: BaseStudy's, and `survey_id`, the
-- sandbox's link to a Prolific survey (see simulate). Other fields are ignored, as Prolific
-- ignores fields it does not know and read-only ones a client echoes back.
M.WRITABLE = { survey_id = true }
do
  local schema = require "cohort.schema"
  local S = schema.load "prolific"
  for k in pairs(schema.resolve(S, S.schemas.BaseStudy).properties) do M.WRITABLE[k] = true end
end

local function is_int(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v)) end

-- A number as a person writes it (JSON's 8 is decoded as 8.0).
local function number(n)
  if n == math.floor(n) and math.abs(n) < 2^53 then return ("%d"):format(n) end
  return tostring(n)
end

local function blank(v) return type(v) == "string" and v:match("^%s*$") ~= nil end

-- field → messages for a create (`creating`) or an update body, and the body's writable fields.
function M.validate(state, b, creating, current)
  local fields = {}
  local out = {}
  for k, v in pairs(b) do
    if M.WRITABLE[k] then out[k] = v end
  end
  local function add(k, msg) fields[k] = fields[k] or {}; table.insert(fields[k], msg) end
  for _, k in ipairs { "name", "description", "external_study_url" } do
    if blank(out[k]) then add(k, "This field may not be blank.") end
  end
  if type(out.external_study_url) == "string" and not blank(out.external_study_url)
      and not out.external_study_url:match("^https?://[^%s/]+") then
    add("external_study_url", "Enter a valid URL.")
  end
  if out.total_available_places ~= nil and (not is_int(out.total_available_places)
      or out.total_available_places < 1) then
    add("total_available_places", "Ensure this value is a whole number of at least 1.")
  end
  if out.reward ~= nil and (not is_int(out.reward) or out.reward < 1) then
    add("reward", "Ensure this value is a whole number of minor units (pence or cents), at least 1.")
  end
  for _, k in ipairs { "estimated_completion_time", "maximum_allowed_time" } do
    if type(out[k]) == "number" and out[k] < 1 then add(k, "Ensure this value is greater than or equal to 1.") end
  end
  local r = out.naivety_distribution_rate
  if type(r) == "number" and (r < 0 or r > 1) then
    add("naivety_distribution_rate", "Ensure this value is between 0 and 1.")
  end
  if out.completion_codes ~= nil then
    if #out.completion_codes == 0 then add("completion_codes", "Specify at least one completion code.") end
    local seen = {}
    for i, c in ipairs(out.completion_codes) do
      if type(c.code) == "string" then
        if seen[c.code] then
          add(("completion_codes.%d.code"):format(i - 1), ("The code %s is not unique."):format(c.code))
        end
        seen[c.code] = true
      end
    end
  end
  -- filters: the catalogue's (cohort.sandbox.catalogue: known ids, choices, ranges, groups and
  -- studies of the state), stored normalised; a filter set and the groups of completion-code
  -- actions must exist
  if type(out.filters) == "table" then
    local filters = require "cohort.sandbox.prolific_filters"
    local norm, fe = filters.validate(state, out.filters, "filters")
    if fe then for k, list in pairs(fe) do fields[k] = list end else out.filters = norm end
  end
  if type(out.filter_set_id) == "string" then
    local fs = find(state.filter_sets, out.filter_set_id)
    if not fs or fs.is_deleted then
      add("filter_set_id", "Filter set not found.")
    elseif type(out.filter_set_version) == "number"
        and not (fs.versions or {})[math.tointeger(out.filter_set_version) or -1] then
      add("filter_set_version", ("The filter set has no version %s."):format(number(out.filter_set_version)))
    end
  end
  for i, c in ipairs(type(out.completion_codes) == "table" and out.completion_codes or {}) do
    for j, a in ipairs(type(c) == "table" and type(c.actions) == "table" and c.actions or {}) do
      if type(a) == "table" and (a.action == "ADD_TO_PARTICIPANT_GROUP"
          or a.action == "REMOVE_FROM_PARTICIPANT_GROUP") and type(a.participant_group) == "string" then
        local g = find(state.participant_groups, a.participant_group)
        if not g or g.is_deleted then
          add(("completion_codes.%d.actions.%d.participant_group"):format(i - 1, j - 1),
            "Participant group not found.")
        end
      end
    end
  end
  if creating then
    local url, access = out.external_study_url, out.access_details
    if url == nil and (access == nil or access == null) then
      add("external_study_url", "This field is required (or access_details for a taskflow study).")
    end
  end
  -- taskflow: the allocations add up to the places (BaseStudy.access_details)
  local access = out.access_details
  if access == nil and current then access = current.access_details end
  if type(access) == "table" and #access > 0 then
    local places = out.total_available_places
    if places == nil and current then places = current.total_available_places end
    local sum = 0
    for _, a in ipairs(access) do sum = sum + (tonumber(a.total_allocation) or 0) end
    if type(places) == "number" and sum ~= places then
      add("access_details", ("The total_allocation of the access details adds up to %s, not to "
        .. "total_available_places (%s)."):format(number(sum), number(places)))
    end
  end
  local mat = out.maximum_allowed_time or (current and current.maximum_allowed_time)
  local ect = out.estimated_completion_time or (current and current.estimated_completion_time)
  if out.maximum_allowed_time ~= nil and type(mat) == "number" and type(ect) == "number" and mat < ect then
    add("maximum_allowed_time", "Must be at least the estimated completion time.")
  end
  if type(out.project) == "string" and not find(state.projects, out.project) then
    add("project", "Project not found.")
  end
  return fields, out
end

-- Shapes ----------------------------------------------------------------------------------------

local ARRAY_FIELDS = { "completion_codes", "device_compatibility", "peripheral_requirements",
  "filters", "study_labels", "content_warnings", "access_details" }

local function counts(state, st)
  local n, taken, approved, awaiting = 0, 0, 0, 0
  for _, s in ipairs(state.submissions) do
    if s.study_id == st.id then
      n = n + 1
      if s.status ~= "RETURNED" and s.status ~= "TIMED-OUT" and s.status ~= "SCREENED OUT" then
        taken = taken + 1
      end
      if s.status == "APPROVED" then approved = approved + 1 end
      if s.status == "AWAITING REVIEW" then awaiting = awaiting + 1 end
    end
  end
  return n, taken, approved, awaiting
end

local function projected_cost(state, st)
  local rewards = (tonumber(st.reward) or 0) * (tonumber(st.total_available_places) or 0)
  local _, _, total = money().costs(rewards, money().currency_of(state, st))
  return total
end

local function nn(v) if v == nil then return null end return v end

function M.full(state, st)
  local out = {}
  for k, v in pairs(st) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then out[k] = util.deepcopy(v) end
  end
  for _, k in ipairs(ARRAY_FIELDS) do out[k] = util.array(out[k] or {}) end
  local n, taken = counts(state, st)
  out.number_of_submissions = n
  out.places_taken = math.max(taken, tonumber(st.places_taken) or 0)
  out.total_cost = projected_cost(state, st)
  out.published_at = nn(st.published_at)
  out.publish_at = nn(st.publish_at)
  out.internal_name = nn(st.internal_name)
  out.maximum_allowed_time = st.maximum_allowed_time
    or (tonumber(st.estimated_completion_time) or 1) * 4 + 2
  out.study_type = st.study_type or "SINGLE"
  return out
end

function M.short(state, st)
  local n, taken = counts(state, st)
  return {
    id = st.id, name = st.name, internal_name = nn(st.internal_name), status = st.status,
    study_type = st.study_type or "SINGLE", total_available_places = st.total_available_places,
    places_taken = math.max(taken, tonumber(st.places_taken) or 0), number_of_submissions = n,
    reward = st.reward, total_cost = projected_cost(state, st), published_at = nn(st.published_at),
    publish_at = nn(st.publish_at), date_created = st.date_created,
  }
end

-- Brings the simulated submissions up to `now`. (A SCHEDULED study is published by its event
-- on the sandbox clock, cohort.sandbox.lifecycle.schedule_study, run before every request.)
function M.advance(app, now)
  P().advance(app, now)
end

local function get_study(ctx, id)
  M.advance(ctx.app, now_of(ctx))
  local st = find(ctx.app.state.studies, id)
  if not st then return nil, util.prolific_error(404, "Study not found.") end
  return st
end

-- Handlers --------------------------------------------------------------------------------------

local STATES = { ACTIVE = true, PAUSED = true, UNPUBLISHED = true, PUBLISHING = true,
  COMPLETED = true, ["AWAITING REVIEW"] = true, UNKNOWN = true, SCHEDULED = true }

-- state filter: "ACTIVE", "awaiting_review" or "(ACTIVE|PAUSED)".
local function parse_states(s)
  if s == nil or s == "" then return nil end
  local set = {}
  local inner = s:match("^%((.*)%)$") or s
  for part in inner:gmatch("[^|,]+") do
    local st = part:gsub("^%s+", ""):gsub("%s+$", ""):gsub("_", " "):upper()
    if not STATES[st] then return false, part end
    set[st] = true
  end
  return set
end

local function list_studies(ctx, project_id)
  M.advance(ctx.app, now_of(ctx))
  local set, badpart = parse_states(ctx.params.state)
  if set == false then
    return util.prolific_error(400, { state = { string.format('"%s" is not a valid choice.', badpart) } })
  end
  local items = {}
  for _, st in ipairs(ctx.app.state.studies) do
    if (project_id == nil or st.project == project_id) and (set == nil or set[st.status]) then
      items[#items + 1] = M.short(ctx.app.state, st)
    end
  end
  return P().paginate(ctx, items)
end

local function create_study(ctx)
  local state = ctx.app.state
  local fields, b = M.validate(state, ctx.body, true)
  if next(fields) then return util.prolific_error(400, fields) end
  local st = {}
  for k, v in pairs(b) do if v ~= null then st[k] = v end end
  st.id = data.new_id(state)
  st.status = "UNPUBLISHED"
  st.project = st.project or state.user.current_project_id or (state.projects[1] or {}).id
  st.date_created = data.iso_time(now_of(ctx))
  st.places_taken = 0
  st.maximum_allowed_time = st.maximum_allowed_time or st.estimated_completion_time * 4 + 2
  st.is_custom_screening = st.is_custom_screening == true
  state.studies[#state.studies + 1] = st
  return util.answer(201, M.full(state, st))
end

local AFTER_PUBLISH = { internal_name = true, total_available_places = true }

local function update_study(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local fields, b = M.validate(ctx.app.state, ctx.body, false, st)
  if next(fields) then return util.prolific_error(400, fields) end
  if st.status ~= "UNPUBLISHED" then
    for k, v in pairs(b) do
      if not AFTER_PUBLISH[k] then
        fields[k] = { string.format("This field cannot be changed once the study is published "
          .. "(status %s); only internal_name and total_available_places may change.", st.status) }
      elseif k == "total_available_places" and v < (tonumber(st.total_available_places) or 0) then
        fields[k] = { "The number of places can only be increased once the study is published." }
      end
    end
    if next(fields) then return util.prolific_error(400, fields) end
  end
  -- more places on a published study: their cost is reserved first (402 when short)
  local extra = 0
  if st.status ~= "UNPUBLISHED" and b.total_available_places ~= nil then
    extra = b.total_available_places - (tonumber(st.total_available_places) or 0)
  end
  local reopen = st.status == "COMPLETED" and b.total_available_places ~= nil
  if extra > 0 and (reopen or money().RECRUITING[st.status]) then
    local ok, e1, e2, e3 = money().reserve(ctx.app, st, extra,
      ("total_available_places raised to %d"):format(b.total_available_places))
    if not ok then return e1, e2, e3 end
  end
  for k, v in pairs(b) do
    if v == null then st[k] = nil else st[k] = v end
  end
  if reopen then require("cohort.sandbox.lifecycle").study_status(ctx.app, st, "ACTIVE") end
  return util.answer(200, M.full(ctx.app.state, st))
end

-- DELETE studies/{id}/: only drafts. The spec documents 200 with no body.
local function delete_study(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  if st.status ~= "UNPUBLISHED" then
    return util.prolific_error(400, string.format(
      "Published studies cannot be deleted (status %s).", st.status), nil, 140001)
  end
  local _, i = find(ctx.app.state.studies, st.id)
  table.remove(ctx.app.state.studies, i)
  return 200, {}, ""
end

local RESET_ON_CLONE = { id = true, status = true, published_at = true, publish_at = true,
  places_taken = true, date_created = true }

local function clone_study(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local b = ctx.body
  local state = ctx.app.state
  local c = {}
  for k, v in pairs(st) do
    if not RESET_ON_CLONE[k] and type(k) == "string" and k:sub(1, 1) ~= "_" then
      c[k] = util.deepcopy(v)
    end
  end
  c.id = data.new_id(state)
  c.status = "UNPUBLISHED"
  c.places_taken = 0
  c.date_created = data.iso_time(now_of(ctx))
  c.block_previous_participants = b.block_previous_participants ~= false
  if c.block_previous_participants then c.blocked_studies = { st.id } end
  state.studies[#state.studies + 1] = c
  return util.answer(200, M.full(state, c))
end

local function amount(x, currency) return { amount = x, currency = currency } end

local function study_cost(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local projected = ctx.params.is_projected == true
  local state = ctx.app.state
  local currency = money().currency_of(state, st)
  local places
  if projected then
    places = tonumber(st.total_available_places) or 0
  else
    local _, _, approved = counts(state, st)
    places = approved
  end
  local rewards = (tonumber(st.reward) or 0) * places
  local fees, tax = money().costs(rewards, currency)
  local bonus = 0
  for _, e in ipairs(state.ledger or {}) do
    if e.study_id == st.id and (e.kind == "bonus" or e.kind == "screen-out") then
      bonus = bonus + e.amount
    end
  end
  local bfees, btax = money().costs(bonus, currency)
  return util.answer(200, {
    rewards = { rewards = amount(rewards, currency), fees = amount(fees, currency),
      tax = amount(tax, currency), rep_sample_fees = amount(0, currency),
      rep_sample_tax = amount(0, currency) },
    bonuses = { rewards = amount(bonus, currency), fees = amount(bfees, currency),
      tax = amount(btax, currency) },
    _links = { self = { href = ctx.full_url, title = "Current" } },
  })
end

local function csv_cell(v)
  if v == nil or v == null then return "" end
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^53 then
    return string.format("%d", math.tointeger(v) or math.floor(v))
  end
  local s = tostring(v)
  if s:find('[,"\n\r]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local EXPORT_COLUMNS = { "submission_id", "participant_id", "status", "started_at",
  "completed_at", "time_taken", "entered_code", "reward", "bonus_total" }

-- GET studies/{id}/export/: the CSV (text/csv), or with ?method=EMAIL the JSON status report.
local function export_study(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  if ctx.params.method == "EMAIL" then
    return util.answer(200, { status = "Your export should arrive shortly." })
  end
  local lines = { table.concat(EXPORT_COLUMNS, ",") }
  for _, s in ipairs(ctx.app.state.submissions) do
    if s.study_id == st.id then
      local bonus = 0
      for _, x in ipairs(s.bonus_payments or {}) do bonus = bonus + x end
      lines[#lines + 1] = table.concat({ csv_cell(s.id), csv_cell(s.participant_id),
        csv_cell(s.status), csv_cell(s.started_at), csv_cell(s.completed_at),
        csv_cell(s.time_taken), csv_cell(s.study_code), csv_cell(s.reward), csv_cell(bonus) }, ",")
    end
  end
  return 200, { ["Content-Type"] = "text/csv",
    ["Content-Disposition"] = 'attachment; filename="' .. st.id .. '.csv"' },
    table.concat(lines, "\r\n") .. "\r\n"
end

-- POST study/{id}/test-study: exactly one of target_participant_id and
-- target_participant_group_id (the schema's oneOf); the group must exist.
local function test_study(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local gid = ctx.body.target_participant_group_id
  if gid ~= nil then
    local g = find(ctx.app.state.participant_groups, gid)
    if not g or g.is_deleted then
      return util.prolific_error(400, { target_participant_group_id = { "Participant group not found." } })
    end
  end
  local id = data.new_id(ctx.app.state)
  return util.answer(200, { study_id = id,
    study_url = "https://app.prolific.com/studies/" .. id .. "/test" })
end

-- The recruitment forecast, from the participant pool (cohort.sandbox.participants: the
-- eligible members, the places, the pay an hour; model in cohort.sandbox.pool).
local function predicted_get(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.study_id)
  if not st then return e1, e2, e3 end
  local _, taken = counts(ctx.app.state, st)
  local answer, fields = require("cohort.sandbox.participants").study_forecast(ctx.app, st, taken)
  if not answer then return util.prolific_error(400, fields) end
  return util.answer(200, answer)
end

local function predicted_post(ctx)
  local b = ctx.body
  local state = ctx.app.state
  local fields = {}
  if not find(state.workspaces, b.workspace_id) then fields.workspace_id = { "Workspace not found." } end
  for _, k in ipairs { "reward", "total_available_places", "estimated_completion_time" } do
    if b[k] < 1 then fields[k] = { "Ensure this value is greater than or equal to 1." } end
  end
  local filters, fe = require("cohort.sandbox.prolific_filters").validate(state, b.filters, "filters")
  for k, list in pairs(fe or {}) do fields[k] = list end
  if next(fields) then return util.prolific_error(400, fields) end
  return util.answer(200, require("cohort.sandbox.participants").forecast(ctx.app, filters,
    b.total_available_places, b.reward, b.estimated_completion_time))
end

local function calculator(ctx)
  local b = ctx.body
  local fields = {}
  for _, k in ipairs { "reward", "total_available_places" } do
    if b[k] < 0 then fields[k] = { "Ensure this value is greater than or equal to 0." } end
  end
  if next(fields) then return util.prolific_error(400, fields) end
  local state = ctx.app.state
  local currency = money().currency_of(state, nil)
  local _, _, total = money().costs(b.reward * b.total_available_places, currency)
  return util.answer(200, { total_cost = total })
end

-- action → { from = {statuses}, to = status or function }
local TRANSITIONS = {
  PUBLISH = { from = { UNPUBLISHED = true }, to = "ACTIVE" },
  SCHEDULE_PUBLISH = { from = { UNPUBLISHED = true }, to = "SCHEDULED" },
  CANCEL_PUBLISH = { from = { SCHEDULED = true }, to = "UNPUBLISHED" },
  PAUSE = { from = { ACTIVE = true }, to = "PAUSED" },
  START = { from = { PAUSED = true }, to = "ACTIVE" },
  STOP = { from = { ACTIVE = true, PAUSED = true } },
}

local function transition(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local b = ctx.body
  local action = b.action -- a string (StudyTransition); the choices are the state machine's
  local t = TRANSITIONS[action]
  if not t then
    return util.prolific_error(400, { action = { string.format('"%s" is not a valid choice.', action) } })
  end
  if not t.from[st.status] then
    return util.prolific_error(400, string.format("Cannot %s a study with status %s.", action,
      st.status), nil, 140001)
  end
  local now = now_of(ctx)
  local app = ctx.app
  local lifecycle = require "cohort.sandbox.lifecycle"
  local at
  if action == "SCHEDULE_PUBLISH" then
    local why
    at, why = lifecycle.parse_publish_at(b.publish_at)
    if not at then
      return util.prolific_error(400, { publish_at = { b.publish_at == nil and "This field is required."
        or ("Datetime has wrong format. Use ISO 8601 (%s)."):format(why) } })
    end
    if at <= now then
      return util.prolific_error(400, { publish_at = { "The publish time must be in the future." } })
    end
  elseif b.publish_at ~= nil then
    return util.prolific_error(400, { publish_at = { "Only SCHEDULE_PUBLISH takes publish_at." } })
  end
  -- publishing (or scheduling it) locks the cost of every place: Prolific checks "if your
  -- account has sufficient balance to pay participants" and locks "the amount required" (the
  -- spec, tag Studies)
  if action == "PUBLISH" or action == "SCHEDULE_PUBLISH" then
    local ok, e1, e2, e3 = money().reserve(app, st, tonumber(st.total_available_places) or 0,
      action == "PUBLISH" and "published" or "scheduled to publish")
    if not ok then return e1, e2, e3 end
  end
  if action == "PUBLISH" then
    lifecycle.publish_study(app, st, now)
  elseif action == "SCHEDULE_PUBLISH" then
    st.publish_at = data.iso_time(at)
    lifecycle.schedule_study(app, st, at)
    lifecycle.study_status(app, st, "SCHEDULED")
  elseif action == "CANCEL_PUBLISH" then
    st.publish_at = nil
    lifecycle.unschedule(app, st.id)
    lifecycle.study_status(app, st, "UNPUBLISHED")
  elseif action == "STOP" then
    local _, _, _, awaiting = counts(app.state, st)
    local live = false
    for _, s in ipairs(app.state.submissions) do
      if s.study_id == st.id and (s.status == "ACTIVE" or s.status == "RESERVED") then live = true end
    end
    lifecycle.study_status(app, st, (awaiting > 0 or live) and "AWAITING REVIEW" or "COMPLETED")
  else
    lifecycle.study_status(app, st, t.to)
  end
  return util.answer(200, M.full(app.state, st))
end

-- GET studies/{id}/access-details-progress/: {id, progress = [{external_url, total_allocation,
-- allocated}], _links} (the spec's example; see the override of GetStudyAccessDetailsProgress).
local function access_progress(ctx, p)
  local st, e1, e2, e3 = get_study(ctx, p.id)
  if not st then return e1, e2, e3 end
  local progress = {}
  local _, taken = counts(ctx.app.state, st)
  for _, a in ipairs(st.access_details or {}) do
    local alloc = math.min(taken, tonumber(a.total_allocation) or 0)
    taken = taken - alloc
    progress[#progress + 1] = { external_url = a.external_url,
      total_allocation = a.total_allocation, allocated = alloc }
  end
  return util.answer(200, { id = st.id, progress = util.array(progress),
    _links = { self = { href = ctx.full_url, title = "Current" } } })
end

M.routes = {
  { "GET", "studies", function(ctx) return list_studies(ctx, nil) end, op = "GetStudies" },
  { "POST", "studies", create_study, op = "CreateStudy" },
  { "POST", "studies/predicted-recruitment-time", predicted_post,
    op = "PostStudyPredictedRecruitmentTime" },
  { "GET", "studies/{id}", function(ctx, p)
      local st, e1, e2, e3 = get_study(ctx, p.id)
      if not st then return e1, e2, e3 end
      return util.answer(200, M.full(ctx.app.state, st))
    end, op = "GetStudy" },
  { "PATCH", "studies/{id}", update_study, op = "UpdateStudy" },
  { "DELETE", "studies/{id}", delete_study, op = "DeleteStudy" },
  { "POST", "studies/{id}/clone", clone_study, op = "DuplicateStudy" },
  { "GET", "studies/{id}/cost", study_cost, op = "GetStudyCost" },
  { "GET", "studies/{id}/export", export_study, op = "ExportStudy" },
  { "POST", "studies/{id}/transition", transition, op = "PublishStudy" },
  { "GET", "studies/{study_id}/predicted-recruitment-time", predicted_get,
    op = "GetStudyPredictedRecruitmentTime" },
  { "GET", "studies/{id}/access-details-progress", access_progress,
    op = "GetStudyAccessDetailsProgress" },
  { "POST", "study/{id}/test-study", test_study, op = "TestStudySetUp" },
  { "POST", "study-cost-calculator", calculator, op = "CalculateStudyCost" },
  { "GET", "projects/{project_id}/studies", function(ctx, p)
      if not find(ctx.app.state.projects, p.project_id) then
        return util.prolific_error(404, "Project not found.")
      end
      return list_studies(ctx, p.project_id)
    end, op = "GetProjectStudies" },
}

-- Simulation ------------------------------------------------------------------------------------

-- A small deterministic generator (xorshift64*), so a seed replays the same participants.
local function rng(seed)
  local x = (math.tointeger(seed) or 1) * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D
  if x == 0 then x = 1 end
  return function()
    x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
    local r = (x * 0x2545F4914F6CDD1D) >> 11
    return r / 9007199254740992.0 -- [0, 1)
  end
end

-- The Prolific survey of a study: its `survey_id` field (a sandbox extension, accepted by the
-- sandbox's create/update), else a hex `survey_id=` (or `survey=`) query parameter or a
-- `/surveys/<hex id>` path segment in external_study_url.
function M.survey_of(st)
  if type(st.survey_id) == "string" and st.survey_id ~= "" then return st.survey_id end
  local url = type(st.external_study_url) == "string" and st.external_study_url or ""
  return url:match("[?&]survey_id=(%x+)") or url:match("[?&]survey=(%x+)")
    or url:match("/surveys/(%x+)")
end

local SIM_KEYS = { participants = true, returns = true, timeouts = true, failed_checks = true,
  duration_ms = true, seed = true }

-- POST /__sandbox/studies/{id}/simulate {participants, returns, timeouts, failed_checks,
-- duration_ms, seed}: N participants take the (ACTIVE) study — members of the participant pool
-- who may take it (its filters, its filter set's, not those who took it, nor those of another
-- study of its mutually exclusive collection: cohort.sandbox.participants), drawn reproducibly
-- for the seed; fewer such members than N is a 400 naming how many. Each submission is RESERVED, then
-- ACTIVE, then AWAITING REVIEW — or RETURNED / TIMED-OUT at the given rates — all within
-- duration_ms (default 1000) from now; statuses are computed from the clock when read. Each gets
-- time_taken (seconds, scaled from the study's estimated time) and attention_check =
-- "passed"|"failed" (failed at the failed_checks rate). When the study has a Prolific survey
-- (see M.survey_of) every completed participant also gets a survey response.
function M.simulate(ctx, p)
  local app = ctx.app
  local now = now_of(ctx)
  M.advance(app, now)
  local st = find(app.state.studies, p.id)
  if not st then return util.prolific_error(404, "Study not found.") end
  local b, why = util.decode(ctx.req.body ~= "" and ctx.req.body or "{}")
  if type(b) ~= "table" then
    return util.prolific_error(400, "The body must be a JSON object: " .. tostring(why or ""))
  end
  local fields = {}
  for k in pairs(b) do
    if not SIM_KEYS[k] then fields[k] = { "Unknown option." } end
  end
  local n = b.participants
  if type(n) ~= "number" or n ~= math.floor(n) or n < 1 or n > 10000 then
    fields.participants = { "A whole number from 1 to 10000 is required." }
  end
  local rates = {}
  for _, k in ipairs { "returns", "timeouts", "failed_checks" } do
    local r = b[k] or 0
    if type(r) ~= "number" or r < 0 or r > 1 then
      fields[k] = { "A rate between 0 and 1 is required." }
    end
    rates[k] = r
  end
  if not fields.returns and not fields.timeouts and rates.returns + rates.timeouts > 1 then
    fields.returns = { "returns + timeouts must not exceed 1." }
  end
  local duration = b.duration_ms or 1000
  if type(duration) ~= "number" or duration < 0 or duration > 3600000 then
    fields.duration_ms = { "A number of milliseconds from 0 to 3600000 is required." }
  end
  if b.seed ~= nil and type(b.seed) ~= "number" then fields.seed = { "A number is required." } end
  if next(fields) then return util.prolific_error(400, fields) end
  if st.status ~= "ACTIVE" then
    return util.prolific_error(400, string.format(
      "Only an ACTIVE (published) study can be run; this one is %s.", st.status), nil, 140001)
  end
  local _, taken = counts(app.state, st)
  local free = (tonumber(st.total_available_places) or 0) - taken
  if n > free then
    return util.prolific_error(400, { participants = { string.format(
      "The study has %d free places; increase total_available_places first.", math.max(free, 0)) } })
  end
  -- who takes part: members of the pool who may take this study (cohort.sandbox.participants)
  local participants = require "cohort.sandbox.participants"
  local drawn, eligible = participants.draw(app, st, n, b.seed)
  if not drawn then return util.prolific_error(400, eligible) end
  if #drawn < n then
    return util.prolific_error(400, { participants = { string.format(
      "Only %d member%s of the participant pool can take this study now (its filters, less those "
      .. "who took it%s); ask for at most %d.", #drawn, #drawn == 1 and "" or "s",
      participants.collection_of(app.state, st.id) and " or another study of its collection" or "",
      #drawn) } })
  end
  local pool = participants.pool(app)
  local D = duration / 1000
  local random = rng(b.seed or 1)
  local code
  for _, c in ipairs(st.completion_codes or {}) do
    if c.code_type == "COMPLETED" and type(c.code) == "string" then code = c.code; break end
  end
  if not code then
    local c = (st.completion_codes or {})[1]
    code = c and type(c.code) == "string" and c.code or nil
  end
  local survey = M.survey_of(st)
  local ect = (tonumber(st.estimated_completion_time) or 5) * 60
  local ids = {}
  for i = 1, n do
    local arrive = now + D * 0.2 * random()
    local active_at = arrive + D * 0.1
    local end_at = active_at + D * (0.3 + 0.4 * random())
    local u = random()
    local outcome = "AWAITING REVIEW"
    if u < rates.returns then outcome = "RETURNED"
    elseif u < rates.returns + rates.timeouts then outcome = "TIMED-OUT" end
    local failed = random() < rates.failed_checks
    local taken_s = math.floor(ect * (0.4 + 1.2 * random()) + 0.5)
    local sid = data.new_id(app.state)
    local pid = drawn[i].id
    pool:record(pid, st.id, "RESERVED")
    app.state.submissions[#app.state.submissions + 1] = {
      id = sid, study_id = st.id, participant_id = pid, status = "RESERVED",
      started_at = data.iso_time(arrive), completed_at = nil, study_code = nil,
      time_taken = nil, reward = st.reward, bonus_payments = {}, return_requested = nil,
      parent_study_id = nil, attention_check = failed and "failed" or "passed",
      sim = { arrive = arrive, active_at = active_at, end_at = end_at, outcome = outcome,
        time_taken = taken_s, failed_check = failed, survey_id = survey, code = code,
        last = "RESERVED" },
    }
    ids[i] = sid
  end
  local pids = {}
  for i, m in ipairs(drawn) do pids[i] = m.id end
  return util.json(200, { created = n, submission_ids = util.array(ids),
    participant_ids = util.array(pids), eligible = eligible,
    survey_id = survey or null, duration_ms = duration })
end

return M
