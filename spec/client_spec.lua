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
    local out2 = lua_with_env({}, 'print(require("cohort").prolific{token = "t"}.base_url)')
    assert.are.equal("https://api.prolific.com\n", out2)
  end)

  it("raises without a token, naming where it comes from", function()
    local out, code = lua_with_env({}, 'require("cohort").prolific()')
    assert.are_not.equal(0, code)
    assert.truthy(out:find("cohort.prolific(): no token: pass token = ... or set PROLIFIC_TOKEN", 1, true), out)
  end)

  it("refuses unknown options and bad base URLs", function()
    assert.has_error(function() cohort.prolific { token = "t", tiemout = 3 } end,
      "cohort: cohort.prolific(): unknown option 'tiemout'")
    assert.has_error(function() cohort.prolific { token = "t", base_url = "ftp://x" } end)
    assert.has_error(function() cohort.prolific { token = "t", base_url = "http://api.example.com" } end)
    local c = cohort.prolific { token = "t", base_url = "http://api.example.com", insecure = true }
    assert.are.equal("http://api.example.com", c.base_url)
    assert.are.equal("http://127.0.0.1:9", cohort.prolific { token = "t", base_url = "http://127.0.0.1:9/" }.base_url)
  end)

  it("cohort.questionpro{} maps the eight data centres and checks its options", function()
    local hosts = {
      us = "https://api.questionpro.com", eu = "https://api.questionpro.eu",
      ca = "https://api.questionpro.ca", sg = "https://api.questionpro.sg",
      au = "https://api.questionpro.au", ae = "https://api.questionpro.ae",
      sa = "https://api.surveyanalytics.com", ksa = "https://api.questionprosa.com",
    }
    for dc, host in pairs(hosts) do
      assert.are.equal(host .. "/a/api/v2", cohort.questionpro { api_key = "k", datacenter = dc }.base_url)
    end
    assert.has_error(function() cohort.questionpro { api_key = "k", datacenter = "mars" } end)
    assert.has_error(function() cohort.questionpro { api_key = "k", auth = "cookie" } end)
    local out, code = lua_with_env({ QUESTIONPRO_API_KEY = "k" },
      'print(require("cohort").questionpro().base_url)')
    assert.are.equal(0, code)
    assert.are.equal("https://api.questionpro.com/a/api/v2\n", out)
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
