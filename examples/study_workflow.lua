-- The whole study, from code: create a survey and a study, publish, collect, review by an
-- attention-check rule, pay a bonus to the fastest tenth, print a summary.
--
--   lua5.4 examples/study_workflow.lua --sandbox      -- rehearse: a private sandbox, no money
--   PROLIFIC_TOKEN=... lua5.4 examples/study_workflow.lua
--                                                     -- for real: publishes a study and pays!
--
-- In the sandbox (also when COHORT_SANDBOX_URL names one, as `make demo` does) simulated
-- participants take the study; on Prolific real ones do, and the script waits for them
-- (COHORT_WAIT seconds, default one hour).
local cohort = require "cohort"

local PLACES = tonumber(os.getenv("COHORT_PLACES")) or 20
local REWARD = 150                        -- minor units (pence): £1.50 for about 5 minutes
local BONUS = 0.50                        -- MAJOR units (pounds), as bonus set-ups take them
local ATTENTION = "Attention check: please choose Blue"

-- ---------------------------------------------------------------- where we run
local sandbox_url = os.getenv("COHORT_SANDBOX_URL")
local own_sandbox
if arg[1] == "--sandbox" and not sandbox_url then
  own_sandbox = assert(require("cohort.sandbox").start {})
  sandbox_url = own_sandbox.url
end
local p = sandbox_url
  and cohort.prolific { token = own_sandbox and own_sandbox.token or os.getenv("PROLIFIC_TOKEN"),
    base_url = sandbox_url }
  or cohort.prolific()

local function say(fmt, ...) print((fmt):format(...)) end

-- ---------------------------------------------------------------- 1. the survey and the study
local me = assert(p.users:me())
say("Researcher: %s", tostring(me))

local survey = assert(p.surveys:create {
  researcher_id = me.id,
  title = "Morning alertness",
  questions = {
    { title = "How alert do you feel right now?", type = "single",
      answers = { { value = "Very" }, { value = "Somewhat" }, { value = "Not at all" } } },
    { title = ATTENTION, type = "single",          -- the correct answer comes first
      answers = { { value = "Blue" }, { value = "Red" }, { value = "Green" } } },
  },
})
local survey_id = survey._id or survey.id
say("Survey:     %s", tostring(survey))

local study = assert(p.studies:create {
  name = "Morning alertness (5 minutes)",
  description = "Two questions about how alert you feel this morning.",
  external_study_url = "https://app.prolific.com/surveys/" .. survey_id
    .. "?PROLIFIC_PID={{%PROLIFIC_PID%}}&SESSION_ID={{%SESSION_ID%}}",
  prolific_id_option = "url_parameters",
  completion_codes = { { code = "ALERT123", code_type = "COMPLETED",
    actions = { { action = "MANUALLY_REVIEW" } } } },
  estimated_completion_time = 5,
  reward = REWARD,
  total_available_places = PLACES,
})
study = assert(study:publish())
say("Study:      %s", tostring(study))

-- ---------------------------------------------------------------- 2. participants take part
if sandbox_url then
  -- the sandbox's participant pool takes the study (its control API, through the handle's verbs)
  local sb = require("cohort.sandbox").connect(sandbox_url)
  assert(sb:simulate(study, { participants = PLACES, returns = 0.1, timeouts = 0.05,
    failed_checks = 0.2, duration_ms = 1500, seed = 7 }))
  sb:stop() -- forgets the handle; the sandbox keeps running
  say("Simulating %d participants in the sandbox…", PLACES)
end

local deadline = os.time() + (tonumber(os.getenv("COHORT_WAIT")) or 3600)
local subs
repeat
  subs = assert(p.submissions:all { study = study.id })
  local busy = 0
  for _, s in ipairs(subs) do
    if s.status == "RESERVED" or s.status == "ACTIVE" or s.status == "PROCESSING" then busy = busy + 1 end
  end
  if busy == 0 and #subs > 0 then break end
  p:sleep(sandbox_url and 0.2 or 30)
until os.time() > deadline
say("%d submissions in", #subs)

-- ---------------------------------------------------------------- 3. review by the rule
-- The attention-check answer of each submission, from the survey's responses.
local function answer(response, title)
  local questions = response.questions or {}
  for _, section in ipairs(response.sections or {}) do
    for _, q in ipairs(section.questions or {}) do questions[#questions + 1] = q end
  end
  for _, q in ipairs(questions) do
    if q.question_title == title or q.title == title then
      return q.answers and q.answers[1] and q.answers[1].value
    end
  end
end
local checked = {}
for response in survey:responses() do
  checked[response.submission_id] = answer(response, ATTENTION) == "Blue"
end

local approve, decisions = {}, {}
for _, s in ipairs(subs) do
  if s.status == "AWAITING REVIEW" then
    if checked[s.id] then
      approve[#approve + 1] = s.id
      decisions[s.id] = "approve"
    else
      local rejected, err = s:reject {
        category = "FAILED_CHECK",
        message = "Thank you for taking part. Unfortunately your answer to the attention-check "
          .. "question did not match the instructions given, so we cannot approve this submission.",
      }
      decisions[s.id] = rejected and "reject" or ("reject failed: " .. tostring(err))
    end
  end
end
if #approve > 0 then assert(p.submissions:bulk_approve { ids = approve }) end
say("Approved %d, rejected %d", #approve, (function()
  local n = 0
  for _, d in pairs(decisions) do if d == "reject" then n = n + 1 end end
  return n
end)())

-- ---------------------------------------------------------------- 4. a bonus for the fastest tenth
local approved = {}
for _, s in ipairs(subs) do
  if decisions[s.id] == "approve" and s.time_taken then approved[#approved + 1] = s end
end
table.sort(approved, function(a, b) return a.time_taken < b.time_taken end)
local fastest = math.max(1, math.ceil(#approved / 10))
local bonus = {}
if #approved > 0 then
  local rows = {}
  for i = 1, math.min(fastest, #approved) do
    rows[#rows + 1] = { approved[i].id, BONUS }
    bonus[approved[i].id] = BONUS
  end
  local batch = assert(p.bonuses:setup { study = study.id, bonuses = rows })
  say("Bonus:      %s", tostring(batch))
  assert(batch:pay())
end

-- ---------------------------------------------------------------- 5. the summary
subs = assert(p.submissions:all { study = study.id })   -- the statuses after the review
local RULE = ("-"):rep(84)
say("")
say("%-24s  %-16s  %6s  %-9s  %-8s  %s", "participant", "status", "time", "attention", "decision", "bonus")
say("%s", RULE)
table.sort(subs, function(a, b) return (a.time_taken or math.huge) < (b.time_taken or math.huge) end)
for _, s in ipairs(subs) do
  local attention = checked[s.id] == nil and "-" or (checked[s.id] and "passed" or "failed")
  say("%-24s  %-16s  %6s  %-9s  %-8s  %s", s.participant_id or s.participant or "?",
    s.status, s.time_taken and (s.time_taken .. "s") or "-", attention, decisions[s.id] or "-",
    bonus[s.id] and ("£%.2f"):format(bonus[s.id]) or "")
end
say("%s", RULE)
say("%d submissions: %d approved, %d rejected, %d bonuses of £%.2f", #subs, #approve,
  (function()
    local n = 0
    for _, d in pairs(decisions) do if d == "reject" then n = n + 1 end end
    return n
  end)(), fastest, BONUS)

if own_sandbox then own_sandbox:stop() end
