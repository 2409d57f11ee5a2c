--- Prolific studies: rows, validators and the `Study` class.
--
--     local study = assert(p.studies:create{
--       name = "Reaction times", description = "A 5-minute task.",
--       external_study_url = "https://example.org/?PROLIFIC_PID={{%PROLIFIC_PID%}}",
--       prolific_id_option = "url_parameters",
--       completion_codes = {{ code = "C0DE1234", code_type = "COMPLETED",
--                             actions = {{ action = "MANUALLY_REVIEW" }} }},
--       estimated_completion_time = 5,       -- minutes
--       reward = 100,                        -- minor units (pence/cents) per participant
--       total_available_places = 50,
--     })
--     study = assert(study:publish())        --> Study 6a5bd0c5… ACTIVE "Reaction times" …
--     for sub in study:each_submission{ status = "AWAITING REVIEW" } do ... end
--
-- Money: `reward`, `total_cost` and every cost are in minor units (pence/cents). `study:cost()`
-- answers a `StudyCost`: Prolific's breakdown as it came, plus the totals cohort adds —
-- `rewards_total` (rewards + fees + VAT, with the representative-sample fees and their tax),
-- `bonuses_total` (bonuses + fees + VAT) and `total` (both), in minor units, and `currency`.
-- Life cycle (the verbs return the updated Study; the object they are called on is unchanged):
-- `publish()` UNPUBLISHED→ACTIVE, `schedule{at=}` UNPUBLISHED→SCHEDULED, `cancel_publish()`
-- SCHEDULED→UNPUBLISHED, `pause()` ACTIVE→PAUSED, `start()` PAUSED→ACTIVE, `stop()`
-- ACTIVE|PAUSED→AWAITING REVIEW or COMPLETED. After publishing only `internal_name` and
-- `total_available_places` (increase only) may be updated.
-- @module cohort.prolific.studies
local schema = require "cohort.schema"
local util = require "cohort.util"

local M = {}

local S = schema.load "prolific"

--- Statuses the study list filters by: a study's statuses and the list's transient
-- PUBLISHING and UNKNOWN.
M.STATUSES = {}
for _, s in ipairs(S.schemas.Study.properties.status.enum) do M.STATUSES[s] = true end
M.STATUSES.PUBLISHING, M.STATUSES.UNKNOWN = true, true

local function blank(v) return type(v) == "string" and v:match("^%s*$") ~= nil end

-- A Unix time (seconds, UTC) as Prolific's ISO 8601 form; other values unchanged.
local function iso(v)
  if type(v) == "number" and v >= 0 and v < math.huge then
    return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(v))
  end
  return v
end
M.iso = iso

--- Check a study's fields beyond the schema: `reward` a whole number of minor units, `name`
-- and `description` not blank.
-- @tparam table args
-- @tparam table ctx
-- @treturn table args
function M.check_fields(args, ctx)
  local r = args.reward
  if type(r) == "number" and (r ~= math.floor(r) or r < 1 or r == math.huge) then
    ctx.misuse("reward must be a whole number of minor units (pence/cents), at least 1, e.g. "
      .. "150 for £1.50 (got %s)", util.show(r))
  end
  for _, k in ipairs { "name", "description" } do
    if blank(args[k]) then ctx.misuse("%s must not be blank", k) end
  end
  return args
end

local function check_update(args, ctx)
  if next(args) == nil then ctx.misuse("nothing to update: give at least one field") end
  return M.check_fields(args, ctx)
end

-- `status` (one, or an array) → Prolific's `state` ("ACTIVE" or "(ACTIVE|PAUSED)")
local function status_filter(args, ctx)
  local v = args.status
  if v ~= nil and args.state ~= nil then ctx.misuse("give status or state, not both") end
  if v == nil then v = args.state end
  args.status = nil
  if v == nil then return args end
  local list = type(v) == "table" and v or { v }
  if #list == 0 then ctx.misuse("status must be a status or a non-empty array of them") end
  local out = {}
  for i, s in ipairs(list) do
    local spoken = type(s) == "string" and s:upper():gsub("_", " ") or s
    if not M.STATUSES[spoken] then
      ctx.misuse("status%s must be one of %s (got %s)", type(v) == "table" and ("[%d]"):format(i) or "",
        util.sorted_keys(M.STATUSES), util.show(s))
    end
    out[i] = spoken
  end
  args.state = #out == 1 and out[1] or "(" .. table.concat(out, "|") .. ")"
  return args
end

local function check_transition(args, ctx)
  args.publish_at = iso(args.publish_at)
  if args.action == "SCHEDULE_PUBLISH" and args.publish_at == nil then
    ctx.misuse("%s is required to schedule (an ISO 8601 date-time or a Unix time)",
      ctx.name("publish_at"))
  elseif args.action ~= "SCHEDULE_PUBLISH" and args.publish_at ~= nil then
    ctx.misuse("%s is only for SCHEDULE_PUBLISH", ctx.name("publish_at"))
  end
  return args
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateStudy", resource = "studies", name = "create", class = "Study",
    prepare = M.check_fields, note = "`reward` in minor units",
    verbs = { create_study = { on = "Project", no_ids = true, rest = true,
      defaults = { project = "id" } } } },
  { op = "GetStudies", resource = "studies", name = "list", class = "Study",
    prepare = status_filter,
    note = "`status`: a status or an array of them (sent as Prolific's `state`)" },
  { op = "GetProjectStudies", resource = "studies", name = "for_project", class = "Study",
    verbs = {
      studies = { on = "Project", rest = true },
      each_study = { on = "Project", rest = true, mode = "each" },
      all_studies = { on = "Project", rest = true, mode = "all" },
    } },
  { op = "GetStudy", resource = "studies", name = "get", class = "Study",
    verbs = { refresh = {} } },
  { op = "UpdateStudy", resource = "studies", name = "update", class = "Study",
    prepare = check_update, verbs = { update = { rest = true } } },
  { op = "DeleteStudy", resource = "studies", name = "delete", verbs = { delete = { on = "Study" } } },
  { op = "DuplicateStudy", resource = "studies", name = "clone", class = "Study",
    verbs = { clone = { rest = true } } },
  { op = "GetStudyCost", resource = "studies", name = "cost", class = "StudyCost",
    returns = function(value, _, client) return client:wrap("StudyCost", M.cost_totals(value)) end,
    verbs = { cost = { on = "Study", rest = true } },
    note = "amounts in minor units; `cost.total` = rewards + bonuses, fees and VAT included" },
  { op = "ExportStudy", resource = "studies", name = "export",
    raw = { accept = "text/csv, application/json" },
    verbs = { export = { on = "Study", rest = true } },
    note = "the CSV text; with `{method = \"EMAIL\"}` the status of an export by e-mail" },
  { op = "TestStudySetUp", resource = "studies", name = "test",
    verbs = { test = { on = "Study", rest = true } } },
  { op = "GetStudyPredictedRecruitmentTime", resource = "studies",
    name = "predicted_recruitment_time",
    verbs = { predicted_recruitment_time = { on = "Study" } } },
  { op = "PostStudyPredictedRecruitmentTime", resource = "studies",
    name = "predict_recruitment_time", idempotent = true, prepare = M.check_fields },
  { op = "CalculateStudyCost", resource = "studies", name = "calculate_cost", idempotent = true,
    prepare = M.check_fields },
  { op = "PublishStudy", resource = "studies", name = "transition", class = "Study",
    idempotent = true, prepare = check_transition,
    verbs = {
      publish = { fixed = { action = "PUBLISH" } },
      schedule = { fixed = { action = "SCHEDULE_PUBLISH" }, args = { at = "publish_at" },
        note = "`at`: an ISO 8601 date-time or a Unix time (UTC)" },
      cancel_publish = { fixed = { action = "CANCEL_PUBLISH" } },
      pause = { fixed = { action = "PAUSE" } },
      start = { fixed = { action = "START" } },
      stop = { fixed = { action = "STOP" } },
    } },
  { op = "GetStudyAccessDetailsProgress", resource = "studies", name = "access_details_progress",
    verbs = { access_details_progress = { on = "Study" } } },
}

--- `Study 6a5bd0c5… ACTIVE "Reaction times" (reward 100 minor units, 50 places)`
-- @tparam table st
-- @treturn string
function M.tostring(st)
  return ("Study %s %s %q (reward %s minor units, %s places)"):format(util.short_id(st.id),
    tostring(st.status), tostring(st.name), tostring(st.reward),
    tostring(st.total_available_places))
end

local REWARD_PARTS = { "rewards", "fees", "tax", "rep_sample_fees", "rep_sample_tax" }
local BONUS_PARTS = { "rewards", "fees", "tax" }

local finite, cents = util.finite, util.cents

-- The sum of the `{amount, currency}` parts of one breakdown, the parts found, and the currency.
local function sum_parts(node, parts)
  local total, found, currency = 0, 0, nil
  if type(node) ~= "table" then return 0, 0, nil end
  for _, k in ipairs(parts) do
    local p = node[k]
    if type(p) == "table" and finite(p.amount) then
      total, found = total + p.amount, found + 1
      if type(p.currency) == "string" then currency = currency or p.currency end
    end
  end
  return cents(total), found, currency
end

--- Add cohort's totals to a study's cost as Prolific answers it (in place): `rewards_total`
-- (rewards, fees, tax, rep_sample_fees, rep_sample_tax of `rewards`), `bonuses_total`
-- (rewards, fees, tax of `bonuses`), `total` (both) — minor units — and `currency`. A part
-- the answer does not carry counts 0.
-- @tparam table cost the decoded answer of `GET /studies/{id}/cost/`
-- @treturn table cost
function M.cost_totals(cost)
  if type(cost) ~= "table" then return cost end
  local r, _, cr = sum_parts(cost.rewards, REWARD_PARTS)
  local b, _, cb = sum_parts(cost.bonuses, BONUS_PARTS)
  cost.rewards_total, cost.bonuses_total = r, b
  cost.total = cents(r + b)
  cost.currency = cr or cb
  return cost
end

local function part(node, k)
  local x = type(node) == "table" and type(node[k]) == "table" and node[k].amount
  return finite(x) and x or 0
end

--- `StudyCost 4200 GBP (minor units): rewards 3000 + fees 1000 + VAT 200, bonuses 0 + fees 0 + VAT 0`
-- @tparam table c a StudyCost
-- @treturn string
function M.cost_tostring(c)
  local m = require("cohort.prolific.bonuses").minor_text
  local r, b = c.rewards, c.bonuses
  local rep = part(r, "rep_sample_fees") + part(r, "rep_sample_tax")
  return ("StudyCost %s%s (minor units): rewards %s + fees %s + VAT %s%s, bonuses %s + fees %s + VAT %s")
    :format(m(c.total), c.currency and (" " .. tostring(c.currency)) or "",
      m(part(r, "rewards")), m(part(r, "fees")), m(part(r, "tax")),
      rep ~= 0 and (" + representative sample " .. m(rep)) or "",
      m(part(b, "rewards")), m(part(b, "fees")), m(part(b, "tax")))
end

--- Classes.
M.classes = { Study = { var = "study", tostring = M.tostring },
  StudyCost = { var = "cost", tostring = M.cost_tostring } }

return M
