-- A bonus run for the journal spec: pay 0.50 to the first N submissions of a study through a
-- journal. Arguments: URL TOKEN JOURNAL N BATCH_SIZE. Prints "done" at the end.
local url, token, path, n, size = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])
local p = require("cohort").prolific { token = token, base_url = url }
local STUDY = "60aca280709ee40ec37d4885"
local subs = assert(p.submissions:all { study = STUDY, page_size = 100 })
table.sort(subs, function(a, b) return a.id < b.id end)
local rows = {}
for i = 1, n do rows[i] = { subs[i].id, 0.5 } end
local run, err = p.bonuses:pay_all { study = STUDY, bonuses = rows, journal = path, batch_size = size }
if not run then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(("done paid=%d skipped=%d verified=%d"):format(run.paid, run.skipped, run.verified))
