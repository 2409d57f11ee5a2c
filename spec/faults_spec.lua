-- The fault matrix: every fault the sandbox can inject, driven through the client. Each ends
-- recovered after retries, or in a clear cohort.Error of the right kind — never a crash, a hang
-- or a wrong value.
describe("faults and retries", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local ME = "/api/v1/users/me/"
  local p

  local function faults(rules, seed)
    env.control("POST", "faults", { rules = rules, seed = seed })
    env.control("DELETE", "requests")
  end
  local function hits(path)
    local n = 0
    for _, r in ipairs(env.requests()) do if r.path == path then n = n + 1 end end
    return n
  end

  setup(function()
    env.reset()
    p = env.prolific { retry_base = 0.01, retry_cap = 0.05, timeout = 2 }
  end)
  after_each(function() env.control("DELETE", "faults") end)

  local recoverable = { "429", "502", "503", "504", "reset", "truncate" }
  for _, fault in ipairs(recoverable) do
    it(fault .. " twice, then a good answer: recovered on the third attempt", function()
      faults { { path = ME, fault = fault, times = 2 } }
      local me, err = p.users:me()
      assert.is_nil(err)
      assert.are.equal("60a42f4c693c29420793cb73", me.id)
      assert.are.equal(3, hits(ME))
    end)
  end

  local expect = {
    ["429"] = { kind = "http", status = 429 }, ["502"] = { kind = "http", status = 502 },
    ["503"] = { kind = "http", status = 503 }, ["504"] = { kind = "http", status = 504 },
    reset = { kind = "transport" }, truncate = { kind = "transport", code = "PARTIAL_FILE" },
  }
  for fault, want in pairs(expect) do
    it(fault .. " every time: a clear error after 4 attempts", function()
      faults { { path = ME, fault = fault } }
      local me, err = p.users:me()
      assert.is_nil(me)
      assert.is_true(Error.is(err))
      assert.are.equal(want.kind, err.kind)
      if want.status then assert.are.equal(want.status, err.status) end
      if want.code then assert.are.equal(want.code, err.code) end
      assert.are.equal(4, err.attempts)
      assert.are.equal(4, hits(ME))
      assert.truthy(tostring(err):find("after 4 attempts", 1, true))
    end)
  end

  it("5xx HTML pages read clearly", function()
    faults { { path = ME, fault = "502" } }
    local _, err = p.users:me()
    assert.truthy(err.message:find("text/html", 1, true))
    assert.truthy(err.message:find("502 Bad Gateway", 1, true))
  end)

  it("500 is not retried", function()
    faults { { path = ME, fault = "500" } }
    local _, err = p.users:me()
    assert.are.equal(500, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, hits(ME))
  end)

  it("honours Retry-After", function()
    faults { { path = ME, fault = "429-retry-after", retry_after = 1, times = 1 } }
    local core = require "cohort.core"
    local t0 = core.monotime()
    assert(p.users:me())
    assert.is_true(core.monotime() - t0 >= 0.9, "waited less than Retry-After")
    local log = env.requests()
    assert.are.equal(2, #log)
  end)

  it("gives up when Retry-After passes the retry budget, saying when to come back", function()
    local c = env.prolific { retry_budget = 2 }
    faults { { path = ME, fault = "429-retry-after", retry_after = 30 } }
    local _, err = c.users:me()
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(30, err.retry_after)
  end)

  it("malformed JSON is a decode error, not a wrong value", function()
    faults { { path = ME, fault = "malformed" } }
    local me, err = p.users:me()
    assert.is_nil(me)
    assert.are.equal("decode", err.kind)
  end)

  it("a stall past the time-out is retried, then times out clearly", function()
    local c = env.prolific { timeout = 0.3, retry_base = 0.01, retry_cap = 0.02 }
    faults { { path = ME, fault = "stall", stall_ms = 3000, times = 1 } }
    assert(c.users:me())
    faults { { path = ME, fault = "stall", stall_ms = 3000 } }
    local _, err = c.users:me()
    assert.are.equal("timeout", err.kind)
    assert.are.equal(4, err.attempts)
  end)

  it("does not retry what is not safe to repeat, unless the caller opts in", function()
    local path = "/api/v1/submissions/625d4a831bcda2d59ac5a251/request-return/"
    faults { { path = path, fault = "503" } }
    local _, err = p.submissions:request_return("625d4a831bcda2d59ac5a251",
      { request_return_reasons = { "Withdrew consent." } })
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    local _, err2 = p.submissions:request_return("625d4a831bcda2d59ac5a251",
      { request_return_reasons = { "Withdrew consent." } }, { retry_unsafe = true, retries = 2 })
    assert.are.equal(3, err2.attempts) -- the first attempt and 2 retries
  end)

  it("retries any method after a 429 or a refused connection: the server did nothing", function()
    local sub = assert(p.submissions:all { study = "60aca280709ee40ec37d4885", status = "ACTIVE" })[1]
    local path = "/api/v1/submissions/" .. sub.id .. "/request-return/"
    faults { { path = path, fault = "429", times = 1 } }
    local ok, err = p.submissions:request_return(sub.id, { request_return_reasons = { "Withdrew consent." } })
    assert.is_nil(err)
    assert.is_table(ok)
    assert.are.equal(2, hits(path))
  end)

  it("retries the POSTs the API documents as safe to repeat (transitions)", function()
    local subs = assert(p.submissions:all { study = "60aca280709ee40ec37d4885", status = "AWAITING REVIEW" })
    local path = "/api/v1/submissions/" .. subs[1].id .. "/transition/"
    faults { { path = path, fault = "503", times = 1 } }
    local approved = assert(subs[1]:approve())
    assert.are.equal("APPROVED", approved.status)
    assert.are.equal(2, hits(path))
    env.reset()
  end)

  it("retries = 0 turns retrying off, per client and per call", function()
    faults { { path = ME, fault = "503", times = 1 } }
    local c = env.prolific { retries = 0 }
    local _, err = c.users:me()
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, hits(ME))
    faults { { path = "/api/v1/submissions/", fault = "503", times = 1 } }
    local _, err2 = p.submissions:get("625d4a831bcda2d59ac5a251", nil, { retries = 0 })
    assert.are.equal(503, err2.status)
    assert.are.equal(1, err2.attempts)
  end)

  it("retries counts the retries after the first attempt, as requests and urllib3 do", function()
    faults { { path = ME, fault = "503" } }
    local _, err = p.users:me(nil, { retries = 1 })
    assert.are.equal(2, err.attempts)
    assert.are.equal(2, hits(ME))
    faults { { path = ME, fault = "503" } }
    local c = env.prolific { retries = 2, retry_base = 0.01, retry_cap = 0.02 }
    local _, err2 = c.users:me()
    assert.are.equal(3, err2.attempts)
    assert.are.equal(3, hits(ME))
    faults { { path = ME, fault = "503", times = 3 } }
    assert(p.users:me()) -- the default, 3 retries: the fourth attempt succeeds
    assert.are.equal(4, hits(ME))
  end)

  it("refuses a bad retries or timeout, naming the method called and the option", function()
    local id = "60aca280709ee40ec37d4885"
    for _, bad in ipairs { -1, 0, 0 / 0, "5", math.huge, 86400 * 8 } do
      local ok, msg = pcall(p.studies.get, p.studies, id, nil, { timeout = bad })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("cohort: p.studies:get(): timeout must be a positive number of seconds", 1, true), msg)
    end
    for _, bad in ipairs { -1, 1.5, 101, "3" } do
      local ok, msg = pcall(p.studies.get, p.studies, id, nil, { retries = bad })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("cohort: p.studies:get(): retries must be an integer from 0 to 100", 1, true), msg)
    end
    for _, bad in ipairs { -1, 1.5, 101 } do
      local ok, msg = pcall(env.prolific, { retries = bad })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("cohort: cohort.prolific(): retries must be an integer from 0 to 100", 1, true), msg)
    end
    assert(p.studies:get(id, nil, { timeout = 5, retries = 0 }))
  end)

  it("a Retry-After above the 120 s cap is not waited for: nil, err with the server's value", function()
    local c = env.prolific { retry_budget = 600 }
    faults { { path = ME, fault = "429-retry-after", retry_after = 121 } }
    local _, err = c.users:me()
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(121, err.retry_after)
    assert.are.equal(1, hits(ME))
  end)

  it("a seeded rate repeats exactly", function()
    local function pattern()
      faults({ { path = ME, fault = "503", rate = 0.5 } }, 42)
      local c = env.prolific { retries = 0 }
      local out = {}
      for i = 1, 16 do out[i] = c.users:me() and "." or "x" end
      return table.concat(out)
    end
    local a, b = pattern(), pattern()
    assert.are.equal(a, b)
    assert.truthy(a:find("x", 1, true) and a:find(".", 1, true), a)
  end)

  it("faults can be set by flag when the sandbox starts, and come back on reset", function()
    local sb = assert(require("cohort.sandbox").start { args = { "--fault", "GET:" .. ME .. ":503:times=1" } })
    local c = require("cohort").prolific { token = sb.token, base_url = sb.url, retries = 0 }
    local _, err = c.users:me()
    assert.are.equal(503, err.status)
    assert(c.users:me())
    local core = require "cohort.core"
    local s = core.session {}
    s:request { method = "POST", base = sb.url, path = "/__sandbox/reset" }
    local _, again = c.users:me()
    assert.are.equal(503, again.status)
    s:close()
    sb:stop()
  end)
end)
