-- Sandbox: Prolific money — bonuses (set up, pay) and messages — as route rows
-- { METHOD, "path/{param}", handler(ctx, params) } (see cohort.sandbox.prolific).
--
-- Money is in minor units (pence/cents) everywhere in the state; only the bonus CSV carries major
-- units, as the live API does. A bonus set-up computes
--   amount = Σ round(major × 100), fees = amount × FEE_RATE, vat = fees × VAT_RATE (GBP
--   workspaces only), total_amount = amount + fees + vat
-- (fees and vat rounded up to 2 decimals, as in Prolific's example: 850 → fees 283.34).
-- Paying draws round(total_amount) from the balance of the study's workspace (402 when it is
-- short), adds each amount to the submission's bonus_payments and appends one entry per row to
-- state.ledger = { {participant_id, submission_id, amount, batch_id, kind, study_id, time} };
-- paying the same batch again is refused with 400. GET /__sandbox/ledger shows the ledger.
--
-- State: state.bonus_batches (id → batch), state.ledger (array), state.messages (array of
-- { id, sender_id, recipient_id, body, sent_at, type, channel_id, read, data = {study_id} }).
local util = require "cohort.sandbox.util"
local data = require "cohort.sandbox.data"

local M = {}

M.FEE_RATE = 1 / 3
M.VAT_RATE = 0.2
M.MAX_BONUS_ROWS = 200

local null = util.null

local function P() return require "cohort.sandbox.prolific" end

local function find(list, id)
  for i, x in ipairs(list or {}) do
    if x.id == id then return x, i end
  end
end

local function up2(x) return math.ceil(x * 100 - 1e-7) / 100 end

local function now_iso(ctx) return data.iso_time(ctx.req.time or os.time()) end

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

--- Fees and VAT of an amount (minor units) in a currency.
function M.costs(amount, currency)
  local fees = up2(amount * M.FEE_RATE)
  local vat = currency == "GBP" and up2(fees * M.VAT_RATE) or 0
  return fees, vat, up2(amount + fees + vat)
end

--- Charge `entries` ({participant_id, submission_id, amount}) to the study's workspace.
-- Returns true, or false and an error response (402 when the balance is short).
function M.charge(ctx, study, entries, kind, batch_id)
  local state = ctx.app.state
  local ws = M.workspace_of(state, study)
  local currency = M.currency_of(state, study)
  local amount = 0
  for _, e in ipairs(entries) do amount = amount + e.amount end
  local _, _, total = M.costs(amount, currency)
  local due = math.floor(total + 0.5)
  if not ws then return false, util.prolific_error(400, "The study has no workspace to pay from.") end
  local available = tonumber(ws.available_balance) or tonumber(ws.balance) or 0
  if available < due then
    return false, util.prolific_error(402, string.format(
      "Insufficient funds: this payment needs %d (minor units, fees and VAT included) but the "
      .. "workspace's available balance is %d. Top up the workspace.", due, available),
      "Payment Required", 140200)
  end
  ws.balance = (tonumber(ws.balance) or available) - due
  ws.available_balance = available - due
  state.ledger = state.ledger or {}
  for _, e in ipairs(entries) do
    local s = find(state.submissions, e.submission_id)
    if s then
      s.bonus_payments = s.bonus_payments or {}
      s.bonus_payments[#s.bonus_payments + 1] = e.amount
    end
    state.ledger[#state.ledger + 1] = {
      participant_id = e.participant_id, submission_id = e.submission_id, amount = e.amount,
      batch_id = batch_id or null, kind = kind or "bonus", study_id = study.id,
      currency = currency, time = now_iso(ctx),
    }
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
  if batch.paid then
    return util.prolific_error(400, "This bonus payment has already been paid.", nil, 140001)
  end
  local study = find(state.studies, batch.study)
  local ok, s, h, body = M.charge(ctx, study or { id = batch.study }, batch.rows, "bonus", batch.id)
  if not ok then return s, h, body end
  batch.paid = true
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
