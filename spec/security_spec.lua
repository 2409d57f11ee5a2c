-- Security: a recognisable token and key never appear in anything cohort prints, returns or
-- logs; webhook signatures are verified against deliveries signed by the sandbox.
describe("security", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local core = require "cohort.core"
  local q = require("cohort.sandbox").shell_quote
  local TOKEN = "TOKEN-7f3a9c1e-do-not-leak"
  local KEY = "APIKEY-5b2d8e4f-do-not-leak"
  local sb

  local function clean(text, where)
    text = tostring(text)
    assert.is_nil(text:find(TOKEN, 1, true), "the token appears in " .. where .. ":\n" .. text)
    assert.is_nil(text:find(KEY, 1, true), "the API key appears in " .. where .. ":\n" .. text)
  end
  -- every string reachable from a value (errors, objects), keys too, at any depth
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

  setup(function()
    sb = assert(require("cohort.sandbox").start { token = TOKEN, api_key = KEY })
  end)
  teardown(function()
    local log = io.open(sb.log_file, "rb")
    local text = log and log:read("*a") or ""
    if log then log:close() end
    sb:stop()
    clean(text, "the sandbox's log")
  end)

  it("examples, with debug logging on, print neither the token nor the key", function()
    for _, ex in ipairs { "examples/quickstart.lua", "examples/questionpro_export.lua",
      "examples/study_workflow.lua", "examples/export_submissions.lua" } do
      local out, code = env.run(("COHORT_DEBUG=1 PROLIFIC_TOKEN=%s PROLIFIC_URL=%s QUESTIONPRO_API_KEY=%s "
        .. "QUESTIONPRO_URL=%s COHORT_SANDBOX_URL=%s %s %s"):format(q(TOKEN), q(sb.url), q(KEY), q(sb.url), q(sb.url),
        q(arg and arg[-1] or "lua5.4"), q(ex)))
      assert.are.equal(0, code, ex .. ":\n" .. out)
      assert.truthy(out:find("cohort: GET ", 1, true), ex .. " logged no request")
      clean(out, ex)
    end
  end)

  it("errors of every kind, printed objects and debug lines carry no secret", function()
    local lines = {}
    local p = cohort.prolific { token = TOKEN, base_url = sb.url, retries = 1, retry_base = 0.01,
      timeout = 0.5, debug = function(l) lines[#lines + 1] = l end }
    local qh = cohort.questionpro { api_key = KEY, base_url = sb.url, retries = 0, debug = function(l) lines[#lines + 1] = l end }
    local qq = cohort.questionpro { api_key = KEY, base_url = sb.url, auth = "query", retries = 0,
      debug = function(l) lines[#lines + 1] = l end }
    local results = {}
    local function try(...) results[#results + 1] = { ... } end
    try(p.users:me())
    try(p.submissions:get("000000000000000000000000"))
    try(p:send { method = "GET", path = "/__sandbox/status/502", query = { type = "html" } })
    try(p:send { method = "GET", path = "/__sandbox/delay/3000" })
    try(p:send { method = "GET", path = "/__sandbox/large/10", url = sb.url .. "/__sandbox/large/10?x=" .. TOKEN })
    try(qh:send { method = "GET", path = "/surveys/999" })
    try(qq:send { method = "GET", path = "/surveys/999" })
    try(qq:send { method = "GET", path = "/surveys/7654321/responses", query = { page = 1, perPage = 2 } })
    local wrong = cohort.questionpro { api_key = KEY .. "x", base_url = sb.url, auth = "query", retries = 0 }
    try(wrong:send { method = "GET", path = "/surveys/7654321" })
    local bad = cohort.prolific { token = TOKEN .. "x", base_url = "http://127.0.0.1:1", retries = 0 }
    try(bad.users:me())
    for i, r in ipairs(results) do walk(r, "result " .. i) end
    for _, x in ipairs { p, qh, qq, p.submissions, qq.responses, p._session, qq._session } do
      clean(tostring(x), "tostring")
    end
    local pretty = require "cohort.prompt.pretty"
    for _, x in ipairs { p, qq } do clean(pretty.format and pretty.format(x) or "", "pretty") end
    assert.is_true(#lines >= 8)
    for _, l in ipairs(lines) do clean(l, "a debug line") end
    -- the sandbox's request log keeps no credentials either
    local log = core.session {}:request { base = sb.url, path = "/__sandbox/requests" }
    clean(log.body, "the sandbox's request log")
  end)

  it("verifies webhook deliveries signed by the sandbox", function()
    local webhooks = require "cohort.workbench.webhooks"
    local p = cohort.prolific { token = TOKEN, base_url = sb.url }
    local WS = "60a42f4c693c29420793cb74"
    local secret = assert(p.hooks:create_secret { workspace_id = WS })
    local sub = assert(p.hooks:subscribe { workspace_id = WS, event_type = "submission.status.change",
      target_url = "https://example.org/hook" })
    assert.is_true(sub.is_enabled)
    local pending = assert(p.submissions:all { study = "60aca280709ee40ec37d4885", status = "AWAITING REVIEW" })
    assert(pending[1]:approve())
    local s = core.session {}
    local deliveries = core.decode(s:request { base = sb.url, path = "/__sandbox/hooks/deliveries" }.body).deliveries
    s:close()
    assert.is_true(#deliveries >= 1)
    local d = deliveries[#deliveries]
    local value = secret.value or secret.secret
    assert.is_string(value)
    local now = tonumber(d.headers["X-Prolific-Request-Timestamp"])
    assert.is_true(webhooks.verify(value, d.headers, d.body))
    local payload = core.decode(d.body)
    assert.are.equal("APPROVED", payload.status)
    assert.are.equal(pending[1].id, payload.resource_id)
    -- tampered body, wrong secret, stale or missing timestamp: refused, with the reason
    local nope, why = webhooks.verify(value, d.headers, d.body .. " ")
    assert.is_nil(nope); assert.are.equal("the signature does not match", why)
    assert.is_nil((webhooks.verify("another-secret", d.headers, d.body)))
    local _, stale = webhooks.verify(value, d.headers, d.body, { now = now + 301 })
    assert.truthy(stale:find("outside the 300 s window", 1, true))
    assert.is_true(webhooks.verify(value, d.headers, d.body, { now = now + 299 }))
    local lower = {}
    for k, v in pairs(d.headers) do lower[k:lower()] = v end
    assert.is_true(webhooks.verify(value, lower, d.body)) -- any letter case
    assert.are.equal("no timestamp header", select(2, webhooks.verify(value,
      { ["X-Prolific-Request-Signature"] = "x" }, d.body)))
    assert.has_error(function() webhooks.verify("", d.headers, d.body) end)
    -- repeated deliveries (same X-Event-ID) are dropped
    local seen = webhooks.deduper { size = 2 }
    assert.is_false(seen:repeated(d.headers["X-Event-ID"]))
    assert.is_true(seen:repeated(d.headers["X-Event-ID"]))
    assert.is_false(seen:repeated("b")); assert.is_false(seen:repeated("c"))
    assert.is_false(seen:repeated(d.headers["X-Event-ID"])) -- forgotten after `size` others
  end)
end)
