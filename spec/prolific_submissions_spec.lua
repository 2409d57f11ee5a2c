-- The first Prolific resources end to end against the sandbox: users:me and submissions
-- get / list / each / all, pagination robustness, printing, errors.
describe("Prolific users and submissions", function()
  local env = require "support.env"
  local Error = require("cohort").Error
  local STUDY = "60aca280709ee40ec37d4885"
  local SMALL_STUDY = "60aca280709ee40ec37d4886"
  local SEED_SUB = "625d4a831bcda2d59ac5a251"
  local p

  setup(function()
    env.reset()
    p = env.prolific()
  end)

  before_each(function()
    env.control("POST", "quirks", { repeat_next = false, overlap = 0, next_on_last = false })
  end)

  it("users:me() returns the account as a User", function()
    local me = assert(p.users:me())
    assert.are.equal("60a42f4c693c29420793cb73", me.id)
    assert.is_string(me.email)
    assert.are.equal("cohort.User", getmetatable(me).__name)
    assert.truthy(tostring(me):match("^User 60a42f4c… "))
  end)

  it("submissions:get(id) returns the detail shape, printed well", function()
    local sub = assert(p.submissions:get(SEED_SUB))
    assert.are.equal(SEED_SUB, sub.id)
    assert.are.equal(STUDY, sub.study_id)
    assert.is_string(sub.participant)
    assert.is_table(sub.bonus_payments)
    assert.are.equal(("Submission 625d4a83… %s (participant %s…)"):format(sub.status, sub.participant:sub(1, 8)),
      tostring(sub))
  end)

  it("submissions:list{study} returns one page with count and next", function()
    local page = assert(p.submissions:list { study = STUDY })
    assert.are.equal(20, #page)
    assert.are.equal(45, page.count)
    assert.truthy(page.next)
    assert.is_string(page[1].participant_id) -- the list shape
    assert.are.equal("Page of 20 Submission (45 in all), more to come", tostring(page))
    local small = assert(p.submissions:list { study = SMALL_STUDY })
    assert.are.equal(3, #small)
    assert.is_nil(small.next)
  end)

  it("each{} walks every page lazily; all{} collects every item", function()
    local seen, n = {}, 0
    for sub in p.submissions:each { study = STUDY } do
      assert.is_nil(seen[sub.id])
      seen[sub.id] = true
      n = n + 1
    end
    assert.are.equal(45, n)
    local all = assert(p.submissions:all { study = STUDY })
    assert.are.equal(45, #all)
    local few = assert(p.submissions:all { study = STUDY, page_size = 7 })
    assert.are.equal(45, #few)
  end)

  it("filters by status, spelled either way", function()
    local a = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local b = assert(p.submissions:all { study = STUDY, status = "awaiting_review" })
    assert.is_true(#a > 20) -- more than the default page: paging did not stop at 20
    assert.are.equal(#a, #b)
    for _, s in ipairs(a) do assert.are.equal("AWAITING REVIEW", s.status) end
  end)

  it("a client-wide page_size applies to every list", function()
    local c = env.prolific { page_size = 50 }
    local page = assert(c.submissions:list { study = STUDY })
    assert.are.equal(45, #page)
    assert.is_nil(page.next)
  end)

  it("survives a next link that repeats (cycle guard)", function()
    env.control("POST", "quirks", { repeat_next = true })
    local n = 0
    for _ in p.submissions:each { study = STUDY } do n = n + 1 end
    assert.are.equal(45, n)
  end)

  it("drops items repeated by overlapping pages", function()
    env.control("POST", "quirks", { overlap = 2 })
    local all = assert(p.submissions:all { study = STUDY })
    local ids = {}
    for _, s in ipairs(all) do
      assert.is_nil(ids[s.id])
      ids[s.id] = true
    end
    assert.are.equal(45, #all)
  end)

  it("treats a 404 past the last page as the end", function()
    env.control("POST", "quirks", { next_on_last = true })
    local all = assert(p.submissions:all { study = STUDY })
    assert.are.equal(45, #all)
  end)

  it("returns nil, err for a missing submission and a wrong token", function()
    local sub, err = p.submissions:get("000000000000000000000000")
    assert.is_nil(sub)
    assert.is_true(Error.is(err))
    assert.are.equal(404, err.status)
    assert.truthy(tostring(err):match("^cohort: HTTP 404"))
    local bad = env.prolific { token = "not-the-token" }
    local me, err2 = bad.users:me()
    assert.is_nil(me)
    assert.are.equal(401, err2.status)
    assert.is_nil(tostring(err2):find("not-the-token", 1, true))
  end)

  it("each{} raises the error object; all{} returns nil, err", function()
    local bad = env.prolific { token = "not-the-token" }
    local ok, err = pcall(function()
      for _ in bad.submissions:each { study = STUDY } do end
    end)
    assert.is_false(ok)
    assert.is_true(Error.is(err))
    assert.are.equal(401, err.status)
    local all, err2 = bad.submissions:all { study = STUDY }
    assert.is_nil(all)
    assert.are.equal(401, err2.status)
  end)

  it("raises on misuse before sending, naming the method and the field", function()
    env.control("DELETE", "requests")
    assert.has_error(function() p.submissions:get("has space") end)
    assert.has_error(function() p.submissions:get() end)
    assert.has_error(function() p.submissions:list { stuyd = STUDY } end,
      "cohort: p.submissions:list(): unknown option 'stuyd'")
    local ok, msg = pcall(p.submissions.list, p.submissions, { status = "DONE" })
    assert.is_false(ok)
    assert.truthy(msg:find("p.submissions:list(): status must be one of \"RESERVED\", \"ACTIVE\"", 1, true), msg)
    assert.truthy(msg:find("(got \"DONE\", a string)", 1, true), msg)
    assert.truthy(msg:find("^spec/prolific_submissions_spec.lua:%d+:"), msg) -- blames the caller
    assert.are.equal(0, #env.requests())
  end)

  it("approves and rejects through the object, validating first", function()
    local pending = assert(p.submissions:all { study = STUDY, status = "AWAITING REVIEW" })
    local a, b = pending[1], pending[2]
    local approved = assert(a:approve())
    assert.are.equal("APPROVED", approved.status)
    local again, err = a:approve()
    assert.is_nil(again)
    assert.are.equal(400, err.status)
    assert.has_error(function() b:reject { message = "too short", category = "LOW_EFFORT" } end)
    assert.has_error(function() b:reject { message = ("x"):rep(120), category = "LAZY" } end)
    local rejected = assert(b:reject { message = ("This submission failed the attention checks. "):rep(3),
      category = "FAILED_CHECK" })
    assert.are.equal("REJECTED", rejected.status)
    env.reset()
  end)
end)
