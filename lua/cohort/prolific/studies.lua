--- Prolific studies: create, list, get, update, delete, clone, cost, export, test, recruitment
-- forecasts, the cost calculator, and the life cycle verbs of the `Study` class.
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
-- Money: `reward`, `total_cost` and every cost are in minor units (pence/cents).
-- Life cycle (the verbs return the updated Study; the object they are called on is unchanged):
-- `publish()` UNPUBLISHED→ACTIVE, `schedule{at=}` UNPUBLISHED→SCHEDULED, `cancel_publish()`
-- SCHEDULED→UNPUBLISHED, `pause()` ACTIVE→PAUSED, `start()` PAUSED→ACTIVE, `stop()`
-- ACTIVE|PAUSED→AWAITING REVIEW or COMPLETED. After publishing only `internal_name` and
-- `total_available_places` (increase only) may be updated.
-- @module cohort.prolific.studies
local compat = require "cohort.compat"
local util = require "cohort.util"
local Error = require "cohort.error"

local M = {}

--- Statuses a study can have.
M.STATUSES = { UNPUBLISHED = true, SCHEDULED = true, ACTIVE = true, ["AWAITING REVIEW"] = true,
  PAUSED = true, COMPLETED = true, PUBLISHING = true, UNKNOWN = true }

--- Study transition actions.
M.ACTIONS = { PUBLISH = true, SCHEDULE_PUBLISH = true, CANCEL_PUBLISH = true, PAUSE = true,
  START = true, STOP = true }

--- Writable fields of a study (Prolific's BaseStudy).
M.FIELDS = { "name", "internal_name", "description", "external_study_url", "prolific_id_option",
  "completion_codes", "total_available_places", "estimated_completion_time",
  "maximum_allowed_time", "reward", "device_compatibility", "peripheral_requirements",
  "is_custom_screening", "filters", "filter_set_id", "filter_set_version",
  "naivety_distribution_rate", "project", "submissions_config", "study_labels",
  "content_warnings", "content_warning_details", "metadata", "access_details" }

--- Fields a new study must have (plus `external_study_url`, or `access_details` for taskflow).
M.REQUIRED = { "name", "description", "prolific_id_option", "completion_codes",
  "estimated_completion_time", "reward", "total_available_places" }

local ENUMS = {
  prolific_id_option = { question = true, url_parameters = true, not_required = true },
  device_compatibility = { desktop = true, tablet = true, mobile = true },
  peripheral_requirements = { audio = true, camera = true, download = true, microphone = true },
  study_labels = { survey = true, writing_task = true, annotation = true, interview = true,
    other = true },
  content_warnings = { sensitive = true, explicit = true },
}

--- Completion code types.
M.CODE_TYPES = { COMPLETED = true, FAILED_ATTENTION_CHECK = true, FOLLOW_UP_STUDY = true,
  GIVE_BONUS = true, INCOMPATIBLE_DEVICE = true, NO_CONSENT = true, OTHER = true }

--- Study types of the recruitment-time forecast.
M.STUDY_TYPES = { SINGLE = true, UK_REP_SAMPLE = true, US_REP_SAMPLE = true,
  REP_SAMPLE_UK_ENGLISH_AGE_POLITICAL_AFFILIATION_ETHNICITY = true,
  REP_SAMPLE_UK_ENGLISH_AGE_POLITICAL_AFFILIATION = true,
  REP_SAMPLE_US_ENGLISH_AGE_POLITICAL_AFFILIATION_ETHNICITY = true,
  REP_SAMPLE_US_ENGLISH_AGE_POLITICAL_AFFILIATION = true, REP_SAMPLE_GLOBAL_REP_SAMPLE = true }

local function sorted_keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return table.concat(t, ", ")
end

local function whole(v) return compat.math_type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and v == v) end

local function positive_whole(label, name, v, what)
  if type(v) ~= "number" or not whole(v) or v < 1 or v == math.huge then
    util.misuse(label, "%s must be a whole number of at least 1%s (got %s)", name, what or "",
      tostring(v))
  end
end

local function check_enum_list(label, name, v)
  if type(v) ~= "table" then util.misuse(label, "%s must be an array of strings", name) end
  for i, x in ipairs(v) do
    if not ENUMS[name][x] then
      util.misuse(label, "%s[%d] must be one of %s (got %s)", name, i, sorted_keys(ENUMS[name]),
        tostring(x))
    end
  end
end

--- Check the fields of a study body; `creating` makes the required ones required.
function M.check_fields(label, args, creating)
  if creating then
    for _, k in ipairs(M.REQUIRED) do
      if args[k] == nil then util.misuse(label, "field '%s' is required", k) end
    end
    if args.external_study_url == nil and args.access_details == nil then
      util.misuse(label, "field 'external_study_url' is required (or 'access_details' for a "
        .. "taskflow study)")
    end
  end
  for _, k in ipairs { "name", "internal_name", "description", "external_study_url",
      "filter_set_id", "project", "content_warning_details", "metadata" } do
    local v = args[k]
    if v ~= nil and type(v) ~= "string" then util.misuse(label, "%s must be a string", k) end
  end
  for _, k in ipairs { "name", "description" } do
    if type(args[k]) == "string" and args[k]:match("^%s*$") then
      util.misuse(label, "%s must not be blank", k)
    end
  end
  if args.external_study_url ~= nil and not args.external_study_url:match("^https?://") then
    util.misuse(label, "external_study_url must be an http(s):// URL (got %q)",
      args.external_study_url)
  end
  if args.project ~= nil then util.check_id(label, "project", args.project) end
  if args.prolific_id_option ~= nil and not ENUMS.prolific_id_option[args.prolific_id_option] then
    util.misuse(label, "prolific_id_option must be one of %s (got %s)",
      sorted_keys(ENUMS.prolific_id_option), tostring(args.prolific_id_option))
  end
  if args.reward ~= nil then
    positive_whole(label, "reward", args.reward,
      " in minor units (pence/cents), e.g. 150 for £1.50")
  end
  if args.total_available_places ~= nil then
    positive_whole(label, "total_available_places", args.total_available_places)
  end
  for _, k in ipairs { "estimated_completion_time", "maximum_allowed_time" } do
    local v = args[k]
    if v ~= nil and (type(v) ~= "number" or v < 1 or v ~= v or v == math.huge) then
      util.misuse(label, "%s must be a number of minutes, at least 1 (got %s)", k, tostring(v))
    end
  end
  for _, k in ipairs { "device_compatibility", "peripheral_requirements", "study_labels",
      "content_warnings" } do
    if args[k] ~= nil then check_enum_list(label, k, args[k]) end
  end
  if args.is_custom_screening ~= nil and type(args.is_custom_screening) ~= "boolean" then
    util.misuse(label, "is_custom_screening must be a boolean")
  end
  local r = args.naivety_distribution_rate
  if r ~= nil and (type(r) ~= "number" or r < 0 or r > 1) then
    util.misuse(label, "naivety_distribution_rate must be a number from 0 to 1")
  end
  for _, k in ipairs { "filters", "access_details" } do
    if args[k] ~= nil and type(args[k]) ~= "table" then util.misuse(label, "%s must be an array", k) end
  end
  if args.submissions_config ~= nil and type(args.submissions_config) ~= "table" then
    util.misuse(label, "submissions_config must be a table")
  end
  local codes = args.completion_codes
  if codes ~= nil then
    if type(codes) ~= "table" or #codes == 0 then
      util.misuse(label, "completion_codes must be a non-empty array of {code =, code_type =, actions =}")
    end
    for i, c in ipairs(codes) do
      if type(c) ~= "table" then util.misuse(label, "completion_codes[%d] must be a table", i) end
      if c.code ~= nil and type(c.code) ~= "string" then
        util.misuse(label, "completion_codes[%d].code must be a string", i)
      end
      if not M.CODE_TYPES[c.code_type] then
        util.misuse(label, "completion_codes[%d].code_type must be one of %s (got %s)", i,
          sorted_keys(M.CODE_TYPES), tostring(c.code_type))
      end
      if type(c.actions) ~= "table" then
        util.misuse(label, "completion_codes[%d].actions must be an array (e.g. {{action = \"MANUALLY_REVIEW\"}})", i)
      end
    end
  end
  return args
end

--- A status filter: a status ("AWAITING REVIEW", "awaiting_review") or an array of them;
-- sent as Prolific's `state` parameter ("ACTIVE" or "(ACTIVE|PAUSED)").
function M.prepare_list(label, args)
  local v = args.status
  if v == nil then v = args.state end
  if args.status ~= nil and args.state ~= nil then
    util.misuse(label, "give status or state, not both")
  end
  args.status = nil
  if v ~= nil then
    local list = type(v) == "table" and v or { v }
    if #list == 0 then util.misuse(label, "status must be a status or a non-empty array of them") end
    local out = {}
    for i, s in ipairs(list) do
      if type(s) ~= "string" then util.misuse(label, "status[%d] must be a string", i) end
      local spoken = s:upper():gsub("_", " ")
      if not M.STATUSES[spoken] then
        util.misuse(label, "status %q is not one of: %s", s, sorted_keys(M.STATUSES))
      end
      out[#out + 1] = spoken
    end
    args.state = #out == 1 and out[1] or "(" .. table.concat(out, "|") .. ")"
  end
  return args
end

local function check_transition(label, args)
  local action = args.action
  if type(action) ~= "string" or not M.ACTIONS[action] then
    util.misuse(label, "action must be one of %s (got %s)", sorted_keys(M.ACTIONS),
      tostring(action))
  end
  if action == "SCHEDULE_PUBLISH" then
    if type(args.publish_at) ~= "string" or not args.publish_at:match("^%d%d%d%d%-%d%d%-%d%dT") then
      util.misuse(label, "publish_at must be an ISO 8601 date-time for SCHEDULE_PUBLISH (got %s)",
        tostring(args.publish_at))
    end
  elseif args.publish_at ~= nil then
    util.misuse(label, "publish_at is only for SCHEDULE_PUBLISH")
  end
  return args
end

local function check_test(label, args)
  local a, b = args.target_participant_id, args.target_participant_group_id
  if (a == nil) == (b == nil) then
    util.misuse(label, "give exactly one of target_participant_id and target_participant_group_id")
  end
  util.check_id(label, a and "target_participant_id" or "target_participant_group_id", a or b)
  return args
end

local function check_forecast(label, args)
  for _, k in ipairs { "filters", "workspace_id", "reward", "study_type",
      "total_available_places", "estimated_completion_time" } do
    if args[k] == nil then util.misuse(label, "field '%s' is required", k) end
  end
  if type(args.filters) ~= "table" then util.misuse(label, "filters must be an array (may be empty)") end
  util.check_id(label, "workspace_id", args.workspace_id)
  positive_whole(label, "reward", args.reward, " in minor units (pence/cents)")
  positive_whole(label, "total_available_places", args.total_available_places)
  if type(args.estimated_completion_time) ~= "number" or args.estimated_completion_time < 1 then
    util.misuse(label, "estimated_completion_time must be a number of minutes, at least 1")
  end
  if not M.STUDY_TYPES[args.study_type] then
    util.misuse(label, "study_type must be one of %s (got %s)", sorted_keys(M.STUDY_TYPES),
      tostring(args.study_type))
  end
  if args.device_compatibility ~= nil then check_enum_list(label, "device_compatibility", args.device_compatibility) end
  if args.peripheral_requirements ~= nil then check_enum_list(label, "peripheral_requirements", args.peripheral_requirements) end
  if args.study_labels ~= nil and not ENUMS.study_labels[args.study_labels] then
    util.misuse(label, "study_labels must be one of %s", sorted_keys(ENUMS.study_labels))
  end
  return args
end

local function check_calculator(label, args)
  for _, k in ipairs { "reward", "total_available_places" } do
    local v = args[k]
    if type(v) ~= "number" or v < 0 or v ~= v or v == math.huge then
      util.misuse(label, "%s must be a non-negative number%s (got %s)", k,
        k == "reward" and " in minor units (pence/cents)" or "", tostring(v))
    end
  end
  return args
end

local function check_cost(label, args)
  if args.is_projected ~= nil then
    if type(args.is_projected) ~= "boolean" then util.misuse(label, "is_projected must be a boolean") end
    args.is_projected = args.is_projected and "true" or "false"
  end
  return args
end

local function check_clone(label, args)
  if args.block_previous_participants ~= nil and type(args.block_previous_participants) ~= "boolean" then
    util.misuse(label, "block_previous_participants must be a boolean")
  end
  return args
end

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateStudy = { "POST", "/api/v1/studies/", "studies", "create", class = "Study",
    body = M.FIELDS, prepare = function(l, a) return M.check_fields(l, a, true) end },
  GetStudies = { "GET", "/api/v1/studies/", "studies", "list", paging = "page", class = "Study",
    query = { "status", "state", "page", "page_size" },
    prepare = function(...) return M.prepare_list(...) end },
  GetProjectStudies = { "GET", "/api/v1/projects/{project_id}/studies/", "studies", "for_project",
    paging = "page", class = "Study", query = { "status", "state", "page", "page_size" },
    prepare = function(...) return M.prepare_list(...) end },
  GetStudy = { "GET", "/api/v1/studies/{id}/", "studies", "get", class = "Study" },
  UpdateStudy = { "PATCH", "/api/v1/studies/{id}/", "studies", "update", class = "Study",
    body = M.FIELDS, prepare = function(l, a)
      if next(a) == nil then util.misuse(l, "nothing to update: give at least one field") end
      return M.check_fields(l, a, false)
    end },
  DeleteStudy = { "DELETE", "/api/v1/studies/{id}/", "studies", "delete", query = {} },
  DuplicateStudy = { "POST", "/api/v1/studies/{id}/clone/", "studies", "clone", class = "Study",
    body = { "block_previous_participants" }, prepare = check_clone },
  GetStudyCost = { "GET", "/api/v1/studies/{id}/cost/", "studies", "cost",
    query = { "is_projected" }, prepare = check_cost },
  ExportStudy = { "GET", "/api/v1/studies/{id}/export/", "studies", "export",
    query = { "method" }, prepare = function(label, args)
      if args.method ~= nil and args.method ~= "EMAIL" then
        util.misuse(label, "method must be \"EMAIL\" or absent (got %s)", tostring(args.method))
      end
      return args
    end },
  TestStudySetUp = { "POST", "/api/v1/study/{id}/test-study", "studies", "test",
    body = { "target_participant_id", "target_participant_group_id" }, prepare = check_test },
  GetStudyPredictedRecruitmentTime = { "GET",
    "/api/v1/studies/{study_id}/predicted-recruitment-time/", "studies",
    "predicted_recruitment_time", query = {} },
  PostStudyPredictedRecruitmentTime = { idempotent = true, "POST", "/api/v1/studies/predicted-recruitment-time/",
    "studies", "predict_recruitment_time",
    body = { "filters", "workspace_id", "reward", "study_type", "total_available_places",
      "estimated_completion_time", "device_compatibility", "peripheral_requirements",
      "study_labels" }, prepare = check_forecast },
  CalculateStudyCost = { idempotent = true, "POST", "/api/v1/study-cost-calculator/", "studies", "calculate_cost",
    body = { "reward", "total_available_places" }, prepare = check_calculator },
  PublishStudy = { idempotent = true, "POST", "/api/v1/studies/{id}/transition/", "studies", "transition",
    class = "Study", body = { "action", "publish_at" }, required = { "action" },
    prepare = check_transition },
  GetStudyAccessDetailsProgress = { "GET", "/api/v1/studies/{id}/access-details-progress/",
    "studies", "access_details_progress", query = {} },
}

-- ------------------------------------------------------------------ resource methods

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Export a study's submissions: the CSV text Prolific answers (`p.studies:export(id)`), or
-- with `{method = "EMAIL"}` the status table of an export sent by e-mail.
-- @function p.studies:export
-- @tparam string id the study id
-- @tparam[opt] table opts `method` (`"EMAIL"`)
-- @treturn[1] string|table the CSV text, or `{status = ...}` for EMAIL
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.export(res, id, opts)
  local client = res._client
  local label = "prolific.studies:export()"
  local resource = require "cohort.resource"
  local req = resource.build(client, M.operations.ExportStudy, label, id, opts)
  req.headers, req.raw = { Accept = "text/csv, application/json" }, true
  local body, result = client:send(req)
  if body == nil then return nil, result end
  local ctype = (result.headers or {})["content-type"] or ""
  if ctype:find("json", 1, true) then return client:decode(result) end
  return body
end

-- ------------------------------------------------------------------ the Study class

--- Methods of a Study object (each takes the client first; see `client:define_class`).
M.methods = {}

local function transition(client, study, body)
  return client.studies:transition(study.id, body)
end

--- Publish a draft study now (UNPUBLISHED → ACTIVE).
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error (HTTP 400 when the study is not UNPUBLISHED)
function M.methods.publish(client, study)
  return transition(client, study, { action = "PUBLISH" })
end

--- Schedule the publication (UNPUBLISHED → SCHEDULED).
-- @function Study:schedule
-- @tparam table args `at`: when, as an ISO 8601 date-time string or a Unix time in seconds (UTC)
-- @treturn[1] Study the updated study (with `publish_at`)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.schedule(client, study, args)
  local label = "Study:schedule()"
  if type(args) ~= "table" then util.misuse(label, "expected a table {at = ...}") end
  util.check_keys(label, args, { at = true })
  local at = args.at
  if type(at) == "number" then
    if at ~= at or at == math.huge or at < 0 then util.misuse(label, "at must be a valid time") end
    at = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(at))
  elseif type(at) ~= "string" or not at:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d") then
    util.misuse(label, "at must be an ISO 8601 date-time (\"2025-06-01T09:00:00Z\") or a Unix "
      .. "time in seconds (got %s)", tostring(at))
  end
  return transition(client, study, { action = "SCHEDULE_PUBLISH", publish_at = at })
end

--- Cancel a scheduled publication (SCHEDULED → UNPUBLISHED).
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.cancel_publish(client, study)
  return transition(client, study, { action = "CANCEL_PUBLISH" })
end

--- Pause an active study (ACTIVE → PAUSED).
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.pause(client, study)
  return transition(client, study, { action = "PAUSE" })
end

--- Restart a paused study (PAUSED → ACTIVE).
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.start(client, study)
  return transition(client, study, { action = "START" })
end

--- Stop the study for good (ACTIVE|PAUSED → AWAITING REVIEW, or COMPLETED when nothing is left
-- to review). To reopen it, increase `total_available_places`.
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.stop(client, study)
  return transition(client, study, { action = "STOP" })
end

--- Update fields (any on a draft; only `internal_name` and a larger `total_available_places`
-- once published). `reward` is in minor units.
-- @function Study:update
-- @tparam table fields
-- @treturn[1] Study the updated study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.update(client, study, fields)
  return client.studies:update(study.id, fields)
end

--- Delete the study (drafts only).
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.delete(client, study)
  return client.studies:delete(study.id)
end

--- Duplicate the study as a new draft.
-- @function Study:clone
-- @tparam[opt] table opts `block_previous_participants` (default true on Prolific)
-- @treturn[1] Study the copy
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.clone(client, study, opts)
  return client.studies:clone(study.id, opts)
end

--- The study's cost: `{rewards = {rewards, fees, tax, ...}, bonuses = {...}}`, each an
-- `{amount, currency}` in minor units.
-- @function Study:cost
-- @tparam[opt] table opts `is_projected` (boolean: the cost of every place, not of what was paid)
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.cost(client, study, opts)
  return client.studies:cost(study.id, opts)
end

--- The study's submissions as CSV text (see `p.studies:export`).
-- @function Study:export
-- @tparam[opt] table opts `method` (`"EMAIL"`)
-- @treturn[1] string|table
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.export(client, study, opts)
  return client.studies:export(study.id, opts)
end

--- Make a test run of the study for one participant or a participant group.
-- @function Study:test
-- @tparam table args `target_participant_id` or `target_participant_group_id`
-- @treturn[1] table `{study_id, study_url}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.test(client, study, args)
  return client.studies:test(study.id, args)
end

--- Forecast of the recruitment time: `{precise_recruitment_time_hours, lower_bound_hours,
-- upper_bound_hours, display_string, limit_at}`.
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.predicted_recruitment_time(client, study)
  return client.studies:predicted_recruitment_time(study.id)
end

--- Progress of a taskflow study's access details: `{id, progress = {{external_url,
-- total_allocation, allocated}, ...}}`.
-- @treturn[1] table
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.access_details_progress(client, study)
  return client.studies:access_details_progress(study.id)
end

--- One page of the study's submissions (`status` filter as in `p.submissions:list`).
-- @function Study:submissions
-- @tparam[opt] table query `status`, `page`, `page_size`
-- @treturn[1] Page of Submission
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.submissions(client, study, query)
  return client.submissions:for_study(study.id, query)
end

--- Iterate over every submission of the study (all pages); raises the error object on failure.
-- @function Study:each_submission
-- @tparam[opt] table query `status`, `page_size`
-- @treturn function iterator of Submission
function M.methods.each_submission(client, study, query)
  return client.submissions:each_for_study(study.id, query)
end

--- Every submission of the study in one array.
-- @function Study:all_submissions
-- @tparam[opt] table query `status`, `page_size`
-- @treturn[1] {Submission,...}
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.all_submissions(client, study, query)
  return client.submissions:all_for_study(study.id, query)
end

--- Fetch the study again.
-- @treturn[1] Study
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.methods.refresh(client, study)
  return client.studies:get(study.id)
end

--- `Study 6a5bd0c5… ACTIVE "Reaction times" (reward 100 minor units, 50 places)`
function M.tostring(st)
  return ("Study %s %s %q (reward %s minor units, %s places)"):format(util.short_id(st.id),
    tostring(st.status), tostring(st.name), tostring(st.reward),
    tostring(st.total_available_places))
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { Study = { methods = M.methods, tostring = M.tostring } }

return M
