-- The C core (cohort.core) against the sandbox over real HTTP on loopback: URL building,
-- headers and auth, time-outs, the size cap, TLS verification, error envelopes, lifetimes.
describe("cohort.core", function()
  local core = require "cohort.core"
  local env = require "support.env"
  local sb

  setup(function()
    sb = env.sandbox()
  end)

  describe("URL building", function()
    it("encodes every id as exactly one path segment", function()
      local url = core.build_url { base = "https://api.prolific.com/", path = "/api/v1/submissions/{id}/",
        ids = { "../studies" } }
      assert.are.equal("https://api.prolific.com/api/v1/submissions/%2E%2E%2Fstudies/", url)
      assert.are.equal("https://x/a/%2E%2E/b/42/",
        core.build_url { base = "https://x", path = "/a/{}/b/{}/", ids = { "..", 42 } })
      assert.are.equal("https://x/s/a%3Fb%3Dc%23d%20e%2Ff/",
        core.build_url { base = "https://x", path = "/s/{id}/", ids = { "a?b=c#d e/f" } })
    end)

    it("sorts and encodes the query; arrays repeat the key; numbers and booleans print plainly", function()
      local url = core.build_url { base = "http://h", path = "/p/", query = {
        study = "a b&c", page = 2, status = { "A", "B" }, f = 1.5, t = true, n = 3.0 } }
      assert.are.equal("http://h/p/?f=1.5&n=3&page=2&status=A&status=B&study=a%20b%26c&t=true", url)
    end)

    it("raises on misuse: empty id, missing id, bad query value, other origin", function()
      assert.has_error(function() core.build_url { base = "https://x", path = "/a/{}/", ids = { "" } } end,
        "cohort.core: id 1 of the path must be a non-empty string")
      assert.has_error(function() core.build_url { base = "https://x", path = "/a/{}/" } end)
      assert.has_error(function() core.build_url { base = "https://x", path = "/", query = { a = print } } end)
      assert.has_error(function() core.build_url { base = "ftp://x", path = "/" } end)
      assert.has_error(function() core.build_url { base = "https://x", url = "https://evil.example/x" } end,
        "cohort.core: absolute url is not on the origin of base")
      assert.are.equal("https://x/a?page=2", core.build_url { base = "https://x/", url = "https://x/a?page=2" })
    end)

    it("is_id accepts 1 to 128 bytes without control characters or spaces", function()
      assert.is_true(core.is_id("66300a1b01635f5553e5a684"))
      assert.is_true(core.is_id(("x"):rep(128)))
      for _, bad in ipairs { "", ("x"):rep(129), "a b", "a\tb", "a\0b", "a\127", 42, nil, {} } do
        assert.is_false(core.is_id(bad), tostring(bad))
      end
    end)

    it("an id cannot change the route on the server", function()
      local p = env.prolific()
      -- the client refuses it before sending; the core, asked directly, keeps it one segment
      assert.has_error(function() p.submissions:get("../studies") end)
      local r = p._session:request { base = p.base_url, path = "/api/v1/submissions/{}/",
        ids = { "../studies" } }
      assert.are.equal(404, r.err.status)
      assert.are.equal("Submission not found.", r.err.message)
    end)
  end)

  describe("headers and auth", function()
    it("sends User-Agent cohort/<version> libcurl/<version>, Accept, and the Prolific token", function()
      env.control("DELETE", "requests")
      local s = core.session { auth = "token", secret = sb.token }
      local r = s:request { base = sb.url, path = "/api/v1/users/me/" }
      assert.is_nil(r.err)
      assert.are.equal(200, r.status)
      local log = env.requests()
      local last = log[#log]
      assert.are.equal("/api/v1/users/me/", last.path)
      assert.are.equal(("cohort/%s libcurl/%s"):format(core.version, core.curl_version),
        last.headers["user-agent"])
      assert.are.equal("application/json", last.headers.accept)
      s:close()
    end)

    it("asks for a compressed answer only when told to (lists do; one object does not)", function()
      env.control("DELETE", "requests")
      local s = core.session { auth = "token", secret = sb.token }
      assert.is_nil(s:request { base = sb.url, path = "/api/v1/users/me/" }.err)
      assert.is_nil(s:request { base = sb.url, path = "/api/v1/users/me/", compress = true }.err)
      local log = env.requests()
      assert.is_nil(log[#log - 1].headers["accept-encoding"])
      assert.truthy(log[#log].headers["accept-encoding"]:find("gzip", 1, true))
      s:close()
      env.control("DELETE", "requests")
      local p = env.prolific()
      assert(p.users:me())
      assert(p.studies:list())
      log = env.requests()
      assert.are.equal("/api/v1/users/me/", log[#log - 1].path)
      assert.is_nil(log[#log - 1].headers["accept-encoding"])
      assert.are.equal("/api/v1/studies/", log[#log].path)
      assert.truthy(log[#log].headers["accept-encoding"]:find("gzip", 1, true))
    end)

    it("a request's own headers never stay for the next request of the session", function()
      -- (the sandbox keeps credentials out of its log: that the token went with each request
      -- shows in the answers, 200 and 400 rather than 401)
      env.control("DELETE", "requests")
      local s = core.session { auth = "token", secret = sb.token }
      assert.is_nil(s:request { base = sb.url, path = "/api/v1/users/me/",
        headers = { ["X-Trace"] = "abc", Accept = "application/json, text/csv" } }.err)
      assert.is_nil(s:request { base = sb.url, path = "/api/v1/users/me/" }.err)
      assert.are.equal(400, s:request { base = sb.url, method = "POST", path = "/api/v1/studies/",
        body = "{}" }.err.status)
      local log = env.requests()
      local a, b, c = log[#log - 2], log[#log - 1], log[#log]
      assert.are.equal("abc", a.headers["x-trace"])
      assert.are.equal("application/json, text/csv", a.headers.accept)
      assert.is_nil(b.headers["x-trace"])
      assert.are.equal("application/json", b.headers.accept)
      assert.are.equal("application/json", c.headers["content-type"])
      assert.is_nil(c.headers.expect)
      s:close()
    end)

    it("gives the answer's headers as lines and, when first read, as a table", function()
      local s = core.session { auth = "token", secret = sb.token }
      local r = s:request { base = sb.url, path = "/api/v1/users/me/" }
      assert.truthy(r.raw_headers:match("^HTTP/1%.%d 200"))
      assert.is_nil(rawget(r, "headers"))
      local h = r.headers
      assert.truthy(h["content-type"]:find("application/json", 1, true))
      assert.are.equal(h, rawget(r, "headers"))
      assert.is_nil(r.no_such_field)
      s:close()
    end)

    it("a wrong token gets Prolific's 401 envelope", function()
      local s = core.session { auth = "token", secret = "wrong-token" }
      local r = s:request { base = sb.url, path = "/api/v1/users/me/" }
      assert.are.equal("http", r.err.kind)
      assert.are.equal(401, r.err.status)
      assert.are.equal("prolific", r.err.platform)
      assert.is_string(r.err.message)
      s:close()
    end)

    it("QuestionPro's key goes in the api-key header", function()
      local good = core.session { auth = "api-key", secret = sb.api_key, platform = "questionpro" }
      local bad = core.session { auth = "api-key", secret = "nope-nope-key", platform = "questionpro" }
      local r1 = good:request { base = sb.url, path = "/a/api/v2/no-such-thing" }
      local r2 = bad:request { base = sb.url, path = "/a/api/v2/no-such-thing" }
      assert.are.equal(404, r1.err.status) -- authenticated, then not found
      assert.are.equal(401, r2.err.status)
      assert.are.equal(1010, r2.err.code)
      good:close()
      bad:close()
    end)

    it("the legacy apiKey query parameter is sent but never shown", function()
      local s = core.session { auth = "query", secret = sb.api_key, platform = "questionpro" }
      local r = s:request { base = sb.url, path = "/a/api/v2/no-such-thing", query = { page = 1 } }
      assert.are.equal(404, r.err.status)
      assert.is_nil(tostring(r.err.url):find(sb.api_key, 1, true))
      assert.truthy(r.err.url:find("apiKey=***", 1, true))
      for _, v in pairs(r.err) do
        if type(v) == "string" then assert.is_nil(v:find(sb.api_key, 1, true)) end
      end
      s:close()
    end)

    it("refuses credentials in headers and header injection", function()
      local s = core.session {}
      assert.has_error(function()
        s:request { base = sb.url, path = "/", headers = { Authorization = "Token x" } }
      end)
      assert.has_error(function()
        s:request { base = sb.url, path = "/", headers = { ["X-A"] = "a\r\nX-B: b" } }
      end)
      s:close()
    end)
  end)

  describe("time-outs", function()
    it("a total time-out gives kind 'timeout'", function()
      local s = core.session { timeout = 0.3 }
      local r = s:request { base = sb.url, path = "/__sandbox/delay/3000" }
      assert.are.equal("timeout", r.err.kind)
      assert.are.equal("OPERATION_TIMEDOUT", r.err.code)
      s:close()
    end)

    it("a per-request timeout overrides the session's", function()
      local s = core.session { timeout = 10 }
      local r = s:request { base = sb.url, path = "/__sandbox/delay/3000", timeout = 0.2 }
      assert.are.equal("timeout", r.err.kind)
      local ok = s:request { base = sb.url, path = "/__sandbox/delay/50" }
      assert.is_nil(ok.err)
      s:close()
    end)

    it("a connect time-out gives kind 'timeout' with code CONNECT_TIMEOUT", function()
      local h = io.popen("exec blackhole 20", "r")
      local port, pid = h:read("*n", "*n")
      local s = core.session { connect_timeout = 0.3 }
      local r = s:request { base = "http://127.0.0.1:" .. ("%d"):format(port), path = "/" }
      os.execute(("kill %d"):format(pid))
      h:close()
      assert.are.equal("timeout", r.err.kind)
      assert.are.equal("CONNECT_TIMEOUT", r.err.code)
      s:close()
    end)

    it("a refused connection is a transport error", function()
      local s = core.session {}
      local r = s:request { base = "http://127.0.0.1:1", path = "/" }
      assert.are.equal("transport", r.err.kind)
      assert.are.equal("COULDNT_CONNECT", r.err.code)
      s:close()
    end)
  end)

  describe("the response-size cap", function()
    it("refuses a body over max_size with kind 'too_large'", function()
      local s = core.session { max_size = 100000 }
      local r = s:request { base = sb.url, path = "/__sandbox/large/300000" }
      assert.are.equal("too_large", r.err.kind)
      local ok = s:request { base = sb.url, path = "/__sandbox/large/90000" }
      assert.is_nil(ok.err)
      assert.are.equal(90000, #ok.body)
      s:close()
    end)

    it("defaults to 64 MiB", function()
      local s = core.session {}
      local r = s:request { base = sb.url, path = "/__sandbox/large/2000000" }
      assert.is_nil(r.err)
      s:close()
    end)
  end)

  describe("TLS", function()
    local tls
    setup(function()
      tls = assert(require("cohort.sandbox").start {
        tls = { "spec/fixtures/tls/cert.pem", "spec/fixtures/tls/key.pem" } })
    end)
    teardown(function() tls:stop() end)

    it("verifies the peer by default and fails against a self-signed certificate", function()
      assert.truthy(tls.url:match("^https://"))
      local s = core.session { auth = "token", secret = tls.token }
      local r = s:request { base = tls.url, path = "/api/v1/users/me/" }
      assert.are.equal("transport", r.err.kind)
      assert.truthy(r.err.code == "PEER_FAILED_VERIFICATION" or r.err.code == "SSL_CONNECT_ERROR",
        tostring(r.err.code))
      s:close()
    end)

    it("passes with ca_file naming the certificate", function()
      local s = core.session { auth = "token", secret = tls.token, ca_file = "spec/fixtures/tls/cert.pem" }
      local r = s:request { base = tls.url, path = "/api/v1/users/me/" }
      assert.is_nil(r.err)
      assert.are.equal(200, r.status)
      s:close()
    end)
  end)

  describe("error envelopes", function()
    local s
    setup(function() s = core.session {} end)
    teardown(function() s:close() end)

    it("decodes Prolific's nested envelope from the server", function()
      local r = s:request { base = sb.url, path = "/__sandbox/status/403", query = { type = "json" } }
      assert.are.equal("http", r.err.kind)
      assert.are.equal(403, r.err.status)
      assert.is_not_nil(r.err.code)
      assert.is_string(r.err.title)
      assert.is_string(r.err.message)
      assert.are.equal("GET", r.err.method)
    end)

    it("decodes the flat {message, detail} envelope", function()
      local r = s:request { base = sb.url, path = "/__sandbox/status/400", query = { type = "flat" } }
      assert.are.equal(400, r.err.status)
      assert.is_string(r.err.message)
    end)

    it("decodes QuestionPro's envelope", function()
      local r = s:request { base = sb.url, path = "/__sandbox/status/429", query = { type = "qp" } }
      assert.are.equal(429, r.err.status)
      assert.are.equal("number", type(r.err.code))
    end)

    it("turns an HTML 502 page into a clear message", function()
      local r = s:request { base = sb.url, path = "/__sandbox/status/502", query = { type = "html" } }
      assert.are.equal(502, r.err.status)
      assert.are.equal("http", r.err.kind)
      assert.truthy(r.err.message:find("text/html", 1, true))
      assert.truthy(r.err.message:find("502 Bad Gateway", 1, true))
    end)

    it("reads Retry-After in seconds", function()
      local r = s:request { base = sb.url, path = "/__sandbox/status/429", query = { retry_after = 7 } }
      assert.are.equal(7, r.err.retry_after)
      assert.are.equal(7, core.retry_after("7"))
      assert.are.equal(0, core.retry_after("Wed, 21 Oct 2015 07:28:00 GMT"))
      assert.are.equal(2.5, core.retry_after("2.5"))
      assert.is_nil(core.retry_after("2.5s"))
      assert.is_nil(core.retry_after("soon"))
    end)

    it("reads Retry-After of any size or form, and says what the server said", function()
      assert.are.equal(31536001, core.retry_after("31536001"))   -- over a year: still read
      local huge = core.retry_after("1000000000000000000000000000000")
      assert.is_true(huge > 0.99e30 and huge < 1.01e30, tostring(huge))
      local long = core.retry_after(("9"):rep(5000))
      assert.is_true(long > 1e299 and long < math.huge)
      assert.are.equal(0, core.retry_after("0"))
      assert.are.equal(0, core.retry_after(" 0 "))
      assert.are.equal(0.25, core.retry_after("0.25"))
      for _, bad in ipairs { "", " ", "-5", "+5", "-0.5", "1e3", "0x10", "5 s", ("x"):rep(8000) } do
        assert.is_nil(core.retry_after(bad), bad)
      end
      local far = core.retry_after(os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 400 * 86400))
      assert.is_true(far > 399 * 86400 and far <= 400 * 86400, tostring(far))
      assert.are.equal(0, core.retry_after(os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() - 3600)))
    end)

    it("never raises on an error body of any shape", function()
      local function fields(n)
        local t = {}
        for i = 1, n do t[i] = ('"field_%04d":["bad %d"]'):format(i, i) end
        return '{"error":{"title":"Invalid","detail":{' .. table.concat(t, ",") .. '}}}'
      end
      for _, n in ipairs { 1, 63, 64, 65, 1000 } do
        local e = core.decode_error("prolific", 400, fields(n))
        assert.are.equal("http", e.kind)
        local count = 0
        for _ in pairs(e.fields) do count = count + 1 end
        assert.are.equal(n, count)
        assert.are.same({ "bad 1" }, e.fields.field_0001)
        assert.truthy(e.message:find("^field_0001: bad 1; field_0002: bad 2") or n == 1, e.message)
        if n > 32 then
          assert.truthy(e.message:find(("; and %d more fields$"):format(n - 32)), e.message)
        end
      end
      -- a message list with a non-string before strings; booleans, nulls, objects among them
      local e = core.decode_error("prolific", 400,
        '{"error":{"detail":{"reward":[5,null,{"x":1},"must be a number","must be positive"],"name":[true,"required"]}}}')
      assert.are.equal("name: required; reward: 5 1 must be a number must be positive", e.message)
      assert.are.same({ "required" }, e.fields.name)
      -- nested arrays and objects; a detail array of anything; odd flat bodies
      e = core.decode_error("prolific", 400,
        '{"error":{"detail":{"filters":[{"selected_range":{"lower":["must be a number"]}},[["deeper"]]]}}}')
      assert.are.equal("filters: must be a number deeper", e.message)
      e = core.decode_error("prolific", 400, '{"error":{"detail":[["a",["b"]],{"c":"d"},null,1.5,"e"]}}')
      assert.are.equal("a; b; d; 1.5; e", e.message)
      for _, body in ipairs {
        '{"message":{"not":"a string"},"detail":{"":[],"k":null},"title":7}',
        '{"response":{"error":{"id":{"x":1},"name":[1],"message":5}}}',
        '{"error":{"title":"Bad \\u00ff","detail":["\\ud83d\\ude00", "\255\254"]}}',
        '{"error":{"detail":"' .. ("x"):rep(2 * 1024 * 1024) .. '"}}',
        '{"error":{"detail":' .. ('{"a":'):rep(990) .. '"bottom"' .. ("}"):rep(990) .. '}}',
        '{"error":{"detail":' .. ("["):rep(100000) .. '}}',
        '{"error":{"detail":{"\\u0000":["nul key"],"a\\u0000b":["x"]}}}',
      } do
        local err = core.decode_error("prolific", 400, body, "application/json", "SECRET-12345")
        assert.are.equal("http", err.kind)
        assert.is_string(err.message)
      end
    end)

    it("redacts the secret at any depth of an error body, keys included", function()
      local SECRET = "TOKEN-deep-7f3a9c1e"
      local function walk(v, seen, depth)
        if type(v) == "string" then
          assert.is_nil(v:find(SECRET, 1, true), "found at depth " .. depth .. ": " .. v:sub(1, 80))
        elseif type(v) == "table" and not seen[v] then
          seen[v] = true
          for k, x in pairs(v) do walk(k, seen, depth + 1); walk(x, seen, depth + 1) end
        end
      end
      for _, depth in ipairs { 1, 5, 10, 50, 500, 990 } do
        local body = '"at the bottom: ' .. SECRET .. '"'
        for _ = 1, depth do body = '{"' .. SECRET .. '":["' .. SECRET .. '"],"k":' .. body .. '}' end
        local e = core.decode_error("prolific", 400, '{"error":{"title":"' .. SECRET .. '","detail":' .. body .. '}}',
          "application/json", SECRET)
        walk(e, {}, 0)
        local t = e.detail
        for _ = 1, depth do t = t.k end
        assert.are.equal("at the bottom: ***", t)
        assert.are.same({ "***" }, e.detail["***"])
        assert.are.equal("***", e.title)
      end
      -- an echo written with JSON escapes is masked once decoded
      local escaped = SECRET:gsub("T", "\\u0054")
      local e = core.decode_error("prolific", 400, '{"error":{"detail":{"f":[{"g":"' .. escaped .. '"}]}}}', nil, SECRET)
      assert.are.equal("***", e.detail.f[1].g)
      assert.are.equal("f: ***", e.message)
      -- in URLs: the secret in clear or percent-encoded, apiKey values, user names and passwords
      local odd = "tok/en+with&odd=chars"
      e = core.decode_error("questionpro", 400, ('{"response":{"error":{"message":"see %s and %s",'
        .. '"resourceUrl":"https://u:p@x.example/a?b=1&APIKEY=zzz&token=%s"}}}'):format(odd,
        "tok%2Fen%2Bwith%26odd%3Dchars", "tok%2Fen%2Bwith%26odd%3Dchars"), nil, odd)
      assert.are.equal("see *** and tok%2Fen%2Bwith%26odd%3Dchars", e.message) -- (no session: one form)
      assert.are.equal("https://***@x.example/a?b=1&APIKEY=***&token=tok%2Fen%2Bwith%26odd%3Dchars", e.resource_url)
    end)

    it("never garbles a message: only whole occurrences of a secret of 8 characters or more", function()
      local e = core.decode_error("prolific", 400,
        '{"error":{"detail":"Failed to connect; the token is not valid; set apiKey=X in the docs"}}',
        nil, "sandbox-token")
      assert.are.equal("Failed to connect; the token is not valid; set apiKey=X in the docs", e.message)
    end)

    it("maps detail as a string, an array, or field -> messages", function()
      local e1 = core.decode_error("prolific", 400, '{"error":{"status":400,"error_code":140001,"title":"Bad","detail":"too short"}}')
      assert.are.equal("too short", e1.message)
      assert.are.equal(140001, e1.code)
      assert.are.equal("Bad", e1.title)
      local e2 = core.decode_error("prolific", 400, '{"error":{"detail":["one","two"]}}')
      assert.are.equal("one; two", e2.message)
      local e3 = core.decode_error("prolific", 400,
        '{"error":{"title":"Invalid","detail":{"message":["too short"],"rejection_category":["not valid","bad"]}}}')
      assert.are.same({ message = { "too short" }, rejection_category = { "not valid", "bad" } }, e3.fields)
      assert.are.equal("message: too short; rejection_category: not valid bad", e3.message)
    end)

    it("takes QuestionPro's id as a string or a number, and redacts resourceUrl", function()
      local e1 = core.decode_error("questionpro", 401,
        '{"response":{"error":{"id":"1010","name":"Unauthorized","message":"Incorrect API Key","resourceUrl":"https://api.questionpro.com/a/api/v2/surveys?apiKey=SECRET&page=1"}}}',
        "application/json", "SECRET")
      assert.are.equal(1010, e1.code)
      assert.are.equal("Incorrect API Key", e1.message)
      assert.are.equal("https://api.questionpro.com/a/api/v2/surveys?apiKey=***&page=1", e1.resource_url)
      local e2 = core.decode_error("questionpro", 429, '{"response":{"error":{"id":1013,"message":"API call limit exceeded"}}}')
      assert.are.equal(1013, e2.code)
    end)

    it("survives bodies that are not JSON or not an envelope", function()
      for _, body in ipairs { "", "null", "[]", "{", "\0\1\2", ('x'):rep(10000), '{"error":5}',
        '{"response":5}', '{"error":{"detail":{"a":5}}}' } do
        local e = core.decode_error("prolific", 500, body)
        assert.are.equal("http", e.kind)
        assert.is_string(e.message)
      end
    end)
  end)

  describe("options", function()
    it("retries counts the retries after the first attempt: 0 to 100, a bare session none", function()
      for _, bad in ipairs { -1, 101, 1.5, "2" } do
        assert.has_error(function() core.session { retries = bad } end)
        assert.has_error(function()
          core.session {}:submit { base = sb.url, path = "/", retries = bad }
        end)
      end
      local s = core.session { retries = 0 }
      local r = s:request { base = sb.url, path = "/__sandbox/status/503" }
      assert.are.equal(1, r.err.attempts)
      r = s:request { base = sb.url, path = "/__sandbox/status/503", retries = 2 }
      assert.are.equal(3, r.err.attempts)
      s:close()
      s = core.session { retries = 1, retry_base = 0.01 }
      assert.are.equal(2, s:request { base = sb.url, path = "/__sandbox/status/503" }.err.attempts)
      s:close()
      assert.are.equal(1, core.session {}:request { base = sb.url, path = "/__sandbox/status/503" }.err.attempts)
    end)

    it("refuses a secret that is short, or holds a NUL or a control character", function()
      assert.has_error(function() core.session { auth = "token", secret = "1234567" } end,
        "cohort.core: the secret is shorter than 8 characters, too short to keep out of every message safely")
      assert.has_error(function() core.session { auth = "token", secret = "12345678\0" } end)
      assert.has_error(function() core.session { auth = "token", secret = "12345678\n" } end)
      assert.has_error(function() core.session { auth = "token", secret = 12345678 } end)
      core.session { auth = "token", secret = "12345678" }:close()
    end)
  end)

  describe("lifetimes", function()
    it("close, __gc and __close are one idempotent function", function()
      local s = core.session {}
      s:close()
      s:close()
      assert.are.equal("cohort.Session (closed)", tostring(s))
      assert.has_error(function() s:pending() end, "attempt to use a closed cohort session")
      do
        local t = core.session {} -- `local t <close>` on 5.4; called by hand so 5.1 can load this file
        assert.are.equal(0, t:pending())
        getmetatable(t).__close(t)
        assert.are.equal("cohort.Session (closed)", tostring(t))
      end
      local weak = setmetatable({}, { __mode = "v" })
      weak[1] = core.session {}
      weak[1]:submit { base = sb.url, path = "/__sandbox/delay/2000" }
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
    end)

    it("keeps connections alive across requests and overlaps requests on one session", function()
      local s = core.session {}
      local ids = {}
      for i = 1, 5 do ids[i] = s:submit { base = sb.url, path = "/__sandbox/delay/300" } end
      local t0 = os.clock()
      local got = {}
      while #got < 5 do
        for _, r in ipairs(s:step(100)) do got[#got + 1] = r end
      end
      assert.is_true(os.clock() - t0 < 1) -- CPU time: waiting did not spin
      for _, r in ipairs(got) do assert.is_nil(r.err) end
      s:close()
    end)

    it("a blocking request keeps other finished results for step()", function()
      local s = core.session {}
      local a = s:submit { base = sb.url, path = "/__sandbox/delay/10" }
      local r = s:request { base = sb.url, path = "/__sandbox/delay/300" }
      assert.is_nil(r.err)
      local rest = {}
      for _ = 1, 20 do
        for _, x in ipairs(s:step(50)) do rest[#rest + 1] = x end
        if #rest > 0 then break end
      end
      assert.are.equal(a, rest[1].id)
      s:close()
    end)
  end)
end)
