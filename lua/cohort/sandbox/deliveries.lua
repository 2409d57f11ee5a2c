--- The sandbox's webhook deliveries: every event POSTed to its subscription's `target_url`,
-- signed as Prolific signs, retried on Prolific's schedule on the sandbox clock, and logged.
--
--     local deliveries = require "cohort.sandbox.deliveries"
--     local d = deliveries.new{ clock = app.clock, core = require "cohort.core",
--                               secret = function(sub) return <the workspace's hook secret> end }
--     d:enqueue(sub, "submission.status.change",
--               { resource_id = sub_id, event_type = "submission.status.change",
--                 participant_id = pid, status = "AWAITING REVIEW" })
--     d:pump()                     -- from app:tick(now): never blocks
--     d:events(sub.id, { status = "FAILED" })   -- GET /hooks/subscriptions/{id}/events/ rows
--     d:log{ subscription = sub.id }            -- every attempt, for the control API
--
-- **What is sent.** `enqueue` encodes the payload once; every attempt POSTs exactly those bytes
-- with `Content-Type: application/json`, a `User-Agent`, `X-Event-ID` (the event's id, the same
-- on every retry), `X-Timestamp` (the event's sandbox time, for ordering),
-- `X-Prolific-Request-Timestamp` (the wall-clock Unix second of this attempt) and
-- `X-Prolific-Request-Signature` = base64(HMAC-SHA256(secret, timestamp .. body)), computed
-- with cohort.core over the bytes sent — what `cohort.workbench.webhooks.verify` checks. The
-- request timestamp is real time, not sandbox time, so a receiver's replay window (five
-- minutes in `verify`) holds under an accelerated or stepped clock. The secret is asked of
-- `opts.secret(sub)` at each attempt (a replaced workspace secret signs the next retry) and is
-- never kept, logged or put in an error.
--
-- **Never blocking.** Transfers run on the engine's own non-blocking cohort.core session:
-- `pump` submits what is due (at most `max_in_flight` at once) and calls `session:step(0)`,
-- which only advances transfers that can move. Names are resolved by libcurl's threaded
-- resolver. Each attempt has a real-time limit (`timeout`, `connect_timeout`): a receiver that
-- never answers costs an attempt, not the server.
--
-- **Outcomes.** A 2xx answer: SUCCEEDED. A refused or dropped connection, a time-out or any
-- other answer (3xx, 4xx, 5xx): a failed attempt, retried on Prolific's schedule (below). When
-- the retries are used up, or the next one would fall past the cut-off, the event is FAILED.
-- Persistent failure disables the subscription (below). Events of a subscription that is
-- disabled (by the researcher or by persistent failure) are FAILED without further attempts.
--
-- **Retry schedule** (Prolific's docs, "Event Delivery & Retry Logic"): the first attempt at
-- once, then up to `retries` = 11 retries; retry k waits a uniform random time in
-- [0, `first_delay` · 2^(k−1)] (full jitter; 60 s, 120 s, 240 s … 61,440 s) after the time the
-- previous attempt was due, and no retry is made more than `cutoff` = 24 h after the first
-- attempt. Times are sandbox times: on a stepped clock each retry happens when an advance
-- reaches it, and an advance that jumps over several plays them out one after another. The
-- jitter comes from a generator seeded by `seed` and the event's sequence number, so a run is
-- reproducible whatever order other events fail in.
--
-- **Persistent failure** (Prolific's docs, "Persistent Failures & Disabling Logic": all
-- deliveries for a target URL and event type failing for 5 consecutive days disable it): a
-- failed attempt disables every subscription of its target URL and event type when nothing
-- has been delivered to that pair since a failure at least `disable_after` (5 days) earlier.
-- With `disable_on_failed = true` an event that ends FAILED disables its subscription at once
-- (a stricter reading, for rehearsing a recovery). Disabling calls `opts.on_disable(sub, why)`
-- (default: `sub.is_enabled = false`).
--
-- **Target URLs.** The live service demands a public `https://` URL (not localhost); the
-- sandbox sends to any `http://` or `https://` URL, loopback included, so a receiver on the
-- researcher's machine can be rehearsed. TLS is verified (`ca_file` for a local CA). A `sink`
-- names URLs that are never contacted: their attempts are signed and logged (`sent = false`,
-- `note` the reason) and SUCCEEDED — the server's wiring sinks the documentation domains of
-- RFC 2606 (example.com, example.net, example.org, *.example), which the docs' examples use and
-- where no researcher's receiver can be.
--
-- **Wiring (the server).** cohort.sandbox.server makes one engine next to its clock
-- (`App:new_delivery`): `deliveries.new{ clock = app.clock, secret = function(sub)
-- <hooks/secrets value of sub.workspace_id> end, new_id = <a 24-hex id of the state>, sink =
-- <the documentation domains> }` — the signing secret, not `sub.hook_secret` (the X-Hook-Secret
-- confirmation token). `prolific_hooks.record_event` calls `app.delivery:enqueue(sub,
-- event_type, payload)` for every confirmed, enabled subscription of the type in the
-- resource's workspace; `app:handle` pumps once after the request (the first attempt starts
-- while the event's request is answered) and `app:tick(now)` calls `app.clock:due()` then
-- `app.delivery:pump()`. `GET /hooks/subscriptions/{id}/events/` pages `d:events(id, {status =
-- <set>, resource_id = r})`; `GET /__sandbox/deliveries` answers `d:log{...}` and `GET
-- /__sandbox/hooks/deliveries` `d:requests{...}`; deleting a subscription calls `d:drop(id)`;
-- `POST /__sandbox/reset` and `/seed` call `d:close()` and make a new engine. The subscription
-- tables given to `enqueue` are kept by reference (their `is_enabled` is read before each
-- attempt), so a new engine goes with a new state.
-- @module cohort.sandbox.deliveries
local util = require "cohort.sandbox.util"
local clockmod = require "cohort.sandbox.clock"

local M = {}

--- The defaults of `new` (the schedule's figures are Prolific's; see above).
M.DEFAULTS = {
  retries = 11,              -- retries after the first attempt
  first_delay = 60,          -- seconds: the first retry's maximum wait; doubles each retry
  cutoff = 86400,            -- seconds after the first attempt: no retry later than this
  disable_after = 5 * 86400, -- seconds of nothing but failures before the subscription goes off
  disable_on_failed = false,
  timeout = 10,              -- real seconds an attempt may take in all
  connect_timeout = 5,       -- real seconds to connect
  max_in_flight = 64,        -- attempts under way at once
  max_events = 10000,        -- finished events kept in the log (the oldest go first)
  max_answer = 64 * 1024,    -- bytes of a receiver's answer read (more: still its status)
  seed = 1,
}

--- The event statuses of Prolific's delivery log.
M.STATUSES = { PENDING = true, SUCCEEDED = true, FAILED = true }

local Engine = { __name = "cohort.sandbox.Deliveries" }
Engine.__index = Engine
M.Engine = Engine

-- splitmix64: one 64-bit step of a seed (Lua 5.4 integers wrap, and >> is a logical shift).
local function mix64(x)
  x = x + 0x9E3779B97F4A7C15
  x = (x ~ (x >> 30)) * 0xBF58476D1CE4E5B9
  x = (x ~ (x >> 27)) * 0x94D049BB133111EB
  return x ~ (x >> 31)
end

--- The jitter of retry `k` of the event numbered `seq` under `seed`: uniform in [0, 1).
-- @tparam integer seed
-- @tparam integer seq the event's sequence number (1 for the first enqueued)
-- @tparam integer k the retry (1 for the first)
-- @treturn number
function M.jitter(seed, seq, k)
  local x = mix64(mix64(mix64(seed) ~ seq) ~ k)
  return (x >> 11) * 2.0 ^ -53
end

--- The maximum wait before retry `k` (seconds): `first_delay` · 2^(k−1).
-- @tparam integer k the retry (1 for the first)
-- @tparam[opt] number first_delay default 60
-- @treturn number
function M.max_delay(k, first_delay)
  return (first_delay or M.DEFAULTS.first_delay) * 2.0 ^ (k - 1)
end

local function positive(opts, name, where, integer)
  local v = opts[name]
  if v == nil then return M.DEFAULTS[name] end
  if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge
     or (integer and math.type(v) ~= "integer") then
    error(("cohort.sandbox.deliveries.%s: %s must be a%s number >= 0"):format(where, name,
      integer and "n integer" or ""), 3)
  end
  return v
end

local KNOWN = { clock = true, core = true, secret = true, on_disable = true, wall = true,
  new_id = true, user_agent = true, ca_file = true, sink = true }
for k in pairs(M.DEFAULTS) do KNOWN[k] = true end

--- A new delivery engine.
-- @tparam table opts `clock` (a `cohort.sandbox.clock`, required), `core` (cohort.core;
--   default `require "cohort.core"`), `secret` (function(sub) → the signing secret at send
--   time; default `sub.secret`), `on_disable` (function(sub, why); default sets
--   `sub.is_enabled = false`), `new_id` (function() → a new event id; default 24 hex digits
--   from `seed` and a counter), `wall` (function() → wall-clock Unix seconds for
--   `X-Prolific-Request-Timestamp`; default `os.time`), `sink` (function(url) → a reason, or
--   nil: an attempt to a URL it names is signed and logged but not sent, and SUCCEEDED — the
--   wiring's documentation domains), `user_agent`, `ca_file`, and the figures of
--   `deliveries.DEFAULTS`
-- @treturn Engine
function M.new(opts)
  if type(opts) ~= "table" then error("cohort.sandbox.deliveries.new(): options must be a table", 2) end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(("cohort.sandbox.deliveries.new(): unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  local c = opts.clock
  if type(c) ~= "table" or type(c.now) ~= "function" or type(c.at) ~= "function" then
    error("cohort.sandbox.deliveries.new(): clock must be a cohort.sandbox.clock", 2)
  end
  for _, f in ipairs { "secret", "on_disable", "new_id", "wall", "sink" } do
    if opts[f] ~= nil and type(opts[f]) ~= "function" then
      error(("cohort.sandbox.deliveries.new(): %s must be a function"):format(f), 2)
    end
  end
  local core = opts.core or require "cohort.core"
  local d = {
    clock = c, core = core,
    retries = positive(opts, "retries", "new()", true),
    first_delay = positive(opts, "first_delay", "new()"),
    cutoff = positive(opts, "cutoff", "new()"),
    disable_after = positive(opts, "disable_after", "new()"),
    disable_on_failed = opts.disable_on_failed == true,
    timeout = positive(opts, "timeout", "new()"),
    connect_timeout = positive(opts, "connect_timeout", "new()"),
    max_in_flight = positive(opts, "max_in_flight", "new()", true),
    max_events = positive(opts, "max_events", "new()", true),
    seed = positive(opts, "seed", "new()", true),
    secret_of = opts.secret or function(sub) return sub.secret end,
    on_disable = opts.on_disable or function(sub) sub.is_enabled = false end,
    wall = opts.wall or os.time,
    sink = opts.sink,
    user_agent = opts.user_agent or ("cohort-sandbox/%s (webhook delivery)"):format(
      tostring(core.version or "0")),
    seq = 0, by_id = {}, by_sub = {}, order = {},   -- order: every kept event, oldest first
    ready = {}, ready_head = 1, ready_tail = 0,     -- FIFO of events due for an attempt
    in_flight = {}, n_in_flight = 0,                -- request id → { ev =, attempt =, t0 = }
    health = {},                                    -- "<event type> <url>" → failing_since
    pair_subs = {},                                 -- same key → { [sub id] = sub }
    finished = 0, closed = false,
  }
  if d.timeout <= 0 or d.connect_timeout <= 0 then
    error("cohort.sandbox.deliveries.new(): timeout and connect_timeout must be > 0", 2)
  end
  if d.max_in_flight < 1 then error("cohort.sandbox.deliveries.new(): max_in_flight must be >= 1", 2) end
  local idn = 0
  d.new_id = opts.new_id or function()
    idn = idn + 1
    return ("%016x%08x"):format(mix64(d.seed ~ (idn << 20)), mix64(idn) & 0xFFFFFFFF)
  end
  d.session = core.session {
    retries = 1, -- one attempt a submit: the retry schedule is this engine's, on the sandbox clock
    timeout = d.timeout, connect_timeout = d.connect_timeout,
    max_size = positive(opts, "max_answer", "new()", true), ca_file = opts.ca_file,
  }
  return setmetatable(d, Engine)
end

-- Replaces the secret in a message, should a library ever echo it (it is never given one).
local function scrub(msg, secret)
  msg = tostring(msg)
  if type(secret) == "string" and #secret >= 4 then
    local i = msg:find(secret, 1, true)
    while i do
      msg = msg:sub(1, i - 1) .. "[REDACTED]" .. msg:sub(i + #secret)
      i = msg:find(secret, i + 10, true)
    end
  end
  return msg
end

local function check_sub(sub, method)
  if type(sub) ~= "table" then
    error(("cohort.sandbox.deliveries: %s: subscription must be a table"):format(method), 3)
  end
  if type(sub.id) ~= "string" or sub.id == "" then
    error(("cohort.sandbox.deliveries: %s: subscription.id must be a non-empty string"):format(method), 3)
  end
  if type(sub.target_url) ~= "string" or not sub.target_url:match("^https?://[^/%s?#]+[^%s]*$") then
    error(("cohort.sandbox.deliveries: %s: subscription.target_url must be an http:// or https:// URL"):format(method), 3)
  end
end

local function pair_key(ev) return ev.event_type .. " " .. ev.target_url end

-- The FIFO of events due for an attempt: ready[head .. tail] (explicit bounds: the array has
-- a hole at its front, where `#` is not to be trusted).
local function push_ready(self, ev)
  self.ready_tail = self.ready_tail + 1
  self.ready[self.ready_tail] = ev
end

local function pop_ready(self)
  local h = self.ready_head
  if h > self.ready_tail then return nil end
  local ev = self.ready[h]
  self.ready[h] = nil
  if h == self.ready_tail then
    self.ready, self.ready_head, self.ready_tail = {}, 1, 0 -- empty: start over
  else
    self.ready_head = h + 1
  end
  return ev
end

--- Make an event for `sub` and queue its first attempt (sent by the next `pump`).
-- @tparam table sub the subscription: `id`, `target_url` (http or https), `is_enabled`, and
--   whatever `opts.secret` reads (the wiring: `workspace_id`)
-- @tparam string event_type e.g. `"submission.status.change"`
-- @tparam[opt] table payload the JSON object sent (encoded once: every attempt sends the same
--   bytes); its `resource_id` is the event's
-- @treturn table the event as `d:event(id)` shows it (`id` is the X-Event-ID)
function Engine:enqueue(sub, event_type, payload)
  if self.closed then error("cohort.sandbox.deliveries: enqueue(): the engine is closed", 2) end
  check_sub(sub, "enqueue()")
  if type(event_type) ~= "string" or event_type == "" then
    error("cohort.sandbox.deliveries: enqueue(): event_type must be a non-empty string", 2)
  end
  if payload ~= nil and type(payload) ~= "table" then
    error("cohort.sandbox.deliveries: enqueue(): payload must be a table", 2)
  end
  payload = util.deepcopy(payload or {})
  local body = util.encode(payload)
  local now = self.clock:now()
  self.seq = self.seq + 1
  local id = self.new_id()
  if type(id) ~= "string" or id == "" or self.by_id[id] then
    error("cohort.sandbox.deliveries: enqueue(): new_id() gave no fresh id", 2)
  end
  local ev = {
    id = id, seq = self.seq, subscription = sub, subscription_id = sub.id,
    event_type = event_type, resource_id = payload.resource_id, target_url = sub.target_url,
    payload = payload, body = body, status = "PENDING",
    created = now, updated = now, first_due = now, next_due = now, attempts = {},
  }
  self.by_id[id] = ev
  local list = self.by_sub[sub.id]
  if not list then list = {}; self.by_sub[sub.id] = list end
  list[#list + 1] = ev
  self.order[#self.order + 1] = ev
  local pk = pair_key(ev)
  self.pair_subs[pk] = self.pair_subs[pk] or {}
  self.pair_subs[pk][sub.id] = sub
  push_ready(self, ev)
  return self:event(id)
end

local function clock_key(ev) return clockmod.key("delivery", ev.id) end

-- Forgets the oldest finished events beyond max_events.
local function trim(self)
  if self.finished <= self.max_events then return end
  local keep = {}
  local excess = self.finished - self.max_events
  for _, ev in ipairs(self.order) do
    if excess > 0 and ev.status ~= "PENDING" then
      excess = excess - 1
      self.finished = self.finished - 1
      self.by_id[ev.id] = nil
      ev.dropped = true
    else
      keep[#keep + 1] = ev
    end
  end
  self.order = keep
  for sid, list in pairs(self.by_sub) do
    local kept = {}
    for _, ev in ipairs(list) do if not ev.dropped then kept[#kept + 1] = ev end end
    self.by_sub[sid] = kept
  end
end

local function finish_event(self, ev, status, why)
  if ev.status ~= "PENDING" then return end
  ev.status = status
  ev.reason = why
  ev.next_due = nil
  ev.updated = self.clock:now()
  self.clock:cancel(clock_key(ev))
  self.finished = self.finished + 1
end

local disable -- forward

-- The event ends FAILED; with disable_on_failed its subscription goes off too.
local function fail_event(self, ev, why)
  finish_event(self, ev, "FAILED", why)
  if self.disable_on_failed and ev.subscription.is_enabled ~= false then
    disable(self, { [ev.subscription_id] = ev.subscription },
      "an event failed every delivery attempt (disable_on_failed)")
  end
end

-- Turns subscriptions off and fails their pending events (in flight ones are cancelled).
-- Subscriptions already off are left alone.
disable = function(self, subs, why)
  local ids = {}
  for sid, sub in pairs(subs) do
    if sub.is_enabled ~= false then ids[#ids + 1] = sid end
  end
  if #ids == 0 then return end
  table.sort(ids)
  for _, sid in ipairs(ids) do
    local sub = subs[sid]
    pcall(self.on_disable, sub, why)
    for _, ev in ipairs(self.by_sub[sid] or {}) do
      if ev.status == "PENDING" then
        for rid, f in pairs(self.in_flight) do
          if f.ev == ev then
            self.session:cancel(rid)
            self.in_flight[rid] = nil
            self.n_in_flight = self.n_in_flight - 1
            f.attempt.pending = nil
            f.attempt.error = "cancelled: the subscription was disabled"
            ev.in_flight = false
          end
        end
        finish_event(self, ev, "FAILED", "the subscription was disabled: " .. why)
      end
    end
  end
  self.disabled_log = self.disabled_log or {}
  self.disabled_log[#self.disabled_log + 1] = { subscriptions = ids, reason = why,
    time = self.clock:now(), at = clockmod.iso(self.clock:now()) }
end

-- After a failed attempt: the next retry on the clock, or FAILED.
local function schedule_retry(self, ev)
  local made = #ev.attempts
  if made - 1 >= self.retries then
    return fail_event(self, ev, ("all %d attempts failed"):format(made))
  end
  local k = made -- the retry about to be scheduled
  local due = ev.next_due + M.jitter(self.seed, ev.seq, k) * M.max_delay(k, self.first_delay)
  if due > ev.first_due + self.cutoff then
    return fail_event(self, ev, ("the next retry would pass the %d s cut-off after %d attempts")
      :format(math.floor(self.cutoff), made))
  end
  ev.next_due = due
  self.clock:at(due, clock_key(ev), function()
    if ev.status == "PENDING" and not ev.dropped then push_ready(self, ev) end
  end)
end

-- A failed attempt: the pair's health, perhaps disabling, then a retry or FAILED.
local function failed(self, ev, attempt)
  local pk = pair_key(ev)
  local since = self.health[pk]
  if since == nil then since = attempt.time; self.health[pk] = since end
  if attempt.time - since >= self.disable_after then
    -- a subscription turned back on later gets a fresh window
    self.health[pk] = nil
    disable(self, self.pair_subs[pk] or {}, ("every delivery to %s for %s failed for %d s")
      :format(ev.target_url, ev.event_type, math.floor(attempt.time - since)))
  end
  if ev.status == "PENDING" then schedule_retry(self, ev) end
end

local function succeeded(self, ev)
  self.health[pair_key(ev)] = nil
  finish_event(self, ev, "SUCCEEDED")
end

-- Starts an attempt of `ev` (due now). Failures that need no transfer are settled at once.
local function send(self, ev)
  local sub = ev.subscription
  local now = self.clock:now()
  if sub.is_enabled == false then
    return fail_event(self, ev, "the subscription is disabled")
  end
  local attempt = { n = #ev.attempts + 1, due = ev.next_due, time = now }
  ev.attempts[#ev.attempts + 1] = attempt
  local oks, secret = pcall(self.secret_of, sub)
  if not oks or type(secret) ~= "string" or secret == "" then
    attempt.error = "no webhook secret for the subscription's workspace (POST /api/v1/hooks/secrets/)"
    attempt.duration_ms = 0
    return failed(self, ev, attempt)
  end
  local ts = ("%d"):format(math.floor(self.wall()))
  local headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = self.user_agent,
    ["X-Event-ID"] = ev.id,
    ["X-Timestamp"] = ("%d"):format(math.floor(ev.created)),
    ["X-Prolific-Request-Timestamp"] = ts,
    ["X-Prolific-Request-Signature"] = self.core.base64(self.core.hmac_sha256(secret, ts .. ev.body)),
  }
  attempt.timestamp = ts
  attempt.headers = headers -- what went out (the signature is not the secret)
  local sink = self.sink and self.sink(ev.target_url)
  if sink then
    attempt.sent, attempt.note, attempt.duration_ms = false, tostring(sink), 0
    return succeeded(self, ev)
  end
  local origin = ev.target_url:match("^(https?://[^/?#]+)")
  local ok, rid = pcall(self.session.submit, self.session, { method = "POST", base = origin,
    url = ev.target_url, body = ev.body, headers = headers, timeout = self.timeout })
  if not ok then
    attempt.error = scrub(rid, secret)
    attempt.duration_ms = 0
    return failed(self, ev, attempt)
  end
  attempt.pending, attempt.sent = true, true
  ev.in_flight = true
  self.in_flight[rid] = { ev = ev, attempt = attempt, t0 = self.core.monotime() }
  self.n_in_flight = self.n_in_flight + 1
end

-- A finished transfer.
local function settle(self, r)
  local f = self.in_flight[r.id]
  if not f then return false end
  self.in_flight[r.id] = nil
  self.n_in_flight = self.n_in_flight - 1
  local ev, attempt = f.ev, f.attempt
  ev.in_flight = false
  attempt.pending = nil
  attempt.duration_ms = math.floor((self.core.monotime() - f.t0) * 1000 + 0.5)
  ev.updated = self.clock:now()
  if ev.status ~= "PENDING" or ev.dropped then return true end
  local e = r.err
  local status = e and e.status or r.status
  attempt.status = status
  local two = type(status) == "number" and status >= 200 and status < 300
  if two and (e == nil or e.kind == "too_large") then
    succeeded(self, ev)
  else
    -- an answer with a status (an HTTP error, or a redirect, which is never followed) is a
    -- non-2xx answer; anything else failed before one arrived
    if e and e.kind ~= "http" and e.kind ~= "redirect" then
      local oks, secret = pcall(self.secret_of, ev.subscription)
      if not oks then secret = nil end
      attempt.error = scrub(("%s %s: %s"):format(e.kind, tostring(e.code or ""), tostring(e.message or "")), secret)
    elseif not two then
      attempt.error = ("answered %s, not 2xx"):format(tostring(status))
    end
    failed(self, ev, attempt)
  end
  return true
end

--- Send what is due and collect what has finished. Never blocks: call it from the tick.
-- @treturn integer how many attempts finished in this call
function Engine:pump()
  if self.closed then return 0 end
  while self.n_in_flight < self.max_in_flight do
    local ev = pop_ready(self)
    if ev == nil then break end
    if ev.status == "PENDING" and not ev.in_flight and not ev.dropped then send(self, ev) end
  end
  local n = 0
  if self.n_in_flight > 0 then
    for _, r in ipairs(self.session:step(0)) do
      if settle(self, r) then n = n + 1 end
    end
  end
  trim(self)
  return n
end

--- Attempts under way.
-- @treturn integer
function Engine:in_flight_count()
  return self.n_in_flight
end

--- Is anything still to be done now (queued or in flight)? Retries waiting on the clock do not
-- count.
-- @treturn boolean
function Engine:busy()
  return self.n_in_flight > 0 or self.ready_head <= self.ready_tail
end

local function view(ev)
  local attempts = {}
  for i, a in ipairs(ev.attempts) do
    attempts[i] = { n = a.n, due = a.due, due_at = clockmod.iso(a.due), time = a.time,
      at = clockmod.iso(a.time), timestamp = a.timestamp, status = a.status, error = a.error,
      duration_ms = a.duration_ms, pending = a.pending, sent = a.sent, note = a.note }
  end
  return {
    id = ev.id, subscription_id = ev.subscription_id, event_type = ev.event_type,
    resource_id = ev.resource_id, status = ev.status, target_url = ev.target_url,
    payload = util.deepcopy(ev.payload), body = ev.body, reason = ev.reason,
    datetime_created = clockmod.iso(ev.created), datetime_updated = clockmod.iso(ev.updated),
    next_attempt = ev.next_due, next_attempt_at = ev.next_due and clockmod.iso(ev.next_due) or nil,
    attempts = util.array(attempts),
  }
end

--- One event with every attempt (`{id, subscription_id, event_type, resource_id, status,
-- target_url, payload, body, reason, datetime_created, datetime_updated, next_attempt,
-- next_attempt_at, attempts = {{n, due, due_at, time, at, timestamp, status, error,
-- duration_ms, pending}}}`; times are sandbox times, `timestamp` the signed wall-clock second),
-- or nil.
-- @tparam string id the event id (X-Event-ID)
-- @treturn table|nil
function Engine:event(id)
  local ev = self.by_id[id]
  return ev and view(ev) or nil
end

local function status_set(s, method)
  if s == nil then return nil end
  local set = {}
  if type(s) == "string" then s = { s } end
  if type(s) ~= "table" then
    error(("cohort.sandbox.deliveries: %s: status must be a status or a list of them"):format(method), 3)
  end
  for k, v in pairs(s) do
    local name = type(k) == "string" and v == true and k or v
    if not M.STATUSES[name] then
      error(("cohort.sandbox.deliveries: %s: unknown status %s"):format(method, tostring(name)), 3)
    end
    set[name] = true
  end
  return set
end

--- The delivery log of a subscription in the shape of `GET /hooks/subscriptions/{id}/events/`
-- (schema SubscriptionEvent: id, datetime_created, datetime_updated, event_type, resource_id,
-- status, target_url, payload), oldest first.
-- @tparam string subscription_id
-- @tparam[opt] table filter `status` (a status, a list, or a set), `resource_id`
-- @treturn table array
function Engine:events(subscription_id, filter)
  filter = filter or {}
  local want = status_set(filter.status, "events()")
  local out = {}
  for _, ev in ipairs(self.by_sub[subscription_id] or {}) do
    if (not want or want[ev.status]) and (filter.resource_id == nil or ev.resource_id == filter.resource_id) then
      out[#out + 1] = { id = ev.id, datetime_created = clockmod.iso(ev.created),
        datetime_updated = clockmod.iso(ev.updated), event_type = ev.event_type,
        resource_id = ev.resource_id, status = ev.status, target_url = ev.target_url,
        payload = util.deepcopy(ev.payload) }
    end
  end
  return out
end

--- Every kept event with its attempts (as `event` shows them), oldest first: the control API's
-- view.
-- @tparam[opt] table filter `subscription` (id), `status` (a status, a list or a set),
--   `resource_id`
-- @treturn table array
function Engine:log(filter)
  filter = filter or {}
  local want = status_set(filter.status, "log()")
  local out = {}
  local list = filter.subscription and (self.by_sub[filter.subscription] or {}) or self.order
  for _, ev in ipairs(list) do
    if (not want or want[ev.status]) and (filter.resource_id == nil or ev.resource_id == filter.resource_id) then
      out[#out + 1] = view(ev)
    end
  end
  return out
end

--- Every attempt made, oldest first, as the request that went out: `{event_id, n,
-- subscription_id, event_type, target_url, time, at, headers, body, status, error, sent,
-- note}` — `headers` as sent (signature and timestamp, never the secret), `body` the exact
-- bytes. For `GET /__sandbox/hooks/deliveries`.
-- @tparam[opt] table filter `subscription` (id)
-- @treturn table array
function Engine:requests(filter)
  filter = filter or {}
  local out = {}
  local list = filter.subscription and (self.by_sub[filter.subscription] or {}) or self.order
  for _, ev in ipairs(list) do
    for _, a in ipairs(ev.attempts) do
      if a.headers then
        local h = {}
        for k, v in pairs(a.headers) do h[k] = v end
        out[#out + 1] = { event_id = ev.id, n = a.n, subscription_id = ev.subscription_id,
          event_type = ev.event_type, target_url = ev.target_url, time = a.time,
          at = clockmod.iso(a.time), headers = h, body = ev.body, status = a.status,
          error = a.error, sent = a.sent, note = a.note }
      end
    end
  end
  return out
end

--- The subscriptions turned off by persistent failure: `{subscriptions = {ids}, reason, time,
-- at}` in order.
-- @treturn table array
function Engine:disabled()
  return util.deepcopy(self.disabled_log or {})
end

--- Counts for the control API: `{pending, succeeded, failed, in_flight, attempts}`.
-- @treturn table
function Engine:stats()
  local s = { pending = 0, succeeded = 0, failed = 0, in_flight = self.n_in_flight, attempts = 0 }
  for _, ev in ipairs(self.order) do
    s[ev.status:lower()] = s[ev.status:lower()] + 1
    s.attempts = s.attempts + #ev.attempts
  end
  return s
end

--- Forget a deleted subscription's events: pending ones are cancelled (no further attempt).
-- @tparam string subscription_id
-- @treturn integer how many events were forgotten
function Engine:drop(subscription_id)
  local list = self.by_sub[subscription_id]
  if not list then return 0 end
  for rid, f in pairs(self.in_flight) do
    if f.ev.subscription_id == subscription_id then
      self.session:cancel(rid)
      self.in_flight[rid] = nil
      self.n_in_flight = self.n_in_flight - 1
    end
  end
  for _, ev in ipairs(list) do
    ev.dropped = true
    self.by_id[ev.id] = nil
    self.clock:cancel(clock_key(ev))
    if ev.status ~= "PENDING" then self.finished = self.finished - 1 end
  end
  self.by_sub[subscription_id] = nil
  for _, subs in pairs(self.pair_subs) do subs[subscription_id] = nil end
  local keep = {}
  for _, ev in ipairs(self.order) do if not ev.dropped then keep[#keep + 1] = ev end end
  self.order = keep
  return #list
end

--- Stop: cancel every transfer and retry, close the session. Idempotent.
function Engine:close()
  if self.closed then return end
  self.closed = true
  for _, ev in ipairs(self.order) do
    if ev.status == "PENDING" then self.clock:cancel(clock_key(ev)) end
  end
  self.in_flight, self.n_in_flight = {}, 0
  self.session:close()
end

Engine.__tostring = function(self)
  local s = self:stats()
  return ("cohort.sandbox.Deliveries (%d pending, %d succeeded, %d failed, %d in flight)%s")
    :format(s.pending, s.succeeded, s.failed, s.in_flight, self.closed and " closed" or "")
end

return M
