-- QuestionPro v2 API emulation: a table of routes under /a/api/v2/.
-- Rows are { METHOD, "path/{param}", handler(ctx, params) } returning status, headers, body.
-- Authentication (api-key header, or the retired ?apiKey= query) is checked by the server
-- before these run; then, in order: an HTML page when one was asked for through the control
-- API (POST /__sandbox/questionpro/html), the per-key call limit (429/1013; 300 calls a
-- minute unless --qp-rate-limit N or POST /__sandbox/questionpro/rate-limit says otherwise),
-- and the routes.
--
-- State lives in ctx.app.state.questionpro, made from cohort.sandbox.questionpro_data when
-- absent (so POST /__sandbox/reset restores it). Error bodies follow seed 001:
-- {"response":{"error":{"docs","name","httpStatusCode","id","message","resourceUrl"}}} with
-- 400/1001 (body not JSON), 400/1002 (body of the wrong schema), 400/1003 (bad URL or filter
-- parameters), 403/1013 (another user's survey), 404/1040 (no such thing), 429/1013 (limit).
--
-- Lists: {"response": [...], "pagination": {"perPage", "totalItems", "currentPage",
-- "totalPages", "links": {"self", "prev", "next", "first", "last"}}} over page (from 1) and
-- perPage (default 100, at most 1000); a page past the last answers an empty list.
local util = require "cohort.sandbox.util"
local qdata = require "cohort.sandbox.questionpro_data"

local M = {}

M.DEFAULT_RATE_LIMIT = 300
M.DEFAULT_RATE_WINDOW = 60
M.DEFAULT_PER_PAGE = 100
M.MAX_PER_PAGE = 1000
M.DOCS = "www.questionpro.com/api/error-codes.html"

local null = util.null

local NAMES = { [400] = "BAD_REQUEST", [401] = "UNAUTHORIZED", [403] = "FORBIDDEN",
  [404] = "NOT_FOUND", [405] = "METHOD_NOT_ALLOWED", [429] = "TOO_MANY_REQUESTS",
  [500] = "INTERNAL_SERVER_ERROR" }

local MESSAGES = {
  [1000] = "Invalid URL parameters",
  [1001] = "The request body is not valid JSON",
  [1002] = "The request body does not match the expected schema",
  [1003] = "Invalid URL parameters",
  [1013] = "The user does not have permission to access the resource",
  [1040] = "The resource that you're trying to access doesn't exist",
}

--- QuestionPro's error envelope as in seed 001 (the id as a string).
function M.error(ctx, status, id, detail, extra_headers)
  local message = MESSAGES[id] or util.title(status)
  if status == 429 then message = "API call limit exceeded" end
  if detail then message = message .. ": " .. detail end
  return util.json(status, { response = { error = {
    docs = M.DOCS,
    name = NAMES[status] or util.title(status):upper():gsub(" ", "_"),
    httpStatusCode = status,
    id = tostring(id),
    message = message,
    resourceUrl = ctx.full_url,
  } } }, extra_headers)
end

--- The QuestionPro state of the application, made on first use.
function M.state(app)
  local st = app.state.questionpro
  if type(st) ~= "table" then
    st = qdata.default()
    app.state.questionpro = st
  end
  st.responses = st.responses or {}
  st.surveys = st.surveys or {}
  st.users = st.users or {}
  st.user_id = st.user_id or qdata.USER_ID
  st.next_response_id = st.next_response_id or 90001000
  return st
end

--- The call limit in force: limit (0 = none) and window in seconds.
function M.rate_limit(app)
  local st = M.state(app)
  return st.rate_limit or app.qp_rate_limit or M.DEFAULT_RATE_LIMIT,
    st.rate_window or M.DEFAULT_RATE_WINDOW
end

local function now(ctx) return ctx.req.time or os.time() end

-- Counts the call; the 429 answer when over the limit. The sandbox knows one key, so the
-- calls of that key are one list of times.
local function rate_check(ctx, st)
  local limit, window = M.rate_limit(ctx.app)
  if limit <= 0 then return nil end
  local t = now(ctx)
  local calls, kept = st.calls or {}, {}
  for _, c in ipairs(calls) do
    if c > t - window then kept[#kept + 1] = c end
  end
  st.calls = kept
  if #kept >= limit then
    local wait = math.max(1, math.ceil(kept[1] + window - t))
    return { M.error(ctx, 429, 1013, nil, { ["Retry-After"] = tostring(wait) }) }
  end
  kept[#kept + 1] = t
  return nil
end

local function int(v)
  local n = tonumber(v)
  if n and n == math.floor(n) then return math.tointeger(n) end
end

local function public(r)
  local out = {}
  for k, v in pairs(r) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then out[k] = v end
  end
  return out
end

local function find_survey(st, sid)
  for _, s in ipairs(st.surveys) do
    if tostring(s.surveyID) == sid then return s end
  end
end

local function survey_out(st, s)
  local out = {}
  for k, v in pairs(s) do
    if k ~= "questions" and k:sub(1, 1) ~= "_" then out[k] = v end
  end
  local list = st.responses[tostring(s.surveyID)] or {}
  local completed = 0
  for _, r in ipairs(list) do
    if r.responseStatus == "Completed" then completed = completed + 1 end
  end
  out.numberOfQuestions = #(s.questions or {})
  out.totalResponses = #list
  out.completedResponses = completed
  return out
end

local function question_out(q)
  local out = public(q)
  local answers = {}
  for i, a in ipairs(q.answers or {}) do answers[i] = public(a) end
  out.answers = util.array(answers)
  return out
end

-- The survey of the path, or an error answer: 400/1003 for an id that is not a number,
-- 404/1040 for none, 403/1013 for another user's.
local function survey_of(ctx, st, sid)
  if not sid:match("^%d+$") then
    return nil, { M.error(ctx, 400, 1003, "survey id must be a number") }
  end
  local s = find_survey(st, sid)
  if not s then return nil, { M.error(ctx, 404, 1040) } end
  if tostring(s.ownerID) ~= tostring(st.user_id) then
    return nil, { M.error(ctx, 403, 1013) }
  end
  return s
end

--- One page of `items` in QuestionPro's list envelope.
function M.paginate(ctx, items)
  local q = ctx.query
  local per, page = M.DEFAULT_PER_PAGE, 1
  if q.perPage ~= nil then
    per = int(q.perPage)
    if not per or per < 1 or per > M.MAX_PER_PAGE then
      return M.error(ctx, 400, 1003, ("perPage must be an integer from 1 to %d"):format(M.MAX_PER_PAGE))
    end
  end
  if q.page ~= nil then
    page = int(q.page)
    if not page or page < 1 then
      return M.error(ctx, 400, 1003, "page must be an integer from 1")
    end
  end
  local n = #items
  local total = math.max(1, (n + per - 1) // per)
  local slice = {}
  for i = (page - 1) * per + 1, math.min(page * per, n) do slice[#slice + 1] = items[i] end
  local function link(p)
    if p < 1 or p > total then return null end
    local pl = {}
    for _, kv in ipairs(ctx.qlist) do
      if kv[1] ~= "page" and kv[1] ~= "perPage" and kv[1] ~= "apiKey" and kv[1] ~= "delay" then
        pl[#pl + 1] = kv
      end
    end
    pl[#pl + 1] = { "page", tostring(p) }
    pl[#pl + 1] = { "perPage", tostring(per) }
    return ctx.url(ctx.path, pl)
  end
  return util.json(200, {
    response = util.array(slice),
    pagination = {
      perPage = per, totalItems = n, currentPage = page, totalPages = total,
      links = { self = link(page), prev = link(page - 1), next = link(page + 1),
        first = link(1), last = link(total) },
    },
  })
end

local function unpack_err(e) return table.unpack(e) end

local function list_surveys(ctx, p)
  local st = M.state(ctx.app)
  local uid = p.uid
  if not uid:match("^%d+$") then return M.error(ctx, 400, 1003, "user id must be a number") end
  local known = false
  for _, u in ipairs(st.users) do
    if tostring(u.userID) == uid then known = true end
  end
  if not known and uid ~= tostring(st.user_id) then return M.error(ctx, 404, 1040) end
  if uid ~= tostring(st.user_id) then return M.error(ctx, 403, 1013) end
  local out = {}
  for _, s in ipairs(st.surveys) do
    if tostring(s.ownerID) == uid then out[#out + 1] = survey_out(st, s) end
  end
  return M.paginate(ctx, out)
end

local function get_survey(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  return util.json(200, { response = survey_out(st, s) })
end

local function get_questions(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local out = {}
  for i, q in ipairs(s.questions or {}) do out[i] = question_out(q) end
  return M.paginate(ctx, out)
end

local function list_responses(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local out = {}
  for i, r in ipairs(st.responses[p.sid] or {}) do out[i] = public(r) end
  return M.paginate(ctx, out)
end

local function find_response(st, sid, rid)
  for i, r in ipairs(st.responses[sid] or {}) do
    if tostring(r.responseID) == rid then return r, i end
  end
end

local function get_response(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local r = find_response(st, p.sid, p.rid)
  if not r then return M.error(ctx, 404, 1040) end
  return util.json(200, { response = public(r) })
end

local function delete_response(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local r, i = find_response(st, p.sid, p.rid)
  if not r then return M.error(ctx, 404, 1040) end
  table.remove(st.responses[p.sid], i)
  return util.json(200, { response = { success = true, responseID = r.responseID,
    message = "Response deleted successfully" } })
end

-- The JSON object of the body, or the 400/1001 answer.
local function body_object(ctx)
  local v = util.decode(ctx.req.body or "")
  if type(v) ~= "table" then return nil, { M.error(ctx, 400, 1001) } end
  if #v > 0 then return nil, { M.error(ctx, 400, 1002, "the body must be a JSON object") } end
  return v
end

local function timestamps()
  local ok, mod = pcall(require, "cohort.questionpro.responses")
  if ok then return mod end
end

local function is_int(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v)) end

local OPTIONAL_TYPES = {
  ipAddress = "string", timestamp = "string", location = "table", duplicate = "boolean",
  timeTaken = "number", responseStatus = "string", externalReference = "string",
  customVariables = "table", language = "string", currentInset = "string",
  operatingSystem = "string", osDeviceType = "string", browser = "string",
  responseID = "number", surveyID = "number", surveyName = "string",
}
local STATUSES = { Completed = true, Started = true, Terminated = true }

-- Checks a create body against the survey; returns the stored response or an error message.
local function build_response(st, s, b)
  for k, v in pairs(b) do
    if k ~= "responseSet" then
      local want = OPTIONAL_TYPES[k]
      if not want then return nil, ("unknown field %s"):format(tostring(k)) end
      if v ~= null and type(v) ~= want then
        return nil, ("%s must be a %s"):format(k, want == "table" and "JSON object" or want)
      end
    end
  end
  if b.responseStatus ~= nil and not STATUSES[b.responseStatus] then
    return nil, "responseStatus must be one of Completed, Started, Terminated"
  end
  local rs = b.responseSet
  if type(rs) ~= "table" or #rs == 0 then return nil, "responseSet must be a non-empty array" end
  local qs = {}
  for _, q in ipairs(s.questions or {}) do qs[tostring(q.questionID)] = q end
  local set = {}
  for i, item in ipairs(rs) do
    if type(item) ~= "table" or not is_int(item.questionID) then
      return nil, ("responseSet[%d].questionID must be an integer"):format(i)
    end
    local q = qs[("%d"):format(item.questionID)]
    if not q then
      return nil, ("responseSet[%d].questionID %d is not a question of survey %s"):format(i,
        item.questionID, tostring(s.surveyID))
    end
    local avs = item.answerValues
    if type(avs) ~= "table" or #avs == 0 then
      return nil, ("responseSet[%d].answerValues must be a non-empty array"):format(i)
    end
    local values = {}
    for j, av in ipairs(avs) do
      if type(av) ~= "table" or not is_int(av.answerID) then
        return nil, ("responseSet[%d].answerValues[%d].answerID must be an integer"):format(i, j)
      end
      local ans
      for _, a in ipairs(q.answers or {}) do
        if a.answerID == av.answerID then ans = a end
      end
      if not ans then
        return nil, ("responseSet[%d].answerValues[%d].answerID %d is not an answer of question %d")
          :format(i, j, av.answerID, q.questionID)
      end
      local v = av.value
      if v ~= nil and v ~= null and type(v) ~= "table" then
        return nil, ("responseSet[%d].answerValues[%d].value must be an object"):format(i, j)
      end
      v = type(v) == "table" and v or {}
      if v.text ~= nil and type(v.text) ~= "string" then
        return nil, ("responseSet[%d].answerValues[%d].value.text must be a string"):format(i, j)
      end
      values[#values + 1] = qdata.answer_value(q, ans, v.text, type(v.other) == "string" and v.other or nil)
    end
    set[#set + 1] = qdata.response_item(q, values)
  end
  local r = qdata.response_shell()
  for k in pairs(OPTIONAL_TYPES) do
    if b[k] ~= nil and k ~= "customVariables" and k ~= "location" then r[k] = b[k] end
  end
  if type(b.location) == "table" then
    for k, v in pairs(b.location) do r.location[k] = v end
  end
  if type(b.customVariables) == "table" then
    for k, v in pairs(b.customVariables) do
      if v ~= null and type(v) ~= "string" and type(v) ~= "number" then
        return nil, ("customVariables.%s must be a string or null"):format(tostring(k))
      end
      r.customVariables[k] = type(v) == "number" and tostring(v) or v
    end
  end
  if type(r.timeTaken) == "number" then r.timeTaken = math.tointeger(math.floor(r.timeTaken)) end
  r.responseSet = util.array(set)
  return r
end

local function create_response(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local b, be = body_object(ctx)
  if not b then return unpack_err(be) end
  local r, why = build_response(st, s, b)
  if not r then return M.error(ctx, 400, 1002, why) end
  r.responseID = st.next_response_id
  st.next_response_id = st.next_response_id + 1
  r.surveyID = s.surveyID
  r.surveyName = s.name
  local ts = timestamps()
  if b.timestamp == nil or b.timestamp == "" then
    r.timestamp = qdata.timestamp(now(ctx), "UTC", 0)
    r._epoch = math.floor(now(ctx))
  else
    local t = ts and ts.parse_timestamp(b.timestamp)
    r._epoch = t and t.epoch or nil
  end
  local list = st.responses[p.sid] or {}
  st.responses[p.sid] = list
  list[#list + 1] = r
  return util.json(200, { response = public(r) })
end

-- Fixed offsets (minutes) of the zone names the filter understands. Named zones use their
-- standard-time offset (the sandbox ignores daylight saving time).
M.FILTER_ZONES = {
  UTC = 0, GMT = 0, Z = 0, ["Etc/UTC"] = 0, ["America/New_York"] = -300,
  ["America/Chicago"] = -360, ["America/Denver"] = -420, ["America/Los_Angeles"] = -480,
  ["Europe/London"] = 0, ["Europe/Paris"] = 60, ["Europe/Berlin"] = 60,
  ["Asia/Kolkata"] = 330, ["Asia/Dubai"] = 240, ["Asia/Riyadh"] = 180,
  ["Asia/Singapore"] = 480, ["Asia/Tokyo"] = 540, ["Australia/Sydney"] = 600,
}

local function zone_offset(name)
  if M.FILTER_ZONES[name] then return M.FILTER_ZONES[name] end
  local sign, h, m = tostring(name):match("^([+-])(%d%d):?(%d%d)$")
  if sign then
    local v = tonumber(h) * 60 + tonumber(m)
    return sign == "-" and -v or v
  end
end

-- Unix time of a filter date in a zone; `end_of_day` for a bare date used as an end.
local function filter_time(s, offset, end_of_day)
  if type(s) ~= "string" then return nil end
  local data = require "cohort.sandbox.data"
  if s:match("^%d%d%d%d%-%d%d%-%d%d$") then
    local t = data.parse_time(s)
    if not t then return nil end
    return t - offset * 60 + (end_of_day and 86399 or 0)
  end
  local has_zone = s:match("Z$") or s:match("[+-]%d%d:?%d%d$")
  local t = data.parse_time(s)
  if not t then return nil end
  if not has_zone then t = t - offset * 60 end
  return t
end

local FILTER_KEYS = { startDate = true, endDate = true, timeZone = true, resultMode = true,
  custom1 = true, custom2 = true, custom3 = true, custom4 = true, custom5 = true }
local MODES = { [0] = nil, [1] = "Started", [2] = "Completed", [3] = "Terminated" }

local function filter_responses(ctx, p)
  local st = M.state(ctx.app)
  local s, e = survey_of(ctx, st, p.sid)
  if not s then return unpack_err(e) end
  local b, be = body_object(ctx)
  if not b then return unpack_err(be) end
  for k, v in pairs(b) do
    if not FILTER_KEYS[k] then return M.error(ctx, 400, 1002, "unknown field " .. tostring(k)) end
    if v ~= null and type(v) ~= "string" and type(v) ~= "number" then
      return M.error(ctx, 400, 1002, k .. " must be a string")
    end
  end
  local offset = 0
  if b.timeZone ~= nil then
    offset = zone_offset(b.timeZone)
    if not offset then return M.error(ctx, 400, 1003, "unknown timeZone " .. tostring(b.timeZone)) end
  end
  local from, to
  if b.startDate ~= nil then
    from = filter_time(b.startDate, offset, false)
    if not from then return M.error(ctx, 400, 1003, "startDate must be an ISO 8601 date") end
  end
  if b.endDate ~= nil then
    to = filter_time(b.endDate, offset, true)
    if not to then return M.error(ctx, 400, 1003, "endDate must be an ISO 8601 date") end
  end
  if from and to and from > to then
    return M.error(ctx, 400, 1003, "startDate is after endDate")
  end
  local mode = 0
  if b.resultMode ~= nil then
    mode = int(b.resultMode)
    if not mode or mode < 0 or mode > 3 then
      return M.error(ctx, 400, 1003, "resultMode must be 0, 1, 2 or 3")
    end
  end
  local out = {}
  for _, r in ipairs(st.responses[p.sid] or {}) do
    local ok = true
    if (from or to) then
      local t = r._epoch
      if t == nil then ok = false
      elseif from and t < from then ok = false
      elseif to and t > to then ok = false end
    end
    if ok and MODES[mode] and r.responseStatus ~= MODES[mode] then ok = false end
    for i = 1, 5 do
      local want = b["custom" .. i]
      if ok and want ~= nil and want ~= null then
        local have = type(r.customVariables) == "table" and r.customVariables["custom" .. i]
        if tostring(have) ~= tostring(want) then ok = false end
      end
    end
    if ok then out[#out + 1] = public(r) end
  end
  return M.paginate(ctx, out)
end

M.routes = {
  { "GET", "users/{uid}/surveys", list_surveys },
  { "GET", "surveys/{sid}", get_survey },
  { "GET", "surveys/{sid}/questions", get_questions },
  { "GET", "surveys/{sid}/responses", list_responses },
  { "POST", "surveys/{sid}/responses", create_response },
  { "POST", "surveys/{sid}/responses/filter", filter_responses },
  { "GET", "surveys/{sid}/responses/{rid}", get_response },
  { "DELETE", "surveys/{sid}/responses/{rid}", delete_response },
}

local HTML = [[<!DOCTYPE html>
<html><head><title>QuestionPro - Login</title></head>
<body><h1>Please log in</h1><p>This page is not part of the API.</p></body></html>
]]

-- ctx.segs starts with "a", "api", "v2".
function M.handle(ctx)
  local st = M.state(ctx.app)
  if type(st.html) == "table" and (tonumber(st.html.count) or 0) > 0 then
    st.html.count = st.html.count - 1
    local status = int(st.html.status) or 200
    if st.html.count <= 0 then st.html = nil end
    return status, { ["Content-Type"] = "text/html; charset=utf-8" }, HTML
  end
  local limited = rate_check(ctx, st)
  if limited then return unpack_err(limited) end
  local ok, handler, caps = util.route(M.routes, ctx.req, ctx.segs, 4)
  if ok then return handler(ctx, caps) end
  if handler == "method_not_allowed" then
    local status, headers, body = M.error(ctx, 405, 1000, "method " .. ctx.req.method .. " not allowed")
    headers.Allow = table.concat(caps, ", ")
    return status, headers, body
  end
  return M.error(ctx, 404, 1040)
end

-- Control API helpers (routes in cohort.sandbox.control) ----------------------------------------

--- POST /__sandbox/questionpro/rate-limit {"limit": N, "window": seconds}: the per-key call
-- limit until the next reset (0 = no limit). Also clears the calls counted so far.
function M.set_rate_limit(app, b)
  local st = M.state(app)
  if b.limit ~= nil then
    local n = int(b.limit)
    if not n or n < 0 then return nil, { limit = { "Must be an integer >= 0." } } end
    st.rate_limit = n
  end
  if b.window ~= nil then
    local w = tonumber(b.window)
    if not w or w <= 0 then return nil, { window = { "Must be a positive number of seconds." } } end
    st.rate_window = w
  end
  st.calls = {}
  local limit, window = M.rate_limit(app)
  return { limit = limit, window = window }
end

--- POST /__sandbox/questionpro/html {"status": 200, "count": 1}: the next `count` QuestionPro
-- calls answer an HTML page (a login page, as when the data centre is wrong) with `status`.
function M.set_html(app, b)
  local st = M.state(app)
  local status = int(b.status or 200)
  local count = int(b.count or 1)
  if not status or status < 200 or status > 599 then return nil, { status = { "Must be 200..599." } } end
  if not count or count < 0 then return nil, { count = { "Must be an integer >= 0." } } end
  st.html = count > 0 and { status = status, count = count } or nil
  return { status = status, count = count }
end

return M
