-- The sandbox holds every Prolific request to the spec's schema and answers by the spec's
-- response schemas (issue #12, point 3), over real HTTP with plain core sessions and hand-made
-- bodies, so that no check of the client hides the sandbox's. The suite's sandbox runs with
-- --strict (spec/support/env.lua): an answer that departs from its success schema is a 500, so
-- every 2xx seen here is also an answer that fits the spec.
describe("sandbox contract", function()
  local env = require "support.env"
  local core = require "cohort.core"
  local schema = require "cohort.schema"
  local S = schema.load "prolific"

  local WS = "60a42f4c693c29420793cb74"
  local PROJECT = "60a42f4c693c29420793cb75"
  local USER = "60a42f4c693c29420793cb73"
  local STUDY = "60aca280709ee40ec37d4885"
  local DRAFT = "60aca280709ee40ec37d4887"
  local SUB = "625d4a831bcda2d59ac5a251"
  local PID = "60bf9310e8dec401be6e9615"
  local NOPE = "000000000000000000000000"

  local session
  local called = {} -- operationId → statuses seen
  local valid = {} -- operationId → a body the sandbox took (for the mutations below)
  local DROP = {} -- in study_body's extra: leave the field out

  -- One request: method, path (absolute, ids inline), query table, body (a Lua value encoded by
  -- `node`, or text). Returns status, decoded body (or the text), the raw result; or nil, err.
  local function http(method, path, query, body, node)
    session = session or core.session { auth = "token", secret = env.sandbox().token,
      platform = "prolific" }
    if type(body) == "table" then body = schema.encode(S, node, body) end
    local r = session:request { method = method, base = env.sandbox().url, path = path,
      query = query, body = body }
    if r.err then return nil, r.err end
    local value = r.body
    if r.body ~= "" and (r.headers["content-type"] or ""):find("json") then value = core.decode(r.body) end
    return r.status, value, r
  end

  -- Call an operation by its id: the path's {params} filled from `ids` in order.
  local function op(id, ids, query, body)
    local o = assert(S.operations[id], id)
    local i = 0
    local path = o.path:gsub("{[^}]*}", function()
      i = i + 1
      return assert(ids and ids[i], id .. ": an id for the path")
    end)
    local status, value, r = http(o.method, path, query, body, o.body and o.body.schema)
    called[id] = called[id] or {}
    called[id][#called[id] + 1] = status or (value and value.status)
    if status and type(body) == "table" and valid[id] == nil then valid[id] = body end
    return status, value, r
  end

  -- Call and expect the documented success status.
  local function ok(id, ids, query, body)
    local status, value, r = op(id, ids, query, body)
    if status == nil then
      error(("%s: %s %s"):format(id, tostring(value.status), tostring(value.message)), 2)
    end
    assert.are.equal(S.operations[id].success.status, status, id)
    return value, r
  end

  -- Call and expect an error status; returns the error (cohort's reading of the envelope).
  local function fails(status, id, ids, query, body)
    local s, err = op(id, ids, query, body)
    assert.is_nil(s, id .. " should have failed")
    assert.are.equal(status, err.status, id .. ": " .. tostring(err.message))
    return err
  end

  local function study_body(extra)
    local b = { name = "Contract study", description = "Checks the sandbox against the spec.",
      external_study_url = "https://example.org/s?PROLIFIC_PID={{%PROLIFIC_PID%}}",
      prolific_id_option = "url_parameters", estimated_completion_time = 5, reward = 100,
      total_available_places = 10, device_compatibility = { "desktop" },
      peripheral_requirements = {}, filters = {},
      completion_codes = { { code = "CONTRACT1", code_type = "COMPLETED",
        actions = { { action = "MANUALLY_REVIEW" } } } } }
    for k, v in pairs(extra or {}) do
      if v == DROP then b[k] = nil else b[k] = v end
    end
    return b
  end

  local function awaiting(n)
    local status, page = http("GET", "/api/v1/studies/" .. STUDY .. "/submissions/",
      { status = "AWAITING_REVIEW", page_size = 50 })
    assert.are.equal(200, status)
    assert.is_true(#page.results >= n)
    return page.results
  end

  before_each(function() env.reset() end)
  teardown(function() env.reset() end)

  describe("the route table", function()
    it("maps every route to its operation: 85 of 85 #sandbox54", function()
      local prolific = require "cohort.sandbox.prolific"
      local n, rows = 0, 0
      for id, row in pairs(prolific.by_operation) do
        n = n + 1
        assert.is_truthy(S.operations[id], id)
        assert.are.equal(S.operations[id].method, row[1])
      end
      for _ in ipairs(prolific.routes) do rows = rows + 1 end
      assert.are.equal(85, S.count)
      assert.are.equal(85, n)
      assert.are.equal(85, rows)
    end)

    it("refuses to start with a route that names no operation, or an operation without a route #sandbox54", function()
      local contract = require "cohort.sandbox.prolific_contract"
      local prolific = require "cohort.sandbox.prolific"
      local rows = {}
      for i, r in ipairs(prolific.routes) do rows[i] = { r[1], r[2], r[3], op = r.op } end
      local extra = { "GET", "studies/{id}/extra", function() end }
      rows[#rows + 1] = extra
      assert.has_error(function() contract.bind(rows) end,
        "cohort.sandbox: route GET studies/{id}/extra names no operation of the spec (op = nil)")
      table.remove(rows)
      local last = table.remove(rows)
      local ok_, msg = pcall(contract.bind, rows)
      assert.is_false(ok_)
      assert.matches("no route for " .. last.op, msg)
      rows[#rows + 1] = { last[1], "studies/{id}/elsewhere", last[3], op = last.op }
      ok_, msg = pcall(contract.bind, rows)
      assert.is_false(ok_)
      assert.matches("is not " .. last.op, msg)
    end)
  end)

  describe("every operation answers its documented status and shape", function()
    it("runs all 85 operations with valid requests", function()
      called = {}
      -- users, workspaces, projects
      local me = ok("GetUser")
      assert.are.equal(USER, me.id)
      local wss = ok("GetWorkspaces")
      assert.are.equal(1, wss.meta.count)
      ok("GetWorkspace", { WS })
      local bal = ok("GetWorkspaceBalance", { WS })
      assert.are.equal(100000, bal.total_balance)
      local ws2 = ok("CreateWorkspace", nil, nil, { title = "Second lab", currency_code = "USD" })
      assert.is_nil(ws2.description) -- not nullable in the spec: left out, never null
      local ws2b = ok("UpdateWorkspace", { ws2.id }, nil, { id = ws2.id, title = "Second lab (renamed)" })
      assert.are.equal("Second lab (renamed)", ws2b.title)
      ok("GetProjects", { WS })
      local pr = ok("CreateProject", { WS }, nil, { title = "Pilot" })
      assert.are.equal(WS, pr.workspace)
      ok("GetProject", { pr.id })
      ok("UpdateProject", { pr.id }, nil, { id = pr.id, title = "Pilot (renamed)" })
      ok("GetProjectStudies", { PROJECT })

      -- studies
      ok("GetStudies", nil, { state = "(ACTIVE|UNPUBLISHED)" })
      local st = ok("CreateStudy", nil, nil, study_body())
      assert.are.equal("UNPUBLISHED", st.status)
      ok("GetStudy", { st.id })
      ok("UpdateStudy", { st.id }, nil, { internal_name = "contract-1" })
      local copy = ok("DuplicateStudy", { st.id }, nil, { block_previous_participants = true })
      ok("DeleteStudy", { copy.id })
      ok("GetStudyCost", { st.id }, { is_projected = "true" })
      local csv, raw = ok("ExportStudy", { STUDY })
      assert.matches("^text/csv", raw.headers["content-type"])
      assert.matches("^submission_id,participant_id", csv)
      local mail = ok("ExportStudy", { STUDY }, { method = "EMAIL" })
      assert.are.equal("Your export should arrive shortly.", mail.status)
      ok("GetStudyPredictedRecruitmentTime", { st.id })
      ok("PostStudyPredictedRecruitmentTime", nil, nil, { filters = {}, workspace_id = WS,
        reward = 100, study_type = "SINGLE", total_available_places = 20, estimated_completion_time = 5 })
      ok("CalculateStudyCost", nil, nil, { reward = 100, total_available_places = 10 })
      ok("TestStudySetUp", { st.id }, nil, { target_participant_id = PID })
      local task = ok("CreateStudy", nil, nil, study_body { external_study_url = DROP,
        access_details = { { external_url = "https://example.org/a", total_allocation = 4 },
          { external_url = "https://example.org/b", total_allocation = 6 } } })
      assert.is_nil(task.external_study_url)
      local prog = ok("GetStudyAccessDetailsProgress", { task.id })
      assert.are.equal(2, #prog.progress)
      local live = ok("PublishStudy", { st.id }, nil, { action = "PUBLISH" })
      assert.are.equal("ACTIVE", live.status)

      -- submissions
      local list = ok("GetSubmissions", nil, { study = STUDY })
      assert.are.equal(45, list.meta.count)
      assert.is_boolean(list.results[1].has_siblings)
      ok("GetStudySubmissions", { STUDY }, { status = "APPROVED" })
      local detail = ok("GetSubmission", { SUB })
      assert.are.equal(PID, detail.participant)
      local waiting = awaiting(4)
      local approved = ok("TransitionSubmission", { waiting[1].id }, nil, { action = "APPROVE" })
      assert.are.equal("APPROVED", approved.status)
      local bulk = ok("BulkApproveSubmissions", nil, nil, { submission_ids = { waiting[2].id } })
      assert.is_string(bulk)
      local back = ok("RequestSubmissionReturn", { waiting[3].id }, nil,
        { request_return_reasons = { "Did not finish the task." } })
      assert.is_string(back.return_requested)
      ok("CalculateBulkScreenOutPayment", { STUDY }, nil, { submission_ids = { waiting[4].id } })
      local screening = ok("CreateStudy", nil, nil, study_body { is_custom_screening = true })
      ok("PublishStudy", { screening.id }, nil, { action = "PUBLISH" })
      local run = env.control("POST", "studies/" .. screening.id .. "/simulate",
        { participants = 1, returns = 0, timeouts = 0, duration_ms = 0 })
      local screened = ok("BulkScreenOutSubmissions", { screening.id }, nil,
        { submission_ids = run.submission_ids, bonus_per_submission = 2 })
      assert.are.equal(200, screened.payment_per_participant.amount)

      -- money and messages
      local batch = ok("CreateBonusPayments", nil, nil, { study_id = STUDY, csv_bonuses = PID .. ",1.50\n" })
      assert.are.equal(150, batch.amount)
      local paid = ok("PayBonusPayments", { batch.id })
      assert.is_string(paid)
      ok("SendMessage", nil, nil, { recipient_id = PID, body = "Thank you.", study_id = STUDY })
      ok("GetMessages", nil, { user_id = PID })
      ok("GetUnreadMessages")
      ok("SendBulkMessage", nil, nil, { ids = { PID }, body = "A follow-up opens soon.", study_id = STUDY })

      -- participant groups and invitations
      local g = ok("CreateParticipantGroup", nil, nil, { name = "Passed", workspace_id = WS,
        participant_ids = { PID } })
      assert.are.equal(1, g.participant_count)
      ok("SendGroupMessage", nil, nil, { participant_group_id = g.id, body = "Hello, group." })
      ok("GetParticipantGroups", nil, { workspace_id = WS })
      ok("GetParticipantGroup", { g.id })
      ok("UpdateParticipantGroup", { g.id }, nil, { name = "Passed checks" })
      ok("GetParticipantGroupParticipants", { g.id })
      local other = list.results[2].participant_id
      local added = ok("AddToParticipantGroup", { g.id }, nil, { participant_ids = { other } })
      assert.are.equal(2, #added.results)
      local removed = ok("RemoveFromParticipantGroup", { g.id }, nil, { participant_ids = { other } })
      assert.are.equal(1, #removed.results)
      ok("DeleteParticipantGroup", { g.id })
      local inv = ok("CreateInvitation", nil, nil, { association = WS, emails = { "c@example.org" },
        role = "WORKSPACE_COLLABORATOR" })
      assert.are.equal(1, #inv.invitations)

      -- filters and filter sets
      local filters = ok("GetFilters")
      assert.is_true(filters.meta.count > 0)
      ok("GetFilters", nil, { detailed = "true" })
      local age = { filter_id = "age", selected_range = { lower = 18, upper = 40 } }
      ok("GetEligibleCount", nil, nil, { filters = { age } })
      local fs = ok("CreateFilterSet", nil, nil, { name = "Adults", workspace_id = WS, filters = { age } })
      ok("GetFilterSets", nil, { workspace_id = WS })
      ok("GetFilterSet", { fs.id })
      ok("UpdateFilterSet", { fs.id }, nil, { name = "Young adults" })
      local clone = ok("CloneFilterSet", { fs.id }, nil, { new_name = "Copy" })
      ok("LockFilterSet", { clone.id })
      ok("UnlockFilterSet", { clone.id })
      ok("DeleteFilterSet", { clone.id })

      -- surveys and responses
      local survey = ok("CreateSurvey", nil, nil, { researcher_id = USER, title = "Mood",
        questions = { { title = "How are you?", type = "single",
          answers = { { value = "Well" }, { value = "Not well" } } } } })
      local q = survey.questions[1]
      ok("GetSurveys", nil, { researcher_id = USER })
      ok("GetSurvey", { survey._id })
      local resp, rraw = ok("CreateResponse", { survey._id }, nil, { participant_id = PID,
        submission_id = SUB, questions = { { question_id = q.id, question_title = q.title,
          answers = { { answer_id = q.answers[1].id, value = q.answers[1].value } } } } })
      assert.matches('"sections":%[%]', rraw.body) -- an array, even empty
      ok("GetResponses", { survey._id })
      ok("GetResponse", { survey._id, resp._id })
      local summary = ok("GetSummary", { survey._id })
      assert.are.equal(1, summary.questions[1].total_answers)
      ok("DeleteResponse", { survey._id, resp._id })
      ok("DeleteResponses", { survey._id })
      ok("DeleteSurvey", { survey._id })

      -- mutually exclusive collections
      local draft2 = ok("CreateStudy", nil, nil, study_body { project = PROJECT })
      local c = ok("CreateMutuallyExclusiveStudyCollection", nil, nil, { project_id = PROJECT,
        name = "Arms", description = "One arm each", study_ids = { DRAFT } })
      assert.is_nil(c.project_id) -- a closed object in the spec
      ok("ListMutuallyExclusiveStudyCollections", nil, { project_id = PROJECT })
      ok("GetMutuallyExclusiveStudyCollection", { c.id })
      ok("UpdateMutuallyExclusiveStudyCollection", { c.id }, nil, { name = "Two arms" })
      ok("TransitionMutuallyExclusiveStudyCollection", { c.id }, nil, { action = "PUBLISH" })
      local c2 = ok("CreateMutuallyExclusiveStudyCollection", nil, nil, { project_id = PROJECT,
        name = "Spare", description = "Deleted again", study_ids = { draft2.id } })
      ok("DeleteMutuallyExclusiveStudyCollection", { c2.id })

      -- hooks
      ok("GetEventTypes")
      ok("CreateSecret", nil, nil, { workspace_id = WS })
      ok("GetSecrets", nil, { workspace_id = WS })
      local sub, sraw = ok("CreateSubscription", nil, nil, { workspace_id = WS,
        event_type = "submission.status.change", target_url = "https://example.org/hook" })
      assert.are.equal(sub.id, sub.results[1].id) -- SubscriptionList, with the detail's fields
      local secret = sraw.headers["x-hook-secret"]
      assert.is_string(secret)
      local confirmed = ok("ConfirmSubscription", { sub.id }, nil, { secret = secret })
      assert.is_true(confirmed.is_enabled)
      ok("GetSubscription", { sub.id })
      ok("GetSubscriptions", nil, { workspace_id = WS })
      ok("UpdateSubscription", { sub.id }, nil, { event_type = "submission.status.change",
        target_url = "https://example.org/hook2", is_enabled = true })
      ok("TransitionSubmission", { awaiting(1)[1].id }, nil, { action = "APPROVE" })
      local events = ok("GetEvents", { sub.id })
      assert.are.equal(1, #events.results)
      ok("DeleteSubscription", { sub.id })

      local n, missing = 0, {}
      for id in pairs(S.operations) do
        if called[id] then n = n + 1 else missing[#missing + 1] = id end
      end
      table.sort(missing)
      assert.are.equal("", table.concat(missing, ", "))
      assert.are.equal(85, n)
    end)

    it("keeps the live envelope of lists: results, _links, meta.count, 404 past the end", function()
      local page = ok("GetSubmissions", nil, { study = STUDY, page_size = 20, page = 3 })
      assert.are.equal(5, #page.results)
      assert.are.equal(45, page.meta.count)
      assert.is_table(page._links.self)
      assert.is_nil(page._links.next.href) -- null (cohort's decoder leaves null fields out)
      fails(404, "GetSubmissions", nil, { study = STUDY, page_size = 20, page = 4 })
      -- list items carry participant_id/study_code, the detail participant/entered_code
      local item = page.results[1]
      assert.is_string(item.participant_id)
      assert.is_nil(item.participant)
      local d = ok("GetSubmission", { SUB })
      assert.are.equal("8E8AC860", d.entered_code)
      assert.is_nil(d.participant_id)
      -- an empty list is an array
      local _, raw = ok("GetStudySubmissions", { DRAFT })
      assert.matches('"results":%[%]', raw.body)
    end)

    it("answers DeleteStudy 200 with no body, as the spec documents", function()
      local _, value, r = op("DeleteStudy", { DRAFT })
      assert.are.equal(200, r.status)
      assert.are.equal("", value)
      fails(404, "GetStudy", { DRAFT })
    end)
  end)

  describe("requests the spec forbids", function()
    it("answers a path id that is not an object id as an unknown one: 404", function()
      for _, bad in ipairs { "nope", "not-an-id", "60aca280709ee40ec37d488", "60aca280709ee40ec37d4885x" } do
        local err = fails(404, "GetStudy", { bad })
        assert.are.equal("Study not found.", err.message)
      end
      assert.are.equal("Survey not found.", fails(404, "GetResponse", { "nope", SUB }).message)
      assert.are.equal("Response not found.", fails(404, "GetResponse", { NOPE, "nope" }).message)
      assert.are.equal("Study collection not found.",
        fails(404, "GetMutuallyExclusiveStudyCollection", { "x" }).message)
      -- the handler is not reached: a malformed id never changes anything
      assert.are.equal("Submission not found.",
        fails(404, "TransitionSubmission", { "nope" }, nil, { action = "APPROVE" }).message)
    end)

    it("lists every top-level field at fault, not only the first", function()
      local err = fails(400, "CreateStudy", nil, nil, study_body { reward = "1", name = 5,
        total_available_places = schema.null, prolific_id_option = DROP })
      assert.is_table(err.fields.reward)
      assert.is_table(err.fields.name)
      assert.is_table(err.fields.total_available_places)
      assert.are.same({ "is required" }, err.fields.prolific_id_option)
    end)

    it("answers 400 naming the query parameter of a wrong type, value or format", function()
      local cases = {
        { "GetSubmissions", { page_size = "x" }, "page_size", "must be an integer" },
        { "GetSubmissions", { page_size = "500" }, "page_size", "must be at most 200" },
        { "GetSubmissions", { page = "0" }, "page", "must be at least 1" },
        { "GetSubmissions", { study = "nope" }, "study", "must be a Prolific id" },
        { "GetSubmissions", { status = "AWAITING REVIEW" }, "status", "must be one of" },
        { "GetFilters", { detailed = "maybe" }, "detailed", "must be a boolean" },
        { "GetParticipantGroups", { workspace_id = WS, active = "yes" }, "active", "must be one of" },
        { "GetSurveys", { researcher_id = USER, limit = "-1" }, "limit", "must be at least 1" },
      }
      for _, c in ipairs(cases) do
        local err = fails(400, c[1], nil, c[2])
        assert.is_table(err.fields[c[3]], c[1] .. " " .. c[3])
        assert.matches(c[4], err.fields[c[3]][1], 1, true)
      end
      local err = fails(400, "GetStudyCost", { STUDY }, { is_projected = "perhaps" })
      assert.matches("must be a boolean", err.fields.is_projected[1])
      err = fails(400, "ExportStudy", { STUDY }, { method = "POST" })
      assert.is_table(err.fields.method)
    end)

    it("answers 400 to a body where the operation has none", function()
      local cases = {
        { "PayBonusPayments", { NOPE } }, { "LockFilterSet", { NOPE } },
        { "UnlockFilterSet", { NOPE } }, { "DeleteStudy", { DRAFT } },
        { "DeleteSubscription", { NOPE } },
      }
      for _, c in ipairs(cases) do
        local err = fails(400, c[1], c[2], nil, "{}")
        assert.matches("takes no request body", err.fields.non_field_errors[1], 1, true)
      end
      ok("GetStudy", { DRAFT }) -- the refused DELETE deleted nothing
    end)

    it("answers 400 to a body that is not JSON, or an array where an object is due", function()
      local err = fails(400, "CreateStudy", nil, nil, '{"name": ')
      assert.matches("^JSON parse error", err.message)
      err = fails(400, "CreateStudy", nil, nil, "[]")
      assert.are.equal("the body must be an object (got [], an empty array)", err.fields.non_field_errors[1])
      err = fails(400, "CreateParticipantGroup", nil, nil, '[{"name":"x"}]')
      assert.matches("must be an object", err.fields.non_field_errors[1])
      err = fails(400, "CreateInvitation")
      assert.matches("body is required", err.fields.non_field_errors[1])
    end)

    it("answers 400 in Prolific's envelope naming the field, for a wrong value in any body", function()
      local status, e = op("CreateStudy", nil, nil, study_body { reward = "150" })
      assert.is_nil(status)
      assert.are.equal(400, e.status)
      assert.are.equal(140000, e.code)
      assert.are.equal("Bad Request", e.title)
      assert.are.same({ reward = { 'must be a number (got "150", a string)' } }, e.detail)
      local cases = {
        { study_body { device_compatibility = "desktop" }, "device_compatibility", "must be an array" },
        { study_body { device_compatibility = { "watch" } }, "device_compatibility.0", "must be one of" },
        { study_body { filters = { { filter_id = "age" } } }, "filters.0",
          "needs one of selected_values or selected_range" },
        { study_body { filters = { { filter_id = "age", selected_range = { lower = "18" } } } },
          "filters.0.selected_range.lower", "must be an integer or an ISO 8601 date" },
        { study_body { completion_codes = { { code = "A", code_type = "COMPLETED",
          actions = { { action = "ADD_TO_PARTICIPANT_GROUP" } } } } },
          "completion_codes.0.actions.0.participant_group", "is required" },
        { study_body { filter_set_version = 1.5 }, "filter_set_version", "must be a whole number" },
        { study_body { total_available_places = schema.null }, "total_available_places", "must not be null" },
      }
      for _, c in ipairs(cases) do
        local err = fails(400, "CreateStudy", nil, nil, c[1])
        assert.is_table(err.fields[c[2]], c[2] .. ": " .. tostring(err.message))
        assert.matches(c[3], err.fields[c[2]][1], 1, true)
      end
      local b = study_body()
      b.completion_codes = nil
      assert.are.same({ "is required" }, fails(400, "CreateStudy", nil, nil, b).fields.completion_codes)
      local err = fails(400, "CreateParticipantGroup", nil, nil, { name = "g", workspace_id = 42 })
      assert.matches("must be a string", err.fields.workspace_id[1])
      err = fails(400, "CreateMutuallyExclusiveStudyCollection", nil, nil, { project_id = PROJECT,
        name = "c", description = "d", colour = "blue" })
      assert.matches("is not a field of this request", err.fields.colour[1]) -- a closed object
      err = fails(400, "BulkApproveSubmissions", nil, nil, {})
      assert.matches("needs one of participant_ids or submission_ids", err.fields.non_field_errors[1])
      err = fails(400, "TestStudySetUp", { STUDY }, nil, { target_participant_id = PID,
        target_participant_group_id = PID })
      assert.matches("must match exactly one", err.fields.non_field_errors[1])
      err = fails(400, "TransitionSubmission", { SUB }, nil, { action = "PAY" })
      assert.matches("must be one of", err.fields.action[1])
    end)

    it("refuses a wrong type in every top-level field of every body (mutations of valid bodies)", function()
      -- the bodies the sandbox took in "runs all 85 operations", one field made wrong at a time
      local function kind_of(node)
        node = schema.resolve(S, node)
        if node.any_of and not node.type then return nil end
        return node.type or (node.properties and "object") or (node.items and "array")
      end
      local WRONG = { string = 12345, number = "x", integer = "x", boolean = "x",
        array = schema.object(), object = schema.array { 1 } }
      local n = 0
      for id, o in pairs(S.operations) do
        local body = o.body and schema.resolve(S, o.body.schema)
        if body and body.properties then
          assert.is_table(valid[id], id .. ": no valid body recorded (run the whole file)")
          for field, child in pairs(body.properties) do
            local k = kind_of(child)
            if k and WRONG[k] and not schema.resolve(S, child).read_only then
              -- the rest encoded by the schema (its arrays stay arrays), the wrong value by
              -- itself (an empty object stays {})
              local rest = {}
              for f, v in pairs(valid[id]) do if f ~= field then rest[f] = v end end
              local text = schema.encode(S, o.body.schema, rest)
              text = '{"' .. field .. '":' .. schema.encode(nil, nil, WRONG[k])
                .. (text == "{}" and "}" or "," .. text:sub(2))
              local ids = {}
              for i = 1, #o.path_params do ids[i] = NOPE end
              local s, err = op(id, ids, nil, text)
              assert.is_nil(s, id .. "." .. field)
              -- a path id of nothing may answer 404 only after the body was found sound
              assert.are.equal(400, err.status, id .. "." .. field .. ": " .. tostring(err.message))
              -- (a body with a oneOf of required fields may be refused for the choice first)
              assert.is_table(err.fields[field] or (body.any_of and err.fields.non_field_errors),
                id .. "." .. field .. ": " .. tostring(err.message))
              n = n + 1
            end
          end
        end
      end
      assert.is_true(n > 150, "mutations: " .. n)
    end)
  end)

  describe("rules the schema cannot say", function()
    it("refuses an unknown filter_id, a select filter without values, a reversed range", function()
      local err = fails(400, "CreateStudy", nil, nil,
        study_body { filters = { { filter_id = "shoe_size", selected_values = { "1" } } } })
      assert.matches('"shoe_size" is not a valid filter', err.fields["filters.0.filter_id"][1])
      err = fails(400, "GetEligibleCount", nil, nil,
        { filters = { { filter_id = "age", selected_range = { lower = 40, upper = 18 } } } })
      assert.matches("lower %(40%) must not be greater than upper %(18%)", err.fields["filters.0.selected_range"][1])
      err = fails(400, "CreateFilterSet", nil, nil, { name = "x", workspace_id = WS,
        filters = { { filter_id = "sex", selected_values = { "7" } } } })
      assert.matches('"7" is not a valid choice', err.fields["filters.0.selected_values"][1])
      err = fails(400, "PostStudyPredictedRecruitmentTime", nil, nil, { filters = {
        { filter_id = "sex", selected_range = { lower = 1 } } }, workspace_id = WS, reward = 100,
        study_type = "SINGLE", total_available_places = 5, estimated_completion_time = 5 })
      assert.matches("select filter", err.fields["filters.0.selected_range"][1])
    end)

    it("refuses a taskflow study whose allocations do not add up to its places", function()
      local err = fails(400, "CreateStudy", nil, nil, study_body { external_study_url = DROP,
        total_available_places = 10,
        access_details = { { external_url = "https://example.org/a", total_allocation = 4 },
          { external_url = "https://example.org/b", total_allocation = 4 } } })
      assert.matches("adds up to 8, not to total_available_places %(10%)", err.fields.access_details[1])
      err = fails(400, "CreateStudy", nil, nil, study_body { external_study_url = DROP })
      assert.matches("access_details", err.fields.external_study_url[1])
      local task = ok("CreateStudy", nil, nil, study_body { external_study_url = DROP,
        total_available_places = 8,
        access_details = { { external_url = "https://example.org/a", total_allocation = 8 } } })
      err = fails(400, "UpdateStudy", { task.id }, nil, { total_available_places = 9 })
      assert.is_table(err.fields.access_details)
    end)

    it("refuses ids in participant_ids that are not participants' ids", function()
      local g = ok("CreateParticipantGroup", nil, nil, { name = "G", workspace_id = WS,
        participant_ids = { PID } })
      local err = fails(400, "AddToParticipantGroup", { g.id }, nil, { participant_ids = { SUB } })
      assert.matches("is the id of a submission, not of a participant %(its participant is " .. PID,
        err.fields["participant_ids.0"][1])
      err = fails(400, "UpdateParticipantGroup", { g.id }, nil, { participant_ids = { PID, STUDY } })
      assert.matches("a study", err.fields["participant_ids.1"][1])
      err = fails(400, "CreateParticipantGroup", nil, nil, { name = "G", workspace_id = WS,
        participant_ids = { "not-an-id" } })
      assert.matches("must be a Prolific id", err.fields["participant_ids.0"][1])
      err = fails(400, "SendBulkMessage", nil, nil, { ids = { "../studies" }, body = "b", study_id = STUDY })
      assert.is_table(err.fields["ids.0"])
      assert.are.equal(1, ok("GetParticipantGroup", { g.id }).participant_count)
    end)

    it("refuses {} where an array is due: an empty participant_ids object does not wipe a group", function()
      local g = ok("CreateParticipantGroup", nil, nil, { name = "Keep", workspace_id = WS,
        participant_ids = { PID } })
      local err = fails(400, "UpdateParticipantGroup", { g.id }, nil, '{"participant_ids":{}}')
      assert.are.same({ "must be an array (got {}, an empty object)" }, err.fields.participant_ids)
      err = fails(400, "RemoveFromParticipantGroup", { g.id }, nil, '{"participant_ids":{}}')
      assert.is_table(err.fields.participant_ids)
      local text = schema.encode(S, S.operations.CreateStudy.body.schema, study_body())
      err = fails(400, "CreateStudy", nil, nil, (text:gsub('"filters":%[%]', '"filters":{}')))
      assert.is_table(err.fields.filters)
      assert.are.equal(1, ok("GetParticipantGroup", { g.id }).participant_count)
      -- an empty array is what empties it
      local emptied = ok("UpdateParticipantGroup", { g.id }, nil, '{"participant_ids":[]}')
      assert.are.equal(0, emptied.participant_count)
    end)

    it("ignores fields the spec does not list and read-only ones echoed back", function()
      local st = ok("CreateStudy", nil, nil, study_body { colour = "blue", id = STUDY, status = "ACTIVE" })
      assert.are_not.equal(STUDY, st.id)
      assert.are.equal("UNPUBLISHED", st.status)
      assert.is_nil(st.colour)
    end)
  end)

  describe("answers", function()
    it("carry the fields the spec requires, strings where it says string, arrays as arrays", function()
      local _, raw = ok("GetSubmissions", nil, { study = STUDY, page_size = 1 })
      assert.matches('"has_siblings":false', raw.body)
      local pr = ok("CreateProject", { WS }, nil, { title = "No description" })
      local _, praw = ok("GetProject", { pr.id })
      assert.is_nil(praw.body:find('"description":null', 1, true))
      local survey = ok("CreateSurvey", nil, nil, { researcher_id = USER, title = "S",
        sections = { { title = "One", questions = { { title = "Q", type = "multiple",
          answers = { { value = "A" } } } } } } })
      local _, sraw = ok("GetSurvey", { survey._id })
      assert.matches('"questions":%[%]', sraw.body)
      local _, fraw = ok("GetFilterSets", nil, { workspace_id = WS })
      assert.matches('"results":%[%]', fraw.body)
    end)
  end)
end)

describe("sandbox contract, strict mode #sandbox54", function()
  local server = require "cohort.sandbox.server"
  local cjson = require("cjson").new()
  local AUTH = { authorization = "Token sandbox-token", host = "sandbox.test" }

  local function call(app, method, uri, body)
    local status, headers, text = app:handle { method = method, uri = uri, headers = AUTH,
      body = body or "", time = os.time() }
    return status, headers, text
  end

  it("turns an answer that departs from the spec into a 500 naming the field", function()
    local app = server.new { "--strict" }
    assert.is_true(app.strict)
    -- a submission the dataset left without its started_at (required by SubmissionShort)
    app.state.submissions[1].started_at = nil
    local status, headers, text = call(app, "GET", "/api/v1/submissions/?page_size=1")
    assert.are.equal(500, status)
    local e = cjson.decode(text).error
    assert.are.equal("Sandbox answer departs from the spec (GetSubmissions)", e.title)
    assert.are.same({ "results.0.started_at" }, (function()
      local keys = {}
      for k in pairs(e.detail) do keys[#keys + 1] = k end
      return keys
    end)())
    assert.are.equal("is required", e.detail["results.0.started_at"][1])
    assert.are.equal("GetSubmissions", headers["X-Cohort-Sandbox-Drift"])
    -- without --strict the same answer goes out as it is
    local lax = server.new {}
    lax.state.submissions[1].started_at = nil
    assert.are.equal(200, (call(lax, "GET", "/api/v1/submissions/?page_size=1")))
  end)

  it("checks the status too: a handler answering another 2xx than the spec's is a 500", function()
    local app = server.new { "--strict" }
    local prolific = require "cohort.sandbox.prolific"
    local row = prolific.by_operation.GetUser
    local handler = row[3]
    row[3] = function() return 204, {}, "" end
    local ok_, status = pcall(call, app, "GET", "/api/v1/users/me/")
    row[3] = handler
    assert.is_true(ok_)
    assert.are.equal(500, status)
  end)

  it("writes each answer as schema.encode does, [] and {} where it puts them", function()
    local schema = require "cohort.schema"
    local contract = require "cohort.sandbox.prolific_contract"
    local S = schema.load "prolific"
    -- the same JSON up to key order: decoded with [] and {} told apart, written again sorted
    local function canonical(text) return schema.encode(nil, nil, contract.decode(text)) end
    local seen, encode = 0, contract.encode
    contract.encode = function(node, value)
      local text = encode(node, value)
      assert.are.equal(canonical(schema.encode(S, node, value)), canonical(text))
      seen = seen + 1
      return text
    end
    local app = server.new { "--strict" }
    local ok_, err = pcall(function()
      local st = "60aca280709ee40ec37d4885"
      for _, uri in ipairs { "/api/v1/users/me/", "/api/v1/submissions/?page_size=200",
          "/api/v1/submissions/625d4a831bcda2d59ac5a251/", "/api/v1/studies/",
          "/api/v1/studies/" .. st .. "/", "/api/v1/studies/" .. st .. "/cost/",
          "/api/v1/studies/" .. st .. "/access-details-progress/", "/api/v1/workspaces/",
          "/api/v1/workspaces/60a42f4c693c29420793cb74/", "/api/v1/filters/?detailed=true&page_size=200",
          "/api/v1/filters/", "/api/v1/messages/unread/", "/api/v1/hooks/event-types/",
          "/api/v1/studies/60aca280709ee40ec37d4887/submissions/" } do
        local status = call(app, "GET", uri)
        assert.are.equal(200, status, uri)
      end
      local status, _, text = call(app, "POST", "/api/v1/surveys/", '{"researcher_id":'
        .. '"60a42f4c693c29420793cb73","title":"T","questions":[{"title":"Q","type":"single",'
        .. '"answers":[{"value":"A"}]}]}')
      assert.are.equal(201, status)
      assert.matches('"sections":%[%]', text)
    end)
    contract.encode = encode
    assert(ok_, err)
    assert.are.equal(15, seen)
  end)

  it("decodes a request body with [] and {} told apart, strings left as they are", function()
    local schema = require "cohort.schema"
    local contract = require "cohort.sandbox.prolific_contract"
    local v = contract.decode('{"a":"{}","b":[ ],"c":{ },"d":"x\\"[]","e":[{},[]],"f":150,"g":1.5,"h":null}')
    assert.are.equal("{}", v.a)
    assert.are.equal('x"[]', v.d)
    assert.are.equal("[]", schema.encode(nil, nil, v.b))
    assert.are.equal("{}", schema.encode(nil, nil, v.c))
    assert.are.equal("[{},[]]", schema.encode(nil, nil, v.e))
    assert.are.equal(math.tointeger(150), v.f)
    assert.are.equal("integer", math.type(v.f))
    assert.are.equal(1.5, v.g)
    assert.are.equal(schema.null, v.h)
    assert.are.equal("[]", schema.encode(nil, nil, contract.decode("[]")))
    assert.is_nil(contract.decode('{"a": '))
  end)

  it("answers errors in Prolific's nested envelope", function()
    local app = server.new { "--strict" }
    local status, headers, text = call(app, "POST", "/api/v1/studies/", '{"name": 5}')
    assert.are.equal(400, status)
    assert.are.equal("application/json", headers["Content-Type"])
    local e = cjson.decode(text).error
    assert.are.equal(400, e.status)
    assert.are.equal(140000, e.error_code)
    assert.are.equal("Bad Request", e.title)
    assert.is_string(e.traceback)
    assert.is_table(e.detail)
  end)
end)
