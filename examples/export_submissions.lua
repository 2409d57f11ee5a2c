-- Export every submission of a study to CSV, with its study and bonus fields.
--
--   PROLIFIC_TOKEN=... lua5.4 examples/export_submissions.lua [STUDY_ID [OUT.csv]]
--
-- With PROLIFIC_URL pointing at a sandbox (`cohort sandbox`) it runs without money. The file is
-- written row by row as the pages arrive (through OUT.csv.tmp, renamed when complete), with a
-- progress bar on stderr when that is a terminal. Money columns are in minor units (pence/cents).
-- Without OUT.csv it goes to a new file in the temporary directory (where os.tmpname() makes
-- its files: /tmp on Linux), never into the current directory (which may be a clone of
-- cohort); the path is printed.
local cohort = require "cohort"
local export = require "cohort.workbench.export"

local p = cohort.prolific()          -- token: $PROLIFIC_TOKEN; base URL: $PROLIFIC_URL or Prolific's

local study = arg[1] or os.getenv("COHORT_STUDY") or "60aca280709ee40ec37d4885"
local out = arg[2]
if not out then
  -- os.tmpname() reserves a unique name in the temporary directory; the export goes next to it
  -- under a readable name, and the reservation is given back.
  local reserved = os.tmpname()
  local dir = assert(reserved:match("^(.*)/[^/]*$"), "no temporary directory: give OUT.csv")
  out = ("%s/submissions-%s-%s.csv"):format(dir, study, reserved:match("[^/]*$"))
  os.remove(reserved)
end

-- One small request for the count, so the progress bar can show a total and an ETA.
local first, err = p.submissions:list { study = study, page_size = 1 }
if not first then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

-- details = true fetches each submission's detail form, which carries its bonus payments.
local rows, path_or_err = export.csv(p.submissions:each { study = study, page_size = 100 }, out,
  { details = true, total = first.count, label = "submissions" })
if not rows then
  io.stderr:write(tostring(path_or_err), "\n")
  os.exit(1)
end
print(("Wrote %d submissions of study %s to %s"):format(rows, study, path_or_err))
