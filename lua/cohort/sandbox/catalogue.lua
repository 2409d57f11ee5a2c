--[[ Sandbox: the catalogue of Prolific filters — what `GET /api/v1/filters/` lists, what study
creation, filter sets and `eligibility-count` accept, and how each filter selects a participant
of the pool (cohort.sandbox.pool).

    local catalogue = require "cohort.sandbox.catalogue"
    local ctx = catalogue.context(app.state)          -- groups, studies, submissions of the state
    local errors = catalogue.validate(body.filters, ctx)       -- nil, or {path = {messages}}
    if errors then return util.prolific_error(400, errors) end
    local filters = catalogue.normalize(body.filters)           -- aliases resolved, copies
    local items = catalogue.list(ctx, detailed)                 -- FilterList results, in order
    catalogue.matches(participant, filters[1], ctx)             --> true | false

Filters come in the spec's two shapes (SelectFilter, RangeFilter):
`{filter_id = "handedness", selected_values = {"0", "1"}, weightings = {["0"] = 1, ["1"] = 3}}`
and `{filter_id = "age", selected_range = {lower = 18, upper = 40}}` (a missing or null bound is
open). Several filters all apply (AND); the values of one select filter are alternatives (OR), so
two participant groups in one filter admit the members of either, two filters of one group each
admit the members of both — the spec's own examples.

Each catalogue entry (M.FILTERS, in display order) has the listed fields of the spec
(`filter_id, title, description, question, type, data_type, choices | min, max, category`) and
two of the sandbox's: `attribute`, the participant field it reads, and `kind`:

  choice       a select filter over a one-valued attribute (its choice code, an integer 0..n-1;
               the choice id is that code as a string)
  choices      a select filter over a many-valued attribute (a bit set of choice codes:
               fluent languages); a participant matches when any selected choice is set
  integer      a range filter over an integer attribute (bounds inclusive)
  date         a range filter over a date (the attribute is a day number since 1970-01-01;
               bounds are "YYYY-MM-DD", inclusive)
  group_allow  / group_block   participant groups (ctx.groups; else the pool's memberships)
  study_allow  / study_block   previous studies (the participant's history); the allow-list
               admits those APPROVED on a named study (Prolific: "to add previous participants
               whose response wasn't approved, use a custom allowlist"), the block-list turns away
               anyone with a submission in it, "regardless of their submission status"
  id_allow     / id_block      custom lists of participant ids (a submission id of ctx.submissions
               counts as its participant, as Prolific converts them)

`previous_studies` is the previous-studies block-list (Prolific's filter for its
PreviousStudiesEligibilityRequirement, which "excludes participants from the selected
studies"), `previous_studies_allowlist` the allow-list; `previous_studies_blocklist`, which the
spec's study-creation example uses, is accepted as another name of `previous_studies` (M.ALIASES)
and listed under its canonical id. The spec's own filter-list example titles `previous_studies`
"Previous Studies AllowList": the sandbox follows the requirement's documented meaning instead.

The context `ctx` (all fields optional) is plain data a handler builds from the state, or
catalogue.context(state) builds it:

  groups       {[group_id] = {name = "...", members = {participant ids} | {[id] = true}
                | {{participant_id = id}, ...}}} — the known participant groups (validation
                refuses any other) and their members (matching)
  studies      {[study_id] = name | true} — the known studies (validation refuses any other)
  submissions  {[submission_id] = participant_id} — custom lists may name submissions
  pool         a cohort.sandbox.pool: its memberships count for a group absent from ctx.groups,
               and the studies in its histories are known

Validation answers as Prolific's 400 does: `detail` is an object of field path → messages, the
path written from `field` (default "filters") and the filter's position from 0
(`filters.0.selected_range`). It refuses: a non-list, a non-object item, an unknown filter_id,
a select filter without selected_values or with selected_range (and the reverse), unknown choice
ids, weightings on a range filter or naming values not selected, a bound of the wrong data type
(a date where an integer is due, a fraction, a malformed date), a bound outside the filter's
min..max, a reversed range (lower above upper), unknown participant groups or studies, malformed
participant ids (24 hexadecimal digits) and unknown fields in a filter.
]]
local util = require "cohort.sandbox.util"

local M = {}

local null = util.null

-- Choice lists (the choice id of an entry is its position from 0, as a string). The pool's
-- distributions (cohort.sandbox.pool) are keyed by these labels.
M.COUNTRIES = {
  "United Kingdom", "United States", "Canada", "Australia", "Ireland", "New Zealand",
  "South Africa", "Poland", "Portugal", "Italy", "Spain", "Germany", "France", "Netherlands",
  "Belgium", "Greece", "Hungary", "Czech Republic", "Sweden", "Finland", "Austria",
  "Switzerland", "Mexico", "Chile", "Latvia", "Estonia", "Slovenia", "Israel", "Japan",
  "Romania", "Turkey", "India", "China", "Russia", "Brazil", "Nigeria", "Pakistan",
}

M.LANGUAGES = {
  "English", "Spanish", "Portuguese", "Polish", "Italian", "German", "French", "Dutch", "Greek",
  "Hungarian", "Czech", "Swedish", "Finnish", "Afrikaans", "Zulu", "Latvian", "Estonian",
  "Slovenian", "Hebrew", "Japanese", "Russian", "Arabic", "Mandarin Chinese", "Hindi", "Urdu",
  "Romanian", "Turkish", "Other",
}

M.SEXES = { "Male", "Female" }
M.HANDEDNESS = { "Right-handed", "Left-handed", "Ambidextrous" }
M.STUDENT = { "Yes", "No" }
M.EMPLOYMENT = {
  "Full-Time", "Part-Time", "Due to start a new job within the next month",
  "Unemployed (and job seeking)", "Not in paid work (e.g. homemaker, retired or disabled)",
  "Other",
}

local function choices_of(labels)
  local t = {}
  for i, label in ipairs(labels) do t[tostring(i - 1)] = label end
  return t
end

--- The code (0..n-1) of a label in one of the choice lists; raises on an unknown label.
-- @tparam table labels one of M.COUNTRIES, M.LANGUAGES, ...
-- @tparam string label
-- @treturn integer
function M.code(labels, label)
  for i, l in ipairs(labels) do
    if l == label then return i - 1 end
  end
  error(("catalogue.code(): %q is not a choice of this list"):format(tostring(label)), 2)
end

M.DATE_MIN, M.DATE_MAX = "2014-01-01", "2030-12-31"

M.FILTERS = {
  { filter_id = "age", title = "Age",
    description = "Participants were asked their date of birth. Please specify a current age range between min and max.",
    question = "What is your date of birth?", type = "range", data_type = "integer", min = 18,
    max = 100, category = "Demographics", kind = "integer", attribute = "age" },
  { filter_id = "sex", title = "Sex", description = "Sex assigned at birth.",
    question = "What is your sex, as recorded on legal/official documents?", type = "select",
    data_type = "ChoiceID", choices = choices_of(M.SEXES), category = "Demographics",
    kind = "choice", attribute = "sex", labels = M.SEXES },
  { filter_id = "current-country-of-residence", title = "Current Country of Residence",
    description = "The country a participant lives in.",
    question = "In what country do you currently reside?", type = "select", data_type = "ChoiceID",
    choices = choices_of(M.COUNTRIES), category = "Geography", kind = "choice",
    attribute = "country", labels = M.COUNTRIES },
  { filter_id = "nationality", title = "Nationality", description = "A participant's nationality.",
    question = "What is your nationality?", type = "select", data_type = "ChoiceID",
    choices = choices_of(M.COUNTRIES), category = "Geography", kind = "choice",
    attribute = "nationality", labels = M.COUNTRIES },
  { filter_id = "first-language", title = "First Language",
    description = "The language a participant first learned as a child.",
    question = "What is your first language?", type = "select", data_type = "ChoiceID",
    choices = choices_of(M.LANGUAGES), category = "Languages", kind = "choice",
    attribute = "first_language", labels = M.LANGUAGES },
  { filter_id = "fluent-languages", title = "Fluent Languages",
    description = "Languages a participant is fluent in (any of those selected).",
    question = "Which of the following languages are you fluent in?", type = "select",
    data_type = "ChoiceID", choices = choices_of(M.LANGUAGES), category = "Languages",
    kind = "choices", attribute = "fluent", labels = M.LANGUAGES },
  { filter_id = "approval_rate", title = "Approval Rate",
    description = "The share of a participant's submissions that were approved, in percent.",
    question = "", type = "range", data_type = "integer", min = 0, max = 100,
    category = "Prolific", kind = "integer", attribute = "approval_rate" },
  { filter_id = "approval_numbers", title = "Approval Numbers",
    description = "The number of a participant's submissions that were approved.",
    question = "", type = "range", data_type = "integer", min = 0, max = 10000,
    category = "Prolific", kind = "integer", attribute = "approvals" },
  { filter_id = "joined_between", title = "Joined Between",
    description = "Allow participants who joined between the specified dates to participate in this study.",
    question = "", type = "range", data_type = "date", min = M.DATE_MIN, max = M.DATE_MAX,
    category = "Prolific", kind = "date", attribute = "joined" },
  { filter_id = "handedness", title = "Handedness", description = "Whether a person is left or right-handed.",
    question = "Are you left or right-handed?", type = "select", data_type = "ChoiceID",
    choices = choices_of(M.HANDEDNESS), category = "Other", kind = "choice",
    attribute = "handedness", labels = M.HANDEDNESS },
  { filter_id = "student-status", title = "Student Status",
    description = "Whether a participant is a student.", question = "Are you a student?",
    type = "select", data_type = "ChoiceID", choices = choices_of(M.STUDENT),
    category = "Education", kind = "choice", attribute = "student", labels = M.STUDENT },
  { filter_id = "employment-status", title = "Employment Status",
    description = "A participant's employment status.",
    question = "What is your employment status?", type = "select", data_type = "ChoiceID",
    choices = choices_of(M.EMPLOYMENT), category = "Work", kind = "choice",
    attribute = "employment", labels = M.EMPLOYMENT },
  { filter_id = "participant_group_allowlist", title = "Participant Group AllowList",
    description = "Allow the members of one or more participant groups.", question = "",
    type = "select", data_type = "ParticipantGroupID", category = "Custom", kind = "group_allow" },
  { filter_id = "participant_group_blocklist", title = "Participant Group BlockList",
    description = "Turn away the members of one or more participant groups.", question = "",
    type = "select", data_type = "ParticipantGroupID", category = "Custom", kind = "group_block" },
  { filter_id = "previous_studies_allowlist", title = "Previous Studies AllowList",
    description = "Select one or more studies to allow participants who were approved in them to participate in this study.",
    question = "", type = "select", data_type = "StudyID", category = "Prolific",
    kind = "study_allow" },
  { filter_id = "previous_studies", title = "Previous Studies BlockList",
    description = "Select one or more studies to exclude participants who took part in them, whatever their submission status.",
    question = "", type = "select", data_type = "StudyID", category = "Prolific",
    kind = "study_block" },
  { filter_id = "custom_allowlist", title = "Custom AllowList",
    description = "Select one or more participant ID's to allow participants to complete this study.",
    question = "", type = "select", data_type = "ParticipantID",
    choices = { ["0"] = "Add a list of participant ID's to create an allowlist filter." },
    category = "Custom", kind = "id_allow" },
  { filter_id = "custom_blocklist", title = "Custom BlockList",
    description = "Select one or more participant ID's to prevent participants from completing this study.",
    question = "", type = "select", data_type = "ParticipantID",
    choices = { ["0"] = "Add a list of participant ID's to create a blocklist filter." },
    category = "Custom", kind = "id_block" },
}

--- Other names accepted for a filter id (validated, matched and normalised as the canonical one).
M.ALIASES = { previous_studies_blocklist = "previous_studies" }

M.BY_ID = {}
for i, f in ipairs(M.FILTERS) do
  f.display_order = i
  M.BY_ID[f.filter_id] = f
end

--- The submission statuses that admit a participant through previous_studies_allowlist.
M.ALLOW_STATUSES = { APPROVED = true }

--- The catalogue entry of a filter id (aliases resolved), or nil.
-- @tparam string id
-- @treturn[1] table the entry of M.FILTERS
-- @return[2] nil an unknown id
function M.get(id)
  return M.BY_ID[M.ALIASES[id] or id]
end

-- Dates ------------------------------------------------------------------------------------------

local function days_in_month(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

--- Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
-- @tparam integer y
-- @tparam integer m 1..12
-- @tparam integer d 1..31
-- @treturn integer
function M.days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- The day number of "YYYY-MM-DD" (a real calendar date), or nil.
-- @tparam string s
-- @treturn[1] integer days since 1970-01-01
-- @return[2] nil not such a date
function M.day(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > days_in_month(y, m) then return nil end
  return M.days_from_civil(y, m, d)
end

--- "YYYY-MM-DD" of a day number.
-- @tparam integer n days since 1970-01-01
-- @treturn string
function M.date(n)
  return os.date("!%Y-%m-%d", n * 86400)
end

-- Context ----------------------------------------------------------------------------------------

local function member_set(g)
  local members = type(g) == "table" and (g.members or g) or {}
  local set = {}
  for k, v in pairs(members) do
    if type(v) == "string" then set[v] = true
    elseif type(v) == "table" and type(v.participant_id) == "string" then set[v.participant_id] = true
    elseif v == true and type(k) == "string" then set[k] = true end
  end
  return set
end

--- The members of a group of ctx.groups as a new set {[participant_id] = true}, or nil when
-- the context does not know the group.
-- @tparam table ctx
-- @tparam string gid
-- @treturn[1] table the set
-- @return[2] nil
function M.group_members(ctx, gid)
  local groups = ctx and ctx.groups
  if type(groups) ~= "table" or groups[gid] == nil then return nil end
  return member_set(groups[gid])
end

--- A context built from a sandbox state (the dataset of cohort.sandbox.data): its live
-- participant groups (state.participant_groups), studies and submissions.
-- @tparam table state
-- @tparam[opt] table extra fields copied onto the context (exclude, collection, pool, ...)
-- @treturn table ctx
function M.context(state, extra)
  local ctx = { groups = {}, studies = {}, submissions = {} }
  for _, g in ipairs(state.participant_groups or {}) do
    if not g.is_deleted then ctx.groups[g.id] = { name = g.name, members = g.members or {} } end
  end
  for _, st in ipairs(state.studies or {}) do
    ctx.studies[st.id] = st.internal_name or st.name or st.id
  end
  for _, s in ipairs(state.submissions or {}) do
    if s.id and s.participant_id then ctx.submissions[s.id] = s.participant_id end
  end
  for k, v in pairs(extra or {}) do ctx[k] = v end
  return ctx
end

local function group_known(ctx, gid)
  if type(ctx.groups) == "table" and ctx.groups[gid] ~= nil then return true end
  return ctx.pool ~= nil and ctx.pool:has_group(gid)
end

local function study_known(ctx, sid)
  if type(ctx.studies) == "table" and ctx.studies[sid] then return true end
  return ctx.pool ~= nil and ctx.pool:has_study(sid)
end

-- Listing ----------------------------------------------------------------------------------------

local function dynamic_choices(f, ctx)
  local out = {}
  if f.data_type == "StudyID" then
    for sid, name in pairs(type(ctx.studies) == "table" and ctx.studies or {}) do
      out[sid] = type(name) == "string" and name or sid
    end
  elseif f.data_type == "ParticipantGroupID" then
    for gid, g in pairs(type(ctx.groups) == "table" and ctx.groups or {}) do
      out[gid] = type(g) == "table" and type(g.name) == "string" and g.name or gid
    end
  end
  return out
end

--- One filter in the FilterList answer shape (SelectFilterListResponse /
-- RangeFilterListResponse, or their Detailed forms).
-- @tparam table f an entry of M.FILTERS
-- @tparam[opt] table ctx the choices of the study and group filters come from it
-- @tparam[opt] boolean detailed add category, display order, help texts and tags
-- @treturn table
function M.shape(f, ctx, detailed)
  ctx = ctx or {}
  local o = { filter_id = f.filter_id, title = f.title, description = f.description,
    question = f.question, type = f.type, data_type = f.data_type }
  if f.type == "range" then
    o.min, o.max = f.min, f.max
  else
    local ch = f.choices
    if ch == nil then ch = dynamic_choices(f, ctx) end
    local copy = {}
    for k, v in pairs(ch) do copy[k] = v end
    o.choices = copy -- an empty map encodes as {}
  end
  if detailed then
    o.researcher_help_text, o.participant_help_text = "", ""
    o.category, o.subcategory, o.display_order = f.category or "Other", "", f.display_order
    o.tags = util.array({})
  end
  return o
end

--- The whole catalogue as FilterList results, in display order.
-- @tparam[opt] table ctx
-- @tparam[opt] boolean detailed
-- @treturn table array of shapes
function M.list(ctx, detailed)
  local out = {}
  for i, f in ipairs(M.FILTERS) do out[i] = M.shape(f, ctx, detailed) end
  return out
end

-- Validation -------------------------------------------------------------------------------------

local function is_null(v) return v == nil or v == null end

-- A request's `[]` comes marked as an array (cohort.schema.array), its `{}` as an object.
local ARRAY_MT = getmetatable(util.array())

local function is_array(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil and getmetatable(v) ~= ARRAY_MT then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

local function is_hex24(v)
  return type(v) == "string" and #v == 24 and v:find("^%x+$") ~= nil
end
M.is_hex24 = is_hex24

local function show(v)
  if type(v) == "string" then return ('"%s"'):format(v) end
  if v == null then return "null" end
  return tostring(v)
end

local function bound(f, v)
  -- the comparable value of a bound, or nil and the message for a wrong type
  if f.data_type == "integer" then
    if math.type(v) == "integer" then return v end
    if math.type(v) == "float" and v == math.floor(v) and v == v and math.abs(v) < 2 ^ 53 then
      return math.tointeger(v)
    end
    return nil, "A valid integer is required."
  end
  local d = M.day(v)
  if d then return d end
  return nil, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
end

local SELECT_KEYS = { filter_id = true, selected_values = true, weightings = true }
local RANGE_KEYS = { filter_id = true, selected_range = true }

local function check_select(f, x, at, add, ctx)
  local vals = x.selected_values
  if x.selected_range ~= nil then
    add(at .. ".selected_range", ("%s is a select filter: give selected_values, not selected_range.")
      :format(f.filter_id))
  end
  if is_null(vals) then
    add(at .. ".selected_values", "This field is required.")
    return
  end
  if not is_array(vals) then
    add(at .. ".selected_values", ('Expected a list of items but got type "%s".'):format(type(vals)))
    return
  end
  if #vals == 0 then
    add(at .. ".selected_values", "This list may not be empty.")
    return
  end
  local where = at .. ".selected_values"
  local chosen = {}
  for _, v in ipairs(vals) do
    if type(v) ~= "string" then
      add(where, ("%s is not a valid choice: choice ids are strings."):format(show(v)))
    elseif f.kind == "choice" or f.kind == "choices" then
      if f.choices[v] == nil then add(where, ('"%s" is not a valid choice.'):format(v)) end
    elseif f.kind == "id_allow" or f.kind == "id_block" then
      if not is_hex24(v) then
        add(where, ('"%s" is not a valid participant ID (24 hexadecimal digits).'):format(v))
      end
    elseif f.kind == "group_allow" or f.kind == "group_block" then
      if not group_known(ctx, v) then
        add(where, ('"%s" is not a valid participant group.'):format(v))
      end
    elseif f.kind == "study_allow" or f.kind == "study_block" then
      if not study_known(ctx, v) then add(where, ('"%s" is not a valid study.'):format(v)) end
    end
    if type(v) == "string" then chosen[v] = true end
  end
  local w = x.weightings
  if not is_null(w) then
    local wat = at .. ".weightings"
    if f.kind ~= "choice" and f.kind ~= "choices" then
      add(wat, ("Weightings apply to demographic select filters only, not to %s."):format(f.filter_id))
    elseif type(w) ~= "table" or (next(w) ~= nil and is_array(w)) then
      add(wat, "Expected an object of choice id to weight.")
    else
      local total = 0
      for k, n in pairs(w) do
        if type(k) ~= "string" or not chosen[k] then
          add(wat, ("%s is not one of the selected values."):format(show(k)))
        elseif type(n) ~= "number" or n ~= n or n < 0 or n == math.huge then
          add(wat, ('The weight of "%s" must be a number of 0 or more.'):format(k))
        else
          total = total + n
        end
      end
      if total <= 0 then add(wat, "At least one weight must be above 0.") end
    end
  end
end

local function check_range(f, x, at, add)
  if x.selected_values ~= nil or x.weightings ~= nil then
    add(at .. ".selected_values", ("%s is a range filter: give selected_range, not selected_values%s.")
      :format(f.filter_id, x.weightings ~= nil and " or weightings" or ""))
  end
  local r = x.selected_range
  local where = at .. ".selected_range"
  if is_null(r) then add(where, "This field is required.") return end
  if type(r) ~= "table" or (next(r) ~= nil and is_array(r)) then
    add(where, "Expected an object with lower, upper or both.")
    return
  end
  for k in pairs(r) do
    if k ~= "lower" and k ~= "upper" then add(where .. "." .. tostring(k), "Unknown field.") end
  end
  if is_null(r.lower) and is_null(r.upper) then
    add(where, "Give lower, upper or both.")
    return
  end
  local lo_min, hi_max = bound(f, f.min), bound(f, f.max)
  local vals = {}
  for _, side in ipairs { "lower", "upper" } do
    local v = r[side]
    if not is_null(v) then
      local n, why = bound(f, v)
      if not n then
        add(where .. "." .. side, why)
      elseif n < lo_min then
        add(where .. "." .. side, ("Ensure this value is greater than or equal to %s."):format(f.min))
      elseif n > hi_max then
        add(where .. "." .. side, ("Ensure this value is less than or equal to %s."):format(f.max))
      else
        vals[side] = n
      end
    end
  end
  if vals.lower and vals.upper and vals.lower > vals.upper then
    add(where, ("lower (%s) must not be greater than upper (%s)."):format(show(r.lower), show(r.upper)))
  end
end

--- Checks a list of filters as Prolific does on study creation and update, filter sets and
-- eligibility-count.
-- @tparam any filters the decoded `filters` field (nil or null pass)
-- @tparam[opt] table ctx see the top of this module (groups, studies, pool)
-- @tparam[opt] string field the name of the field in messages (default "filters")
-- @treturn[1] nil every filter is valid
-- @treturn[2] table {[field path] = {messages}}, for util.prolific_error(400, ...)
function M.validate(filters, ctx, field)
  ctx = ctx or {}
  field = field or "filters"
  local errors
  local function add(path, msg)
    errors = errors or {}
    local list = errors[path]
    if not list then list = {}; errors[path] = list end
    list[#list + 1] = msg
  end
  if is_null(filters) then return nil end
  if not is_array(filters) then
    add(field, ('Expected a list of items but got type "%s".'):format(type(filters)))
    return errors
  end
  for i, x in ipairs(filters) do
    local at = ("%s.%d"):format(field, i - 1)
    if type(x) ~= "table" or (next(x) ~= nil and is_array(x)) then
      add(at, "Expected a filter: an object with filter_id and selected_values or selected_range.")
    elseif type(x.filter_id) ~= "string" then
      add(at .. ".filter_id", is_null(x.filter_id) and "This field is required."
        or "A valid string is required.")
    else
      local f = M.get(x.filter_id)
      if not f then
        add(at .. ".filter_id", ('"%s" is not a valid filter.'):format(x.filter_id))
      else
        for k in pairs(x) do
          if not SELECT_KEYS[k] and not RANGE_KEYS[k] then
            add(at .. "." .. tostring(k), "Unknown field.")
          end
        end
        if f.type == "select" then check_select(f, x, at, add, ctx) else check_range(f, x, at, add) end
      end
    end
  end
  return errors
end

--- Filters in their stored form: aliases resolved to the canonical id, select filters as
-- {filter_id, selected_values[, weightings]}, range filters as {filter_id, selected_range =
-- {lower, upper}} with null bounds left out. Call it on validated filters.
-- @tparam table|nil filters
-- @treturn table a new array
function M.normalize(filters)
  local out = {}
  if is_null(filters) then return out end
  for i, x in ipairs(filters) do
    local f = M.get(x.filter_id)
    local id = f and f.filter_id or x.filter_id
    if f and f.type == "range" then
      local r = x.selected_range or {}
      out[i] = { filter_id = id, selected_range = {
        lower = not is_null(r.lower) and r.lower or nil,
        upper = not is_null(r.upper) and r.upper or nil } }
    else
      local vals = {}
      for j, v in ipairs(x.selected_values or {}) do vals[j] = v end
      local w
      if not is_null(x.weightings) then
        w = {}
        for k, n in pairs(x.weightings) do w[k] = n end
      end
      out[i] = { filter_id = id, selected_values = vals, weightings = w }
    end
  end
  return out
end

-- Matching ---------------------------------------------------------------------------------------

--- The participant ids a custom list names, as a set: each value, and the participant of a
-- value that is a submission id of ctx.submissions.
-- @tparam table filter a custom_allowlist or custom_blocklist filter
-- @tparam[opt] table ctx
-- @treturn table {[participant_id] = true}
function M.id_set(filter, ctx)
  local subs = ctx and type(ctx.submissions) == "table" and ctx.submissions or {}
  local set = {}
  for _, v in ipairs(filter.selected_values or {}) do
    set[v] = true
    local pid = subs[v]
    if pid then set[pid] = true end
  end
  return set
end

--- A predicate for one (valid) filter: `pred(participant) → boolean`. The participant is a
-- record of cohort.sandbox.pool (fields named by the entries' `attribute`, plus id, history
-- {[study_id] = status} and groups {[group_id] = true}).
-- @tparam table filter
-- @tparam[opt] table ctx
-- @treturn function
function M.predicate(filter, ctx)
  ctx = ctx or {}
  local f = M.get(filter.filter_id)
  if not f then
    error(("catalogue.predicate(): %q is not a filter of the catalogue"):format(tostring(filter.filter_id)), 2)
  end
  local attr, kind = f.attribute, f.kind
  if kind == "choice" then
    local want = {}
    for _, v in ipairs(filter.selected_values) do want[tonumber(v)] = true end
    return function(p) return want[p[attr]] == true end
  elseif kind == "choices" then
    local mask = 0
    for _, v in ipairs(filter.selected_values) do mask = mask | (1 << tonumber(v)) end
    return function(p) return (p[attr] & mask) ~= 0 end
  elseif kind == "integer" or kind == "date" then
    local r = filter.selected_range
    local lo = not is_null(r.lower) and bound(f, r.lower) or math.mininteger
    local hi = not is_null(r.upper) and bound(f, r.upper) or math.maxinteger
    return function(p) local v = p[attr]; return v >= lo and v <= hi end
  elseif kind == "group_allow" or kind == "group_block" then
    local sets, gids = {}, filter.selected_values
    for i, gid in ipairs(gids) do sets[i] = M.group_members(ctx, gid) or false end
    local function member(p)
      for i, gid in ipairs(gids) do
        local s = sets[i]
        if s then
          if s[p.id] then return true end
        elseif p.groups and p.groups[gid] then
          return true
        end
      end
      return false
    end
    if kind == "group_allow" then return member end
    return function(p) return not member(p) end
  elseif kind == "study_allow" then
    local sids = filter.selected_values
    return function(p)
      local h = p.history
      if not h then return false end
      for _, sid in ipairs(sids) do
        if M.ALLOW_STATUSES[h[sid]] then return true end
      end
      return false
    end
  elseif kind == "study_block" then
    local sids = filter.selected_values
    return function(p)
      local h = p.history
      if not h then return true end
      for _, sid in ipairs(sids) do
        if h[sid] ~= nil then return false end
      end
      return true
    end
  elseif kind == "id_allow" then
    local set = M.id_set(filter, ctx)
    return function(p) return set[p.id] == true end
  else -- id_block
    local set = M.id_set(filter, ctx)
    return function(p) return not set[p.id] end
  end
end

--- Whether a participant passes one (valid) filter.
-- @tparam table participant a pool record
-- @tparam table filter
-- @tparam[opt] table ctx
-- @treturn boolean
function M.matches(participant, filter, ctx)
  return M.predicate(filter, ctx)(participant)
end

return M
