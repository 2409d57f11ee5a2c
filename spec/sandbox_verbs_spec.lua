-- The sandbox handle's verbs: every control route of /__sandbox/ usable from Lua without the
-- core, each returning the answer's data or nil, err, misuse raising with the verb named.
describe("sandbox handle verbs", function()
  local sandbox = require "cohort.sandbox"
  local cohort = require "cohort"
  local STUDY = "60aca280709ee40ec37d4885"
  local sb, p

  setup(function()
    sb = assert(sandbox.start { args = { "--clock-rate", "stepped" } })
    p = cohort.prolific { token = sb.token, base_url = sb.url }
  end)
  teardown(function() sb:stop() end)

  -- the routes of lua/cohort/sandbox/control.lua, read from its source (5.1 hosts cannot load it)
  local function routes()
    local f = assert(io.open("lua/cohort/sandbox/control.lua", "rb"))
    local text = f:read("*a")
    f:close()
    local out = {}
    for method, path in text:gmatch('{%s*"(%u+)",%s*"([%w_/{}%-]+)"') do
      out[#out + 1] = method .. " " .. path
    end
    return out
  end

  -- routes whose verb is another method's: the POST forms answer as the GET ones do (they exist
  -- so that a client's POST can be provoked too)
  local SAME_AS = { ["POST delay/{ms}"] = "GET delay/{ms}", ["POST status/{code}"] = "GET status/{code}" }

  it("has a verb for every control route", function()
    local have = {}
    for _, v in ipairs(sandbox.VERBS) do have[v.method .. " " .. v.path] = v.name end
    local list = routes()
    assert.is_true(#list >= 25, #list .. " routes read")
    for _, r in ipairs(list) do
      assert.is_truthy(have[r] or have[SAME_AS[r]], "no verb for the control route " .. r)
    end
    for _, v in ipairs(sandbox.VERBS) do
      assert.is_function(sandbox.Sandbox[v.name], v.name)
    end
  end)

  it("reset, health, state, requests and the server's figures", function()
    assert.is_true(sb:reset())
    assert.is_true(sb:health())
    assert(p.users:me())
    local log = assert(sb:requests { path_prefix = "/api/v1/users/" })
    assert.are.equal("/api/v1/users/me/", log[#log].path)
    assert.is_true(sb:clear_requests())
    assert.are.equal(0, select(2, sb:requests()))
    local state = assert(sb:state())
    assert.is_truthy(#state.studies > 0)
    assert.is_truthy(assert(sb:server()).connection_limit > 0)
  end)

  it("simulate draws participants from the pool; participants and participant show them", function()
    assert.is_true(sb:reset())
    local study = assert(p.studies:get(STUDY))
    local run = assert(sb:simulate(study, { participants = 3, duration_ms = 0, seed = 5 }))
    assert.are.equal(3, run.created)
    local member = assert(sb:participant(run.participant_ids[1]))
    assert.are.equal(run.participant_ids[1], member.id)
    assert.is_string(member.history[STUDY])
    local page, all = assert(sb:participants { filters = {
      { filter_id = "age", selected_range = { lower = 30, upper = 40 } } }, limit = 5 })
    assert.are.equal(5, #page)
    for _, m in ipairs(page) do assert.is_true(m.age >= 30 and m.age <= 40) end
    assert.is_truthy(all.count > 5)
  end)

  it("the clock: stepped, advanced, its rate changed", function()
    local c = assert(sb:clock())
    assert.is_true(c.stepped)
    local a = assert(sb:advance(3600))
    assert.are.equal(3600, math.floor(a.clock.now - c.now + 0.5))
    local r = assert(sb:clock_rate(600))
    assert.are.equal(600, r.rate)
    assert(sb:clock_rate("stepped"))
  end)

  it("money and deliveries: the ledger with its filters, the delivery log", function()
    assert.is_true(sb:reset())
    local ledger, n, all = assert(sb:ledger { kind = "bonus" })
    assert.are.equal(0, n)
    assert.are.same({}, ledger)
    assert.is_truthy(#all.workspaces > 0)
    local events, whole = assert(sb:deliveries())
    assert.are.same({}, events)
    assert.is_table(whole.stats)
    assert.are.same({}, assert(sb:sent_deliveries()))
  end)

  it("faults, latency, quirks and the QuestionPro limits", function()
    local f = assert(sb:set_faults { rules = { { method = "GET", path = "/api/v1/users/me/", fault = "500", times = 1 } } })
    assert.are.equal(1, #f.rules)
    assert.are.equal(1, #assert(sb:faults()).rules)
    assert.is_true(sb:clear_faults())
    assert(sb:latency(0))
    assert(sb:set_quirks { overlap = 1 })
    assert.are.equal(1, assert(sb:quirks()).overlap)
    assert(sb:set_quirks { overlap = 0 })
    local limit = assert(sb:questionpro_rate_limit())
    assert.is_number(limit.limit)
    assert(sb:set_questionpro_rate_limit { limit = 0 })
    assert(sb:questionpro_html { status = 200, count = 0 })
    assert.are.equal(418, sb:status(418).status)
    assert.are.equal(200, sb:delay(5).status)
    assert.is_truthy(#sb:large(2000).body >= 2000)
    assert.is_true(sb:reset())
  end)

  it("a sandbox's refusal is nil, err naming the verb", function()
    local none, err = sb:simulate("0123456789abcdef01234567", { participants = 1 })
    assert.is_nil(none)
    assert.are.equal("http", err.kind)
    assert.are.equal(404, err.status)
    assert.matches("^sb:simulate%(%): ", err.message)
    local _, e2 = sb:participant("0123456789abcdef01234567")
    assert.are.equal(404, e2.status)
  end)

  it("misuse raises naming the verb; a dot for a colon says so", function()
    assert.has_error(function() sb:advance(-1) end, "cohort: sb:advance(): seconds must be a number from 0 to 3153600000 (got -1)")
    assert.has_error(function() sb:simulate("nope") end,
      "cohort: sb:simulate(): study must be a Study or its id of 24 hexadecimal digits (got nope)")
    assert.has_error(function() sb.ledger() end, "cohort: sb:ledger(): called with a dot; write sb:ledger(...)")
    assert.has_error(function() sb:participants { colour = 1 } end, "cohort: sb:participants(): unknown option 'colour'")
    assert.has_error(function() sb:latency("5") end)
  end)

  it("docs/sandbox.md's example of the handle runs as written, and names every verb", function()
    local f = assert(io.open("docs/sandbox.md", "rb"))
    local doc = f:read("*a")
    f:close()
    local section = doc:match("## From Lua: the sandbox handle(.-)\n## ")
    assert.is_string(section)
    local code = section:match("```lua\n(.-)```")
    local printed = {}
    local env = setmetatable({ print = function(...)
      local t = {}
      for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
      printed[#printed + 1] = table.concat(t, "\t")
    end }, { __index = _G })
    local chunk = assert((loadstring or load)(code, "=sandbox.md", "t", env))
    if setfenv then setfenv(chunk, env) end
    chunk()
    local want = {}
    for line in code:gmatch("[^\n]+") do
      local out = line:match("%-%->%s*(.-)%s*$")
      if out then want[#want + 1] = out end
    end
    assert.are.same(want, printed)
    for _, v in ipairs(sandbox.VERBS) do
      assert.is_truthy(section:find("sb:" .. v.name .. "(", 1, true)
        or section:find("sb:" .. v.name .. "{", 1, true), "docs/sandbox.md does not name sb:" .. v.name)
    end
  end)

  it("connect gives the verbs of a sandbox someone else started; stop leaves it running", function()
    local other = sandbox.connect(sb.url .. "/")
    assert.is_true(other:health())
    assert.is_true(other:stop())
    assert.is_true(sb:health())
    assert.has_error(function() other:health() end, "cohort: sb: attempt to use a stopped sandbox")
    assert.has_error(function() sandbox.connect("nope") end)
  end)
end)
