-- A bonus run for the journal specs: pay 0.50 to the first N submissions of a study (sorted by
-- id) through a journal, in batches of BATCH_SIZE. Arguments: URL TOKEN JOURNAL N BATCH_SIZE;
-- JOURNAL "true" is the study's default store (cohort-<study id>.sqlite in the current
-- directory). Prints "done paid=… skipped=… verified=…" and exits 0, or prints the error and
-- exits 1 (a refused journal raises; it is printed here so every Lua host shows its text).
local url, token, path, n, size = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])
local p = require("cohort").prolific { token = token, base_url = url }
local STUDY = "60aca280709ee40ec37d4885"
local subs = assert(p.submissions:all { study = STUDY, page_size = 100 })
table.sort(subs, function(a, b) return a.id < b.id end)
local rows = {}
for i = 1, n do rows[i] = { subs[i].id, 0.5 } end
local journal = path
if path == "true" then journal = true end
local ok, run, err = pcall(p.bonuses.pay_all, p.bonuses, { study = STUDY, bonuses = rows,
  journal = journal, batch_size = size })
if not ok then err = run; run = nil end
if not run then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(("done paid=%d skipped=%d verified=%d"):format(run.paid, run.skipped, run.verified))
