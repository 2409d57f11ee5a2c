--- The money guard: spend caps, a sanity limit per bonus, one row per participant, no second
-- payment of a batch by mistake, and the bonus CSV reader.
--
--     local p = cohort.prolific{ spend_cap = 50000 }    -- £500.00: minor units, fees and VAT included
--     local rows = assert(bulk.read_bonus_csv("bonuses.csv"))   -- id,amount (1.50 or "1,50")
--     local run, err = p.bonuses:pay_all{ study = STUDY, bonuses = rows, journal = true,
--       spend_cap = 2000,                              -- this call: £20.00 at most
--       confirm = function(batch) print(batch) return true end }
--     print(p.money)   --> cohort money guard: 1190.01 spent in this process of a spend cap of 50000 (minor units, …)
--
-- **How fees and VAT are known.** A bonus batch's cost is what Prolific's set-up answers:
-- `total_amount` (the BulkBonus schema: "Total amount that will be deducted from your balance",
-- in minor units), or `amount + fees + vat` when that is larger (`cohort.prolific.bonuses.total`).
-- Before a set-up only the amounts are known, so a cap the amounts alone pass is refused before
-- anything is sent; after it, the whole bill is checked before the payment is sent. A study's
-- cost is its projected cost from `GET /studies/{id}/cost/?is_projected=true` (rewards, fees and
-- VAT with the representative-sample parts: `cost.rewards_total`), checked before it is
-- published or scheduled. cohort never guesses a fee rate.
--
-- **What the client counts.** `p.money` keeps, for this process, every payment it sent: a bonus
-- batch paid (202), a study published or scheduled, and a payment whose answer was lost (it may
-- have been made, so it counts). A refusal by the server (a 4xx) does not count. Spending done
-- by another process, or before this client was made, is not known to it; the journal of
-- `pay_all` is what knows a study's payments across runs.
--
-- **What is refused**, before any money is sent:
--
-- * as a runtime failure, `nil, err` of kind `"refused"`: a payment that would pass the
--   client's `spend_cap` or the call's (`err.code` `"SPEND_CAP"`, with `err.cost`, `err.cap`,
--   `err.spent`, `err.scope` `"client"` or `"call"`); a payment whose cost the client cannot
--   know under a cap (`"UNKNOWN_COST"`); a second payment of a batch this client paid, or whose
--   payment it sent without hearing back (`"ALREADY_PAID"`, unless `{again = true}`); a
--   `pay_all` batch its `confirm` did not approve (`"NOT_CONFIRMED"`);
-- * as misuse (raised, naming the method and the row): a bonus above the sanity limit — by
--   default `M.BONUS_LIMIT` (5) times the study's reward, overridden by `max_bonus` (major units)
--   or turned off by `max_bonus = false`; the same participant or submission id twice in one
--   call; an amount that is not a number (`"1.50"`).
-- @module cohort.workbench.money
local Error = require "cohort.error"
local resource = require "cohort.resource"
local schema = require "cohort.schema"
local util = require "cohort.util"
local bonuses = require "cohort.prolific.bonuses"

local M = {}

--- The default sanity limit of one bonus: this many times the study's reward.
M.BONUS_LIMIT = 5

--- Currency signs the messages use (another currency is written after the amount).
M.SIGNS = { GBP = "£", USD = "$", EUR = "€" }

local ID = { type = "string", format = "objectId" }
local minor_text = bonuses.minor_text

local finite, cents = util.finite, util.cents
M.cents = cents

-- "1.50" for 150 minor units
local function major_text(minor)
  minor = math.floor(minor + 0.5)
  local sign = minor < 0 and "-" or ""
  minor = math.abs(minor)
  return ("%s%d.%02d"):format(sign, math.floor(minor / 100), minor % 100)
end
M.major_text = major_text

-- An amount of minor units with its currency: "£1.50", "1.50 CHF", or "1.50" when unknown.
local function with_currency(minor, currency)
  local sign = currency and M.SIGNS[currency]
  if sign then return sign .. major_text(minor) end
  if currency then return major_text(minor) .. " " .. currency end
  return major_text(minor)
end

-- Minor units of a CSV amount text of `bonuses.amount_text` ("4.25" → 425), exactly.
local function minor_of(text)
  local whole, frac = text:match("^(%d+)%.?(%d*)$")
  return tonumber(whole) * 100 + (frac ~= "" and tonumber((frac .. "0"):sub(1, 2)) or 0)
end

local function refused(code, message, fields)
  local e = { kind = "refused", code = code, platform = "prolific", attempts = 0,
    title = "Refused by the money guard", message = message }
  for k, v in pairs(fields or {}) do e[k] = v end
  return Error.new(e)
end

local function definite(err)
  return require("cohort.workbench.journal").definite(err)
end

-- ------------------------------------------------------------------ the guard of a client

-- The metatable of guards; their methods are at the end of this file (LDoc's `Guard` section).
local Guard = { __name = "cohort.MoneyGuard" }
Guard.__index = Guard

--- A new guard.
-- @tparam ?number cap the spend cap in minor units (nil: none)
-- @treturn Guard
function M.new(cap)
  return setmetatable({ cap = cap, _spent = 0, _unknown = 0, _charges = {}, _by_batch = {},
    _by_object = setmetatable({}, { __mode = "k" }), _batches = {}, _rewards = {} }, Guard)
end

--- The guard of a client (one is made on first use when the client has none).
-- @tparam Client client
-- @treturn Guard
function M.guard(client)
  local g = rawget(client, "money")
  if getmetatable(g) ~= Guard then
    g = M.new(nil)
    client.money = g
  end
  return g
end

-- Would paying `cost` pass a cap? nil, or the refusal. `what` says what is paid ("paying
-- bonus batch 6a5bd0c5…"); `tail` what the refusal means ("nothing was sent").
local function check(g, label, what, cost, call, tail, note)
  tail = tail or "nothing was sent"
  local caps = g.cap ~= nil or (call and call.cap ~= nil)
  if cost == nil then
    if not caps then return nil end
    return refused("UNKNOWN_COST", ("%s: %s: its cost is not known to this client (it was not "
      .. "set up through it in this process), so it cannot be kept within the spend cap; pay "
      .. "the BonusBatch that p.bonuses:setup returned; %s"):format(label, what, tail),
      { scope = call and call.cap ~= nil and "call" or "client" })
  end
  local shown = ("%s minor units%s (%s in major units)"):format(minor_text(cost),
    note or ", fees and VAT included", major_text(cost))
  if call and call.cap ~= nil and (call.spent or 0) + cost > call.cap + 1e-9 then
    local before = (call.spent or 0) > 0
      and (" after %s paid by this call"):format(minor_text(cents(call.spent))) or ""
    return refused("SPEND_CAP", ("%s: %s would pass spend_cap = %s of this call: the cost is %s%s; %s")
      :format(label, what, minor_text(call.cap), shown, before, tail),
      { scope = "call", cap = call.cap, spent = cents(call.spent or 0), cost = cost })
  end
  if g.cap ~= nil and g._spent + cost > g.cap + 1e-9 then
    return refused("SPEND_CAP", ("%s: %s would pass the client's spend_cap = %s: the cost is %s and "
      .. "%s is spent in this process already (%s left); %s"):format(label, what,
        minor_text(g.cap), shown, minor_text(cents(g._spent)),
        minor_text(math.max(0, cents(g.cap - g._spent))), tail),
      { scope = "client", cap = g.cap, spent = cents(g._spent), cost = cost })
  end
  return nil
end
M.check = check

--- Count a payment about to be sent, after checking it against the caps (`nil, err` of kind
-- `"refused"` when it would pass one). Checking and counting happen together, so tasks paying
-- at the same time on one client never pass the cap between them.
-- @tparam Guard g
-- @tparam string label the method called
-- @tparam string what what is paid, for the messages
-- @tparam ?number cost minor units (nil: unknown)
-- @tparam ?table call `{cap =, spent =}` of the call (its `spent` is counted too)
-- @tparam ?table extra fields of the payment record (`batch`, `study`)
-- @treturn[1] table the payment record, for `M.settle`
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"refused"`
function M.reserve(g, label, what, cost, call, extra)
  local err = check(g, label, what, cost, call)
  if err then return nil, err end
  local c = { what = what, cost = cost, state = "sending", label = label }
  for k, v in pairs(extra or {}) do c[k] = v end
  g._charges[#g._charges + 1] = c
  if cost then
    g._spent = g._spent + cost
    if call then call.spent = (call.spent or 0) + cost end
  else
    g._unknown = g._unknown + 1
  end
  if c.batch then g._by_batch[c.batch] = c end
  if c.object then g._by_object[c.object] = c; c.object = nil end
  return c
end

--- Settle a payment record: `"paid"`, `"unknown"` (the answer was lost: it stays counted) or
-- `"refused"` (the server refused it: no longer counted).
-- @tparam Guard g
-- @tparam table c from `M.reserve`
-- @tparam string state
-- @tparam[opt] table call the call's `{cap, spent}`
function M.settle(g, c, state, call)
  if state == "refused" and c.state ~= "refused" then
    if c.cost then
      g._spent = g._spent - c.cost
      if call then call.spent = (call.spent or 0) - c.cost end
    else
      g._unknown = g._unknown - 1
    end
  end
  c.state = state
end

--- Remember a batch this client set up (its cost, for a later `p.bonuses:pay(id)`).
-- @tparam Guard g
-- @tparam table batch a BonusBatch
function M.note_batch(g, batch)
  if type(batch) == "table" and type(batch.id) == "string" then
    g._batches[batch.id] = { total = batch.total or bonuses.total(batch), study = batch.study }
  end
end

-- Refuse a second payment of a batch this client paid (or sent without an answer): of the same
-- BonusBatch object, or of the same id given as a string. (An object is known by itself, not by
-- its id: a sandbox that was reset hands out the same ids again, and a new batch must not be
-- taken for an old one.)
local function already(g, label, id, batch)
  local last
  if batch then last = g._by_object[batch] else last = g._by_batch[id] end
  if not last or last.state == "refused" then return nil end
  local short = util.short_id(id)
  if last.state == "sending" then
    return refused("ALREADY_PAID", ("%s: bonus batch %s is being paid by another task of this "
      .. "client; paying it again would pay every bonus in it twice"):format(label, short), { batch = id })
  elseif last.state == "unknown" then
    return refused("ALREADY_PAID", ("%s: a payment of bonus batch %s was sent by this client and "
      .. "its answer was lost, so it may have been paid; check the submissions' bonus_payments "
      .. "(p.bonuses:pay_all with a journal does) before paying it again with {again = true}")
      :format(label, short), { batch = id })
  end
  return refused("ALREADY_PAID", ("%s: bonus batch %s was paid by this client already; paying it "
    .. "again would pay every bonus in it twice (pass {again = true} to mean it)"):format(label, short),
    { batch = id })
end

-- ------------------------------------------------------------------ checking arguments

--- Check a spend cap given by the user: a whole number of minor units, 0 or more, or
-- false/nil (none).
-- @tparam string label the method called
-- @param cap the value
-- @tparam[opt] string name the option as the user wrote it (`"spend_cap"`)
-- @treturn ?number the cap, or nil
function M.check_cap(label, cap, name)
  if cap == nil or cap == false then return nil end
  if not finite(cap) or cap < 0 or cap ~= math.floor(cap) then
    util.misuse(label, "%s must be a whole number of minor units, 0 or more (e.g. 50000 for "
      .. "£500.00, fees and VAT included), or false for none (got %s)", name or "spend_cap", util.show(cap))
  end
  return cap
end

--- Check `max_bonus`: an amount in major units (above 0, at most 2 decimals), or false (no
-- limit), or nil (the default limit).
-- @tparam string label
-- @param v the value
function M.check_max_bonus(label, v)
  if v == nil or v == false then return end
  if not finite(v) or v <= 0 or math.abs(v * 100 - math.floor(v * 100 + 0.5)) > 1e-6 then
    util.misuse(label, "max_bonus must be an amount in MAJOR units (e.g. 10.00 for £10.00; at "
      .. "most 2 decimals) or false for no limit (got %s)", util.show(v))
  end
end

--- Check bonus rows as the user gave them, all before anything is sent: each a table naming a
-- participant or submission id (`{id, amount}`, `{participant = id, amount =}`, `{submission =
-- id, amount =}`, an object for its id) and an amount in MAJOR units that is a number above 0
-- with at most 2 decimals; no id twice. Raises naming the method and the row
-- (`bonuses[3]`, with the CSV line when the row came from `read_bonus_csv`).
-- @tparam string label the method called
-- @tparam table rows
-- @tparam[opt] string field the rows as the user named them (`"bonuses"`)
-- @treturn table entries `{id, text (CSV amount), minor, where, row}` in order
function M.check_rows(label, rows, field)
  field = field or "bonuses"
  local function misuse(fmt, ...) util.misuse(label, fmt, ...) end
  if type(rows) ~= "table" or #rows == 0 then
    misuse("%s must be a non-empty array of {id, amount in major units}", field)
  end
  local entries, seen = {}, {}
  for i, row in ipairs(rows) do -- each row on its own first
    local where = ("%s[%d]"):format(field, i)
    if type(row) ~= "table" then
      misuse("%s must be a table {id, amount} (got %s)", where, util.show(row))
    end
    if type(row.line) == "number" then where = ("%s (line %d)"):format(where, row.line) end
    local id = bonuses.row_id(row)
    local msg = schema.check(nil, ID, id, { path = where .. " id" })
    if msg then misuse("%s", msg) end
    local text = bonuses.amount_text(misuse, where, bonuses.row_amount(row))
    entries[i] = { id = id, text = text, minor = minor_of(text), where = where, row = row }
  end
  for i, e in ipairs(entries) do -- then the rows together
    if seen[e.id] then
      misuse("%s pays %s a second time (also %s): give one row per participant or submission "
        .. "(add the amounts up), so that nobody is paid twice by mistake", e.where, e.id,
        entries[seen[e.id]].where)
    end
    seen[e.id] = i
  end
  return entries
end

-- ------------------------------------------------------------------ the sanity limit

--- The study's reward in minor units: from a Study object given, from what this client
-- fetched before, or fetched once (`GET /studies/{id}/`).
-- @tparam Client client
-- @param study a study id or a Study
-- @treturn[1] number
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.reward(client, study)
  local g = M.guard(client)
  local id = type(study) == "table" and study.id or study
  if type(study) == "table" and finite(study.reward) then
    g._rewards[id] = study.reward
    return study.reward
  end
  if g._rewards[id] then return g._rewards[id] end
  local st, err = client.studies:get(id)
  if st == nil then return nil, err end
  if not finite(st.reward) then
    return nil, Error.new { kind = "decode", platform = "prolific", attempts = 1, method = "GET",
      title = "No reward", message = ("study %s came without a reward, so the bonus limit (%d × "
        .. "the reward) is unknown; pass max_bonus = … (major units) or max_bonus = false")
        :format(tostring(id), M.BONUS_LIMIT) }
  end
  g._rewards[id] = st.reward
  return st.reward
end

-- The client's currency (the account's: Prolific counts rewards in it), asked once; false
-- when it cannot be known.
local function currency(client)
  local g = M.guard(client)
  if g._currency == nil then
    local me = client.users:me()
    g._currency = me and type(me.currency_code) == "string" and me.currency_code or false
  end
  return g._currency or nil
end

--- The limit of one bonus for a call: `false` (none: `max_bonus = false`), `{minor, given =
-- true}` for `max_bonus`, or `{minor, reward}` — `M.BONUS_LIMIT` times the study's reward.
-- @tparam Client client
-- @param study the study (id or Study)
-- @param max_bonus the call's `max_bonus` (checked by `M.check_max_bonus`)
-- @treturn[1] table|boolean
-- @return[2] nil
-- @treturn[2] cohort.Error (fetching the study failed)
function M.bonus_limit(client, study, max_bonus)
  if max_bonus == false then return false end
  if max_bonus ~= nil then return { minor = math.floor(max_bonus * 100 + 0.5), given = true } end
  local reward, err = M.reward(client, study)
  if reward == nil then return nil, err end
  return { minor = reward * M.BONUS_LIMIT, reward = reward }
end

--- Raise, naming the row, when a bonus is above the limit.
-- @tparam Client client
-- @tparam string label
-- @tparam table entries from `M.check_rows`
-- @param limit from `M.bonus_limit`
function M.check_limit(client, label, entries, limit)
  if not limit then return end
  for _, e in ipairs(entries) do
    if e.minor > limit.minor then
      if limit.given then
        util.misuse(label, "%s amount %s is above max_bonus = %s (major units)", e.where, e.text,
          major_text(limit.minor))
      end
      local cur = currency(client)
      util.misuse(label, "%s amount %s is above the limit of %s (%d × the study's reward of %s); "
        .. "bonus amounts are in MAJOR units (%s pays %s): if you meant %s, write %s; to allow "
        .. "it, pass max_bonus = %s", e.where, e.text, major_text(limit.minor), M.BONUS_LIMIT,
        with_currency(limit.reward, cur), e.text, with_currency(e.minor, cur),
        with_currency(e.minor / 100, cur), major_text(e.minor / 100), e.text)
    end
  end
end

-- ------------------------------------------------------------------ reading a bonus CSV

local READ_LABEL = "cohort.workbench.bulk.read_bonus_csv()"

-- The lines of a text: a BOM dropped, CRLF, LF or CR alone.
local function lines_of(text)
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end
  local nl = text:find("\n", 1, true) and "\n" or "\r"
  local out = {}
  for line in (text .. nl):gmatch("([^" .. nl .. "]*)" .. nl) do
    out[#out + 1] = (line:gsub("\r$", ""))
  end
  return out
end

-- The separator of a file, from its first line: ";" or a tab when the line has one outside
-- quotes, else ",".
local function separator_of(line)
  local bare = line:gsub('"[^"]*"', "")
  if bare:find(";", 1, true) then return ";" end
  if bare:find("\t", 1, true) then return "\t" end
  return ","
end

local function trim(s) return (s:gsub("^[ \t]+", ""):gsub("[ \t]+$", "")) end

-- The fields of one line (double quotes as in RFC 4180, within the line), and which were
-- quoted; or nil and why.
local function fields_of(line, sep)
  local fields, quoted = {}, {}
  local i, n = 1, #line
  while true do
    local j = i
    while j <= n and line:sub(j, j) == " " do j = j + 1 end
    if line:sub(j, j) == '"' then
      local buf = {}
      j = j + 1
      while true do
        local q = line:find('"', j, true)
        if not q then return nil, "a quote is not closed" end
        buf[#buf + 1] = line:sub(j, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          j = q + 1
          break
        end
      end
      fields[#fields + 1] = trim(table.concat(buf))
      quoted[#fields] = true
      while j <= n and line:sub(j, j) == " " do j = j + 1 end
      if j > n then return fields, quoted end
      if line:sub(j, j) ~= sep then return nil, "text after a closing quote" end
      i = j + 1
    else
      local k = line:find(sep, i, true)
      fields[#fields + 1] = trim(line:sub(i, (k or n + 1) - 1))
      if not k then return fields, quoted end
      i = k + 1
    end
  end
end

-- An amount in major units as a CSV file may write it: 2, 1.50, 1,50, .5; or nil and why.
local function amount_of(s)
  if s == "" then return nil, "is empty" end
  if s:find("^%-") then return nil, "must be greater than 0" end
  if s:find("[£$€]") or s:find("^%a%a%a") or s:find("%a%a%a$") then
    return nil, "must be the number alone, without a currency (major units: 1.50 for £1.50)"
  end
  local whole, mark, frac = s:match("^(%d*)([.,])(%d+)$")
  if not whole then
    if s:find("^%d+$") then
      whole, mark, frac = s, "", ""
    elseif s:find("^%d[%d.,' ]*$") then
      return nil, "has a thousands separator or several decimal marks; write it as 1500.00 or 1500,00"
    else
      return nil, "is not an amount in major units such as 1.50 or 1,50"
    end
  end
  if #frac > 2 then
    if mark == "," and #frac == 3 then
      return nil, ("is ambiguous: a thousands separator (%s%s) or a decimal comma with 3 "
        .. "decimals? Write %s%s or %s.%s"):format(whole, frac, whole, frac, whole ~= "" and whole or "0", frac:sub(1, 2))
    end
    return nil, "has more than 2 decimals"
  end
  local minor = tonumber(whole ~= "" and whole or "0") * 100 + (frac ~= "" and tonumber((frac .. "0"):sub(1, 2)) or 0)
  if minor <= 0 then return nil, "must be greater than 0" end
  return minor / 100
end

local BAD = {} -- the metatable of a line's refusal inside `scan`

-- Read a bonus CSV text into rows `{id, amount, line = n}`; or nil, why (naming the line; the
-- text's `source` first when it has one) and the line's number.
local function scan(text, source)
  local at = source and (source .. " ") or ""
  local function bad(n, fmt, ...)
    error(setmetatable({ message = ("%sline %d: " .. fmt):format(at, n, ...), line = n }, BAD), 0)
  end
  local rows = {}
  local ok, err = pcall(function()
    local sep, seen_first
    for n, line in ipairs(lines_of(text)) do
      if not line:find("^[ \t]*$") then
        if sep == nil then sep = separator_of(line) end
        local fields, quoted = fields_of(line, sep)
        if not fields then bad(n, "%s", quoted) end
        while #fields > 2 and fields[#fields] == "" and not quoted[#fields] do fields[#fields] = nil end
        local first = not seen_first
        seen_first = true
        if first and #fields >= 2 and fields[2] ~= "" and not fields[2]:find("%d") then
          rows.header = fields -- a header line: `participant_id,amount`
        else
          local id, amount_s
          if #fields == 2 then
            id, amount_s = fields[1], fields[2]
          elseif #fields == 3 and sep == "," and not quoted[2] and not quoted[3]
              and fields[2]:find("^%d+$") and fields[3]:find("^%d+$") then
            if #fields[3] > 2 then
              bad(n, "%s,%s is ambiguous: a thousands separator (%s%s) or a decimal comma with "
                .. "more than 2 decimals? Write the amount in quotes (\"1,50\"), with a point, or "
                .. "separate the fields with ';'", fields[2], fields[3], fields[2], fields[3])
            end
            id, amount_s = fields[1], fields[2] .. "," .. fields[3] -- id,1,50: a decimal comma
          else
            bad(n, "expected 2 fields, a participant or submission id and an amount in major units "
              .. "(got %d; separator %q)", #fields, sep)
          end
          local msg = schema.check(nil, ID, id, { path = "id" })
          if msg then bad(n, "%s", msg) end
          local amount, why = amount_of(amount_s)
          if not amount then bad(n, "amount %q %s", amount_s, why) end
          rows[#rows + 1] = { id, amount, line = n }
        end
      end
    end
    rows.separator = sep
  end)
  if not ok then
    if getmetatable(err) ~= BAD then error(err, 0) end
    return nil, err.message, err.line
  end
  if #rows == 0 then
    return nil, ("%shas no bonus rows (a participant or submission id and an amount on each "
      .. "line)"):format(source and (source .. " ") or "the text ")
  end
  return rows
end

-- The rows of a CSV text given as an argument (`csv_bonuses`): a line that cannot be read is
-- misuse of the call, raised naming it.
local function parse(label, text, field)
  local rows, why = scan(text, field)
  if not rows then util.misuse(label, "%s", why) end
  return rows
end
M.parse = parse

-- The rows of a CSV read by the user's program: a line that cannot be read is nil, err.
local function read_rows(label, text, source)
  local rows, why, line = scan(text, source)
  if rows then return rows end
  return nil, Error.new { kind = "decode", code = "BAD_LINE", title = "Bad bonus CSV",
    attempts = 0, line = line, source = source, message = label .. ": " .. why }
end

--- Read a bonus CSV into rows for `p.bonuses:pay_all` or `p.bonuses:setup`. Each line is a
-- participant or submission id and an amount in MAJOR units; a header line (its second field
-- has no digit) may come first; blank lines, a UTF-8 BOM and CRLF line ends are fine.
-- Separators and decimal marks:
--
-- * `id,1.50` — comma-separated, a decimal point;
-- * `id,"1,50"` — a decimal comma in quotes;
-- * `id;1,50` or `id;1.50` — semicolon-separated (as spreadsheets write CSV where the comma is
--   the decimal mark), or tab-separated; the first line decides the separator;
-- * `id,1,50` — unquoted, read as 1.50 only because the line then has exactly three fields and
--   the last has 1 or 2 digits; `id,1,500` (a thousands separator or 3 decimals?) is refused.
--
-- A line that cannot be read — not two fields, an id that is not a Prolific id, an amount with
-- a currency sign, a thousands separator, more than 2 decimals, 0 or less — is `nil, err` of
-- kind `"decode"` (code `"BAD_LINE"`, `err.line` its number, the message naming it), and so is
-- a text without rows; a file that cannot be read is `nil, err` of kind `"io"`. Only a
-- `path_or_text` that is not a string raises.
-- @tparam string path_or_text a file path, or the CSV text itself (a string with a line break)
-- @treturn[1] table rows `{id, amount, line = n}` (amount a number, major units), with
--   `header` (the header's fields, if any) and `separator`
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"decode"` (`code` `"BAD_LINE"`, `line`) or `"io"` (`code`
--   `"NOT_FOUND"` or `"IO"`)
function M.read_bonus_csv(path_or_text)
  local s = path_or_text
  if type(s) ~= "string" or s == "" then
    util.misuse(READ_LABEL, "expected a file path or the CSV text (got %s)", util.show(s))
  end
  if s:find("[\r\n]") then return read_rows(READ_LABEL, s, nil) end
  local f, why = io.open(s, "rb")
  local text
  if f then
    text, why = f:read("*a")
    f:close()
  end
  if text == nil then
    why = tostring(why)
    return nil, Error.new { kind = "io", code = why:find("No such file", 1, true) and "NOT_FOUND" or "IO",
      title = "Cannot read the bonus CSV", attempts = 0,
      message = ("%s: cannot read %s: %s (a string is read as CSV text only when it has a line "
        .. "break)"):format(READ_LABEL, s, (why:gsub("^" .. s:gsub("%p", "%%%0") .. ": ", ""))) }
  end
  return read_rows(READ_LABEL, text, s)
end

--- The same as `read_bonus_csv` for a text (one line will do).
-- @tparam string text
-- @treturn[1] table rows
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"decode"` (`code` `"BAD_LINE"`, `line`)
function M.parse_bonus_csv(text)
  local label = "cohort.workbench.bulk.parse_bonus_csv()"
  if type(text) ~= "string" then util.misuse(label, "expected the CSV text (got %s)", util.show(text)) end
  return read_rows(label, text, nil)
end

-- ------------------------------------------------------------------ guarded set-up and pay

local function sum_minor(entries)
  local n = 0
  for _, e in ipairs(entries) do n = n + e.minor end
  return n
end
M.sum_minor = sum_minor

--- "this bonus" or "these 3 bonuses", for the messages.
-- @tparam integer n
-- @treturn string
function M.these_bonuses(n)
  if n == 1 then return "this bonus" end
  return ("these %d bonuses"):format(n)
end

--- The rows of a batch as the confirm callback and `batch.rows` show them: `{id, amount}`.
-- @tparam table entries
-- @treturn table
function M.rows_of(entries)
  local out = {}
  for i, e in ipairs(entries) do out[i] = { e.id, e.minor / 100, id = e.id, amount = e.minor / 100 } end
  return out
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- `p.bonuses:setup{study =, bonuses =, spend_cap =, max_bonus =}` with the guard: the rows
-- checked (types, one row per id, the sanity limit), the amounts checked against the caps
-- before sending, the answered total after (a batch set up but over a cap comes back as
-- `err.batch`, unpaid).
-- @tparam Client client
-- @tparam string label
-- @param args
-- @param opts per-call options
-- @treturn[1] BonusBatch with `total` and `rows`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.setup(client, label, args, opts)
  local P = resource.registry.prolific
  local c = resource.row("prolific", "bonuses", "setup")
  if type(args) ~= "table" then -- the generated checks say what is wrong
    return resource.run(P, client, c, "call", resource.build(P, client, c, label, {}, args, opts))
  end
  local a = copy(args)
  local cap, max_bonus = M.check_cap(label, a.spend_cap), a.max_bonus
  a.spend_cap, a.max_bonus = nil, nil
  M.check_max_bonus(label, max_bonus)
  local field = a.bonuses ~= nil and "bonuses" or "csv_bonuses"
  if type(a[field]) == "string" and a[field]:find("%S") then
    a[field] = parse(label, a[field], field) -- the guard reads every amount of a CSV text too
  end
  local req = resource.build(P, client, c, label, {}, a, opts) -- every check of the schema
  local entries = M.check_rows(label, a[field], field)
  local limit, err = M.bonus_limit(client, a.study or a.study_id, max_bonus)
  if limit == nil then return nil, err end
  M.check_limit(client, label, entries, limit)
  local g = M.guard(client)
  local call = cap and { cap = cap, spent = 0 } or nil
  err = check(g, label, M.these_bonuses(#entries), sum_minor(entries), call, nil, " before fees and VAT")
  if err then return nil, err end
  local batch
  batch, err = resource.run(P, client, c, "call", req)
  if batch == nil then return nil, err end
  if type(batch) == "table" then batch.rows = M.rows_of(entries) end
  M.note_batch(g, batch)
  err = check(g, label, "paying bonus batch " .. util.short_id(batch.id), batch.total, call,
    "nothing was paid (the batch was set up: err.batch)")
  if err then
    err.batch = batch
    return nil, err
  end
  return batch
end

-- Settles `charge` by the outcome of its request (`value` or nil, `perr`): paid, refused (a
-- definite refusal) or unknown (left for a resume to check); returns the outcome.
local function charged(g, charge, call, value, perr)
  if value == nil then
    M.settle(g, charge, definite(perr) and "refused" or "unknown", call)
    return nil, perr
  end
  M.settle(g, charge, "paid", call)
  return value
end

--- `p.bonuses:pay(id_or_batch, {spend_cap =, again =})` and `batch:pay{…}` with the guard:
-- the cost checked against the caps before sending, a second payment of a batch this client
-- paid refused unless `again = true`.
-- @tparam Client client
-- @tparam string label
-- @param target a batch id or a BonusBatch
-- @param gargs nil or `{spend_cap =, again =}`
-- @param opts per-call options
-- @return[1] the server's answer
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.pay(client, label, target, gargs, opts)
  local P = resource.registry.prolific
  local c = resource.row("prolific", "bonuses", "pay")
  local batch = type(target) == "table" and getmetatable(target) == client:class("BonusBatch") and target or nil
  local id = type(target) == "table" and target.id or target
  local cap, again
  if gargs ~= nil then
    local own = type(gargs) == "table"
    for k in pairs(own and gargs or {}) do
      if k ~= "spend_cap" and k ~= "again" then own = false end
    end
    if not own and batch and label:find("^batch:") then
      util.misuse(label, "takes no arguments; write batch:pay()")
    elseif not own then -- not the guard's options: the generated checks say what is wrong
      return resource.run(P, client, c, "call", resource.build(P, client, c, label, { id }, gargs, opts))
    end
    cap = M.check_cap(label, gargs.spend_cap)
    again = gargs.again
    if again ~= nil and type(again) ~= "boolean" then
      util.misuse(label, "again must be true or false (got %s)", util.show(again))
    end
  end
  local req = resource.build(P, client, c, label, { id }, nil, opts)
  local g = M.guard(client)
  if not again then
    local err = already(g, label, id, batch)
    if err then return nil, err end
  end
  local known = g._batches[id]
  local cost = batch and (batch.total or bonuses.total(batch)) or (known and known.total)
  local call = cap and { cap = cap, spent = 0 } or nil
  local charge, err = M.reserve(g, label, "paying bonus batch " .. util.short_id(id), cost, call,
    { batch = id, object = batch, study = batch and batch.study or known and known.study })
  if not charge then return nil, err end
  return charged(g, charge, call, resource.run(P, client, c, "call", req))
end

-- A study's projected cost for publishing it, in minor units (or nil, err).
local function publish_cost(client, id, study)
  local cost, err = client.studies:cost(id, { is_projected = true })
  if cost == nil then return nil, err end
  local total = cost.rewards_total or 0
  -- an answer without amounts: at least the rewards themselves
  if type(study) == "table" and finite(study.reward) and finite(study.total_available_places) then
    total = math.max(total, study.reward * study.total_available_places)
  end
  return total
end

-- Publish (or schedule) study `id` through `req` with the guard.
local function publishing(client, label, id, study, cap, req, what)
  local P = resource.registry.prolific
  local c = resource.row("prolific", "studies", "transition")
  local g = M.guard(client)
  if g.cap == nil and cap == nil then return resource.run(P, client, c, "call", req) end
  local cost, err = publish_cost(client, id, study)
  if cost == nil then return nil, err end
  local call = cap and { cap = cap, spent = 0 } or nil
  local charge
  charge, err = M.reserve(g, label, what .. " study " .. util.short_id(id), cost, call, { study = id })
  if not charge then return nil, err end
  return charged(g, charge, call, resource.run(P, client, c, "call", req))
end

local SPENDING = { PUBLISH = "publishing", SCHEDULE_PUBLISH = "scheduling" }

--- Put the guard on a Prolific client: `client.money` (a `Guard` with the cap), and the
-- guarded `p.bonuses:setup`, `p.bonuses:pay`, `batch:pay`, `study:publish`, `study:schedule`
-- and `p.studies:transition` (each keeps its registry entry, so `help` shows it).
-- @tparam Client client
-- @tparam ?number cap the client's spend cap (minor units), checked by `M.check_cap`
function M.attach(client, cap)
  client.money = M.new(cap)
  local P = resource.registry.prolific
  local function wrap_method(res, name, fn)
    local e = resource.entry_of(res[name])
    res[name] = resource.register(function(self, ...)
      if self ~= res then util.misuse(e.dot_label, "called with a dot; write %s", e.short) end
      return fn(e.label, ...)
    end, e)
  end
  local function wrap_verb(cname, name, fn)
    local mt = client:class(cname)
    local e = resource.entry_of(mt.__methods[name])
    mt.__methods[name] = resource.register(function(obj, ...)
      if getmetatable(obj) ~= mt then util.misuse(e.dot_label, "called with a dot; write %s", e.short) end
      return fn(e.label, obj, ...)
    end, e)
  end
  wrap_method(client.bonuses, "setup", function(label, args, opts)
    return M.setup(client, label, args, opts)
  end)
  wrap_method(client.bonuses, "pay", function(label, id, gargs, opts)
    return M.pay(client, label, id, gargs, opts)
  end)
  wrap_verb("BonusBatch", "pay", function(label, batch, gargs, opts)
    return M.pay(client, label, batch, gargs, opts)
  end)
  local tr = resource.row("prolific", "studies", "transition")
  wrap_method(client.studies, "transition", function(label, id, args, opts, ...)
    if select("#", ...) > 0 then util.misuse(label, "too many arguments; write %s", tr.short) end
    local cap
    if type(args) == "table" and args.spend_cap ~= nil then
      args = copy(args)
      cap = M.check_cap(label, args.spend_cap)
      args.spend_cap = nil
    end
    local req = resource.build(P, client, tr, label, { id }, args, opts)
    local what = type(args) == "table" and SPENDING[args.action]
    if not what then
      if cap ~= nil then
        util.misuse(label, "spend_cap is for the actions that spend (PUBLISH, SCHEDULE_PUBLISH)")
      end
      return resource.run(P, client, tr, "call", req)
    end
    return publishing(client, label, id, nil, cap, req, what)
  end)
  wrap_verb("Study", "publish", function(label, study, gargs, opts, ...)
    if select("#", ...) > 0 then util.misuse(label, "too many arguments; write study:publish()") end
    if gargs ~= nil and (type(gargs) ~= "table" or next(gargs, next(gargs)) ~= nil
        or (next(gargs) ~= nil and gargs.spend_cap == nil)) then
      util.misuse(label, "takes no arguments but {spend_cap = n}; write study:publish()")
    end
    local cap = gargs and M.check_cap(label, gargs.spend_cap)
    if study.id == nil then util.misuse(label, "this Study has no id") end
    local req = resource.build(P, client, tr, label, { study.id }, { action = "PUBLISH" }, opts)
    return publishing(client, label, study.id, study, cap, req, "publishing")
  end)
  wrap_verb("Study", "schedule", function(label, study, a, opts, ...)
    if select("#", ...) > 0 then util.misuse(label, "too many arguments; write study:schedule{at}") end
    if type(a) ~= "table" then
      util.misuse(label, "expected a table {at = …}; write study:schedule{at}")
    end
    util.check_keys(label, a, { at = true, spend_cap = true })
    local cap = M.check_cap(label, a.spend_cap)
    if study.id == nil then util.misuse(label, "this Study has no id") end
    local req = resource.build(P, client, tr, label, { study.id },
      { action = "SCHEDULE_PUBLISH", publish_at = a.at }, opts, { publish_at = "at" })
    return publishing(client, label, study.id, study, cap, req, "scheduling")
  end)
end

--- The metatable of guards (`getmetatable(p.money) == money.Guard`).
M.Guard = Guard

--- The money guard of a client, `p.money`: its spend cap and what it has spent in this
-- process. Made by `cohort.prolific{spend_cap = …}`.
-- @type Guard
local function check_self(self, name)
  if getmetatable(self) ~= Guard then
    util.misuse("p.money." .. name .. "()", "called with a dot; write p.money:%s()", name)
  end
end

--- What this client has spent in this process, in minor units (fees and VAT included): every
-- payment it sent that the server did not refuse, those whose answer was lost included.
-- @treturn number
function Guard:spent()
  check_self(self, "spent")
  return cents(self._spent)
end

--- What is left of the client's spend cap, in minor units (nil when it has none).
-- @treturn ?number
function Guard:left()
  check_self(self, "left")
  if self.cap == nil then return nil end
  return math.max(0, cents(self.cap - self._spent))
end

--- The payments this client sent, oldest first: `{what, cost, state, label, batch, study}`
-- where `state` is `"paid"`, `"unknown"` (sent, the answer lost: counted as spent),
-- `"sending"` or `"refused"` (by the server: not counted), and `cost` is in minor units (nil
-- when it could not be known).
-- @treturn table
function Guard:payments()
  check_self(self, "payments")
  local out = {}
  for i, c in ipairs(self._charges) do
    local copy = {}
    for k, v in pairs(c) do copy[k] = v end
    out[i] = copy
  end
  return out
end

--- `cohort money guard: 315 spent in this process of a spend cap of 50000 (minor units, fees and VAT included; 49685 left)`
-- @treturn string
function Guard:__tostring()
  local s = ("cohort money guard: %s spent in this process"):format(minor_text(cents(self._spent)))
  if self.cap then
    s = s .. (" of a spend cap of %s (minor units, fees and VAT included; %s left)"):format(
      minor_text(self.cap), minor_text(math.max(0, cents(self.cap - self._spent))))
  else
    s = s .. " (minor units, fees and VAT included; no spend cap)"
  end
  if self._unknown > 0 then
    s = s .. (", and %d payment%s of unknown cost"):format(self._unknown, self._unknown == 1 and "" or "s")
  end
  return s
end

return M
