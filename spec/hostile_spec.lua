-- The real client against a hostile server (spec/support/hostile.c, built into build/hostile):
-- every class of bad answer ends in a value or in `nil, err` of the right kind, with a clear
-- message, the secret masked, and within the client's own time-outs — never a raise from inside
-- cohort, a hang or a task left pending.
describe("a hostile server", function()
  local cohort = require "cohort"
  local core = require "cohort.core"
  local Error = cohort.Error
  local TOKEN = "TOKEN-hostile-7f3a9c1e-do-not-leak"
  local KEY = "APIKEY-hostile-5b2d8e4f-do-not-leak"
  local STUDY = "60aca280709ee40ec37d4885"
  local URL, pid, proc

  setup(function()
    proc = io.popen("exec hostile 900", "r")
    local port
    port, pid = proc:read("*n", "*n")
    assert(port and pid, "the hostile server did not start (make build builds it)")
    URL = ("http://127.0.0.1:%d"):format(port)
  end)
  teardown(function()
    os.execute(("kill %d"):format(pid))
    proc:close()
  end)

  -- A Prolific client whose every request goes to the class `path` of the server.
  local function client(path, opts)
    local o = { token = TOKEN, base_url = URL .. path, timeout = 2, retries = 0,
      retry_base = 0.01, retry_cap = 0.02 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cohort.prolific(o)
  end

  local function clean(text, where)
    text = tostring(text)
    assert.is_nil(text:find(TOKEN, 1, true), "the token appears in " .. where .. ": " .. text:sub(1, 300))
    assert.is_nil(text:find(KEY, 1, true), "the key appears in " .. where .. ": " .. text:sub(1, 300))
  end
  -- every string reachable from v, keys too, at any depth
  local function walk(v, where, seen)
    seen = seen or {}
    if type(v) == "string" then return clean(v, where) end
    if type(v) ~= "table" or seen[v] then return end
    seen[v] = true
    clean(tostring(v), where)
    for k, x in pairs(v) do
      walk(k, where, seen)
      walk(x, where, seen)
    end
  end

  -- The error of a call that must fail: a cohort.Error of `kind`, no secret anywhere in it.
  local function fails(kind, value, err)
    assert.is_nil(value)
    assert.is_true(Error.is(err), tostring(err))
    assert.are.equal(kind, err.kind, tostring(err))
    assert.is_string(err.message)
    walk(err, "the error")
    return err
  end

  describe("JSON", function()
    it("too deep, cut short or with a raw NUL is a decode error", function()
      local e = fails("decode", client("/json/deep").users:me())
      assert.truthy(e.message:find("not valid JSON (application/json): Found too many nested data structures", 1, true), e.message)
      e = fails("decode", client("/json/bad").users:me())
      assert.truthy(e.message:find("not valid JSON (application/json): Expected value but found T_END", 1, true), e.message)
      e = fails("decode", client("/json/nul").users:me())
      assert.truthy(e.message:find("invalid control character", 1, true), e.message)
      assert.are.equal(200, e.status)
      assert.are.equal("GET", e.method)
    end)

    it("huge: past max_size it is too_large, under it a value", function()
      local e = fails("too_large", client("/json/huge", { max_size = 1024 * 1024 }).users:me())
      assert.truthy(e.message:find("larger than the 1048576-byte cap (max_size)", 1, true), e.message)
      local me = assert(client("/json/huge").users:me())
      assert.are.equal(4 * 1024 * 1024 - 7, #me.id)
    end)

    it("invalid UTF-8 in a string is passed through as bytes", function()
      local me = assert(client("/json/utf8").users:me())
      assert.are.equal("\255\254\195(", me.name)
    end)
  end)

  describe("lengths and resets", function()
    it("a Content-Length longer than the body is a transport error, retried for a GET", function()
      local e = fails("transport", client("/length/long").users:me())
      assert.are.equal("PARTIAL_FILE", e.code)
      assert.are.equal(1, e.attempts)
      e = fails("transport", client("/length/long", { retries = 2 }).users:me())
      assert.are.equal(3, e.attempts)
    end)

    it("a Content-Length shorter than the body gives the cut body: a decode error", function()
      local e = fails("decode", client("/length/short").users:me())
      assert.truthy(e.message:find("Expected colon but found T_END at character 6", 1, true), e.message)
    end)

    it("a reset in the headers, in the body or at once is a transport error", function()
      for _, where in ipairs { "headers", "body", "now" } do
        local e = fails("transport", client("/reset/" .. where).users:me())
        assert.truthy(e.code == "RECV_ERROR" or e.code == "GOT_NOTHING" or e.code == "PARTIAL_FILE",
          where .. ": " .. tostring(e.code))
        e = fails("transport", client("/reset/" .. where, { retries = 1 }).users:me())
        assert.are.equal(2, e.attempts)
      end
    end)
  end)

  describe("slow and endless answers", function()
    it("a drip of headers or of body ends at the client's time-out", function()
      for _, what in ipairs { "headers", "body" } do
        local e = fails("timeout", client("/drip/" .. what, { timeout = 0.5 }).users:me())
        assert.are.equal("OPERATION_TIMEDOUT", e.code)
      end
    end)

    it("an endless body stops at max_size", function()
      local e = fails("too_large", client("/endless", { max_size = 1024 * 1024 }).users:me())
      assert.are.equal(1, e.attempts)
      e = fails("too_large", client("/endless", { max_size = 1024 * 1024, retries = 3 }).users:me())
      assert.are.equal(1, e.attempts) -- never retried
    end)

    it("a gzip bomb to a list (which asks for compression) stops at max_size, inflated", function()
      local p = client("/gzip-bomb", { max_size = 1024 * 1024 })
      local e = fails("too_large", p.submissions:list { study = STUDY })
      assert.truthy(e.message:find("1048576-byte cap", 1, true), e.message)
      fails("too_large", p.submissions:all { study = STUDY })
      local ok, raised = pcall(function()
        for _ in p.submissions:each { study = STUDY } do end
      end)
      assert.is_false(ok)
      assert.is_true(Error.is(raised))
      assert.are.equal("too_large", raised.kind)
    end)

    it("oversized headers are too_large, not a write or memory error, and not retried", function()
      for _, what in ipairs { "huge", "many" } do
        local e = fails("too_large", client("/headers/" .. what, { retries = 3 }).users:me())
        assert.are.equal(1, e.attempts)
        assert.truthy(e.message:find("header", 1, true), e.message)
      end
    end)
  end)

  describe("redirects", function()
    local statuses = { 301, 302, 303, 307, 308 }
    local kinds = {
      elsewhere = "https://***@evil.example/steal?apiKey=***&next=1",
      file = "file:///etc/passwd",
      relative = "/ok/",
      echo = "https://evil.example/cb?token=***&k=***",
    }

    it("are never a success and never followed, for a GET", function()
      for _, status in ipairs(statuses) do
        for kind, location in pairs(kinds) do
          local e = fails("redirect", client(("/redirect/%d/%s"):format(status, kind)).users:me())
          assert.are.equal(status, e.status)
          assert.are.equal(location, e.location)
          assert.truthy(e.message:find("cohort does not follow redirects", 1, true), e.message)
          assert.is_nil(tostring(e):find("hunter2", 1, true))
          assert.is_nil(tostring(e):find("QP-LEGACY-KEY", 1, true))
        end
        local loop = fails("redirect", client(("/redirect/%d/loop"):format(status)).users:me())
        assert.are.equal(("/redirect/%d/loop/api/v1/users/me/"):format(status), loop.location)
        local none = fails("redirect", client(("/redirect/%d/none"):format(status)).users:me())
        assert.is_nil(none.location)
        assert.truthy(none.message:find("without a Location", 1, true), none.message)
        assert.truthy(tostring(none):find(("^cohort: redirect HTTP %d"):format(status)), tostring(none))
      end
    end)

    it("are never a success for a POST: a payment redirected is not paid", function()
      for _, status in ipairs(statuses) do
        local p = client(("/redirect/%d/relative"):format(status))
        local e = fails("redirect", p.bonuses:pay(STUDY))
        assert.are.equal(status, e.status)
        assert.are.equal("POST", e.method)
        e = fails("redirect", p:send { method = "POST", path = "/api/v1/studies/", body = { name = "x" } })
        assert.are.equal(1, e.attempts)
      end
    end)
  end)

  describe("Retry-After", function()
    -- a client that retries; the first request to a path gets 429 with the form, the next 200
    local n = 0
    local function ask(form)
      n = n + 1
      return client(("/retry-after/%s/t%d"):format(form, n), { retries = 3, retry_budget = 600 }).users:me()
    end

    it("is honoured up to the cap: seconds, fractions, zero, HTTP dates", function()
      local t0 = core.monotime()
      local me = assert(ask("1"))
      assert.are.equal(2, me.hits)
      assert.is_true(core.monotime() - t0 >= 0.95, "retried before the Retry-After of 1 s")
      for _, form in ipairs { "frac", "zero", "past", "future" } do
        assert.are.equal(2, assert(ask(form)).hits, form)
      end
    end)

    it("one that cannot be read (negative, garbage, 8 KB long, empty) falls back to back-off", function()
      for _, form in ipairs { "neg", "garbage", "long", "empty" } do
        assert.are.equal(2, assert(ask(form)).hits, form)
      end
    end)

    it("above the 120 s cap is not retried: nil, err with the server's value", function()
      local want = { cap = 121, year = 31536001 }
      for _, form in ipairs { "cap", "year", "huge", "digits", "far" } do
        local e = fails("http", ask(form))
        assert.are.equal(429, e.status)
        assert.are.equal(1, e.attempts, form)
        assert.is_number(e.retry_after)
        if want[form] then assert.are.equal(want[form], e.retry_after) end
        assert.is_true(e.retry_after > 120 and e.retry_after < math.huge, form)
      end
      local far = fails("http", ask("far"))
      assert.is_true(far.retry_after > 399 * 86400, tostring(far.retry_after))
    end)
  end)

  describe("secrets echoed by the server", function()
    it("are masked at any depth of an error body, in keys too", function()
      for _, depth in ipairs { 5, 10, 50, 500 } do
        local e = fails("http", client("/echo/" .. depth).users:me())
        assert.are.equal(400, e.status)
        assert.are.equal("Invalid token ***", e.title)
        assert.are.same({ "*** is not valid" }, e.fields.token)
        assert.are.same({ "echoed as a field name" }, e.fields["***"])
        local t = e.detail.deep
        for level = 1, depth do
          if (level - 1) % 7 == 0 then assert.are.equal("***", t.k) end
          t = t.v
        end
        assert.are.equal("at the bottom: ***", t[1])
        assert.are.equal("https://x.example/?apiKey=***&a=1", t[2].url)
      end
    end)

    it("are masked in header values, a Location, debug lines, and for QuestionPro's key", function()
      local s = core.session { auth = "token", secret = TOKEN }
      local r = s:request { base = URL, path = "/echo/3/" }
      assert.truthy(r.raw_headers:find("X-Echo: ***", 1, true), r.raw_headers)
      assert.are.equal("***", r.headers["x-echo"])
      assert.are.equal("session=***; HttpOnly", r.headers["set-cookie"])
      walk(r, "the core's result")
      s:close()
      local lines = {}
      local p = client("/redirect/302/echo", { debug = function(l) lines[#lines + 1] = l end })
      local e = fails("redirect", p.users:me())
      assert.are.equal("https://evil.example/cb?token=***&k=***", e.location)
      fails("http", client("/echo/20", { debug = function(l) lines[#lines + 1] = l end }).users:me())
      assert.are.equal(2, #lines)
      for _, l in ipairs(lines) do clean(l, "a debug line") end
      for _, auth in ipairs { "header", "query" } do
        local q = cohort.questionpro { api_key = KEY, base_url = URL .. "/echo/30", auth = auth,
          retries = 0, timeout = 2 }
        fails("http", q.surveys:get(7654321))
        fails("decode", cohort.questionpro { api_key = KEY, base_url = URL .. "/html/200", auth = auth,
          retries = 0, timeout = 2 }.surveys:get(7654321))
        clean(tostring(q), "tostring of the client")
      end
    end)

    it("are masked where they were sent percent-encoded", function()
      local odd = "tok/en+with&odd=chars"
      local p = cohort.prolific { token = odd, base_url = URL .. "/echo/3", retries = 0, timeout = 2 }
      local _, e = p:send { method = "GET", path = "/x/", query = { t = odd } }
      assert.are.equal("http", e.kind)
      assert.truthy(e.url:find("?t=***", 1, true), e.url)
      assert.is_nil(e.url:find("tok%2Fen", 1, true), e.url)
      assert.are.equal("Invalid token ***", e.title)
    end)
  end)

  describe("list envelopes", function()
    local broken = {
      ["results-5"] = 'the list "results" is a number, not an array',
      ["results-object"] = 'the list "results" is an object, not an array',
      ["results-object-full"] = 'the list "results" is an object, not an array',
      array = 'expected a JSON object holding a list in "results"; the answer has none',
      ["array-full"] = 'expected a JSON object holding a list in "results", got an array',
      numbers = "item 1 of the list is a number, not an object",
      ["empty-object"] = 'expected a JSON object holding a list in "results"; the answer has none',
      string = 'expected a JSON object holding a list in "results", got a string',
      ["null-results"] = 'expected a JSON object holding a list in "results"; the answer has none',
    }
    for kind, message in pairs(broken) do
      it(kind .. ": list gives nil, err of kind decode; each raises it; all gives it", function()
        local p = client("/envelope/" .. kind)
        local e = fails("decode", p.submissions:list { study = STUDY })
        assert.are.equal(message, e.message)
        assert.are.equal(200, e.status)
        local ok, raised = pcall(function()
          for _ in p.submissions:each { study = STUDY } do end
        end)
        assert.is_false(ok)
        assert.is_true(Error.is(raised), tostring(raised))
        assert.are.equal("decode", raised.kind)
        assert.are.equal(message, raised.message)
        fails("decode", p.submissions:all { study = STUDY })
        fails("decode", p.studies:list())
      end)
    end

    it("odd but readable envelopes give pages that print, whatever their count", function()
      local page = assert(client("/envelope/odd-meta").submissions:list { study = STUDY })
      assert.are.equal(1, #page)
      assert.is_nil(page.count)
      for kind, shown in pairs { ["count-huge"] = "1e+300", ["count-2p63"] = "9.2233720368548e+18",
        ["empty-list"] = "0" } do
        page = assert(client("/envelope/" .. kind).submissions:list { study = STUDY })
        assert.are.equal(("Page of 0 Submission (%s in all)"):format(shown), tostring(page))
      end
      page = assert(client("/envelope/count-string").submissions:list { study = STUDY })
      assert.are.equal("Page of 0 Submission", tostring(page))
    end)
  end)

  describe("answers that are not the JSON due", function()
    it("an HTML page names its content type and its title, shortened and masked", function()
      local e = fails("decode", client("/html/200").users:me())
      assert.truthy(e.message:find('the server answered text/html; charset=utf-8 instead of JSON '
        .. '(title "Sign in – Example SSO for ***, a title long enough to be shortened before it i…")', 1, true), e.message)
      e = fails("http", client("/html/502").users:me())
      assert.are.equal(502, e.status)
      assert.truthy(e.message:find("text/html", 1, true), e.message)
      e = fails("decode", client("/text").users:me())
      assert.truthy(e.message:find('text/plain instead of JSON: "Service temporarily unavailable', 1, true), e.message)
    end)

    it("an empty 2xx body where JSON is due is a decode error; 204 and empty_ok give true", function()
      for _, status in ipairs { 200, 201, 202 } do
        local e = fails("decode", client("/empty/" .. status).users:me())
        assert.are.equal(("the server answered %d with an empty body where JSON was due"):format(status),
          e.message)
      end
      assert.is_true(client("/empty/204").users:me())
      local p = client("/empty/200")
      assert.is_true(p:send { method = "POST", path = "/x/", empty_ok = true })
      assert.is_true(p:send { method = "HEAD", path = "/x/" })
    end)
  end)

  describe("error bodies of any shape", function()
    local shapes = { "fields63", "fields64", "fields65", "fields1000", "nonstring-first", "nested",
      "huge-string", "invalid-utf8", "deep", "too-deep", "arrays", "flat-odd", "other" }

    it("each ends its request with an http error, blocking or in a task", function()
      for _, shape in ipairs(shapes) do
        local e = fails("http", client("/error-body/" .. shape).users:me())
        assert.are.equal(400, e.status, shape)
      end
      local e = fails("http", client("/error-body/fields64").users:me())
      assert.truthy(e.message:find("; and 32 more fields$"), e.message)
      local n = 0
      for _ in pairs(e.fields) do n = n + 1 end
      assert.are.equal(64, n)
      e = fails("http", client("/error-body/nonstring-first").users:me())
      assert.are.equal("name: required; reward: 5 1 must be a number must be positive", e.message)
      -- in tasks, all at once: every one finishes
      local p = client("/error-body/fields64")
      local tasks = {}
      for i, shape in ipairs(shapes) do
        local c = client("/error-body/" .. shape)
        tasks[i] = p:spawn(function() return c.users:me() end)
      end
      for i, task in ipairs(tasks) do
        local value, err = p:wait(task)
        assert.is_nil(value)
        assert.are.equal("http", err.kind, shapes[i])
        assert.are.equal("done", task.state)
      end
    end)
  end)
end)
