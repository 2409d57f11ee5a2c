--- Receiving Prolific's webhooks safely: signature, time window, and repeated deliveries.
--
--     local webhooks = require "cohort.workbench.webhooks"
--     local ok, why = webhooks.verify(secret, request_headers, raw_body, { tolerance = 300 })
--     if not ok then return respond(401, why) end
--     if seen:repeated(request_headers["X-Event-ID"]) then return respond(200) end   -- at-least-once
--
-- Prolific signs each delivery: `X-Prolific-Request-Signature` is
-- base64(HMAC-SHA256(secret, timestamp .. body)) and `X-Prolific-Request-Timestamp` the Unix
-- time it was sent. `verify` recomputes the signature with OpenSSL's libcrypto, compares it in
-- constant time, and refuses a timestamp outside the tolerance window (replays). Deliveries are
-- at least once, and `X-Event-ID` is stable across retries: `deduper` drops the repeats.
-- @module cohort.workbench.webhooks
local compat = require "cohort.compat"
local core = require "cohort.core"

local M = {}

local function header(headers, name)
  local lname = name:lower()
  for k, v in pairs(headers) do
    if type(k) == "string" and k:lower() == lname then return v end
  end
end

--- The signature Prolific sends for `body` at `timestamp`.
-- @tparam string secret the subscription's secret
-- @tparam string|number timestamp Unix seconds, as in `X-Prolific-Request-Timestamp`
-- @tparam string body the raw request body
-- @treturn string base64 signature
function M.sign(secret, timestamp, body)
  return core.base64(core.hmac_sha256(secret, tostring(timestamp) .. body))
end

--- Check a delivery's signature and timestamp.
-- @tparam string secret the subscription's secret
-- @tparam table headers request headers (any letter case)
-- @tparam string body the raw request body, exactly as received
-- @tparam[opt] table opts `tolerance` (seconds either side of now; default 300), `now` (Unix
--   seconds; default `os.time()`)
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] string why it was refused
function M.verify(secret, headers, body, opts)
  if type(secret) ~= "string" or secret == "" then
    error("cohort: webhooks.verify(): secret must be a non-empty string", 2)
  end
  if type(headers) ~= "table" then error("cohort: webhooks.verify(): headers must be a table", 2) end
  if type(body) ~= "string" then error("cohort: webhooks.verify(): body must be a string", 2) end
  opts = opts or {}
  local tolerance = opts.tolerance or 300
  local signature = header(headers, "X-Prolific-Request-Signature")
  local timestamp = header(headers, "X-Prolific-Request-Timestamp")
  if type(signature) ~= "string" or signature == "" then return nil, "no signature header" end
  if type(timestamp) ~= "string" and type(timestamp) ~= "number" then
    return nil, "no timestamp header"
  end
  local ts = tonumber(timestamp)
  if ts == nil then return nil, "the timestamp is not a number" end
  local now = opts.now or os.time()
  if math.abs(now - ts) > tolerance then
    return nil, ("the timestamp is %d s from now, outside the %d s window"):format(
      math.floor(math.abs(now - ts)), tolerance)
  end
  if not core.equal(M.sign(secret, timestamp, body), signature) then
    return nil, "the signature does not match"
  end
  return true
end

local Deduper = { __name = "cohort.workbench.webhooks.Deduper" }
Deduper.__index = Deduper

--- A memory of the last `size` event ids (default 10,000), to drop repeated deliveries.
-- @tparam[opt] table opts `size`
-- @treturn Deduper with `d:repeated(event_id)`
function M.deduper(opts)
  local size = (opts and opts.size) or 10000
  if compat.math_type(size) ~= "integer" or size < 1 then
    error("cohort: webhooks.deduper(): size must be a positive integer", 2)
  end
  return setmetatable({ size = size, seen = {}, ring = {}, pos = 0 }, Deduper)
end

--- Has this event id been seen? Records it if not. A missing id is never a repeat.
-- @tparam string event_id the `X-Event-ID` header
-- @treturn boolean
function Deduper:repeated(event_id)
  if event_id == nil or event_id == "" then return false end
  if self.seen[event_id] then return true end
  self.pos = self.pos % self.size + 1
  local old = self.ring[self.pos]
  if old ~= nil then self.seen[old] = nil end
  self.ring[self.pos] = event_id
  self.seen[event_id] = true
  return false
end

return M
