--- Export adapters for survey responses: one row per response, one column per question.
--
-- Loaded by `cohort.workbench.export`, so exporting responses just works:
--
--     local export = require "cohort.workbench.export"
--     export.csv(q.responses:each(7654321), "qp.csv")                      -- QuestionPro
--     export.csv(q.responses:each(7654321), "qp.csv", {answers = "both",
--       questions = q.surveys:all_questions(7654321)})                      -- every question
--     export.csv(survey:responses(), "prolific.csv", {answers = "codes", questions = survey})
--
-- Two classes get an adapter: QuestionPro's `Response` and Prolific's `SurveyResponse`. Both take
-- the options
--
-- * `answers = "labels"` (default) | `"codes"` | `"both"` — what a choice is written as (as
--   qualtRics' `label = TRUE/FALSE` and PyCap's `raw_or_label` offer). `"both"` gives two
--   columns a question, `<name>_code` then `<name>_label`. Text typed by the participant (a
--   free-text or contact field, QuestionPro's `value.text`) is written as it is in every mode,
--   and an empty typed answer is an empty cell in every mode (never the field's label such as
--   `FIRST_NAME` or its code); several answers to one question (multiple choice) are joined
--   with `;`. Which answers are typed: by the question's `type` when `questions` is given
--   (text, contact, essay, comment, e-mail, numeric, date types), else a value without a
--   `scale` (choices carry one).
-- * `questions = …` — the questions, in column order. Without it the columns are the questions
--   of the FIRST response (a response that stopped early may lack some: give `questions` when
--   responses differ). QuestionPro: an array of Question objects (`q.surveys:all_questions(sid)`,
--   `survey:questions()`) or of `{questionID =, code =}`. Prolific: the Survey
--   (`p.surveys:get(id)`), or an array of `{id =, title =}`.
--
-- **QuestionPro columns**: `responseID`, `surveyID`, `responseStatus`, `timestamp` (as sent),
-- `time_utc` (ISO 8601 UTC, empty when the zone is ambiguous), `timeTaken` (seconds),
-- `custom1`..`custom5`, then one column per question named by its code (`Q1`, `Q2_1`; `Q<id>`
-- when it has none). Labels are the choice's `answerText`; codes its `value.scale` (a number),
-- or the `answerID` when the choice has no scale (known as a choice from `questions` only).
--
-- **Prolific columns**: `id`, `participant_id`, `submission_id`, `date_created`, then one column
-- per question named by its title (a repeated title gets ` (2)`, ` (3)`…). Labels are the
-- answer's `value`; codes are the option's position in the question (1 = first) when the
-- Survey is given as `questions`, and the `answer_id` otherwise (a response does not carry the
-- order of the options).
--
-- `export.jsonl` writes each response whole, as the server sent it (pass `columns` to pick).
-- @module cohort.workbench.export_responses
local M = {}

local cjson_null = require("cjson").null

local ANSWERS = { "labels", "codes", "both" }

local function blank(v)
  if v == nil or v == cjson_null or type(v) == "userdata" or v == "" then return nil end
  return v
end

local function join(values)
  local out = {}
  for _, v in ipairs(values) do
    if v ~= nil then out[#out + 1] = tostring(v) end
  end
  if #out == 0 then return nil end
  if #out == 1 then return values[1] end
  return table.concat(out, ";")
end

-- Add the question columns: `cell(item, mode)` gives one cell, mode "labels" or "codes".
local function add_question(cols, name, mode, cell)
  if mode == "both" then
    cols[#cols + 1] = { name .. "_code", function(r) return cell(r, "codes") end }
    cols[#cols + 1] = { name .. "_label", function(r) return cell(r, "labels") end }
  else
    cols[#cols + 1] = { name, function(r) return cell(r, mode) end }
  end
end

-- ------------------------------------------------------------------ QuestionPro

local function qp_items(resp)
  local set = type(resp) == "table" and rawget(resp, "responseSet") or nil
  if type(set) ~= "table" then return {} end
  return set
end

local function qp_custom(resp, name)
  local cv = type(resp) == "table" and rawget(resp, "customVariables") or nil
  if type(cv) ~= "table" then return nil end
  return blank(cv[name])
end

-- The questions of a QuestionPro export: `{id, name}` in order.
local function qp_questions(first, opts)
  local out, seen = {}, {}
  local given = opts.questions
  if type(given) == "table" and given[1] == nil and type(given.questions) == "table" then
    given = given.questions
  end
  if type(given) == "table" then
    for _, q in ipairs(given) do
      local id = type(q) == "table" and (q.questionID or q.id) or q
      local code = type(q) == "table" and (q.code or q.questionCode) or nil
      if id ~= nil and not seen[tostring(id)] then
        seen[tostring(id)] = true
        out[#out + 1] = { id = tostring(id), name = blank(code) or ("Q" .. tostring(id)),
          type = type(q) == "table" and type(q.type) == "string" and q.type or nil }
      end
    end
    return out
  end
  for _, item in ipairs(qp_items(first)) do
    if type(item) == "table" and item.questionID ~= nil and not seen[tostring(item.questionID)] then
      seen[tostring(item.questionID)] = true
      out[#out + 1] = { id = tostring(item.questionID),
        name = blank(item.questionCode) or ("Q" .. tostring(item.questionID)) }
    end
  end
  return out
end

-- Question types whose answers the participant types (text, contact details, numbers, dates):
-- their cell is the typed text, never the answer's label or code.
local TYPED = { "text", "contact", "essay", "comment", "email", "numeric", "number", "date" }

local function typed_type(qtype)
  qtype = qtype:lower()
  for _, word in ipairs(TYPED) do
    if qtype:find(word, 1, true) then return true end
  end
  return false
end

-- Is this answer value one the participant typed? By the question's type when it is known
-- (`questions` given), else by the answer itself: a choice carries its scale, a typed field
-- does not. An empty typed answer is an empty cell: its label (`FIRST_NAME`) or code
-- (`100000001`) is the field's name, not the participant's answer.
local function is_typed(av, v, qtype)
  if qtype then return typed_type(qtype) end
  return blank(v.text) ~= nil or blank(v.scale) == nil
end

--- The cell of one QuestionPro question in one response.
-- @tparam table resp a Response (or its JSON)
-- @tparam string|integer question_id
-- @tparam string mode `"labels"` or `"codes"`
-- @tparam[opt] string qtype the question's type (`"multiple_choice"`, `"contact_information"`,
--   `"text"` …) when known
-- @return the cell value (string, number) or nil when unanswered
function M.questionpro_cell(resp, question_id, mode, qtype)
  local qid = tostring(question_id)
  for _, item in ipairs(qp_items(resp)) do
    if type(item) == "table" and tostring(item.questionID) == qid then
      local values = {}
      for _, av in ipairs(type(item.answerValues) == "table" and item.answerValues or {}) do
        if type(av) == "table" then
          local v = type(av.value) == "table" and av.value or {}
          local cell
          if is_typed(av, v, qtype) then
            cell = blank(v.text)
          elseif mode == "codes" then
            local scale = blank(v.scale)
            cell = scale and (tonumber(scale) or scale) or blank(av.answerID)
          else
            cell = blank(av.answerText)
          end
          values[#values + 1] = cell
        end
      end
      return join(values)
    end
  end
  return nil
end

--- The CSV columns of QuestionPro responses (see the module description).
-- @tparam ?table first the first response (nil when there are none)
-- @tparam table opts the export options (`answers`, `questions`)
-- @treturn table column list for `cohort.workbench.export`
function M.questionpro_columns(first, opts)
  local mode = opts.answers or "labels"
  local cols = { "responseID", "surveyID", "responseStatus", "timestamp",
    { "time_utc", function(r)
      local ok, v = pcall(function() return r.time_utc end)
      return ok and v or nil
    end },
    "timeTaken" }
  for i = 1, 5 do
    local name = "custom" .. i
    cols[#cols + 1] = { name, function(r) return qp_custom(r, name) end }
  end
  for _, q in ipairs(qp_questions(first, opts)) do
    local id, qtype = q.id, q.type
    add_question(cols, q.name, mode, function(r, m) return M.questionpro_cell(r, id, m, qtype) end)
  end
  return cols
end

-- ------------------------------------------------------------------ Prolific

-- Every question answer of a Prolific response, in order: `{question_id, question_title,
-- answers = {{answer_id, value}}}`.
local function pro_items(resp)
  local out = {}
  if type(resp) ~= "table" then return out end
  local sections = rawget(resp, "sections")
  if type(sections) == "table" then
    for _, s in ipairs(sections) do
      for _, q in ipairs(type(s) == "table" and type(s.questions) == "table" and s.questions or {}) do
        out[#out + 1] = q
      end
    end
  end
  local questions = rawget(resp, "questions")
  if type(questions) == "table" then
    for _, q in ipairs(questions) do out[#out + 1] = q end
  end
  return out
end

-- The questions of a Prolific export: `{id, name, options = {answer id → position}}`.
local function pro_questions(first, opts)
  local list = {}
  local given = opts.questions
  if type(given) == "table" and given[1] == nil
      and (type(given.sections) == "table" or type(given.questions) == "table") then
    local flat = {}
    for _, s in ipairs(type(given.sections) == "table" and given.sections or {}) do
      for _, q in ipairs(s.questions or {}) do flat[#flat + 1] = q end
    end
    for _, q in ipairs(type(given.questions) == "table" and given.questions or {}) do
      flat[#flat + 1] = q
    end
    given = flat
  end
  if type(given) == "table" then
    for _, q in ipairs(given) do
      if type(q) == "table" and (q.id or q.question_id) then
        local options
        if type(q.answers) == "table" then
          options = {}
          for pos, a in ipairs(q.answers) do
            if type(a) == "table" and a.id ~= nil then options[a.id] = pos end
          end
        end
        list[#list + 1] = { id = q.id or q.question_id, title = q.title or q.question_title,
          options = options }
      end
    end
  else
    for _, q in ipairs(pro_items(first)) do
      if type(q) == "table" and q.question_id ~= nil then
        list[#list + 1] = { id = q.question_id, title = q.question_title }
      end
    end
  end
  local used = {}
  for _, q in ipairs(list) do
    local base = blank(q.title) or tostring(q.id)
    local name, n = base, 1
    while used[name] do
      n = n + 1
      name = ("%s (%d)"):format(base, n)
    end
    used[name] = true
    q.name = name
  end
  return list
end

--- The cell of one Prolific question in one response.
-- @tparam table resp a SurveyResponse (or its JSON)
-- @tparam string question_id
-- @tparam string mode `"labels"` or `"codes"`
-- @tparam[opt] table options answer id → position (1 = first), known from the Survey
-- @return the cell value or nil when unanswered
function M.prolific_cell(resp, question_id, mode, options)
  for _, q in ipairs(pro_items(resp)) do
    if type(q) == "table" and q.question_id == question_id then
      local values = {}
      for _, a in ipairs(type(q.answers) == "table" and q.answers or {}) do
        if type(a) == "table" then
          if mode == "codes" then
            values[#values + 1] = options and options[a.answer_id] or blank(a.answer_id)
          else
            values[#values + 1] = blank(a.value)
          end
        end
      end
      return join(values)
    end
  end
  return nil
end

--- The CSV columns of Prolific survey responses (see the module description).
-- @tparam ?table first the first response (nil when there are none)
-- @tparam table opts the export options (`answers`, `questions`)
-- @treturn table column list for `cohort.workbench.export`
function M.prolific_columns(first, opts)
  local mode = opts.answers or "labels"
  local cols = {
    { "id", function(r) return rawget(r, "id") or rawget(r, "_id") end },
    "participant_id", "submission_id", "date_created",
  }
  for _, q in ipairs(pro_questions(first, opts)) do
    local id, options = q.id, q.options
    add_question(cols, q.name, mode, function(r, m) return M.prolific_cell(r, id, m, options) end)
  end
  return cols
end

--- Register both adapters with `cohort.workbench.export` (done when `cohort.workbench.export` is loaded).
-- @tparam table export the `cohort.workbench.export` module
function M.register(export)
  local options = { answers = ANSWERS, questions = true }
  export.register("Response", { columns = M.questionpro_columns, options = options })
  export.register("SurveyResponse", { columns = M.prolific_columns, options = options })
end

return M
