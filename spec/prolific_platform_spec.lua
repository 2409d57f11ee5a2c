-- Prolific study collections, hooks, filters, filter sets, participant groups and invitations
-- end to end against the sandbox: a success and error paths (misuse raised before sending,
-- HTTP errors as nil, err) for each.
describe("Prolific platform resources", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local p

  local WS = "64a000000000000000000001"
  local P1 = "64a000000000000000000011"
  local P2 = "64a000000000000000000012"
  local D1 = "64a000000000000000000101"
  local D2 = "64a000000000000000000102"
  local D3 = "64a000000000000000000103" -- a draft of the other project
  local A1 = "64a000000000000000000104" -- an active study
  local NOPE = "000000000000000000000000"
  -- participants of the groups' specs (the dataset's `participants`: the sandbox takes only
  -- participants it knows into a group)
  local M1, M2, M3, M9 = "64b000000000000000000001", "64b000000000000000000002",
    "64b000000000000000000003", "64b000000000000000000009"

  local function study(id, project, status)
    return { id = id, name = "Study " .. id:sub(-3), internal_name = "s" .. id:sub(-3),
      description = "A study", status = status, reward = 150, total_available_places = 10,
      places_taken = 0, estimated_completion_time = 5, project = project,
      external_study_url = "https://example.org/s" }
  end

  local function raises(pattern, f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok)
    assert.matches(pattern, tostring(msg))
  end

  -- Runs f and checks that it sent no request.
  local function nothing_sent(f)
    env.control("DELETE", "requests")
    f()
    assert.are.equal(0, #env.requests())
  end

  -- Every test starts from this dataset (the hooks tests from the default one).
  before_each(function()
    env.reset()
    env.control("POST", "seed", {
      workspaces = { { id = WS, title = "Lab", description = "The lab", currency_code = "GBP",
        balance = 100000, available_balance = 100000 } },
      projects = { { id = P1, title = "One", workspace = WS }, { id = P2, title = "Two", workspace = WS } },
      studies = { study(D1, P1, "UNPUBLISHED"), study(D2, P1, "UNPUBLISHED"), study(D3, P2, "UNPUBLISHED"),
        study(A1, P1, "ACTIVE") },
      participants = { M1, M2, M3, M9 },
    })
  end)

  setup(function() p = env.prolific() end)

  teardown(function() env.reset() end)

  describe("study collections", function()
    it("create → list → get → update → publish; studies go live with it", function()
      local c = assert(p.collections:create { project_id = P1, name = "Arms",
        description = "One arm each", study_ids = { D1 } })
      assert.are.equal("cohort.StudyCollection", getmetatable(c).__name)
      assert.are.equal("UNPUBLISHED", c.status)
      assert.are.same({ D1 }, c.study_ids)
      assert.are.equal(('StudyCollection %s… "Arms" UNPUBLISHED (1 study)'):format(c.id:sub(1, 8)), tostring(c))

      local page = assert(p.collections:list { project_id = P1 })
      assert.are.equal(1, #page)
      assert.are.equal(c.id, page[1].id)
      assert.are.equal(0, #assert(p.collections:all { project_id = P2 }))

      c = assert(c:update { study_ids = { D1, D2 }, name = "Two arms" })
      assert.are.equal("Two arms", c.name)
      assert.are.equal(2, #c.study_ids)
      local got = assert(p.collections:get(c.id))
      assert.matches("^£%d+%.%d%d$", got.estimated_cost)

      c = assert(c:publish())
      assert.are.equal("ACTIVE", c.status)
      local state = env.control("GET", "state")
      for _, st in ipairs(state.studies) do
        if st.id == D1 or st.id == D2 then assert.are.equal("ACTIVE", st.status) end
      end
      -- published: no more changes, no delete
      local _, err = c:update { name = "late" }
      assert.are.equal(400, err.status)
      local _, derr = c:delete()
      assert.are.equal(400, derr.status)
    end)

    it("schedules and cancels; deletes an unpublished collection", function()
      env.control("POST", "seed", {
        -- scheduling reserves the cost of the places: the workspace has the money
        workspaces = { { id = WS, title = "Lab", balance = 100000, available_balance = 100000 } },
        projects = { { id = P1, title = "One", workspace = WS } },
        studies = { study(D1, P1, "UNPUBLISHED") },
      })
      local c = assert(p.collections:create { project_id = P1, name = "Later", description = "d",
        study_ids = { D1 } })
      local _, err = c:schedule()
      assert.are.equal(400, err.status) -- no publish_at anywhere
      c = assert(c:schedule { at = "2050-02-28T13:45:00 Europe/London" })
      assert.are.equal("SCHEDULED", c.status)
      assert.are.equal("2050-02-28T13:45:00 Europe/London", c.publish_at)
      c = assert(c:cancel())
      assert.are.equal("UNPUBLISHED", c.status)
      assert.is_true(c:delete())
      local _, gerr = p.collections:get(c.id)
      assert.are.equal(404, gerr.status)
    end)

    it("refuses a non-draft study and a study of another project (400 with detail)", function()
      env.control("POST", "seed", {
        -- scheduling reserves the cost of the places: the workspace has the money
        workspaces = { { id = WS, title = "Lab", balance = 100000, available_balance = 100000 } },
        projects = { { id = P1, title = "One", workspace = WS }, { id = P2, title = "Two", workspace = WS } },
        studies = { study(D1, P1, "UNPUBLISHED"), study(D3, P2, "UNPUBLISHED"), study(A1, P1, "ACTIVE") },
      })
      local c, err = p.collections:create { project_id = P1, name = "Bad", description = "d",
        study_ids = { A1 } }
      assert.is_nil(c)
      assert.is_true(Error.is(err))
      assert.are.equal(400, err.status)
      assert.matches("only draft", table.concat(err.fields.study_ids, " "))
      local _, err2 = p.collections:create { project_id = P1, name = "Bad", description = "d",
        study_ids = { D3 } }
      assert.are.equal(400, err2.status)
      assert.matches("same project", table.concat(err2.fields.study_ids, " "))
      local _, err3 = p.collections:get(NOPE)
      assert.are.equal(404, err3.status)
    end)

    it("raises on misuse before sending", function()
      nothing_sent(function()
        raises("p%.collections:list%(%): project_id is required", p.collections.list,
          p.collections, {})
        raises("p%.collections:create%(%): description is required", p.collections.create,
          p.collections, { project_id = P1, name = "x" })
        raises('p%.collections:create%(%): study_ids%[2%] must be a Prolific id of 24 hexadecimal digits %(got "", a string%)', p.collections.create,
          p.collections, { project_id = P1, name = "x", description = "d", study_ids = { D1, "" } })
        raises('p%.collections:transition%(%): action must be one of "PUBLISH", "SCHEDULE_PUBLISH", "CANCEL_PUBLISH" %(got "PAUSE", a string%)',
          p.collections.transition, p.collections, D1, { action = "PAUSE" })
        raises("collection:schedule%(%): unknown option 'when'", function()
          local c = setmetatable({ id = D1 }, p:class("StudyCollection"))
          c:schedule { when = "tomorrow" }
        end)
      end)
    end)
  end)

  describe("hooks", function()
    before_each(function() env.reset() end)
    local WS0 = "60a42f4c693c29420793cb74" -- the default dataset's workspace

    it("lists event types; creates and lists secrets", function()
      local types = assert(p.hooks:all_event_types())
      local names = {}
      for _, t in ipairs(types) do names[t.event_type] = true end
      assert.is_true(names["submission.status.change"])
      assert.is_true(names["study.status.change"])
      local s1 = assert(p.hooks:create_secret { workspace_id = WS0 })
      assert.is_string(s1.value)
      local s2 = assert(p.hooks:create_secret { workspace_id = WS0 })
      local all = assert(p.hooks:all_secrets { workspace_id = WS0 })
      assert.are.equal(1, #all) -- a new secret replaces the old one
      assert.are.equal(s2.id, all[1].id)
      assert.are_not.equal(s1.value, s2.value)
    end)

    it("subscribe confirms with the X-Hook-Secret for the caller; the log records events", function()
      assert(p.hooks:create_secret { workspace_id = WS0 })
      local sub = assert(p.hooks:subscribe { workspace_id = WS0, event_type = "study.status.change",
        target_url = "https://example.org/hook" })
      assert.is_true(sub.is_enabled)
      assert.are.equal(("Subscription %s… study.status.change → https://example.org/hook (enabled)")
        :format(sub.id:sub(1, 8)), tostring(sub))
      -- the confirmation went through ConfirmSubscription with the header's value
      local log = env.requests()
      local confirm = log[#log]
      assert.are.equal("POST", confirm.method)
      assert.are.equal("/api/v1/hooks/subscriptions/" .. sub.id .. "/", confirm.path)
      assert.matches('"secret":"', confirm.body)

      -- the two steps by hand: unconfirmed until the secret comes back
      local raw, secret = assert(p.hooks:create_subscription { workspace_id = WS0,
        event_type = "submission.status.change", target_url = "https://example.org/subs" })
      assert.is_false(raw.is_enabled)
      assert.is_string(secret)
      local _, uerr = p.hooks:update_subscription(raw.id, { event_type = raw.event_type,
        target_url = raw.target_url, is_enabled = true })
      assert.are.equal(400, uerr.status)
      local _, cerr = p.hooks:confirm(raw.id, { secret = "wrong" })
      assert.are.equal(400, cerr.status)
      assert.truthy(cerr.fields.secret)
      local ok = assert(p.hooks:confirm(raw.id, { secret = secret }))
      assert.is_true(ok.is_enabled)
      assert.are.equal(2, #assert(p.hooks:all_subscriptions { workspace_id = WS0 }))

      -- a collection publishing its study records study.status.change
      local draft = "60aca280709ee40ec37d4887"
      local c = assert(p.collections:create { project_id = "60a42f4c693c29420793cb75", name = "c",
        description = "d", study_ids = { draft } })
      assert(c:publish())
      local events = {}
      for ev in sub:events() do events[#events + 1] = ev end
      assert.are.equal(1, #events)
      assert.are.equal(draft, events[1].resource_id)
      assert.are.equal("study.status.change", events[1].event_type)
      assert.are.equal("ACTIVE", events[1].payload.status)
      assert.matches("^HookEvent %x+… study%.status%.change ", tostring(events[1]))
      assert.are.equal(1, #assert(p.hooks:all_events(sub.id, { status = { "SUCCEEDED", "FAILED" } })))
      assert.are.equal(0, #assert(p.hooks:all_events(sub.id, { resource_id = NOPE })))

      -- record_event from other families (in-process API)
      if _VERSION ~= "Lua 5.1" then -- the sandbox's modules are Lua 5.3+ code (not 5.1/LuaJIT)
        assert.is_function(require("cohort.sandbox.prolific_hooks").record_event)
      end

      -- disable, update, delete
      sub = assert(sub:disable())
      assert.is_false(sub.is_enabled)
      assert.are.equal(1, #assert(p.hooks:all_subscriptions { workspace_id = WS0, is_enabled = true }))
      assert.are.equal(1, #assert(p.hooks:all_subscriptions { is_enabled = false }))
      sub = assert(sub:update { target_url = "https://example.org/other" })
      assert.are.equal("https://example.org/other", sub.target_url)
      assert.are.equal("study.status.change", sub.event_type)
      assert.is_true(sub:delete())
      local _, gerr = p.hooks:subscription(sub.id)
      assert.are.equal(404, gerr.status)
    end)

    it("refuses a subscription without a secret, or to an unknown event type", function()
      local _, err = p.hooks:subscribe { workspace_id = WS0, event_type = "study.status.change",
        target_url = "https://example.org/hook" }
      assert.are.equal(400, err.status)
      assert(p.hooks:create_secret { workspace_id = WS0 })
      local _, err2 = p.hooks:subscribe { workspace_id = WS0, event_type = "study.made.up",
        target_url = "https://example.org/hook" }
      assert.are.equal(400, err2.status)
      assert.truthy(err2.fields.event_type)
      local _, err3 = p.hooks:create_secret { workspace_id = NOPE }
      assert.are.equal(400, err3.status)
    end)

    it("raises on misuse before sending", function()
      nothing_sent(function()
        raises("p%.hooks:subscribe%(%): target_url is required", p.hooks.subscribe, p.hooks,
          { workspace_id = WS0, event_type = "study.status.change" })
        raises("p%.hooks:subscribe%(%): target_url must be an http:// or https:// URL", p.hooks.subscribe,
          p.hooks, { workspace_id = WS0, event_type = "study.status.change", target_url = "ftp://x" })
        raises("p%.hooks:secrets%(%): workspace_id is required", p.hooks.secrets, p.hooks, {})
        raises('p%.hooks:events%(%): status must be one of FAILED, PENDING, SUCCEEDED %(got "DONE", a string%)', p.hooks.events,
          p.hooks, NOPE, { status = "DONE" })
        raises("p%.hooks:confirm%(%): secret is required", p.hooks.confirm, p.hooks, NOPE, {})
        raises('p%.hooks:subscriptions%(%): is_enabled must be a boolean %(got "yes", a string%)', p.hooks.subscriptions,
          p.hooks, { is_enabled = "yes" })
      end)
    end)
  end)

  describe("filters and eligibility", function()
    it("lists every filter (across pages), detailed or not", function()
      local all = assert(p.filters:all { page_size = 3 })
      local ids = {}
      for _, f in ipairs(all) do ids[f.filter_id] = f end
      assert.truthy(ids.age)
      assert.truthy(ids.handedness)
      assert.truthy(ids.previous_studies.choices[D1]) -- from the state
      assert.are.equal("Filter age (range, integer 18..100)", tostring(ids.age))
      assert.are.equal("Filter handedness (select, 3 choices)", tostring(ids.handedness))
      local detailed = assert(p.filters:all { detailed = true })
      assert.is_string(detailed[1].category)
    end)

    it("counts eligible participants; narrower filters count fewer", function()
      local wide = assert(p.filters:eligible_count { filters = {} })
      local narrow, raw = assert(p.filters:eligible_count { filters = {
        { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
        { filter_id = "handedness", selected_values = { "1" } } } })
      assert.is_true(wide > narrow)
      assert.is_true(narrow > 0)
      assert.are.equal(narrow, raw.count)
      local few = assert(p.filters:eligible_count { filters = {
        { filter_id = "custom_allowlist", selected_values = { M1, M2 } } } })
      assert.are.equal(0, few) -- under 25 is shown as 0
      local _, err = p.filters:eligible_count { filters = { { filter_id = "shoe_size", selected_values = { "1" } } } }
      assert.are.equal(400, err.status)
      assert.truthy(err.fields["filters.0.filter_id"])
    end)

    it("raises on misuse before sending", function()
      nothing_sent(function()
        raises("p%.filters:eligible_count%(%): filters%[1%] needs one of selected_values or selected_range",
          p.filters.eligible_count, p.filters, { filters = { { filter_id = "age" } } })
        raises("p%.filters:eligible_count%(%): filters%[1%]%.selected_values%[1%] must be a string %(got 1, an integer%)",
          p.filters.eligible_count, p.filters, { filters = { { filter_id = "handedness", selected_values = { 1 } } } })
        raises("p%.filters:eligible_count%(%): filters is required", p.filters.eligible_count,
          p.filters, {})
        raises("p%.filters:list%(%): unknown option 'kind'", p.filters.list, p.filters, { kind = "x" })
      end)
    end)
  end)

  describe("filter sets", function()
    local FILTERS = { { filter_id = "handedness", selected_values = { "1" } },
      { filter_id = "age", selected_range = { lower = 18, upper = 30 } } }

    it("create → list → get → update (new version) → clone", function()
      local fs = assert(p.filter_sets:create { workspace_id = WS, name = "Young left-handers", filters = FILTERS })
      assert.are.equal("cohort.FilterSet", getmetatable(fs).__name)
      assert.are.equal(1, fs.version)
      assert.is_false(fs.is_locked)
      assert.is_number(fs.eligible_participant_count)
      assert.are.equal(('FilterSet %s… "Young left-handers" v1 (2 filters)'):format(fs.id:sub(1, 8)), tostring(fs))
      local listed = assert(p.filter_sets:all { workspace_id = WS })
      assert.are.equal(1, #listed)
      fs = assert(fs:update { name = "Left-handers", filters = { FILTERS[1] } })
      assert.are.equal(2, fs.version)
      local v1 = assert(fs:refresh { version_number = 1 })
      assert.are.equal(2, #v1.filters)
      local copy = assert(fs:clone { new_name = "Copy" })
      assert.are.equal("Copy", copy.name)
      assert.are_not.equal(fs.id, copy.id)
      assert.are.equal(2, #assert(p.filter_sets:all { workspace_id = WS }))
    end)

    it("a locked set refuses update and delete with 400; unlocked it accepts them", function()
      local fs = assert(p.filter_sets:create { workspace_id = WS, name = "Locked", filters = FILTERS })
      fs = assert(fs:lock())
      assert.is_true(fs.is_locked)
      assert.matches(" locked %(2 filters%)$", tostring(fs))
      local _, err = fs:update { name = "changed" }
      assert.is_true(Error.is(err))
      assert.are.equal(400, err.status)
      assert.matches("locked", err.message)
      local _, derr = fs:delete()
      assert.are.equal(400, derr.status)
      assert.are.equal("Locked", assert(fs:refresh()).name)
      fs = assert(fs:unlock())
      assert.is_false(fs.is_locked)
      assert(fs:update { name = "changed" })
      assert.is_true(fs:delete())
      local _, gerr = p.filter_sets:get(fs.id)
      assert.are.equal(404, gerr.status)
    end)

    it("raises on misuse before sending", function()
      nothing_sent(function()
        raises("p%.filter_sets:create%(%): give workspace_id or organisation_id", p.filter_sets.create,
          p.filter_sets, { name = "x" })
        raises("p%.filter_sets:update%(%): filters%[1%]%.selected_range: lower %(40%) is above upper %(30%)",
          p.filter_sets.update, p.filter_sets, NOPE,
          { filters = { { filter_id = "age", selected_range = { lower = 40, upper = 30 } } } })
        raises('p%.filter_sets:lock%(%): id must be a Prolific id of 24 hexadecimal digits %(got "two words", a string%)', p.filter_sets.lock,
          p.filter_sets, "two words")
        raises('p%.filter_sets:get%(%): version_number must be an integer %(got "1", a string%)', p.filter_sets.get,
          p.filter_sets, NOPE, { version_number = "1" })
      end)
    end)
  end)

  describe("participant groups and invitations", function()
    it("create with members → add → remove → participants → update → delete", function()
      local g = assert(p.groups:create { workspace_id = WS, name = "Passed checks",
        description = "Passed all attention checks", participant_ids = { M1, M2 } })
      assert.are.equal("cohort.ParticipantGroup", getmetatable(g).__name)
      assert.are.equal(2, g.participant_count)
      assert.are.equal(('ParticipantGroup %s… "Passed checks" (2 participants)'):format(g.id:sub(1, 8)), tostring(g))
      local members = assert(g:add { M2, M3 }) -- M2 already in: ignored
      assert.are.equal(3, #members)
      members = assert(p.groups:remove_participants(g.id, { participant_ids = { M1, NOPE } }))
      assert.are.equal(2, #members)
      local ids = {}
      for m in g:participants() do ids[#ids + 1] = m.participant_id end
      assert.are.same({ M2, M3 }, ids)
      assert.are.equal(2, assert(g:refresh()).participant_count)
      g = assert(g:update { name = "Renamed", participant_ids = { M9 } })
      assert.are.equal("Renamed", g.name)
      assert.are.equal(1, g.participant_count)
      assert.are.equal(1, #assert(p.groups:all { workspace_id = WS, active = true }))
      assert.is_true(g:delete())
      assert.are.equal(0, #assert(p.groups:all { workspace_id = WS, active = true }))
      assert.is_true(assert(p.groups:get(g.id)).is_deleted)
      local _, err = g:add { M1 }
      assert.are.equal(404, err.status)
    end)

    it("answers 400 with detail for a group in an unknown workspace", function()
      local _, err = p.groups:create { workspace_id = NOPE, name = "x" }
      assert.are.equal(400, err.status)
      assert.truthy(err.fields.workspace_id)
    end)

    it("invites by e-mail; refuses a project role on a workspace", function()
      local r = assert(p.invitations:create { association = WS, emails = { "ada@example.org", "bob@example.org" },
        role = "WORKSPACE_COLLABORATOR" })
      assert.are.equal(2, #r.invitations)
      assert.are.equal("INVITED", r.invitations[1].status)
      assert.are.equal("Invitation ada@example.org INVITED", tostring(r.invitations[1]))
      local _, err = p.invitations:create { association = WS, emails = { "ada@example.org" }, role = "PROJECT_EDITOR" }
      assert.are.equal(400, err.status)
      assert.truthy(err.fields.association)
      assert(p.invitations:create { association = P1, emails = { "ada@example.org" }, role = "PROJECT_EDITOR" })
    end)

    it("raises on misuse before sending", function()
      nothing_sent(function()
        raises("p%.groups:create%(%): give exactly one of workspace_id or organisation_id", p.groups.create,
          p.groups, { name = "x" })
        raises("p%.groups:list%(%): give workspace_id", p.groups.list, p.groups, {})
        raises('p%.groups:add_participants%(%): participant_ids%[2%] must be a Prolific id of 24 hexadecimal digits %(got "", a string%)',
          p.groups.add_participants, p.groups, NOPE, { M1, "" })
        raises('p%.groups:add_participants%(%): participant_ids%[1%] must be a Prolific id of 24 hexadecimal digits %(got "not%-an%-id", a string%)',
          p.groups.add_participants, p.groups, NOPE, { "not-an-id" })
        raises("p%.groups:remove_participants%(%): participant_ids must not be empty",
          p.groups.remove_participants, p.groups, NOPE, {})
        raises('p%.invitations:create%(%): role must be one of .*%(got "OWNER", a string%)',
          p.invitations.create, p.invitations, { association = WS, emails = { "a@b.org" }, role = "OWNER" })
        raises('p%.invitations:create%(%): emails%[1%] must be an e%-mail address %(got "not%-an%-email", a string%)', p.invitations.create,
          p.invitations, { association = WS, emails = { "not-an-email" }, role = "WORKSPACE_ADMIN" })
      end)
    end)
  end)
end)
