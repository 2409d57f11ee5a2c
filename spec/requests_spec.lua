-- Requests by schema, checked before anything is sent (issue #12 point 2), over real HTTP
-- against the sandbox, whose request log shows what went out: empty arrays as [], no body
-- where the operation has none, every path id, query parameter and body field checked, errors
-- naming the call as the user wrote it (with the value and its type), calls with a dot refused.
describe("requests by schema", function()
  local env = require "support.env"
  local resource = require "cohort.resource"
  local STUDY = "60aca280709ee40ec37d4885"
  local DRAFT = "60aca280709ee40ec37d4887"
  local WORKSPACE = "60a42f4c693c29420793cb74"
  local SUB = "625d4a831bcda2d59ac5a251"
  local PID = "60bf9310e8dec401be6e9615"
  local p

  setup(function() p = env.prolific() end)
  before_each(function()
    env.reset()
    env.control("DELETE", "requests")
  end)
  teardown(function() env.reset() end)

  local function fields(extra)
    local f = {
      name = "Schema study", description = "Checks the requests.",
      external_study_url = "https://example.org/s", prolific_id_option = "url_parameters",
      completion_codes = { { code = "C0DE", code_type = "COMPLETED", actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 100, total_available_places = 5,
    }
    for k, v in pairs(extra or {}) do f[k] = v end
    return f
  end

  -- the message `fn` raises, with nothing sent
  local function refused(fn)
    local before = #env.requests()
    local ok, msg = pcall(fn)
    assert.is_false(ok, "did not raise")
    assert.are.equal(before, #env.requests(), "a request was sent")
    return (tostring(msg):gsub("^[^\n]-:%d+: ", ""))
  end

  local function last(method, pattern)
    local log = env.requests()
    for i = #log, 1, -1 do
      if log[i].method == method and log[i].path:find(pattern) then return log[i] end
    end
  end

  describe("encoding", function()
    it("an empty table in an array field goes as []", function()
      local st = assert(p.studies:create(fields { filters = {}, peripheral_requirements = {} }))
      local body = last("POST", "^/api/v1/studies/$").body
      assert.truthy(body:find('"filters":[]', 1, true), body)
      assert.truthy(body:find('"peripheral_requirements":[]', 1, true), body)
      assert.is_nil(body:find("{}", 1, true), body)
      assert(st:update { device_compatibility = {} })
      assert.truthy(last("PATCH", "^/api/v1/studies/").body:find('"device_compatibility":[]', 1, true))
      local count = assert(p.filters:eligible_count { filters = {} })
      assert.is_number(count)
      assert.are.equal('{"filters":[]}', last("POST", "eligibility%-count").body)
    end)

    it("sends no body where the operation has none, and refuses arguments to it", function()
      local fs = assert(p.filter_sets:create { workspace_id = WORKSPACE, name = "Locks",
        filters = { { filter_id = "handedness", selected_values = { "1" } } } })
      assert(fs:lock())
      assert.are.equal("", last("POST", "/lock/$").body)
      assert(p.filter_sets:unlock(fs.id))
      assert.are.equal("", last("POST", "/unlock/$").body)
      local batch = assert(p.bonuses:setup { study = STUDY, bonuses = { { SUB, 1.5 } } })
      assert(batch:pay())
      assert.are.equal("", last("POST", "/pay/$").body)
      assert.are.equal('cohort: p.bonuses:pay(): takes no fields (the operation has neither query nor body); write p.bonuses:pay(id)',
        refused(function() p.bonuses:pay(batch.id, { amount = 1 }) end))
      assert.matches("p%.filter_sets:lock%(%): takes no fields", refused(function() p.filter_sets:lock(fs.id, {}) end))
      assert.are.equal("cohort: batch:pay(): takes no arguments; write batch:pay()",
        refused(function() batch:pay { now = true } end))
    end)

    it("converts query values for the URL: booleans as true/false", function()
      assert(p.studies:cost(DRAFT, { is_projected = true }))
      assert.are.equal("true", last("GET", "/cost/$").query.is_projected)
      assert(p.groups:list { workspace_id = WORKSPACE, active = false })
      assert.are.equal("false", last("GET", "^/api/v1/participant%-groups/$").query.active)
      assert(p.submissions:list { study = STUDY, status = "awaiting review" })
      assert.are.equal("AWAITING_REVIEW", last("GET", "^/api/v1/submissions/$").query.status)
    end)

    it("marks the operations whose documented success has no body as empty_ok", function()
      local P = resource.registry.prolific
      local function req(name, ...)
        local r = resource.build(P, p, resource.row("prolific", "studies", name), "x", ...)
        return r
      end
      assert.is_true(req("delete", { DRAFT }).empty_ok)
      assert.is_nil(req("get", { DRAFT }).empty_ok)
      assert.is_true(p.studies:delete(DRAFT))
      assert.is_true(p.messages:send { recipient = PID, study = STUDY, body = "Thanks" })
    end)
  end)

  describe("checks", function()
    it("path ids by their format: 24 hexadecimal digits", function()
      for _, bad in ipairs { "nope", "../studies", "60aca280709ee40ec37d488", "60aca280709ee40ec37d4885/x" } do
        assert.are.equal(('cohort: p.studies:get(): id must be a Prolific id of 24 hexadecimal digits (got %q, a string)'):format(bad),
          refused(function() p.studies:get(bad) end))
      end
      assert.are.equal("cohort: p.studies:get(): id must be a string (got 42, an integer)",
        refused(function() p.studies:get(42) end))
      assert.are.equal("cohort: p.studies:get(): id is required; write p.studies:get(id)",
        refused(function() p.studies:get() end))
      assert.are.equal("cohort: p.projects:list(): workspace_id is required; write p.projects:list(workspace_id, {...})",
        refused(function() p.projects:list() end))
    end)

    it("ids inside bodies, and UUIDs where the schema says uuid", function()
      assert.are.equal('cohort: p.groups:create(): participant_ids[2] must be a Prolific id of 24 hexadecimal digits (got "not-an-id", a string)',
        refused(function()
          p.groups:create { workspace_id = WORKSPACE, name = "g", participant_ids = { PID, "not-an-id" } }
        end))
      assert.are.equal("cohort: p.groups:create(): workspace_id must be a string (got 7, an integer)",
        refused(function() p.groups:create { workspace_id = 7, name = "g" } end))
      assert.matches('questions%[1%]%.question_id must be a UUID .*%(got "q1", a string%)', refused(function()
        p.surveys:add_response(STUDY, { participant_id = PID, submission_id = SUB,
          questions = { { question_id = "q1", question_title = "t", answers = {} } } })
      end))
    end)

    it("query parameters: names, types, enums", function()
      assert.are.equal("cohort: p.submissions:list(): unknown option 'stuyd'",
        refused(function() p.submissions:list { stuyd = STUDY } end))
      assert.are.equal('cohort: p.submissions:list(): page must be an integer (got "2", a string)',
        refused(function() p.submissions:list { study = STUDY, page = "2" } end))
      assert.are.equal("cohort: p.submissions:list(): page_size must be at most 200 (got 500, an integer)",
        refused(function() p.submissions:list { study = STUDY, page_size = 500 } end))
      assert.matches('^cohort: p%.submissions:list%(%): status must be one of "RESERVED", .* %(got "DONE", a string%)$',
        refused(function() p.submissions:list { study = STUDY, status = "DONE" } end))
      assert.are.equal('cohort: p.studies:export(): method must be one of "EMAIL" (got "FAX", a string)',
        refused(function() p.studies:export(STUDY, { method = "FAX" }) end))
    end)

    it("body fields: types, enums, required, nested items, with the value and its type", function()
      assert.are.equal('cohort: p.studies:create(): reward must be a number (got "150", a string)',
        refused(function() p.studies:create(fields { reward = "150" }) end))
      assert.are.equal('cohort: p.studies:create(): filters[2].selected_range.lower must be an integer or an ISO 8601 date (got "18", a string)',
        refused(function()
          p.studies:create(fields { filters = { { filter_id = "handedness", selected_values = { "1" } },
            { filter_id = "age", selected_range = { lower = "18" } } } })
        end))
      assert.are.equal('cohort: p.studies:create(): prolific_id_option must be one of "question", "url_parameters", "not_required" (got "url", a string)',
        refused(function() p.studies:create(fields { prolific_id_option = "url" }) end))
      local f = fields()
      f.completion_codes = nil
      assert.are.equal("cohort: p.studies:create(): completion_codes is required",
        refused(function() p.studies:create(f) end))
      assert.are.equal('cohort: p.studies:create(): completion_codes[1].code_type must be one of "COMPLETED", "FAILED_ATTENTION_CHECK", "FOLLOW_UP_STUDY", "GIVE_BONUS", "INCOMPATIBLE_DEVICE", "NO_CONSENT", "OTHER" (got "DONE", a string)',
        refused(function()
          p.studies:create(fields { completion_codes = { { code = "X", code_type = "DONE", actions = {} } } })
        end))
      assert.are.equal("cohort: p.studies:create(): colour is not a field of this request",
        refused(function() p.studies:create(fields { colour = "red" }) end))
      assert.are.equal('cohort: p.bonuses:setup(): bonuses[1] amount must be a finite number in major units, e.g. 1.50 for £1.50 (got "1,50", a string)',
        refused(function() p.bonuses:setup { study = STUDY, bonuses = { { SUB, "1,50" } } } end))
    end)

    it("a verb's errors name the verb and the fields as the verb takes them, never internals", function()
      local sub = assert(p.submissions:get(SUB))
      local msg = refused(function() sub:reject { message = "too short", category = "LOW_EFFORT" } end)
      assert.are.equal("cohort: sub:reject(): message must be at least 100 characters to reject (got 9)", msg)
      msg = refused(function() sub:reject { message = ("x"):rep(120), category = "LAZY" } end)
      assert.matches('^cohort: sub:reject%(%): category must be one of "TOO_QUICKLY", .* %(got "LAZY", a string%)$', msg)
      assert.is_nil(msg:find("transition", 1, true), msg)
      assert.is_nil(msg:find("rejection_category", 1, true), msg)
      assert.are.equal("cohort: sub:reject(): unknown option 'reason'",
        refused(function() sub:reject { reason = "x" } end))
      assert.are.equal("cohort: sub:reject(): expected a table; write sub:reject{...}",
        refused(function() sub:reject() end))
      assert.are.equal("cohort: sub:approve(): takes no arguments; write sub:approve()",
        refused(function() sub:approve { now = true } end))
      local study = assert(p.studies:get(DRAFT))
      assert.matches('^cohort: study:schedule%(%): at must be a date and time such as "2025%-01%-31T09:00:00Z" %(got "soon", a string%)$',
        refused(function() study:schedule { at = "soon" } end))
      assert.are.equal("cohort: study:update(): nothing to update: give at least one field",
        refused(function() study:update {} end))
    end)

    it("a call with a dot instead of a colon raises and says so", function()
      local sub = assert(p.submissions:get(SUB))
      assert.are.equal("cohort: p.submissions.list(): called with a dot; write p.submissions:list{...}",
        refused(function() p.submissions.list { study = STUDY } end))
      assert.are.equal("cohort: p.submissions.get(): called with a dot; write p.submissions:get(id)",
        refused(function() p.submissions.get(SUB) end))
      assert.are.equal("cohort: p.submissions.each(): called with a dot; write p.submissions:each{...}",
        refused(function() for _ in p.submissions.each { study = STUDY } do end end))
      assert.are.equal("cohort: p.users.me(): called with a dot; write p.users:me()",
        refused(function() p.users.me() end))
      assert.are.equal("cohort: sub.approve(): called with a dot; write sub:approve()",
        refused(function() sub.approve() end))
      assert.are.equal("cohort: sub.reject(): called with a dot; write sub:reject{...}",
        refused(function() sub.reject { message = ("x"):rep(120), category = "OTHER" } end))
      assert.are.equal("cohort: p.submissions.approve_all(): called with a dot; write p.submissions:approve_all{...}",
        refused(function() p.submissions.approve_all { ids = { SUB } } end))
      assert.matches("^cohort: sub%.wait_for%(%): called with a dot",
        refused(function() sub.wait_for("APPROVED") end))
      local q = env.questionpro()
      assert.are.equal("cohort: q.responses.list(): called with a dot; write q.responses:list(survey_id, {...})",
        refused(function() q.responses.list(7654321) end))
      local resp = assert(q.responses:get(7654321, 90000001))
      assert.are.equal("cohort: response.answer(): called with a dot; write response:answer(...)",
        refused(function() resp.answer("Q1") end))
    end)

    it("bulk helpers check every item before the first is sent", function()
      local subs = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
      env.control("DELETE", "requests")
      local items = {}
      for i = 1, 3 do items[i] = { id = subs[i].id, message = ("y"):rep(100), category = "OTHER" } end
      items[3].category = "LAZY"
      assert.matches('^cohort: p%.submissions:reject_all%(%): items%[3%]%.category must be one of .* %(got "LAZY", a string%)$',
        refused(function() p.submissions:reject_all { items = items } end))
      items[3].category, items[2].message = "OTHER", "short"
      assert.are.equal("cohort: p.submissions:reject_all(): items[2].message must be at least 100 characters to reject (got 5)",
        refused(function() p.submissions:reject_all { items = items } end))
      assert.are.equal('cohort: p.submissions:approve_all(): ids[3] must be a Prolific id of 24 hexadecimal digits (got "x", a string)',
        refused(function() p.submissions:approve_all { ids = { subs[1].id, subs[2].id, "x" } } end))
      local rows = { { subs[1].participant_id, 1 }, { subs[2].participant_id, 1 }, { subs[3].participant_id, "2" } }
      assert.matches('^cohort: p%.bonuses:pay_all%(%): bonuses%[3%] amount must be a finite number .*%(got "2", a string%)$',
        refused(function() p.bonuses:pay_all { study = STUDY, bonuses = rows } end))
      for i = 1, 205 do rows[i] = { subs[1].participant_id, 1 } end
      rows[204] = { "nope", 1 }
      assert.matches('^cohort: p%.bonuses:pay_all%(%): bonuses%[204%] id must be a Prolific id',
        refused(function() p.bonuses:pay_all { study = STUDY, bonuses = rows } end))
      assert.are.equal(0, #env.requests())
    end)
  end)
end)
