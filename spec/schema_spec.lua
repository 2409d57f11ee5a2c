-- cohort.schema: the module generated from Prolific's OpenAPI file, and the checks and JSON
-- encoding that client and sandbox share.
describe("cohort.schema", function()
  local schema = require "cohort.schema"
  local S = schema.load "prolific"

  local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
  end

  it("is what tools/gen_schema.lua gives from the spec file (regenerate when this fails)", function()
    local out = os.tmpname()
    local ok = os.execute("lua5.4 tools/gen_schema.lua spec/fixtures/prolific-openapi-2025.json > "
      .. out .. " 2>/dev/null")
    assert.is_truthy(ok == true or ok == 0)
    local fresh, committed = read(out), read("lua/cohort/schema/prolific.lua")
    os.remove(out)
    assert.is_truthy(#fresh > 1000)
    assert.is_true(fresh == committed,
      "lua/cohort/schema/prolific.lua is stale: run lua5.4 tools/gen_schema.lua > lua/cohort/schema/prolific.lua")
  end)

  it("reads the project's copy of the spec, the same bytes as ../shared/api when it is there", function()
    local shared = read("../shared/api/prolific-openapi-2025.json")
    if shared then
      assert.is_true(shared == read("spec/fixtures/prolific-openapi-2025.json"))
    end
    assert.are.equal("prolific-openapi-2025.json", S.source.file)
    assert.are.equal(64, #S.source.sha256)
  end)

  it("holds the 85 operations in scope, each with its path, method and success status", function()
    local n = 0
    for id, op in pairs(S.operations) do
      n = n + 1
      assert.is_truthy(op.path:find("^/api/v1/"), id)
      assert.is_truthy(({ GET = 1, POST = 1, PATCH = 1, DELETE = 1, PUT = 1 })[op.method], id)
      assert.is_truthy(op.success.status >= 200 and op.success.status < 300, id)
      assert.is_nil(op.path:find("data%-collection"), id)
    end
    assert.are.equal(85, n)
    assert.are.equal(85, S.count)
    assert.is_nil(S.operations.GetEligibilityRequirements)
    -- what the spec documents, status by status
    assert.are.equal(200, S.operations.DeleteStudy.success.status)
    assert.is_false(S.operations.DeleteStudy.success.schema)
    assert.are.equal(204, S.operations.DeleteSubscription.success.status)
    assert.are.equal(202, S.operations.PayBonusPayments.success.status)
    assert.are.equal(201, S.operations.CreateStudy.success.status)
    assert.is_nil(S.operations.PayBonusPayments.body)
    assert.is_nil(S.operations.LockFilterSet.body)
  end)

  it("keeps path parameters in path order, with their formats", function()
    local op = S.operations.GetResponse
    assert.are.equal("survey_id", op.path_params[1].name)
    assert.are.equal("response_id", op.path_params[2].name)
    assert.are.equal("objectId", op.path_params[1].schema.format)
  end)

  it("records every override with the operation or schema it changes and its reason", function()
    assert.is_true(#S.overrides > 5)
    for i, o in ipairs(S.overrides) do
      assert.is_truthy(type(o.what) == "string" and #o.what > 3, "override " .. i)
      assert.is_truthy(type(o.why) == "string" and #o.why > 20, "override " .. i)
    end
    assert.are.equal("page", S.operations.GetSubmissions.paging)
    assert.are.equal("offset", S.operations.GetSurveys.paging)
    assert.is_truthy(S.operations.SendBulkMessage)
    assert.is_truthy(S.operations.SendGroupMessage)
  end)

  it("knows which ids are Prolific object ids and which are UUIDs", function()
    local function prop(name, field)
      return schema.resolve(S, S.schemas[name]).properties[field]
    end
    assert.are.equal("objectId", prop("SubmissionShort", "id").format)
    assert.are.equal("objectId", prop("SubmissionShort", "participant_id").format)
    assert.are.equal("uuid", prop("SurveyQuestionResponse", "question_id").format)
    -- filter ids are slugs ("age"), not object ids
    assert.is_nil(prop("SelectFilter", "filter_id").format)
  end)

  describe("check", function()
    local create = S.operations.CreateStudy.body.schema
    local function study(extra)
      local b = { name = "n", description = "d", external_study_url = "https://example.org/",
        prolific_id_option = "url_parameters", estimated_completion_time = 5, reward = 150,
        total_available_places = 10,
        completion_codes = { { code = "ABC", code_type = "COMPLETED",
          actions = { { action = "AUTOMATICALLY_APPROVE" } } } } }
      for k, v in pairs(extra or {}) do b[k] = v end
      return b
    end
    local function msg(body, opts) return (schema.check(S, create, body, opts)) end

    it("passes a body that fits", function()
      assert.is_nil(msg(study()))
      assert.is_nil(msg(study { filters = {}, peripheral_requirements = {} }))
    end)

    it("names the field path as a Lua user writes it and shows the value with its type", function()
      assert.are.equal('reward must be a number (got "150", a string)', msg(study { reward = "150" }))
      assert.are.equal('filters[2].selected_range.lower must be an integer or an ISO 8601 date (got "18", a string)',
        msg(study { filters = { { filter_id = "age", selected_range = { lower = 18 } },
          { filter_id = "age", selected_range = { lower = "18", upper = 40 } } } }))
      assert.are.equal('device_compatibility must be an array (got "desktop", a string)',
        msg(study { device_compatibility = "desktop" }))
      assert.are.equal('filter_set_version must be a whole number (got 1.5, a number)',
        msg(study { filter_set_version = 1.5 }))
    end)

    it("refuses a filter with neither selected_values nor selected_range", function()
      assert.are.equal("filters[1] needs one of selected_values or selected_range",
        msg(study { filters = { { filter_id = "age" } } }))
      assert.are.equal("filters[1].selected_range must give at least one of lower, upper",
        msg(study { filters = { { filter_id = "age", selected_range = {} } } }))
    end)

    it("refuses required fields missing, unknown fields and read-only fields in requests", function()
      local b = study()
      b.reward = nil
      assert.are.equal("reward is required", msg(b))
      assert.are.equal("rewrad is not a field of this request", msg(study { rewrad = 1 }))
      assert.are.equal("id is read-only: Prolific sets it",
        (schema.check(S, S.operations.CreateSubscription.body.schema, { id = "60aca280709ee40ec37d4885",
          event_type = "submission.status.change", target_url = "https://example.org/hook",
          workspace_id = "60aca280709ee40ec37d4885" })))
      assert.is_nil((schema.check(S, create, study { rewrad = 1 }, { unknown = "allow" })))
    end)

    it("uses the names the user wrote at the top level", function()
      local body = { action = "REJECT", message = string.rep("m", 100), rejection_category = "LOW" }
      local m = schema.check(S, S.operations.TransitionSubmission.body.schema, body,
        { names = { rejection_category = "category" } })
      assert.is_truthy(m:find('^category must be one of "TOO_QUICKLY"'), m)
    end)

    it("checks id formats", function()
      local bulk = S.operations.BulkApproveSubmissions.body.schema
      assert.are.equal('submission_ids[1] must be a Prolific id of 24 hexadecimal digits (got "nope", a string)',
        (schema.check(S, bulk, { submission_ids = { "nope" } })))
      assert.are.equal('submission_ids[2] must be a Prolific id of 24 hexadecimal digits (got "../studies", a string)',
        (schema.check(S, bulk, { submission_ids = { "625d4a831bcda2d59ac5a251", "../studies" } })))
      assert.is_nil((schema.check(S, bulk, { submission_ids = { "625d4a831bcda2d59ac5a251" } })))
    end)

    it("picks the alternative a discriminator names, and lists the choices when none fits", function()
      local function action(a) return msg(study { completion_codes = { { code = "A", code_type = "COMPLETED", actions = { a } } } }) end
      assert.are.equal("completion_codes[1].actions[1].participant_group is required",
        action { action = "ADD_TO_PARTICIPANT_GROUP" })
      assert.is_truthy(action { action = "NOPE" }:find('^completion_codes%[1%]%.actions%[1%]%.action must be one of "AUTOMATICALLY_APPROVE"'))
      assert.is_truthy(action {}:find("^completion_codes%[1%]%.actions%[1%]%.action is required"))
    end)

    it("allows nulls only where the schema does, and JSON null is schema.null", function()
      assert.is_nil(msg(study { filters = { { filter_id = "age", selected_range = { lower = schema.null, upper = 40 } } } }))
      assert.are.equal("reward must not be null", msg(study { reward = schema.null }))
    end)

    it("holds answers to the spec only: unlisted fields pass, read-only ones are expected", function()
      local sub = S.schemas.SubmissionShort
      local item = { id = "625d4a831bcda2d59ac5a251", participant_id = "60bf9310e8dec401be6e9615",
        started_at = "2021-05-20T11:03:00Z", status = "ACTIVE", has_siblings = false, extra = 1 }
      assert.is_nil((schema.check(S, sub, item, { direction = "response" })))
      item.has_siblings = nil
      assert.are.equal("has_siblings is required", (schema.check(S, sub, item, { direction = "response" })))
    end)

    it("refuses text that is not UTF-8", function()
      assert.are.equal("name must be UTF-8 text (got bytes that are not)", msg(study { name = "\255abc" }))
    end)
  end)

  describe("encode", function()
    it("sends an empty table as [] where the schema says array, {} where it says object", function()
      local create = S.operations.CreateStudy.body.schema
      local text = schema.encode(S, create, { filters = {}, peripheral_requirements = {},
        submissions_config = {} })
      assert.are.equal('{"filters":[],"peripheral_requirements":[],"submissions_config":{}}', text)
    end)

    it("writes integers without a fraction, floats exactly, strings escaped, keys sorted", function()
      assert.are.equal('{"a":150,"b":0.1,"c":"x\\"y\\n\\u0001","d":true,"e":null}',
        schema.encode(nil, nil, { a = 150, b = 0.1, c = 'x"y\n\1', d = true, e = schema.null }))
      assert.are.equal("[]", schema.encode(nil, nil, schema.array {}))
      assert.are.equal("{}", schema.encode(nil, nil, {}))
      assert.are.equal("[1,2]", schema.encode(nil, nil, { 1, 2 }))
    end)

    it("refuses what JSON cannot hold", function()
      assert.has_error(function() schema.encode(nil, nil, { a = 0 / 0 }) end)
      assert.has_error(function() schema.encode(nil, nil, { [true] = 1 }) end)
      assert.has_error(function() schema.encode(nil, nil, { f = print }) end)
    end)
  end)
end)
