-- The sandbox: the process (start/stop/ready line) and the Lua application called in-process
-- (routes are exercised over HTTP by the client specs).
local sandbox = require "cohort.sandbox"
-- loaded on first use: the sandbox application is Lua 5.4 code (make test-jit and test-5.1
-- exclude the #sandbox54 tests, which call it in-process)
local server = setmetatable({}, { __index = function(_, k) return require("cohort.sandbox.server")[k] end })
local cjson = require("cjson").new()

local TLS_CERT = "spec/fixtures/tls/cert.pem"
local TLS_KEY = "spec/fixtures/tls/key.pem"

describe("cohort.sandbox process", function()
  it("starts on a free port, reports its URL and stops with status 0", function()
    local sb = assert(sandbox.start{})
    assert.matches("^http://127%.0%.0%.1:%d+$", sb.url)
    assert.equals("sandbox-token", sb.token)
    assert.equals("sandbox-api-key", sb.api_key)
    local ok, code = sb:stop()
    assert.is_true(ok)
    assert.equals(0, code)
    -- idempotent
    local ok2, code2 = sb:stop()
    assert.is_true(ok2)
    assert.equals(0, code2)
  end)

  it("serves HTTPS with --tls", function()
    local sb = assert(sandbox.start{ tls = { TLS_CERT, TLS_KEY } })
    assert.matches("^https://127%.0%.0%.1:%d+$", sb.url)
    sb:stop()
  end)

  it("passes the token and key through, quoting them for the shell", function()
    local sb = assert(sandbox.start{ token = "it's a \"token\" $HOME", api_key = "k;`x`" })
    assert.equals("it's a \"token\" $HOME", sb.token)
    assert.equals("k;`x`", sb.api_key)
    sb:stop()
  end)

  it("returns nil and the program's message on a bad argument", function()
    local sb, err = sandbox.start{ args = { "--no-such-flag" } }
    assert.is_nil(sb)
    assert.matches("unknown argument: %-%-no%-such%-flag", err)
    assert.matches("exit 2", err)
  end)

  it("stops on <close>", function()
    local pid
    do
      local sb = assert(sandbox.start{}) -- `<close>` on 5.4; by hand so 5.1 can load this file
      pid = sb.pid
      getmetatable(sb).__close(sb)
    end
    assert.is_not_true((require("cohort.compat").execute("kill -0 " .. pid .. " 2>/dev/null")))
  end)
end)

-- In-process: call app:handle as csrc/sandbox.c does.
local function call(app, method, uri, headers, body)
  local h = { host = "sandbox.test" }
  for k, v in pairs(headers or {}) do h[k] = v end
  local status, rh, rb, opts = app:handle{ method = method, uri = uri, headers = h,
                                           body = body or "", time = os.time() }
  local decoded = nil
  if rh["Content-Type"] == "application/json" then decoded = cjson.decode(rb) end
  return status, decoded, rh, opts, rb
end

local AUTH = { authorization = "Token sandbox-token" }
local STUDY = "60aca280709ee40ec37d4885"

describe("cohort.sandbox application #sandbox54", function()
  local app
  before_each(function() app = server.new{} end)

  it("parses its arguments", function()
    local a = server.new{ "--port", "8081", "--token", "t", "--api-key", "k", "--tls", "c", "k2" }
    assert.equals(8081, a.port)
    assert.equals("t", a.token)
    assert.equals("k", a.api_key)
    assert.equals("c", a.tls_cert)
    assert.equals("k2", a.tls_key)
    assert.has_error(function() server.new{ "--bogus" } end)
    assert.has_error(function() server.new{ "--port", "x" } end)
    assert.is_string(server.new{ "--help" }.help)
  end)

  it("answers 401 in each platform's envelope", function()
    local s, b = call(app, "GET", "/api/v1/users/me/")
    assert.equals(401, s)
    assert.equals(401, b.error.status)
    s, b = call(app, "GET", "/api/v1/users/me/", { authorization = "Token wrong" })
    assert.equals(401, s)
    s, b = call(app, "GET", "/a/api/v2/surveys/1")
    assert.equals(401, s)
    assert.equals(1010, b.response.error.id)
    assert.equals("Incorrect API Key", b.response.error.message)
  end)

  it("accepts the api-key header and the legacy apiKey query", function()
    local s, b = call(app, "GET", "/a/api/v2/nothing", { ["api-key"] = "sandbox-api-key" })
    assert.equals(404, s)
    assert.equals(404, b.response.error.httpStatusCode)
    s = call(app, "GET", "/a/api/v2/nothing?apiKey=sandbox-api-key")
    assert.equals(404, s)
  end)

  it("returns the user", function()
    local s, b = call(app, "GET", "/api/v1/users/me/", AUTH)
    assert.equals(200, s)
    assert.equals("60a42f4c693c29420793cb73", b.id)
    assert.is_string(b.email)
  end)

  it("pages submissions with absolute links and 404 past the end", function()
    local s, b = call(app, "GET", "/api/v1/submissions/?study=" .. STUDY, AUTH)
    assert.equals(200, s)
    assert.equals(20, #b.results)
    assert.equals(45, b.meta.count)
    assert.equals("http://sandbox.test/api/v1/submissions/?study=" .. STUDY .. "&page=2",
      b._links.next.href)
    assert.equals(cjson.null, b._links.previous.href)
    s, b = call(app, "GET", "/api/v1/submissions/?study=" .. STUDY .. "&page=3", AUTH)
    assert.equals(5, #b.results)
    assert.equals(cjson.null, b._links.next.href)
    s = call(app, "GET", "/api/v1/submissions/?study=" .. STUDY .. "&page=4", AUTH)
    assert.equals(404, s)
    s, b = call(app, "GET", "/api/v1/studies/60aca280709ee40ec37d4887/submissions/", AUTH)
    assert.equals(200, s)
    assert.equals(0, #b.results)
    s, b = call(app, "GET", "/api/v1/studies/" .. STUDY .. "/submissions/?page_size=200", AUTH)
    assert.equals(45, #b.results)
    -- the schema's page_size is at most 200
    s, b = call(app, "GET", "/api/v1/studies/" .. STUDY .. "/submissions/?page_size=500", AUTH)
    assert.equals(400, s)
    assert.same({ "must be at most 200 (got 500, an integer)" }, b.error.detail.page_size)
  end)

  it("never lets an encoded slash change the route", function()
    local s = call(app, "GET", "/api/v1/submissions/..%2Fusers%2Fme/", AUTH)
    assert.equals(404, s)
  end)

  it("shows a submission in detail shape and approves only AWAITING REVIEW", function()
    local s, b = call(app, "GET", "/api/v1/submissions/625d4a831bcda2d59ac5a251/", AUTH)
    assert.equals(200, s)
    assert.equals("60bf9310e8dec401be6e9615", b.participant)
    assert.equals("8E8AC860", b.entered_code)
    s = call(app, "POST", "/api/v1/submissions/625d4a831bcda2d59ac5a251/transition/", AUTH,
      '{"action":"APPROVE"}')
    assert.equals(400, s)
    local _, list = call(app, "GET", "/api/v1/submissions/?status=AWAITING_REVIEW", AUTH)
    local id = list.results[1].id
    s, b = call(app, "POST", "/api/v1/submissions/" .. id .. "/transition/", AUTH,
      '{"action":"REJECT","message":"too short"}')
    assert.equals(400, s)
    assert.is_table(b.error.detail.message)
    assert.is_table(b.error.detail.rejection_category)
    s, b = call(app, "POST", "/api/v1/submissions/" .. id .. "/transition/", AUTH,
      '{"action":"APPROVE"}')
    assert.equals(200, s)
    assert.equals("APPROVED", b.status)
  end)

  it("applies paging quirks and clears them on reset", function()
    local s = call(app, "POST", "/__sandbox/quirks", nil,
      '{"repeat_next":true,"overlap":1,"next_on_last":true}')
    assert.equals(200, s)
    local _, p2 = call(app, "GET", "/api/v1/studies/" .. STUDY .. "/submissions/?page=2", AUTH)
    assert.equals(21, #p2.results)
    assert.equals(p2._links.self.href, p2._links.next.href)
    local _, p3 = call(app, "GET", "/api/v1/studies/" .. STUDY .. "/submissions/?page=3", AUTH)
    assert.matches("page=4$", p3._links.next.href)
    call(app, "POST", "/__sandbox/reset")
    local _, again = call(app, "GET", "/api/v1/studies/" .. STUDY .. "/submissions/?page=3", AUTH)
    assert.equals(cjson.null, again._links.next.href)
  end)

  it("logs requests without secrets", function()
    call(app, "GET", "/api/v1/users/me/", AUTH)
    call(app, "GET", "/a/api/v2/x?apiKey=sandbox-api-key")
    local _, b, _, _, raw = call(app, "GET", "/__sandbox/requests")
    assert.equals(2, b.count)
    assert.is_nil(raw:find("sandbox-token", 1, true))
    assert.is_nil(raw:find("sandbox-api-key", 1, true))
    _, b = call(app, "GET", "/__sandbox/requests?path_prefix=/a/")
    assert.equals(1, b.count)
  end)

  it("delays answers, builds large bodies and error pages, and shuts down", function()
    local s, b, _, opts = call(app, "GET", "/__sandbox/delay/250")
    assert.equals(200, s)
    assert.equals(250, b.delayed_ms)
    assert.equals(250, opts.delay)
    _, _, _, opts = call(app, "GET", "/api/v1/users/me/?delay=100", AUTH)
    assert.equals(100, opts.delay)
    local _, _, _, _, raw = call(app, "GET", "/__sandbox/large/5000")
    assert.equals(5000, #raw)
    local h
    s, _, h, _, raw = call(app, "GET", "/__sandbox/status/502?type=html")
    assert.equals(502, s)
    assert.equals("text/html", h["Content-Type"])
    assert.matches("502 Bad Gateway", raw)
    s, b = call(app, "GET", "/__sandbox/status/429?type=flat")
    assert.equals(429, s)
    assert.is_string(b.message)
    s, b = call(app, "GET", "/__sandbox/status/403?type=qp")
    assert.equals(403, b.response.error.httpStatusCode)
    call(app, "POST", "/__sandbox/shutdown")
    assert.is_true(app.shutdown)
  end)

  it("replaces and restores the dataset", function()
    local s = call(app, "POST", "/__sandbox/seed", nil, cjson.encode{
      studies = { { id = "aaaaaaaaaaaaaaaaaaaaaaaa", status = "ACTIVE" } },
      submissions = { { id = "bbbbbbbbbbbbbbbbbbbbbbbb", study_id = "aaaaaaaaaaaaaaaaaaaaaaaa",
                        participant_id = "cccccccccccccccccccccccc", status = "ACTIVE" } },
    })
    assert.equals(200, s)
    local _, b = call(app, "GET", "/api/v1/submissions/", AUTH)
    assert.equals(1, b.meta.count)
    call(app, "POST", "/__sandbox/reset")
    _, b = call(app, "GET", "/api/v1/submissions/", AUTH)
    assert.equals(48, b.meta.count)
  end)
end)
