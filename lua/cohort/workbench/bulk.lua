--- Bulk jobs and waits: the helpers that make many requests for one call, built on the
-- generated methods and attached to the resources they belong to.
--
--     assert(p.submissions:approve_all{ ids = passed, journal = "review.sqlite" })
--     assert(p.submissions:reject_all{ items = failed, journal = "review.sqlite" })
--     local run = assert(p.bonuses:pay_all{ study = id, bonuses = rows, journal = true })  -- cohort-<study id>.sqlite
--     local rows = assert(bulk.read_bonus_csv("bonuses.csv"))        -- id,amount lines, MAJOR units
--     local subs, errors = p.submissions:get_many(ids, { concurrency = 16 })
--     sub = assert(sub:wait_for("AWAITING REVIEW", { timeout = 60 }))
--
-- Every helper checks every item before the first request is sent, so a misuse raises with
-- nothing sent (`pay_all` may first read the study's reward, for its limit per bonus; nothing
-- that spends is sent before every check has passed). The money and review jobs (`approve_all`, `reject_all`, `pay_all`) take a
-- `journal` (a store file path, or `true` for the study's `cohort-<study id>.sqlite`; see
-- `cohort.workbench.journal`): a re-run after a crash does what is left, never a step twice; a
-- journal held by another run, damaged or foreign raises its `cohort.Error` (kind `"io"`)
-- before anything is sent.
-- @module cohort.workbench.bulk
local async = require "cohort.async"
local compat = require "cohort.compat"
local core = require "cohort.core"
local Error = require "cohort.error"
local resource = require "cohort.resource"
local schema = require "cohort.schema"
local util = require "cohort.util"

local M = {}

local IDS = { type = "array", items = { type = "string", format = "objectId" } }

-- ------------------------------------------------------------------ many calls of one row

-- The message of a misuse error without its position and prefix (for "item 3: ...").
local function bare(msg, label)
  msg = tostring(msg)
  local at = msg:find("cohort: " .. label .. ": ", 1, true)
  if at then return msg:sub(at + #("cohort: " .. label .. ": ")) end
  return (msg:gsub("^.-cohort: .-%(%): ", ""))
end

--- Run one operation row for many argument lists, `concurrency` at a time: every request is
-- built (and so checked) before the first is sent; then they go out through `client:map`,
-- results in input order with per-item errors.
-- @tparam Client client
-- @tparam table c the compiled row (`resource.row`)
-- @tparam string label the helper's name for misuse errors
-- @tparam table packs an array of `{ids = {...}, args = {...}}`
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table values (`n` = count; nil where an item failed)
-- @treturn table errors by index (`count` = how many failed)
function M.many(client, c, label, packs, opts)
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "options must be a table (got %s)", util.show(opts)) end
  util.check_keys(label, opts, { concurrency = true, progress = true })
  local P = resource.registry[client.name]
  local reqs = {}
  for i, pack in ipairs(packs) do
    local ok, req = pcall(resource.build, P, client, c, label, pack.ids, pack.args)
    if not ok then util.misuse(label, "item %d: %s", i, bare(req, label)) end
    reqs[i] = req
  end
  return client:map(reqs, function(req)
    return resource.run(P, client, c, "call", req)
  end, { concurrency = opts.concurrency, progress = opts.progress, label = label })
end

-- ------------------------------------------------------------------ journaled steps, many at once

local function checked_concurrency(label, conc)
  if conc == nil then return 8 end
  if compat.math_type(conc) ~= "integer" or conc < 1 or conc > 64 then
    util.misuse(label, "concurrency must be an integer from 1 to 64 (got %s)", util.show(conc))
  end
  return conc
end

-- Journal records waiting to be committed together, in one transaction (one sync to disk):
-- the intents of the steps about to be sent and the outcomes of those answered since the last
-- commit. `ticket` stands for the records added since the last commit; `flush` commits them
-- and marks it (`committed`, or `failed` with the error).
local function batcher(j)
  local b = { pending = {}, ticket = {} }
  function b.add(method, key, step, data)
    b.pending[#b.pending + 1] = { method, key, step, data }
    return b.ticket
  end
  function b.flush()
    local list, ticket = b.pending, b.ticket
    b.pending, b.ticket = {}, {}
    if #list == 0 then ticket.committed = true; return true end
    local ok, err = pcall(j.group, j, function(g)
      for _, r in ipairs(list) do g[r[1]](g, r[2], r[3], r[4]) end
    end)
    if ok then ticket.committed = true else ticket.failed = err end
    return ok, err
  end
  -- On disk once this returns true: the records of `ticket`, and those that other tasks resumed
  -- in the same step of the scheduler added meanwhile (the one yield lets them add theirs).
  function b.sync(ticket)
    if not ticket.committed and not ticket.failed then
      coroutine.yield() -- resumed at the next step, after the other tasks ready now
      if not ticket.committed and not ticket.failed then b.flush() end
    end
    if ticket.failed then return nil, ticket.failed end
    return true
  end
  return b
end

--- Run journaled steps, `concurrency` at a time (the engine of `reject_all`). Each step is a
-- table `{key =, step =, data =, check =, send =}`: a step whose outcome the journal records
-- as done is skipped; one begun but not finished is first checked (`check()` returns true when
-- it happened, false when not, or nil, err); the others are sent (`send()` returns a value, or
-- nil, err). Intent before sending, outcome after the answer, never the other way: the intents
-- of the steps started together and the outcomes that arrived together are committed in one
-- transaction, and a step is sent only once its intent is on disk. On a failure no new step is
-- started; the steps in flight are finished and recorded (a definite refusal as `ok = false`;
-- an unknown outcome is left open for the next run to check).
-- @tparam Client client
-- @tparam string label the method, for misuse errors
-- @tparam[opt] Journal j the journal, or nil
-- @tparam table steps the steps, in order
-- @tparam table opts `concurrency` (1 to 64), `bar` (a progress bar, or nil)
-- @treturn[1] table `{done = n, skipped = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error the first failure
-- @raise the journal's `cohort.Error` (kind `"io"`) when a record cannot be written; the step
--   it covers was not sent
function M.steps(client, label, j, steps, opts)
  local journal = require "cohort.workbench.journal"
  local n, bar = #steps, opts.bar
  local run = { done = 0, skipped = 0 }
  local next_i, stop, first_err, fatal = 0, false, nil, nil
  local b = j and batcher(j)
  local function tick() if bar then bar:set(run.done + run.skipped) end end
  local function failed(err)
    stop = true
    if first_err == nil then first_err = err end
  end
  local function lane()
    local mine -- the ticket of the last record this lane added
    while not stop and next_i < n do
      next_i = next_i + 1
      local s = steps[next_i]
      local skip = false
      if j then
        local done = j:outcome(s.key, s.step)
        skip = done and done.ok
        if not skip and j:uncertain(s.key, s.step) then
          local happened, err = s.check()
          if happened == nil then failed(err); break end
          if happened then
            skip = true
            mine = b.add("finish", s.key, s.step, { ok = true, verified = true })
          end
        end
      end
      if skip then
        run.skipped = run.skipped + 1
      else
        if j then
          local ok, err = b.sync(b.add("begin", s.key, s.step, s.data))
          if not ok then fatal = fatal or err; stop = true; break end
        end
        if stop then -- another lane failed meanwhile: this one is recorded as not sent
          if j then
            mine = b.add("finish", s.key, s.step, { ok = false, error = "not sent: the run stopped at a failure" })
          end
          break
        end
        local value, err = s.send()
        if value == nil then
          if j and journal.definite(err) then
            mine = b.add("finish", s.key, s.step, { ok = false, error = tostring(err) })
          end
          failed(err)
          break
        end
        if j then mine = b.add("finish", s.key, s.step, { ok = true }) end
        run.done = run.done + 1
      end
      tick()
    end
    if mine then
      local ok, err = b.sync(mine)
      if not ok then fatal = fatal or err end
    end
    return true
  end
  local lanes = {}
  for k = 1, math.min(opts.concurrency, n) do lanes[k] = k end
  local _, errors = client:map(lanes, lane, { concurrency = #lanes, progress = false }, label)
  if b then b.flush() end -- anything a lane that raised left behind
  if fatal then error(fatal, 0) end
  for k = 1, #lanes do
    local e = errors[k]
    if e ~= nil then
      if Error.is(e) and e.kind == "closed" then return nil, e end
      error(e, 0) -- a lane raised: a bug, not a failure of the steps
    end
  end
  tick()
  if first_err then return nil, first_err end
  return run
end

local function progress_bar(client, args, label, total)
  local enabled = args.progress
  if enabled == nil then enabled = client.progress end
  return require("cohort.prompt.progress").new { label = label, total = total, delay = 0.5,
    enabled = enabled }
end

-- ------------------------------------------------------------------ Prolific

local submissions = require "cohort.prolific.submissions"
local bonuses = require "cohort.prolific.bonuses"

local H = {} -- helper name -> function(res_or_obj, ...) taking the client as upvalue via `res._client`

--- Fetch many submissions (the detail form), `concurrency` at a time.
-- @tparam table res the resource the helper is attached to
-- @tparam table ids submission ids (or Submission objects); all are checked before sending
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table Submissions in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
function H.get_many(res, ids, opts)
  local label = "p.submissions:get_many()"
  if type(ids) ~= "table" then util.misuse(label, "ids must be an array of submission ids (got %s)", util.show(ids)) end
  local packs = {}
  for i, id in ipairs(ids) do packs[i] = { ids = { type(id) == "table" and id.id or id } } end
  return M.many(res._client, resource.row("prolific", "submissions", "get"), label, packs, opts)
end

-- the ids of `list` (strings or objects with an id), checked as Prolific ids
local function checked_ids(label, list, field)
  if type(list) ~= "table" or #list == 0 then
    util.misuse(label, "%s must be a non-empty array of submission ids", field)
  end
  local ids = {}
  for i, x in ipairs(list) do ids[i] = type(x) == "table" and x.id or x end
  local msg = schema.check(nil, IDS, ids, { path = field })
  if msg then util.misuse(label, "%s", msg) end
  return ids
end

--- Approve many submissions: batches of at most 1,000 through the bulk-approve endpoint, one
-- batch after the other (one request a batch), optionally through a journal. With `journal`,
-- a re-run skips batches whose approval is recorded and, for a batch sent but not answered,
-- checks the status of its submissions (8 at a time) and sends only those not APPROVED yet.
-- @tparam table res the resource the helper is attached to
-- @tparam table args `ids` (submission ids or Submission objects), `study` (optional: the
--   study they belong to, part of the journal's keys), `journal` (a store file path, or true), `batch_size`
--   (at most 1000, the default), `progress`
-- @treturn[1] table `{approved = n, skipped = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function H.approve_all(res, args)
  local label = "p.submissions:approve_all()"
  local journal = require "cohort.workbench.journal"
  if type(args) ~= "table" then util.misuse(label, "expected a table {ids = ...}") end
  util.check_keys(label, args, { ids = true, study = true, journal = true, batch_size = true,
    progress = true })
  local size = args.batch_size or submissions.MAX_BULK
  if compat.math_type(size) ~= "integer" or size < 1 or size > submissions.MAX_BULK then
    util.misuse(label, "batch_size must be an integer from 1 to %d (got %s)", submissions.MAX_BULK,
      util.show(size))
  end
  local ids = checked_ids(label, args.ids, "ids")
  local study = type(args.study) == "table" and args.study.id or args.study
  if study ~= nil then
    local msg = schema.check(nil, IDS.items, study, { path = "study" })
    if msg then util.misuse(label, "%s", msg) end
  end
  local j = journal.from_opts(label, args)
  local run = { approved = 0, skipped = 0 }
  local bar = progress_bar(res._client, args, "approvals", #ids)
  local function fail(err)
    bar:finish()
    if j then j:close() end
    return nil, err
  end
  for first = 1, #ids, size do
    bar:set(run.approved + run.skipped)
    local batch = { compat.unpack(ids, first, math.min(first + size - 1, #ids)) }
    local key = "approve:" .. journal.digest(table.concat(batch, ","))
    local done = j and j:outcome(key, "approve")
    if done and done.ok then
      run.skipped = run.skipped + #batch
    else
      if j and j:uncertain(key, "approve") then -- sent, answer unknown: keep the rest only
        local subs, errors = H.get_many(res, batch, { progress = false }) -- 8 at a time
        local rest = {}
        for i, id in ipairs(batch) do
          if subs[i] == nil then return fail(errors[i]) end
          if subs[i].status ~= "APPROVED" then rest[#rest + 1] = id end
        end
        run.skipped = run.skipped + #batch - #rest
        batch = rest
      end
      if #batch > 0 then
        if j then j:begin(key, "approve", { count = #batch, study = study }) end
        local ok, err = res:bulk_approve { ids = batch }
        if ok == nil then
          if j and journal.definite(err) then j:finish(key, "approve", { ok = false, error = tostring(err) }) end
          return fail(err)
        end
        run.approved = run.approved + #batch
      end
      if j then j:finish(key, "approve", { ok = true }) end
    end
  end
  bar:set(run.approved + run.skipped)
  bar:finish()
  if j then j:close() end
  return run
end

--- Reject many submissions, `concurrency` at a time (default 8, at most 64), optionally
-- through a journal. Every item is checked before anything is sent. With `journal`, each
-- rejection is recorded once before it is sent and once after its answer: the intents of the
-- rejections sent together are committed in one transaction (one sync to disk) before any of
-- them goes out, and each outcome is committed after its answer, with whatever else is ready
-- then. A re-run skips recorded rejections and does not send again one whose submission is
-- already REJECTED. On a failure no further rejection is started; those in flight are
-- finished and recorded, then the first error is returned.
-- @tparam table res the resource the helper is attached to
-- @tparam table args `items` (`{id =, message =, category =}`), `journal`, `concurrency`,
--   `progress`
-- @treturn[1] table `{rejected = n, skipped = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function H.reject_all(res, args)
  local label = "p.submissions:reject_all()"
  local journal = require "cohort.workbench.journal"
  if type(args) ~= "table" then util.misuse(label, "expected a table {items = ...}") end
  util.check_keys(label, args, { items = true, journal = true, concurrency = true, progress = true })
  if type(args.items) ~= "table" or #args.items == 0 then
    util.misuse(label, "items must be a non-empty array of {id =, message =, category =}")
  end
  local conc = checked_concurrency(label, args.concurrency)
  local bodies = {}
  for i, item in ipairs(args.items) do
    local where = ("items[%d]"):format(i)
    if type(item) ~= "table" then util.misuse(label, "%s must be a table (got %s)", where, util.show(item)) end
    util.check_keys(label, item, { id = true, message = true, category = true })
    local id = type(item.id) == "table" and item.id.id or item.id
    local msg = schema.check(nil, IDS.items, id, { path = where .. ".id" })
    if msg then util.misuse(label, "%s", msg) end
    bodies[i] = { id = id, body = submissions.prepare_transition(label, {
      action = "REJECT", message = item.message, rejection_category = item.category },
      { rejection_category = "category" }, where .. ".") }
  end
  local steps = {}
  for i, b in ipairs(bodies) do
    steps[i] = {
      key = "reject:" .. b.id, step = "reject",
      check = function() -- sent before, answer unknown: did it happen?
        local sub, err = res:get(b.id)
        if not sub then return nil, err end
        return sub.status == "REJECTED"
      end,
      send = function() return res:transition(b.id, b.body) end,
    }
  end
  local j = journal.from_opts(label, args)
  local bar = progress_bar(res._client, args, "rejections", #steps)
  local ok, run, err = async.pcall(M.steps, res._client, label, j, steps, { concurrency = conc, bar = bar })
  bar:finish()
  if j then j:close() end
  if not ok then error(run, 0) end -- the journal could not be written: nothing more was sent
  if not run then return nil, err end
  return { rejected = run.done, skipped = run.skipped }
end

-- Minor units of a major-unit amount (2 decimals at most, checked by bonuses.csv).
local function minor(amount)
  return math.floor(amount * 100 + 0.5)
end

local function row_key(row)
  return bonuses.row_id(row) .. ":" .. minor(bonuses.row_amount(row))
end

-- Did an interrupted payment of `chunk` happen? Looks for each row's amount among the bonus
-- payments of its submission, beyond those this journal already knows it paid.
local function verify_paid(client, study, chunk, known)
  local by_participant
  local paid_rows = 0
  for _, row in ipairs(chunk) do
    local id = bonuses.row_id(row)
    local amount = minor(bonuses.row_amount(row))
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

--- Pay bonuses to many participants, in batches of at most 200 (Prolific's advice for money
-- operations), under the money guard (`cohort.workbench.money`), optionally through a journal.
--
-- Before anything is sent every row is checked (ids, amounts that are numbers in MAJOR units,
-- one row per participant or submission) and each bonus against the sanity limit (by default
-- `money.BONUS_LIMIT` × the study's reward, fetched once; `max_bonus` overrides it). Then every
-- batch still to pay is set up (nothing is paid by a set-up) and the whole bill — amounts, fees
-- and VAT as Prolific's set-up answers them — is checked against `spend_cap` and the client's
-- cap; only then are the batches paid, one after the other, each after `confirm(batch, info)`
-- returned true when a `confirm` is given.
--
-- With `journal`, running the same call again after a crash completes what is left: a batch
-- whose payment is recorded is skipped; a batch whose payment was sent but not answered is
-- checked against the submissions' `bonus_payments` (a payment that shows there is not made
-- again — if a participant already had a bonus of the same amount before this journal began,
-- an interrupted payment to them is counted as made, never doubled); a batch set up but not
-- paid (stopped by a cap, a declined `confirm`, a crash) is paid with the same set-up.
-- @tparam table res the resource the helper is attached to
-- @tparam table args `study` (id or Study), `bonuses` (rows as for `p.bonuses:setup`, MAJOR
--   units, any number; `cohort.workbench.bulk.read_bonus_csv` reads them from a file),
--   `journal`, `batch_size` (at most 200, the default), `spend_cap` (minor units, fees and VAT
--   included: the most this call may pay), `max_bonus` (major units: the largest bonus
--   allowed, instead of the default limit; false: none), `confirm` (`function(batch, info)`,
--   called after the set-up of each batch and before its payment with the BonusBatch — its
--   `rows` `{id, amount}` and `total` in minor units — and `info` `{index, count, bill}` (this
--   batch's place among those to pay now, their number, and their total); only `true` pays it),
--   `progress`
-- @treturn[1] table `{paid = rows, skipped = rows, verified = rows, batches = {BonusBatch id…},
--   cost = minor units this call paid}`
-- @return[2] nil
-- @treturn[2] cohort.Error (what was done before it stays done and journaled); kind
--   `"refused"` when a cap would be passed (`SPEND_CAP`, nothing of it paid) or `confirm` did
--   not return true (`NOT_CONFIRMED`: `err.batch`, and `err.run` for what was paid before)
function H.pay_all(res, args)
  local label = "p.bonuses:pay_all()"
  local journal = require "cohort.workbench.journal"
  local money = require "cohort.workbench.money"
  if type(args) ~= "table" then util.misuse(label, "expected a table {study =, bonuses =}") end
  util.check_keys(label, args, { study = true, bonuses = true, journal = true, batch_size = true,
    progress = true, spend_cap = true, max_bonus = true, confirm = true })
  local study = type(args.study) == "table" and args.study.id or args.study
  local msg = schema.check(nil, IDS.items, study, { path = "study" })
  if msg then util.misuse(label, "%s", msg) end
  local size = args.batch_size or bonuses.MAX_ROWS
  if compat.math_type(size) ~= "integer" or size < 1 or size > bonuses.MAX_ROWS then
    util.misuse(label, "batch_size must be an integer from 1 to %d (got %s)", bonuses.MAX_ROWS,
      util.show(size))
  end
  local cap = money.check_cap(label, args.spend_cap)
  money.check_max_bonus(label, args.max_bonus)
  local confirm = args.confirm
  if confirm ~= nil and type(confirm) ~= "function" then
    util.misuse(label, "confirm must be a function(batch, info) that returns true to pay the "
      .. "batch (got %s)", util.show(confirm))
  end
  -- every row checked now, named by its place in the whole list
  local entries = money.check_rows(label, args.bonuses, "bonuses")
  local chunks = {}
  for i = 1, #entries, size do
    local chunk = { entries = {}, rows = {}, minor = 0 }
    local lines = {}
    for k = i, math.min(i + size - 1, #entries) do
      local e = entries[k]
      chunk.entries[#chunk.entries + 1] = e
      chunk.rows[#chunk.rows + 1] = e.row
      lines[#lines + 1] = e.id .. "," .. e.text .. "\n" -- as bonuses.csv writes it
      chunk.minor = chunk.minor + e.minor
    end
    chunk.csv = table.concat(lines)
    chunks[#chunks + 1] = chunk
  end
  local client = res._client
  local g = money.guard(client)
  local limit, lerr = money.bonus_limit(client, args.study, args.max_bonus)
  if limit == nil then return nil, lerr end
  money.check_limit(client, label, entries, limit)
  local P = resource.registry.prolific
  local c_setup = resource.row("prolific", "bonuses", "setup")
  local c_pay = resource.row("prolific", "bonuses", "pay")
  local j = journal.from_opts(label, args)
  local run = { paid = 0, skipped = 0, verified = 0, batches = {}, cost = 0 }
  local known = {} -- submission:amount -> payments this run knows were made
  local bar = progress_bar(client, args, "bonuses", #entries)
  local function fail(err)
    bar:finish()
    if j then j:close() end
    return nil, err
  end
  local function remember(chunk)
    for _, row in ipairs(chunk.rows) do known[row_key(row)] = (known[row_key(row)] or 0) + 1 end
  end
  local function progress() bar:set(run.paid + run.skipped + run.verified) end
  -- 1. what the journal says is done, and what an interrupted run left open
  local pending = {}
  for bi, chunk in ipairs(chunks) do
    progress()
    chunk.index = bi
    chunk.key = ("bonus:%s:%d:%s"):format(study, bi, journal.digest(chunk.csv))
    local key = chunk.key
    local done = j and j:outcome(key, "pay")
    if done and done.ok then
      run.skipped = run.skipped + #chunk.rows
      remember(chunk) -- for later verifications
    else
      local settled = false
      if j and j:uncertain(key, "pay") then
        local paid, n = verify_paid(client, study, chunk.rows, known)
        if paid == nil then return fail(n) end
        if paid then
          j:finish(key, "pay", { ok = true, verified = n })
          run.verified = run.verified + #chunk.rows
          remember(chunk)
          settled = true
        end
      end
      if not settled then pending[#pending + 1] = chunk end
    end
  end
  local call = cap and { cap = cap, spent = 0 } or nil
  local rows_left = 0
  for _, chunk in ipairs(pending) do rows_left = rows_left + #chunk.rows end
  -- 2. the amounts alone against the caps: nothing is sent when they pass one
  if #pending > 0 then
    local amount = 0
    for _, chunk in ipairs(pending) do amount = amount + chunk.minor end
    local err = money.check(g, label, money.these_bonuses(rows_left), amount, call,
      "nothing was sent", " before fees and VAT")
    if err then return fail(err) end
  end
  -- 3. set up what is to pay (a set-up pays nothing), so the whole bill is known
  local bill = 0
  for _, chunk in ipairs(pending) do
    local key = chunk.key
    local setup = j and j:outcome(key, "setup")
    local batch
    if setup and setup.ok and setup.batch_id and (setup.total ~= nil or j:intent(key, "pay")) then
      batch = client:wrap("BonusBatch", { id = setup.batch_id, study = study, amount = setup.amount,
        fees = setup.fees, vat = setup.vat, total_amount = setup.total_amount, total = setup.total })
    else
      if j then j:begin(key, "setup", { study = study, rows = #chunk.rows }) end
      local err
      batch, err = resource.run(P, client, c_setup, "call", resource.build(P, client, c_setup,
        label, {}, { study_id = study, csv_bonuses = chunk.csv }))
      if not batch then
        if j and journal.definite(err) then j:finish(key, "setup", { ok = false, error = tostring(err) }) end
        return fail(err)
      end
      if j then
        j:finish(key, "setup", { ok = true, batch_id = batch.id, amount = batch.amount,
          fees = batch.fees, vat = batch.vat, total_amount = batch.total_amount, total = batch.total })
      end
    end
    batch.rows = money.rows_of(chunk.entries)
    money.note_batch(g, batch)
    chunk.batch = batch
    if bill and batch.total then bill = bill + batch.total else bill = nil end
  end
  bill = bill and money.cents(bill)
  -- 4. the whole bill against the caps: nothing is paid when it passes one
  if #pending > 0 then
    local what = #pending == 1 and ("paying bonus batch %s"):format(util.short_id(pending[1].batch.id))
      or ("paying %d batches (%d bonuses)"):format(#pending, rows_left)
    local err = money.check(g, label, what, bill, call,
      "nothing was paid (the batches are set up; the same call with the same journal pays them)")
    if err then return fail(err) end
  end
  -- 5. confirm and pay, one batch after the other
  for pi, chunk in ipairs(pending) do
    progress()
    local key, batch = chunk.key, chunk.batch
    if confirm then
      local info = { index = pi, count = #pending, bill = bill }
      local yes
      if compat.yield_across_pcall then
        local fine, r = pcall(confirm, batch, info)
        if not fine then
          fail()
          error(r, 0)
        end
        yes = r
      else
        yes = confirm(batch, info) -- (Lua 5.1 cannot yield across pcall)
      end
      if yes ~= true then
        if j then j:finish(key, "confirm", { ok = false, batch_id = batch.id, total = batch.total }) end
        return fail(Error.new { kind = "refused", code = "NOT_CONFIRMED", platform = "prolific",
          attempts = 0, title = "Not confirmed", batch = batch, run = run,
          message = ("%s: batch %d of %d (%d bonus%s, total %s minor units) was not confirmed, so "
            .. "nothing of it was paid%s; the same call (with the same journal) asks again")
            :format(label, pi, #pending, #chunk.rows, #chunk.rows == 1 and "" or "es",
              bonuses.minor_text(batch.total), run.paid > 0
                and (" (%d bonuses were paid before it)"):format(run.paid) or "") })
      end
    end
    local charge, cerr = money.reserve(g, label, "paying bonus batch " .. util.short_id(batch.id),
      batch.total, call, { batch = batch.id, study = study })
    if not charge then return fail(cerr) end
    if j then
      local fine, jerr = pcall(j.begin, j, key, "pay", { batch_id = batch.id })
      if not fine then -- not on disk: not sent
        money.settle(g, charge, "refused", call)
        fail()
        error(jerr, 0)
      end
    end
    local ok, err = resource.run(P, client, c_pay, "call",
      resource.build(P, client, c_pay, label, { batch.id }))
    if ok == nil then
      -- a definite refusal is recorded; anything else stays uncertain for the next run
      local sure = journal.definite(err)
      money.settle(g, charge, sure and "refused" or "unknown", call)
      if j and sure then j:finish(key, "pay", { ok = false, error = tostring(err) }) end
      return fail(err)
    end
    money.settle(g, charge, "paid", call)
    if j then j:finish(key, "pay", { ok = true, batch_id = batch.id }) end
    run.paid = run.paid + #chunk.rows
    run.cost = money.cents(run.cost + (batch.total or 0))
    run.batches[#run.batches + 1] = batch.id
    remember(chunk)
  end
  progress()
  bar:finish()
  if j then j:close() end
  return run
end

--- Read a bonus CSV (a file path, or the text) into rows for `pay_all`; see
-- `cohort.workbench.money.read_bonus_csv`.
-- @tparam string path_or_text
-- @treturn[1] table rows `{id, amount, line = n}`
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"decode"` (a line that cannot be read: `code` `"BAD_LINE"`,
--   `line`) or `"io"` (a file that cannot be read)
function M.read_bonus_csv(path_or_text)
  return require("cohort.workbench.money").read_bonus_csv(path_or_text)
end

--- Parse a bonus CSV text into rows; see `cohort.workbench.money.parse_bonus_csv`.
-- @tparam string text
-- @treturn[1] table rows
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"decode"` (`code` `"BAD_LINE"`, `line`)
function M.parse_bonus_csv(text)
  return require("cohort.workbench.money").parse_bonus_csv(text)
end

--- Subscribe to an event type: create the subscription and confirm it with the
-- `X-Hook-Secret` the server answered, so the subscription returned is confirmed and enabled.
-- @tparam table res the resource the helper is attached to
-- @tparam table args `workspace_id`, `event_type` (e.g. `"submission.status.change"`),
--   `target_url`
-- @treturn[1] Subscription the confirmed subscription
-- @return[2] nil
-- @treturn[2] cohort.Error (kind `"decode"` when the answer carries no X-Hook-Secret)
function H.subscribe(res, args)
  local label = "p.hooks:subscribe()"
  local client = res._client
  local P = resource.registry.prolific
  local c = resource.row("prolific", "hooks", "create_subscription")
  local req = resource.build(P, client, c, label, {}, args)
  local value, secret = resource.run(P, client, c, "call", req)
  if value == nil then return nil, secret end
  if type(secret) ~= "string" or secret == "" then
    return nil, Error.new { kind = "decode", platform = client.platform, attempts = 1,
      title = "Missing X-Hook-Secret",
      message = "the subscription was created (id " .. tostring(value.id)
        .. ") but the answer carries no X-Hook-Secret header to confirm it with" }
  end
  return client.hooks:confirm(value.id, { secret = secret, workspace_id = value.workspace_id,
    event_type = value.event_type, target_url = value.target_url })
end

--- Add many responses to a survey, `concurrency` at a time; every response is checked before
-- the first is sent.
-- @tparam table res the resource the helper is attached to
-- @tparam string survey_id
-- @tparam table responses an array of response bodies as for `add_response`
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress`
-- @treturn table SurveyResponses in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
function H.add_responses(res, survey_id, responses, opts)
  local label = "p.surveys:add_responses()"
  if type(responses) ~= "table" then util.misuse(label, "responses must be an array (got %s)", util.show(responses)) end
  local packs = {}
  for i, body in ipairs(responses) do packs[i] = { ids = { survey_id }, args = body } end
  return M.many(res._client, resource.row("prolific", "surveys", "add_response"), label, packs, opts)
end

--- Statuses a submission never leaves (by itself).
M.FINAL = { APPROVED = true, REJECTED = true, RETURNED = true, ["TIMED-OUT"] = true,
  ["SCREENED OUT"] = true, ["PARTIALLY APPROVED"] = true }

local ORDER = { RESERVED = 1, ACTIVE = 2, ["AWAITING REVIEW"] = 3 }

--- Poll the submission until it reaches `status` (inside a task it yields between polls;
-- outside one it sleeps). Gives up early when the submission reaches a final status
-- (RETURNED, APPROVED, ...) that is not the one awaited.
-- @tparam Client client the client of the submission
-- @tparam table sub the Submission
-- @tparam string status e.g. `"AWAITING REVIEW"` (or `"AWAITING_REVIEW"`)
-- @tparam[opt] table opts `timeout` (seconds, default 60), `interval` (seconds between polls,
--   default 1)
-- @treturn[1] Submission the submission in that status (detail form)
-- @return[2] nil
-- @treturn[2] cohort.Error of kind `"timeout"` (`err.submission` holds the last one seen), or
--   the error of a failed poll
function M.wait_for(client, sub, status, opts)
  local label = "sub:wait_for()"
  local want = type(status) == "string" and status:upper():gsub("_", " ") or status
  if want == "TIMED OUT" then want = "TIMED-OUT" end
  if not submissions.STATUSES[want] then
    util.misuse(label, "status must be one of %s (got %s)", util.sorted_keys(submissions.STATUSES),
      util.show(status))
  end
  opts = opts or {}
  if type(opts) ~= "table" then util.misuse(label, "opts must be a table {timeout =, interval =}") end
  util.check_keys(label, opts, { timeout = true, interval = true })
  local timeout, interval = opts.timeout or 60, opts.interval or 1
  if type(timeout) ~= "number" or not (timeout >= 0) then
    util.misuse(label, "timeout must be a number of seconds (got %s)", util.show(timeout))
  end
  if type(interval) ~= "number" or not (interval > 0) then
    util.misuse(label, "interval must be a positive number of seconds (got %s)", util.show(interval))
  end
  local deadline = core.monotime() + timeout
  local last = sub
  while true do
    local cur, err = client.submissions:get(sub.id)
    if cur == nil then return nil, err end
    last = cur
    if cur.status == want then return cur end
    local unreachable = M.FINAL[cur.status]
      or (ORDER[cur.status] and ORDER[want] and ORDER[cur.status] > ORDER[want])
    if unreachable then
      return nil, Error.new { kind = "timeout", code = "UNREACHABLE", platform = "prolific",
        title = "Status not reached", method = "GET", submission = cur, attempts = 1,
        message = ("submission %s is %s and will not become %s"):format(sub.id, cur.status, want) }
    end
    local left = deadline - core.monotime()
    if left <= 0 then
      return nil, Error.new { kind = "timeout", platform = "prolific", title = "Timed out",
        method = "GET", submission = last, attempts = 1,
        message = ("submission %s is still %s after %gs waiting for %s"):format(sub.id,
          tostring(last.status), timeout, want) }
    end
    client:sleep(math.min(interval, left))
  end
end

-- ------------------------------------------------------------------ QuestionPro

--- Post many responses to a survey, `concurrency` at a time (default 8, at most 64). Every
-- response is checked before the first is sent.
-- @tparam table res the resource the helper is attached to
-- @tparam integer|string survey_id
-- @tparam table list an array of response bodies, as for `create`
-- @tparam[opt] table opts `concurrency`, `progress`
-- @treturn table the created responses in input order (`n` = count; nil where one failed)
-- @treturn table errors by index (`count` = how many failed)
function H.create_many(res, survey_id, list, opts)
  local label = "q.responses:create_many()"
  if type(list) ~= "table" then util.misuse(label, "expected an array of responses (got %s)", util.show(list)) end
  local packs = {}
  for i, body in ipairs(list) do packs[i] = { ids = { survey_id }, args = body } end
  return M.many(res._client, resource.row("questionpro", "responses", "create"), label, packs, opts)
end

-- ------------------------------------------------------------------ the registry

-- platform → the helpers: resource (or `on`, a class), name, call, returns, function
local HELPERS = {
  prolific = {
    { resource = "submissions", name = "get_many", fn = H.get_many,
      call = "p.submissions:get_many(ids, {concurrency, progress})",
      returns = "Submissions in input order, and the errors by index" },
    { resource = "submissions", name = "approve_all", fn = H.approve_all,
      call = "p.submissions:approve_all{ids, study, journal, batch_size, progress}",
      returns = "{approved, skipped} (or nil, err)" },
    { resource = "submissions", name = "reject_all", fn = H.reject_all,
      call = "p.submissions:reject_all{items, journal, concurrency, progress}",
      returns = "{rejected, skipped} (or nil, err)" },
    { resource = "bonuses", name = "pay_all", fn = H.pay_all,
      call = "p.bonuses:pay_all{study, bonuses, journal, spend_cap, max_bonus, confirm, batch_size, progress}",
      returns = "{paid, skipped, verified, batches, cost} (or nil, err)" },
    { resource = "hooks", name = "subscribe", fn = H.subscribe,
      call = "p.hooks:subscribe{workspace_id, event_type, target_url}",
      returns = "the confirmed Subscription (or nil, err)" },
    { resource = "surveys", name = "add_responses", fn = H.add_responses,
      call = "p.surveys:add_responses(survey_id, responses, {concurrency, progress})",
      returns = "SurveyResponses in input order, and the errors by index" },
    { on = "Submission", name = "wait_for", method = M.wait_for,
      call = "sub:wait_for(status, {timeout, interval})",
      returns = "the Submission in that status (or nil, err of kind timeout)" },
  },
  questionpro = {
    { resource = "responses", name = "create_many", fn = H.create_many,
      call = "q.responses:create_many(survey_id, responses, {concurrency, progress})",
      returns = "Responses in input order, and the errors by index" },
  },
}

-- The first sentence of a helper's LDoc comment.
local function summary_of(fn)
  local ok, repl = pcall(require, "cohort.prompt.repl")
  local doc = ok and repl.doc_lines(fn)
  if not doc then return nil end
  local text = {}
  for _, line in ipairs(doc) do
    if line == "" or line:match("^@") then break end
    text[#text + 1] = line
  end
  local s = table.concat(text, " ")
  return s:match("^(.-%.)%s") or s
end

--- Add a platform's helpers to its registry (once, when the platform is compiled).
-- @tparam table P a compiled platform (`cohort.resource.platform`)
function M.declare(P)
  for _, h in ipairs(HELPERS[P.name] or {}) do
    local cls = h.on and P.classes[h.on]
    local label = h.on and (cls.var .. ":" .. h.name .. "()")
      or ("%s.%s:%s()"):format(P.var, h.resource, h.name)
    local e = { platform = P.name, kind = "helper", resource = h.resource, on = h.on,
      var = cls and cls.var, name = h.name, label = label, call = h.call,
      short = h.call:gsub("(%b{})", "{...}"),
      dot_label = label:gsub(":", ".", 1), summary = summary_of(h.fn or h.method),
      returns = h.returns, module = "cohort.workbench.bulk" }
    P.entries[#P.entries + 1] = e
    if h.on then
      cls.entries[h.name] = e
    else
      P.methods[h.resource] = P.methods[h.resource] or {}
      P.methods[h.resource][h.name] = e
    end
    h.entry = e
  end
end

--- Attach a platform's helpers to a client: resource methods and object methods.
-- @tparam Client client
-- @tparam table P
function M.attach(client, P)
  for _, h in ipairs(HELPERS[P.name] or {}) do
    local e = h.entry
    if h.on then
      local mt = client:class(h.on)
      local fn = h.method
      mt.__methods[h.name] = resource.register(function(obj, ...)
        if getmetatable(obj) ~= mt then util.misuse(e.dot_label, "called with a dot; write %s", e.short) end
        return fn(client, obj, ...)
      end, e)
    else
      local res = resource.resource(client, h.resource)
      local fn = h.fn
      res[h.name] = resource.register(function(self, ...)
        if self ~= res then util.misuse(e.dot_label, "called with a dot; write %s", e.short) end
        return fn(res, ...)
      end, e)
    end
  end
end

return M
