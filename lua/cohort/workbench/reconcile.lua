--- Join Prolific submissions with survey responses by participant id.
--
--     local r = assert(cohort.reconcile{
--       submissions = p.submissions:each{study = STUDY, status = "AWAITING REVIEW"},
--       responses = q.responses:each(7654321),         -- or survey:responses() (Prolific)
--     })
--     for _, pair in ipairs(r.pairs) do print(pair.submission, pair.response) end
--     print(#r.missing_response, #r.orphan_responses, #r.duplicates)
--
-- **The key.** A submission's participant is its `participant_id` (list form) or `participant`
-- (detail form). A response's participant is, by default (`by = nil`), its `participant_id`
-- (Prolific's SurveyResponse) or else its custom variable `custom1` (QuestionPro's Response,
-- where a Prolific study passes `PROLIFIC_PID` in `custom1`). `by = "custom1"` … `"custom5"`
-- reads only that custom variable; another string reads that field of the response; a
-- function `by(response)` returns the participant id (or nil when it has none).
--
-- **Duplicates (decision).** Several responses with the same participant are all kept: the
-- pair's `response` is the FIRST of them in the order the responses came, `responses` lists
-- them all (in that order) and `duplicate` is true; the result's `duplicates` lists every such
-- participant. Nothing is thrown away or chosen silently: a review rule sees the pair (its third
-- argument) and can decide. Several submissions of one participant (e.g. from several studies)
-- each pair with the same responses. A response without a participant id is an orphan.
-- @module cohort.workbench.reconcile
local util = require "cohort.util"
local Error = require "cohort.error"

local M = {}

local cjson_null = require("cjson").null

local function text_id(v)
  if v == nil or v == cjson_null or type(v) == "userdata" then return nil end
  if type(v) == "number" then v = ("%.0f"):format(v) end
  if type(v) ~= "string" or v == "" then return nil end
  return v
end

local function custom_of(r, name)
  -- QuestionPro Response: `r.custom` (customVariables without nulls); plain JSON: customVariables
  local ok, custom = pcall(function() return r.custom end)
  if ok and type(custom) == "table" and custom[name] ~= nil then return custom[name] end
  local cv = r.customVariables
  if type(cv) == "table" then return cv[name] end
  return nil
end

--- The participant id of a response under the default rule (`participant_id`, else `custom1`).
-- @tparam table response
-- @treturn ?string
function M.response_participant(response)
  if type(response) ~= "table" then return nil end
  local pid = text_id(response.participant_id)
  if pid then return pid end
  return text_id(custom_of(response, "custom1"))
end

--- The participant id of a submission (`participant_id` in lists, `participant` in detail).
-- @tparam table submission
-- @treturn ?string
function M.submission_participant(submission)
  if type(submission) ~= "table" then return nil end
  return text_id(submission.participant_id) or text_id(submission.participant)
end

--- Make the key function of a `by` option (raises naming `label` and `by` when it is invalid).
-- @tparam string label the method name for misuse errors
-- @param by nil, a field or custom variable name, or a function
-- @treturn function(response) → participant id or nil
function M.key_function(label, by)
  if by == nil then return M.response_participant end
  if type(by) == "function" then
    return function(r) return text_id(by(r)) end
  end
  if type(by) == "string" and by ~= "" then
    if by:match("^custom%d$") then
      return function(r) return text_id(custom_of(r, by)) end
    end
    return function(r) return text_id(r[by]) end
  end
  util.misuse(label, "by must be nil, \"custom1\"..\"custom5\", a field name or a "
    .. "function(response) returning the participant id (got %s)", type(by))
end

--- A pull function over an array or an iterator (raises naming `label` and `field` otherwise).
function M.source(label, field, items)
  if type(items) == "function" then return items end
  if type(items) == "table" then
    local i, n = 0, #items
    return function()
      if i >= n then return nil end
      i = i + 1
      return items[i]
    end
  end
  util.misuse(label, "%s must be an array or an iterator function (got %s)", field, type(items))
end

-- Run fn; an iterator raising a cohort.Error becomes nil, err; anything else is raised again.
local function protect(fn)
  local ok, a, b = pcall(fn)
  if ok then return a, b end
  if Error.is(a) then return nil, a end
  error(a, 0)
end

--- Join submissions with responses (see the module description).
-- @tparam table args `submissions` (array or iterator of Submission), `responses` (array or
--   iterator of SurveyResponse / Response / tables), `by` (optional key: nil, `"custom1"`..,
--   a field name, or `function(response)`)
-- @treturn[1] table `{pairs = {{submission =, response =, responses = {…}, participant_id =,
--   duplicate = bool}}, missing_response = {submission…}, orphan_responses = {response…},
--   duplicates = {{participant_id =, responses = {…}, submissions = {…}}}}`; arrays in the
--   order the submissions (pairs, missing) and responses (orphans) came
-- @return[2] nil
-- @treturn[2] cohort.Error when an iterator (`each`) failed
function M.reconcile(args)
  local label = "cohort.reconcile()"
  if type(args) ~= "table" then
    util.misuse(label, "expected a table {submissions = ..., responses = ..., by = ...}")
  end
  util.check_keys(label, args, { submissions = true, responses = true, by = true })
  if args.submissions == nil then util.misuse(label, "submissions is required") end
  if args.responses == nil then util.misuse(label, "responses is required") end
  local subs = M.source(label, "submissions", args.submissions)
  local resps = M.source(label, "responses", args.responses)
  local key = M.key_function(label, args.by)
  return protect(function()
    -- responses first: grouped by participant, and remembered in the order they came
    local by_pid, seen = {}, {}
    for r in resps do
      local pid = key(r)
      seen[#seen + 1] = { r, pid }
      if pid ~= nil then
        local list = by_pid[pid]
        if not list then
          list = {}
          by_pid[pid] = list
        end
        list[#list + 1] = r
      end
    end
    local result = { pairs = {}, missing_response = {}, orphan_responses = {}, duplicates = {} }
    local matched, dup_entry = {}, {}
    for s in subs do
      local pid = M.submission_participant(s)
      local list = pid and by_pid[pid]
      if list then
        matched[pid] = true
        local pair = { submission = s, response = list[1], responses = list, participant_id = pid,
          duplicate = #list > 1 }
        result.pairs[#result.pairs + 1] = pair
        if #list > 1 then
          local d = dup_entry[pid]
          if not d then
            d = { participant_id = pid, responses = list, submissions = {} }
            dup_entry[pid] = d
            result.duplicates[#result.duplicates + 1] = d
          end
          d.submissions[#d.submissions + 1] = s
        end
      else
        result.missing_response[#result.missing_response + 1] = s
      end
    end
    for _, x in ipairs(seen) do
      if x[2] == nil or not matched[x[2]] then
        result.orphan_responses[#result.orphan_responses + 1] = x[1]
      end
    end
    return result
  end)
end

return M
