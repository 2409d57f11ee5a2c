-- The sandbox's participant pool (cohort.sandbox.pool) and filter catalogue
-- (cohort.sandbox.catalogue), in-process: reproducibility, the distributions the module
-- documents, every filter's effect judged from the members' views (not by the catalogue's own
-- predicates), allow/block lists, validation, collection exclusivity, quotas and the forecast.
-- Both modules are the sandbox application's Lua 5.4 code: loaded on first use, so the 5.1 and
-- LuaJIT runs (which exclude #sandbox54) never parse them.
local function lazy(name)
  return setmetatable({}, { __index = function(_, k) return require(name)[k] end })
end
local pool = lazy "cohort.sandbox.pool"
local catalogue = lazy "cohort.sandbox.catalogue"

local NOW = 1735689600 -- 2025-01-01T00:00:00Z
local SIZE = 30000

local function set_of(list, key)
  local s = {}
  for _, x in ipairs(list) do s[key and x[key] or x] = true end
  return s
end

local function collect(p, filters, ctx)
  local out = {}
  for m in p:eligible(filters, ctx) do out[#out + 1] = m end
  return out
end

local function size_of(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("cohort.sandbox.pool #sandbox54", function()
  local p -- one pool of the default size for the read-only tests
  local function P()
    p = p or pool.new { seed = 1, size = SIZE, now = NOW }
    return p
  end

  describe("a seeded population", function()
    it("is the same for the same seed and time, member by member", function()
      local a = pool.new { seed = 7, size = 2000, now = NOW }
      local b = pool.new { seed = 7, size = 2000, now = NOW }
      for i = 1, 2000 do assert.same(a.members[i], b.members[i]) end
    end)

    it("grows by appending: a larger pool of one seed begins with the smaller one", function()
      local small = pool.new { seed = 3, size = 500, now = NOW }
      local large = pool.new { seed = 3, size = 5000, now = NOW }
      for i = 1, 500 do assert.same(small.members[i], large.members[i]) end
    end)

    it("differs with the seed", function()
      local a = pool.new { seed = 1, size = 200, now = NOW }
      local b = pool.new { seed = 2, size = 200, now = NOW }
      local same_ids, same_ages = 0, 0
      for i = 1, 200 do
        if a.members[i].id == b.members[i].id then same_ids = same_ids + 1 end
        if a.members[i].age == b.members[i].age then same_ages = same_ages + 1 end
      end
      assert.equals(0, same_ids)
      assert.is_true(same_ages < 50)
    end)

    it("gives each member a distinct 24-hex id that none of the dataset's ids equals", function()
      local data = require "cohort.sandbox.data"
      local dataset = {}
      local function walk(v)
        if type(v) == "string" and #v == 24 and v:find("^%x+$") then dataset[v] = true
        elseif type(v) == "table" then
          for _, x in pairs(v) do walk(x) end
        end
      end
      walk(data.default())
      assert.is_true(size_of(dataset) > 50)
      local state = {}
      for _ = 1, 1000 do dataset[data.new_id(state)] = true end
      local seen, bad = {}, {}
      for _, m in ipairs(P().members) do
        if #m.id ~= 24 or not m.id:find("^5%x+$") or seen[m.id] or dataset[m.id] then
          bad[#bad + 1] = m.id
        end
        seen[m.id] = true
      end
      assert.same({}, bad)
      assert.equals(SIZE, size_of(seen))
    end)

    it("finds a member by id, and nobody by a foreign or malformed id", function()
      local q = P()
      for i = 1, SIZE, 997 do assert.equals(q.members[i], q:find(q.members[i].id)) end
      assert.equals(q.members[12], q:find(q.members[12].id:upper()))
      local other = pool.new { seed = 2, size = 10, now = NOW }
      assert.is_nil(q:find(other.members[1].id))
      assert.is_nil(q:find("60bf9310e8dec401be6e9615"))
      assert.is_nil(q:find(q.prefix .. "zzzzzzzzzzzzzzzz"))
      assert.is_nil(q:find(q.members[1].id .. "0"))
      assert.is_nil(q:find(42))
      -- an id of the same seed beyond the pool's size
      local bigger = pool.new { seed = 1, size = SIZE + 5, now = NOW }
      assert.is_nil(q:find(bigger.members[SIZE + 3].id))
    end)

    it("refuses bad options, naming pool.new()", function()
      assert.has_error(function() pool.new { size = -1 } end,
        "pool.new(): size must be a whole number from 0 to 1000000")
      assert.has_error(function() pool.new { seed = 1.5 } end, "pool.new(): seed must be an integer")
      assert.has_error(function() pool.new { sise = 10 } end, 'pool.new(): unknown option "sise"')
      assert.equals(pool.DEFAULT_SIZE, #pool.new { now = NOW }.members)
    end)
  end)

  describe("distributions", function()
    local function share(pred)
      local n = 0
      for _, m in ipairs(P().members) do
        if pred(m) then n = n + 1 end
      end
      return n / SIZE
    end
    local function near(want, got, tol) -- the documented share, within tol
      assert.is_true(math.abs(want - got) <= tol, ("share %.4f, documented %.4f"):format(got, want))
    end
    local C = catalogue
    -- whether a language code is in a member's bit set (arithmetic, so 5.1 parses this file)
    local function speaks(m, code) return math.floor(m.fluent / 2 ^ code) % 2 == 1 end

    it("ages by band, sex, handedness", function()
      near(0.22, share(function(m) return m.age >= 18 and m.age <= 24 end), 0.015)
      near(0.36, share(function(m) return m.age >= 25 and m.age <= 34 end), 0.015)
      near(0.07, share(function(m) return m.age >= 55 and m.age <= 64 end), 0.01)
      near(1, share(function(m) return m.age >= 18 and m.age <= 85 end), 0)
      near(0.52, share(function(m) return m.sex == C.code(C.SEXES, "Female") end), 0.015)
      near(0.89, share(function(m) return m.handedness == 0 end), 0.01)
      near(0.02, share(function(m) return m.handedness == 2 end), 0.005)
    end)

    it("countries, nationals and languages", function()
      local uk, us = C.code(C.COUNTRIES, "United Kingdom"), C.code(C.COUNTRIES, "United States")
      local english = C.code(C.LANGUAGES, "English")
      near(0.35, share(function(m) return m.country == uk end), 0.012)
      near(0.29, share(function(m) return m.country == us end), 0.012)
      near(0.045, share(function(m) return m.country == C.code(C.COUNTRIES, "Poland") end), 0.006)
      near(0, share(function(m) return m.country == C.code(C.COUNTRIES, "India") end), 0)
      near(0.88, share(function(m) return m.nationality == m.country end), 0.01)
      near(1, share(function(m) return speaks(m, m.first_language) end), 0)
      near(1, share(function(m)
        return m.nationality ~= C.code(C.COUNTRIES, "Poland") or m.first_language == C.code(C.LANGUAGES, "Polish")
      end), 0)
      -- English: the first language of the English-speaking nationals, and spoken by most others
      local others, fluent = 0, 0
      for _, m in ipairs(P().members) do
        if m.first_language ~= english then
          others = others + 1
          if speaks(m, english) then fluent = fluent + 1 end
        end
      end
      assert.is_true(others > 5000)
      near(0.86, fluent / others, 0.03)
    end)

    it("students by age, employment, approvals and join dates", function()
      local young, young_students = 0, 0
      for _, m in ipairs(P().members) do
        if m.age <= 24 then
          young = young + 1
          if m.student == 0 then young_students = young_students + 1 end
        end
      end
      near(0.55, young_students / young, 0.03)
      local working, full, old, retired = 0, 0, 0, 0
      local FULL = C.code(C.EMPLOYMENT, "Full-Time")
      local NOT_PAID = C.code(C.EMPLOYMENT, "Not in paid work (e.g. homemaker, retired or disabled)")
      for _, m in ipairs(P().members) do
        if m.student == 1 and m.age < 65 then
          working = working + 1
          if m.employment == FULL then full = full + 1 end
        elseif m.student == 1 then
          old = old + 1
          if m.employment == NOT_PAID then retired = retired + 1 end
        end
      end
      near(0.50, full / working, 0.02)
      near(0.70, retired / old, 0.06)
      near(1, share(function(m) return m.approvals >= 0 and m.approvals <= 10000 end), 0)
      near(1, share(function(m) return m.approvals >= 10 or m.approval_rate == 100 end), 0)
      near(0.5, share(function(m) return m.approval_rate == 100 and m.approvals >= 10 end)
        / share(function(m) return m.approvals >= 10 end), 0.02)
      local start, today = catalogue.day(pool.JOIN_START), math.floor(NOW / 86400)
      near(1, share(function(m) return m.joined >= start and m.joined <= today end), 0)
      near(0.25, share(function(m) return m.joined < start + (today - start) / 2 end), 0.015)
    end)
  end)

  describe("filters", function()
    -- Whether a member passes a filter, judged from its view (labels and choice ids), not by
    -- the catalogue's predicates.
    local function oracle(view, f, ctx, want)
      local a = view.answers
      local entry = catalogue.get(f.filter_id)
      if entry.type == "range" then
        local v = a[f.filter_id]
        local lo, hi = f.selected_range.lower, f.selected_range.upper
        return (lo == nil or v >= lo) and (hi == nil or v <= hi) -- dates compare as ISO strings
      end
      if f.filter_id == "fluent-languages" then
        for _, id in ipairs(a[f.filter_id]) do
          if want[id] then return true end
        end
        return false
      elseif entry.kind == "choice" then
        return want[a[f.filter_id]] == true
      elseif entry.kind == "group_allow" or entry.kind == "group_block" then
        local member = false
        for _, gid in ipairs(f.selected_values) do
          if ctx.groups and ctx.groups[gid] then
            for _, id in ipairs(ctx.groups[gid].members) do
              if id == view.id then member = true end
            end
          else
            for _, g in ipairs(view.groups) do
              if g == gid then member = true end
            end
          end
        end
        return member == (entry.kind == "group_allow")
      elseif entry.kind == "study_allow" then
        for _, sid in ipairs(f.selected_values) do
          if view.history[sid] == "APPROVED" then return true end
        end
        return false
      elseif entry.kind == "study_block" then
        for _, sid in ipairs(f.selected_values) do
          if view.history[sid] then return false end
        end
        return true
      elseif entry.kind == "id_allow" then
        return want[view.id] == true
      else
        return not want[view.id]
      end
    end

    local STUDY_A, STUDY_B = "6a5bd0c50000000000000a01", "6a5bd0c50000000000000b02"
    local GROUP = "6a5bd0c50000000000000c03"

    -- One example of every filter of the catalogue, and a pool with the history and group
    -- memberships its list filters need.
    local function setup()
      local q = pool.new { seed = 11, size = 6000, now = NOW }
      for i = 1, 300 do q:record(q.members[i].id, STUDY_A, i % 3 == 0 and "RETURNED" or "APPROVED") end
      for i = 200, 400 do q:record(q.members[i].id, STUDY_B, "AWAITING REVIEW") end
      local ids = {}
      for i = 1000, 1400, 2 do ids[#ids + 1] = q.members[i].id end
      q:join(GROUP, ids)
      local custom = {}
      for i = 10, 5000, 7 do custom[#custom + 1] = q.members[i].id end
      local ctx = { studies = { [STUDY_A] = "wave 1", [STUDY_B] = "other" } }
      return q, ctx, {
        { filter_id = "age", selected_range = { lower = 30, upper = 45 } },
        { filter_id = "age", selected_range = { upper = 21 } },
        { filter_id = "sex", selected_values = { "1" } },
        { filter_id = "current-country-of-residence", selected_values = { "0", "7" } },
        { filter_id = "nationality", selected_values = { "1" } },
        { filter_id = "first-language", selected_values = { "1", "2" } },
        { filter_id = "fluent-languages", selected_values = { "6", "5" } },
        { filter_id = "approval_rate", selected_range = { lower = 99 } },
        { filter_id = "approval_numbers", selected_range = { lower = 50, upper = 500 } },
        { filter_id = "joined_between", selected_range = { lower = "2019-01-01", upper = "2021-06-30" } },
        { filter_id = "handedness", selected_values = { "1", "2" } },
        { filter_id = "student-status", selected_values = { "0" } },
        { filter_id = "employment-status", selected_values = { "1", "3" } },
        { filter_id = "participant_group_allowlist", selected_values = { GROUP } },
        { filter_id = "participant_group_blocklist", selected_values = { GROUP } },
        { filter_id = "previous_studies_allowlist", selected_values = { STUDY_A } },
        { filter_id = "previous_studies", selected_values = { STUDY_A, STUDY_B } },
        { filter_id = "previous_studies_blocklist", selected_values = { STUDY_B } },
        { filter_id = "custom_allowlist", selected_values = custom },
        { filter_id = "custom_blocklist", selected_values = custom },
      }
    end

    it("each admits exactly the members that match it, and some but not all", function()
      local q, ctx, examples = setup()
      local covered, views = {}, {}
      for i, m in ipairs(q.members) do views[i] = q:view(m) end
      for _, f in ipairs(examples) do
        assert.is_nil(catalogue.validate({ f }, setmetatable({ pool = q }, { __index = ctx })))
        local admitted = set_of(collect(q, { f }, ctx))
        local n, values = 0, set_of(f.selected_values or {})
        for _, m in ipairs(q.members) do
          local want = oracle(views[m.index], f, ctx, values)
          if want ~= (admitted[m] == true) then
            error(("%s: member %d (%s) %s"):format(f.filter_id, m.index, m.id,
              want and "matches but was not admitted" or "was admitted but does not match"))
          end
          if want then n = n + 1 end
        end
        assert.is_true(n > 0 and n < #q.members, f.filter_id .. " admits " .. n)
        assert.equals(n, q:count({ f }, ctx))
        covered[catalogue.get(f.filter_id).filter_id] = true
      end
      for _, f in ipairs(catalogue.FILTERS) do
        assert.is_true(covered[f.filter_id], f.filter_id .. " has no example")
      end
    end)

    it("apply together (every filter) and each select filter's values as alternatives", function()
      local q, ctx = setup()
      local both = { { filter_id = "sex", selected_values = { "1" } },
        { filter_id = "age", selected_range = { lower = 25, upper = 34 } },
        { filter_id = "current-country-of-residence", selected_values = { "1" } } }
      local got = collect(q, both, ctx)
      assert.is_true(#got > 100)
      for _, m in ipairs(got) do
        assert.is_true(m.sex == 1 and m.age >= 25 and m.age <= 34 and m.country == 1)
      end
      local n = 0
      for _, m in ipairs(q.members) do
        if m.sex == 1 and m.age >= 25 and m.age <= 34 and m.country == 1 then n = n + 1 end
      end
      assert.equals(n, #got)
      local _, counted = q:eligible(both, ctx)
      assert.equals(n, counted)
      local either = q:count({ { filter_id = "handedness", selected_values = { "1", "2" } } }, ctx)
      assert.equals(q:count({ { filter_id = "handedness", selected_values = { "1" } } }, ctx)
        + q:count({ { filter_id = "handedness", selected_values = { "2" } } }, ctx), either)
    end)

    it("follow the groups of the state when the context gives them, with either/both semantics", function()
      local q = pool.new { seed = 5, size = 3000, now = NOW }
      local g1, g2 = "6a5bd0c50000000000000001", "6a5bd0c50000000000000002"
      local m = q.members
      -- the state's shape: members as {participant_id, datetime_created}
      local ctx = { groups = {
        [g1] = { name = "wave 1", members = { { participant_id = m[1].id }, { participant_id = m[2].id },
          { participant_id = m[3].id }, { participant_id = "60bf9310e8dec401be6e9615" } } },
        [g2] = { name = "wave 2", members = { m[3].id, m[4].id } },
      } }
      local function ids(filters) local out = {}
        for x in q:eligible(filters, ctx) do out[#out + 1] = x.index end
        return out
      end
      assert.same({ 1, 2, 3, 4 }, ids { { filter_id = "participant_group_allowlist", selected_values = { g1, g2 } } })
      assert.same({ 3 }, ids { { filter_id = "participant_group_allowlist", selected_values = { g1 } },
        { filter_id = "participant_group_allowlist", selected_values = { g2 } } })
      assert.equals(3000 - 4, q:count({ { filter_id = "participant_group_blocklist", selected_values = { g1, g2 } } }, ctx))
      -- a group the context gives decides over the pool's memberships
      q:join(g1, { m[9].id })
      assert.same({ 1, 2, 3 }, ids { { filter_id = "participant_group_allowlist", selected_values = { g1 } } })
      -- the context is read afresh on every call
      table.insert(ctx.groups[g2].members, m[5].id)
      assert.same({ 3, 4, 5 }, ids { { filter_id = "participant_group_allowlist", selected_values = { g2 } } })
      -- without the context's groups, the pool's memberships decide
      local own = {}
      for x in q:eligible { { filter_id = "participant_group_allowlist", selected_values = { g1 } } } do
        own[#own + 1] = x.index
      end
      assert.same({ 9 }, own)
      assert.same({ m[9].id }, q:group_members(g1))
      -- leaving the group
      assert.equals(1, q:leave(g1, { m[9].id }))
      assert.equals(0, q:count({ { filter_id = "participant_group_allowlist", selected_values = { g1 } } }))
      assert.same({}, q:group_members(g1))
    end)

    it("previous studies: the allow-list needs an approval, the block-list any submission", function()
      local q = pool.new { seed = 5, size = 1000, now = NOW }
      local S = "6a5bd0c50000000000000d01"
      local statuses = { "APPROVED", "AWAITING REVIEW", "REJECTED", "RETURNED", "TIMED-OUT", "APPROVED" }
      for i, st in ipairs(statuses) do q:record(q.members[i].id, S, st) end
      local allow = collect(q, { { filter_id = "previous_studies_allowlist", selected_values = { S } } })
      assert.same({ q.members[1], q.members[6] }, allow)
      assert.equals(1000 - 6, q:count { { filter_id = "previous_studies", selected_values = { S } } })
      assert.equals(1000 - 6, q:count { { filter_id = "previous_studies_blocklist", selected_values = { S } } })
      -- forgetting a submission
      q:record(q.members[1].id, S, nil)
      assert.same({ q.members[6] }, collect(q, { { filter_id = "previous_studies_allowlist", selected_values = { S } } }))
      assert.is_nil(q:record("60bf9310e8dec401be6e9615", S, "APPROVED"))
      q:reset()
      assert.is_nil(q.members[6].history)
      assert.is_false(q:has_study(S))
    end)

    it("custom lists take participant ids and submission ids of the context", function()
      local q = pool.new { seed = 5, size = 1000, now = NOW }
      local sub = "66300a1b0000000000000001"
      local ctx = { submissions = { [sub] = q.members[40].id } }
      local got = collect(q, { { filter_id = "custom_allowlist", selected_values = { q.members[7].id, sub,
        "60bf9310e8dec401be6e9615" } } }, ctx)
      assert.same({ q.members[7], q.members[40] }, got)
      assert.equals(998, q:count({ { filter_id = "custom_blocklist", selected_values = { q.members[7].id, sub } } }, ctx))
    end)

    it("raise on invalid filters when asked for members", function()
      local q = pool.new { seed = 5, size = 10, now = NOW }
      assert.has_error(function() q:count { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } } end,
        "pool:count(): invalid filters: filters.0.selected_range: lower (40) must not be greater than upper (18).")
      assert.has_error(function() q:draw({ { filter_id = "nope", selected_values = { "0" } } }, 1) end,
        'pool:draw(): invalid filters: filters.0.filter_id: "nope" is not a valid filter.')
    end)
  end)

  describe("validation", function()
    local G, S = "6a5bd0c50000000000000e01", "6a5bd0c50000000000000e02"
    local ctx = { groups = { [G] = { name = "g", members = {} } }, studies = { [S] = "s" } }
    local function bad(filters)
      local e = catalogue.validate(filters, ctx)
      assert.is_table(e, "accepted")
      return e
    end

    it("accepts the spec's shapes, open and null bounds, and the block-list's other name", function()
      local null = require("cohort.sandbox.util").null
      assert.is_nil(catalogue.validate(nil, ctx))
      assert.is_nil(catalogue.validate(null, ctx))
      assert.is_nil(catalogue.validate({}, ctx))
      assert.is_nil(catalogue.validate({
        { filter_id = "age", selected_range = { lower = 18, upper = 50 } },
        { filter_id = "age", selected_range = { lower = 50 } },
        { filter_id = "age", selected_range = { lower = null, upper = 30.0 } },
        { filter_id = "joined_between", selected_range = { lower = "2020-02-29" } },
        { filter_id = "handedness", selected_values = { "0", "1" }, weightings = { ["0"] = 25, ["1"] = 75 } },
        { filter_id = "participant_group_allowlist", selected_values = { G } },
        { filter_id = "previous_studies_blocklist", selected_values = { S } },
        { filter_id = "custom_allowlist", selected_values = { "61f292141b0ec8b3b5ab3531" } },
      }, ctx))
      assert.same({ { filter_id = "previous_studies", selected_values = { S } },
        { filter_id = "age", selected_range = { upper = 30.0 } } },
        catalogue.normalize { { filter_id = "previous_studies_blocklist", selected_values = { S } },
          { filter_id = "age", selected_range = { lower = null, upper = 30.0 } } })
    end)

    it("refuses an unknown filter id", function()
      assert.same({ ["filters.1.filter_id"] = { '"favourite_colour" is not a valid filter.' } },
        bad { { filter_id = "age", selected_range = { lower = 20 } },
          { filter_id = "favourite_colour", selected_values = { "0" } } })
      assert.same({ ["filters.0.filter_id"] = { "This field is required." } }, bad { { selected_values = { "0" } } })
    end)

    it("refuses a select filter given a range, and a range filter given values", function()
      assert.same({ ["filters.0.selected_range"] = { "handedness is a select filter: give selected_values, not selected_range." },
        ["filters.0.selected_values"] = { "This field is required." } },
        bad { { filter_id = "handedness", selected_range = { lower = 0, upper = 1 } } })
      assert.same({ ["filters.0.selected_values"] = { "age is a range filter: give selected_range, not selected_values." },
        ["filters.0.selected_range"] = { "This field is required." } },
        bad { { filter_id = "age", selected_values = { "18" } } })
      assert.same({ ["filters.0.selected_values"] = { "This list may not be empty." } },
        bad { { filter_id = "sex", selected_values = {} } })
      assert.same({ ["filters.0.selected_range"] = { "Give lower, upper or both." } },
        bad { { filter_id = "age", selected_range = {} } })
    end)

    it("refuses unknown choice ids", function()
      assert.same({ ["filters.0.selected_values"] = { '"7" is not a valid choice.', '"x" is not a valid choice.' } },
        bad { { filter_id = "handedness", selected_values = { "0", "7", "x" } } })
      assert.same({ ["filters.0.selected_values"] = { "1 is not a valid choice: choice ids are strings." } },
        bad { { filter_id = "sex", selected_values = { 1 } } })
    end)

    it("refuses a reversed range", function()
      assert.same({ ["filters.0.selected_range"] = { "lower (40) must not be greater than upper (18)." } },
        bad { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } })
      assert.same({ ["filters.0.selected_range"] = { 'lower ("2022-01-01") must not be greater than upper ("2021-01-01").' } },
        bad { { filter_id = "joined_between", selected_range = { lower = "2022-01-01", upper = "2021-01-01" } } })
    end)

    it("refuses bounds outside the filter's range", function()
      assert.same({ ["filters.0.selected_range.lower"] = { "Ensure this value is greater than or equal to 18." },
        ["filters.0.selected_range.upper"] = { "Ensure this value is less than or equal to 100." } },
        bad { { filter_id = "age", selected_range = { lower = 16, upper = 120 } } })
      assert.same({ ["filters.0.selected_range.lower"] = { "Ensure this value is greater than or equal to 2014-01-01." } },
        bad { { filter_id = "joined_between", selected_range = { lower = "2010-05-01" } } })
    end)

    it("refuses a bound of the wrong data type", function()
      local DATE = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
      assert.same({ ["filters.0.selected_range.lower"] = { "A valid integer is required." },
        ["filters.0.selected_range.upper"] = { "A valid integer is required." } },
        bad { { filter_id = "age", selected_range = { lower = "2020-01-01", upper = 30.5 } } })
      assert.same({ ["filters.0.selected_range.lower"] = { DATE }, ["filters.0.selected_range.upper"] = { DATE } },
        bad { { filter_id = "joined_between", selected_range = { lower = 2020, upper = "2023-02-30" } } })
    end)

    it("refuses unknown groups and studies, and malformed participant ids", function()
      local e = bad {
        { filter_id = "participant_group_allowlist", selected_values = { G, "6a5bd0c5000000000000ffff" } },
        { filter_id = "participant_group_blocklist", selected_values = { "nope" } },
        { filter_id = "previous_studies_allowlist", selected_values = { "6a5bd0c5000000000000fffe" } },
        { filter_id = "previous_studies", selected_values = { S, "x" } },
        { filter_id = "custom_blocklist", selected_values = { "61f292141b0ec8b3b5ab353", "61f2914e3bb4b4d40080aec0" } },
      }
      assert.same({
        ["filters.0.selected_values"] = { '"6a5bd0c5000000000000ffff" is not a valid participant group.' },
        ["filters.1.selected_values"] = { '"nope" is not a valid participant group.' },
        ["filters.2.selected_values"] = { '"6a5bd0c5000000000000fffe" is not a valid study.' },
        ["filters.3.selected_values"] = { '"x" is not a valid study.' },
        ["filters.4.selected_values"] = { '"61f292141b0ec8b3b5ab353" is not a valid participant ID (24 hexadecimal digits).' },
      }, e)
      -- the pool's groups and histories are known too
      local q = pool.new { seed = 1, size = 5, now = NOW }
      q:join("6a5bd0c5000000000000aaaa", { q.members[1].id })
      q:record(q.members[2].id, "6a5bd0c5000000000000bbbb", "APPROVED")
      assert.is_nil(catalogue.validate({
        { filter_id = "participant_group_allowlist", selected_values = { "6a5bd0c5000000000000aaaa" } },
        { filter_id = "previous_studies_allowlist", selected_values = { "6a5bd0c5000000000000bbbb" } } }, { pool = q }))
    end)

    it("refuses weightings that are not quotas of selected choices", function()
      assert.same({ ["filters.0.selected_values"] = { "age is a range filter: give selected_range, not selected_values or weightings." } },
        bad { { filter_id = "age", selected_range = { lower = 20 }, weightings = { ["0"] = 1 } } })
      assert.same({ ["filters.0.weightings"] = { '"2" is not one of the selected values.' } },
        bad { { filter_id = "handedness", selected_values = { "0", "1" }, weightings = { ["0"] = 1, ["2"] = 1 } } })
      assert.same({ ["filters.0.weightings"] = { 'The weight of "0" must be a number of 0 or more.',
        "At least one weight must be above 0." } },
        bad { { filter_id = "handedness", selected_values = { "0" }, weightings = { ["0"] = -1 } } })
      assert.same({ ["filters.0.weightings"] = { "Weightings apply to demographic select filters only, not to participant_group_allowlist." } },
        bad { { filter_id = "participant_group_allowlist", selected_values = { G }, weightings = { [G] = 1 } } })
    end)

    it("refuses what is not a list of filter objects, and unknown fields", function()
      assert.same({ filters = { 'Expected a list of items but got type "string".' } }, bad "age")
      assert.same({ filters = { 'Expected a list of items but got type "table".' } },
        bad { filter_id = "age" })
      assert.same({ ["filters.0"] = { "Expected a filter: an object with filter_id and selected_values or selected_range." } },
        bad { "age" })
      assert.same({ ["filters.0.selected_value"] = { "Unknown field." },
        ["filters.0.selected_values"] = { "This field is required." } },
        bad { { filter_id = "sex", selected_value = { "0" } } })
      assert.same({ ["requirements.0.selected_range.lowr"] = { "Unknown field." } },
        catalogue.validate({ { filter_id = "age", selected_range = { lowr = 1, upper = 40 } } }, ctx, "requirements"))
    end)
  end)

  describe("the catalogue", function()
    it("lists every filter in the spec's FilterList shapes", function()
      local schema = require "cohort.schema"
      local S = schema.load "prolific"
      local G = "6a5bd0c50000000000000e01"
      local ctx = catalogue.context({ participant_groups = { { id = G, name = "wave 1", members = {} },
        { id = "6a5bd0c50000000000000e09", name = "gone", members = {}, is_deleted = true } },
        studies = { { id = "60aca280709ee40ec37d4885", internal_name = "rt-attention-pilot" } } })
      for _, detailed in ipairs { false, true } do
        local list = catalogue.list(ctx, detailed)
        assert.equals(#catalogue.FILTERS, #list)
        assert.is_nil(schema.check(S, { ref = "FilterList" }, { results = list }, { direction = "response" }))
      end
      local by = {}
      for _, f in ipairs(catalogue.list(ctx)) do by[f.filter_id] = f end
      assert.same({ [G] = "wave 1" }, by.participant_group_allowlist.choices)
      assert.same({ ["60aca280709ee40ec37d4885"] = "rt-attention-pilot" }, by.previous_studies.choices)
      -- the ids and choices of the earlier catalogue hold
      assert.same({ ["0"] = "Right-handed", ["1"] = "Left-handed", ["2"] = "Ambidextrous" }, by.handedness.choices)
      assert.same({ ["0"] = "Male", ["1"] = "Female" }, by.sex.choices)
      assert.same({ "range", "integer", 18, 100 }, { by.age.type, by.age.data_type, by.age.min, by.age.max })
      for _, id in ipairs { "approval_rate", "joined_between", "custom_allowlist", "previous_studies",
          "participant_group_allowlist" } do
        assert.is_table(by[id], id)
      end
      assert.equals("previous_studies", catalogue.get("previous_studies_blocklist").filter_id)
    end)

    it("is tabled in docs/sandbox.md as tools/filters_table.lua prints it", function()
      local h = assert(io.popen("lua5.4 tools/filters_table.lua"))
      local table_md = h:read("*a")
      h:close()
      assert.is_true(#table_md > 1000)
      local f = assert(io.open("docs/sandbox.md"))
      local doc = f:read("*a")
      f:close()
      assert.is_truthy(doc:find(table_md, 1, true),
        "docs/sandbox.md lacks the current filter table: paste `lua5.4 tools/filters_table.lua`")
    end)

    it("runs the example of docs/sandbox.md's participant pool section as written", function()
      local f = assert(io.open("docs/sandbox.md"))
      local doc = f:read("*a")
      f:close()
      local section = assert(doc:match("\n## The participant pool\n(.-)\n## "), "no such section")
      local code = assert(section:match("```lua\n(.-)```"), "no Lua example")
      local printed = {}
      local env = setmetatable({ print = function(...) printed[#printed + 1] = { ... } end },
        { __index = _G })
      assert(load(code, "=docs/sandbox.md", "t", env))()
      assert.equals(1, #printed)
      local q = pool.new { seed = 1, size = 30000, now = 1735689600 }
      local left = 0
      for _, m in ipairs(q.members) do if m.handedness == 1 then left = left + 1 end end
      assert.same({ left }, printed[1])
    end)
  end)

  describe("drawing", function()
    it("is reproducible for a seed and differs across seeds", function()
      local q = P()
      local f = { { filter_id = "age", selected_range = { lower = 25, upper = 40 } } }
      local a, n = q:draw(f, 50, nil, 99)
      local b = q:draw(f, 50, nil, 99)
      local c = q:draw(f, 50, nil, 100)
      assert.equals(50, #a)
      assert.same(a, b)
      assert.are_not.same(a, c)
      assert.equals(q:count(f), n)
      local again = pool.new { seed = 1, size = SIZE, now = NOW }:draw(f, 50, nil, 99)
      for i = 1, 50 do assert.equals(a[i].id, again[i].id) end
      assert.equals(50, size_of(set_of(a)))
      for _, m in ipairs(a) do assert.is_true(m.age >= 25 and m.age <= 40) end
      -- a function as the generator
      local d = q:draw(f, 5, nil, pool.rng(99))
      for i = 1, 5 do assert.equals(a[i], d[i]) end
    end)

    it("never draws an excluded member, and gives all when fewer are eligible", function()
      local q = pool.new { seed = 4, size = 2000, now = NOW }
      local ids = {}
      for i = 1, 20 do ids[i] = q.members[i * 3].id end
      local f = { { filter_id = "custom_allowlist", selected_values = ids } }
      local exclude = { [ids[1]] = true, [ids[2]] = true }
      local got, eligible = q:draw(f, 50, { exclude = exclude }, 1)
      assert.equals(18, #got)
      assert.equals(18, eligible)
      for _, m in ipairs(got) do assert.is_nil(exclude[m.id]) end
      assert.same({}, (q:draw(f, 0, nil, 1)))
    end)

    it("keeps a mutually exclusive collection exclusive: nobody takes two of its studies", function()
      local q = pool.new { seed = 8, size = 5000, now = NOW }
      local A, B, C = "6a5bd0c50000000000001a01", "6a5bd0c50000000000001b01", "6a5bd0c50000000000001c01"
      local collection = { A, B }
      -- a narrow audience: 120 left-handed members at most are eligible for either arm
      local f = { { filter_id = "handedness", selected_values = { "1", "2" } },
        { filter_id = "age", selected_range = { upper = 40 } } }
      local E = q:count(f)
      assert.is_true(E > 200 and E < 1000, E)
      local function run(study, n, seed, ctx)
        local got = q:draw(f, n, ctx, seed)
        for _, m in ipairs(got) do q:record(m.id, study, "AWAITING REVIEW") end
        return got
      end
      -- arm A in two rounds, then arm B: the helper's exclusion set
      local a1 = run(A, 150, 1, { exclude = q:taken(collection) })
      local a2 = run(A, 150, 2, { exclude = q:taken(collection) })
      local b = run(B, E, 3, { exclude = q:taken(collection) })
      local seen = {}
      for _, list in ipairs { a1, a2, b } do
        for _, m in ipairs(list) do
          assert.is_nil(seen[m.id], "drawn twice: " .. m.id)
          seen[m.id] = true
        end
      end
      assert.equals(E - 300, #b) -- B gets everyone A did not take
      -- ctx.collection does the same inside the pool; a study outside the collection is open
      assert.equals(0, q:count(f, { collection = collection }))
      assert.equals(0, #q:draw(f, 10, { collection = { study_ids = collection } }, 4))
      assert.equals(E, q:count(f, { collection = { C } }))
      local c = run(C, 10, 5, { collection = { C }, exclude = q:taken(collection) })
      assert.equals(0, #c)
      local c2 = run(C, 10, 5, { exclude = q:taken { C } })
      assert.equals(10, #c2)
      for _, m in ipairs(c2) do assert.is_true(seen[m.id]) end
    end)

    it("fills quotas by weightings", function()
      local q = P()
      local got = q:draw({ { filter_id = "handedness", selected_values = { "0", "1" },
        weightings = { ["0"] = 1, ["1"] = 1 } } }, 100, nil, 3)
      local left = 0
      for _, m in ipairs(got) do if m.handedness == 1 then left = left + 1 end end
      assert.equals(100, #got)
      assert.equals(50, left)
      -- exact numbers, and two weighted filters make combined strata
      got = q:draw({ { filter_id = "handedness", selected_values = { "0", "1", "2" },
        weightings = { ["0"] = 10, ["1"] = 20, ["2"] = 5 } } }, 35, nil, 3)
      local n = { [0] = 0, [1] = 0, [2] = 0 }
      for _, m in ipairs(got) do n[m.handedness] = n[m.handedness] + 1 end
      assert.same({ [0] = 10, [1] = 20, [2] = 5 }, n)
      got = q:draw({ { filter_id = "handedness", selected_values = { "0", "1" }, weightings = { ["0"] = 1, ["1"] = 1 } },
        { filter_id = "sex", selected_values = { "0", "1" }, weightings = { ["0"] = 1, ["1"] = 1 } } }, 40, nil, 9)
      local cells = {}
      for _, m in ipairs(got) do
        local k = m.handedness .. "/" .. m.sex
        cells[k] = (cells[k] or 0) + 1
      end
      assert.same({ ["0/0"] = 10, ["0/1"] = 10, ["1/0"] = 10, ["1/1"] = 10 }, cells)
    end)
  end)

  describe("the forecast", function()
    it("grows as eligibility shrinks, and with places; pay shortens it", function()
      local q = P()
      local narrowing = {
        {},
        { { filter_id = "current-country-of-residence", selected_values = { "0", "1" } } },
        { { filter_id = "current-country-of-residence", selected_values = { "0" } } },
        { { filter_id = "current-country-of-residence", selected_values = { "0" } },
          { filter_id = "age", selected_range = { lower = 25, upper = 34 } } },
        { { filter_id = "current-country-of-residence", selected_values = { "0" } },
          { filter_id = "age", selected_range = { lower = 25, upper = 34 } },
          { filter_id = "handedness", selected_values = { "1" } } },
      }
      local last_n, last_h = math.huge, 0
      for _, f in ipairs(narrowing) do
        local answer, info = q:forecast(f, 50, 900)
        assert.is_true(info.eligible < last_n)
        assert.is_true(answer.precise_recruitment_time_hours > last_h)
        assert.is_true(answer.lower_bound_hours <= answer.precise_recruitment_time_hours)
        assert.is_true(answer.upper_bound_hours >= answer.precise_recruitment_time_hours)
        last_n, last_h = info.eligible, answer.precise_recruitment_time_hours
      end
      local one_hour = q:forecast(nil, 100, 900)
      assert.is_true(one_hour.precise_recruitment_time_hours > 0.5 and one_hour.precise_recruitment_time_hours < 2)
      assert.is_true(q:forecast(nil, 400, 900).precise_recruitment_time_hours > one_hour.precise_recruitment_time_hours)
      assert.is_true(q:forecast(nil, 100, 1800).precise_recruitment_time_hours < one_hour.precise_recruitment_time_hours)
      local schema = require "cohort.schema"
      assert.is_nil(schema.check(schema.load "prolific", { ref = "StudyPredictedRecruitmentTimeResponse" },
        one_hour, { direction = "response" }))
    end)

    it("says when the places cannot be filled", function()
      local q = pool.new { seed = 1, size = 100, now = NOW }
      local answer, info = q:forecast(nil, 101, 900)
      assert.is_false(info.fillable)
      assert.equals(100, info.eligible)
      assert.equals(pool.LIMIT_HOURS, answer.precise_recruitment_time_hours)
      assert.equals("Not enough eligible participants (100 for 101 places)", answer.display_string)
      assert.has_error(function() q:forecast(nil, 0) end, "pool:forecast(): places must be a whole number of 1 or more")
    end)
  end)

  describe("the listing", function()
    it("pages through the eligible members as JSON views", function()
      local util = require "cohort.sandbox.util"
      local q = P()
      local f = { { filter_id = "nationality", selected_values = { "9" } } }
      local all = q:participants { filters = f, limit = 1000 }
      assert.equals(q:count(f), all.count)
      local a = q:participants { filters = f, offset = 0, limit = 7 }
      local b = q:participants { filters = f, offset = 7, limit = 7 }
      assert.equals(7, #a.results)
      for i = 1, 7 do
        assert.equals(all.results[i].id, a.results[i].id)
        assert.equals(all.results[i + 7].id, b.results[i].id)
        assert.equals("Italy", a.results[i].nationality)
      end
      local text = util.encode(a)
      assert.matches('"fluent_languages":%[', text)
      assert.matches('"groups":%[%]', text)
      assert.equals(0, #q:participants { filters = f, offset = all.count }.results)
      assert.has_error(function() q:participants { limit = 5000 } end,
        "pool:participants(): limit must be a whole number from 0 to 1000")
    end)
  end)
end)
