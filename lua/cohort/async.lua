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
--
-- The rules that keep every task from being stranded (docs/async.md says the same for users):
--
-- * An error inside a task is kept on the task: `wait` returns it as `nil, err`, an `on_error`
--   handler receives it, and an error nobody collected is reported (`M.report`) when the task is
--   garbage-collected. A task's failure never touches another task.
-- * `on_done` and `on_error` run protected. One that raises does not stop the others: every task
--   finished in the same step is settled first, then the `poll()` or `wait()` (or `close()`)
--   that ran the callback raises one error naming the call and carrying every callback's message.
-- * Callbacks run inside `poll()` and `wait()`, which are not re-entrant: inside a callback,
--   `poll()` and a blocking `wait()` raise at once (spawn a task and wait there). Inside a task
--   `wait` yields; waiting for itself, or for a task that waits for this one, raises at once; and
--   `poll()` raises (a task's calls already yield).
-- * Closing a client ends the tasks it spawned with a cohort.Error of kind "closed", answers
--   every other task's request in flight on it with that error, and leaves the other clients'
--   tasks alone. Further calls on the client raise.
-- * Should the core raise while it reads a client's answers (it must not; this is the net under
--   it), the tasks waiting on that client's requests end with an error of kind "decode" instead
--   of waiting forever.
-- @module cohort.async
local compat = require "cohort.compat"
local core = require "cohort.core"
local Error = require "cohort.error"
local util = require "cohort.util"

local M = {}

local WAIT = setmetatable({}, { __name = "cohort.async.WAIT" }) -- the yield of a pending request

local Task = { __name = "cohort.Task" }
Task.__index = Task
M.Task = Task

local weak_keys = { __mode = "k" }
-- Weak values as well as keys: on 5.1 and LuaJIT a weak-keyed table is no ephemeron, and a task
-- (the value) holds its coroutine (the key), so "k" alone would keep every task for ever. A
-- running task is held by what it waits on (a request record, a timer, a task's waiters, the
-- ready queue) or by the code resuming it.
local tasks_by_co = setmetatable({}, { __mode = "kv" }) -- coroutine -> task
-- One record per session that tasks sent requests on: `w` maps a request id to the waiting task,
-- `n` counts them. The table `w` is never replaced, so a delivery, a close or a spawn made while
-- a step is being dispatched always sees the live one. `active` holds a record while requests
-- are in flight; without any it may go (weak values, for the same reason as above).
local recs = setmetatable({}, { __mode = "kv" })   -- session -> record
local active = {}          -- records with requests in flight (compacted after each poll/step)
local closed = setmetatable({}, weak_keys) -- session -> name of its closed client
local owned = setmetatable({}, weak_keys)  -- client -> weak set of the running tasks it spawned
local ready, spare = {}, {} -- tasks to resume at the next poll (two arrays, so no table per poll)
local timers = {}           -- tasks asleep: { task = , due = monotonic seconds }
local running_count = 0
local depth = 0             -- tasks being resumed now (> 0: the code running is inside a task)
local cb_depth = 0          -- callbacks running now
local cb_cos = {}           -- the coroutine each running callback runs in (false: the main one)
local cb_errors = {}        -- messages of callbacks that raised, not yet reported
local has_table_gc = compat.host ~= "5.1" and compat.host ~= "jit"
local newproxy = rawget(_G, "newproxy")

-- "p:poll()" for a call made through a client, "cohort.async.poll()" otherwise.
local function method_of(client, name)
  if type(client) == "table" and client.name then
    return ("%s:%s()"):format(client.var or client.name, name)
  end
  return ("cohort.async.%s()"):format(name)
end

--- Report an error that a failed task kept and nobody collected (called when the task is
-- garbage-collected). By default through `warn` (Lua 5.4), else on stderr; a host may replace
-- it to route the message into its own log.
-- @tparam string msg
function M.report(msg)
  local warn = rawget(_G, "warn")
  if warn then warn("@on"); warn(msg) else io.stderr:write(msg, "\n") end
end

local function report_unclaimed(task)
  if task.state == "failed" and not task.claimed then
    pcall(M.report, "cohort: a task failed and nobody collected its error: " .. tostring(task.error))
  end
end

--- The task running now, if any. A callback is never inside a task, even when it runs in a
-- task's coroutine (a task that closed a client runs that client's `on_error` handlers): a call
-- there blocks instead of yielding the task in the middle of the close.
-- @treturn[opt] Task
function M.current()
  local co = coroutine.running()
  if co == nil or (cb_depth > 0 and cb_cos[cb_depth] == co) then return nil end
  return tasks_by_co[co]
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

-- ------------------------------------------------------------------ callbacks

-- The message with the traceback of the callback's own frames (up to the scheduler's): the
-- error is reported later, from another place.
local function with_traceback(e)
  local tb = debug.traceback(tostring(e), 2)
  local cut = math.min(tb:find("\n[^\n]*[/\\]cohort[/\\]async%.lua:") or #tb + 1,
    tb:find("\n[^\n]*'x%a*call'") or #tb + 1)
  tb = tb:sub(1, cut - 1)
  return (tb:gsub("\nstack traceback:$", ""))
end

-- xpcall with arguments (plain 5.1's xpcall takes none).
local xcall = xpcall
if compat.host == "5.1" then
  xcall = function(f, handler, ...)
    local args = compat.pack(...)
    return xpcall(function() return f(compat.unpack(args, 1, args.n)) end, handler)
  end
end

-- Run a task's handler protected; an error is kept for the call that is running the scheduler.
local function call_back(task, which, f, ...)
  cb_depth = cb_depth + 1
  cb_cos[cb_depth] = coroutine.running() or false
  local ok, err = xcall(f, with_traceback, ...)
  cb_cos[cb_depth] = nil
  cb_depth = cb_depth - 1
  if not ok then
    cb_errors[#cb_errors + 1] = ("%s raised an error: %s")
      :format(task._what or ("a task's " .. which .. " callback"), tostring(err))
  end
end

-- Raise the callback errors recorded after position `mark`, as one error naming `method`.
local function raise_callback_errors(method, mark)
  mark = mark or 0
  local n = #cb_errors - mark
  if n <= 0 then return end
  local parts = {}
  for i = mark + 1, #cb_errors do
    parts[#parts + 1] = cb_errors[i]
    cb_errors[i] = nil
  end
  local text = parts[1]
  if n > 1 then
    text = ("%s\n(and %d more callback errors)\n%s"):format(text, n - 1, table.concat(parts, "\n", 2))
  end
  util.misuse(method, "%s", text)
end

-- ------------------------------------------------------------------ task lifetime

local function finish(task, ok, ...)
  running_count = running_count - 1
  if task._owner then task._owner[task] = nil end
  task.waiting_for, task._deliver = nil, nil
  -- wake the waiters first: a callback that raises must not keep them asleep
  local waiters = task.waiters
  for i = 1, #waiters do
    ready[#ready + 1] = waiters[i]
    waiters[i] = nil
  end
  if ok then
    task.state = "done"
    task.results = compat.pack(...)
    local f = task.on_done
    if f then call_back(task, "on_done", f, ...) end
  else
    task.state = "failed"
    task.error = (...)
    local f = task.on_error
    if f then
      task.claimed = true
      call_back(task, "on_error", f, task.error)
    elseif not has_table_gc and newproxy then
      -- 5.1 and LuaJIT call __gc on userdata only: a proxy reports the error when the task dies
      local proxy = newproxy(true)
      getmetatable(proxy).__gc = function() report_unclaimed(task) end
      task._gc = proxy
    end
  end
end

-- What a resume gave: the task ended (returned or raised), or it yielded `what`.
local function resumed(task, ok, what, ...)
  depth = depth - 1
  if coroutine.status(task.co) == "dead" then return finish(task, ok, what, ...) end
  if not ok then return finish(task, false, what) end
  if what ~= WAIT then ready[#ready + 1] = task end -- any other yield: resume next poll
end

-- Resume a task with values; handle what it yields next (no table per resume). Only a running
-- task suspended in its own coroutine is resumed: never one that is running the code now.
local function resume(task, ...)
  if task.state ~= "running" or coroutine.status(task.co) ~= "suspended" then return end
  depth = depth + 1
  return resumed(task, coroutine.resume(task.co, ...))
end

local function spawn(owner, fn, ...)
  local task = setmetatable({ co = coroutine.create(fn), state = "running", waiters = {} }, Task)
  tasks_by_co[task.co] = task
  running_count = running_count + 1
  if owner then
    local set = owned[owner]
    if set == nil then
      set = setmetatable({}, weak_keys)
      owned[owner] = set
    end
    set[task] = true
    task._owner = set
  end
  resume(task, ...)
  return task
end

--- Start `fn(...)` as a task. It runs at once until its first API call, then continues from
-- `poll()` or `wait()`. Allowed anywhere, callbacks included.
-- @tparam function fn
-- @param ... arguments for `fn`
-- @treturn Task with fields `state` (`"running"`, `"done"`, `"failed"`), `results`, `error`,
--   and settable handlers `on_done(...)` and `on_error(err)`
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    util.misuse("cohort.async.spawn()", "fn must be a function (got %s)", type(fn))
  end
  return spawn(nil, fn, ...)
end

--- Start a task on behalf of `client` (what `client:spawn` does): closing the client ends it.
-- @tparam table client the client (its `name` names the method in misuse errors)
-- @tparam function fn
-- @param ... arguments for `fn`
-- @treturn Task
function M.spawn_on(client, fn, ...)
  if type(fn) ~= "function" then
    util.misuse(method_of(client, "spawn"), "fn must be a function (got %s)", type(fn))
  end
  return spawn(client, fn, ...)
end

--- Is the task finished (done or failed)?
-- @treturn boolean
function Task:done()
  return self.state ~= "running"
end

function Task:__tostring()
  return ("cohort.Task (%s)"):format(self.state)
end

Task.__gc = report_unclaimed -- 5.2+; on 5.1 and LuaJIT, the proxy made by finish

-- ------------------------------------------------------------------ requests

-- A result standing for an answer that never reached its task.
local function lost_result(id, fields)
  return { id = id, err = fields }
end

local function broken_fields(msg, own)
  msg = tostring(msg)
  if #msg > 200 then msg = msg:sub(1, 199) .. "…" end
  return {
    kind = "decode", title = "Answer not handled", attempts = 1,
    message = (own and "cohort could not handle the answer to this request: %s"
      or "cohort could not handle an answer on this client (%s); this request was in flight "
      .. "then and was cancelled"):format(msg) .. " — it may or may not have taken effect",
  }
end

-- Take every request waiting on a session record out of it: an array of id, task, id, task …
-- (collected first: the loop that handles them may add to the record).
local function take_waiting(rec)
  local list = {}
  for id, task in pairs(rec.w) do
    list[#list + 1] = id
    list[#list + 1] = task
  end
  for i = 1, #list, 2 do
    rec.w[list[i]] = nil
    rec.n = rec.n - 1
  end
  return list
end

-- The core raised while handing out a session's answers: which request's answer it was, and
-- whether others were lost with it, cannot be told, so every task waiting on the session ends
-- with an error (at the next poll) instead of waiting forever. Their requests are cancelled.
local function broken(rec, msg)
  local list = take_waiting(rec)
  for i = 1, #list, 2 do
    local id, task = list[i], list[i + 1]
    pcall(rec.session.cancel, rec.session, id)
    task._req = nil
    task._deliver = lost_result(id, broken_fields(msg, false))
    ready[#ready + 1] = task
  end
end

--- Submit a core request on `session` and wait for it: yield inside a task, block outside.
-- @param session a cohort.core Session
-- @tparam table creq the core request
-- @return the core's result table (`err` set on a failure)
function M.request(session, creq)
  local name = closed[session]
  if name then
    util.misuse(name .. " client", "attempt to use a closed client (%s %s)", creq.method or "GET",
      creq.path or "")
  end
  local task = M.current()
  local id = session:submit(creq) -- a malformed request raises here: nothing was sent
  if task == nil then
    local ok, r = pcall(session.wait, session, id)
    if ok then return r end
    pcall(session.cancel, session, id)
    local rec = recs[session]
    if rec then broken(rec, r) end -- their answers may have gone with it
    return lost_result(id, broken_fields(r, true))
  end
  local rec = recs[session]
  if rec == nil then
    rec = { session = session, w = {}, n = 0 }
    recs[session] = rec
  end
  rec.w[id] = task
  rec.n = rec.n + 1
  if not rec.listed then
    rec.listed = true
    active[#active + 1] = rec
  end
  task._req = rec
  task._req_id = id
  return coroutine.yield(WAIT)
end

local function dispatch(rec, results)
  local w = rec.w
  for i = 1, #results do
    local r = results[i]
    local task = w[r.id]
    if task ~= nil then
      w[r.id] = nil
      rec.n = rec.n - 1
      task._req = nil
      resume(task, r)
    end
  end
end

local function step(rec, ms)
  local ok, results = pcall(rec.session.step, rec.session, ms)
  if ok then return dispatch(rec, results) end
  return broken(rec, results)
end

-- Drop the records with nothing in flight from `active`.
local function compact()
  local n, j = #active, 0
  for i = 1, n do
    local rec = active[i]
    if rec.n > 0 then
      j = j + 1
      active[j] = rec
    else
      rec.listed = false
    end
  end
  for i = j + 1, n do active[i] = nil end
end

local function run_ready()
  if ready[1] == nil and timers[1] == nil then return end -- the common case: nothing to do
  if timers[1] ~= nil then -- wake the sleepers whose time has come, in place
    local now, n, j = core.monotime(), #timers, 0
    for i = 1, n do
      local t = timers[i]
      if t.task.state ~= "running" then -- ended meanwhile (its client was closed)
      elseif t.due <= now then ready[#ready + 1] = t.task
      else
        j = j + 1
        timers[j] = t
      end
    end
    for i = j + 1, n do timers[i] = nil end
  end
  local batch = ready
  ready = spare or {}
  spare = nil
  for i = 1, #batch do
    local task = batch[i]
    batch[i] = nil
    local value = task._deliver
    task._deliver = nil
    resume(task, value)
  end
  spare = batch
end

local function has_work()
  if ready[1] ~= nil or timers[1] ~= nil then return true end
  for i = 1, #active do
    if active[i].n > 0 then return true end
  end
  return false
end

-- Why the scheduler may not be entered from here, or nil.
local function reentry()
  if cb_depth > 0 then
    return "not allowed inside an on_done or on_error callback: callbacks run inside poll() " ..
      "and wait(), which cannot be entered again; spawn a task and wait there"
  end
  if depth > 0 then
    return "not allowed inside a task: a task's cohort calls already yield, and poll() or a " ..
      "blocking wait() belong to the code outside the tasks"
  end
end

--- Advance every transfer and resume the tasks whose requests finished. Never blocks.
-- Raises at once inside a callback or a task. Raises, after every task finished in this step
-- is settled, when an `on_done`/`on_error` callback raised.
-- @tparam[opt] table client the client the call came through (names it in errors)
-- @treturn integer the number of tasks still running
function M.poll(client)
  if cb_depth > 0 or depth > 0 then util.misuse(method_of(client, "poll"), "%s", reentry()) end
  run_ready()
  local n = #active
  if n > 0 then
    for i = 1, n do
      local rec = active[i]
      if rec.n > 0 then step(rec, 0) end
    end
    compact()
  end
  if cb_errors[1] ~= nil then raise_callback_errors(method_of(client, "poll")) end
  return running_count
end

-- Wait at most `ms` for something to happen, then dispatch.
local function step_blocking(ms)
  run_ready()
  if ready[1] ~= nil then ms = 0 end -- a task yielded for a frame, or a delivery is queued
  if timers[1] ~= nil then -- wake no later than the first sleeper is due
    local first = math.huge
    for _, t in ipairs(timers) do first = math.min(first, t.due) end
    ms = math.max(0, math.min(ms, math.ceil((first - core.monotime()) * 1000)))
  end
  local n, busy, only = #active, 0, nil
  for i = 1, n do
    if active[i].n > 0 then busy, only = busy + 1, active[i] end
  end
  if busy == 0 then
    if ms > 0 then core.sleep(ms / 1000) end
    return run_ready()
  end
  if busy == 1 then
    step(only, ms)  -- one session (the common case)
  else -- several: a short wait on each in turn
    for i = 1, n do
      local rec = active[i]
      if rec.n > 0 then step(rec, math.min(ms, 5)) end
    end
  end
  compact()
end

--- Block until `task` is done (inside another task: yield until then).
-- Raises at once when a task waits for itself or for a task that waits for it, and, outside a
-- task, when called inside a callback or inside a coroutine of your own within a task.
-- @tparam Task task
-- @tparam[opt] table client the client the call came through (names it in errors)
-- @tparam[opt] string method the method to name in errors instead (e.g. `"p:map()"`)
-- @return[1] the task's results
-- @return[2] nil
-- @treturn[2] the error the task raised (a cohort.Error, or a message)
function M.wait(task, client, method)
  if getmetatable(task) ~= Task then
    util.misuse(method or method_of(client, "wait"), "expected a task from spawn() (got %s)", type(task))
  end
  local me = M.current()
  if me then
    if me == task then util.misuse(method or method_of(client, "wait"), "a task cannot wait for itself") end
    local x = task.waiting_for
    while x do
      if x == me then
        util.misuse(method or method_of(client, "wait"),
          "the two tasks would wait for each other for ever")
      end
      x = x.waiting_for
    end
    while task.state == "running" do
      task.waiters[#task.waiters + 1] = me
      me.waiting_for = task
      coroutine.yield(WAIT)
      me.waiting_for = nil
    end
  else
    local why = reentry()
    if why then util.misuse(method or method_of(client, "wait"), "%s", why) end
    while task.state == "running" do
      if not has_work() then
        util.misuse(method or method_of(client, "wait"),
          "the task is stuck (it waits for nothing cohort runs)")
      end
      step_blocking(50)
      if cb_errors[1] ~= nil then raise_callback_errors(method or method_of(client, "wait")) end
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
-- @tparam[opt] table client the client the call came through (names it in errors)
function M.sleep(seconds, client)
  if type(seconds) ~= "number" or seconds ~= seconds then
    util.misuse(method_of(client, "sleep"), "seconds must be a number (got %s)", type(seconds))
  end
  local task = M.current()
  if task == nil then
    if seconds > 0 then core.sleep(seconds) end
    return
  end
  timers[#timers + 1] = { task = task, due = core.monotime() + math.max(0, seconds) }
  coroutine.yield(WAIT)
end

--- End what `client` has in flight, for `client:close()`: the tasks it spawned end with a
-- cohort.Error of kind `"closed"` (their `on_error` runs), other tasks' requests on its session
-- return that error at the next poll, and further requests on the session raise. Closes the
-- session. Tasks of other clients are not touched.
-- @tparam table client with `_session`, `name`, `base_url`, `platform`
function M.close(client)
  local session = client._session
  if closed[session] then return end
  local name = client.name or "client"
  closed[session] = name
  local function fields(what)
    return { kind = "closed", title = "Client closed", platform = client.platform,
      message = ("the %s client (%s) was closed %s"):format(name, tostring(client.base_url), what) }
  end
  local mark = #cb_errors
  local set = owned[client]
  local rec = recs[session]
  if rec then
    local list = take_waiting(rec)
    for i = 1, #list, 2 do
      local id, task = list[i], list[i + 1]
      task._req = nil
      if not (set and set[task]) then -- another's task: its call returns nil, err
        task._deliver = lost_result(id, fields("while this request was in flight"))
        ready[#ready + 1] = task
      end
    end
  end
  if set then
    local list = {}
    for task in pairs(set) do list[#list + 1] = task end
    for _, task in ipairs(list) do
      -- the task running now (it closed its own client) goes on until its next call on it
      if task.state == "running" and coroutine.status(task.co) == "suspended" then
        local r = task._req
        if r and r.w[task._req_id] == task then -- waiting on another client's request
          r.w[task._req_id] = nil
          r.n = r.n - 1
        end
        task._req = nil
        if coroutine.close then pcall(coroutine.close, task.co) end -- runs its <close> variables
        finish(task, false, Error.new(fields("while this task was running")))
      end
    end
  end
  session:close()
  raise_callback_errors(method_of(client, "close"), mark)
end

local MAP_OPTIONS = { concurrency = true, progress = true, label = true }
local NO_OPTIONS = {}

local function shown(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return type(v)
end

--- Run `fn(item, i)` for every item with at most `concurrency` at a time, in tasks.
-- Blocks outside a task, yields inside one. Every argument is checked before the first call.
-- @tparam table items an array
-- @tparam function fn returns a value, or nil, err
-- @tparam[opt] table opts `concurrency` (default 8, at most 64), `progress` (a bar on stderr
--   when it is a terminal; `false` turns it off), `label` (the bar's label)
-- @tparam[opt] table client the client the call came through: names it in errors, and closing it
--   ends the workers (the items not done get its `"closed"` error)
-- @tparam[opt] string method the method to name in errors instead of `client:map()` (a bulk
--   helper's own name, e.g. `"p.submissions:get_many()"`)
-- @treturn table values, in input order (`values.n` = number of items; nil where one failed)
-- @treturn table errors, by index (`errors.count` = how many failed)
function M.map(items, fn, opts, client, method)
  method = method or method_of(client, "map")
  if type(items) ~= "table" then util.misuse(method, "items must be an array (got %s)", type(items)) end
  if type(fn) ~= "function" then
    util.misuse(method, "fn must be a function(item, i) (got %s)", type(fn))
  end
  if opts == nil then opts = NO_OPTIONS end
  if type(opts) ~= "table" then util.misuse(method, "options must be a table (got %s)", type(opts)) end
  util.check_keys(method, opts, MAP_OPTIONS)
  local conc = opts.concurrency
  if conc == nil then conc = 8 end
  if compat.math_type(conc) ~= "integer" or conc < 1 then
    util.misuse(method, "concurrency must be a positive integer (got %s)", shown(conc))
  end
  if opts.progress ~= nil and type(opts.progress) ~= "boolean" then
    util.misuse(method, "progress must be true or false (got %s)", shown(opts.progress))
  end
  if opts.label ~= nil and type(opts.label) ~= "string" then
    util.misuse(method, "label must be a string (got %s)", shown(opts.label))
  end
  if M.current() == nil then
    local why = reentry()
    if why then util.misuse(method, "%s", why) end
  end
  local n = #items
  local bar = require("cohort.prompt.progress").new { label = opts.label or "items", total = n,
    enabled = opts.progress, delay = 0.5 }
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
  for k = 1, conc do workers[k] = spawn(client, worker) end
  local closed_err
  for _, w in ipairs(workers) do
    local ok, err = M.wait(w, client, method)
    if ok == nil and err ~= nil then
      if not (Error.is(err) and err.kind == "closed") then bar:finish(); error(err, 0) end
      closed_err = err
    end
  end
  bar:finish()
  if closed_err then -- the client was closed: what was not done gets its error
    for i = 1, n do
      if values[i] == nil and errors[i] == nil then
        errors[i] = closed_err
        errors.count = errors.count + 1
      end
    end
  end
  return values, errors
end

return M
