-- Non-blocking use: spawn / poll / wait, the callback form, map with concurrency, and the proof
-- that a frame loop never blocks while requests are in flight.
describe("non-blocking use", function()
  local core = require "cohort.core"
  local env = require "support.env"
  local Error = require("cohort").Error
  local STUDY = "60aca280709ee40ec37d4885"
  local p

  setup(function()
    env.reset()
    p = env.prolific()
  end)
  after_each(function() env.control("POST", "latency", { ms = 0 }) end)

  it("a frame loop's poll() never blocks while every request completes", function()
    -- under valgrind or sanitizers (make check sets COHORT_SLOW) everything is slower: keep the
    -- same ratio with a longer latency
    local latency = os.getenv("COHORT_SLOW") and 3000 or 500
    env.control("POST", "latency", { ms = latency })
    local n, done, slowest, frames = 16, 0, 0, 0
    local ids = assert(p.submissions:all { study = STUDY })
    for i = 1, n do
      p:spawn(function()
        local sub = assert(p.submissions:get(ids[i].id))
        assert.are.equal(ids[i].id, sub.id)
        done = done + 1
      end)
    end
    local t0 = core.monotime()
    while done < n do
      local a = core.monotime()
      p:poll()
      slowest = math.max(slowest, core.monotime() - a)
      frames = frames + 1
      os.execute("sleep 0.01") -- the rest of the frame
      assert.is_true(core.monotime() - t0 < 30, "requests did not complete")
    end
    -- a request takes at least `latency` ms; every poll returned in a small fraction of that
    assert.is_true(slowest < latency / 1000 / 5, ("slowest poll %.3f s"):format(slowest))
    assert.is_true(frames > 10, "frames went on while the requests were in flight")
  end)

  it("wait(task) returns the task's results", function()
    local t = p:spawn(function(a, b)
      local me = assert(p.users:me())
      return me.id, a + b
    end, 2, 3)
    assert.is_false(t:done())
    local id, sum = p:wait(t)
    assert.are.equal("60a42f4c693c29420793cb73", id)
    assert.are.equal(5, sum)
    assert.is_true(t:done())
  end)

  it("errors inside a task reach wait, or on_error, and never vanish", function()
    local t = p:spawn(function()
      local _, err = p.submissions:get("000000000000000000000000")
      error(err)
    end)
    local v, err = p:wait(t)
    assert.is_nil(v)
    assert.is_true(Error.is(err))
    assert.are.equal(404, err.status)
    local seen
    local t2 = p:spawn(function() p.users:me(); error("bad thing", 0) end)
    t2.on_error = function(e) seen = e end
    p:wait(t2)
    assert.are.equal("bad thing", seen)
  end)

  it("the same calls outside spawn block as before", function()
    local me = assert(p.users:me())
    assert.are.equal("60a42f4c693c29420793cb73", me.id)
  end)

  it("each{} and all{} work inside a task #yield_across_c", function()
    local t = p:spawn(function()
      local n = 0
      for _ in p.submissions:each { study = STUDY } do n = n + 1 end
      return n, #assert(p.submissions:all { study = STUDY })
    end)
    local n, m = p:wait(t)
    assert.are.equal(45, n)
    assert.are.equal(45, m)
  end)

  it("a task can wait for another task", function()
    local inner = p:spawn(function() return assert(p.users:me()).id end)
    local outer = p:spawn(function() return "got " .. p:wait(inner) end)
    assert.are.equal("got 60a42f4c693c29420793cb73", p:wait(outer))
  end)

  it("the callback form calls back from poll()", function()
    local got
    p:submit({ method = "GET", path = "/api/v1/users/me/" }, function(v, err) got = v or err end)
    assert.is_nil(got)
    for _ = 1, 200 do
      p:poll()
      if got then break end
      os.execute("sleep 0.01")
    end
    assert.are.equal("60a42f4c693c29420793cb73", got.id)
  end)

  it("map runs with bounded concurrency and keeps input order with per-item errors", function()
    env.control("POST", "latency", { ms = 200 })
    local ids = {}
    local all = assert(p.submissions:all { study = STUDY, page_size = 100 })
    for i = 1, 12 do ids[i] = all[i].id end
    ids[5] = "000000000000000000000000"
    local t0 = core.monotime()
    local values, errors = p:map(ids, function(id) return p.submissions:get(id) end, { concurrency = 6 })
    local elapsed = core.monotime() - t0
    assert.are.equal(12, values.n)
    for i = 1, 12 do
      if i == 5 then
        assert.is_nil(values[i])
        assert.are.equal(404, errors[5].status)
      else
        assert.are.equal(ids[i], values[i].id)
      end
    end
    assert.are.equal(1, errors.count)
    -- 12 requests of 200 ms, 6 at a time: about 0.4 s; one at a time would be 2.4 s
    assert.is_true(elapsed < 1.6, ("took %.2f s"):format(elapsed))
    assert.has_error(function() p:map(ids, print, { concurrency = 0 }) end)
  end)

  it("works for a QuestionPro client too, in the same task as Prolific", function()
    local q = env.questionpro()
    local t = p:spawn(function()
      local me = assert(p.users:me())
      local _, err = q:send { method = "GET", path = "/no-such-route" }
      return me.id, err.status
    end)
    local id, status = p:wait(t)
    assert.are.equal("60a42f4c693c29420793cb73", id)
    assert.are.equal(404, status)
  end)

  describe("the scheduler never strands a task", function()
    local ME = "60a42f4c693c29420793cb73"
    local async = require "cohort.async"

    -- Poll (protected) until every task given is finished; returns the messages poll() raised
    -- (added to `raised` when given) and whether every task finished.
    local function drain(client, tasks, raised)
      local t0 = core.monotime()
      raised = raised or {}
      local function all_done()
        for _, t in ipairs(tasks) do if not t:done() then return false end end
        return true
      end
      while not all_done() do
        local ok, err = pcall(client.poll, client)
        if not ok then raised[#raised + 1] = err end
        if core.monotime() - t0 > 15 then break end
        core.sleep(0.005)
      end
      return raised, all_done()
    end

    local function count(haystack, needle)
      local n = 0
      for _ in haystack:gmatch(needle) do n = n + 1 end
      return n
    end

    it("an error in one task's on_done strands none of the tasks finished in the same poll", function()
      env.control("POST", "latency", { ms = 300 })
      local tasks, ran = {}, {}
      for i = 1, 5 do
        tasks[i] = p:spawn(function() return assert(p.users:me()).id end)
        tasks[i].on_done = function(id)
          ran[#ran + 1] = id
          error("on_done boom " .. i)
        end
      end
      -- a task waiting for the first one is woken although that one's callback raised
      local waiter = p:spawn(function() return "after " .. p:wait(tasks[1]) end)
      -- a few polls send the requests; the answers come 300 ms later, all in the same poll()
      local raised = {}
      for _ = 1, 5 do
        local ok, e = pcall(p.poll, p)
        if not ok then raised[#raised + 1] = e end
        core.sleep(0.01)
      end
      core.sleep(0.6)
      local _, finished = drain(p, { waiter, tasks[1], tasks[2], tasks[3], tasks[4], tasks[5] }, raised)
      assert.is_true(finished, "a task was stranded")
      assert.are.equal(5, #ran)
      for i = 1, 5 do assert.are.equal(ME, ran[i]) end
      assert.are.equal("after " .. ME, p:wait(waiter))
      -- every callback error was reported by the poll() that ran it, after the others settled
      local all = table.concat(raised, "\n")
      assert.are.equal(5, count(all, "on_done boom %d"))
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:poll%(%): a task's on_done callback raised an error: "
        .. ".-async_spec%.lua:%d+: on_done boom %d", raised[1])
      assert.is_true(pcall(p.poll, p)) -- reported once, not again
    end)

    it("an error in an on_error callback strands no other task either", function()
      local tasks, seen = {}, {}
      for i = 1, 4 do
        tasks[i] = p:spawn(function()
          local _, err = p.submissions:get("000000000000000000000000")
          error(err)
        end)
        tasks[i].on_error = function(err)
          seen[#seen + 1] = err.status
          error({ code = "callback object " .. i }) -- not a string: reported through tostring
        end
      end
      local good = p:spawn(function() return assert(p.users:me()).id end)
      local raised = {}
      for _ = 1, 5 do
        local ok, e = pcall(p.poll, p)
        if not ok then raised[#raised + 1] = e end
        core.sleep(0.01)
      end
      core.sleep(0.3) -- the answers (404 at once) are in: they finish in the same poll()
      local _, finished = drain(p, { good, tasks[1], tasks[2], tasks[3], tasks[4] }, raised)
      assert.is_true(finished, "a task was stranded")
      assert.are.same({ 404, 404, 404, 404 }, seen)
      assert.are.equal(ME, p:wait(good))
      assert.are.equal(4, count(table.concat(raised, "\n"), "on_error callback raised an error: table"))
      for i = 1, 4 do assert.are.equal(404, tasks[i].error.status) end
    end)

    it("a failure while a request's answer is handled ends that task with an error", function()
      -- a client whose session raises while it hands out the answer to one marked request, as
      -- the C core did for some error bodies: the answer came over HTTP, its handling failed
      local c = env.prolific()
      local real = c._session
      local marked, mark_next = {}, false
      local session = setmetatable({}, { __index = function(_, k)
        return function(_, ...) return real[k](real, ...) end
      end })
      function session.submit(_, creq)
        local id = real:submit(creq)
        if mark_next then marked[id], mark_next = true, false end
        return id
      end
      function session.step(_, ms)
        local results = real:step(ms)
        for _, r in ipairs(results) do
          if marked[r.id] then error("injected: this answer cannot be handled") end
        end
        return results
      end
      function session.wait(_, id)
        local r = real:wait(id)
        if marked[id] then error("injected: this answer cannot be handled") end
        return r
      end
      c._session = session

      mark_next = true
      local bad = c:spawn(function() return c.users:me() end)
      local other = p:spawn(function() return assert(p.users:me()).id end) -- another client
      local raised, finished = drain(p, { bad, other })
      assert.is_true(finished, "the task whose answer could not be handled was left pending")
      assert.are.same({}, raised)
      local v, err = p:wait(bad)
      assert.is_nil(v)
      assert.is_true(Error.is(err))
      assert.are.equal("decode", err.kind)
      assert.matches("injected: this answer cannot be handled", err.message, 1, true)
      assert.are.equal(ME, p:wait(other))
      -- the client goes on working, in tasks and blocking
      assert.are.equal(ME, (p:wait(c:spawn(function() return assert(c.users:me()).id end))))
      assert.are.equal(ME, assert(c.users:me()).id)
      -- the blocking form returns the failure as nil, err instead of raising
      mark_next = true
      local v2, err2 = c.users:me()
      assert.is_nil(v2)
      assert.are.equal("decode", err2.kind)
      c._session = real
      c:close()
    end)

    it("closing a client with tasks in flight fails its tasks and leaves the other clients working", function()
      env.control("POST", "latency", { ms = 200 })
      local a, b = env.prolific(), env.prolific()
      local mine, theirs = {}, {}
      for i = 1, 3 do
        mine[i] = a:spawn(function() return assert(a.users:me()).id end)
        theirs[i] = b:spawn(function() return assert(b.users:me()).id end)
      end
      local sleeper = a:spawn(function() a:sleep(5); return "woke" end)
      -- a task of b that calls a: its call returns nil, err
      local borrower = b:spawn(function() return a.users:me() end)
      local seen
      mine[1].on_error = function(e) seen = e end
      a:close()
      for _, t in ipairs { mine[1], mine[2], mine[3], sleeper } do
        assert.are.equal("failed", t.state)
        assert.is_true(Error.is(t.error))
        assert.are.equal("closed", t.error.kind)
        assert.matches("the prolific client %(http://127%.0%.0%.1:%d+%) was closed", t.error.message)
      end
      assert.are.equal(mine[1].error, seen)
      for _, t in ipairs { mine[2], mine[3], sleeper } do assert.is_nil(b:wait(t)) end -- collected
      assert.matches("^cohort: closed — the prolific client", tostring(mine[1].error))
      -- the other client's tasks finish, through its poll() and its wait()
      local raised, finished = drain(b, { theirs[1], borrower })
      assert.are.same({}, raised)
      assert.is_true(finished)
      for i = 1, 3 do assert.are.equal(ME, b:wait(theirs[i])) end
      local v, err = b:wait(borrower)
      assert.is_nil(v)
      assert.are.equal("closed", err.kind)
      -- further calls on the closed client are misuse
      local function raises(f, pattern)
        local ok, e = pcall(f)
        assert.is_false(ok)
        assert.matches(pattern, tostring(e))
      end
      raises(function() a:spawn(function() end) end, "^spec/async_spec%.lua:%d+: cohort: p:spawn%(%): attempt to use a closed client$")
      raises(function() a:poll() end, ": cohort: p:poll%(%): attempt to use a closed client$")
      raises(function() a:wait(mine[1]) end, ": cohort: p:wait%(%): attempt to use a closed client$")
      raises(function() a:map({ 1 }, print) end, ": cohort: p:map%(%): attempt to use a closed client$")
      raises(function() a:submit({ method = "GET", path = "/api/v1/users/me/" }, print) end,
        ": cohort: p:submit%(%): attempt to use a closed client$")
      raises(function() a.users:me() end, "async_spec%.lua:%d+: cohort: prolific client: attempt to use a closed client %(GET /api/v1/users/me/%)$")
      a:close() -- idempotent
      -- a task closing a client runs that client's on_error handlers: not inside the task,
      -- so a wait there raises at once instead of suspending the close
      local d = env.prolific()
      local victim = d:spawn(function() return d.users:me() end)
      local werr
      local slow = b:spawn(function() b:sleep(0.1); return "slept" end)
      victim.on_error = function() werr = select(2, pcall(b.wait, b, slow)) end
      local closer = b:spawn(function() d:close(); return "closed it" end)
      assert.are.equal("closed it", b:wait(closer))
      assert.are.equal("closed", victim.error.kind)
      assert.matches("cohort: p:wait%(%): not allowed inside an on_done or on_error callback", werr)
      assert.are.equal("slept", b:wait(slow))
      -- a task that closes its own client ends at its next call on it
      local c = env.prolific()
      local t = c:spawn(function() assert(c.users:me()); c:close(); return c.users:me() end)
      assert.is_nil(b:wait(t))
      assert.matches("attempt to use a closed client", t.error)
    end)

    it("closing a client while its map() runs gives every unfinished item the closed error", function()
      env.control("POST", "latency", { ms = 100 })
      local a = env.prolific()
      local ids = assert(p.submissions:all { study = STUDY })
      local list = {}
      for i = 1, 12 do list[i] = ids[i].id end
      local values, errors
      local t = p:spawn(function() values, errors = a:map(list, function(id) return a.submissions:get(id) end,
        { concurrency = 3 }) end)
      local closer = p:spawn(function() p:sleep(0.25); a:close() end)
      assert.is_true(p:wait(closer) == nil and closer.state == "done")
      p:wait(t)
      assert.are.equal("done", t.state)
      assert.are.equal(12, values.n)
      local got = 0
      for i = 1, 12 do
        if values[i] then
          got = got + 1
          assert.are.equal(list[i], values[i].id)
        else
          assert.are.equal("closed", errors[i].kind)
        end
      end
      assert.are.equal(12 - got, errors.count)
      assert.is_true(errors.count > 0)
    end)

    it("wait() and poll() inside a callback raise at once, and a task spawned there is not lost", function()
      local t2 = p:spawn(function() return assert(p.users:me()).id end)
      local t1 = p:spawn(function() return assert(p.users:me()).id end)
      local werr, perr, t3
      local merr
      t1.on_done = function()
        werr = select(2, pcall(p.wait, p, t2))
        perr = select(2, pcall(p.poll, p))
        merr = select(2, pcall(p.map, p, { 1 }, function() return 1 end))
        t3 = p:spawn(function() return assert(p.users:me()).id end)
      end
      assert.are.equal(ME, p:wait(t1)) -- the callback runs inside this blocking wait
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:map%(%): not allowed inside an on_done", merr)
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:wait%(%): not allowed inside an on_done or on_error callback", werr)
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:poll%(%): not allowed inside an on_done or on_error callback", perr)
      assert.are.equal(ME, p:wait(t3))
      assert.are.equal(ME, p:wait(t2))
      -- the same from on_error, and from a poll() rather than a wait()
      local t4 = p:spawn(function() p.users:me(); error("failed on purpose", 0) end)
      local t5
      t4.on_error = function()
        werr = select(2, pcall(p.wait, p, t2))
        perr = select(2, pcall(p.poll, p))
        t5 = p:spawn(function() return assert(p.users:me()).id end)
      end
      local raised, finished = drain(p, { t4 })
      assert.is_true(finished)
      assert.are.same({}, raised)
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:wait%(%): not allowed inside an on_done or on_error callback", werr)
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:poll%(%): not allowed inside an on_done or on_error callback", perr)
      assert.are.equal(ME, p:wait(t5))
      -- the submit() callback is such a callback too
      local serr, t6
      local sub = p:submit({ method = "GET", path = "/api/v1/users/me/" }, function(me)
        serr = select(2, pcall(p.wait, p, t2))
        t6 = p:spawn(function() return me.id end)
      end)
      raised, finished = drain(p, { sub })
      assert.is_true(finished)
      assert.are.same({}, raised)
      assert.matches("^spec/async_spec%.lua:%d+: cohort: p:wait%(%): not allowed inside an on_done or on_error callback", serr)
      assert.are.equal(ME, p:wait(t6))
    end)

    it("a task waiting for itself, a wait cycle and poll() inside a task raise at once", function()
      local self_waiter
      self_waiter = p:spawn(function() p.users:me(); return p:wait(self_waiter) end)
      assert.is_nil(p:wait(self_waiter))
      assert.matches("^.-cohort: p:wait%(%): a task cannot wait for itself", self_waiter.error)
      local a, b
      a = p:spawn(function() p.users:me(); return p:wait(b) end)
      b = p:spawn(function() p.users:me(); p:sleep(0.05); return p:wait(a) end)
      assert.is_nil(p:wait(b))
      assert.matches("cohort: p:wait%(%): the two tasks would wait for each other", b.error)
      assert.is_nil(p:wait(a)) -- a got b's failure
      local poller = p:spawn(function() p.users:me(); p:poll() end)
      assert.is_nil(p:wait(poller))
      assert.matches("cohort: p:poll%(%): not allowed inside a task", poller.error)
    end)

    it("map() names itself in every misuse, before anything is sent", function()
      env.control("DELETE", "requests")
      local function raises(pattern, ...)
        local args = { n = select("#", ...), ... }
        local ok, e = pcall(function() return p:map(require("cohort.compat").unpack(args, 1, args.n)) end)
        assert.is_false(ok)
        assert.matches(pattern, tostring(e))
        assert.matches("async_spec%.lua:%d+: cohort: p:map%(%)", tostring(e))
      end
      local f = function() return true end
      raises("items must be an array %(got nil%)", nil, f)
      raises("items must be an array %(got string%)", "abc", f)
      raises("fn must be a function%(item, i%) %(got nil%)", {}, nil)
      raises("options must be a table %(got number%)", {}, f, 3)
      raises("unknown option 'concurency'", {}, f, { concurency = 2 })
      for _, bad in ipairs { 0, -1, 1.5, "8", true, 0 / 0, math.huge } do
        raises("concurrency must be a positive integer %(got " .. (type(bad) == "string" and '"8"' or
          tostring(bad):gsub("%p", "%%%0")) .. "%)", { 1, 2 }, f, { concurrency = bad })
      end
      raises("progress must be true or false", {}, f, { progress = "yes" })
      -- a bulk helper built on map names itself
      local ok, e = pcall(function() p:map({}, f, { concurrency = 0 }, "p.submissions:get_many()") end)
      assert.is_false(ok)
      assert.matches("async_spec%.lua:%d+: cohort: p%.submissions:get_many%(%): concurrency must be", e)
      assert.are.equal(0, #env.requests())
      local values, errors = p:map({}, f)
      assert.are.equal(0, values.n)
      assert.are.equal(0, errors.count)
    end)

    it("a failing task never affects another, and an error nobody collected is reported", function()
      collectgarbage() -- what earlier specs left is reported before the hook is in place
      collectgarbage()
      local reported = {}
      local saved = async.report
      async.report = function(msg)
        if msg:find("went wrong", 1, true) or msg:find("waited for on purpose", 1, true) then reported[#reported + 1] = msg end
      end
      finally(function() async.report = saved end)
      local good
      do
        local bad = p:spawn(function() p.users:me(); error("this task went wrong", 0) end)
        good = p:spawn(function() return assert(p.users:me()).id end)
        core.sleep(0.1)
        local raised, finished = drain(p, { bad, good })
        assert.is_true(finished)
        assert.are.same({}, raised)
        assert.are.equal("failed", bad.state)
        bad = nil -- nothing else holds it (LuaJIT keeps a dead local's slot until reused)
      end
      assert.are.equal(ME, p:wait(good))
      collectgarbage()
      collectgarbage()
      assert.are.equal(1, #reported)
      assert.matches("cohort: a task failed and nobody collected its error: this task went wrong", reported[1])
      -- collected by wait: not reported
      do
        local t = p:spawn(function() p.users:me(); error("waited for on purpose", 0) end)
        assert.is_nil(p:wait(t))
        t = nil
      end
      collectgarbage()
      collectgarbage()
      assert.are.equal(1, #reported)
    end)

    it("poll() allocates nothing when there is nothing to do", function()
      assert.are.equal(0, p:poll())
      local jit = rawget(_G, "jit") -- LuaJIT: compiling the loop would allocate its traces
      if jit then jit.off(); jit.flush() end
      collectgarbage()
      collectgarbage("stop")
      local before = collectgarbage("count")
      for _ = 1, 10000 do p:poll() end
      local after = collectgarbage("count")
      collectgarbage("restart")
      if jit then jit.on() end
      assert.are.equal(before, after)
    end)
  end)

  describe("docs/async.md, the rules", function()
    -- the guide's examples as written there (a client on the sandbox instead of the
    -- environment's), with what they print recorded; the last test checks every line of the
    -- section's ```lua blocks appears here
    local printed = {}
    local function print(s) printed[#printed + 1] = s end

    it("a callback that raises is reported by poll(), its task settled", function()
      printed = {}
      local p = env.prolific()
      local task = p:spawn(function() return assert(p.users:me()) end)
      task.on_done = function(me) error("the welcome screen broke for " .. me.id) end
      while not task:done() do
        local ok, err = pcall(p.poll, p)              -- the task is settled whatever its callback did
        if not ok then print(err) end                 -- cohort: p:poll(): a task's on_done …
      end
      assert.are.equal(1, #printed)
      assert.matches("cohort: p:poll%(%): a task's on_done callback raised an error: "
        .. ".-the welcome screen broke for 60a42f4c693c29420793cb73", printed[1])
      assert.are.equal("done", task.state)
    end)

    it("a callback spawns a task instead of waiting", function()
      printed = {}
      local p = env.prolific()
      local first = p:spawn(function() return assert(p.studies:get("60aca280709ee40ec37d4885")) end)
      first.on_done = function(study)
        p:spawn(function()                            -- runs at once, then from the next poll()
          local subs = assert(p.submissions:all { study = study.id })
          print(#subs .. " submissions")              -- 45 submissions, on the sandbox
        end)
      end
      while p:poll() > 0 do end                       -- your frame loop
      assert.are.same({ "45 submissions" }, printed)
    end)

    it("every line of the section's examples is run above", function()
      local f = assert(io.open("docs/async.md"))
      local doc = f:read("*a")
      f:close()
      f = assert(io.open("spec/async_spec.lua"))
      local here = f:read("*a")
      f:close()
      local section = doc:match("\n## The rules: callbacks, errors, close\n(.-)\n## ")
      assert.is_truthy(section)
      local n = 0
      for block in section:gmatch("```lua\n(.-)```") do
        for line in block:gmatch("[^\n]+") do
          local text = line:match("^%s*(.-)%s*$")
          if text ~= "" and text ~= 'local p = require("cohort").prolific()' then
            n = n + 1
            assert.is_truthy(here:find(text, 1, true), "not run by the spec: " .. text)
          end
        end
      end
      assert.is_true(n > 10)
    end)
  end)

  describe("bulk helpers", function()
    it("submissions:get_many fetches in input order with per-item errors, checking ids first", function()
      local all = assert(p.submissions:all { study = STUDY })
      local ids = { all[1].id, "000000000000000000000000", all[3] }
      local subs, errors = p.submissions:get_many(ids, { concurrency = 4 })
      assert.are.equal(3, subs.n)
      assert.are.equal(all[1].id, subs[1].id)
      assert.is_nil(subs[2])
      assert.are.equal(404, errors[2].status)
      assert.are.equal(all[3].id, subs[3].id)
      assert.are.equal(1, errors.count)
      env.control("DELETE", "requests")
      assert.has_error(function() p.submissions:get_many({ all[1].id, "bad id" }) end,
        "cohort: p.submissions:get_many(): item 2: id must be a Prolific id of 24 hexadecimal digits (got \"bad id\", a string)")
      assert.has_error(function() p.submissions:get_many(ids, { concurency = 2 }) end)
      assert.are.equal(0, #env.requests())
    end)

    it("surveys:add_responses posts many Prolific survey responses", function()
      local me = assert(p.users:me())
      local s = assert(p.surveys:create { researcher_id = me.id, title = "Bulk",
        questions = { { title = "Tea or coffee?", type = "single",
          answers = { { value = "Tea" }, { value = "Coffee" } } } } })
      local q1 = s.questions[1]
      local bodies = {}
      for i = 1, 12 do
        bodies[i] = { participant_id = ("%024x"):format(i), submission_id = ("%024x"):format(100 + i),
          questions = { { question_id = q1.id, question_title = q1.title,
            answers = { { answer_id = q1.answers[i % 2 + 1].id, value = q1.answers[i % 2 + 1].value } } } } }
      end
      local saved, errors = p.surveys:add_responses(s._id, bodies, { concurrency = 6 })
      assert.are.equal(0, errors.count)
      assert.are.equal(12, saved.n)
      assert.are.equal(("%024x"):format(7), saved[7].participant_id)
      assert.are.equal(12, #assert(p.surveys:all_responses(s._id)))
    end)

    it("questionpro responses:create_many posts many responses", function()
      local q = env.questionpro()
      local body = { responseSet = {
        { questionID = 12345678, answerValues = { { answerID = 123456789 } } } } }
      local list = {}
      for i = 1, 10 do list[i] = body end
      local before = #assert(q.responses:all(7654321))
      local saved, errors = q.responses:create_many(7654321, list, { concurrency = 5 })
      assert.are.equal(0, errors.count, tostring(errors[1]))
      assert.are.equal(10, saved.n)
      assert.are.equal(before + 10, #assert(q.responses:all(7654321)))
      assert.has_error(function() q.responses:create_many(7654321, { body, { responseSet = { { questionID = "x" } } } }) end)
    end)
  end)
end)
