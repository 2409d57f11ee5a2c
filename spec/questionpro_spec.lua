-- QuestionPro: data centres, auth and redaction, surveys, responses (paging, filter, get, create,
-- delete), Response objects (answer, custom, timestamps) and every error body of seed 001 — all
-- through the public API against the sandbox over HTTP.
describe("cohort.questionpro", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local qp = require "cohort.questionpro"
  local responses_mod = require "cohort.questionpro.responses"

  local USER = 5551234
  local OTHER_USER = 5559999
  local SURVEY = 7654321
  local FOLLOWUP = 7654322
  local FORBIDDEN = 7659999
  local SEED_PARTICIPANT = "60bf9310e8dec401be6e9615"

  local q
  before_each(function()
    env.reset()
    q = env.questionpro()
  end)

  local function qp_requests()
    local out = {}
    for _, r in ipairs(env.requests()) do
      if r.path:find("^/a/api/v2") then out[#out + 1] = r end
    end
    return out
  end

  -- The seed's first example: the minimal create body.
  local function minimal_body()
    return { responseSet = {
      { questionID = 12345678, answerValues = { { answerID = 123456789 } } },
      { questionID = 12345679, answerValues = { { answerID = 100000001, value = { text = "FirstName" } } } },
      { questionID = 83734737, answerValues = { { answerID = 100000002, value = { text = "LastName" } } } },
      { questionID = 83734738, answerValues = { { answerID = 100000003, value = { text = "123-456-7890" } } } },
      { questionID = 83734739, answerValues = { { answerID = 100000004,
        value = { text = "respondentemail@emaildomain.com" } } } },
    } }
  end

  local function item(qid, desc, code, text, aid, atext, scale, typed)
    return { questionID = qid, questionDescription = desc, questionCode = code, questionText = text,
      answerValues = { { answerID = aid, answerText = atext, value = { scale = scale, other = "",
        dynamicExplodeText = "", text = typed, result = "", fileLink = "", weight = 0.0 } } } }
  end

  -- The seed's second example: a full response object.
  local function full_body()
    return {
      ipAddress = "192.168.0.1", timestamp = "05 Oct, 2020 02:51:51 PM PDT",
      location = { region = "16", latitude = 0.0, longitude = 0.0, radius = 0.0, countryCode = "IN" },
      duplicate = false, timeTaken = 41, responseStatus = "Completed", externalReference = "",
      customVariables = { custom1 = "60bf9310e8dec401be6e9615", custom3 = "wave-2" },
      language = "English", currentInset = "", operatingSystem = "WINDOWS_10",
      osDeviceType = "COMPUTER", browser = "CHROME8",
      responseSet = {
        item(12345678, " ", "Q1", "How often do you conduct surveys?", 123456789, "Always", "1", ""),
        item(12345679, "Contact Information", "Q2_1", "First Name", 100000001, "FIRST_NAME", "", "FirstName"),
        item(83734737, " ", "Q2_2", "Last Name", 100000002, "LAST_NAME", "", "LastName"),
        item(83734738, " ", "Q2_3", "Phone", 100000003, "PHONE", "", "123-456-7890"),
        item(83734739, " ", "Q2_4", "Email Address", 100000004, "EMAIL", "", "respondentemail@emaildomain.com"),
      },
    }
  end

  describe("client", function()
    it("knows the eight data centres and adds the /a/api/v2 prefix", function()
      local hosts = {
        us = "https://api.questionpro.com", eu = "https://api.questionpro.eu",
        ca = "https://api.questionpro.ca", sg = "https://api.questionpro.sg",
        au = "https://api.questionpro.au", ae = "https://api.questionpro.ae",
        sa = "https://api.surveyanalytics.com", ksa = "https://api.questionprosa.com",
      }
      local n = 0
      for dc, host in pairs(hosts) do
        local c = cohort.questionpro{ api_key = "qp-key-1234", datacenter = dc }
        assert.equals(host .. "/a/api/v2", c.base_url)
        assert.equals(dc, c.datacenter)
        assert.is_nil(tostring(c):find("k (", 1, true))
        n = n + 1
      end
      assert.equals(8, n)
      local count = 0
      for _ in pairs(qp.DATACENTERS) do count = count + 1 end
      assert.equals(8, count)
      assert.has_error(function() cohort.questionpro{ api_key = "qp-key-1234", datacenter = "mars" } end,
        "cohort: cohort.questionpro(): datacenter \"mars\" is not one of ae, au, ca, eu, ksa, sa, sg, us")
    end)

    it("lets base_url override the data centre and reaches the sandbox there", function()
      local c = env.questionpro{ datacenter = "eu" }
      assert.equals(env.sandbox().url .. "/a/api/v2", c.base_url)
      assert.is_nil(c.datacenter)
      assert.truthy(c.surveys:get(SURVEY))
      local c2 = env.questionpro{ base_url = env.sandbox().url .. "/a/api/v2/" }
      assert.equals(env.sandbox().url .. "/a/api/v2", c2.base_url)
      assert.truthy(c2.surveys:get(SURVEY))
    end)

    it("raises on misuse before sending anything", function()
      env.control("DELETE", "requests")
      assert.has_error(function() env.questionpro{ auth = "cookie" } end)
      assert.has_error(function() env.questionpro{ page_size = 5000 } end)
      assert.has_error(function() env.questionpro{ bogus = 1 } end,
        "cohort: cohort.questionpro(): unknown option 'bogus'")
      assert.has_error(function() env.questionpro{ time_zones = { IST = "India" } } end)
      assert.has_error(function() q.surveys:get("abc") end,
        "cohort: q.surveys:get(): survey_id must be an integer (got \"abc\", a string)")
      assert.has_error(function() q.surveys:get() end)
      assert.has_error(function() q.surveys:get(-3) end)
      assert.has_error(function() q.responses:list(SURVEY, { per_page = 0 }) end)
      assert.has_error(function() q.responses:list(SURVEY, { per_page = 1001 }) end)
      assert.has_error(function() q.responses:list(SURVEY, { page = 0 }) end)
      assert.has_error(function() q.responses:list(SURVEY, { sort = "asc" }) end,
        "cohort: q.responses:list(): unknown option 'sort'")
      assert.has_error(function() q.responses:get(SURVEY, 1, { x = 1 }) end)
      assert.has_error(function() q.responses:filter(SURVEY, { status = "x" }) end,
        "cohort: q.responses:filter(): status is not a field of this request")
      assert.has_error(function() q.responses:filter(SURVEY, { start_date = "yesterday" }) end)
      assert.has_error(function() q.responses:filter(SURVEY, { result_mode = "done" }) end)
      assert.has_error(function() q.responses:filter(SURVEY, { custom1 = {} }) end)
      assert.has_error(function() q.responses:create(SURVEY, {}) end)
      assert.has_error(function() q.responses:create(SURVEY, { responseSet = { { questionID = "x", answerValues = { { answerID = 1 } } } } }) end,
        "cohort: q.responses:create(): responseSet[1].questionID must be an integer (got \"x\", a string)")
      assert.has_error(function()
        q.responses:create(SURVEY, { responseSet = { { questionID = 1, answerValues = { {} } } } })
      end)
      assert.has_error(function() q.responses:create(SURVEY, { responseSet = {}, colour = 1 }) end)
      assert.equals(0, #qp_requests())
    end)
  end)

  describe("auth", function()
    it("sends the key in the api-key header by default", function()
      assert.truthy(q.surveys:get(SURVEY))
      local log = qp_requests()
      assert.equals(1, #log)
      assert.equals("api-key", log[1].auth)
      assert.is_nil(log[1].query.apiKey)
    end)

    it("sends ?apiKey= with auth = \"query\" and redacts it everywhere it shows", function()
      local sb = env.sandbox()
      local lq = env.questionpro{ auth = "query" }
      assert.truthy(lq.surveys:get(SURVEY))
      assert.equals("query", qp_requests()[1].auth)
      -- a 404 echoes the URL, key included, in resourceUrl
      local r, err = lq.responses:get(SURVEY, 1)
      assert.is_nil(r)
      assert.equals(404, err.status)
      for _, s in ipairs { tostring(err), err.url, err.resource_url, err.message } do
        assert.is_nil(s:find(sb.api_key, 1, true), s)
      end
      assert.truthy(err.resource_url:find("apiKey=***", 1, true), err.resource_url)
      assert.truthy(tostring(err):find("apiKey=***", 1, true))
    end)

    it("answers 401/1010 for a wrong key (header or query) and never shows the key", function()
      for _, auth in ipairs { "header", "query" } do
        local bad = env.questionpro{ api_key = "not-the-key-s3cret", auth = auth }
        local v, err = bad.surveys:get(SURVEY)
        assert.is_nil(v)
        assert.equals(401, err.status)
        assert.equals(1010, err.code)
        assert.equals("unauthorized", err.reason)
        assert.is_false(err.rate_limited)
        assert.is_nil(tostring(err):find("s3cret", 1, true))
        assert.is_nil((err.resource_url or ""):find("s3cret", 1, true))
        assert.is_nil((err.url or ""):find("s3cret", 1, true))
      end
    end)
  end)

  describe("surveys", function()
    it("lists a user's surveys, gets one and its questions with choices", function()
      local page = assert(q.surveys:list(USER))
      assert.equals(2, #page)
      assert.equals(2, page.count)
      assert.is_nil(page.next)
      assert.equals("Survey 7654321 \"Test Survey\" (Active)", tostring(page[1]))
      local all = assert(q.surveys:all(tostring(USER)))
      assert.equals(2, #all)

      local s = assert(q.surveys:get(SURVEY))
      assert.equals(SURVEY, s.surveyID)
      assert.equals("Test Survey", s.name)
      assert.equals(37, s.totalResponses)

      local questions = assert(s:questions())
      assert.equals(5, #questions)
      assert.equals("Q1", questions[1].code)
      assert.equals(12345678, questions[1].questionID)
      assert.equals(5, #questions[1].answers)
      assert.equals("Always", questions[1].answers[1].text)
      assert.equals(123456790, questions[1]:choice("Often").answerID)
      assert.equals("Never", questions[1]:choice(5).text)
      assert.equals("Question Q2_4 83734739: Email Address", tostring(questions[5]))
      assert.equals("contact_information", questions[5].type)
      local qpage = assert(q.surveys:questions(SURVEY, { per_page = 2 }))
      assert.equals(2, #qpage)
      assert.equals(5, qpage.count)
    end)

    it("answers 403/1013 for another user's survey and 404/1040 for none", function()
      local v, err = q.surveys:get(FORBIDDEN)
      assert.is_nil(v)
      assert.equals(403, err.status)
      assert.equals(1013, err.code)
      assert.equals("FORBIDDEN", err.title)
      assert.equals("forbidden", err.reason)
      assert.is_false(err.rate_limited)
      assert.is_false(qp.is_rate_limited(err))
      assert.equals("www.questionpro.com/api/error-codes.html", err.docs)
      v, err = q.surveys:list(OTHER_USER)
      assert.equals(403, err.status)
      v, err = q.surveys:get(1234)
      assert.is_nil(v)
      assert.equals(404, err.status)
      assert.equals(1040, err.code)
      assert.equals("NOT_FOUND", err.title)
      assert.equals("not_found", err.reason)
      assert.equals("The resource that you're trying to access doesn't exist", err.message)
      assert.truthy(err.resource_url:find("/a/api/v2/surveys/1234", 1, true))
    end)
  end)

  describe("responses", function()
    it("lists one page, then every page with each/all", function()
      local page = assert(q.responses:list(SURVEY, { per_page = 10 }))
      assert.equals(10, #page)
      assert.equals(37, page.count)
      assert.is_true(page.next)
      local last = assert(q.responses:list(SURVEY, { per_page = 10, page = 4 }))
      assert.equals(7, #last)
      assert.is_nil(last.next)

      env.control("DELETE", "requests")
      local ids, n = {}, 0
      for resp in q.responses:each(SURVEY, { per_page = 10 }) do
        n = n + 1
        ids[resp.responseID] = true
      end
      assert.equals(37, n)
      local distinct = 0
      for _ in pairs(ids) do distinct = distinct + 1 end
      assert.equals(37, distinct)
      local log = qp_requests()
      assert.equals(4, #log)
      for i, r in ipairs(log) do
        assert.equals("10", r.query.perPage)
        if i == 1 then assert.is_nil(r.query.page) else assert.equals(tostring(i), r.query.page) end
      end

      local all = assert(q.responses:all(SURVEY, { per_page = 8 }))
      assert.equals(37, #all)
      assert.equals(90000001, all[1].responseID)
      assert.equals(90000037, all[37].responseID)
      -- the client's page_size is the default perPage
      local small = env.questionpro{ page_size = 5 }
      assert.equals(5, #assert(small.responses:list(SURVEY)))
      -- and through the Survey object
      local s = assert(q.surveys:get(SURVEY))
      assert.equals(37, #assert(s:all_responses{ per_page = 9 }))
      assert.equals(5, #assert(s:responses{ per_page = 5 }))
    end)

    it("never stops at the server's default page of 100", function()
      for i = 1, 70 do
        local body = minimal_body()
        body.customVariables = { custom1 = ("bulk-%03d"):format(i) }
        assert(q.responses:create(SURVEY, body))
      end
      env.control("DELETE", "requests")
      local all = assert(q.responses:all(SURVEY))
      assert.equals(107, #all)
      local log = qp_requests()
      assert.equals(2, #log)
      assert.is_nil(log[1].query.perPage) -- the server's default (100)
      assert.equals("2", log[2].query.page)
    end)

    it("filters on custom variables, dates, time zone and result mode, across pages", function()
      local f = assert(q.responses:all_filter(SURVEY, { custom1 = SEED_PARTICIPANT }))
      assert.equals(1, #f)
      assert.equals(90000003, f[1].responseID)
      assert.equals(SEED_PARTICIPANT, f[1].custom.custom1)

      -- the body the API expects, in camelCase
      env.control("DELETE", "requests")
      local page = assert(q.responses:filter(SURVEY, { start_date = "2024-05-01", end_date = "2024-05-02",
        time_zone = "UTC", result_mode = "completed", custom2 = "arm-A", per_page = 2 }))
      local log = qp_requests()
      assert.equals("POST", log[1].method)
      assert.equals("/a/api/v2/surveys/7654321/responses/filter", log[1].path)
      assert.equals("2", log[1].query.perPage)
      local sent = require("cjson").decode(log[1].body)
      assert.same({ startDate = "2024-05-01", endDate = "2024-05-02", timeZone = "UTC",
        resultMode = "2", custom2 = "arm-A" }, sent)

      -- compare with the same filter done locally over every response
      local expected = 0
      local from, to = 1714521600, 1714694399 -- 2024-05-01T00:00:00Z .. 2024-05-02T23:59:59Z
      for _, r in ipairs(assert(q.responses:all(SURVEY))) do
        if r.time and r.time >= from and r.time <= to and r.responseStatus == "Completed"
            and r.custom.custom2 == "arm-A" then
          expected = expected + 1
        end
      end
      assert.is_true(expected > 2)
      assert.equals(expected, page.count)
      local all = assert(q.responses:all_filter(SURVEY, { start_date = "2024-05-01", end_date = "2024-05-02",
        time_zone = "UTC", result_mode = "completed", custom2 = "arm-A", per_page = 2 }))
      assert.equals(expected, #all)
      for _, r in ipairs(all) do assert.equals("Completed", r.responseStatus) end

      -- a time zone moves the window; Unix times are accepted too
      local started = assert(q.responses:all_filter(SURVEY, { result_mode = "started" }))
      for _, r in ipairs(started) do assert.equals("Started", r.responseStatus) end
      local east = assert(q.responses:all_filter(SURVEY, { start_date = "2024-05-01T00:00:00",
        end_date = "2024-05-01T12:00:00", time_zone = "+09:00" }))
      local utc = assert(q.responses:all_filter(SURVEY, { start_date = 1714521600 - 9 * 3600,
        end_date = 1714564800 - 9 * 3600 }))
      assert.equals(#utc, #east)
      -- through the Survey object
      local s = assert(q.surveys:get(SURVEY))
      assert.equals(1, #assert(s:filter{ custom1 = SEED_PARTICIPANT }))
    end)

    it("gets one response with the seed's full shape", function()
      local r = assert(q.responses:get(SURVEY, 90000003))
      assert.equals(90000003, r.responseID)
      assert.equals(SURVEY, r.surveyID)
      assert.equals("Test Survey", r.surveyName)
      assert.equals("Completed", r.responseStatus)
      assert.equals(5, #r.responseSet)
      local first = r.responseSet[1]
      assert.equals("Q1", first.questionCode)
      assert.equals("How often do you conduct surveys?", first.questionText)
      for _, k in ipairs { "scale", "other", "dynamicExplodeText", "text", "result", "fileLink", "weight" } do
        assert.is_not_nil(first.answerValues[1].value[k], k)
      end
      assert.equals("Response 90000003 Completed 2024-05-01T16:00:51Z (custom1 60bf9310…)", tostring(r))
      local again = assert(r:refresh())
      assert.equals(r.timestamp, again.timestamp)
      assert.is_nil(select(1, q.responses:get(FOLLOWUP, 90000003)))
    end)

    it("creates a response from the seed's minimal body and answers the full object", function()
      local r = assert(q.responses:create(SURVEY, minimal_body()))
      assert.is_true(r.responseID >= 90001000)
      assert.equals(SURVEY, r.surveyID)
      assert.equals("Test Survey", r.surveyName)
      assert.equals("Completed", r.responseStatus)
      assert.equals(5, #r.responseSet)
      local set = r.responseSet
      assert.equals("Always", set[1].answerValues[1].answerText)
      assert.equals("1", set[1].answerValues[1].value.scale)
      assert.equals("Contact Information", set[2].questionDescription)
      assert.equals("FIRST_NAME", set[2].answerValues[1].answerText)
      assert.equals("FirstName", set[2].answerValues[1].value.text)
      assert.equals("Email Address", set[5].questionText)
      assert.is_number(r.time)
      local label, code, text = r:answer("Q1")
      assert.same({ "Always", 1, nil }, { label, code, text })
      local stored = assert(q.responses:get(SURVEY, r.responseID))
      assert.equals("respondentemail@emaildomain.com", select(3, stored:answer("Q2_4")))
      assert.equals(38, assert(q.surveys:get(SURVEY)).totalResponses)
    end)

    it("creates a response from the seed's full response object", function()
      local r = assert(q.responses:create(SURVEY, full_body()))
      assert.equals("05 Oct, 2020 02:51:51 PM PDT", r.timestamp)
      assert.equals(1601934711, r.time)
      assert.equals("2020-10-05T21:51:51Z", r.time_utc)
      assert.equals(41, r.timeTaken)
      assert.equals("IN", r.location.countryCode)
      assert.equals("WINDOWS_10", r.operatingSystem)
      assert.same({ custom1 = "60bf9310e8dec401be6e9615", custom3 = "wave-2" }, r.custom)
      assert.equals("123-456-7890", select(3, r:answer(83734738)))
      -- a stored response can be sent again as it is (a copy into the same survey)
      local copy = assert(q.responses:create(SURVEY, r))
      assert.is_true(copy.responseID > r.responseID)
      assert.equals(r.timestamp, copy.timestamp)
      -- through the Survey object, from a JSON text
      local s = assert(q.surveys:get(SURVEY))
      local viajson = assert(s:add_response(require("cjson").encode(minimal_body())))
      assert.equals("Always", (viajson:answer("Q1")))
    end)

    it("deletes a response, then answers 404/1040 for it", function()
      local r = assert(q.responses:create(SURVEY, minimal_body()))
      assert.is_true(q.responses:delete(SURVEY, r.responseID))
      local v, err = q.responses:get(SURVEY, r.responseID)
      assert.is_nil(v)
      assert.equals(404, err.status)
      assert.equals(1040, err.code)
      local seeded = assert(q.responses:get(SURVEY, 90000001))
      assert.is_true(seeded:delete())
      v, err = seeded:delete()
      assert.is_nil(v)
      assert.equals("not_found", err.reason)
      assert.equals(36, assert(q.responses:list(SURVEY)).count)
    end)
  end)

  describe("Response objects", function()
    it("answer() by question id, code or Question gives label, code and text", function()
      local r = assert(q.responses:get(SURVEY, 90000002))
      assert.same({ "Often", 2 }, { r:answer("Q1") })
      assert.same({ "Often", 2 }, { r:answer("q1") })
      assert.same({ "Often", 2 }, { r:answer(12345678) })
      assert.same({ "Often", 2 }, { r:answer("12345678") })
      local questions = assert(q.surveys:questions(SURVEY))
      assert.same({ "Often", 2 }, { r:answer(questions[1]) })
      local label, code, text = r:answer("Q2_4")
      assert.equals("EMAIL", label)
      assert.is_nil(code)
      assert.equals("p002@example.org", text)
      assert.is_nil(r:answer("Q9"))
      assert.is_nil(r:answer(1))
      local list = r:answers("Q1")
      assert.equals(1, #list)
      assert.equals(123456790, list[1].answer_id)
      assert.same({}, r:answers("Q9"))
      assert.has_error(function() r:answer() end)
      assert.has_error(function() r:answer(true) end)
      -- a started response has no contact answers
      local started = assert(q.responses:get(SURVEY, 90000007))
      assert.equals("Started", started.responseStatus)
      assert.is_nil(started:answer("Q2_1"))
    end)

    it("custom holds custom1..5 without nulls and carries Prolific participant ids", function()
      local all = assert(q.responses:all(SURVEY))
      for _, r in ipairs(all) do
        assert.matches("^%x+$", r.custom.custom1)
        assert.equals(24, #r.custom.custom1)
        assert.is_nil(r.custom.custom3)
      end
      assert.equals(SEED_PARTICIPANT, all[3].custom.custom1)
      assert.equals("arm-A", all[3].custom.custom2)
      -- derived values are not stored in the object
      assert.is_nil(rawget(all[3], "custom"))
      assert.is_nil(rawget(all[3], "time"))
    end)

    it("parses timestamps to UTC and reports an ambiguous zone instead of guessing", function()
      local r1 = assert(q.responses:get(SURVEY, 90000001)) -- PDT
      assert.equals("01 May, 2024 05:00:17 AM PDT", r1.timestamp)
      assert.equals("2024-05-01T12:00:17Z", r1.time_utc)
      assert.equals(1714564817, r1.time)
      assert.is_nil(r1.time_error)
      local info = assert(r1:time_info())
      assert.equals(-420, info.offset)
      assert.equals("PDT", info.zone)

      local ist = assert(q.responses:get(SURVEY, 90000007))
      assert.equals("02 May, 2024 05:31:59 AM IST", ist.timestamp)
      assert.is_nil(ist.time)
      assert.is_nil(ist.time_utc)
      assert.matches("ambiguous time zone IST", ist.time_error)
      assert.truthy(ist.time_error:find("India +05:30", 1, true))
      local none, why = ist:time_info()
      assert.is_nil(none)
      assert.matches("ambiguous", why)
      assert.truthy(tostring(ist):find("IST", 1, true))

      -- the client decides for its account
      local india = env.questionpro{ time_zones = { IST = "+05:30" } }
      local decided = assert(india.responses:get(SURVEY, 90000007))
      assert.equals("2024-05-02T00:01:59Z", decided.time_utc)
      assert.matches("^Response 90000007 %S+ 2024%-05%-02T00:01:59Z", tostring(decided))
      local ireland = env.questionpro{ time_zones = { ist = 1 } }
      assert.equals("2024-05-02T04:31:59Z", assert(ireland.responses:get(SURVEY, 90000007)).time_utc)
    end)

    it("parse_timestamp handles the clock's edges and other zone forms", function()
      local p = responses_mod.parse_timestamp
      assert.equals("2020-10-05T21:51:51Z", p("05 Oct, 2020 02:51:51 PM PDT").utc)
      assert.equals("2020-01-01T00:05:00Z", p("01 Jan, 2020 12:05:00 AM UTC").utc)
      assert.equals("2020-01-01T12:05:00Z", p("01 Jan, 2020 12:05:00 PM GMT").utc)
      assert.equals("2019-12-31T23:00:00Z", p("01 Jan, 2020 12:00:00 AM CET").utc)
      assert.equals("2020-01-14T18:34:44Z", p("15 Jan, 2020 12:04:44 AM GMT+05:30").utc)
      assert.equals("2020-02-29T23:59:59Z", p("29 Feb, 2020 11:59:59 PM UTC").utc)
      for _, z in ipairs { "IST", "CST", "BST", "AST" } do
        local t, why = p("01 Jan, 2020 10:00:00 AM " .. z)
        assert.is_nil(t)
        assert.matches("ambiguous time zone " .. z, why)
      end
      assert.equals("2020-01-01T16:00:00Z", p("01 Jan, 2020 10:00:00 AM CST", { CST = -360 }).utc)
      local t, why = p("01 Jan, 2020 10:00:00 AM XYZ")
      assert.is_nil(t)
      assert.matches("unknown time zone XYZ", why)
      assert.is_nil(p("yesterday at noon"))
      assert.is_nil(p("01 Jan, 2020 13:00:00 PM UTC"))
      assert.is_nil(p(nil))
    end)
  end)

  describe("errors", function()
    it("400/1001 for a body that is not JSON", function()
      -- the generated methods refuse such a body before sending; Client:send sends it as it is
      assert.has_error(function() q.responses:create(SURVEY, "{ not json") end)
      local v, err = q:send { method = "POST", path = "/surveys/{}/responses", ids = { tostring(SURVEY) },
        body = "{ not json" }
      assert.is_nil(v)
      assert.equals(400, err.status)
      assert.equals(1001, err.code)
      assert.equals("BAD_REQUEST", err.title)
      assert.equals("invalid_json", err.reason)
    end)

    it("400/1002 for a body of the wrong schema", function()
      local v, err = q.responses:create(SURVEY, { responseSet = {
        { questionID = 99999999, answerValues = { { answerID = 1 } } } } })
      assert.is_nil(v)
      assert.equals(400, err.status)
      assert.equals(1002, err.code)
      assert.equals("invalid_body", err.reason)
      assert.matches("99999999 is not a question of survey 7654321", err.message)
      v, err = q.responses:create(SURVEY, { responseSet = {
        { questionID = 12345678, answerValues = { { answerID = 100000001 } } } } })
      assert.equals(1002, err.code)
      assert.has_error(function() q.responses:create(SURVEY, '["an", "array"]') end)
      v, err = q:send { method = "POST", path = "/surveys/{}/responses", ids = { tostring(SURVEY) },
        body = '["an", "array"]' }
      assert.equals(1002, err.code)
    end)

    it("400/1003 for bad parameters", function()
      local v, err = q.responses:filter(SURVEY, { start_date = "2024-05-03", end_date = "2024-05-01" })
      assert.is_nil(v)
      assert.equals(400, err.status)
      assert.equals(1003, err.code)
      assert.equals("invalid_parameters", err.reason)
      assert.matches("startDate is after endDate", err.message)
      v, err = q.responses:filter(SURVEY, { time_zone = "Mars/Olympus_Mons" })
      assert.equals(1003, err.code)
      -- the iterator raises the error object
      local ok, raised = pcall(function()
        for _ in q.responses:each_filter(SURVEY, { time_zone = "Nowhere" }) do end
      end)
      assert.is_false(ok)
      assert.is_true(cohort.Error.is(raised))
      assert.equals(1003, raised.code)
    end)

    it("429/1013 past the per-key limit, told apart from 403/1013", function()
      local limits = env.control("GET", "questionpro/rate-limit")
      assert.equals(300, limits.limit)
      assert.equals(60, limits.window)
      env.control("POST", "questionpro/rate-limit", { limit = 3 })
      local c = env.questionpro{ retries = 0 }
      for _ = 1, 3 do assert.truthy(c.surveys:get(SURVEY)) end
      local v, err = c.surveys:get(SURVEY)
      assert.is_nil(v)
      assert.equals(429, err.status)
      assert.equals(1013, err.code)
      assert.equals("API call limit exceeded", err.message)
      assert.is_true(err.rate_limited)
      assert.equals("rate_limited", err.reason)
      assert.is_true(qp.is_rate_limited(err))
      assert.is_true(err.retry_after > 0 and err.retry_after <= 60)
      -- a reset restores the default limit
      env.reset()
      assert.truthy(c.surveys:get(SURVEY))
      assert.equals(300, env.control("GET", "questionpro/rate-limit").limit)
    end)

    it("--qp-rate-limit sets the limit of a sandbox", function()
      local sb = assert(require("cohort.sandbox").start{ args = { "--qp-rate-limit", "2" } })
      local c = cohort.questionpro{ api_key = sb.api_key, base_url = sb.url, retries = 0 }
      assert.truthy(c.surveys:get(SURVEY))
      assert.truthy(c.surveys:get(SURVEY))
      local v, err = c.surveys:get(SURVEY)
      sb:stop()
      assert.is_nil(v)
      assert.equals(429, err.status)
      assert.is_true(err.rate_limited)
      local bad = require("cohort.sandbox").start{ args = { "--qp-rate-limit", "lots" } }
      assert.is_nil(bad)
    end)

    it("gives a clear error when an HTML page comes instead of JSON", function()
      env.control("POST", "questionpro/html", { status = 200, count = 1 })
      local v, err = q.surveys:get(SURVEY)
      assert.is_nil(v)
      assert.equals("decode", err.kind)
      assert.equals("not_json", err.reason)
      assert.matches("QuestionPro answered an HTML page", err.message)
      assert.truthy(err.message:find("QuestionPro - Login", 1, true))
      env.control("POST", "questionpro/html", { status = 502, count = 1 })
      v, err = env.questionpro{ retries = 0 }.surveys:get(SURVEY)
      assert.is_nil(v)
      assert.equals(502, err.status)
      assert.equals("not_json", err.reason)
      assert.matches("instead of JSON", err.message)
      assert.truthy(q.surveys:get(SURVEY))
    end)

    it("classifies errors by status first, then id", function()
      local E = cohort.Error.new
      assert.equals("rate_limited", qp.reason(E { kind = "http", status = 429, code = 1013 }))
      assert.equals("forbidden", qp.reason(E { kind = "http", status = 403, code = 1013 }))
      assert.equals("forbidden", qp.reason(E { kind = "http", status = 403, code = 1011 }))
      assert.equals("invalid_parameters", qp.reason(E { kind = "http", status = 400, code = 1000 }))
      assert.equals("server_error", qp.reason(E { kind = "http", status = 500, code = 1026 }))
      assert.equals("timeout", qp.reason(E { kind = "timeout" }))
      assert.is_false(qp.is_rate_limited(E { kind = "http", status = 403, code = 1013 }))
    end)
  end)

  describe("examples/questionpro_export.lua", function()
    it("prints every response of the survey as a table", function()
      local sb = env.sandbox()
      local sq = require("cohort.sandbox").shell_quote
      local out, code = env.run(("QUESTIONPRO_API_KEY=%s QUESTIONPRO_URL=%s %s examples/questionpro_export.lua")
        :format(sq(sb.api_key), sq(sb.url), sq(arg and arg[-1] or "lua5.4")))
      assert.equals(0, code, out)
      assert.truthy(out:find("37 responses of Survey 7654321 \"Test Survey\" (Active) exported", 1, true), out)
      assert.truthy(out:find("90000003%s+Completed%s+2024%-05%-01T16:00:51Z%s+60bf9310e8dec401be6e9615%s+Sometimes"), out)
      assert.truthy(out:find("time unknown for response 90000007: ambiguous time zone IST", 1, true), out)
    end)
  end)
  describe("the guide", function()
    it("docs/questionpro.md's operations table is what tools/ops_table.lua prints", function()
      local lines = {}
      local tool_env = setmetatable({ print = function(x) lines[#lines + 1] = x or "" end },
        { __index = _G })
      assert(loadfile("tools/ops_table.lua", "t", tool_env))("questionpro")
      local f = assert(io.open("docs/questionpro.md"))
      local doc = f:read("*a")
      f:close()
      assert.truthy(doc:find(table.concat(lines, "\n"), 1, true),
        "docs/questionpro.md's table differs from `lua5.4 tools/ops_table.lua questionpro`")
    end)
  end)
end)
