-- The participant pool and the filter catalogue wired into the sandbox, over HTTP (issue 14,
-- points 1 and 2): eligibility-count and the recruitment forecast from the pool, GET filters in
-- the spec's shapes, filters validated on study creation and update, filter sets and counts,
-- simulated participants drawn from the pool (filters, groups, previous studies, custom lists,
-- never twice in a study, at most one study of a mutually exclusive collection), their history,
-- participant groups of known participants with completion-code group actions, the
-- /__sandbox/participants control routes and the --pool-size / --pool-seed flags.
-- The client is used where it fits; raw core sessions where its own checks would hide the
-- sandbox's (a reversed range is refused by the client before it is sent).
describe("the sandbox's participant pool over HTTP", function()
  local env = require "support.env"
  local core = require "cohort.core"
  local schema = require "cohort.schema"
  local p, raw

  local WORKSPACE = "60a42f4c693c29420793cb74"
  local PROJECT = "60a42f4c693c29420793cb75"
  local NOBODY = "5f0000000000000000000abc" -- well formed, nobody's id

  setup(function()
    p = env.prolific()
    raw = core.session { auth = "token", secret = env.sandbox().token, platform = "prolific" }
  end)
  teardown(function() raw:close(); env.reset() end)
  before_each(function() env.reset() end)

  -- A raw Prolific call: the decoded answer, or nil and the error table.
  local function api(method, path, body)
    local r = raw:request { method = method, base = env.sandbox().url, path = "/api/v1/" .. path,
      body = type(body) == "string" and body or (body and core.encode(body)) or nil }
    if r.err then return nil, r.err end
    return r.body ~= "" and core.decode(r.body) or true
  end

  -- GET /__sandbox/participants with a query (filters as JSON), decoded.
  local function members(q)
    local parts = {}
    for k, v in pairs(q or {}) do
      if k == "filters" then v = core.encode(v) end
      parts[#parts + 1] = k .. "=" .. tostring(v):gsub("[^%w%-_%.~]", function(c)
        return ("%%%02X"):format(c:byte())
      end)
    end
    local r = core.session {}:request { method = "GET", base = env.sandbox().url,
      path = "/__sandbox/participants/" .. (#parts > 0 and ("?" .. table.concat(parts, "&")) or "") }
    if r.err then return nil, r.err end
    return core.decode(r.body)
  end

  local function member(id)
    local r = core.session {}:request { method = "GET", base = env.sandbox().url,
      path = "/__sandbox/participants/{}", ids = { id } }
    if r.err then return nil, r.err end
    return core.decode(r.body)
  end

  local function simulate(study_id, opts)
    local r = core.session {}:request { method = "POST", base = env.sandbox().url,
      path = "/__sandbox/studies/{}/simulate", ids = { study_id }, body = core.encode(opts) }
    if r.err then return nil, r.err end
    return core.decode(r.body)
  end

  local function fields(extra)
    local f = { name = "Pool study", description = "A short task.",
      external_study_url = "https://example.org/t?PROLIFIC_PID={{%PROLIFIC_PID%}}",
      prolific_id_option = "url_parameters",
      completion_codes = { { code = "DONE1234", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 150, total_available_places = 10 }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  local function published(extra)
    return assert(assert(p.studies:create(fields(extra))):publish())
  end

  local function set_of(list, key)
    local s = {}
    for _, x in ipairs(list) do s[key and x[key] or x] = true end
    return s
  end

  -- every submission of a run, once it has finished (duration_ms = 0: at the next read)
  local function finished(run)
    local out = {}
    for i, id in ipairs(run.submission_ids) do
      out[i] = assert(assert(p.submissions:get(id)):wait_for("AWAITING REVIEW",
        { timeout = 10, interval = 0.02 }))
    end
    return out
  end

  describe("one pool a sandbox", function()
    it("is 30,000 members of seed 1 by default, counted by eligibility-count", function()
      local all = assert(members { limit = 3 })
      assert.are.same({ size = 30000, seed = 1 }, all.pool)
      assert.are.equal(30000, all.count)
      assert.are.equal(3, #all.results)
      assert.are.equal(30000, assert(api("POST", "eligibility-count/", '{"filters": []}')).count)
      -- the same people after a reset (the seed decides)
      env.reset()
      assert.are.same(all.results[1].id, assert(members { limit = 1 }).results[1].id)
    end)

    it("counts exactly the members that pass the filters, as their demographics show", function()
      local filters = { { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
        { filter_id = "handedness", selected_values = { "1" } } }
      local n = assert(p.filters:eligible_count { filters = filters })
      local page = assert(members { filters = filters, limit = 1000 })
      assert.are.equal(n, page.count)
      assert.is_true(n > 25 and n < 30000 * 0.2, tostring(n))
      for _, m in ipairs(page.results) do
        assert.is_true(m.age >= 18 and m.age <= 30, m.id)
        assert.are.equal("Left-handed", m.handedness)
      end
      -- narrower, fewer; a custom list of two members is shown as 0 (fewer than 25)
      local narrower = assert(p.filters:eligible_count { filters = { filters[1], filters[2],
        { filter_id = "current-country-of-residence", selected_values = { "0" } } } })
      assert.is_true(narrower < n and narrower > 0)
      local two = { page.results[1].id, page.results[2].id }
      assert.are.equal(0, assert(p.filters:eligible_count { filters = {
        { filter_id = "custom_allowlist", selected_values = two } } }))
      assert.are.equal(2, assert(members { filters = { { filter_id = "custom_allowlist",
        selected_values = two } } }).count)
    end)

    it("lists the catalogue in the spec's shapes, detailed or not, with the state's studies", function()
      local all = assert(p.filters:all())
      assert.are.equal(18, #all)
      local by = set_of(all, "filter_id")
      for _, id in ipairs { "age", "sex", "current-country-of-residence", "nationality",
        "first-language", "fluent-languages", "approval_rate", "approval_numbers", "joined_between",
        "handedness", "student-status", "employment-status", "participant_group_allowlist",
        "participant_group_blocklist", "previous_studies_allowlist", "previous_studies",
        "custom_allowlist", "custom_blocklist" } do
        assert.is_true(by[id], id)
      end
      local prev
      for _, f in ipairs(all) do if f.filter_id == "previous_studies" then prev = f end end
      assert.are.equal("rt-attention-pilot", prev.choices["60aca280709ee40ec37d4885"])
      local detailed = assert(p.filters:all { detailed = true })
      assert.are.equal("Demographics", detailed[1].category)
      assert.are.equal(1, detailed[1].display_order)
    end)

    it("forecasts recruitment from the eligible members: narrower filters, longer", function()
      local function forecast(filters)
        local body = ('{"filters": %s, "workspace_id": "%s", "reward": 150, "study_type": "SINGLE",'
          .. ' "total_available_places": 200, "estimated_completion_time": 10}')
          :format(filters and core.encode(filters) or "[]", WORKSPACE)
        return assert(api("POST", "studies/predicted-recruitment-time/", body))
      end
      local wide = forecast()
      local narrow = forecast { { filter_id = "current-country-of-residence", selected_values = { "2" } } }
      assert.is_true(narrow.precise_recruitment_time_hours > wide.precise_recruitment_time_hours)
      assert.is_true(wide.lower_bound_hours <= wide.precise_recruitment_time_hours
        and wide.precise_recruitment_time_hours <= wide.upper_bound_hours)
      assert.is_string(wide.display_string)
      -- far fewer eligible than places: cannot fill, shown at the limit
      local few = forecast { { filter_id = "first-language", selected_values = { "19" } },
        { filter_id = "age", selected_range = { lower = 60 } } }
      assert.are.equal(few.limit_at, few.precise_recruitment_time_hours)
      assert.matches("Not enough eligible participants", few.display_string)
      -- a study's forecast: its places not taken, its filters
      local st = assert(p.studies:create(fields { total_available_places = 200, filters = {
        { filter_id = "current-country-of-residence", selected_values = { "2" } } } }))
      local got = assert(st:predicted_recruitment_time())
      assert.is_true(got.precise_recruitment_time_hours > wide.precise_recruitment_time_hours)
    end)
  end)

  describe("filters are validated", function()
    local function refused(path, body, method)
      local v, err = api(method or "POST", path, body)
      assert.is_nil(v)
      assert.are.equal(400, err.status)
      return err.fields
    end

    it("on study creation, naming the field as Prolific's 400 does", function()
      local function create(filters)
        return refused("studies/", fields { filters = filters })
      end
      assert.are.same({ '"favourite_colour" is not a valid filter.' },
        create { { filter_id = "favourite_colour", selected_values = { "0" } } }["filters.0.filter_id"])
      assert.are.same({ "lower (40) must not be greater than upper (18)." },
        create { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } }["filters.0.selected_range"])
      assert.matches("handedness is a select filter",
        create { { filter_id = "handedness", selected_range = { lower = 1 } } }["filters.0.selected_range"][1])
      assert.matches("age is a range filter",
        create { { filter_id = "age", selected_values = { "18" } } }["filters.0.selected_values"][1])
      assert.are.same({ '"7" is not a valid choice.' },
        create { { filter_id = "sex", selected_values = { "7" } } }["filters.0.selected_values"])
      assert.matches('"abc" is not a valid participant ID',
        create { { filter_id = "custom_blocklist", selected_values = { "abc" } } }["filters.0.selected_values"][1])
      assert.matches("is not a valid participant group",
        create { { filter_id = "participant_group_allowlist", selected_values = { NOBODY } } }["filters.0.selected_values"][1])
      assert.matches("is not a valid study",
        create { { filter_id = "previous_studies", selected_values = { NOBODY } } }["filters.0.selected_values"][1])
      -- the second filter's path, and nothing was created
      local f = create { { filter_id = "sex", selected_values = { "1" } },
        { filter_id = "joined_between", selected_range = { lower = 2020 } } }
      assert.matches("Date has wrong format", f["filters.1.selected_range.lower"][1])
      assert.are.equal(3, #assert(p.studies:all()))
    end)

    it("on study update, and a valid list is stored under the catalogue's names", function()
      local st = assert(p.studies:create(fields()))
      local f = refused("studies/" .. st.id .. "/", { filters = {
        { filter_id = "age", selected_range = { lower = 16 } } } }, "PATCH")
      assert.matches("greater than or equal to 18", f["filters.0.selected_range.lower"][1])
      st = assert(st:update { filters = { { filter_id = "previous_studies_blocklist",
        selected_values = { "60aca280709ee40ec37d4885" } } } })
      assert.are.equal("previous_studies", st.filters[1].filter_id)
    end)

    it("in filter sets, eligibility-count and the forecast", function()
      local f = refused("filter-sets/", { name = "x", workspace_id = WORKSPACE,
        filters = { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } } })
      assert.is_table(f["filters.0.selected_range"])
      f = refused("eligibility-count/", { filters = { { filter_id = "shoe_size", selected_values = { "1" } } } })
      assert.is_table(f["filters.0.filter_id"])
      f = refused("studies/predicted-recruitment-time/", { workspace_id = WORKSPACE, reward = 100,
        study_type = "SINGLE", total_available_places = 5, estimated_completion_time = 5,
        filters = { { filter_id = "fluent-languages", selected_values = { "99" } } } })
      assert.is_table(f["filters.0.selected_values"])
      -- a valid set counts its members
      local fs = assert(p.filter_sets:create { workspace_id = WORKSPACE, name = "Students",
        filters = { { filter_id = "student-status", selected_values = { "0" } } } })
      assert.are.equal(assert(members { filters = fs.filters }).count, fs.eligible_participant_count)
    end)

    it("a study's filter set must exist, and its filters apply to the draw", function()
      local f = refused("studies/", fields { filter_set_id = NOBODY })
      assert.are.same({ "Filter set not found." }, f.filter_set_id)
      local fs = assert(p.filter_sets:create { workspace_id = WORKSPACE, name = "Left-handed",
        filters = { { filter_id = "handedness", selected_values = { "1" } } } })
      local st = published { filter_set_id = fs.id, total_available_places = 5 }
      local run = assert(simulate(st.id, { participants = 5, duration_ms = 0, seed = 3 }))
      for _, pid in ipairs(run.participant_ids) do
        assert.are.equal("Left-handed", assert(member(pid)).handedness)
      end
    end)
  end)

  describe("simulated participants", function()
    it("are eligible members of the pool, and their submissions enter their history", function()
      local st = published { total_available_places = 8, filters = {
        { filter_id = "current-country-of-residence", selected_values = { "1" } },
        { filter_id = "age", selected_range = { lower = 25, upper = 40 } } } }
      local run = assert(simulate(st.id, { participants = 8, duration_ms = 0, seed = 5 }))
      assert.are.equal(8, #run.participant_ids)
      assert.are.equal(assert(members { eligible_for = st.id, limit = 0 }).count + 8, run.eligible)
      local subs = finished(run)
      for i, s in ipairs(subs) do
        assert.are.equal(run.participant_ids[i], s.participant)
        local m = assert(member(s.participant))
        assert.are.equal("United States", m.current_country_of_residence)
        assert.is_true(m.age >= 25 and m.age <= 40)
        assert.are.equal("AWAITING REVIEW", m.history[st.id])
      end
      assert(subs[1]:approve())
      assert(subs[2]:reject { category = "LOW_EFFORT", message = ("Your answers were all the same, "
        .. "which the instructions asked you not to do; we cannot approve this submission. "):rep(2) })
      assert.are.equal("APPROVED", assert(member(subs[1].participant)).history[st.id])
      assert.are.equal("REJECTED", assert(member(subs[2].participant)).history[st.id])
    end)

    it("are reproducible for a seed, and never take one study twice", function()
      local a = published { total_available_places = 40 }
      local first = assert(simulate(a.id, { participants = 20, duration_ms = 0, seed = 9 }))
      local second = assert(simulate(a.id, { participants = 20, duration_ms = 0, seed = 9 }))
      local seen = set_of(first.participant_ids)
      for _, pid in ipairs(second.participant_ids) do assert.is_nil(seen[pid], pid) end
      env.reset()
      a = published { total_available_places = 40 }
      local again = assert(simulate(a.id, { participants = 20, duration_ms = 0, seed = 9 }))
      assert.are.same(first.participant_ids, again.participant_ids)
    end)

    it("are refused, naming how many, when fewer members can take the study", function()
      local page = assert(members { limit = 3 })
      local three = { page.results[1].id, page.results[2].id, page.results[3].id }
      local st = published { total_available_places = 10, filters = {
        { filter_id = "custom_allowlist", selected_values = three } } }
      local _, err = simulate(st.id, { participants = 4, duration_ms = 0 })
      assert.are.equal(400, err.status)
      assert.matches("Only 3 members of the participant pool can take this study now", err.fields.participants[1])
      local run = assert(simulate(st.id, { participants = 3, duration_ms = 0 }))
      assert.are.same(set_of(three), set_of(run.participant_ids))
      _, err = simulate(st.id, { participants = 1, duration_ms = 0 })
      assert.matches("Only 0 members", err.fields.participants[1])
    end)

    it("come back through previous-studies filters: the allow-list takes the approved, the block-list nobody who took part", function()
      local wave1 = published { total_available_places = 30 }
      local subs = finished(assert(simulate(wave1.id, { participants = 30, duration_ms = 0, seed = 2 })))
      local approved = {}
      for i = 1, 10 do approved[#approved + 1] = subs[i] end
      assert(p.submissions:bulk_approve { ids = approved })
      local allow = { { filter_id = "previous_studies_allowlist", selected_values = { wave1.id } } }
      assert.are.same(set_of(approved, "participant"),
        set_of(assert(members { filters = allow, limit = 100 }).results, "id"))
      local back = published { total_available_places = 10, filters = allow }
      local run = assert(simulate(back.id, { participants = 10, duration_ms = 0, seed = 4 }))
      assert.are.same(set_of(approved, "participant"), set_of(run.participant_ids))
      -- the block-list turns away all 30, whatever their status
      local block = published { total_available_places = 300, filters = {   -- (what the balance pays for)
        { filter_id = "previous_studies", selected_values = { wave1.id } } } }
      local fresh = assert(simulate(block.id, { participants = 300, duration_ms = 0, seed = 4 }))
      local took = set_of(subs, "participant")
      for _, pid in ipairs(fresh.participant_ids) do assert.is_nil(took[pid], pid) end
      assert.are.equal(30000 - 30, assert(p.filters:eligible_count { filters = {
        { filter_id = "previous_studies", selected_values = { wave1.id } } } }))
    end)

    it("a duplicate that blocks previous participants draws none of them", function()
      local first = published { total_available_places = 200 }
      local run = assert(simulate(first.id, { participants = 200, duration_ms = 0, seed = 1 }))
      local copy = assert(assert(p.studies:clone(first.id, { block_previous_participants = true })):publish())
      local again = assert(simulate(copy.id, { participants = 200, duration_ms = 0, seed = 1 }))
      local before = set_of(run.participant_ids)
      for _, pid in ipairs(again.participant_ids) do assert.is_nil(before[pid], pid) end
    end)
  end)

  describe("participant groups", function()
    it("hold members of the pool and the seed's participants; other ids are refused", function()
      local page = assert(members { limit = 2 })
      local g = assert(p.groups:create { workspace_id = WORKSPACE, name = "Wave 1",
        participant_ids = { page.results[1].id, "60bf9310e8dec401be6e9615" } })
      assert.are.equal(2, g.participant_count)
      local _, err = g:add { NOBODY, page.results[2].id }
      assert.are.equal(400, err.status)
      assert.matches("is not a participant of the sandbox", err.fields["participant_ids.0"][1])
      assert.is_nil(err.fields["participant_ids.1"])
      assert.are.equal(2, assert(g:refresh()).participant_count) -- nothing was added
      local _, raw_err = api("POST", "participant-groups/" .. g.id .. "/participants/",
        { participant_ids = { "60aca280709ee40ec37d4885" } })
      assert.matches("is the id of a study", raw_err.fields["participant_ids.0"][1])
      -- removing someone not in it is ignored, as Prolific documents
      assert(g:remove { NOBODY })
      -- the listing shows the membership
      assert.are.same({ g.id }, assert(member(page.results[1].id)).groups)
    end)

    it("decide the group filters: an allow-list draws only members, a block-list none", function()
      local page = assert(members { limit = 6 })
      local ids = {}
      for i = 1, 6 do ids[i] = page.results[i].id end
      local g = assert(p.groups:create { workspace_id = WORKSPACE, name = "Six", participant_ids = ids })
      local st = published { total_available_places = 6, filters = {
        { filter_id = "participant_group_allowlist", selected_values = { g.id } } } }
      local run = assert(simulate(st.id, { participants = 6, duration_ms = 0 }))
      assert.are.same(set_of(ids), set_of(run.participant_ids))
      assert.are.equal(30000 - 6, assert(p.filters:eligible_count { filters = {
        { filter_id = "participant_group_blocklist", selected_values = { g.id } } } }))
    end)

    it("grow and shrink by completion codes that add to and remove from them", function()
      local page = assert(members { limit = 1 })
      local keep = assert(p.groups:create { workspace_id = WORKSPACE, name = "Completed",
        participant_ids = schema.array {} })
      local leave = assert(p.groups:create { workspace_id = WORKSPACE, name = "Not yet",
        participant_ids = { page.results[1].id } })
      local _, err = api("POST", "studies/", fields { completion_codes = { { code = "X1", code_type = "COMPLETED",
        actions = { { action = "ADD_TO_PARTICIPANT_GROUP", participant_group = NOBODY } } } } })
      assert.are.same({ "Participant group not found." },
        err.fields["completion_codes.0.actions.0.participant_group"])
      local st = published { total_available_places = 5, filters = {
        { filter_id = "custom_allowlist", selected_values = { page.results[1].id } } },
        completion_codes = { { code = "GROUP123", code_type = "COMPLETED", actions = {
          { action = "ADD_TO_PARTICIPANT_GROUP", participant_group = keep.id },
          { action = "REMOVE_FROM_PARTICIPANT_GROUP", participant_group = leave.id } } } } }
      local subs = finished(assert(simulate(st.id, { participants = 1, duration_ms = 0 })))
      assert.are.equal("GROUP123", subs[1].entered_code)
      local in_keep = {}
      for m in keep:participants() do in_keep[#in_keep + 1] = m.participant_id end
      assert.are.same({ page.results[1].id }, in_keep)
      assert.are.equal(0, assert(leave:refresh()).participant_count)
      assert.are.equal(1, #assert(keep:refresh()).feeder_studies)
    end)
  end)

  describe("mutually exclusive collections", function()
    it("let a participant take at most one of their studies", function()
      local page = assert(members { limit = 10 })
      local ten = {}
      for i = 1, 10 do ten[i] = page.results[i].id end
      local filters = { { filter_id = "custom_allowlist", selected_values = ten } }
      local a = assert(p.studies:create(fields { name = "Arm A", total_available_places = 10, filters = filters }))
      local b = assert(p.studies:create(fields { name = "Arm B", total_available_places = 10, filters = filters }))
      local arms = assert(p.collections:create { project_id = PROJECT, name = "Arms",
        description = "One arm each.", study_ids = { a.id, b.id } })
      assert(arms:publish())
      local ra = assert(simulate(a.id, { participants = 6, duration_ms = 0, seed = 1 }))
      local _, err = simulate(b.id, { participants = 5, duration_ms = 0 })
      assert.are.equal(400, err.status)
      assert.matches("Only 4 members .* or another study of its collection", err.fields.participants[1])
      local rb = assert(simulate(b.id, { participants = 4, duration_ms = 0 }))
      local in_a = set_of(ra.participant_ids)
      for _, pid in ipairs(rb.participant_ids) do assert.is_nil(in_a[pid], pid) end
      assert.are.equal(0, assert(members { eligible_for = a.id }).count)
      -- outside the collection the same people may take another study
      local other = published { total_available_places = 10, filters = filters }
      assert.are.equal(10, #assert(simulate(other.id, { participants = 10, duration_ms = 0 })).participant_ids)
    end)
  end)

  describe("GET /__sandbox/participants", function()
    it("pages through the eligible members with their demographics and history", function()
      local filters = { { filter_id = "sex", selected_values = { "1" } } }
      local one = assert(members { filters = filters, offset = 0, limit = 5 })
      local two = assert(members { filters = filters, offset = 5, limit = 5 })
      assert.are.equal(one.count, two.count)
      assert.are.equal(5, #one.results)
      local ids = set_of(one.results, "id")
      for _, m in ipairs(two.results) do
        assert.is_nil(ids[m.id])
        assert.are.equal("Female", m.sex)
        assert.are.equal("1", m.answers.sex)
      end
      local m = assert(member(one.results[1].id))
      assert.are.equal(one.results[1].id, m.id)
      for _, k in ipairs { "age", "nationality", "first_language", "fluent_languages", "approval_rate",
        "approvals", "joined", "student", "employment", "current_country_of_residence" } do
        assert.is_not_nil(m[k], k)
      end
    end)

    it("refuses bad filters and paging naming the field, and answers 404 for a non-member", function()
      local _, err = members { filters = { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } } }
      assert.are.equal(400, err.status)
      assert.is_table(err.fields["filters.0.selected_range"])
      _, err = members { limit = 5000 }
      assert.is_table(err.fields.limit)
      local r = core.session {}:request { method = "GET", base = env.sandbox().url,
        path = "/__sandbox/participants/?filters=%5Bnot%20json" }
      assert.are.equal(400, r.err.status)
      assert.is_table(r.err.fields.filters)
      _, err = member(NOBODY)
      assert.are.equal(404, err.status)
      _, err = members { eligible_for = NOBODY }
      assert.are.equal(404, err.status)
    end)
  end)

  it("docs/sandbox.md's example of the pool in the server runs as written", function()
    local docblocks = require "support.docblocks"
    local f = assert(io.open("docs/sandbox.md", "rb"))
    local text = f:read("*a")
    f:close()
    local section = assert(text:match("\n### In the server\n(.-)\n###? "), "no section 'In the server'")
    local code = assert(section:match("```lua\n(.-)```"), "no lua block in 'In the server'")
    local printed, expected = docblocks.run(code)
    assert.are.same(expected, printed)
    assert.are.equal(2, #printed)
  end)

  describe("--pool-size and --pool-seed", function()
    it("set the pool's size and people; reset forgets the history but keeps the people", function()
      local sb = assert(require("cohort.sandbox").start { strict = true,
        args = { "--pool-size", "500", "--pool-seed", "42" } })
      local function get(path)
        local r = core.session {}:request { method = "GET", base = sb.url, path = path }
        return core.decode(r.body)
      end
      local c = require("cohort").prolific { token = sb.token, base_url = sb.url }
      local page = get("/__sandbox/participants/?limit=1")
      assert.are.same({ size = 500, seed = 42 }, page.pool)
      assert.are.equal(500, assert(c.filters:eligible_count { filters = schema.array {} }))
      assert.are_not.equal(assert(members { limit = 1 }).results[1].id, page.results[1].id)
      -- 400 of the 500: the seeded workspace's balance pays for that many places
      local st = assert(assert(c.studies:create(fields { total_available_places = 400 })):publish())
      local r = core.session {}:request { method = "POST", base = sb.url,
        path = "/__sandbox/studies/{}/simulate", ids = { st.id },
        body = core.encode { participants = 400, duration_ms = 0 } }
      assert.is_nil(r.err)
      local pid = core.decode(r.body).participant_ids[1]
      assert.is_string(get("/__sandbox/participants/" .. pid .. "/").history[st.id])
      core.session {}:request { method = "POST", base = sb.url, path = "/__sandbox/reset" }
      local after = get("/__sandbox/participants/" .. pid .. "/")
      assert.are.equal(pid, after.id)
      assert.is_nil(next(after.history))
      sb:stop()
      local bad, msg = require("cohort.sandbox").start { args = { "--pool-size", "-3" } }
      assert.is_nil(bad)
      assert.matches("%-%-pool%-size: not a whole number from 0 to 1000000: %-3", msg)
      bad, msg = require("cohort.sandbox").start { args = { "--pool-seed", "x" } }
      assert.is_nil(bad)
      assert.matches("%-%-pool%-seed: not a whole number: x", msg)
    end)
  end)
end)
