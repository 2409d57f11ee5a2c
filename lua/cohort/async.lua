--- Non-blocking use: tasks (coroutines) whose API calls yield instead of blocking.
--
--     local task = p:spawn(function()
--       local me = assert(p.users:me())            -- yields while the request is in flight
--       return me.email
--     end)
--     while not task:done() do
--       p:poll()                                    -- never blocks: call it once per frame
--       draw_frame()
--     end
--     print(p:wait(task))                           -- the task's results, or nil, err
--
-- One scheduler serves every client (a task spawned on a Prolific client may call a QuestionPro
-- client too). `poll()` advances every transfer with a zero time-out and resumes the tasks whose
-- requests finished; `wait(task)` blocks (or, inside another task, yields) until it is done.
-- An error inside a task is kept on the task: `wait` returns it as `nil, err`, an `on_error`
-- handler receives it, and an error nobody collected is reported through `warn` when the task is
-- garbage-collected — it never vanishes silently.
-- @module cohort.async
local M = {}

local WAIT = setmetatable({}, { __name = "cohort.async.WAIT" }) -- the yield of a pending request

local Task = { __name = "cohort.Task" }
Task.__index = Task
M.Task = Task

local tasks_by_co = setmetatable({}, { __mode = "k" }) -- coroutine -> task
local waiting = {}      -- session -> { [request id] = task }
local sessions = {}     -- session -> true while it has requests in flight for tasks
local ready = {}        -- tasks to resume at the next poll (yielded for a frame, or woken)
local running_count = 0
local timers = {}       -- tasks asleep: { task = , due = monotonic seconds }
local compat = require "cohort.compat"
local core = require "cohort.core"

--- The task running now, if any.
-- @treturn[opt] Task
function M.current()
  local co = coroutine.running()
  return co and tasks_by_co[co] or nil
end

--- pcall that a task may yield through. Where the VM allows a yield across pcall (Lua 5.2+,
-- LuaJIT) this is pcall itself; on plain Lua 5.1 `f` runs in a coroutine that belongs to the
-- same task, and its yields are passed on to the scheduler and the answers back to it.
-- @tparam function f
-- @param ... arguments for `f`
-- @return what pcall returns
function M.pcall(f, ...)
  local task = M.current()
  if compat.yield_across_pcall or task == nil then return pcall(f, ...) end
  local co = coroutine.create(f)
  tasks_by_co[co] = task
  local res = compat.pack(coroutine.resume(co, ...))
  while coroutine.status(co) ~= "dead" do
    res = compat.pack(coroutine.resume(co, coroutine.yield(compat.unpack(res, 2, res.n))))
  end
  tasks_by_co[co] = nil
  return compat.unpack(res, 1, res.n)
end

local function finish(task, ok, ...)
  running_count = running_count - 1
  if ok then
    task.state = "done"
    task.results = compat.pack(...)
    if task.on_done then task.on_done(...) end
  else
    task.state = "failed"
    task.error = (...)
    if task.on_error then
      task.claimed = true
      task.on_error(task.error)
    end
  end
  for _, w in ipairs(task.waiters) do ready[#ready + 1] = w end
  task.waiters = {}
end

-- What a resume gave: the task ended (returned or raised), or it yielded `what`.
local function resumed(task, ok, what, ...)
  if coroutine.status(task.co) == "dead" then return finish(task, ok, what, ...) end
  if not ok then return finish(task, false, what) end
  if what ~= WAIT then ready[#ready + 1] = task end -- any other yield: resume next poll
end

-- Resume a task with values; handle what it yields next (no table per resume).
local function resume(task, ...)
  return resumed(task, coroutine.resume(task.co, ...))
end

--- Start `fn(...)` as a task. It runs at once until its first API call, then continues from
-- `poll()` or `wait()`.
-- @tparam function fn
-- @param ... arguments for `fn`
-- @treturn Task with fields `state` (`"running"`, `"done"`, `"failed"`), `results`, `error`,
--   and settable handlers `on_done(...)` and `on_error(err)`
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("cohort: spawn(fn): fn must be a function", 2) end
  local task = setmetatable({ co = coroutine.create(fn), state = "running", waiters = {} }, Task)
  tasks_by_co[task.co] = task
  running_count = running_count + 1
  resume(task, ...)
  return task
end

--- Is the task finished (done or failed)?
function Task:done()
  return self.state ~= "running"
end

function Task:__tostring()
  return ("cohort.Task (%s)"):format(self.state)
end

function Task:__gc()
  if self.state == "failed" and not self.claimed then
    local msg = "cohort: a task failed and nobody collected its error: " .. tostring(self.error)
    if warn then warn("@on"); warn(msg) else io.stderr:write(msg, "\n") end
  end
end

--- Submit a core request on `session` and wait for it: yield inside a task, block outside.
-- @return the core's result table
function M.request(session, creq)
  local task = M.current()
  if task == nil then return session:request(creq) end
  local id = session:submit(creq)
  local w = waiting[session]
  if w == nil then
    w = {}
    waiting[session] = w
  end
  w[id] = task
  sessions[session] = true
  return coroutine.yield(WAIT)
end

local function dispatch(session, results)
  local w = waiting[session]
  for _, r in ipairs(results) do
    local task = w and w[r.id]
    if task then
      w[r.id] = nil
      resume(task, r)
    end
  end
  if w and next(w) == nil then
    waiting[session], sessions[session] = nil, nil
  end
end

local function run_ready()
  if ready[1] == nil and timers[1] == nil then return end -- the common case: nothing to do
  if #timers > 0 then
    local now, keep = core.monotime(), {}
    for _, t in ipairs(timers) do
      if t.due <= now then ready[#ready + 1] = t.task else keep[#keep + 1] = t end
    end
    timers = keep
  end
  local batch = ready
  ready = {}
  for _, task in ipairs(batch) do
    if task.state == "running" then resume(task) end
  end
end

--- Advance every transfer and resume the tasks whose requests finished. Never blocks.
-- @treturn integer the number of tasks still running
function M.poll()
  run_ready()
  for session in pairs(sessions) do
    dispatch(session, session:step(0))
  end
  return running_count
end

-- Wait at most `ms` for something to happen, then dispatch.
local function step_blocking(ms)
  run_ready()
  if #timers > 0 then -- wake no later than the first sleeper is due
    local first = math.huge
    for _, t in ipairs(timers) do first = math.min(first, t.due) end
    ms = math.max(0, math.min(ms, math.ceil((first - core.monotime()) * 1000)))
    if next(sessions) == nil then
      if ms > 0 then core.sleep(ms / 1000) end
      return run_ready()
    end
  end
  local only = next(sessions)
  if only ~= nil and next(sessions, only) == nil then -- one session (the common case)
    return dispatch(only, only:step(ms))
  end
  -- several (or none): a short wait on each in turn
  local list = {}
  for session in pairs(sessions) do list[#list + 1] = session end
  for _, session in ipairs(list) do dispatch(session, session:step(5)) end
end

--- Block until `task` is done (inside another task: yield until then).
-- @tparam Task task
-- @return[1] the task's results
-- @return[2] nil
-- @treturn[2] the error the task raised (a cohort.Error, or a message)
function M.wait(task)
  if getmetatable(task) ~= Task then error("cohort: wait(task): not a task", 2) end
  local me = M.current()
  if me == task then error("cohort: wait(task): a task cannot wait for itself", 2) end
  while task.state == "running" do
    if me then
      task.waiters[#task.waiters + 1] = me
      coroutine.yield(WAIT)
    else
      if next(sessions) == nil and #ready == 0 and #timers == 0 then
        error("cohort: wait(task): the task is stuck (it waits for nothing cohort runs)", 2)
      end
      step_blocking(50)
    end
  end
  if task.state == "failed" then
    task.claimed = true
    return nil, task.error
  end
  return compat.unpack(task.results, 1, task.results.n)
end

--- Sleep for `seconds`: inside a task, yield and be resumed by a `poll()` once the time has
-- passed (the frame loop goes on); outside, block.
-- @tparam number seconds
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    error("cohort: sleep(seconds): seconds must be a number", 2)
  end
  local task = M.current()
  if task == nil then
    if seconds > 0 then core.sleep(seconds) end
    return
  end
  timers[#timers + 1] = { task = task, due = core.monotime() + math.max(0, seconds) }
  coroutine.yield(WAIT)
end

--- Run `fn(item, i)` for every item with at most `concurrency` at a time, in tasks.
-- Blocks outside a task, yields inside one.
-- @tparam table items an array
-- @tparam function fn returns a value, or nil, err
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress` (a bar on stderr
--   when it is a terminal; `false` turns it off), `label` (the bar's label)
-- @treturn table values, in input order (`values.n` = number of items; nil where one failed)
-- @treturn table errors, by index (`errors.count` = how many failed)
function M.map(items, fn, opts)
  opts = opts or {}
  local n = #items
  local bar = require("cohort.prompt.progress").new { label = opts.label or "items", total = n,
    enabled = opts.progress, delay = 0.5 }
  local conc = opts.concurrency or 8
  if compat.math_type(conc) ~= "integer" or conc < 1 then
    error("cohort: map(): concurrency must be a positive integer", 2)
  end
  conc = math.min(conc, 64, math.max(n, 1))
  local values, errors = { n = n }, { count = 0 }
  local next_i = 0
  local function worker()
    while next_i < n do
      next_i = next_i + 1
      local i = next_i
      local ok, v, err = M.pcall(fn, items[i], i)
      if not ok then v, err = nil, v end
      if v == nil then
        errors[i] = err
        errors.count = errors.count + 1
      else
        values[i] = v
      end
      bar:add(1)
    end
  end
  local workers = {}
  for k = 1, conc do workers[k] = M.spawn(worker) end
  for _, w in ipairs(workers) do
    local ok, err = M.wait(w)
    if ok == nil and err ~= nil then bar:finish(); error(err, 0) end
  end
  bar:finish()
  return values, errors
end

return M
