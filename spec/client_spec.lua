-- Constructors, environment defaults, base URL checks and secrets in printed forms.
describe("cohort clients", function()
  local cohort = require "cohort"
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote

  local function lua_with_env(vars, code)
    local parts = {}
    for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. q(v) end
    return env.run(("env -u PROLIFIC_TOKEN -u PROLIFIC_URL -u QUESTIONPRO_API_KEY -u QUESTIONPRO_URL %s %s -e %s")
      :format(table.concat(parts, " "), q(arg and arg[-1] or "lua5.4"), q(code)))
  end

  it("cohort.prolific{} takes token and base URL from the environment", function()
    local sb = env.sandbox()
    local out, code = lua_with_env({ PROLIFIC_TOKEN = sb.token, PROLIFIC_URL = sb.url },
      'local p = require("cohort").prolific(); print(p.base_url, assert(p.users:me()).id)')
    assert.are.equal(0, code, out)
    assert.are.equal(sb.url .. "\t60a42f4c693c29420793cb73\n", out)
    local out2 = lua_with_env({}, 'print(require("cohort").prolific{token = "test-token"}.base_url)')
    assert.are.equal("https://api.prolific.com\n", out2)
  end)

  it("raises without a token, naming where it comes from", function()
    local out, code = lua_with_env({}, 'require("cohort").prolific()')
    assert.are_not.equal(0, code)
    assert.truthy(out:find("cohort.prolific(): no token: pass token = ... or set PROLIFIC_TOKEN", 1, true), out)
  end)

  it("refuses unknown options and bad base URLs", function()
    assert.has_error(function() cohort.prolific { token = "test-token", tiemout = 3 } end,
      "cohort: cohort.prolific(): unknown option 'tiemout'")
    assert.has_error(function() cohort.prolific { token = "test-token", base_url = "ftp://x" } end)
    assert.has_error(function() cohort.prolific { token = "test-token", base_url = "http://api.example.com" } end)
    local c = cohort.prolific { token = "test-token", base_url = "http://api.example.com", insecure = true }
    assert.are.equal("http://api.example.com", c.base_url)
    assert.are.equal("http://127.0.0.1:9", cohort.prolific { token = "test-token", base_url = "http://127.0.0.1:9/" }.base_url)
  end)

  it("cohort.questionpro{} maps the eight data centres and checks its options", function()
    local hosts = {
      us = "https://api.questionpro.com", eu = "https://api.questionpro.eu",
      ca = "https://api.questionpro.ca", sg = "https://api.questionpro.sg",
      au = "https://api.questionpro.au", ae = "https://api.questionpro.ae",
      sa = "https://api.surveyanalytics.com", ksa = "https://api.questionprosa.com",
    }
    for dc, host in pairs(hosts) do
      assert.are.equal(host .. "/a/api/v2", cohort.questionpro { api_key = "qp-key-1234", datacenter = dc }.base_url)
    end
    assert.has_error(function() cohort.questionpro { api_key = "qp-key-1234", datacenter = "mars" } end)
    assert.has_error(function() cohort.questionpro { api_key = "qp-key-1234", auth = "cookie" } end)
    local out, code = lua_with_env({ QUESTIONPRO_API_KEY = "qp-key-1234" },
      'print(require("cohort").questionpro().base_url)')
    assert.are.equal(0, code)
    assert.are.equal("https://api.questionpro.com/a/api/v2\n", out)
  end)

  it("allows plain http only to loopback, decided on the parsed host", function()
    for _, url in ipairs { "http://127.0.0.1:9", "http://127.0.0.2:8080", "http://127.255.255.254/",
      "http://localhost:8080", "http://LOCALHOST", "http://[::1]:8080", "https://127.attacker.example" } do
      assert.are.equal((url:gsub("/+$", "")), cohort.prolific { token = "test-token", base_url = url }.base_url)
    end
    for _, url in ipairs { "http://127.attacker.example", "http://localhost.evil.com",
      "http://127.0.0.1.evil.com", "http://0127.0.0.1", "http://127.0.0.256", "http://127.1",
      "http://[::2]", "http://[::ffff:127.0.0.1]", "http://evil.com#@127.0.0.1",
      "http://evil.com\\@127.0.0.1" } do
      local ok, msg = pcall(cohort.prolific, { token = "test-token", base_url = url })
      assert.is_false(ok, url)
      assert.truthy(tostring(msg):find("cohort: cohort.prolific(): base_url ", 1, true), msg)
    end
  end)

  it("refuses user names, passwords, queries and fragments in base_url", function()
    local ok, msg = pcall(cohort.prolific, { token = "test-token", base_url = "https://user:pw@api.example.com" })
    assert.is_false(ok)
    assert.truthy(msg:find("base_url must not carry a user name or password", 1, true), msg)
    assert.is_nil(msg:find("pw", 1, true), msg)
    ok, msg = pcall(cohort.prolific, { token = "test-token", base_url = "http://127.0.0.1@evil.example" })
    assert.is_false(ok)
    ok, msg = pcall(cohort.questionpro, { api_key = "qp-key-1234", base_url = "https://x.example/?apiKey=key-in-url" })
    assert.is_false(ok)
    assert.truthy(msg:find("cohort: cohort.questionpro(): base_url must not have a query or a fragment", 1, true), msg)
    assert.is_nil(msg:find("key-in-url", 1, true), msg)
    assert.has_error(function() cohort.prolific { token = "test-token", base_url = "https://x.example/#frag" } end)
  end)

  it("refuses a token or key too short to keep out of messages, naming the option", function()
    local ok, msg = pcall(cohort.prolific, { token = "seven77" })
    assert.is_false(ok)
    assert.truthy(msg:find("cohort: cohort.prolific(): token ($PROLIFIC_TOKEN) is shorter than 8 characters", 1, true), msg)
    assert.is_nil(msg:find("seven77", 1, true))
    ok, msg = pcall(cohort.questionpro, { api_key = "k" })
    assert.is_false(ok)
    assert.truthy(msg:find("cohort: cohort.questionpro(): api_key ($QUESTIONPRO_API_KEY) is shorter than 8", 1, true), msg)
    -- the sandbox's own defaults are long enough
    assert(cohort.prolific { token = "sandbox-token", base_url = "http://127.0.0.1:9" })
    assert(cohort.questionpro { api_key = "sandbox-api-key", base_url = "http://127.0.0.1:9" })
    assert(cohort.prolific { token = "8chars!!", base_url = "http://127.0.0.1:9" })
    -- and the core refuses them as well
    assert.has_error(function() require("cohort.core").session { auth = "token", secret = "short" } end)
  end)

  it("refuses a token or key with a NUL or any control character, never cutting it", function()
    for _, bad in ipairs { "good-token\0tail", "good-token\n", "good\rtoken", "good\ttoken", "tok\127en-xyz", "\27[31mtoken-x" } do
      local ok, msg = pcall(cohort.prolific, { token = bad })
      assert.is_false(ok)
      assert.truthy(msg:find("cohort: cohort.prolific(): token ($PROLIFIC_TOKEN) contains a control character", 1, true), msg)
      assert.is_nil(msg:find("good", 1, true), msg)
      ok, msg = pcall(cohort.questionpro, { api_key = bad })
      assert.is_false(ok)
      assert.truthy(msg:find("api_key ($QUESTIONPRO_API_KEY) contains a control character", 1, true), msg)
      assert.has_error(function() require("cohort.core").session { auth = "token", secret = bad } end,
        "cohort.core: the secret contains a control character (a NUL, a line break or another byte below 32; a trailing newline read from a file is the usual cause)")
    end
    local out, code = lua_with_env({ PROLIFIC_TOKEN = "from-a-file-token\n" }, 'require("cohort").prolific()')
    assert.are_not.equal(0, code)
    assert.truthy(out:find("token ($PROLIFIC_TOKEN) contains a control character", 1, true), out)
  end)

  it("an explicit base_url or $QUESTIONPRO_URL wins over datacenter", function()
    local c = cohort.questionpro { api_key = "qp-key-1234", datacenter = "eu", base_url = "http://127.0.0.1:9" }
    assert.are.equal("http://127.0.0.1:9/a/api/v2", c.base_url)
    assert.is_nil(c.datacenter)
    local out, code = lua_with_env({ QUESTIONPRO_API_KEY = "qp-key-1234", QUESTIONPRO_URL = "http://127.0.0.1:9" },
      'local q = require("cohort").questionpro{ datacenter = "eu" }; print(q.base_url, q.datacenter)')
    assert.are.equal(0, code, out)
    assert.are.equal("http://127.0.0.1:9/a/api/v2\tnil\n", out)
    out = lua_with_env({ QUESTIONPRO_API_KEY = "qp-key-1234", QUESTIONPRO_DATACENTER = "eu" },
      'local q = require("cohort").questionpro(); print(q.base_url, q.datacenter)')
    assert.are.equal("https://api.questionpro.eu/a/api/v2\teu\n", out)
  end)

  it("prints a page whatever its count (huge, a float, 2^63, not a number)", function()
    local Page = require("cohort.paging").Page
    for _, count in ipairs { 1e300, 2 ^ 63, 1.5, -0.0, 12, math.huge, "lots" } do
      local page = setmetatable({ class = "Submission", count = count, {}, {} }, Page)
      local text = tostring(page)
      assert.truthy(text:find("^Page of 2 Submission %(.+ in all%)$"), text)
    end
    assert.are.equal("Page of 0 item", tostring(setmetatable({}, Page)))
  end)

  it("never shows the token or the key in tostring", function()
    local p = cohort.prolific { token = "SECRET-TOKEN-123", base_url = "http://127.0.0.1:9" }
    local qp = cohort.questionpro { api_key = "SECRET-KEY-456", base_url = "http://127.0.0.1:9", auth = "query" }
    for _, x in ipairs { p, qp, p.submissions, qp._session, p._session } do
      local s = tostring(x)
      assert.is_nil(s:find("SECRET", 1, true), s)
    end
    local r = qp._session:request { base = qp.base_url, path = "/x" }
    assert.is_nil(tostring(r.err.message):find("SECRET", 1, true))
    assert.is_nil(r.err.url:find("SECRET", 1, true))
    local _, e2 = p.users:me()
    assert.is_nil(tostring(e2):find("SECRET", 1, true))
    local _, e3 = qp:send { method = "GET", path = "/surveys/1" }
    assert.is_nil(tostring(e3):find("SECRET", 1, true))
    assert.truthy(e3.url:find("apiKey=***", 1, true))
  end)
end)
