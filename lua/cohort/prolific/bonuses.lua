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
  if cents % 100 == 0 then return ("%d"):format(math.floor(cents / 100)) end
  return ("%d.%02d"):format(math.floor(cents / 100), cents % 100)
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
-- @function p.bonuses:setup
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

-- Minor units of a major-unit amount (2 decimals at most, checked by M.csv).
local function minor(amount)
  return math.floor(amount * 100 + 0.5)
end

-- The id a bonus row names, and "id:amount in minor units", the unit of bookkeeping.
local function row_id(row)
  local id = row.participant or row.submission or row.id or row[1]
  if type(id) == "table" then id = id.id end
  return id
end
local function row_key(row)
  return row_id(row) .. ":" .. minor(row.amount or row[2])
end

-- Did an interrupted payment of `chunk` happen? Looks for each row's amount among the bonus
-- payments of its submission, beyond those this journal already knows it paid.
local function verify_paid(client, study, chunk, known)
  local by_participant
  local paid_rows = 0
  for _, row in ipairs(chunk) do
    local id = row_id(row)
    local amount = minor(row.amount or row[2])
    local sub, err = client.submissions:get(id)
    if sub == nil and err.status == 404 then -- a participant id: find its submission
      if by_participant == nil then
        by_participant = {}
        local all, lerr = client.submissions:all { study = study }
        if not all then return nil, lerr end
        for _, s in ipairs(all) do by_participant[s.participant_id or s.participant] = s.id end
      end
      local sid = by_participant[id]
      if sid then sub, err = client.submissions:get(sid) end
    end
    if sub == nil then return nil, err end
    local count = 0
    for _, b in ipairs(sub.bonus_payments or {}) do
      if math.floor(b + 0.5) == amount then count = count + 1 end
    end
    if count > (known[row_key(row)] or 0) then paid_rows = paid_rows + 1 end
  end
  return paid_rows > 0, paid_rows
end

--- Pay bonuses to many participants, in batches of at most 200 set up and paid one after the
-- other (Prolific's advice for money operations), optionally through a journal (see
-- `cohort.workbench.journal`).
--
--     local run = assert(p.bonuses:pay_all{ study = study.id, journal = true,  -- cohort-<study>.sqlite
--       bonuses = { {sub1.id, 0.50}, {participant = pid, amount = 1.25} } })   -- MAJOR units
--     print(run.paid, run.skipped, run.verified)
--
-- With `journal`, running the same call again after a crash completes what is left: a batch
-- whose payment is recorded is skipped; a batch whose payment was sent but not answered is
-- checked against the submissions' `bonus_payments` (a payment that shows there is not made
-- again — if a participant already had a bonus of the same amount before this journal began,
-- an interrupted payment to them is counted as made, never doubled); the rest are paid.
-- Every row is checked before anything is sent; a journal held by another run, damaged or
-- foreign raises its `cohort.Error` (kind `"io"`) before anything is sent.
-- @function p.bonuses:pay_all
-- @tparam table args `study` (id or Study), `bonuses` (rows as for `setup`, any number),
--   `journal` (optional: a store file path, or true for the study's `cohort-<study id>.sqlite`), `batch_size` (at most 200, the default), `progress`
--   (a bar on stderr when it is a terminal; false: none)
-- @treturn[1] table `{paid = rows, skipped = rows, verified = rows, batches = {BonusBatch id…}}`
-- @return[2] nil
-- @treturn[2] cohort.Error (what was done before it stays done and journaled)
function M.resource_methods.pay_all(res, args)
  local label = "prolific.bonuses:pay_all()"
  local journal = require "cohort.workbench.journal"
  if type(args) ~= "table" then util.misuse(label, "expected a table {study =, bonuses =}") end
  util.check_keys(label, args, { study = true, bonuses = true, journal = true, batch_size = true,
    progress = true })
  local study = type(args.study) == "table" and args.study.id or args.study
  util.check_id(label, "study", study)
  local size = args.batch_size or M.MAX_ROWS
  if require("cohort.compat").math_type(size) ~= "integer" or size < 1 or size > M.MAX_ROWS then
    util.misuse(label, "batch_size must be an integer from 1 to %d", M.MAX_ROWS)
  end
  local rows = args.bonuses
  if type(rows) ~= "table" or #rows == 0 then
    util.misuse(label, "bonuses must be a non-empty array of {id, amount in major units}")
  end
  local chunks = {}
  for i = 1, #rows, size do
    local chunk = {}
    for k = i, math.min(i + size - 1, #rows) do chunk[#chunk + 1] = rows[k] end
    chunks[#chunks + 1] = { rows = chunk, csv = M.csv(label, chunk) } -- checks every row now
  end
  local client = res._client
  local j = journal.from_opts(label, args)
  local run = { paid = 0, skipped = 0, verified = 0, batches = {} }
  local known = {} -- submission:amount -> payments this run knows were made
  local bar = require("cohort.prompt.progress").new { label = "bonuses", total = #rows, delay = 0.5,
    enabled = args.progress == nil and client.progress or args.progress }
  local function fail(err)
    bar:finish()
    if j then j:close() end
    return nil, err
  end
  for bi, chunk in ipairs(chunks) do
    bar:set(run.paid + run.skipped + run.verified)
    local key = ("bonus:%s:%d:%s"):format(study, bi, journal.digest(chunk.csv))
    local done = j and j:outcome(key, "pay")
    if done and done.ok then
      run.skipped = run.skipped + #chunk.rows
      for _, row in ipairs(chunk.rows) do -- remember them for later verifications
        known[row_key(row)] = (known[row_key(row)] or 0) + 1
      end
    else
      local settled = false
      if j and j:uncertain(key, "pay") then
        local paid, n = verify_paid(client, study, chunk.rows, known)
        if paid == nil then return fail(n) end
        if paid then
          j:finish(key, "pay", { ok = true, verified = n })
          run.verified = run.verified + #chunk.rows
          for _, row in ipairs(chunk.rows) do known[row_key(row)] = (known[row_key(row)] or 0) + 1 end
          settled = true
        end
      end
      if not settled then
        local setup = j and j:outcome(key, "setup")
        local batch_id = setup and setup.ok and setup.batch_id
        if not batch_id then
          if j then j:begin(key, "setup", { study = study, rows = #chunk.rows }) end
          local batch, err = res:setup { study = study, bonuses = chunk.rows }
          if not batch then
            if j and journal.definite(err) then j:finish(key, "setup", { ok = false, error = tostring(err) }) end
            return fail(err)
          end
          batch_id = batch.id
          if j then j:finish(key, "setup", { ok = true, batch_id = batch_id }) end
        end
        if j then j:begin(key, "pay", { batch_id = batch_id }) end
        local ok, err = client.bonuses:pay(batch_id)
        if ok == nil then
          -- a definite refusal is recorded; anything else stays uncertain for the next run
          if j and journal.definite(err) then j:finish(key, "pay", { ok = false, error = tostring(err) }) end
          return fail(err)
        end
        if j then j:finish(key, "pay", { ok = true, batch_id = batch_id }) end
        run.paid = run.paid + #chunk.rows
        run.batches[#run.batches + 1] = batch_id
        for _, row in ipairs(chunk.rows) do known[row_key(row)] = (known[row_key(row)] or 0) + 1 end
      end
    end
  end
  bar:set(run.paid + run.skipped + run.verified)
  bar:finish()
  if j then j:close() end
  return run
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
