-- Every example runs against the sandbox, so examples cannot rot.
describe("examples", function()
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote

  local function run(path, args)
    local sb = env.sandbox()
    local cmd = ("PROLIFIC_TOKEN=%s PROLIFIC_URL=%s QUESTIONPRO_API_KEY=%s QUESTIONPRO_URL=%s %s %s %s")
      :format(q(sb.token), q(sb.url), q(sb.api_key), q(sb.url), q(arg and arg[-1] or "lua5.4"), q(path),
        args or "")
    return env.run(cmd)
  end

  before_each(function() env.reset() end)

  it("quickstart.lua prints who I am and the submissions of a study", function()
    local out, code = run("examples/quickstart.lua")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("Signed in as User 60a42f4c… researcher@example.org", 1, true), out)
    assert.truthy(out:find("45 submissions: ACTIVE 4, APPROVED 5, AWAITING REVIEW 27", 1, true), out)
  end)

  it("quickstart.lua takes a study id", function()
    local out, code = run("examples/quickstart.lua", "60aca280709ee40ec37d4887")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("0 submissions", 1, true), out)
  end)

  it("game_loop.lua counts frames while 100 slow calls complete", function()
    env.control("POST", "latency", { ms = 300 })
    local out, code = run("examples/game_loop.lua")
    env.control("POST", "latency", { ms = 0 })
    assert.are.equal(0, code, out)
    local calls, failed, frames = out:match("(%d+) calls completed %((%d+) failed%) in [%d.]+ s over (%d+) frames")
    assert.are.equal("100", calls, out)
    assert.are.equal("0", failed, out)
    assert.is_true(tonumber(frames) >= 10, out) -- frames went on during the 300 ms waits
  end)

  it("study_workflow.lua runs a whole study in the sandbox", function()
    local out, code = run("examples/study_workflow.lua", "--sandbox")
    assert.are.equal(0, code, out)
    local n, approved, rejected, bonuses = out:match(
      "(%d+) submissions: (%d+) approved, (%d+) rejected, (%d+) bonuses of £0%.50")
    assert.are.equal("20", n, out)
    assert.is_true(tonumber(approved) > 0 and tonumber(rejected) > 0, out)
    assert.are.equal(math.max(1, math.ceil(tonumber(approved) / 10)), tonumber(bonuses))
    local approved_rows = select(2, out:gsub("APPROVED%s+%d+s%s+passed%s+approve", ""))
    local rejected_rows = select(2, out:gsub("REJECTED%s+%d+s%s+failed%s+reject", ""))
    assert.are.equal(tonumber(approved), approved_rows, out)
    assert.are.equal(tonumber(rejected), rejected_rows, out)
    assert.truthy(out:find("BonusBatch", 1, true))
  end)

  it("export_submissions.lua without OUT.csv writes into the temporary directory, not the current one", function()
    local reserved = os.tmpname()
    os.remove(reserved)
    local tmpdir = reserved:match("^(.*)/")
    local out, code = run("examples/export_submissions.lua")
    assert.are.equal(0, code, out)
    local path = out:match("Wrote 45 submissions of study 60aca280709ee40ec37d4885 to (%S+)")
    assert.truthy(path, out)
    assert.are.equal(tmpdir, path:match("^(.*)/"), path)
    local f = assert(io.open(path, "rb"))
    local header = f:read("*l")
    f:close()
    os.remove(path)
    assert.truthy(header:find("^id,study_id,participant,"), header)
    for name in io.popen("ls"):lines() do
      assert.is_nil(name:find("^submissions%-"), name .. " written into the current directory")
    end
  end)

  it("longitudinal.lua rehearses two waves on a group's allow-list and two exclusive arms", function()
    local out, code = run("examples/longitudinal.lua")
    assert.are.equal(0, code, out)
    local wave1, eligible, took, approved = out:match(
      "Wave 1 %(study (%x+)%): (%d+) eligible UK residents aged 18%-35; (%d+) took part, (%d+) approved")
    assert.truthy(wave1, out)
    assert.are.equal("30", took)
    local group, members = out:match("Group %((%x+)%): (%d+) participants")
    assert.are.equal(approved, members, out)
    local wave2, from_group, n2 = out:match("Wave 2 %(study (%x+)%): (%d+) of (%d+) participants are in wave 1's group")
    assert.are.equal(n2, from_group, out)
    local arm_a, arm_b, na, nb, both = out:match(
      "Arms %(studies (%x+), (%x+)%): (%d+) in arm A, (%d+) in arm B, (%d+) in both")
    assert.are.equal("0", both, out)
    -- and as the sandbox has it, not only as the script says
    local p = env.prolific()
    local function participants_of(study)
      local set, n = {}, 0
      for _, s in ipairs(assert(p.submissions:all { study = study })) do
        set[s.participant_id] = true
        n = n + 1
      end
      return set, n
    end
    local w1 = participants_of(wave1)
    local in_group = {}
    for m in p.groups:each_participants(group) do in_group[m.participant_id] = true end
    for _, s in ipairs(assert(p.submissions:all { study = wave1, status = "APPROVED" })) do
      assert.is_true(in_group[s.participant_id], s.participant_id)
    end
    for pid in pairs(w1) do
      local m = env.control("GET", "participants/" .. pid)
      assert.are.equal("United Kingdom", m.current_country_of_residence)
      assert.is_true(m.age >= 18 and m.age <= 35)
    end
    local w2, count2 = participants_of(wave2)
    assert.are.equal(tonumber(n2), count2)
    for pid in pairs(w2) do assert.is_true(in_group[pid], pid .. " took wave 2 from outside the group") end
    local a, ca = participants_of(arm_a)
    local b, cb = participants_of(arm_b)
    assert.are.equal(tonumber(na), ca)
    assert.are.equal(tonumber(nb), cb)
    assert.is_true(ca > 0 and cb > 0)
    for pid in pairs(b) do
      assert.is_nil(a[pid], pid .. " took both arms")
      assert.is_true(in_group[pid])
    end
    assert.is_true(tonumber(eligible) > 1000)
  end)

  it("every example in examples/ is run by a spec", function()
    local listed = {}
    for line in io.lines("spec/examples_spec.lua") do
      for name in line:gmatch("examples/([%w_]+%.lua)") do listed[name] = true end
    end
    for spec in io.popen("ls spec/*_spec.lua"):lines() do
      for line in io.lines(spec) do
        for name in line:gmatch("examples/([%w_/]+%.lua)") do listed[name] = true end
      end
    end
    for name in io.popen("cd examples && ls *.lua"):lines() do
      if name ~= "run_demo.lua" then assert.is_true(listed[name] == true, name .. " is not run by any spec") end
    end
  end)
end)
