--- The sandbox's clock: real, accelerated or stepped time, and a scheduler of timed events.
--
-- Prolific has no sandbox; cohort's must let time pass as the live service does, or a script
-- that relies on a study publishing at `publish_at`, a submission timing out or Prolific
-- approving on its own is never rehearsed. Everything in the sandbox that happens "later" is an
-- event on this clock, and everything that reads the time reads `clock:now()`.
--
--     local clock = require "cohort.sandbox.clock"
--     local c = clock.new{ rate = 1 }                 -- real time (the default)
--     local c = clock.new{ rate = 600 }               -- ten sandbox minutes a real second
--     local c = clock.new{ rate = "stepped", start = 1767225600 }  -- moves only by advance()
--     c:now()                                         --> sandbox Unix seconds (float)
--     c:at(t, "timeout:" .. sub.id, function(t, key) ... end)  -- t in sandbox seconds
--     c:cancel("timeout:" .. sub.id)                  --> true if it was pending
--     c:advance(3600)                                 --> runs what falls due; count, errors
--     c:due()                                         --> runs what is due now; count, errors
--
-- **Rates.** `rate` is a number of sandbox seconds a real second (1: real time; 600 for
-- `--clock-rate 600`), or `"stepped"`: time stands still and moves only by `advance` (the
-- control API's step). `start` is the sandbox time at creation (default: the real time now).
-- `advance(s)` works on every clock: on a running clock it moves time forward by `s` on top of
-- the rate. Time never goes backwards, whatever the real clock does.
--
-- **Events.** `at(t, key, fn)` schedules `fn(t, key)` at sandbox time `t`; a key names one
-- pending event, and scheduling a key again replaces it (so a re-scheduled publish or a
-- refreshed time-out never fires twice). `due()` runs every event whose time has come, in time
-- order (events at the same time in the order they were scheduled), each exactly once: an event
-- is taken off the schedule before it runs. While an event runs, `now()` reads the event's own
-- time, so an advance that jumps over many events plays them out as if time had passed through
-- each: a submission that starts at 10:00 and times out 30 minutes later has its TIMED-OUT at
-- 10:30 even when the clock jumped from 09:00 to 18:00, and whatever an event schedules
-- relative to `now()` lands where it would have. Events that an event schedules at or before
-- the target time run in the same call. An event that raises is not run again: the error is
-- kept (`c.errors`, the last `clock.ERRORS_KEPT`) and returned, and the other events go on.
--
-- **Wiring (the server).** The application owns one clock, made from the command line:
--
--     app.clock = clock.new{ rate = clock.parse_rate(flag_value), start = clock.parse_start(v) }
--
-- and calls `app.clock:due()` (no argument) from `app:tick(now)` — before the delivery engine's
-- `pump()`, so a retry that falls due is sent in the same tick — and at the top of
-- `app:handle(req)`, so no request sees a state the clock has already passed (a submission
-- past its time not yet TIMED-OUT because the tick has not come round). The tick's real `now`
-- is not needed: the clock reads its own real-time source. Handlers read `app.clock:now()` for
-- every time they record (`clock:iso()` gives Prolific's ISO 8601 form), and schedule with the
-- keys below; `POST /__sandbox/clock/advance {"seconds": N}` calls `advance(N)` and answers
-- what ran; `GET /__sandbox/clock` answers `c:state()` and `c:pending()`. `POST
-- /__sandbox/reset` calls `c:reset()`: the pending events go with the state they belonged
-- to, and the time goes back to where the clock started (the one time it goes backwards: a
-- reset sandbox is as if it had just started); `POST /__sandbox/seed` calls `c:clear()` (a new
-- state, the time stays). When nothing is due, `due()` costs one look at the schedule's top and
-- one read of the real-time source.
--
-- Keys the wiring uses (one pending event per key; `clock.key(kind, id)` builds them):
--
--   key                         when                                 what it does
--   publish:<study id>          the study's `publish_at`             SCHEDULED → ACTIVE
--   publish:<collection id>     the collection's `publish_at`        publishes its studies
--   max_time:<submission id>    start + `maximum_allowed_time` min   RESERVED or ACTIVE →
--                                                                    TIMED-OUT, the place freed
--   auto_approve:<submission>   AWAITING REVIEW + 21 days            APPROVED, reward paid
--   delivery:<event id>         the webhook retry schedule           (cohort.sandbox.deliveries)
--   sim:<submission id>         a simulated participant's next step  RESERVED → ACTIVE → outcome
--
-- (cohort.sandbox.lifecycle is where the sandbox schedules and runs them.)
--
-- The review window: "Submissions that are awaiting review are automatically approved after 21
-- days" (Prolific's OpenAPI file, tag Submissions, "Submissions guide": "Approve") —
-- `clock.AUTO_APPROVE_AFTER`. A submission's time-out: "Max time in minutes for a participant
-- to finish the submission. Submissions are timed out if it takes longer" (schema
-- `maximum_allowed_time`), "always less than 24 hours" (tag Submissions).
-- @module cohort.sandbox.clock
local M = {}

--- Prolific's review window, in seconds: a submission still AWAITING REVIEW this long after it
-- got there is approved automatically (21 days; source above).
M.AUTO_APPROVE_AFTER = 21 * 86400

--- How many errors of scheduled events a clock keeps in `c.errors`.
M.ERRORS_KEPT = 100

--- The largest rate accepted (sandbox seconds a real second): a year a second.
M.MAX_RATE = 365 * 86400

local Clock = { __name = "cohort.sandbox.Clock" }
Clock.__index = Clock
M.Clock = Clock

-- The real time, in Unix seconds with sub-second precision. A monotonic clock anchored to the
-- wall clock once, where cohort.core is loadable, so an NTP step of the wall clock does not make
-- an accelerated clock jump; otherwise the server's native clock, otherwise os.time().
local function default_source()
  local ok, core = pcall(require, "cohort.core")
  if ok and type(core) == "table" and core.monotime then
    local wall
    local okn, native = pcall(require, "cohort.sandbox.native")
    wall = okn and native.now() or os.time()
    local mono0 = core.monotime()
    return function() return wall + (core.monotime() - mono0) end
  end
  local okn, native = pcall(require, "cohort.sandbox.native")
  if okn and native.now then return native.now end
  return function() return os.time() + 0.0 end
end

--- The real-time source a clock reads when `source` is not given (a function returning Unix
-- seconds).
-- @treturn function
function M.real_source()
  return default_source()
end

local function check_rate(rate, where)
  if rate == "stepped" then return nil end
  if type(rate) ~= "number" or rate ~= rate or rate <= 0 or rate > M.MAX_RATE then
    error(("cohort.sandbox.clock: %s: rate must be a positive number of sandbox seconds a real "
      .. "second (at most %d) or \"stepped\", not %s"):format(where, M.MAX_RATE, tostring(rate)), 3)
  end
  return rate
end

--- A new clock.
-- @tparam[opt] table opts `rate` (number > 0, or `"stepped"`; default 1), `start` (sandbox
--   Unix seconds at creation; default the real time now), `source` (a function returning the
--   real time in seconds; default `clock.real_source()`; the specs give a fake one)
-- @treturn Clock
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("cohort.sandbox.clock.new(): options must be a table", 2) end
  for k in pairs(opts) do
    if k ~= "rate" and k ~= "start" and k ~= "source" then
      error(("cohort.sandbox.clock.new(): unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  local rate = check_rate(opts.rate == nil and 1 or opts.rate, "new()")
  local source = opts.source or default_source()
  if type(source) ~= "function" then
    error("cohort.sandbox.clock.new(): source must be a function returning seconds", 2)
  end
  local real = source()
  local start = opts.start
  if start == nil then start = real end
  if type(start) ~= "number" or start ~= start or start < 0 or start >= 2 ^ 53 then
    error("cohort.sandbox.clock.new(): start must be Unix seconds", 2)
  end
  return setmetatable({
    rate = rate,               -- nil when stepped
    source = source,
    start = opts.start,        -- as given (nil: the real time at creation), for reset()
    base_sandbox = start + 0.0, -- sandbox time at base_real
    base_real = real,
    last = start + 0.0,        -- now() never goes below this
    virtual = nil,             -- the running event's time, inside due()
    heap = {}, pending_by_key = {}, seq = 0, dead = 0,
    running = false, errors = {},
  }, Clock)
end

--- The sandbox time now, in Unix seconds (a float). Inside a scheduled event: that event's
-- time.
-- @treturn number
function Clock:now()
  if self.virtual then return self.virtual end
  local t = self.base_sandbox
  if self.rate then t = t + (self.source() - self.base_real) * self.rate end
  if t < self.last then t = self.last end
  self.last = t
  return t
end

--- Is the clock stepped (moved only by `advance`)?
-- @treturn boolean
function Clock:stepped()
  return self.rate == nil
end

--- Change the rate, keeping the time where it is.
-- @param rate a number of sandbox seconds a real second, or `"stepped"`
function Clock:set_rate(rate)
  local r = check_rate(rate, "set_rate()")
  local t = self:now()
  self.base_sandbox, self.base_real, self.rate = t, self.source(), r
end

-- Binary min-heap of entries { t, seq, key, fn, live } ordered by (t, seq).
local function less(a, b)
  if a.t ~= b.t then return a.t < b.t end
  return a.seq < b.seq
end

local function heap_push(h, e)
  local i = #h + 1
  h[i] = e
  while i > 1 do
    local p = i // 2
    if less(h[i], h[p]) then h[i], h[p] = h[p], h[i]; i = p else break end
  end
end

local function heap_pop(h)
  local n = #h
  if n == 0 then return nil end
  local top = h[1]
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and less(h[l], h[m]) then m = l end
    if r <= n and less(h[r], h[m]) then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end

-- Drops cancelled entries from the top, so h[1] is live (or the heap is empty).
local function heap_clean(self)
  local h = self.heap
  while h[1] and not h[1].live do
    heap_pop(h)
    self.dead = self.dead - 1
  end
end

-- Rebuilds the heap without its cancelled entries once they outnumber the live ones, so a
-- key re-scheduled many times (a refreshed time-out) does not grow it without bound.
local function heap_compact(self)
  local live = #self.heap - self.dead
  if self.dead <= 64 or self.dead <= live then return end
  local old = self.heap
  self.heap = {}
  for _, e in ipairs(old) do
    if e.live then heap_push(self.heap, e) end
  end
  self.dead = 0
end

local function check_key(key, method)
  if type(key) ~= "string" or key == "" then
    error(("cohort.sandbox.clock: %s: key must be a non-empty string"):format(method), 3)
  end
end

--- The key of an event of the kind the wiring schedules: `clock.key("max_time", sub.id)` →
-- `"max_time:<id>"`.
-- @tparam string kind `publish`, `max_time`, `auto_approve`, `delivery`, …
-- @tparam string id the resource's id
-- @treturn string
function M.key(kind, id)
  return tostring(kind) .. ":" .. tostring(id)
end

--- Schedule `fn(t, key)` at sandbox time `t`. A pending event with the same key is replaced.
-- A time already past runs at the next `due()`.
-- @tparam number t sandbox Unix seconds
-- @tparam string key names the event (see the keys above)
-- @tparam function fn called as `fn(t, key)`; `now()` reads `t` while it runs
-- @treturn string the key
function Clock:at(t, key, fn)
  if type(t) ~= "number" or t ~= t or t == math.huge or t == -math.huge then
    error("cohort.sandbox.clock: at(): t must be a number of sandbox seconds", 2)
  end
  check_key(key, "at()")
  if type(fn) ~= "function" then error("cohort.sandbox.clock: at(): fn must be a function", 2) end
  local old = self.pending_by_key[key]
  if old then old.live = false; self.dead = self.dead + 1 end
  self.seq = self.seq + 1
  local e = { t = t + 0.0, seq = self.seq, key = key, fn = fn, live = true }
  self.pending_by_key[key] = e
  heap_push(self.heap, e)
  heap_compact(self)
  return key
end

--- Schedule `fn` `seconds` after now (see `at`).
-- @tparam number seconds from now, ≥ 0
-- @tparam string key
-- @tparam function fn
-- @treturn string the key
function Clock:after(seconds, key, fn)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error("cohort.sandbox.clock: after(): seconds must be a number >= 0", 2)
  end
  return self:at(self:now() + seconds, key, fn)
end

--- Cancel the pending event of `key`.
-- @tparam string key
-- @treturn boolean true if one was pending
function Clock:cancel(key)
  check_key(key, "cancel()")
  local e = self.pending_by_key[key]
  if not e then return false end
  e.live = false
  self.dead = self.dead + 1
  self.pending_by_key[key] = nil
  heap_compact(self)
  return true
end

--- The sandbox time of the pending event of `key`, or nil.
-- @tparam string key
-- @treturn number|nil
function Clock:when(key)
  check_key(key, "when()")
  local e = self.pending_by_key[key]
  return e and e.t or nil
end

--- Drop every pending event (the state they belonged to is gone: `POST /__sandbox/reset`).
-- The time stays where it is.
-- @treturn integer how many were pending
function Clock:clear()
  local n = #self.heap - self.dead
  for _, e in ipairs(self.heap) do e.live = false end
  self.heap, self.pending_by_key, self.dead = {}, {}, 0
  return n
end

--- Start over: drop every pending event and put the time back where the clock started — the
-- `start` it was made with, or, when none was given, the real time now (a reset sandbox is as
-- if the server had just started). The one way time goes backwards: the state the earlier
-- times belonged to is gone with the events. The rate stays.
-- @treturn integer how many events were pending
function Clock:reset()
  if self.running then error("cohort.sandbox.clock: reset(): not from inside a scheduled event", 2) end
  local n = self:clear()
  local real = self.source()
  local t = self.start
  if t == nil then t = real end
  self.base_sandbox, self.base_real, self.last, self.virtual = t + 0.0, real, t + 0.0, nil
  return n
end

--- The time of the next pending event, or nil when none is.
-- @treturn number|nil
function Clock:next_time()
  heap_clean(self)
  return self.heap[1] and self.heap[1].t or nil
end

--- The pending events in the order they will run: an array of `{key =, t =, at = <ISO>}`.
-- @treturn table
function Clock:pending()
  local list = {}
  for _, e in ipairs(self.heap) do
    if e.live then list[#list + 1] = e end
  end
  table.sort(list, less)
  local out = {}
  for i, e in ipairs(list) do out[i] = { key = e.key, t = e.t, at = M.iso(e.t) } end
  return out
end

--- Run every event due by now (or by `upto`, if earlier), in time order, each once.
-- Called from the server's tick. Inside an event, a nested `due()` does nothing (returns 0).
-- @tparam[opt] number upto sandbox seconds; defaults to now, and is never later than now
-- @treturn integer how many events ran
-- @treturn table the errors raised by events: array of `{key =, t =, message =}`
local NONE = setmetatable({}, { __newindex = function() error("read-only", 2) end })

function Clock:due(upto)
  if self.running then return 0, NONE end
  -- the common case, on every request and tick: nothing is due (one look at the heap's top)
  local top = self.heap[1]
  if top == nil then return 0, NONE end
  if top.live and upto == nil and top.t > self:now() then return 0, NONE end
  local limit = self:now()
  if upto ~= nil then
    if type(upto) ~= "number" or upto ~= upto then
      error("cohort.sandbox.clock: due(): upto must be a number of sandbox seconds", 2)
    end
    if upto < limit then limit = upto end
  end
  local ran, errs = 0, {}
  self.running = true
  while true do
    heap_clean(self)
    local e = self.heap[1]
    if not e or e.t > limit then break end
    heap_pop(self.heap)
    self.pending_by_key[e.key] = nil
    e.live = false
    -- an event scheduled in the past runs at the latest time already played: never backwards
    local t = e.t
    if self.virtual and t < self.virtual then t = self.virtual end
    self.virtual = t
    local ok, err = pcall(e.fn, e.t, e.key)
    ran = ran + 1
    if not ok then
      local rec = { key = e.key, t = e.t, message = tostring(err) }
      errs[#errs + 1] = rec
      self.errors[#self.errors + 1] = rec
      if #self.errors > M.ERRORS_KEPT then table.remove(self.errors, 1) end
    end
  end
  self.virtual = nil
  self.running = false
  if limit > self.last then self.last = limit end
  return ran, errs
end

--- Move time forward by `seconds` and run what falls due on the way (see `due`).
-- @tparam number seconds ≥ 0
-- @treturn integer how many events ran
-- @treturn table the errors raised by events
function Clock:advance(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds == math.huge then
    error("cohort.sandbox.clock: advance(): seconds must be a finite number >= 0", 2)
  end
  if self.running then
    error("cohort.sandbox.clock: advance(): not from inside a scheduled event", 2)
  end
  local t = self:now()
  self.base_sandbox = self.base_sandbox + seconds
  if self.last < t + seconds then self.last = t + seconds end
  return self:due()
end

--- Move time forward to sandbox time `t` (no-op if it is already past) and run what falls due.
-- @tparam number t sandbox Unix seconds
-- @treturn integer how many events ran
-- @treturn table the errors raised by events
function Clock:advance_to(t)
  if type(t) ~= "number" or t ~= t then
    error("cohort.sandbox.clock: advance_to(): t must be a number of sandbox seconds", 2)
  end
  local now = self:now()
  return self:advance(t > now and t - now or 0)
end

--- What the control API shows: `{now, at, rate, stepped, pending, next}`.
-- @treturn table
function Clock:state()
  local now = self:now()
  local nxt = self:next_time()
  return { now = now, at = M.iso(now), rate = self.rate or "stepped", stepped = self.rate == nil,
    pending = #self.heap - self.dead, next = nxt, next_at = nxt and M.iso(nxt) or nil }
end

Clock.__tostring = function(self)
  return ("cohort.sandbox.Clock %s (%s, %d pending)"):format(M.iso(self:now()),
    self.rate and ("rate " .. tostring(self.rate)) or "stepped", #self.heap - self.dead)
end

--- A sandbox time as Prolific writes times: ISO 8601 UTC with microseconds.
-- @tparam number t Unix seconds
-- @treturn string e.g. `"2026-01-01T00:00:00.000000Z"`
function M.iso(t)
  local whole = math.floor(t)
  local us = math.floor((t - whole) * 1e6 + 0.5)
  if us >= 1000000 then whole, us = whole + 1, 0 end
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. string.format(".%06dZ", us)
end

--- The ISO form of this clock's now (the wiring's replacement for the handlers' time stamps).
-- @treturn string
function Clock:iso()
  return M.iso(self:now())
end

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Parse an ISO 8601 time (`publish_at` and the like) into Unix seconds.
-- Accepts `YYYY-MM-DD`, then optionally `THH:MM[:SS[.fraction]]` (or a space for `T`), then
-- `Z`, `±HH:MM`, `±HHMM`, ` UTC`, ` GMT` or nothing (UTC).
-- @tparam string s
-- @treturn[1] number Unix seconds
-- @return[2] nil
-- @treturn[2] string what is wrong with it
function M.parse_iso(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "not an ISO 8601 date (YYYY-MM-DD…)" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 then return nil, "month out of range" end
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local dim = MDAYS[mo] + ((mo == 2 and leap) and 1 or 0)
  if d < 1 or d > dim then return nil, "day out of range" end
  local h, mi, sec, frac = 0, 0, 0, 0
  if rest ~= "" then
    local hh, mm, tail = rest:match("^[T ](%d%d):(%d%d)(.*)$")
    if hh then
      h, mi, rest = tonumber(hh), tonumber(mm), tail
      local ss, tail2 = rest:match("^:(%d%d)(.*)$")
      if ss then
        sec, rest = tonumber(ss), tail2
        local f, tail3 = rest:match("^[%.,](%d+)(.*)$")
        if f then frac, rest = tonumber("0." .. f), tail3 end
      end
      if h > 23 or mi > 59 or sec > 60 then return nil, "time of day out of range" end
    end
  end
  local offset = 0
  if rest == "" or rest == "Z" or rest == "z" or rest == " UTC" or rest == " GMT" then
    offset = 0
  else
    local sign, oh, om = rest:match("^([%+%-])(%d%d):?(%d%d)$")
    if not sign then
      return nil, ("unsupported time zone %q (give Z or an offset such as +01:00)"):format(rest)
    end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 23 or om > 59 then return nil, "offset out of range" end
    offset = (oh * 3600 + om * 60) * (sign == "+" and 1 or -1)
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + frac - offset
end

--- Read `--clock-rate`'s value: a positive number or `stepped`.
-- @tparam string text
-- @return the rate for `clock.new`; raises a message naming the flag when it is not one
function M.parse_rate(text)
  if text == "stepped" then return "stepped" end
  local n = tonumber(text)
  if not n or n ~= n or n <= 0 or n > M.MAX_RATE then
    error(("--clock-rate: not a positive number or \"stepped\": %s"):format(tostring(text)), 0)
  end
  return n
end

--- Read `--clock-start`'s value: Unix seconds or an ISO 8601 time.
-- @tparam string text
-- @treturn number Unix seconds; raises a message naming the flag when it is not one
function M.parse_start(text)
  local n = tonumber(text)
  if n and n >= 0 and n < 2 ^ 53 then return n end
  local t, err = M.parse_iso(text)
  if not t then error(("--clock-start: %s: %s"):format(tostring(text), err), 0) end
  return t
end

return M
