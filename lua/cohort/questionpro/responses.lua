--- QuestionPro responses: rows, the filter's validator, the timestamp parser and the
-- `Response` class.
--
--     for resp in q.responses:each(7654321, { per_page = 500 }) do
--       local label, code, text = resp:answer("Q1")    --> "Always", 1, nil
--       print(resp.custom.custom1, resp.time, resp.timestamp)
--     end
--
-- A response keeps the server's JSON fields as they came (`responseID`, `timestamp`,
-- `customVariables`, `responseSet`, …). A few derived values are computed on access and never
-- stored in the object (so the object can be sent back unchanged):
--
-- * `resp.custom` — `customVariables` without the nulls (`custom1`..`custom5`, and any named
--   custom variable the account defines);
-- * `resp.time` — the timestamp as a UTC Unix time (integer seconds), or nil when it cannot be
--   known (see `time_error`); `resp.time_utc` — the same as `"2020-10-05T21:51:51Z"`;
-- * `resp.time_error` — why `time` is nil (an ambiguous or unknown zone abbreviation, or a
--   timestamp that does not parse); nil otherwise.
--
-- QuestionPro writes times as `"05 Oct, 2020 02:51:51 PM PDT"`: a local time and a zone
-- abbreviation. Abbreviations that name one offset are mapped (`M.ZONES`). Those that name
-- several (`M.AMBIGUOUS_ZONES`: IST is India, Ireland or Israel; CST is US Central, China or
-- Cuba; …) are reported, never guessed: `resp.time` is nil and `resp.time_error` says which
-- meanings are possible. Decide for your account with the client option
-- `time_zones = { IST = "+05:30", CST = "-06:00" }`, which also adds abbreviations cohort does
-- not know. The original string stays in `resp.timestamp`.
-- @module cohort.questionpro.responses
local compat = require "cohort.compat"
local util = require "cohort.util"

local M = {}

-- ------------------------------------------------------------------ time zones

--- Zone abbreviations with a single meaning → offset from UTC in minutes.
M.ZONES = {
  UTC = 0, GMT = 0, UT = 0, Z = 0, WET = 0, WEST = 60,
  CET = 60, CEST = 120, MET = 60, MEST = 120, EET = 120, EEST = 180, MSK = 180,
  PST = -480, PDT = -420, MST = -420, MDT = -360, EST = -300, EDT = -240,
  AKST = -540, AKDT = -480, HST = -600, NST = -210, NDT = -150,
  BRT = -180, ART = -180, CLT = -240, COT = -300, PET = -300,
  PKT = 300, NPT = 345, ICT = 420, WIB = 420, SGT = 480, HKT = 480, PHT = 480, AWST = 480,
  JST = 540, KST = 540, ACST = 570, ACDT = 630, AEST = 600, AEDT = 660,
  NZST = 720, NZDT = 780, SAST = 120, CAT = 120, EAT = 180, WAT = 60,
}

-- Zone abbreviations with several meanings: reported, not guessed. Abbreviation → array of
-- `{ name, offset in minutes }`. (A plain comment: LDoc cannot document a table of arrays.)
M.AMBIGUOUS_ZONES = {
  IST = { { "India", 330 }, { "Ireland", 60 }, { "Israel", 120 } },
  CST = { { "US Central", -360 }, { "China", 480 }, { "Cuba", -300 } },
  CDT = { { "US Central", -300 }, { "Cuba", -240 } },
  BST = { { "British Summer", 60 }, { "Bangladesh", 360 } },
  AST = { { "Atlantic", -240 }, { "Arabia", 180 } },
  ADT = { { "Atlantic", -180 }, { "Arabia", 240 } },
  GST = { { "Gulf", 240 }, { "South Georgia", -120 } },
  SST = { { "Samoa", -660 }, { "Singapore", 480 } },
  ECT = { { "Ecuador", -300 }, { "Eastern Caribbean", -240 } },
}

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8,
  sep = 9, oct = 10, nov = 11, dec = 12 }

local function fmt_offset(minutes)
  local sign = minutes < 0 and "-" or "+"
  minutes = math.abs(minutes)
  return ("%s%02d:%02d"):format(sign, compat.idiv(minutes, 60), minutes % 60)
end
M.format_offset = fmt_offset

--- Parse a user's zone override: `"+05:30"`, `"-0700"`, `"+5"`, or a number of hours (`5.5`).
-- @return minutes, or nil
function M.parse_offset(v)
  if type(v) == "number" then
    local m = v * 60
    if m ~= math.floor(m) or math.abs(m) > 18 * 60 then return nil end
    return compat.tointeger(m)
  end
  if type(v) ~= "string" then return nil end
  local sign, h, m = v:match("^([+-])(%d%d?):?(%d%d)$")
  if not sign then
    sign, h = v:match("^([+-])(%d%d?)$")
    m = "0"
  end
  if not sign then return nil end
  h, m = tonumber(h), tonumber(m)
  if h > 18 or m > 59 then return nil end
  local total = h * 60 + m
  return sign == "-" and -total or total
end

--- Check the `time_zones` option of the client: abbreviation → offset.
function M.check_zones(label, zones)
  if zones == nil then return {} end
  if type(zones) ~= "table" then
    util.misuse(label, "time_zones must be a table such as { IST = \"+05:30\" }")
  end
  local out = {}
  for k, v in pairs(zones) do
    if type(k) ~= "string" or not k:match("^%a+$") then
      util.misuse(label, "time_zones: %s is not a zone abbreviation", tostring(k))
    end
    local m = M.parse_offset(v)
    if not m then
      util.misuse(label, "time_zones.%s must be an offset such as \"+05:30\" or a number of "
        .. "hours (got %s)", k, tostring(v))
    end
    out[k:upper()] = m
  end
  return out
end

-- Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm; no dependence on the
-- local time zone, unlike os.time).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = compat.idiv(y >= 0 and y or y - 399, 400)
  local yoe = y - era * 400
  local doy = compat.idiv(153 * ((m + 9) % 12) + 2, 5) + d - 1
  local doe = yoe * 365 + compat.idiv(yoe, 4) - compat.idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

--- Parse a QuestionPro timestamp such as `"05 Oct, 2020 02:51:51 PM PDT"`.
-- The zone may be an abbreviation or a numeric offset (`+05:30`, `GMT+05:30`).
-- @tparam string s the timestamp
-- @tparam[opt] table zones abbreviation → offset in minutes (overrides and additions, as made
--   by `check_zones`)
-- @treturn[1] table `{ epoch = <UTC Unix seconds>, utc = "2020-10-05T21:51:51Z",
--   offset = <minutes east of UTC>, zone = "PDT", original = s }`
-- @return[2] nil
-- @treturn[2] string why it cannot be known (ambiguous or unknown zone, unparsable text)
function M.parse_timestamp(s, zones)
  if type(s) ~= "string" then return nil, "no timestamp" end
  local d, mon, y, h, mi, sec, ampm, zone = s:match(
    "^%s*(%d%d?)%s+(%a+),?%s+(%d%d%d%d)%s+(%d%d?):(%d%d):(%d%d)%s*([AaPp][Mm])%s*(%S*)%s*$")
  if not d then
    -- the same without AM/PM (24-hour clock)
    d, mon, y, h, mi, sec, zone = s:match(
      "^%s*(%d%d?)%s+(%a+),?%s+(%d%d%d%d)%s+(%d%d?):(%d%d):(%d%d)%s*(%S*)%s*$")
  end
  if not d then return nil, ("timestamp %q is not of the form \"05 Oct, 2020 02:51:51 PM PDT\""):format(s) end
  local month = MONTHS[mon:sub(1, 3):lower()]
  d, y, h, mi, sec = tonumber(d), tonumber(y), tonumber(h), tonumber(mi), tonumber(sec)
  if not month or d < 1 or d > 31 or mi > 59 or sec > 60 then
    return nil, ("timestamp %q has an invalid date or time"):format(s)
  end
  if ampm then
    if h < 1 or h > 12 then return nil, ("timestamp %q has an invalid hour"):format(s) end
    local pm = ampm:upper() == "PM"
    if h == 12 then h = pm and 12 or 0 elseif pm then h = h + 12 end
  elseif h > 23 then
    return nil, ("timestamp %q has an invalid hour"):format(s)
  end
  local offset
  local upper = zone:upper()
  if upper == "" then
    return nil, ("timestamp %q has no time zone"):format(s)
  elseif zones and zones[upper] then
    offset = zones[upper]
  elseif M.ZONES[upper] then
    offset = M.ZONES[upper]
  elseif M.AMBIGUOUS_ZONES[upper] then
    local names = {}
    for _, c in ipairs(M.AMBIGUOUS_ZONES[upper]) do
      names[#names + 1] = c[1] .. " " .. fmt_offset(c[2])
    end
    return nil, ("ambiguous time zone %s in %q (%s); decide with "
      .. "cohort.questionpro{ time_zones = { %s = \"%s\" } }"):format(upper, s,
      table.concat(names, ", "), upper, fmt_offset(M.AMBIGUOUS_ZONES[upper][1][2]))
  else
    local num = upper:match("^GMT([+-].+)$") or upper:match("^UTC([+-].+)$") or upper
    offset = M.parse_offset(num)
    if not offset then
      return nil, ("unknown time zone %s in %q; name it with "
        .. "cohort.questionpro{ time_zones = { %s = \"+HH:MM\" } }"):format(zone, s, upper)
    end
  end
  local local_secs = days_from_civil(y, month, d) * 86400 + h * 3600 + mi * 60 + sec
  local epoch = local_secs - offset * 60
  return {
    epoch = epoch, offset = offset, zone = zone, original = s,
    utc = os.date("!%Y-%m-%dT%H:%M:%SZ", epoch),
  }
end

-- ------------------------------------------------------------------ the Response class

local function is_null(v) return v == nil or type(v) == "userdata" end

local function blank(v)
  if is_null(v) or v == "" then return nil end
  return v
end

-- The question of a response matching `q` (an id, a code, or a Question object).
local function find_question(resp, q)
  local label = "response:answer()"
  local id, code
  if type(q) == "table" then
    id = q.questionID or q.id
    code = q.code or q.questionCode
  elseif compat.math_type(q) == "integer" or (type(q) == "string" and q:match("^%d+$")) then
    id = q
  elseif type(q) == "string" and q ~= "" then
    code = q
  elseif compat.math_type(q) == "float" and q == math.floor(q) then
    id = compat.tointeger(q)
  end
  if id == nil and code == nil then
    util.misuse(label, "question must be a question id (e.g. 12345678), a question code "
      .. "(e.g. \"Q1\") or a Question (got %s)", type(q))
  end
  for _, item in ipairs(type(resp.responseSet) == "table" and resp.responseSet or {}) do
    if type(item) == "table" then
      if id ~= nil and tostring(item.questionID) == tostring(id) then return item end
      if code ~= nil and type(item.questionCode) == "string"
          and item.questionCode:lower() == tostring(code):lower() then return item end
    end
  end
  return nil
end

local function answer_of(av)
  local v = type(av.value) == "table" and av.value or {}
  local scale = blank(v.scale)
  return {
    answer_id = av.answerID,
    label = blank(av.answerText),
    code = scale and (tonumber(scale) or scale) or nil,
    text = blank(v.text),
    other = blank(v.other),
    weight = blank(v.weight),
  }
end

--- Methods of a Response (each takes the client first; see `client:define_class`).
M.methods = {}

--- The answer to one question.
-- @tparam Client client
-- @tparam table resp the Response
-- @param q a question id (integer or digit string), a question code (`"Q1"`, `"Q2_4"`;
--   case-insensitive), or a Question object
-- @treturn[1] string|nil label: the choice's `answerText` (`"Always"`, `"EMAIL"`)
-- @treturn[1] number|string|nil code: the choice's numeric code (`value.scale`, as a number
--   when it is one)
-- @treturn[1] string|nil text: the free text typed (`value.text`)
-- @return[2] nil when the response has no answer to that question
function M.methods.answer(client, resp, q)
  local item = find_question(resp, q)
  local av = item and type(item.answerValues) == "table" and item.answerValues[1]
  if type(av) ~= "table" then return nil end
  local a = answer_of(av)
  return a.label, a.code, a.text
end

--- Every answer value to one question (several for a multiple-select question).
-- @tparam Client client
-- @tparam table resp the Response
-- @param q as for `answer`
-- @treturn table array of `{ answer_id, label, code, text, other, weight }` (empty when the
--   question was not answered)
function M.methods.answers(client, resp, q)
  local item = find_question(resp, q)
  local out = {}
  for _, av in ipairs(item and type(item.answerValues) == "table" and item.answerValues or {}) do
    if type(av) == "table" then out[#out + 1] = answer_of(av) end
  end
  return out
end

--- The parsed timestamp.
-- @treturn[1] table `{ epoch, utc, offset, zone, original }` (see `parse_timestamp`)
-- @return[2] nil
-- @treturn[2] string why the time cannot be known (e.g. an ambiguous zone abbreviation)
function M.methods.time_info(client, resp)
  return M.parse_timestamp(rawget(resp, "timestamp"), client.time_zones)
end

--- Derived values computed on access (never stored): name → function(client, resp).
M.getters = {}

--- `resp.custom`: `customVariables` without the nulls.
-- @treturn table name → value (`custom1`..`custom5`, and any named custom variable)
function M.getters.custom(_, resp)
  local out = {}
  local cv = rawget(resp, "customVariables")
  if type(cv) == "table" then
    for k, v in pairs(cv) do
      if not is_null(v) then out[k] = v end
    end
  end
  return out
end

--- `resp.time`: the timestamp as a UTC Unix time.
-- @treturn integer|nil seconds; nil when the zone is ambiguous or unknown (see `time_error`)
function M.getters.time(client, resp)
  local t = M.parse_timestamp(rawget(resp, "timestamp"), client.time_zones)
  return t and t.epoch or nil
end

--- `resp.time_utc`: the timestamp in UTC as ISO 8601.
-- @treturn string|nil `"2020-10-05T21:51:51Z"`; nil when `time` is nil
function M.getters.time_utc(client, resp)
  local t = M.parse_timestamp(rawget(resp, "timestamp"), client.time_zones)
  return t and t.utc or nil
end

--- `resp.time_error`: why `time` is nil.
-- @treturn string|nil the reason (an ambiguous or unknown zone, an unparsable timestamp)
function M.getters.time_error(client, resp)
  local t, why = M.parse_timestamp(rawget(resp, "timestamp"), client.time_zones)
  if t then return nil end
  return why
end

--- `Response 90000001 Completed 2024-05-01T10:05:00Z (custom1 60bf9a2c…)`: the time in UTC
-- when it can be known (by the client's `time_zones`), else as QuestionPro wrote it.
-- @tparam table resp
-- @tparam[opt] Client client the client it came from
function M.tostring(resp, client)
  local t = M.parse_timestamp(rawget(resp, "timestamp"), client and client.time_zones)
  local cv = rawget(resp, "customVariables")
  local c1 = type(cv) == "table" and not is_null(cv.custom1) and cv.custom1 or nil
  local s = ("Response %s %s %s"):format(tostring(rawget(resp, "responseID")),
    tostring(rawget(resp, "responseStatus")), t and t.utc or tostring(rawget(resp, "timestamp")))
  if c1 then s = s .. (" (custom1 %s)"):format(util.short_id(tostring(c1))) end
  return s
end

-- ------------------------------------------------------------------ filter

--- `result_mode` names → the API's codes.
M.RESULT_MODES = { all = 0, started = 1, completed = 2, terminated = 3 }

local function check_date(ctx, field, v)
  if type(v) == "number" then
    return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(v))
  end
  if type(v) == "string" and (v:match("^%d%d%d%d%-%d%d%-%d%d$")
      or v:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d:%d%d%.?%d*Z?$")
      or v:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d:%d%d%.?%d*[+-]%d%d:?%d%d$")) then
    return v
  end
  ctx.misuse("%s must be an ISO 8601 date or date-time (\"2024-05-01\", "
    .. "\"2024-05-01T10:00:00Z\") or a Unix time (got %s)", ctx.name(field), util.show(v))
end

-- The filter's values as the API takes them: dates (ISO 8601 strings or Unix times),
-- `result_mode` by name or code, custom variables as strings.
local function check_filter(args, ctx)
  for _, k in ipairs { "startDate", "endDate" } do
    if args[k] ~= nil then args[k] = check_date(ctx, k, args[k]) end
  end
  local mode = args.resultMode
  if mode ~= nil then
    local code = M.RESULT_MODES[mode]
    if code == nil and compat.math_type(mode) == "integer" then code = mode end
    args.resultMode = code ~= nil and tostring(code) or mode
  end
  for i = 1, 5 do
    local k = "custom" .. i
    if type(args[k]) == "number" then args[k] = tostring(args[k]) end
  end
  if args.timeZone == "" then ctx.misuse("%s must be a zone name such as \"UTC\"", ctx.name("timeZone")) end
  return args
end

local PAGED = { per_page = "perPage" }

--- Rows (see `cohort.resource`; the operations are in `cohort.schema.questionpro`).
M.rows = {
  { op = "GetResponses", resource = "responses", name = "list", class = "Response",
    aliases = PAGED,
    verbs = {
      responses = { on = "Survey", rest = true },
      each_response = { on = "Survey", rest = true, mode = "each" },
      all_responses = { on = "Survey", rest = true, mode = "all" },
    } },
  { op = "FilterResponses", resource = "responses", name = "filter", class = "Response",
    idempotent = true, prepare = check_filter,
    aliases = { per_page = "perPage", start_date = "startDate", end_date = "endDate",
      time_zone = "timeZone", result_mode = "resultMode" },
    verbs = { filter = { on = "Survey", rest = true, mode = "all" } },
    note = "`result_mode`: all, started, completed, terminated (or 0..3); dates as ISO 8601 or Unix times" },
  { op = "GetResponse", resource = "responses", name = "get", class = "Response",
    verbs = { refresh = {}, response = { on = "Survey", rest = true } } },
  { op = "CreateResponse", resource = "responses", name = "create", class = "Response",
    json_text = true, verbs = { add_response = { on = "Survey", rest = true } },
    note = "at least `responseSet`; a JSON text is taken too" },
  { op = "DeleteResponse", resource = "responses", name = "delete",
    returns = function() return true end, returns_text = "true",
    verbs = { delete = { on = "Response" } } },
}

M.classes = {
  Response = { var = "response", key = "responseID", path_count = 2,
    path_ids = function(r) return rawget(r, "surveyID"), rawget(r, "responseID") end,
    methods = M.methods, getters = M.getters, tostring = M.tostring },
}

return M
