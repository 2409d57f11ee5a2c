--- Prolific bonuses: rows, the CSV of a bonus set-up, and the `BonusBatch` class.
--
--     local batch = assert(p.bonuses:setup{ study = study.id, bonuses = {
--       { sub.participant, 1.50 },                 -- participant id, amount in MAJOR units (£1.50)
--       { submission = other.id, amount = 0.75 },  -- or a submission id, named
--     }})
--     print(batch)   --> BonusBatch 6a5bd0c5… amount 225 + fees 75 + VAT 15 = total 315 (minor units)
--     assert(batch:pay())
--
-- Bonus amounts are given in MAJOR units (pounds/dollars, the CSV convention of Prolific's API)
-- and must be numbers; the batch Prolific answers shows `amount`, `fees`, `vat` and
-- `total_amount` in MINOR units (pence/cents), as the API returns them, and cohort adds `total`
-- (what paying it costs: see `M.total`). Paying is asynchronous on Prolific and draws the total
-- from the workspace balance; paying a batch twice pays twice on Prolific, so call `pay` once
-- (`p.bonuses:pay_all`, in `cohort.workbench.bulk`, keeps a journal for that). The money guard
-- (`cohort.workbench.money`) wraps `setup` and `pay`: spend caps, a sanity limit per bonus, one
-- row per participant, and a second `pay` of a batch this client paid refused.
-- @module cohort.prolific.bonuses
local schema = require "cohort.schema"
local util = require "cohort.util"

local M = {}

local S = schema.load "prolific"
-- a participant or submission id, as the CSV names them
local ID = { type = "string", format = "objectId" }

--- Most rows one set-up request may carry.
M.MAX_ROWS = 200

--- An amount in major units as CSV text with at most 2 decimals ("30", "4.25"); raises through
-- `misuse` when it is not a finite number above 0 with at most 2 decimals.
-- @tparam function misuse raises a misuse error: `misuse(fmt, ...)`
-- @tparam string where the row as the user named it (`"bonuses[3]"`)
-- @param amount the amount, in major units
-- @treturn string the CSV text of the amount
function M.amount_text(misuse, where, amount)
  if type(amount) ~= "number" or amount ~= amount or amount == math.huge or amount == -math.huge then
    misuse("%s amount must be a finite number in major units, e.g. 1.50 for £1.50 (got %s)",
      where, util.show(amount))
  end
  if amount <= 0 then
    misuse("%s amount must be greater than 0 (major units; got %s)", where, util.show(amount))
  end
  local cents = amount * 100
  if math.abs(cents - math.floor(cents + 0.5)) > 1e-6 then
    misuse("%s amount %s has more than 2 decimals (major units, e.g. 1.25 for £1.25)", where,
      tostring(amount))
  end
  cents = math.floor(cents + 0.5)
  if cents % 100 == 0 then return ("%d"):format(math.floor(cents / 100)) end
  return ("%d.%02d"):format(math.floor(cents / 100), cents % 100)
end

--- The id a bonus row names: `{id, amount}`, `{participant = id}`, `{submission = id}`; an
-- object (a Submission) stands for its id.
-- @tparam table row
-- @return the id
function M.row_id(row)
  local id = row.participant or row.submission or row.id or row[1]
  if type(id) == "table" then id = id.id end
  return id
end

--- The amount of a bonus row, in major units.
-- @tparam table row
-- @return the amount
function M.row_amount(row)
  local a = row.amount
  if a == nil then a = row[2] end
  return a
end

--- The CSV body of a bonus set-up from rows `{id, amount}` or `{participant = id, amount =
-- x}` / `{submission = id, amount = x}` (amounts in MAJOR units).
-- @tparam function misuse raises a misuse error: `misuse(fmt, ...)`
-- @tparam table rows
-- @tparam[opt] string field the rows as the user named them (`"bonuses"`)
-- @treturn string `"<id>,<amount>\n..."`
function M.csv(misuse, rows, field)
  field = field or "bonuses"
  if type(rows) ~= "table" or #rows == 0 then
    misuse("%s must be a non-empty array of {id, amount in major units}", field)
  end
  if #rows > M.MAX_ROWS then
    misuse("%s has %d rows; at most %d per set-up (make several batches)", field, #rows,
      M.MAX_ROWS)
  end
  local out = {}
  for i, row in ipairs(rows) do
    local where = ("%s[%d]"):format(field, i)
    if type(row) ~= "table" then misuse("%s must be a table {id, amount} (got %s)", where, util.show(row)) end
    local id = M.row_id(row)
    local msg = schema.check(S, ID, id, { path = where .. " id" })
    if msg then misuse("%s", msg) end
    out[#out + 1] = id .. "," .. M.amount_text(misuse, where, M.row_amount(row)) .. "\n"
  end
  return table.concat(out)
end

local function check_setup(args, ctx)
  if type(args.study_id) == "table" then args.study_id = args.study_id.id end
  if args.study_id == nil then ctx.misuse("%s is required", ctx.name("study_id")) end
  local rows = args.csv_bonuses
  if rows == nil then ctx.misuse("%s is required", ctx.name("csv_bonuses")) end
  if type(rows) == "table" then
    args.csv_bonuses = M.csv(ctx.misuse, rows, ctx.name("csv_bonuses"))
  elseif type(rows) == "string" and rows:match("^%s*$") then
    ctx.misuse("csv_bonuses must be CSV text \"<id>,<amount in major units>\\n...\"")
  end
  return args
end

local finite, cents = util.finite, util.cents

--- What paying a batch costs, in minor units: the larger of Prolific's `total_amount` and
-- `amount + fees + vat` (they agree on Prolific and in the sandbox; were they ever to differ,
-- the guard counts the larger), rounded to a hundredth of a minor unit. Nil when the answer
-- carries neither.
-- @tparam table b a BonusBatch (as Prolific answers it)
-- @treturn ?number
function M.total(b)
  if type(b) ~= "table" then return nil end
  local t = finite(b.total_amount) and b.total_amount or nil
  if finite(b.amount) then
    local sum = b.amount + (finite(b.fees) and b.fees or 0) + (finite(b.vat) and b.vat or 0)
    if t == nil or sum > t then t = sum end
  end
  return t and cents(t)
end

-- The set-up's answer: a BonusBatch with its `total`.
local function setup_answer(value, _, client)
  if type(value) == "table" then value.total = M.total(value) end
  return client:wrap("BonusBatch", value)
end

--- Rows (see `cohort.resource`).
M.rows = {
  { op = "CreateBonusPayments", resource = "bonuses", name = "setup", class = "BonusBatch",
    aliases = { study = "study_id", bonuses = "csv_bonuses" }, prepare = check_setup,
    returns = setup_answer,
    note = "`bonuses`: rows `{id, amount}` in MAJOR units (or `csv_bonuses`, the CSV text); the batch shows MINOR units and its `total`; guarded: `spend_cap` (minor units), `max_bonus` (major units, or false)" },
  { op = "PayBonusPayments", resource = "bonuses", name = "pay",
    verbs = { pay = { on = "BonusBatch" } },
    note = "asynchronous; paying twice pays twice (the guard refuses a second pay from this client unless `{again = true}`); `{spend_cap = n}` in minor units" },
}

--- An amount of minor units as the messages show it: `315`, `283.34`.
-- @param x
-- @treturn string
function M.minor_text(x)
  if type(x) ~= "number" then return tostring(x) end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return ("%d"):format(x) end
  if math.abs(x) >= 1e15 or x ~= x then return tostring(x) end
  return ("%.2f"):format(x)
end
local money = M.minor_text

--- `BonusBatch 6a5bd0c5… amount 850 + fees 283.34 + VAT 56.67 = total 1190.01 (minor units)`
-- @tparam table b
-- @treturn string
function M.tostring(b)
  local total = b.total
  if total == nil then total = b.total_amount end
  return ("BonusBatch %s amount %s + fees %s + VAT %s = total %s (minor units)"):format(
    util.short_id(b.id), money(b.amount), money(b.fees), money(b.vat), money(total))
end

--- Classes.
M.classes = { BonusBatch = { var = "batch", tostring = M.tostring } }

return M
