-- The ```lua blocks of docs/sandbox.md and docs/internals.md are checked by a spec each, so the
-- guides cannot drift from the code: the runnable ones are run as written (their print recorded,
-- their effect asserted); the illustrations of internals.md are held to the code they show (a
-- row equal to the module's, a listing naming exactly what the core exports, with the options
-- and defaults csrc/ reads, each call made once as shown).
local env = require "support.env"
local docblocks = require "support.docblocks"
local core = require "cohort.core"
local compat = require "cohort.compat"

local SANDBOX_MD, INTERNALS_MD = "docs/sandbox.md", "docs/internals.md"

local read = require("support.env").read

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- the sorted distinct captures of `pattern` in `text`
local function names(text, pattern)
  local seen, out = {}, {}
  for n in text:gmatch(pattern) do
    if not seen[n] then seen[n] = true; out[#out + 1] = n end
  end
  table.sort(out)
  return out
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function sorted(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  table.sort(out)
  return out
end

-- `code` without its `--` comments (the listings' comments hold prose, not names)
local function uncommented(code)
  return (code:gsub("%-%-[^\n]*", ""))
end

-- the names given a value in a table constructor's text (nested tables left out)
local function fields(ctor)
  return names(ctor:sub(2, -2):gsub("%b{}", "{}"), "([%a_][%w_]*)%s*=[^=]")
end

-- the text of a C function of csrc/: from its signature to the closing brace of its body
local function c_function(path, signature)
  local text = read(path)
  local i = assert(text:find(signature .. "\n{\n", 1, true), path .. ": no " .. signature)
  local j = assert(text:find("\n}\n", i, true), path .. ": " .. signature .. " never ends")
  return text:sub(i, j)
end

-- `s` as a pattern that matches it literally
local function quote(s)
  return (s:gsub("%p", "%%%0"))
end

local function alive(pid)
  local ok = os.execute(("kill -0 %d 2>/dev/null"):format(pid))
  return ok == true or ok == 0 -- 5.1/LuaJIT: the exit status
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

describe("docs/sandbox.md and docs/internals.md", function()
  -- Which spec runs (or checks) each ```lua block, in the guides' order. A block added, moved
  -- or removed fails here until it is given a spec; each spec named mentions the guide and the
  -- heading literally (the way it finds the block).
  local CHECKED_BY = {
    [SANDBOX_MD] = {
      { "From Lua: the sandbox handle", "spec/sandbox_verbs_spec.lua" },
      { "The server", "spec/docs_sandbox_internals_spec.lua" },
      { "The participant pool", "spec/sandbox_pool_spec.lua" },
      { "In the server", "spec/sandbox_participants_spec.lua" },
      { "The clock", "spec/sandbox_clock_spec.lua" },
      { "Money", "spec/sandbox_money_spec.lua" },
      { "Webhook deliveries", "spec/sandbox_deliveries_spec.lua" },
      { "Webhooks in a rehearsal", "spec/sandbox_webhooks_spec.lua" },
    },
    [INTERNALS_MD] = {
      { "The client: rows, the generator, the registry", "spec/docs_sandbox_internals_spec.lua" },
      { "The core: `cohort.core`", "spec/docs_sandbox_internals_spec.lua" },
      { "The binding", "spec/docs_sandbox_internals_spec.lua" },
    },
  }

  for _, doc in ipairs { SANDBOX_MD, INTERNALS_MD } do
    it("has each of " .. doc .. "'s lua blocks checked by a spec that names it", function()
      local headings, want = {}, {}
      for i, b in ipairs(docblocks.all(doc)) do headings[i] = b.heading end
      for i, c in ipairs(CHECKED_BY[doc]) do want[i] = c[1] end
      assert.are.same(want, headings)
      for _, c in ipairs(CHECKED_BY[doc]) do
        local spec = read(c[2])
        assert.is_truthy(spec:find(doc, 1, true), c[2] .. " does not name " .. doc)
        -- as block()/under() are called (the guide, then the heading), or in a pattern of the
        -- section (its #s, the heading, the end of its line)
        local h = c[1]
        local named = spec:find('"' .. quote(doc) .. '",%s*"' .. quote(h) .. '"')
          or spec:find("# " .. h .. "\\n", 1, true) or spec:find("# " .. h .. "(", 1, true)
        assert.is_truthy(named, c[2] .. " does not name '" .. h .. "'")
      end
    end)
  end
end)

describe("docs/sandbox.md, The server", function()
  local STUDY = "6aaaaaaaaaaaaaaaaaaaaa01" -- the seed's one study (a dataset id begins with 6)

  it("starts a sandbox of its own on the dataset of the seed file, and stops it", function()
    local sandbox = require "cohort.sandbox"
    local seed = os.tmpname()
    write(seed, core.encode { studies = { { id = STUDY, name = "My study" } } })
    -- The block starts and stops its sandbox in three lines; to see that the seed took, the
    -- spec wraps sandbox.start for the run: the handle it gives checks the dataset in stop(),
    -- before the server goes. The block's text is run unchanged but for the seed's path.
    local start, handle, seen = sandbox.start, nil, nil
    sandbox.start = function(opts)
      local sb, err = start(opts)
      handle = sb
      if sb then
        sb.stop = function(self)
          local p = require("cohort").prolific { token = self.token, base_url = self.url }
          local study = p.studies:get(STUDY)
          local _, gone = p.studies:get("60aca280709ee40ec37d4885") -- the default dataset's
          seen = { name = study and study.name, default_status = gone and gone.status }
          return getmetatable(self).__index.stop(self)
        end
      end
      return sb, err
    end
    local ok, printed, expected = pcall(docblocks.run,
      docblocks.under("docs/sandbox.md", "The server"),
      -- the guide's file name stands for a dataset file; here it is one written for the run
      { ["my_study.json"] = seed })
    sandbox.start = start
    os.remove(seed)
    if handle then getmetatable(handle).__index.stop(handle) end -- idempotent
    assert(ok, printed)
    assert.are.same({}, expected)
    assert.are.equal(1, #printed)
    -- print(sb.url, sb.token, sb.api_key): its own port (not 0, not the suite's), the defaults
    local url, token, api_key = printed[1]:match("^(%S+)\t(%S+)\t(%S+)$")
    assert.is_truthy(url:match("^http://127%.0%.0%.1:[1-9]%d*$"), printed[1])
    assert.are_not.equal(env.sandbox().url, url)
    assert.are.same({ "sandbox-token", "sandbox-api-key" }, { token, api_key })
    assert.are.equal(url, handle.url)
    assert.are.same({ name = "My study", default_status = 404 }, seen)
    -- its own process, gone after stop
    assert.is_number(handle.pid)
    assert.is_false(alive(handle.pid))
    local r = core.session {}:request { method = "GET", base = url, path = "/__sandbox/health" }
    assert.are.equal("transport", r.err and r.err.kind)
  end)

  -- on every host: LuaJIT and 5.1 call no __gc of a table, so the handle carries a userdata
  -- sentinel there
  it("stops on garbage collection too", function()
    local sb = assert(require("cohort.sandbox").start {})
    local pid = sb.pid
    assert.is_true(alive(pid))
    sb = nil -- luacheck: ignore (the only reference, dropped)
    collectgarbage()
    collectgarbage()
    assert.is_false(alive(pid))
  end)

  -- <close> is Lua 5.4's: the other hosts have no such variable, so no such test
  local close_it = _VERSION == "Lua 5.4" and it or function() end
  close_it("stops when a <close> variable goes out of scope (Lua 5.4)", function()
    -- compiled from text: the other hosts cannot parse <close>
    local pid
    assert(compat.load([[
      local set = ...
      local sb <close> = assert(require("cohort.sandbox").start{})
      set(sb.pid)
    ]], "=(close)", "t", _G))(function(p) pid = p end)
    assert.is_number(pid)
    assert.is_false(alive(pid))
  end)

  it("says so in the guide: on GC, and on <close> in Lua 5.4", function()
    local code = docblocks.under("docs/sandbox.md", "The server")
    assert.is_truthy(code:find("also on GC / <close> (Lua 5.4)", 1, true))
  end)
end)

describe("docs/internals.md, The client: rows, the generator, the registry", function()
  it("shows the row of p.submissions:transition as cohort.prolific.submissions has it", function()
    local M = require "cohort.prolific.submissions"
    local code = docblocks.under("docs/internals.md",
      "The client: rows, the generator, the registry")
    -- the literal as a Lua value: `M` is the module, so prepare is its own function
    local row = assert(compat.load("return " .. code, "=(internals row)", "t", { M = M }))()
    local held
    for _, r in ipairs(M.rows) do
      if r.op == row.op then held = r end
    end
    assert.is_table(held, "no row " .. tostring(row.op) .. " in cohort.prolific.submissions")
    assert.are.same(held, row) -- every field and verb; functions by identity
    assert.are.equal(M.check_transition, row.prepare)
    -- and it is the row behind p.submissions:transition
    local p = env.prolific()
    local entry = require("cohort.resource").entry_of(p.submissions.transition)
    assert.are.same({ "TransitionSubmission", "submissions", "transition", "Submission" },
      { entry.op, entry.resource, entry.name, entry.class })
    assert.are.equal(row.op, entry.op)
  end)
end)

describe("docs/internals.md, The core: `cohort.core`", function()
  local CODE = docblocks.under("docs/internals.md", "The core: `cohort.core`")
  local BARE = uncommented(CODE)
  local SESSION = BARE:match("core%.session(%b{})")
  local SUBMIT = BARE:match("s:submit(%b{})")
  local SESSION_C = c_function("csrc/core_session.c", "static int session_new(lua_State *L)")
  local SUBMIT_C = c_function("csrc/core_session.c", "static int session_submit(lua_State *L)")
  local URL_C = c_function("csrc/core_url.c",
    "void url_build(lua_State *L, int req, const char *secret_query)")

  before_each(function() env.reset() end)

  it("names exactly the functions and fields cohort.core exports", function()
    assert.are.same(keys(core), names(CODE, "%f[%w_]core%.([%a_][%w_]*)"))
  end)

  it("names exactly a session's methods; close also on __gc and __close", function()
    local s = core.session {}
    local mt = getmetatable(s)
    assert.are.same(keys(mt.__index), names(CODE, "%f[%w_]s:([%a_][%w_]*)"))
    assert.is_function(mt.__gc)
    assert.is_function(mt.__close)
    s:close()
  end)

  it("shows core.version as it is, and curl_version as libcurl's", function()
    assert.are.equal(CODE:match('core%.version%s+%-%->%s+"([^"]+)"'), core.version)
    local example = CODE:match('core%.curl_version %-%->[^"]*"([^"]+)"')
    assert.is_truthy(example:match("^%d+%.%d+%.%d+$"), example)
    assert.is_truthy(core.curl_version:match("^%d+%.%d+%.%d+"), core.curl_version)
    local cv = core.session {}:request { method = "GET", base = env.sandbox().url,
      path = "/__sandbox/health" }
    assert.are.equal(200, cv.status)
    local logged = env.requests()
    assert.are.equal("cohort/" .. core.version .. " libcurl/" .. core.curl_version,
      logged[#logged].headers["user-agent"])
  end)

  it("lists exactly the session options session_new reads, with its defaults", function()
    assert.is_string(SESSION)
    local c_names = names(SESSION_C, 'lua_getfield%(L, 1, "([%w_]+)"%)')
    for _, n in ipairs(names(SESSION_C, 'session_ms%(L, 1, "([%w_]+)"')) do
      c_names[#c_names + 1] = n
    end
    assert.are.same(sorted(c_names), fields(SESSION))
    -- the numbers shown are the defaults ("numbers shown: the defaults")
    assert.is_truthy(CODE:find("core.session{ *%-%- numbers shown: the defaults"))
    local shown = {}
    for name, value in (SESSION:sub(2, -2):gsub("%b{}", "{}") .. ","):gmatch(
        "([%a_][%w_]*)%s*=%s*([^,]-)%s*,") do
      local chunk = compat.load("return " .. value, "=(value)", "t", {})
      local ok, v = pcall(chunk or error)
      if ok and type(v) == "number" then shown[name] = v end
    end
    local c = {}
    for name, ms in SESSION_C:gmatch('session_ms%(L, 1, "([%w_]+)", (%d+)%)') do
      c[name] = tonumber(ms) / 1000
    end
    c.max_size = assert(compat.load("return " ..
      SESSION_C:match("max = lua_isnil%(L, %-1%) %? ([^:]-) :"), "=(c)", "t", {}))()
    c.max_connections = tonumber(SESSION_C:match("conns = lua_isnil%(L, %-1%) %? (%d+) :"))
    c.retries = tonumber(SESSION_C:match('session_retries%(L, "retries", (%d+)%)'))
    assert.are.same(c, shown)
  end)

  it("holds the session options to what they say", function()
    local sb = env.sandbox()
    local function get(s, path) return s:request { method = "GET", base = sb.url, path = path } end
    -- auth: how the secret is sent
    assert.are.equal(200, get(core.session { auth = "token", secret = sb.token },
      "/api/v1/users/me/").status)
    assert.are.equal(401, get(core.session { auth = "token", secret = "not-the-token" },
      "/api/v1/users/me/").err.status)
    local qp = "/a/api/v2/surveys/1"
    assert.are.equal(401, get(core.session { auth = "api-key", secret = "not-the-key" }, qp)
      .err.status)
    local r = get(core.session { auth = "api-key", secret = sb.api_key }, qp)
    assert.are_not.equal(401, r.status or r.err.status)
    env.control("DELETE", "requests")
    r = get(core.session { auth = "query", secret = sb.api_key }, qp)
    assert.are_not.equal(401, r.status or r.err.status)
    assert.is_truthy(env.requests()[1].query.apiKey)
    -- never readable back, redacted: the URL of the result masks it
    assert.is_nil(r.url:find(sb.api_key, 1, true))
    assert.is_truthy(r.url:find("apiKey=***", 1, true))
    assert.has_error(function() core.session { auth = "password", secret = "12345678" } end)
    assert.has_error(function() core.session { auth = "token" } end)
    assert.has_error(function() core.session { secret = "1234567" } end) -- 8 bytes at least
    core.session { secret = "12345678" }:close()
    assert.has_error(function() core.session { secret = "12345678\n" } end)
    -- seconds, floats allowed
    core.session { connect_timeout = 0.5, timeout = 1.5 }:close()
    -- retries 0..100, max_connections 1..1024
    core.session { retries = 100, max_connections = 1024 }:close()
    for _, bad in ipairs { { retries = 101 }, { retries = -1 }, { retries = 1.5 },
                           { max_connections = 0 }, { max_connections = 1025 } } do
      assert.has_error(function() core.session(bad) end)
    end
  end)

  it("lists exactly the request fields session_submit and url_build read", function()
    assert.is_string(SUBMIT)
    local want = fields(SUBMIT)
    assert.is_truthy(CODE:find("\n%-%- or url = "), "the url alternative")
    want[#want + 1] = "url"
    local c_names = names(SUBMIT_C, 'lua_getfield%(L, 2, "([%w_]+)"%)')
    for _, n in ipairs(names(SUBMIT_C, 'session_ms%(L, 2, "([%w_]+)"')) do
      c_names[#c_names + 1] = n
    end
    for _, n in ipairs(names(URL_C, 'lua_getfield%(L, req, "([%w_]+)"%)')) do
      c_names[#c_names + 1] = n
    end
    assert.are.same(sorted(c_names), sorted(want))
  end)

  it("names the methods idempotent by default as session_submit has them", function()
    local listed = {}
    for m in CODE:match("safe to repeat: ([%u, ]-) by default"):gmatch("%u+") do
      listed[#listed + 1] = m
    end
    local rule = SUBMIT_C:match("idempotent = lua_isnil%(L, %-1%)(.-)lua_toboolean")
    assert.are.same(names(rule, 'strcmp%(method, "(%u+)"%) == 0'), sorted(listed))
  end)

  it("makes a request as shown: URL, retries, idempotence, compression, origin", function()
    local sb = env.sandbox()
    local req = { method = "GET", base = sb.url, path = "/api/v1/submissions/{}/",
      ids = { "abc" }, query = { page = 2 }, headers = {}, body = nil, timeout = nil }
    assert.are.equal(sb.url .. "/api/v1/submissions/abc/?page=2", core.build_url(req))
    -- a session that retries once, soon
    local s = core.session { retries = 1, retry_base = 0.01 }
    local function attempts(method, extra)
      local rq = { method = method, base = sb.url, path = "/__sandbox/status/503" }
      for k, v in pairs(extra or {}) do rq[k] = v end
      return s:request(rq).err.attempts
    end
    assert.are.equal(2, attempts("GET"))
    assert.are.equal(1, attempts("POST"))
    assert.are.equal(2, attempts("POST", { idempotent = true }))
    assert.are.equal(1, attempts("GET", { retries = 0 }))
    assert.are.equal(1, attempts("GET", { idempotent = false }))
    -- compress: Accept-Encoding only when asked
    env.control("DELETE", "requests")
    s:request { method = "GET", base = sb.url, path = "/__sandbox/health" }
    s:request { method = "GET", base = sb.url, path = "/__sandbox/health", compress = true }
    local log = env.requests()
    assert.is_nil(log[1].headers["accept-encoding"])
    assert.is_truthy(log[2].headers["accept-encoding"]:find("gzip", 1, true))
    -- url instead of path/ids/query, on base's origin only
    local r = s:request { method = "GET", base = sb.url, url = sb.url .. "/__sandbox/health" }
    assert.are.equal(200, r.status)
    assert.has_error(function()
      s:request { method = "GET", base = sb.url, url = "http://example.org/__sandbox/health" }
    end)
    s:close()
  end)

  it("gives results of the shapes shown, through submit, step, request, wait, cancel", function()
    local sb = env.sandbox()
    local s = core.session { auth = "token", secret = sb.token, platform = "prolific" }
    local shape_ok = CODE:match("%-%- result: (%b{})"):gsub("%b<>", "")
    local shape_err = CODE:match("%-%-%s+or (%b{})"):gsub("%b<>", "")
    local id = s:submit { method = "GET", base = sb.url, path = "/__sandbox/delay/100" }
    assert.is_number(id)
    assert.are.equal(1, s:pending())
    -- request waits for its own; the other is kept for step
    local r = s:request { method = "GET", base = sb.url, path = "/api/v1/users/me/" }
    assert.are.equal(200, r.status)
    assert.are.same(names(shape_ok, "([%a_]+)%s*="), keys(r))
    assert.is_nil(rawget(r, "headers")) -- made when first read, then kept
    assert.is_truthy(r.headers["content-type"]:find("application/json", 1, true))
    assert.is_table(rawget(r, "headers"))
    local done = {}
    while #done == 0 do done = s:step(1000) end
    assert.are.same({ id }, { done[1].id })
    assert.are.equal(0, s:pending())
    -- an error result
    local bad = s:request { method = "GET", base = sb.url, path = "/api/v1/submissions/{}/",
      ids = { "abc" } }
    assert.are.same(names(shape_err, "([%a_]+)%s*="), keys(bad))
    assert.are.equal("http", bad.err.kind)
    -- wait for one submitted; cancel one in flight
    local w = s:submit { method = "GET", base = sb.url, path = "/api/v1/users/me/" }
    local wr = s:wait(w)
    assert.are.same({ w, 200 }, { wr.id, wr.status })
    local c = s:submit { method = "GET", base = sb.url, path = "/__sandbox/delay/2000" }
    assert.is_true(s:cancel(c))
    assert.is_false(s:cancel(c))
    assert.are.equal(0, s:pending())
    assert.are.same({}, s:step(10))
    -- not_json: an error table of kind decode
    local nj = s:not_json(200, "<html><title>Sign in</title></html>", "text/html", "no JSON")
    assert.are.same({ "decode", 200 }, { nj.kind, nj.status })
    s:close()
    s:close() -- twice is fine
    assert.are.equal("cohort.Session (closed)", tostring(s))
  end)

  it("names error-table fields the core sets", function()
    local listed = CODE:match("<error table: (.-)%.%.%.>"):gsub("%-%-", "")
    local set = {}
    for _, f in ipairs { "csrc/core_errors.c", "csrc/core_session.c" } do
      for n in read(f):gmatch('lua_setfield%(L, [^,]+, "([%w_]+)"%)') do set[n] = true end
    end
    local n = 0
    for field in listed:gmatch("[%a_]+") do
      n = n + 1
      assert.is_true(set[field] or false, "the core sets no error field " .. field)
    end
    assert.is_true(n >= 13)
  end)

  it("answers the module's functions as shown", function()
    assert.are.same({ 1, { 1, core.decode("[null]")[1] } },
      { core.decode('{"a":1,"b":null}').a, core.decode('[1,null]') })
    assert.is_nil(core.decode('{"a":1,"b":null}').b)
    assert.are.equal('{"a":[1,2]}', core.encode { a = { 1, 2 } })
    -- is_id: 1 to 128 bytes, no control character or space
    assert.is_true(core.is_id("abc"))
    assert.is_true(core.is_id(("a"):rep(128)))
    for _, bad in ipairs { "", ("a"):rep(129), "a b", "a\n" } do
      assert.is_false(core.is_id(bad), bad)
    end
    -- decode_error(platform, status, body, content_type, secret): the secret masked
    local e = core.decode_error("prolific", 403,
      '{"error":{"status":403,"title":"No","detail":"key s3cr3t-value refused"}}',
      "application/json", "s3cr3t-value")
    assert.are.same({ "http", 403, "No", "key *** refused" },
      { e.kind, e.status, e.title, e.detail })
    assert.are.equal(3, core.retry_after("3"))
    assert.is_nil(core.retry_after("soon"))
    local t0 = core.monotime()
    assert.is_number(t0)
    core.sleep(0.05)
    assert.is_true(core.monotime() - t0 >= 0.04)
    -- fsync: true, or nil and "fsync failed" (/dev/null cannot be synced)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("x")
    assert.is_true(core.fsync(f))
    f:close()
    os.remove(path)
    local null = assert(io.open("/dev/null", "w"))
    assert.are.same({ nil, "fsync failed" }, { core.fsync(null) })
    null:close()
    -- RFC 4231-style known answer (the example of HMAC's Wikipedia page)
    local mac = core.hmac_sha256("key", "The quick brown fox jumps over the lazy dog")
    assert.are.equal(32, #mac)
    assert.are.equal("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", hex(mac))
    assert.are.equal("97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=", core.base64(mac))
    assert.are.same({ "YQ==", "YWI=", "YWJj" },
      { core.base64("a"), core.base64("ab"), core.base64("abc") })
    assert.are.same({ true, false, false }, { core.equal("ab", "ab"), core.equal("ab", "ac"),
      core.equal("ab", "abc") })
  end)
end)

describe("docs/internals.md, The binding", function()
  local CODE = docblocks.under("docs/internals.md", "The binding")
  local OPEN_C = c_function("csrc/core_store.c", "static int store_lopen(lua_State *L)")
  local ID = 0x636F686F
  local path

  before_each(function()
    path = os.tmpname()
    os.remove(path) -- a path with no file: the store makes it
  end)
  after_each(function()
    os.remove(path)
  end)

  it("lists exactly the options store_open reads, and a store's methods", function()
    local opts = uncommented(CODE):match("core%.store_open%(path, (%b{})%)")
    assert.are.same(names(OPEN_C, 'lua_getfield%(L, 2, "([%w_]+)"%)'), fields(opts))
    local db = assert(core.store_open(path, { application_id = ID, create = true }))
    assert.are.same(keys(getmetatable(db).__index), names(CODE, "%f[%w_]db:([%a_][%w_]*)"))
    assert.is_function(getmetatable(db).__gc)
    assert.is_function(getmetatable(db).__close)
    db:close()
    -- the defaults left unsaid: quick check, 5000 ms
    assert.is_truthy(OPEN_C:find("o.check = 1;", 1, true))
    assert.is_truthy(OPEN_C:find("o.busy_ms = 5000;", 1, true))
    assert.is_truthy(CODE:find('check = "quick",', 1, true))
    assert.is_truthy(CODE:find("busy_timeout = 5000 })", 1, true))
  end)

  it("opens, creates, reads and writes as shown", function()
    -- create: without it a missing file is nil, err with the code the guide gives
    local none, err = core.store_open(path, { application_id = ID })
    assert.are.same({ nil, CODE:match("err with code (%u[%u_]+)") }, { none, err.code })
    assert.is_nil(io.open(path))
    -- the listing's options, with a table for `init`
    local db = assert(core.store_open(path, { application_id = ID, readonly = false,
      create = true, init = { "CREATE TABLE t(a, b)" }, check = "quick",
      label = "p.bonuses:pay_all()", busy_timeout = 5000 }))
    -- application_id is in the header (offset 68): the guide's word, cohort's stores' id
    local word = CODE:match('%("(%a+)" for cohort%)')
    assert.are.equal(tonumber(CODE:match("application_id = (0x%x+),")), ID)
    assert.are.equal(word, ("%c%c%c%c"):format(math.floor(ID / 2 ^ 24),
      math.floor(ID / 2 ^ 16) % 256, math.floor(ID / 2 ^ 8) % 256, ID % 256))
    assert.are.equal(require("cohort.workbench.store").APPLICATION_ID, ID)
    local f = assert(io.open(path, "rb"))
    assert.are.equal(word, f:read(100):sub(69, 72))
    f:close()
    assert.is_true(db:exec("INSERT INTO t VALUES (1, 'x'); INSERT INTO t VALUES (2, NULL)"))
    local no, e = db:exec("INSERT INTO missing VALUES (1)")
    assert.are.same({ nil, "table" }, { no, type(e) })
    assert.is_string(e.code)
    assert.are.same({ { a = 1, b = "x" }, { a = 2 } }, -- NULL: an absent field
      db:rows("SELECT a, b FROM t WHERE a >= ? ORDER BY a", 1))
    assert.are.equal(1, db:run("UPDATE t SET b = ? WHERE a = ?", "y", 2))
    assert.has_error(function() db:rows("SELECT 1; SELECT 2") end)
    local info = db:info()
    assert.are.same({ "created", "host", "path", "pid", "readonly", "since" }, keys(info))
    assert.are.same({ true, false, path }, { info.created, info.readonly, info.path })
    assert.is_false(db:in_transaction())
    db:exec("BEGIN")
    assert.is_true(db:in_transaction())
    db:exec("COMMIT")
    -- label: what holds it, in this process's registry
    local again, held = core.store_open(path, { application_id = ID })
    assert.are.same({ nil, "OPEN_HERE", "p.bonuses:pay_all()" }, { again, held.code, held.label })
    -- readonly: no lock (opens beside the holder), no write
    local ro = assert(core.store_open(path, { application_id = ID, readonly = true }))
    assert.is_true(ro:info().readonly)
    assert.is_nil((ro:exec("INSERT INTO t VALUES (3, 'z')")))
    ro:close()
    -- close: idempotent; a closed store raises
    db:close()
    db:close()
    assert.has_error(function() db:exec("SELECT 1") end)
    -- init runs in a new file only; another application_id is FOREIGN; check is one of three
    db = assert(core.store_open(path, { application_id = ID, create = true,
      init = { "CREATE TABLE u(a)" }, check = "full" }))
    assert.are.same({}, db:rows("SELECT name FROM sqlite_master WHERE name = ?", "u"))
    db:close()
    local other, foreign = core.store_open(path, { application_id = 7, check = "none" })
    assert.are.same({ nil, "FOREIGN" }, { other, foreign.code })
    assert.has_error(function() core.store_open(path, { application_id = ID, check = "some" }) end)
    assert.has_error(function() core.store_open(path, {}) end) -- application_id required
    -- readonly: no create
    os.remove(path)
    local ro2, missing = core.store_open(path, { application_id = ID, readonly = true,
      create = true, init = { "CREATE TABLE t(a)" } })
    assert.are.same({ nil, "NOT_FOUND" }, { ro2, missing.code })
    assert.is_nil(io.open(path))
  end)
end)
