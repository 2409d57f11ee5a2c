--- Prolific bonuses: set up a batch, look at its cost, then pay it.
--
--     local batch = assert(p.bonuses:setup{ study = study.id, bonuses = {
--       { sub.participant, 1.50 },                 -- participant id, amount in MAJOR units (£1.50)
--       { submission = other.id, amount = 0.75 },  -- or a submission id, named
--     }})
--     print(batch)   --> BonusBatch 6a5bd0c5… amount 225 + fees 75 + VAT 15 = total 315 (minor units)
--     assert(batch:pay())
--
-- Bonus amounts are given in MAJOR units (pounds/dollars, the CSV convention of Prolific's API);
-- the batch Prolific answers shows `amount`, `fees`, `vat` and `total_amount` in MINOR units
-- (pence/cents), as the API returns them. Paying is asynchronous on Prolific and draws
-- `total_amount` from the workspace balance; paying a batch twice pays twice on Prolific (the
-- sandbox refuses it), so call `pay` once.
-- @module cohort.prolific.bonuses
local util = require "cohort.util"

local M = {}

--- Most rows one set-up request may carry.
M.MAX_ROWS = 200

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {
  CreateBonusPayments = { "POST", "/api/v1/submissions/bonus-payments/", "bonuses", "create",
    class = "BonusBatch", body = { "study_id", "csv_bonuses" },
    required = { "study_id", "csv_bonuses" }, prepare = function(label, args)
      util.check_id(label, "study_id", args.study_id)
      if type(args.csv_bonuses) ~= "string" or args.csv_bonuses:match("^%s*$") then
        util.misuse(label, "csv_bonuses must be CSV text \"<id>,<amount in major units>\\n...\"")
      end
      return args
    end },
  PayBonusPayments = { "POST", "/api/v1/bulk-bonus-payments/{id}/pay/", "bonuses", "pay" },
}

-- An amount in major units as CSV text with at most 2 decimals ("30", "4.25").
local function amount_text(label, i, amount)
  if type(amount) == "string" then amount = tonumber(amount) end
  if type(amount) ~= "number" or amount ~= amount or amount == math.huge or amount == -math.huge then
    util.misuse(label, "bonuses[%d]: amount must be a finite number in major units (got %s)", i,
      tostring(amount))
  end
  if amount <= 0 then
    util.misuse(label, "bonuses[%d]: amount must be greater than 0 (major units; got %s)", i,
      tostring(amount))
  end
  local cents = amount * 100
  if math.abs(cents - math.floor(cents + 0.5)) > 1e-6 then
    util.misuse(label, "bonuses[%d]: amount %s has more than 2 decimals (major units, e.g. 1.25 "
      .. "for £1.25)", i, tostring(amount))
  end
  cents = math.floor(cents + 0.5)
  if cents % 100 == 0 then return ("%d"):format(cents // 100) end
  return ("%d.%02d"):format(cents // 100, cents % 100)
end

--- Build the CSV body of a bonus set-up from rows `{id, amount}` or `{participant = id,
-- amount = x}` / `{submission = id, amount = x}` (amounts in MAJOR units).
-- @tparam string label the method name for misuse errors
-- @tparam table rows
-- @treturn string `"<id>,<amount>\n..."`
function M.csv(label, rows)
  if type(rows) ~= "table" or #rows == 0 then
    util.misuse(label, "bonuses must be a non-empty array of {id, amount in major units}")
  end
  if #rows > M.MAX_ROWS then
    util.misuse(label, "bonuses has %d rows; at most %d per set-up (make several batches)", #rows,
      M.MAX_ROWS)
  end
  local out = {}
  for i, row in ipairs(rows) do
    if type(row) ~= "table" then
      util.misuse(label, "bonuses[%d] must be a table {id, amount}", i)
    end
    local id = row.participant or row.submission or row.id or row[1]
    if type(id) == "table" then id = id.id end
    local amount = row.amount
    if amount == nil then amount = row[2] end
    util.check_id(label, ("bonuses[%d] id"):format(i), id)
    if id:find(",", 1, true) then util.misuse(label, "bonuses[%d]: id contains a comma", i) end
    out[#out + 1] = id .. "," .. amount_text(label, i, amount) .. "\n"
  end
  return table.concat(out)
end

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

--- Set up bonus payments for participants (or submissions) of a study. Nothing is paid until
-- `batch:pay()`.
-- @tparam table args `study` (study id or Study), `bonuses`: an array (at most 200) of
--   `{id, amount}` or `{participant = id | submission = id, amount = x}`, amounts in MAJOR units
--   (finite, greater than 0, at most 2 decimals)
-- @treturn[1] BonusBatch with `id`, `study`, `amount`, `fees`, `vat`, `total_amount` (MINOR units)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.resource_methods.setup(res, args)
  local label = "prolific.bonuses:setup()"
  if type(args) ~= "table" then
    util.misuse(label, "expected a table {study = ..., bonuses = {{id, amount}, ...}}")
  end
  util.check_keys(label, args, { study = true, bonuses = true })
  local study = args.study
  if type(study) == "table" then study = study.id end
  util.check_id(label, "study", study)
  return res:create { study_id = study, csv_bonuses = M.csv(label, args.bonuses) }
end

--- Methods of a BonusBatch.
M.methods = {}

--- Pay the batch (asynchronous on Prolific; the workspace balance goes down by `total_amount`
-- minor units). Call it once: Prolific pays twice if asked twice (the sandbox refuses).
-- @treturn[1] string the server's acknowledgement
-- @return[2] nil
-- @treturn[2] cohort.Error (e.g. HTTP 402 when the balance is too low in the sandbox)
function M.methods.pay(client, batch)
  return client.bonuses:pay(batch.id)
end

local function money(x)
  if type(x) ~= "number" then return tostring(x) end
  if x == math.floor(x) then return ("%d"):format(math.floor(x)) end
  return ("%.2f"):format(x)
end

--- `BonusBatch 6a5bd0c5… amount 850 + fees 283.34 + VAT 56.67 = total 1190.01 (minor units)`
function M.tostring(b)
  return ("BonusBatch %s amount %s + fees %s + VAT %s = total %s (minor units)"):format(
    util.short_id(b.id), money(b.amount), money(b.fees), money(b.vat), money(b.total_amount))
end

--- Classes: name → `{methods =, tostring =}`.
M.classes = { BonusBatch = { methods = M.methods, tostring = M.tostring } }

return M
