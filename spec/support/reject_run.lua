-- A rejection run for the journal specs: reject the submissions listed in IDS_FILE (one id a
-- line) through a journal, CONCURRENCY at a time. Arguments: URL TOKEN JOURNAL IDS_FILE
-- CONCURRENCY. Prints "done rejected=… skipped=…" and exits 0, or prints the error and exits 1.
local url, token, path, ids_file, conc = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5])
local compat = require "cohort.compat"
local p = require("cohort").prolific { token = token, base_url = url, progress = false }
local MESSAGE = ("Your answers did not follow the instructions of the study, so we cannot approve it. "):rep(2)
local items = {}
for id in assert(io.open(ids_file)):lines() do
  items[#items + 1] = { id = id, category = "FAILED_INSTRUCTIONS", message = MESSAGE }
end
local ok, run, err = pcall(p.submissions.reject_all, p.submissions, { items = items, journal = path,
  concurrency = compat.tointeger(conc) })
if not ok then err = run; run = nil end
if not run then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(("done rejected=%d skipped=%d"):format(run.rejected, run.skipped))
