-- Pay bonuses from a spreadsheet, under the money guard: a CSV of participant (or submission) ids
-- and amounts in MAJOR units is read, each batch's bill (amount + Prolific's fees + VAT) is shown
-- and paid only when you say yes, within a spend cap, through the study's journal.
--
--   PROLIFIC_TOKEN=... lua5.4 examples/pay_bonuses.lua STUDY_ID bonuses.csv [--cap MINOR] [--yes]
--
-- bonuses.csv, with or without its header line (a decimal comma is fine: `"1,50"` or `id;1,50`):
--
--   participant_id,amount
--   60bf9310e8dec401be6e9615,1.50
--
-- `--cap 2000` pays at most 2000 minor units (£20.00, fees and VAT included) in this run; `--yes`
-- pays without asking. The journal is the study's store, cohort-<study id>.sqlite in the current
-- directory (or in $COHORT_STORE_DIR): run the same command again after a crash or a "no", and
-- what was paid is never paid again. With PROLIFIC_URL pointing at a sandbox it runs without money.
local cohort = require "cohort"
local bulk = require "cohort.workbench.bulk"

local function usage()
  io.stderr:write("usage: pay_bonuses.lua STUDY_ID bonuses.csv [--cap MINOR] [--yes]\n")
  os.exit(2)
end

local study, path = arg[1], arg[2]
if not study or not path then usage() end
local cap, yes = nil, false
local i = 3
while arg[i] do
  if arg[i] == "--yes" then
    yes = true
  elseif arg[i] == "--cap" and tonumber(arg[i + 1]) then
    cap = tonumber(arg[i + 1])
    i = i + 1
  else
    usage()
  end
  i = i + 1
end

local p = cohort.prolific()              -- token: $PROLIFIC_TOKEN; base URL: $PROLIFIC_URL

-- A line that cannot be read raises, naming it; a file that cannot be opened is nil, err.
local fine, rows, err = pcall(bulk.read_bonus_csv, path)
if not fine or not rows then
  print("Cannot use " .. path .. ": " .. tostring(fine and err or rows):gsub("^.-cohort: ", "cohort: "))
  os.exit(1)
end
print(("%d bonuses read from %s"):format(#rows, path))

local run
fine, run, err = pcall(p.bonuses.pay_all, p.bonuses, {
  study = study, bonuses = rows, journal = true, spend_cap = cap,
  confirm = function(batch, info)          -- after the set-up, before the payment
    print(("Batch %d of %d, %d bonuses: %s"):format(info.index, info.count, #batch.rows, tostring(batch)))
    if yes then return true end
    io.write("Pay it? [y/N] ")
    io.flush()
    local answer = io.read("*l")
    return answer ~= nil and answer:lower():sub(1, 1) == "y"
  end,
})
if not fine then err = run; run = nil end   -- a bonus above the limit, one participant twice, …
if not run then
  print("Stopped: " .. tostring(err):gsub("^.-cohort: ", "cohort: "))
  os.exit(1)
end
print(("Paid %d bonuses for %s minor units (fees and VAT included); %d were paid before")
  :format(run.paid, require("cohort.prolific.bonuses").minor_text(run.cost), run.skipped + run.verified))
print(p.money)
