-- Sandbox: Prolific money — the workspace's books (reserves, rewards, releases, bonuses, all in
-- one ledger), bonuses (set up, pay) and messages — as route rows { METHOD, "path/{param}",
-- handler(ctx, params) } (see cohort.sandbox.prolific).
--
-- Money is in minor units (pence/cents) everywhere in the state; only the bonus CSV carries major
-- units, as the live API does. One formula prices everything — a study's places (publishing,
-- GetStudyCost, CalculateStudyCost, a collection's cost), an approval, a bonus batch:
--   fees = rewards × FEE_RATE (a third), vat = fees × VAT_RATE (20 %, GBP workspaces only),
--   total = rewards + fees + vat, fees and vat rounded up to 2 decimals
-- as the spec's examples have it (BulkBonus: amount 850 → fees 283.34, total 1133.34;
-- WorkspaceBalance: rewards 450, fees 150, vat 30). What moves between accounts is the total
-- rounded to a whole minor unit (M.due).
--
-- The books (docs/sandbox.md, "Money"). A workspace has `balance` (Prolific's total_balance) and
-- `available_balance`; what lies between them is reserved for studies (`study._reserve`).
--   publish (or schedule) a study   available → the study's reserve: the cost of every place
--                                   (refused with 402 when the available balance is short)
--   more places after publishing    the same for the extra places
--   approve (by hand, in bulk, or   reserve → participant: the place's cost (reward, fees, VAT);
--   21 days on)                     from the available balance for what the reserve lacks
--   reject                          reserve → available: the place's cost (not paid; a rejected
--                                   submission keeps its place, as Prolific does not replace it)
--   return, time-out, screen-out    the place reopens for another participant, and its money
--                                   stays reserved while the study recruits (ACTIVE, PAUSED);
--                                   once it does not, reserve → available at once
--   stop / cancel a schedule        reserve → available: all but what the study's pending
--                                   submissions (RESERVED, ACTIVE, AWAITING REVIEW) may still cost
--   bonus, screen-out payment       available → participant (402 when short); paying the same
--                                   batch again pays again, as the live service does
-- Each movement is one entry of state.ledger (M.LEDGER_FIELDS); GET /__sandbox/ledger shows it.
--
-- State: state.bonus_batches (id → batch), state.ledger (array), state.messages (array of
-- { id, sender_id, recipient_id, body, sent_at, type, channel_id, read, data = {study_id} }).
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"

local M = {}

M.FEE_RATE = 1 / 3
M.VAT_RATE = 0.2
M.MAX_BONUS_ROWS = 200

--- The fields of a ledger entry (absent when they do not apply).
M.LEDGER_FIELDS = { "seq", "time", "kind", "from", "to", "total", "amount", "fees", "vat",
  "currency", "workspace_id", "study_id", "submission_id", "participant_id", "batch_id",
  "places", "note", "available_balance", "total_balance", "study_reserve" }

--- Study statuses in which a study recruits (a reopened place is filled again).
M.RECRUITING = { ACTIVE = true, PAUSED = true, SCHEDULED = true, PUBLISHING = true }

--- Submission statuses still to be settled: their place's money stays reserved.
M.PENDING = { RESERVED = true, ACTIVE = true, ["AWAITING REVIEW"] = true, PROCESSING = true }

local function P() return require "cohort.sandbox.prolific" end

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local function up2(x) return math.ceil(x * 100 - 1e-7) / 100 end

local function iso_now(app)
  if app and app.clock then return app.clock:iso() end
  return data.iso_time(os.time())
end

local function now_iso(ctx) return iso_now(ctx.app) end

--- The workspace a study's project belongs to (or the first workspace).
function M.workspace_of(state, study)
  local project = study and find(state.projects, study.project)
  local ws = project and find(state.workspaces, project.workspace)
  return ws or (state.workspaces or {})[1]
end

--- The currency of a study's workspace ("GBP" unless the workspace says otherwise).
function M.currency_of(state, study)
  local ws = M.workspace_of(state, study)
  local c = ws and ws.currency_code
  if type(c) ~= "string" then c = state.user and state.user.currency_code end
  return type(c) == "string" and c or "GBP"
end

--- Fees and VAT of an amount (minor units) in a currency: the one formula (above).
-- @treturn number fees @treturn number vat @treturn number total (2 decimals)
function M.costs(amount, currency)
  local fees = up2(amount * M.FEE_RATE)
  local vat = currency == "GBP" and up2(fees * M.VAT_RATE) or 0
  return fees, vat, up2(amount + fees + vat)
end

--- What a total moves between accounts: whole minor units.
function M.due(total) return math.floor(total + 0.5) end

--- The rewards, fees, VAT and total (whole minor units) of `places` places of a study.
function M.study_cost(state, st, places)
  local rewards = (tonumber(st.reward) or 0) * (places or tonumber(st.total_available_places) or 0)
  local fees, vat, total = M.costs(rewards, M.currency_of(state, st))
  return rewards, fees, vat, M.due(total)
end

--- The reward of one submission (its own, else its study's) and what it costs with fees and VAT.
function M.place_cost(state, st, s)
  local reward = s and tonumber(s.reward) or tonumber(st and st.reward) or 0
  local fees, vat, total = M.costs(reward, M.currency_of(state, st))
  return M.due(total), reward, fees, vat
end

local function balances(ws)
  local total = tonumber(ws.balance) or tonumber(ws.available_balance) or 0
  local avail = tonumber(ws.available_balance) or total
  return total, avail
end

--- Append a movement to the ledger, with the balances after it.
function M.record(state, ws, st, e)
  state.ledger = state.ledger or {}
  state.ledger_seq = (tonumber(state.ledger_seq) or #state.ledger) + 1
  e.seq = state.ledger_seq
  if ws then
    e.workspace_id = ws.id
    e.total_balance, e.available_balance = balances(ws)
  end
  if st then
    e.study_id = e.study_id or st.id
    e.study_reserve = tonumber(st._reserve) or 0
    e.currency = e.currency or M.currency_of(state, st)
  end
  state.ledger[#state.ledger + 1] = e
  return e
end

--- The answer of a payment the available balance cannot cover (402, Prolific's envelope).
function M.insufficient(what, due, available)
  return util.prolific_error(402, string.format(
    "Insufficient funds: %s needs %d (minor units, fees and VAT included) but the workspace's "
    .. "available balance is %d. Top up the workspace.", what, due, available),
    "Payment Required", 140200)
end

--- Can the workspace of `st` reserve `places` more places? Returns the due amount, or nil and
-- the 402 answer.
function M.can_reserve(state, st, places, what)
  local ws = M.workspace_of(state, st)
  local _, _, _, due = M.study_cost(state, st, places)
  local avail = ws and select(2, balances(ws)) or 0
  if due > avail then
    return nil, table.pack(M.insufficient(what or ("publishing this study (%d places)"):format(places), due, avail))
  end
  return due
end

--- Reserve the cost of `places` places of `st` from its workspace's available balance.
-- Returns true, or false and the 402 answer (status, headers, body).
function M.reserve(app, st, places, note)
  local state = app.state
  if (places or 0) <= 0 then return true end
  local due, err = M.can_reserve(state, st, places)
  if not due then return false, table.unpack(err, 1, err.n) end
  local ws = M.workspace_of(state, st)
  local total, avail = balances(ws)
  ws.balance, ws.available_balance = total, avail - due
  st._reserve = (tonumber(st._reserve) or 0) + due
  local rewards, fees, vat = M.study_cost(state, st, places)
  M.record(state, ws, st, { time = iso_now(app), kind = "reserve", from = "available",
    to = "reserve", total = due, amount = rewards, fees = fees, vat = vat, places = places,
    note = note })
  return true
end

--- Give back up to `amount` of a study's reserve to the available balance.
function M.release(app, st, amount, note, s)
  local r = tonumber(st._reserve) or 0
  amount = math.min(amount, r)
  if amount <= 0 then return 0 end
  local state = app.state
  local ws = M.workspace_of(state, st)
  st._reserve = r - amount
  if ws then
    local total, avail = balances(ws)
    ws.balance, ws.available_balance = total, avail + amount
  end
  M.record(state, ws, st, { time = iso_now(app), kind = "release", from = "reserve",
    to = "available", total = amount, note = note,
    submission_id = s and s.id, participant_id = s and s.participant_id })
  return amount
end

-- What paying the places of `subs` needs from each workspace's available balance (what the
-- studies' reserves lack): ws → {ws, need}.
local function reward_needs(state, subs)
  local reserve_left, needs = {}, {}
  for _, s in ipairs(subs) do
    local st = find(state.studies, s.study_id)
    local ws = M.workspace_of(state, st)
    local c = M.place_cost(state, st, s)
    local key = st or s
    local left = reserve_left[key]
    if left == nil then left = st and tonumber(st._reserve) or 0 end
    local from_reserve = math.min(c, left)
    reserve_left[key] = left - from_reserve
    if ws then
      needs[ws] = needs[ws] or { ws = ws, need = 0, total = 0 }
      needs[ws].need = needs[ws].need + (c - from_reserve)
      needs[ws].total = needs[ws].total + c
    end
  end
  return needs
end

--- Can the rewards of `subs` (about to be approved) be paid? true, or false and the 402 answer.
function M.check_rewards(app, subs)
  for _, n in pairs(reward_needs(app.state, subs)) do
    local _, avail = balances(n.ws)
    if n.need > avail then
      return false, M.insufficient(("approving %d submission%s"):format(#subs, #subs == 1 and "" or "s"),
        n.total, avail + (n.total - n.need))
    end
  end
  return true
end

--- Pay a submission's reward (with fees and VAT) from its study's reserve, and from the
-- available balance for what the reserve lacks. true, or false and the 402 answer.
function M.pay_reward(app, st, s, note)
  local state = app.state
  local ok, e1, e2, e3 = M.check_rewards(app, { s })
  if not ok then return false, e1, e2, e3 end
  local ws = M.workspace_of(state, st)
  local c, reward, fees, vat = M.place_cost(state, st, s)
  local r = st and tonumber(st._reserve) or 0
  local from_reserve = math.min(c, r)
  local rest = c - from_reserve
  if st then st._reserve = r - from_reserve end
  if ws then
    local total, avail = balances(ws)
    ws.balance, ws.available_balance = total - c, avail - rest
  end
  M.record(state, ws, st, { time = iso_now(app), kind = "reward",
    from = rest == 0 and "reserve" or (from_reserve == 0 and "available" or "reserve+available"),
    to = "participant", total = c, amount = reward, fees = fees, vat = vat,
    submission_id = s.id, participant_id = s.participant_id, note = note })
  return true
end

--- A study that no longer recruits keeps only what its pending submissions may still cost; the
-- rest of its reserve goes back to the available balance.
function M.settle(app, st, note)
  if M.RECRUITING[st.status] then return 0 end
  local keep = 0
  for _, s in ipairs(app.state.submissions or {}) do
    if s.study_id == st.id and M.PENDING[s.status] then keep = keep + M.place_cost(app.state, st, s) end
  end
  local r = tonumber(st._reserve) or 0
  if r > keep then return M.release(app, st, r - keep, note) end
  return 0
end

--- Open the books of a state the sandbox has just loaded (its dataset or a seed): a live study
-- (ACTIVE, PAUSED, SCHEDULED, AWAITING REVIEW) gets the reserve the dataset implies — its
-- workspace's `balance − available_balance`, shared out among its live studies in order, each
-- at most the cost of its places still to be settled. Studies the dataset leaves unfunded pay
-- their approvals from the available balance.
function M.open_books(app)
  local state = app.state
  local gap = {}
  for _, ws in ipairs(state.workspaces or {}) do
    local total, avail = balances(ws)
    ws.balance, ws.available_balance = total, avail
    gap[ws] = math.max(0, total - avail)
  end
  for _, st in ipairs(state.studies or {}) do
    if st._reserve == nil and (M.RECRUITING[st.status] or st.status == "AWAITING REVIEW") then
      local ws = M.workspace_of(state, st)
      local need, settled = 0, 0
      for _, s in ipairs(state.submissions or {}) do
        if s.study_id == st.id then
          if M.PENDING[s.status] then need = need + M.place_cost(state, st, s)
          elseif s.status == "APPROVED" or s.status == "REJECTED" or s.status == "PARTIALLY APPROVED" then
            settled = settled + 1
          end
        end
      end
      if M.RECRUITING[st.status] then
        local places = math.max(0, (tonumber(st.total_available_places) or 0) - settled)
        need = math.max(need, M.place_cost(state, st) * places)
      end
      local give = ws and math.min(need, gap[ws] or 0) or 0
      st._reserve = give
      if give > 0 then
        gap[ws] = gap[ws] - give
        M.record(state, ws, st, { time = iso_now(app), kind = "reserve", from = "available",
          to = "reserve", total = give, note = "opening the books: the dataset's reserved funds "
            .. "(balance - available_balance) assigned to this live study" })
      end
    end
  end
end

--- Charge `entries` ({participant_id, submission_id, amount}) to the study's workspace
-- (bonuses, screen-out payments): available → participant, one ledger entry per row (its
-- `total` with its share of the fees and VAT: the entries add up to what left the balance).
-- Returns true, or false and an error response (402 when the balance is short).
function M.charge(ctx, study, entries, kind, batch_id, note)
  local app = ctx.app
  local state = app.state
  local ws = M.workspace_of(state, study)
  local currency = M.currency_of(state, study)
  local amount = 0
  for _, e in ipairs(entries) do amount = amount + e.amount end
  local _, _, total = M.costs(amount, currency)
  local due = M.due(total)
  if not ws then return false, util.prolific_error(400, "The study has no workspace to pay from.") end
  local bal, available = balances(ws)
  if available < due then
    return false, M.insufficient("this payment", due, available)
  end
  ws.balance, ws.available_balance = bal, available
  local left = due
  for i, e in ipairs(entries) do
    local s = find(state.submissions, e.submission_id)
    if s then
      s.bonus_payments = s.bonus_payments or {}
      s.bonus_payments[#s.bonus_payments + 1] = e.amount
    end
    local fees, vat, t = M.costs(e.amount, currency)
    local share = i == #entries and left or math.min(left, M.due(t))
    left = left - share
    ws.balance, ws.available_balance = ws.balance - share, ws.available_balance - share
    M.record(state, ws, study, { time = now_iso(ctx), kind = kind or "bonus",
      from = "available", to = "participant", total = share, amount = e.amount, fees = fees,
      vat = vat, participant_id = e.participant_id, submission_id = e.submission_id,
      batch_id = batch_id, currency = currency, note = note })
  end
  return true
end

-- Bonuses ---------------------------------------------------------------------------------------

local function batch_shape(b)
  return { id = b.id, study = b.study, amount = b.amount, fees = b.fees, vat = b.vat,
    total_amount = b.total_amount }
end

local function setup_bonuses(ctx)
  P().advance(ctx.app, ctx.req.time)
  local b = ctx.body
  local state = ctx.app.state
  local fields = {}
  local study
  if b.study_id == nil then
    fields.study_id = { "This field is required." }
  else
    study = find(state.studies, b.study_id)
    if not study then fields.study_id = { "Study not found." } end
  end
  if type(b.csv_bonuses) ~= "string" or b.csv_bonuses:match("^%s*$") then
    fields.csv_bonuses = { "This field is required." }
  end
  if next(fields) then return util.prolific_error(400, fields) end
  local rows, problems = {}, {}
  local n = 0
  for line in (b.csv_bonuses .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if not line:match("^%s*$") then
      n = n + 1
      local id, amount = line:match("^%s*([^,%s]+)%s*,%s*([^,%s]+)%s*$")
      local major = tonumber(amount)
      if not id then
        problems[#problems + 1] = string.format("line %d: expected <id>,<amount>", n)
      elseif not major or major ~= major or major == math.huge or major <= 0 then
        problems[#problems + 1] = string.format("line %d: invalid amount %q", n, tostring(amount))
      else
        -- the id may be a participant or a submission of the study
        local sub
        for _, s in ipairs(state.submissions) do
          if s.study_id == study.id and (s.id == id or s.participant_id == id) then sub = s; break end
        end
        if not sub then
          problems[#problems + 1] = string.format(
            "line %d: %s is not a participant or submission of this study", n, id)
        else
          rows[#rows + 1] = { participant_id = sub.participant_id, submission_id = sub.id,
            amount = math.floor(major * 100 + 0.5) }
        end
      end
    end
  end
  if n > M.MAX_BONUS_ROWS then
    problems[#problems + 1] = string.format("at most %d bonuses per request (got %d)",
      M.MAX_BONUS_ROWS, n)
  end
  if #problems > 0 then return util.prolific_error(400, { csv_bonuses = problems }) end
  local amount = 0
  for _, r in ipairs(rows) do amount = amount + r.amount end
  local fees, vat, total = M.costs(amount, M.currency_of(state, study))
  local batch = { id = data.new_id(state), study = study.id, amount = amount, fees = fees,
    vat = vat, total_amount = total, rows = rows, paid = false, created_at = now_iso(ctx) }
  state.bonus_batches = state.bonus_batches or {}
  state.bonus_batches[batch.id] = batch
  return util.answer(201, batch_shape(batch))
end

local function pay_bonuses(ctx, p)
  local state = ctx.app.state
  local batch = (state.bonus_batches or {})[p.id]
  if not batch then return util.prolific_error(404, "Bulk bonus payment not found.") end
  -- Paying a batch already paid pays it again: "This endpoint is not idempotent. Sending
  -- multiple requests with the same bulk bonus payment ID will result in participants being
  -- paid multiple times" (https://docs.prolific.com/api-reference/bonuses/pay-bonus-payments).
  local times = tonumber(batch.times_paid) or (batch.paid and 1 or 0)
  local study = find(state.studies, batch.study)
  local ok, s, h, body = M.charge(ctx, study or { id = batch.study }, batch.rows, "bonus", batch.id,
    times > 0 and ("paid again: payment %d of this batch"):format(times + 1) or nil)
  if not ok then return s, h, body end
  batch.paid = true
  batch.times_paid = times + 1
  batch.paid_at = now_iso(ctx)
  return util.answer(202, "The bonus payments will be paid shortly.")
end

-- Messages --------------------------------------------------------------------------------------

local function messages(state)
  state.messages = state.messages or {}
  return state.messages
end

local function message_shape(m)
  local d = {}
  for k, v in pairs(type(m.data) == "table" and m.data or {}) do d[k] = v end
  return { id = m.id, sender_id = m.sender_id, recipient_id = m.recipient_id, body = m.body,
    sent_at = m.sent_at, type = m.type or "message", channel_id = m.channel_id, data = d }
end

local function add_message(ctx, recipient, body, study_id)
  local state = ctx.app.state
  local me = state.user.id
  local list = messages(state)
  -- one channel per pair of people
  local channel
  for _, m in ipairs(list) do
    if (m.sender_id == me and m.recipient_id == recipient)
        or (m.recipient_id == me and m.sender_id == recipient) then
      channel = m.channel_id
    end
  end
  list[#list + 1] = {
    id = data.new_id(state), sender_id = me, recipient_id = recipient, body = body,
    sent_at = now_iso(ctx), type = "message", channel_id = channel or data.new_id(state),
    read = true, data = { study_id = study_id },
  }
end

-- (the schema has checked the types and required fields; a message may not be blank)
local function check_text(fields, name, v)
  if type(v) ~= "string" or v:match("^%s*$") then fields[name] = { "This field may not be blank." } end
end

local function send_message(ctx)
  local b = ctx.body
  local fields = {}
  check_text(fields, "body", b.body)
  if next(fields) then return util.prolific_error(400, fields) end
  if not find(ctx.app.state.studies, b.study_id) then
    return util.prolific_error(400, { study_id = { "Study not found." } })
  end
  add_message(ctx, b.recipient_id, b.body, b.study_id)
  return 204, {}, ""
end

local function send_bulk(ctx)
  local b = ctx.body
  local fields = {}
  local ids, why = P().id_array(b.ids)
  if not ids then fields.ids = { why } end
  for i, id in ipairs(ids or {}) do
    if not P().is_hex_id(id) then
      fields["ids." .. (i - 1)] = { ('"%s" is not a participant id (24 hexadecimal digits).'):format(id) }
    end
  end
  check_text(fields, "body", b.body)
  if not find(ctx.app.state.studies, b.study_id) then
    fields.study_id = { "Study not found." }
  end
  if next(fields) then return util.prolific_error(400, fields) end
  for _, id in ipairs(ids) do add_message(ctx, id, b.body, b.study_id) end
  return 204, {}, ""
end

-- Members of a participant group of the groups family (state.participant_groups: {id,
-- is_deleted, members = {{participant_id}}}); nil when there is no such (live) group.
local function group_members(state, id)
  local g = find(state.participant_groups, id)
  if not g or g.is_deleted == true then return nil end
  local members = {}
  for _, m in ipairs(g.members or {}) do
    members[#members + 1] = type(m) == "table" and m.participant_id or m
  end
  return members
end

local function send_group(ctx)
  local b = ctx.body
  local fields = {}
  check_text(fields, "body", b.body)
  if b.study_id ~= nil and not find(ctx.app.state.studies, b.study_id) then
    fields.study_id = { "Study not found." }
  end
  if next(fields) then return util.prolific_error(400, fields) end
  -- members a completion code added or removed are applied first, as the group routes do
  require("cohort.sandbox.participants").sync(ctx.app)
  local members = group_members(ctx.app.state, b.participant_group_id)
  if members == nil then return util.prolific_error(404, "Participant group not found.") end
  for _, id in ipairs(members) do
    add_message(ctx, id, b.body, type(b.study_id) == "string" and b.study_id or nil)
  end
  return 204, {}, ""
end

local function list_messages(ctx)
  local q = ctx.params
  local user_id = q.user_id
  local after
  if q.created_after ~= nil then
    after = data.parse_time(q.created_after)
    if not after then
      return util.prolific_error(400, { created_after = { "Datetime has wrong format. Use ISO 8601." } })
    end
  end
  if not user_id and not after then
    return util.prolific_error(400, { user_id = { "Provide user_id or created_after." },
      created_after = { "Provide user_id or created_after." } })
  end
  local me = ctx.app.state.user.id
  local items = {}
  for _, m in ipairs(messages(ctx.app.state)) do
    local with = m.sender_id == me and m.recipient_id or m.sender_id
    if (not user_id or with == user_id)
        and (not after or (data.parse_time(m.sent_at) or 0) > after) then
      items[#items + 1] = message_shape(m)
    end
  end
  return P().paginate(ctx, items)
end

local function unread_messages(ctx)
  local me = ctx.app.state.user.id
  local items = {}
  for _, m in ipairs(messages(ctx.app.state)) do
    if m.recipient_id == me and m.read == false then items[#items + 1] = message_shape(m) end
  end
  return P().paginate(ctx, items)
end

M.routes = {
  { "POST", "submissions/bonus-payments", setup_bonuses, op = "CreateBonusPayments" },
  { "POST", "bulk-bonus-payments/{id}/pay", pay_bonuses, op = "PayBonusPayments" },
  { "POST", "messages", send_message, op = "SendMessage" },
  { "GET", "messages", list_messages, op = "GetMessages" },
  { "GET", "messages/unread", unread_messages, op = "GetUnreadMessages" },
  { "POST", "messages/bulk", send_bulk, op = "SendBulkMessage" },
  { "POST", "messages/participant-group", send_group, op = "SendGroupMessage" },
}

return M
