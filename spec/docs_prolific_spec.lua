-- Every code example of docs/prolific.md, run against the sandbox with its outcome asserted.
--
-- The examples are written here as they appear in the guide (each test starts from a reset
-- sandbox). The last tests check that every ```lua block of the guide appears, line for line
-- (indentation aside), in this file, and that the guide's operations table is what
-- tools/ops_table.lua prints — so the guide cannot drift from code that runs.
describe("docs/prolific.md", function()
  local env = require "support.env"
  local cohort = require "cohort"
  local Error = cohort.Error
  local p, sb

  -- The examples print; `print` here records the lines so the tests can check them.
  local printed = {}
  local function print(...)
    local t = require("cohort.compat").pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    printed[#printed + 1] = table.concat(t, "\t")
  end
  -- the guide's blocks call table.unpack: LuaJIT and 5.1 have it as `unpack`
  local table = setmetatable({ unpack = table.unpack or unpack }, { __index = table })

  local function raises(pattern, fn)
    local before = #env.requests()
    local ok, msg = pcall(fn)
    assert.is_false(ok)
    assert.matches(pattern, tostring(msg))
    assert.are.equal(before, #env.requests(), "a request was sent")
  end

  -- The sandbox's dataset, as the guide names it.
  local STUDY = "60aca280709ee40ec37d4885"        -- ACTIVE, 45 submissions (27 AWAITING REVIEW)
  local DRAFT = "60aca280709ee40ec37d4887"        -- UNPUBLISHED, no submissions
  local SUBMISSION = "625d4a831bcda2d59ac5a251"   -- APPROVED, of STUDY
  local PARTICIPANT = "60bf9310e8dec401be6e9615"  -- the participant of SUBMISSION
  local OTHER = "60bf9a2c0a16dbeec342d142"        -- another participant of STUDY
  local WORKSPACE = "60a42f4c693c29420793cb74"    -- holds £1,000.00 (100000 minor units)
  local PROJECT = "60a42f4c693c29420793cb75"      -- holds the three studies

  setup(function()
    sb = env.sandbox()
    p = env.prolific()
  end)

  before_each(function()
    env.reset()
    for k in pairs(printed) do printed[k] = nil end
  end)

  teardown(function() env.reset() end)

  -- ------------------------------------------------------------------ the client

  it("the client: a private sandbox, and a client for real Prolific", function()
    local cohort = require "cohort"
    local sb = require("cohort.sandbox").start{}        -- a private sandbox on a free port
    local p = cohort.prolific{ token = sb.token, base_url = sb.url }
    print(p.users:me())                                 --> User 60a42f4c… researcher@example.org
    sb:stop()

    local live = cohort.prolific{          -- nothing is sent until the first call
      token = "your-api-token",            -- default: $PROLIFIC_TOKEN
      base_url = "https://api.prolific.com",
      timeout = 20, connect_timeout = 5,   -- seconds
      retries = 3, retry_base = 0.5, retry_cap = 10, retry_budget = 60,
      page_size = 100, max_connections = 8, max_size = 16 * 1024 * 1024,
    }
    print(live)            --> cohort.prolific client https://api.prolific.com (credentials hidden)

    assert.are.equal("User 60a42f4c… researcher@example.org", printed[1])
    assert.are.equal("cohort.prolific client https://api.prolific.com (credentials hidden)", printed[2])
    assert.is_nil(printed[2]:find("your-api-token", 1, true))
  end)

  it("the client refuses unknown options and plain http to another host", function()
    local ok, msg = pcall(cohort.prolific, { token = "t", colour = "red" })
    print(msg)   --> …: cohort: cohort.prolific(): unknown option 'colour'
    ok, msg = pcall(cohort.prolific, { token = "t", base_url = "http://example.org" })
    print(msg)   --> …: cohort: cohort.prolific(): base_url "http://example.org" would send the
                 --  credentials unencrypted; use https:// or pass insecure = true

    assert.is_false(ok)
    assert.matches("cohort: cohort%.prolific%(%): unknown option 'colour'$", printed[1])
    assert.matches("would send the credentials unencrypted; use https:// or pass insecure = true$",
      printed[2])
  end)

  -- ------------------------------------------------------------------ conventions

  it("conventions: runtime failures are nil, err", function()
    local sub, err = p.submissions:get("000000000000000000000000")
    if not sub then
      print(err.kind, err.status, err.code, err.message)  --> http  404  140100  Submission not found.
      print(err)   --> cohort: HTTP 404 Not Found [140100] — Submission not found. (GET http://…/api/v1/submissions/000000000000000000000000/)
    end

    local batch, err2 = p.bonuses:setup{ study = STUDY, bonuses = { { "000000000000000000000000", 1.00 } } }
    if not batch then
      print(err2.status, err2.fields.csv_bonuses[1])
      --> 400  line 1: 000000000000000000000000 is not a participant or submission of this study
    end

    assert.is_nil(sub)
    assert.is_true(Error.is(err))
    assert.are.equal("http\t404\t140100\tSubmission not found.", printed[1])
    assert.matches("^cohort: HTTP 404 Not Found %[140100%] — Submission not found%. %(GET http://", printed[2])
    assert.are.equal("400\tline 1: 000000000000000000000000 is not a participant or submission of this study",
      printed[3])
  end)

  it("conventions: misuse raises before anything is sent", function()
    local ok, msg = pcall(function()
      return p.submissions:list{ study = STUDY, status = "DONE" }
    end)
    print(ok, msg)
    --> false  …: cohort: p.submissions:list(): status must be one of "RESERVED", "ACTIVE", … (got "DONE", a string)

    assert.matches('^false\t.*cohort: p%.submissions:list%(%): status must be one of "RESERVED", "ACTIVE", .* %(got "DONE", a string%)$',
      printed[1])
    raises('p%.submissions:list%(%): status must be one of', function()
      return p.submissions:list{ study = STUDY, status = "DONE" }
    end)
  end)

  it("conventions: checked by the schema, before sending; a dot for a colon", function()
    env.control("DELETE", "requests")
    local function why(fn) local _, msg = pcall(fn) return (msg:gsub("^.-cohort: ", "cohort: ")) end
    print(why(function() return p.studies:get("../studies") end))
    --> cohort: p.studies:get(): id must be a Prolific id of 24 hexadecimal digits (got "../studies", a string)
    print(why(function() return p.studies:update(DRAFT, { reward = "150" }) end))
    --> cohort: p.studies:update(): reward must be a number (got "150", a string)
    print(why(function() return p.studies:update(DRAFT, { filters = {
      { filter_id = "age", selected_range = { lower = "18" } } } }) end))
    --> cohort: p.studies:update(): filters[1].selected_range.lower must be an integer or an ISO 8601 date (got "18", a string)
    local sub = assert(p.submissions:get(SUBMISSION))
    print(why(function() return sub:reject{ message = "Too fast.", category = "TOO_QUICKLY" } end))
    --> cohort: sub:reject(): message must be at least 100 characters to reject (got 9)
    print(why(function() return p.submissions.list{ study = STUDY } end))   -- a dot for a colon
    --> cohort: p.submissions.list(): called with a dot; write p.submissions:list{...}

    assert.are.same({
      'cohort: p.studies:get(): id must be a Prolific id of 24 hexadecimal digits (got "../studies", a string)',
      'cohort: p.studies:update(): reward must be a number (got "150", a string)',
      'cohort: p.studies:update(): filters[1].selected_range.lower must be an integer or an ISO 8601 date (got "18", a string)',
      "cohort: sub:reject(): message must be at least 100 characters to reject (got 9)",
      "cohort: p.submissions.list(): called with a dot; write p.submissions:list{...}",
    }, printed)
    assert.are.equal(1, #env.requests()) -- the get of SUBMISSION, nothing else
  end)

  it("conventions: each yields every item that matched, while the loop changes the list", function()
    local approved = 0
    for sub in p.submissions:each{ study = STUDY, status = "AWAITING REVIEW", page_size = 10 } do
      assert(sub:approve())        -- each approval takes it out of the filtered list
      approved = approved + 1
    end
    print(approved)                --> 27: every one that matched when the loop began

    assert.are.same({ "27" }, printed)
    assert.are.equal(0, #assert(p.submissions:all{ study = STUDY, status = "AWAITING REVIEW" }))
  end)

  it("conventions: list, each, all; iterators raise the error", function()
    local page = assert(p.submissions:list{ study = STUDY })
    print(page)                  --> Page of 20 Submission (45 in all), more to come
    print(#page, page.count)     --> 20  45

    local n = 0
    for sub in p.submissions:each{ study = STUDY, status = "AWAITING REVIEW" } do
      n = n + 1                  -- every page, fetched as the loop goes
    end
    print(n)                     --> 27

    local all = assert(p.submissions:all{ study = STUDY, page_size = 10 })
    print(#all)                  --> 45

    local ok, err = pcall(function()
      for study in p.studies:each_for_project("000000000000000000000000") do end
    end)
    print(ok, Error.is(err), err.status)   --> false  true  404

    assert.are.same({ "Page of 20 Submission (45 in all), more to come", "20\t45", "27", "45",
      "false\ttrue\t404" }, printed)
  end)

  it("conventions: per-call options", function()
    local me = assert(p.users:me(nil, { timeout = 5, retries = 0 }))    -- one attempt, 5 s at most
    local page = assert(p.submissions:list({ study = STUDY, status = "AWAITING REVIEW" },
      { retries = 6 }))
    assert(p.submissions:request_return(page[1].id,
      { request_return_reasons = { "You took part twice." } },
      { retry_unsafe = true, retries = 3 }))    -- a POST: retried only when you say so

    assert.are.equal("60a42f4c693c29420793cb73", me.id)
    assert.are.equal(20, #page)
    raises("unknown option 'retry'", function() p.users:me(nil, { retry = 2 }) end)
  end)

  it("conventions: money, the guard and its caps", function()
    local guarded = cohort.prolific{ token = sb.token, base_url = sb.url,
      spend_cap = 1000 }                 -- £10.00 in this process: MINOR units, fees and VAT included
    local batch = assert(guarded.bonuses:setup{ study = STUDY, bonuses = { { PARTICIPANT, 3.00 } } })
    print(batch.total)                   --> 420 (amount 300 + fees 100 + VAT 20, minor units)
    assert(batch:pay())
    print(guarded.money)
    --> cohort money guard: 420 spent in this process of a spend cap of 1000 (minor units, fees and VAT included; 580 left)

    local _, err = guarded.bonuses:setup{ study = STUDY, bonuses = { { OTHER, 6.00 } } }
    print(err.kind, err.code, err.cost)  --> refused  SPEND_CAP  600
    print(err.message)
    --> p.bonuses:setup(): this bonus would pass the client's spend_cap = 1000: the cost is 600 minor units before fees and VAT (6.00 in major units) and 420 is spent in this process already (580 left); nothing was sent

    local cost = assert(p.studies:cost(DRAFT, { is_projected = true }))
    print(cost.total, cost)   --> 1400.01  StudyCost 1400.01 GBP (minor units): rewards 1000 + fees 333.34 + VAT 66.67, bonuses 0 + fees 0 + VAT 0
    local _, perr = assert(guarded.studies:get(DRAFT)):publish()          -- 1400.01 > 580 left
    print(perr.code)                     --> SPEND_CAP

    assert.are.same({
      "420",
      "cohort money guard: 420 spent in this process of a spend cap of 1000 (minor units, fees and VAT included; 580 left)",
      "refused\tSPEND_CAP\t600",
      "p.bonuses:setup(): this bonus would pass the client's spend_cap = 1000: the cost is 600 minor units before fees and VAT (6.00 in major units) and 420 is spent in this process already (580 left); nothing was sent",
      "1400.01\tStudyCost 1400.01 GBP (minor units): rewards 1000 + fees 333.34 + VAT 66.67, bonuses 0 + fees 0 + VAT 0",
      "SPEND_CAP",
    }, printed)
    assert.are.equal("UNPUBLISHED", assert(p.studies:get(DRAFT)).status)
    assert.are.equal(1, env.control("GET", "ledger").count)
  end)

  -- ------------------------------------------------------------------ users

  it("users", function()
    local me = assert(p.users:me())
    print(me)                              --> User 60a42f4c… researcher@example.org
    print(me.name, me.currency_code)       --> Ada Researcher  GBP

    assert.are.same({ "User 60a42f4c… researcher@example.org", "Ada Researcher\tGBP" }, printed)
  end)

  -- ------------------------------------------------------------------ studies

  it("studies: create, cost, forecast, life cycle", function()
    local study = assert(p.studies:create{
      name = "Reaction times",
      description = "A five-minute reaction-time task.",
      external_study_url = "https://example.org/rt?PROLIFIC_PID={{%PROLIFIC_PID%}}",
      prolific_id_option = "url_parameters",
      completion_codes = { { code = "C0DE1234", code_type = "COMPLETED",
                             actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5,         -- minutes
      reward = 150,                          -- minor units: £1.50 per participant
      total_available_places = 20,
    })
    print(study)   --> Study 6a5bd0c5… UNPUBLISHED "Reaction times" (reward 150 minor units, 20 places)

    local cost = assert(study:cost{ is_projected = true })   -- every cost in minor units
    print(cost.rewards.rewards.amount, cost.rewards.rewards.currency)   --> 3000  GBP
    print(assert(study:predicted_recruitment_time()).display_string)   --> 9 minutes

    study = assert(study:publish())          -- each verb returns the updated Study
    study = assert(study:pause())
    study = assert(study:start())
    print(study.status)                      --> ACTIVE
    local _, err = study:publish()
    print(err.status, err.message)           --> 400  Cannot PUBLISH a study with status ACTIVE…
    study = assert(study:stop())
    print(study.status)                      --> COMPLETED (nobody to review)

    assert.matches('^Study %x+… UNPUBLISHED "Reaction times" %(reward 150 minor units, 20 places%)$', printed[1])
    assert.are.equal("3000\tGBP", printed[2])
    assert.are.equal("9 minutes", printed[3])
    assert.are.equal("ACTIVE", printed[4])
    assert.matches("^400\tCannot PUBLISH a study with status ACTIVE", printed[5])
    assert.are.equal("COMPLETED", printed[6])
  end)

  it("studies: clone, schedule, cancel, update, delete, list, export, calculator", function()
    local copy = assert(p.studies:clone(DRAFT))                      -- a new draft
    copy = assert(copy:update{ name = "Wave 2", reward = 200 })      -- reward in minor units
    copy = assert(copy:schedule{ at = os.time() + 24 * 3600 })       -- or "2030-06-01T09:00:00Z"
    print(copy.status)                                               --> SCHEDULED
    copy = assert(copy:cancel_publish())
    assert(copy:delete())                                            -- drafts only

    for study in p.studies:each{ status = { "ACTIVE", "PAUSED" } } do
      print(study)  --> Study 60aca280… ACTIVE "Reaction times and attention" (reward 150 minor units, 45 places)
    end

    local csv = assert(p.studies:export(STUDY))                      -- CSV text
    print(csv:match("^[^\n]*"))   --> submission_id,participant_id,status,started_at,…

    local quote = assert(p.studies:calculate_cost{ reward = 150, total_available_places = 20 })
    print(quote.total_cost)       --> 4200 (minor units: rewards, fees and VAT)

    assert.are.equal("SCHEDULED", printed[1])
    local _, gone = p.studies:get(copy.id)
    assert.are.equal(404, gone.status)
    local active = 0
    for i = 2, #printed - 2 do
      assert.matches("^Study %x+… ACTIVE ", printed[i])
      active = active + 1
    end
    assert.is_true(active >= 1)
    assert.matches("^submission_id,participant_id,status,started_at", printed[#printed - 1])
    assert.are.equal("4200", printed[#printed])
  end)

  -- ------------------------------------------------------------------ submissions

  it("submissions: review by hand and in bulk", function()
    local waiting = assert(p.submissions:all{ study = STUDY, status = "AWAITING REVIEW" })
    print(#waiting)                                      --> 27

    local approved = assert(waiting[1]:approve())        -- the updated Submission
    print(approved)                                      --> Submission 625d4a83… APPROVED (participant 60bf9310…)

    local rejected = assert(waiting[2]:reject{
      category = "LOW_EFFORT",
      message = "Thank you for taking part. Unfortunately your answers were given too quickly "
        .. "to reflect the task, so we cannot approve this submission.",   -- 100 characters at least
    })
    print(rejected.status)                               --> REJECTED

    assert(waiting[3]:request_return{ "You took part in this study twice." })

    local rest = { table.unpack(waiting, 4) }            -- Submission objects or ids, at most 1,000
    assert(p.submissions:bulk_approve{ ids = rest })

    local _, err = waiting[1]:approve()                  -- not AWAITING REVIEW any more
    print(err.status, err.message)
    --> 400  Cannot approve a submission with status APPROVED; it must be AWAITING REVIEW.

    local active = assert(p.submissions:all{ study = STUDY, status = "ACTIVE" })
    local done = assert(active[1]:complete{ completion_code = "C0DE1234" })
    print(done.status)                                   --> AWAITING REVIEW

    assert.are.equal("27", printed[1])
    assert.matches("^Submission %x+… APPROVED %(participant %x+…%)$", printed[2])
    assert.are.equal("REJECTED", printed[3])
    assert.are.equal("400\tCannot approve a submission with status APPROVED; it must be AWAITING REVIEW.",
      printed[4])
    assert.are.equal("AWAITING REVIEW", printed[5])
    -- left: waiting[3] (asked to return) and the one just completed
    assert.are.equal(2, #assert(p.submissions:all{ study = STUDY, status = "AWAITING REVIEW" }))
    raises("sub:reject%(%): message must be at least 100 characters to reject %(got 9%)", function()
      waiting[2]:reject{ category = "LOW_EFFORT", message = "Too fast." }
    end)
  end)

  -- ------------------------------------------------------------------ bonuses

  it("bonuses: set up, look, pay (twice pays twice)", function()
    local before = assert(p.workspaces:balance(WORKSPACE))
    local batch = assert(p.bonuses:setup{ study = STUDY, bonuses = {
      { PARTICIPANT, 1.50 },                        -- a participant id and MAJOR units: £1.50
      { submission = "66300a1b01635f5553e5a684", amount = 0.75 },   -- or a submission id, named
    } })
    print(batch)  --> BonusBatch 6a5bd0c5… amount 225 + fees 75 + VAT 15 = total 315 (minor units)
    print(batch.total, #batch.rows)                 --> 315  2

    assert(batch:pay())
    local after = assert(p.workspaces:balance(WORKSPACE))
    print(before.available_balance - after.available_balance)   --> 315

    local _, err = batch:pay()                      -- refused by the client: nothing is sent
    print(err.kind, err.code)                       --> refused  ALREADY_PAID

    assert.matches("^BonusBatch %x+… amount 225 %+ fees 75 %+ VAT 15 = total 315 %(minor units%)$", printed[1])
    assert.are.equal("315\t2", printed[2])
    assert.are.equal("315", printed[3])
    assert.are.equal("refused\tALREADY_PAID", printed[4])
    assert.are.equal(2, env.control("GET", "ledger").count) -- paid once
    raises("bonuses%[1%] amount must be greater than 0", function()
      p.bonuses:setup{ study = STUDY, bonuses = { { PARTICIPANT, -1 } } }
    end)
  end)

  it("bonuses: checked before anything is sent", function()
    env.control("DELETE", "requests")
    local ok, msg = pcall(function()
      return p.bonuses:setup{ study = STUDY, bonuses = { { PARTICIPANT, 1.00 }, { OTHER, 150 } } }
    end)
    print(msg)
    --> …: cohort: p.bonuses:setup(): bonuses[2] amount 150 is above the limit of 7.50 (5 × the study's reward of £1.50); bonus amounts are in MAJOR units (150 pays £150.00): if you meant £1.50, write 1.50; to allow it, pass max_bonus = 150
    ok, msg = pcall(function()
      return p.bonuses:setup{ study = STUDY, bonuses = { { OTHER, 1.00 }, { participant = OTHER, amount = 2 } } }
    end)
    print(msg)
    --> …: cohort: p.bonuses:setup(): bonuses[2] pays 60bf9a2c0a16dbeec342d142 a second time (also bonuses[1]): give one row per participant or submission (add the amounts up), so that nobody is paid twice by mistake

    assert.is_false(ok)
    assert.matches("^.-: cohort: p%.bonuses:setup%(%): bonuses%[2%] amount 150 is above the limit of 7%.50 %(5 × the study's reward of £1%.50%); bonus amounts are in MAJOR units %(150 pays £150%.00%): if you meant £1%.50, write 1%.50; to allow it, pass max_bonus = 150$",
      printed[1])
    assert.matches("^.-: cohort: p%.bonuses:setup%(%): bonuses%[2%] pays 60bf9a2c0a16dbeec342d142 a second time %(also bonuses%[1%]%): give one row per participant or submission %(add the amounts up%), so that nobody is paid twice by mistake$",
      printed[2])
    for _, r in ipairs(env.requests()) do assert.are_not.equal("POST", r.method) end
  end)

  it("bonuses: from a spreadsheet, with a cap and a look at each bill", function()
    local bulk = require "cohort.workbench.bulk"
    local rows = assert(bulk.read_bonus_csv("participant_id;amount\r\n"    -- a file's path, or its text
      .. PARTICIPANT .. ";1,50\r\n" .. OTHER .. ";0,75\r\n"))
    print(#rows, rows[1][2], rows[2].line)          --> 2  1.5  3

    local run = assert(p.bonuses:pay_all{ study = STUDY, bonuses = rows,
      spend_cap = 1000,                             -- this call: 1000 minor units at most, fees and VAT included
      confirm = function(batch, info)               -- after each set-up, before its payment
        print(info.index, info.count, batch)        --> 1  1  BonusBatch 6a5bd0c5… amount 225 + fees 75 + VAT 15 = total 315 (minor units)
        return true                                 -- only true pays it
      end })
    print(run.paid, run.cost)                       --> 2  315

    assert.are.equal("2\t1.5\t3", printed[1])
    assert.matches("^1\t1\tBonusBatch %x+… amount 225 %+ fees 75 %+ VAT 15 = total 315 %(minor units%)$", printed[2])
    assert.are.equal("2\t315", printed[3])
    assert.are.equal(2, env.control("GET", "ledger").count)
  end)

  -- ------------------------------------------------------------------ messages

  it("messages", function()
    assert(p.messages:send{ recipient = PARTICIPANT, study = STUDY, body = "Thank you for taking part!" })
    for m in p.messages:each{ user_id = PARTICIPANT } do
      print(m)            --> Message 2025-06-02T09:30 from 60a42f4c…: Thank you for taking part!
    end

    local ids = {}
    for sub in p.submissions:each{ study = STUDY, status = "APPROVED" } do
      ids[#ids + 1] = sub.participant_id
    end
    assert(p.messages:send_bulk{ ids = ids, study = STUDY, body = "A follow-up study opens on Monday." })

    local group = assert(p.groups:create{ workspace_id = WORKSPACE, name = "Follow-up",
      participant_ids = ids })
    assert(p.messages:send_to_group{ group = group.id, body = "The follow-up study is open." })

    for m in p.messages:each_unread() do
      print(m.sender_id, m.body)     --> 60bf9a2c…  Hello, I could not load the second page…
    end

    assert.matches("^Message %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d from 60a42f4c…: Thank you for taking part!$", printed[1])
    assert.are.equal(2, #printed)
    assert.matches("^%x+\tHello, I could not load", printed[2])
    assert.are.equal(5, #ids)
    local convo = assert(p.messages:all{ user_id = ids[1] })
    assert.are.equal("The follow-up study is open.", convo[#convo].body)
    raises("body must not be blank", function()
      p.messages:send{ recipient = PARTICIPANT, study = STUDY, body = "" }
    end)
  end)

  -- ------------------------------------------------------------------ workspaces and projects

  it("workspaces and their balance", function()
    for ws in p.workspaces:each() do print(ws) end    --> Workspace 60a42f4c… "Sandbox workspace"

    local ws = assert(p.workspaces:create{ title = "Lab", currency_code = "USD" })
    ws = assert(ws:update{ description = "The lab's studies" })
    local balance = assert(ws:balance())              -- minor units
    print(balance.currency_code, balance.total_balance, balance.available_balance)   --> USD  0  0
    print(assert(p.workspaces:balance(WORKSPACE)).available_balance)                 --> 100000

    assert.are.same({ 'Workspace 60a42f4c… "Sandbox workspace"', "USD\t0\t0", "100000" }, printed)
    raises("currency_code must be a string", function()
      p.workspaces:create{ title = "Euro lab", currency_code = 978 }
    end)
  end)

  it("projects", function()
    local ws = assert(p.workspaces:get(WORKSPACE))
    local pilot = assert(ws:create_project{ title = "Pilot" })
    pilot = assert(pilot:update{ title = "Pilot (2025)" })
    for project in ws:each_project() do print(project) end
    --> Project 60a42f4c… "Sandbox project"
    --> Project 6a5bd0c5… "Pilot (2025)"

    local seeded = assert(p.projects:get(PROJECT))
    for study in seeded:each_study() do
      if study.status == "UNPUBLISHED" then print(study.name) end   --> Not yet run
    end

    assert.are.equal('Project 60a42f4c… "Sandbox project"', printed[1])
    assert.matches('^Project %x+… "Pilot %(2025%)"$', printed[2])
    assert.are.equal("Not yet run", printed[3])
    local _, err = p.projects:get("000000000000000000000000")
    assert.are.equal(404, err.status)
  end)

  -- ------------------------------------------------------------------ surveys

  it("surveys: sections, flat questions, responses, summary", function()
    local me = assert(p.users:me())
    local survey = assert(p.surveys:create{
      researcher_id = me.id, title = "Ice cream",
      sections = {
        { title = "Taste", questions = {
          { title = "Do you like ice cream?", type = "single",
            answers = { { value = "Yes" }, { value = "No" } } },
          { title = "Favourite flavours?", type = "multiple",
            answers = { { value = "Chocolate" }, { value = "Vanilla" }, { value = "Mint" } } } } },
        { title = "Checks", questions = {
          { title = "Attention check: choose Blue", type = "single",   -- the right answer first
            answers = { { value = "Blue" }, { value = "Red" } } } } },
      },
    })
    print(survey)   --> Survey 6a5bd0c5… "Ice cream" (2 sections, 3 questions)

    local flat = assert(p.surveys:create{ researcher_id = me.id, title = "Tea", questions = {
      { title = "Tea or coffee?", type = "single", answers = { { value = "Tea" }, { value = "Coffee" } } } } })
    print(flat)     --> Survey 6a5bd0c5… "Tea" (1 question)

    assert(survey:add_response{ participant_id = PARTICIPANT, submission_id = SUBMISSION,
      answers = { ["Do you like ice cream?"] = "Yes",                  -- by question title (or id)
                  ["Favourite flavours?"] = { "Chocolate", "Mint" },   -- several for "multiple"
                  ["Attention check: choose Blue"] = "Blue" } })

    for response in survey:responses() do print(response) end
    --> SurveyResponse 6a5bd0c5… participant 60bf9310… (submission 625d4a83…)
    local summary = assert(survey:summary())
    print(summary, summary:count("Favourite flavours?", "Mint"))   --> SurveySummary 6a5bd0c5… 3 questions, 3 answers  1

    for s in p.surveys:each{ researcher_id = me.id } do print(s.title) end   --> Ice cream, Tea
    assert(survey:delete_responses())
    assert(flat:delete())

    assert.matches('^Survey %x+… "Ice cream" %(2 sections, 3 questions%)$', printed[1])
    assert.matches('^Survey %x+… "Tea" %(1 question%)$', printed[2])
    assert.matches("^SurveyResponse %x+… participant 60bf9310… %(submission 625d4a83…%)$", printed[3])
    assert.matches("^SurveySummary %x+… 3 questions, 3 answers\t1$", printed[4])
    assert.are.same({ "Ice cream", "Tea" }, { printed[5], printed[6] })
    assert.are.equal(0, #assert(p.surveys:all_responses(survey._id)))
    local _, err = p.surveys:get(flat._id)
    assert.are.equal(404, err.status)
    raises('sections%[1%]%.questions%[1%]%.type must be one of "single", "multiple" %(got "open", a string%)', function()
      p.surveys:create{ researcher_id = me.id, title = "x", sections = { { title = "s", questions = {
        { title = "Why?", type = "open", answers = { { value = "Because" } } } } } } }
    end)
  end)

  -- ------------------------------------------------------------------ study collections

  it("study collections", function()
    local arm_a = assert(p.studies:clone(DRAFT))          -- two drafts of the same project
    local arm_b = assert(p.studies:clone(DRAFT))
    local arms = assert(p.collections:create{ project_id = PROJECT, name = "Arms",
      description = "Each participant takes one arm.", study_ids = { arm_a.id, arm_b.id } })
    print(arms)              --> StudyCollection 6a5bd0c5… "Arms" UNPUBLISHED (2 studies)

    arms = assert(arms:schedule{ at = "2050-02-28T13:45:00 Europe/London" })
    arms = assert(arms:cancel())
    arms = assert(arms:publish())
    print(arms.status, assert(arm_a:refresh()).status)   --> ACTIVE  ACTIVE

    local _, err = p.collections:create{ project_id = PROJECT, name = "Late",
      description = "Too late.", study_ids = { arm_a.id } }
    print(err.status, err.fields.study_ids[1])           --> 400  … only draft …

    for c in p.collections:each{ project_id = PROJECT } do print(c.name) end   --> Arms

    assert.matches('^StudyCollection %x+… "Arms" UNPUBLISHED %(2 studies%)$', printed[1])
    assert.are.equal("ACTIVE\tACTIVE", printed[2])
    assert.matches("^400\t.*only draft", printed[3])
    assert.are.equal("Arms", printed[4])
  end)

  -- ------------------------------------------------------------------ hooks

  it("hooks: secret, subscription, events", function()
    local secret = assert(p.hooks:create_secret{ workspace_id = WORKSPACE })   -- secret.value signs
    local hook = assert(p.hooks:subscribe{ workspace_id = WORKSPACE,
      event_type = "study.status.change", target_url = "https://example.org/prolific-hook" })
    print(hook)   --> Subscription 6a5bd0c5… study.status.change → https://example.org/prolific-hook (enabled)

    local arms = assert(p.collections:create{ project_id = PROJECT, name = "Arms",
      description = "Each participant takes one arm.", study_ids = { DRAFT } })
    assert(arms:publish())                        -- the draft goes live: an event
    for event in hook:events() do print(event) end
    --> HookEvent 6a5bd0c5… study.status.change 60aca280… SUCCEEDED

    hook = assert(hook:disable())
    assert(hook:delete())

    assert.is_string(secret.value)
    assert.matches("^Subscription %x+… study%.status%.change → https://example%.org/prolific%-hook %(enabled%)$",
      printed[1])
    assert.is_true(#printed >= 2)
    assert.matches("^HookEvent %x+… study%.status%.change 60aca280… ", printed[2])
    local _, err = p.hooks:subscription(hook.id)
    assert.are.equal(404, err.status)
  end)

  it("hooks: receiving deliveries with cohort.workbench.webhooks", function()
    local secret = assert(p.hooks:create_secret{ workspace_id = WORKSPACE })
    local webhooks = require "cohort.workbench.webhooks"
    local seen = webhooks.deduper()               -- remembers the last 10,000 event ids

    -- In your HTTP handler: the headers and the raw body exactly as received.
    local function receive(headers, body)
      local ok, why = webhooks.verify(secret.value, headers, body, { tolerance = 300 })
      if not ok then return 401, why end
      if seen:repeated(headers["X-Event-ID"]) then return 200, "already handled" end
      -- … handle the event (decode body) …
      return 200, "handled"
    end

    -- A delivery as Prolific signs it: base64(HMAC-SHA256(secret, timestamp .. body)).
    local body = '{"event_type":"study.status.change","resource_id":"60aca280709ee40ec37d4887"}'
    local now = tostring(os.time())
    local headers = { ["X-Prolific-Request-Timestamp"] = now, ["X-Event-ID"] = "evt-1",
      ["X-Prolific-Request-Signature"] = webhooks.sign(secret.value, now, body) }
    print(receive(headers, body))                 --> 200  handled
    print(receive(headers, body))                 --> 200  already handled
    print(receive(headers, body:gsub("4887", "4885")))   --> 401  the signature does not match

    assert.are.same({ "200\thandled", "200\talready handled", "401\tthe signature does not match" },
      printed)
  end)

  -- ------------------------------------------------------------------ filters and filter sets

  it("filters and the eligibility count", function()
    for f in p.filters:each() do print(f) end
    --> Filter age (range, integer 18..100)
    --> Filter sex (select, 2 choices) …
    local young_left = {
      { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
      { filter_id = "handedness", selected_values = { "1" } },   -- choice ids are strings
    }
    local n = assert(p.filters:eligible_count{ filters = young_left })   -- 0 means fewer than 25
    print(n)                                                             --> 1157

    assert.are.equal("Filter age (range, integer 18..100)", printed[1])
    assert.are.equal("Filter sex (select, 2 choices)", printed[2])
    assert.is_true(#printed > 3)
    assert.are.equal("1157", printed[#printed])
    raises("filters%[1%] needs one of selected_values or selected_range", function()
      p.filters:eligible_count{ filters = { { filter_id = "age" } } }
    end)
  end)

  it("filter sets: versions, lock, unlock, clone", function()
    local fs = assert(p.filter_sets:create{ workspace_id = WORKSPACE, name = "Young left-handers",
      filters = { { filter_id = "age", selected_range = { lower = 18, upper = 30 } },
                  { filter_id = "handedness", selected_values = { "1" } } } })
    print(fs)                               --> FilterSet 6a5bd0c5… "Young left-handers" v1 (2 filters)

    fs = assert(fs:lock())                  -- a locked set refuses update and delete
    local _, err = fs:update{ name = "Changed" }
    print(err.status)                       --> 400
    fs = assert(fs:unlock())
    fs = assert(fs:update{ name = "Left-handers, 18 to 30" })
    print(fs.version)                       --> 2
    local copy = assert(fs:clone{ new_name = "Editable copy" })
    print(copy)                             --> FilterSet 6a5bd0c5… "Editable copy" v1 (2 filters)

    assert.matches('^FilterSet %x+… "Young left%-handers" v1 %(2 filters%)$', printed[1])
    assert.are.equal("400", printed[2])
    assert.are.equal("2", printed[3])
    assert.matches('^FilterSet %x+… "Editable copy" v%d+ %(2 filters%)$', printed[4])
  end)

  -- ------------------------------------------------------------------ groups and invitations

  it("participant groups", function()
    local group = assert(p.groups:create{ workspace_id = WORKSPACE, name = "Passed checks",
      participant_ids = { PARTICIPANT } })
    assert(group:add{ "60bf9a2c0a16dbeec342d142", "60bf9a2ca84e55ad514c270b" })
    assert(group:remove{ PARTICIPANT })
    for member in group:participants() do print(member.participant_id) end
    --> 60bf9a2c0a16dbeec342d142
    --> 60bf9a2ca84e55ad514c270b
    group = assert(group:refresh())
    print(group)                            --> ParticipantGroup 6a5bd0c5… "Passed checks" (2 participants)
    assert(group:delete())

    assert.are.equal("60bf9a2c0a16dbeec342d142", printed[1])
    assert.are.equal("60bf9a2ca84e55ad514c270b", printed[2])
    assert.matches('^ParticipantGroup %x+… "Passed checks" %(2 participants%)$', printed[3])
    local _, err = p.groups:create{ workspace_id = "000000000000000000000000", name = "Nowhere" }
    assert.are.equal(400, err.status)
  end)

  it("invitations", function()
    local answer = assert(p.invitations:create{ association = WORKSPACE,
      emails = { "colleague@example.org" }, role = "WORKSPACE_COLLABORATOR" })
    for _, invitation in ipairs(answer.invitations) do print(invitation) end
    --> Invitation colleague@example.org INVITED

    assert.are.same({ "Invitation colleague@example.org INVITED" }, printed)
    raises("role must be one of", function()
      p.invitations:create{ association = WORKSPACE, emails = { "a@example.org" }, role = "OWNER" }
    end)
  end)

  -- ------------------------------------------------------------------ rehearsing with simulated participants

  it("the sandbox's simulated participants: wait_for, attention checks, bulk approve", function()
    -- `sb` is the sandbox's handle (`require("cohort.sandbox").start{}`): its verbs drive it
    local me = assert(p.users:me())
    local CHECK = "Attention check: choose Blue"
    local survey = assert(p.surveys:create{ researcher_id = me.id, title = "Alertness", questions = {
      { title = "How alert do you feel?", type = "single",
        answers = { { value = "Very" }, { value = "Not at all" } } },
      { title = CHECK, type = "single", answers = { { value = "Blue" }, { value = "Red" } } } } })
    local study = assert(p.studies:create{
      name = "Alertness", description = "Two questions about how alert you feel.",
      external_study_url = "https://example.org/s?survey_id=" .. survey._id
        .. "&PROLIFIC_PID={{%PROLIFIC_PID%}}",           -- links the study to the survey
      prolific_id_option = "url_parameters",
      completion_codes = { { code = "ALERT123", code_type = "COMPLETED",
                             actions = { { action = "MANUALLY_REVIEW" } } } },
      estimated_completion_time = 5, reward = 150, total_available_places = 10,
    })
    study = assert(study:publish())

    local run = assert(sb:simulate(study, { participants = 10, returns = 0.1, timeouts = 0.1,
      failed_checks = 0.3, duration_ms = 500, seed = 7 }))
    print(run.created, run.survey_id == survey._id)      --> 10  true

    for _, id in ipairs(run.submission_ids) do
      local sub = assert(p.submissions:get(id))
      local done, err = sub:wait_for("AWAITING REVIEW", { timeout = 10, interval = 0.1 })
      if not done then print(err.submission.status) end --> RETURNED or TIMED-OUT
    end

    local passed = {}                                    -- submission id → passed the check?
    for response in survey:responses() do
      for _, q in ipairs(response.questions) do
        if q.question_title == CHECK then passed[response.submission_id] = q.answers[1].value == "Blue" end
      end
    end
    local good = {}
    for sub in study:each_submission{ status = "AWAITING REVIEW" } do
      if passed[sub.id] then
        good[#good + 1] = sub
      else
        assert(sub:reject{ category = "FAILED_CHECK",
          message = "Thank you for taking part. Unfortunately your answer to the attention-check "
            .. "question did not follow the instructions, so we cannot approve this submission." })
      end
    end
    assert(p.submissions:bulk_approve{ ids = good })

    assert.are.equal("10\ttrue", printed[1])
    local finished = 0
    for i = 2, #printed do
      assert.is_true(printed[i] == "RETURNED" or printed[i] == "TIMED-OUT", printed[i])
    end
    for _, sub in ipairs(assert(study:all_submissions())) do
      if sub.status == "APPROVED" or sub.status == "REJECTED" then finished = finished + 1 end
    end
    assert.are.equal(10 - (#printed - 1), finished)
    assert.is_true(#good > 0 and #good < finished)
  end)

  it("the sandbox's simulated participants: screening out", function()
    local screener = assert(p.studies:clone(DRAFT))
    screener = assert(screener:update{ is_custom_screening = true, total_available_places = 3 })
    screener = assert(screener:publish())
    local run = assert(sb:simulate(screener, { participants = 3, duration_ms = 200, seed = 1 }))
    local first = assert(assert(p.submissions:get(run.submission_ids[1]))
      :wait_for("AWAITING REVIEW", { timeout = 10, interval = 0.05 }))

    local quote = assert(p.submissions:screen_out_payment{ study = screener.id, ids = { first.id } })
    print(quote.minimum_reward.amount, quote.minimum_reward.currency)   --> 58  GBP (minor units)
    local result = assert(p.submissions:screen_out{ study = screener.id, ids = { first.id },
      bonus_per_submission = 1.00 })                   -- MAJOR units: £1.00 each
    print(result.payment_per_participant.amount)       --> 100 (minor units)
    print(assert(first:refresh()).status)              --> SCREENED OUT

    assert.are.equal("58\tGBP", printed[1])
    assert.are.equal("100", printed[2])
    assert.are.equal("SCREENED OUT", printed[3])
  end)

  -- ------------------------------------------------------------------ the guide matches this file

  local function read(path)
    local f = assert(io.open(path, "r"))
    local text = f:read("*a")
    f:close()
    return text
  end

  local function trimmed_lines(text)
    local out = {}
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      line = line:match("^%s*(.-)%s*$")
      if line ~= "" then out[#out + 1] = line end
    end
    return out
  end

  it("every ```lua block of the guide is run by this spec", function()
    local doc = read("docs/prolific.md")
    local spec = "\n" .. table.concat(trimmed_lines(read("spec/docs_prolific_spec.lua")), "\n") .. "\n"
    local blocks = 0
    for block in doc:gmatch("```lua\n(.-)```") do
      blocks = blocks + 1
      local lines = trimmed_lines(block)
      local text = "\n" .. table.concat(lines, "\n") .. "\n"
      assert.is_truthy(spec:find(text, 1, true),
        "this block of docs/prolific.md is not in spec/docs_prolific_spec.lua:\n" .. block)
    end
    assert.is_true(blocks >= 20)
  end)

  it("the guide's operations table is what tools/ops_table.lua prints", function()
    local lines = {}
    local tool_env = setmetatable({ print = function(s) lines[#lines + 1] = s or "" end },
      { __index = _G })
    assert(loadfile("tools/ops_table.lua", "t", tool_env))()
    local doc = read("docs/prolific.md")
    local table_text = table.concat(lines, "\n")
    assert.is_truthy(doc:find(table_text, 1, true),
      "docs/prolific.md's operations table differs from `lua5.4 tools/ops_table.lua`; paste it again")
  end)
end)
