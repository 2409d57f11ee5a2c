-- Review a Prolific study whose participants answered a QuestionPro survey: join the
-- submissions with the responses, decide by a rule, print the plan (a dry run), carry it out
-- with a journal, then run again to show that nothing is done twice.
--
--   PROLIFIC_TOKEN=... QUESTIONPRO_API_KEY=... lua5.4 examples/reconcile_questionpro.lua \
--       [study id] [survey id] [journal path]
--
-- Against the sandbox (PROLIFIC_URL and QUESTIONPRO_URL pointing at it) the defaults are the
-- sandbox's study 60aca280709ee40ec37d4885 and survey 7654321, whose responses carry the
-- participants' Prolific ids in custom1. On Prolific this APPROVES, REJECTS AND PAYS.
local cohort = require "cohort"

local STUDY = arg[1] or "60aca280709ee40ec37d4885"
local SURVEY = arg[2] or "7654321"
local JOURNAL = arg[3]
local own_journal = JOURNAL == nil
if own_journal then
  JOURNAL = os.tmpname() -- a fresh name: the journal's store is made on first use
  os.remove(JOURNAL)      -- (an empty file is refused: it may be a journal someone emptied)
end

local BONUS = 0.50 -- MAJOR units (£0.50), as bonuses are given

local NO_DATA = "We could not find your answers to the survey of this study: no response "
  .. "carries your Prolific ID, so there is no data to approve. Please contact us if you did "
  .. "take the survey."
local FAILED = "Your survey response was ended by the attention check, so we cannot approve "
  .. "this submission. Thank you for your time; please contact us if you think this is a mistake."

local p = cohort.prolific()       -- $PROLIFIC_TOKEN, $PROLIFIC_URL
local q = cohort.questionpro()    -- $QUESTIONPRO_API_KEY, $QUESTIONPRO_URL

local function check(value, err)
  if value == nil then
    io.stderr:write("error: ", tostring(err), "\n")
    os.exit(1)
  end
  return value
end

-- 1. Reconcile: who answered, who did not, and answers from nobody we know.
local study = check(p.studies:get(STUDY))
print(("Study:  %s"):format(tostring(study)))
local r = check(cohort.reconcile {
  submissions = p.submissions:each { study = STUDY },
  responses = q.responses:each(SURVEY),  -- custom1 carries the participant id
})
print(("Reconciled: %d submissions with a response, %d without, %d responses without a "
  .. "submission, %d participants with several responses"):format(#r.pairs,
  #r.missing_response, #r.orphan_responses, #r.duplicates))

-- 2. The rule: a completed response is approved (with a bonus for those who answer "Always"),
-- a missing one or one the survey terminated (its attention check) is rejected, a response
-- still in progress is left for a manual look.
local function rule(_, resp)
  if resp == nil then
    return { action = "reject", category = "NO_DATA", message = NO_DATA }
  end
  if resp.responseStatus == "Terminated" then
    return { action = "reject", category = "FAILED_CHECK", message = FAILED }
  end
  if resp.responseStatus ~= "Completed" then return "skip" end
  local label = resp:answer("Q1")
  return { action = "approve", bonus = label == "Always" and BONUS or nil }
end

local function review(dry_run)
  return check(cohort.review(study, {
    responses = q.responses:each(SURVEY), rule = rule,
    dry_run = dry_run, journal = not dry_run and JOURNAL or nil,
  }))
end

print("\n== Dry run: the plan, nothing sent")
local plan = review(true)

print("\n== Carrying it out, journal " .. JOURNAL)
local done = review(false)
local o = done.outcome

print("\n== Again, with the same journal")
local again = review(false)
local a = again.outcome

print(("\nFirst run: %d approved, %d rejected, %d bonuses of £%.2f; second run: %d approved, "
  .. "%d rejected, %d bonuses"):format(o.approved, o.rejected, o.bonuses_paid, BONUS,
  a.approved, a.rejected, a.bonuses_paid))
if own_journal then os.remove(JOURNAL) end
if o.approved ~= plan.todo.approve or o.rejected ~= plan.todo.reject
    or o.bonuses_paid ~= plan.todo.bonus or a.approved + a.rejected + a.bonuses_paid > 0 then
  io.stderr:write("error: the runs did not do what the plan said\n")
  os.exit(1)
end
