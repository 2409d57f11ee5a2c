-- Sandbox: Prolific surveys, their responses and the aggregated summary (rows { METHOD,
-- "path/{param}", handler(ctx, params) }; see cohort.sandbox.prolific).
--
-- State (created lazily, so a seeded dataset needs no survey keys):
--   ctx.app.state.surveys           array of surveys in the SurveyOut shape (`_id`, ...)
--   ctx.app.state.survey_responses  survey id → array of responses (SurveyResponseOut shape)
--
-- Shapes follow Prolific's spec and its examples: a survey has `_id`, both `sections` and
-- `questions` (one of them empty); a response in a list has `id`, in detail `_id`. Lists page by
-- offset/limit (default limit 20) as {results, meta = {count}}; an offset past the end answers 404.
--
-- Attention checks (for simulated participants, `M.simulate_response`): a question whose title
-- starts with "Attention check" (any case) is an attention-check question and its FIRST answer
-- option is the correct one. A participant simulated to fail picks another option.
--
-- This module also holds the small helpers the other issue-#3 families of this author share
-- (`M.helpers`: ids, time stamps, body parsing, offset paging).
local util = require "cohort.sandbox.util"

local M = {}

-- Helpers --------------------------------------------------------------------------------------

local H = {}
M.helpers = H

-- A family's state table under ctx.app.state[key], created on first use.
function H.state(app, key, init)
  local st = app.state
  if st[key] == nil then st[key] = init and init() or {} end
  return st[key]
end

-- Prolific's time stamps: ISO 8601 UTC with microseconds, on the sandbox clock.
function H.now(app)
  local t
  if app and app.clock then t = app.clock:now() else
    local ok, native = pcall(require, "cohort.sandbox.native")
    t = ok and native.now() or os.time()
  end
  local whole = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. string.format(".%06dZ", math.floor((t - whole) * 1e6))
end

local function counter(app)
  local st = app.state
  st.__cohort_seq = (st.__cohort_seq or 0) + 1
  return st.__cohort_seq
end

local function mix(n, salt)
  local x = (n * 0x9E3779B97F4A7C15 + salt) & 0xFFFFFFFFFFFFFFFF
  x = x ~ (x >> 29)
  x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
  return x ~ (x >> 32)
end

-- A new 24-hex id: a mixed counter (so that ids differ in their first characters, which is
-- what objects print) and a few mixed bits of the clock.
function H.id(app)
  local n = counter(app)
  return string.format("%016x%08x", mix(n, 0x5DEECE66D), mix(n ~ os.time(), 0x2545F4914F6CDD1D) & 0xFFFFFFFF)
end

-- A new UUID (sections, questions, answers of a survey).
function H.uuid(app)
  local a, b = mix(counter(app), 0x2545F4914F6CDD1D), mix(counter(app), 0x632BE59BD9B4E019)
  local h = string.format("%016x%016x", a, b)
  return ("%s-%s-4%s-%x%s-%s"):format(h:sub(1, 8), h:sub(9, 12), h:sub(14, 16),
    8 + (b & 3), h:sub(18, 20), h:sub(21, 32))
end

-- The JSON object of the request body ({} when empty), or nil and a 400 answer (a table to
-- unpack). On a Prolific route the contract has decoded and checked it already (ctx.body).
function H.body(ctx)
  if ctx.body ~= nil then return ctx.body end
  local raw = ctx.req.body
  if raw == nil or raw == "" then return {} end
  local v, err = util.decode(raw)
  if type(v) ~= "table" then
    return nil, { util.prolific_error(400, "JSON parse error - " .. tostring(err or "expected an object")) }
  end
  return v
end

function H.nonempty_string(v) return type(v) == "string" and v ~= "" end

-- Field errors: H.fields() collects, :add(field, msg), :answer() gives the 400 or nil.
function H.fields()
  local f = { list = {} }
  function f.add(name, msg)
    f.list[name] = f.list[name] or {}
    table.insert(f.list[name], msg)
  end
  function f.answer()
    if next(f.list) then return util.prolific_error(400, f.list) end
  end
  return f
end

function H.find(list, id, key)
  key = key or "id"
  for i, x in ipairs(list) do
    if x[key] == id then return x, i end
  end
end

local function positive_int(v, min)
  local n = tonumber(v)
  if n and n == math.floor(n) and n >= min then return math.tointeger(n) end
end

-- One page by offset/limit: {results, meta = {count}}. `items` already shaped.
-- No `_links` here: Prolific's offset lists (surveys, responses, hook events) document only
-- `results`, and clients page them by computing the next offset from `limit` and the count.
-- `shape(item)`, when given, makes the list entry of an item: only for the page's slice.
function H.paginate_offset(ctx, items, default_limit, shape)
  local q = ctx.query
  local limit, offset = default_limit or 20, 0
  if q.limit ~= nil then
    limit = positive_int(q.limit, 1)
    if not limit then return util.prolific_error(400, { limit = { "Ensure this value is greater than or equal to 1." } }) end
    limit = math.min(limit, 1000)
  end
  if q.offset ~= nil then
    offset = positive_int(q.offset, 0)
    if not offset then return util.prolific_error(400, { offset = { "Ensure this value is greater than or equal to 0." } }) end
  end
  local n = #items
  if offset > 0 and offset >= n then return util.prolific_error(404, "Invalid offset: past the last item.") end
  local results = {}
  for i = offset + 1, math.min(offset + limit, n) do
    results[#results + 1] = shape and shape(items[i]) or items[i]
  end
  return util.answer(200, { results = util.array(results), meta = { count = n } })
end

-- The page/page_size paginator of cohort.sandbox.prolific (required late: that module loads
-- this one).
function H.paginate(ctx, items)
  return require("cohort.sandbox.prolific").paginate(ctx, items)
end

-- Surveys --------------------------------------------------------------------------------------

M.QUESTION_TYPES = { single = true, multiple = true }
M.LIMITS = { section_questions = 5, question_answers = 10, question_title = 200, answer_value = 140 }

local function surveys(app) return H.state(app, "surveys") end
local function responses_of(app, sid)
  local all = H.state(app, "survey_responses")
  all[sid] = all[sid] or {}
  return all[sid]
end

local function find_survey(app, id)
  return H.find(surveys(app), id, "_id")
end

local function ulen(s) return utf8.len(s) or #s end

-- Checks what the schema cannot say of one question of a survey body (SurveyQuestion: the
-- contract checked its fields' types) and gives it, and its answers, ids.
local function check_question(app, f, where, q)
  if q.title:match("^%s*$") then
    f.add(where .. ".title", "This field may not be blank.")
  elseif ulen(q.title) > M.LIMITS.question_title then
    f.add(where .. ".title", ("Ensure this value has at most %d characters."):format(M.LIMITS.question_title))
  end
  local answers = {}
  if #q.answers == 0 then
    f.add(where .. ".answers", "Ensure this list has at least 1 item.")
  elseif #q.answers > M.LIMITS.question_answers then
    f.add(where .. ".answers", ("Ensure this list has at most %d items."):format(M.LIMITS.question_answers))
  else
    for j, a in ipairs(q.answers) do
      if ulen(a.value) > M.LIMITS.answer_value then
        f.add(("%s.answers.%d.value"):format(where, j - 1),
          ("Ensure this value has at most %d characters."):format(M.LIMITS.answer_value))
      end
      answers[j] = { id = a.id or H.uuid(app), value = a.value }
    end
  end
  return { id = q.id or H.uuid(app), title = q.title, type = q.type, answers = util.array(answers) }
end

local function create_survey(ctx)
  local b = ctx.body
  local app = ctx.app
  local f = H.fields()
  if b.title:match("^%s*$") then f.add("title", "This field may not be blank.") end
  local has_s = type(b.sections) == "table" and #b.sections > 0
  local has_q = type(b.questions) == "table" and #b.questions > 0
  if has_s and has_q then
    f.add("sections", "Give either sections or questions, not both.")
  elseif not has_s and not has_q then
    f.add("questions", "Give either sections or questions (a non-empty list).")
  end
  local sections, questions = {}, {}
  if has_s then
    for i, s in ipairs(b.sections) do
      local where = ("sections.%d"):format(i - 1)
      do
        if s.title:match("^%s*$") then f.add(where .. ".title", "This field may not be blank.") end
        if #s.questions == 0 then
          f.add(where .. ".questions", "Ensure this list has at least 1 item.")
        elseif #s.questions > M.LIMITS.section_questions then
          f.add(where .. ".questions", ("Ensure this list has at most %d items."):format(M.LIMITS.section_questions))
        else
          local qs = {}
          for j, q in ipairs(s.questions) do
            qs[#qs + 1] = check_question(app, f, ("%s.questions.%d"):format(where, j - 1), q)
          end
          sections[#sections + 1] = { id = s.id or H.uuid(app), title = s.title,
            questions = util.array(qs) }
        end
      end
    end
  elseif has_q then
    for j, q in ipairs(b.questions) do
      questions[#questions + 1] = check_question(app, f, ("questions.%d"):format(j - 1), q)
    end
  end
  local bad = f.answer()
  if bad then return f.answer() end
  local now = H.now(app)
  local s = { _id = H.id(app), date_created = now, date_modified = now,
    researcher_id = b.researcher_id, title = b.title,
    sections = util.array(sections), questions = util.array(questions) }
  table.insert(surveys(app), s)
  return util.answer(201, s)
end

local function survey_or_404(ctx, id)
  local s = find_survey(ctx.app, id)
  if not s then return nil, { util.prolific_error(404, "Survey not found.") } end
  return s
end

-- Every question of a survey: { question, section_id or nil }.
local function all_questions(s)
  local out = {}
  for _, sec in ipairs(s.sections or {}) do
    for _, q in ipairs(sec.questions or {}) do out[#out + 1] = { q = q, section = sec.id } end
  end
  for _, q in ipairs(s.questions or {}) do out[#out + 1] = { q = q } end
  return out
end

-- (SurveyQuestionResponse: the contract checked the fields' types and presence)
local function check_answers(f, where, list, by_id)
  for i, qr in ipairs(list) do
    local qw = ("%s.%d"):format(where, i - 1)
    do
      local q = by_id[qr.question_id]
      if not q then
        f.add(qw .. ".question_id", ("%s is not a question of this survey."):format(tostring(qr.question_id)))
      else
        if q.type == "single" and #qr.answers > 1 then
          f.add(qw .. ".answers", "This is a single-answer question; give one answer.")
        end
        for j, a in ipairs(qr.answers) do
          local ok = false
          for _, opt in ipairs(q.answers or {}) do
            if type(a) == "table" and opt.id == a.answer_id then ok = true end
          end
          if not ok then
            f.add(("%s.answers.%d.answer_id"):format(qw, j - 1),
              ("%s is not an answer of this question."):format(tostring(type(a) == "table" and a.answer_id)))
          end
        end
      end
    end
  end
end

-- A response as stored and answered (SurveyResponseOut): every list an array, the answers
-- copied field by field (answer_id, value) so that nothing else a client sent is echoed.
local function answers_of(list)
  local out = {}
  for i, qr in ipairs(list or {}) do
    local as = {}
    for j, a in ipairs(qr.answers or {}) do as[j] = { answer_id = a.answer_id, value = a.value } end
    out[i] = { question_id = qr.question_id, question_title = qr.question_title,
      answers = util.array(as) }
  end
  return util.array(out)
end

local function store_response(app, s, r)
  local now = H.now(app)
  local sections = {}
  for i, sec in ipairs(r.sections or {}) do
    sections[i] = { section_id = sec.section_id, questions = answers_of(sec.questions) }
  end
  local rec = { _id = H.id(app), date_created = now, date_modified = now,
    participant_id = r.participant_id, submission_id = r.submission_id,
    sections = util.array(sections), questions = answers_of(r.questions) }
  table.insert(responses_of(app, s._id), rec)
  return rec
end

local function create_response(ctx, p)
  local s, e = survey_or_404(ctx, p.survey_id)
  if not s then return table.unpack(e) end
  local b = ctx.body
  local f = H.fields()
  local by_id = {}
  for _, x in ipairs(all_questions(s)) do by_id[x.q.id] = x.q end
  local has_s = type(b.sections) == "table" and #b.sections > 0
  local has_q = type(b.questions) == "table" and #b.questions > 0
  if not has_s and not has_q then f.add("questions", "Give the answers in sections or questions.") end
  if has_s then
    for i, sec in ipairs(b.sections) do
      local where = ("sections.%d"):format(i - 1)
      if not H.find(s.sections or {}, sec.section_id) then
        f.add(where .. ".section_id", "Not a section of this survey.")
      else
        check_answers(f, where .. ".questions", sec.questions, by_id)
      end
    end
  end
  if has_q then check_answers(f, "questions", b.questions, by_id) end
  local bad = f.answer()
  if bad then return f.answer() end
  local rec = store_response(ctx.app, s, b)
  return util.answer(201, rec)
end

local function list_item(r)
  return { id = r._id, date_created = r.date_created, date_modified = r.date_modified,
    participant_id = r.participant_id, submission_id = r.submission_id,
    sections = r.sections, questions = r.questions }
end

local function summary(app, s)
  local qs = {}
  local resp = responses_of(app, s._id)
  for _, x in ipairs(all_questions(s)) do
    local q = x.q
    local counts, total = {}, 0
    for _, r in ipairs(resp) do
      local lists = { r.questions or {} }
      for _, sec in ipairs(r.sections or {}) do lists[#lists + 1] = sec.questions or {} end
      for _, list in ipairs(lists) do
        for _, qr in ipairs(list) do
          if qr.question_id == q.id then
            total = total + 1
            for _, a in ipairs(qr.answers or {}) do
              counts[a.answer_id] = (counts[a.answer_id] or 0) + 1
            end
          end
        end
      end
    end
    local answers = {}
    for _, opt in ipairs(q.answers or {}) do
      answers[#answers + 1] = { answer_id = opt.id, answer = opt.value, count = counts[opt.id] or 0 }
    end
    qs[#qs + 1] = { question_id = q.id, question = q.title, total_answers = total,
      answers = util.array(answers) }
  end
  return { survey_id = s._id, questions = util.array(qs) }
end

M.routes = {
  { "POST", "surveys", create_survey, op = "CreateSurvey" },
  { "GET", "surveys", function(ctx)
      local rid = ctx.params.researcher_id
      if rid == nil then
        return util.prolific_error(400, { researcher_id = { "This field is required." } })
      end
      local items = {}
      for _, s in ipairs(surveys(ctx.app)) do
        if s.researcher_id == rid then items[#items + 1] = s end
      end
      return H.paginate_offset(ctx, items)
    end, op = "GetSurveys" },
  { "GET", "surveys/{survey_id}", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      return util.answer(200, s)
    end, op = "GetSurvey" },
  { "DELETE", "surveys/{survey_id}", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      local _, i = find_survey(ctx.app, s._id)
      table.remove(surveys(ctx.app), i)
      H.state(ctx.app, "survey_responses")[s._id] = nil
      return util.answer(200, {})
    end, op = "DeleteSurvey" },
  { "GET", "surveys/{survey_id}/responses/summary", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      return util.answer(200, summary(ctx.app, s))
    end, op = "GetSummary" },
  { "GET", "surveys/{survey_id}/responses", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      return H.paginate_offset(ctx, responses_of(ctx.app, s._id), nil, list_item)
    end, op = "GetResponses" },
  { "POST", "surveys/{survey_id}/responses", create_response, op = "CreateResponse" },
  { "DELETE", "surveys/{survey_id}/responses", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      H.state(ctx.app, "survey_responses")[s._id] = {}
      return util.answer(200, {})
    end, op = "DeleteResponses" },
  { "GET", "surveys/{survey_id}/responses/{response_id}", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      local r = H.find(responses_of(ctx.app, s._id), p.response_id, "_id")
      if not r then return util.prolific_error(404, "Response not found.") end
      return util.answer(200, r)
    end, op = "GetResponse" },
  { "DELETE", "surveys/{survey_id}/responses/{response_id}", function(ctx, p)
      local s, e = survey_or_404(ctx, p.survey_id)
      if not s then return table.unpack(e) end
      local list = responses_of(ctx.app, s._id)
      local r, i = H.find(list, p.response_id, "_id")
      if not r then return util.prolific_error(404, "Response not found.") end
      table.remove(list, i)
      return util.answer(200, {})
    end, op = "DeleteResponse" },
}

-- Simulated participants -----------------------------------------------------------------------

--- Is this question an attention check? (its title starts with "Attention check", any case)
function M.is_attention_check(q)
  return type(q.title) == "string" and q.title:lower():find("^%s*attention check") ~= nil
end

--- Create a plausible response of `participant_id` (for `submission_id`) to the survey: every
-- question answered — a single-answer question with one option, a multiple-answer question with
-- one to three — chosen deterministically from the ids. An attention-check question gets its
-- first option, or another one when `failed_check` is true. Returns the stored response, or nil
-- and a message when the survey does not exist.
function M.simulate_response(app, survey_id, participant_id, submission_id, failed_check)
  local s = find_survey(app, survey_id)
  if not s then return nil, "no survey " .. tostring(survey_id) end
  local seed = 0
  for c in (tostring(participant_id) .. tostring(submission_id)):gmatch(".") do
    seed = (seed * 31 + c:byte()) & 0x7FFFFFFF
  end
  local function pick(q, k)
    local opts = q.answers or {}
    local n = #opts
    if n == 0 then return {} end
    if M.is_attention_check(q) then
      local i = 1
      if failed_check and n > 1 then i = 2 + (mix(seed, k) % (n - 1)) end
      return { { answer_id = opts[i].id, value = opts[i].value } }
    end
    local out = {}
    if q.type == "multiple" then
      local want = 1 + mix(seed, k * 7) % math.min(3, n)
      local start = mix(seed, k) % n
      for j = 0, want - 1 do
        local o = opts[(start + j) % n + 1]
        out[#out + 1] = { answer_id = o.id, value = o.value }
      end
    else
      local o = opts[mix(seed, k) % n + 1]
      out[1] = { answer_id = o.id, value = o.value }
    end
    return out
  end
  local k = 0
  local body = { participant_id = participant_id, submission_id = submission_id }
  local function answer(q)
    k = k + 1
    return { question_id = q.id, question_title = q.title, answers = util.array(pick(q, k)) }
  end
  if #(s.sections or {}) > 0 then
    body.sections = {}
    for _, sec in ipairs(s.sections) do
      local qs = {}
      for _, q in ipairs(sec.questions or {}) do qs[#qs + 1] = answer(q) end
      body.sections[#body.sections + 1] = { section_id = sec.id, questions = util.array(qs) }
    end
  else
    body.questions = {}
    for _, q in ipairs(s.questions or {}) do body.questions[#body.questions + 1] = answer(q) end
  end
  return store_response(app, s, body)
end

return M
