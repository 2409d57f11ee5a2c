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
