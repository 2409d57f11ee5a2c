-- Quick start: who am I, and the submissions of a study.
--
--   PROLIFIC_TOKEN=... lua5.4 examples/quickstart.lua [STUDY_ID]
--
-- With PROLIFIC_URL pointing at a sandbox (make demo does this) it runs without money.
local cohort = require "cohort"

local p = cohort.prolific()          -- token: $PROLIFIC_TOKEN; base URL: $PROLIFIC_URL or Prolific's
local me = assert(p.users:me())
print("Signed in as " .. tostring(me))

local study = arg[1] or os.getenv("COHORT_STUDY") or "60aca280709ee40ec37d4885"
print("Submissions of study " .. study .. ":")
local count, by_status = 0, {}
for sub in p.submissions:each { study = study } do   -- every page, lazily
  count = count + 1
  by_status[sub.status] = (by_status[sub.status] or 0) + 1
  if count <= 5 then print("  " .. tostring(sub)) end
end
if count > 5 then print(("  … and %d more"):format(count - 5)) end

local statuses = {}
for status, n in pairs(by_status) do statuses[#statuses + 1] = ("%s %d"):format(status, n) end
table.sort(statuses)
print(("%d submissions: %s"):format(count, table.concat(statuses, ", ")))
