--- Progress bars on stderr for long operations (paging, bulk actions, payments, exports).
--
--     local progress = require "cohort.prompt.progress"
--     local bar = progress.new{ label = "export", total = 45, enabled = opts.progress }
--     for ... do ...; bar:add(1) end
--     bar:finish()
--
-- A bar draws one line, redrawn in place with a carriage return:
--
--     export  23/45 [##########----------]  51%  120/s  ETA 0:02
--
-- (without a total: `export  23  120/s`). It is shown only when stderr is a terminal —
-- `$TERM` is set and is not `"dumb"`, and `test -t 2` succeeds (Lua has no `isatty`; the shell
-- test runs once per process and is cached) — and never when `enabled = false`. Any function of
-- cohort that takes `progress = false` passes it here as `enabled`. A disabled bar costs nothing
-- and writes nothing, so callers use a bar unconditionally. Redraws are throttled to ten a
-- second; `finish` draws the final state and ends the line.
-- @module cohort.prompt.progress
local compat = require "cohort.compat"
local core = require "cohort.core"

local M = {}

--- Process-wide default for bars created with `enabled = nil`: `nil` (detect the terminal),
-- `true` (always draw) or `false` (never draw).
M.default = nil

--- Seconds between two redraws.
M.INTERVAL = 0.1

local tty_cache

--- Is stderr an interactive terminal? `$TERM` set (and not `"dumb"`) and `test -t 2` true.
-- Computed once per process.
-- @treturn boolean
function M.is_terminal()
  if tty_cache == nil then
    local term = os.getenv("TERM")
    if term == nil or term == "" or term == "dumb" then
      tty_cache = false
    else
      tty_cache = compat.execute("test -t 2") == true
    end
  end
  return tty_cache
end

--- Terminal width in columns: `$COLUMNS`, else 80.
-- @treturn integer
function M.width()
  local c = tonumber(os.getenv("COLUMNS") or "")
  if c and c >= 20 then return compat.tointeger(c) or 80 end
  return 80
end

--- Decide whether a bar is drawn, from an `enabled`/`progress` option value.
-- @param enabled `true`, `false` or `nil` (use `M.default`, then detect the terminal)
-- @treturn boolean
function M.wanted(enabled)
  if enabled == nil then enabled = M.default end
  if enabled == nil then return M.is_terminal() end
  return enabled and true or false
end

local Bar = { __name = "cohort.Progress" }
Bar.__index = Bar
M.Bar = Bar

local function clock(seconds)
  if seconds ~= seconds or seconds == math.huge or seconds < 0 then return "?:??" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = compat.idiv(seconds, 3600), compat.idiv(seconds % 3600, 60), seconds % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%d:%02d"):format(m, s)
end
M.clock = clock

local function rate_text(r)
  if r >= 100 then return ("%.0f/s"):format(r) end
  if r >= 10 then return ("%.1f/s"):format(r) end
  return ("%.2f/s"):format(r)
end

--- Make a progress bar.
-- @tparam table opts `label` (string shown first, default `"progress"`), `total` (expected
--   count, optional), `enabled` (`true`, `false` or `nil` = when stderr is a terminal),
--   `stream` (a file to draw on, default `io.stderr`), `width` (columns, default `$COLUMNS` or 80),
--   `clock` (a function returning seconds, default the core's monotonic clock; for tests),
--   `delay` (seconds: draw only once the work has taken that long, so quick operations leave
--   no trace; default 0 — cohort's own long operations use 0.5)
-- @treturn Bar
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("cohort: progress.new(): expected a table of options, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if not ({ label = 1, total = 1, enabled = 1, stream = 1, width = 1, clock = 1, delay = 1 })[k] then
      error(("cohort: progress.new(): unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  if opts.total ~= nil and (type(opts.total) ~= "number" or opts.total < 0) then
    error("cohort: progress.new(): total must be a non-negative number", 2)
  end
  if opts.label ~= nil and type(opts.label) ~= "string" then
    error("cohort: progress.new(): label must be a string", 2)
  end
  local now = opts.clock or core.monotime
  local self = setmetatable({
    label = opts.label or "progress",
    total = opts.total,
    count = 0,
    enabled = M.wanted(opts.enabled),
    stream = opts.stream or io.stderr,
    width = opts.width or M.width(),
    _now = now,
    _started = now(),
    _drawn = nil,
    _finished = false,
    _delay = opts.delay or 0,
  }, Bar)
  return self
end

--- A progress bar (made by `new`); every method is a no-op drawing nothing when disabled.
-- @type Bar

function Bar:__tostring()
  return ("Progress %s %d%s"):format(self.label, self.count,
    self.total and ("/" .. math.floor(self.total)) or "")
end

--- The text of the bar's line for its current state (without the carriage return).
-- @treturn string
function Bar:line()
  local elapsed = self._now() - self._started
  local rate = elapsed > 0 and self.count / elapsed or 0
  local parts = { self.label }
  local total = self.total
  if total then
    parts[#parts + 1] = ("%d/%d"):format(self.count, math.floor(total))
    local frac = total > 0 and math.min(self.count / total, 1) or 1
    local tail = ("%3d%%"):format(math.floor(frac * 100))
    local right = { tail }
    if rate > 0 then right[#right + 1] = rate_text(rate) end
    if self._finished then
      right[#right + 1] = "in " .. clock(elapsed)
    elseif rate > 0 and self.count < total then
      right[#right + 1] = "ETA " .. clock((total - self.count) / rate)
    end
    local fixed = #table.concat(parts, "  ") + #table.concat(right, "  ") + 6
    local cells = math.max(0, math.min(30, self.width - fixed - 1))
    if cells >= 5 then
      local full = math.floor(frac * cells + 0.5)
      parts[#parts + 1] = "[" .. ("#"):rep(full) .. ("-"):rep(cells - full) .. "]"
    end
    for _, r in ipairs(right) do parts[#parts + 1] = r end
  else
    parts[#parts + 1] = tostring(self.count)
    if rate > 0 then parts[#parts + 1] = rate_text(rate) end
    if self._finished then parts[#parts + 1] = "in " .. clock(elapsed) end
  end
  local s = table.concat(parts, "  ")
  if #s > self.width - 1 then s = s:sub(1, self.width - 1) end
  return s
end

function Bar:_draw(force)
  if not self.enabled then return end
  local t = self._now()
  if not self._drawn and t - self._started < self._delay then return end -- not yet, or never
  if not force and self._drawn and t - self._drawn < M.INTERVAL then return end
  self._drawn = t
  -- \r, the line, then erase to the end of the line (the previous text may have been longer)
  self.stream:write("\r", self:line(), "\27[K")
  if self.stream.flush then self.stream:flush() end
end

--- Count `n` more items done (default 1) and redraw if due.
-- @tparam[opt=1] number n
-- @treturn Bar the bar itself
function Bar:add(n)
  n = n or 1
  if type(n) ~= "number" then error("cohort: Progress:add(): n must be a number", 2) end
  self.count = self.count + n
  self:_draw(false)
  return self
end

--- Set the count done so far.
-- @tparam number n
-- @treturn Bar
function Bar:set(n)
  if type(n) ~= "number" then error("cohort: Progress:set(): n must be a number", 2) end
  self.count = n
  self:_draw(false)
  return self
end

--- Set or change the expected total (e.g. once the first page has told the count).
-- @tparam number total
-- @treturn Bar
function Bar:set_total(total)
  if total ~= nil and (type(total) ~= "number" or total < 0) then
    error("cohort: Progress:set_total(): total must be a non-negative number", 2)
  end
  self.total = total
  return self
end

--- Draw the final state and end the line. Idempotent; a disabled bar writes nothing.
-- @treturn Bar
function Bar:finish()
  if self._finished then return self end
  self._finished = true
  if self.enabled and (self._drawn or self._delay == 0) then -- a bar never shown stays unshown
    self:_draw(true)
    self.stream:write("\n")
    if self.stream.flush then self.stream:flush() end
  end
  return self
end
Bar.__close = Bar.finish

return M
