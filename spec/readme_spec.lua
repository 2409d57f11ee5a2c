-- Every ```lua block of README.md runs as written, each as a script of its own (a new user copies
-- one into a file and runs it), against the sandbox, and prints what its `-->` comments say.
--
-- A block that reads its credentials from the environment (cohort.prolific() with no options) is
-- given PROLIFIC_TOKEN and PROLIFIC_URL of the suite's sandbox, as the README's shell lines do.
-- In a `-->` comment, "…" stands for any text (the README abbreviates ids as tostring does). The
-- comments must be found in the output in order; a loop's one comment covers every line the loop
-- prints of that shape. The blocks' effects are checked on the sandbox as well, so a block that
-- printed the right lines without doing its work would fail.
describe("README.md", function()
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote
  local STUDY = "60aca280709ee40ec37d4885"

  local function blocks()
    local out = {}
    for i, b in ipairs(require("support.docblocks").all("README.md")) do out[i] = b.code end
    return out
  end

  local pattern = require("support.docblocks").pattern

  local function expected(code)
    local want = {}
    for line in code:gmatch("[^\n]+") do
      local w = line:match("%-%->%s*(.-)%s*$")
      if w then want[#want + 1] = w end
    end
    return want
  end

  -- Runs `code` as a script with the sandbox's credentials in the environment; returns its
  -- output lines and exit code.
  local function run(code)
    local sb = env.sandbox()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(code)
    f:close()
    local out, status = env.run(("PROLIFIC_TOKEN=%s PROLIFIC_URL=%s %s %s")
      :format(q(sb.token), q(sb.url), q(arg and arg[-1] or "lua5.4"), q(path)))
    os.remove(path)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    return lines, status, out
  end

  -- Each expected line matches an output line, in order; lines between that match the previous
  -- expectation (a loop's) are allowed, any other line is not.
  local function check(want, lines, out)
    local i = 1
    for _, w in ipairs(want) do
      local pat = pattern(w)
      while i <= #lines and not lines[i]:find(pat) do
        local prev = want[_ - 1]
        assert.is_truthy(prev and lines[i]:find(pattern(prev)),
          ("line %d, %q, is not what the README shows (%q)\n%s"):format(i, lines[i], w, out))
        i = i + 1
      end
      assert.is_truthy(i <= #lines, ("the README shows %q, not printed\n%s"):format(w, out))
      i = i + 1
    end
    for j = i, #lines do
      assert.is_truthy(#want > 0 and lines[j]:find(pattern(want[#want])),
        ("line %d, %q, is not in the README\n%s"):format(j, lines[j], out))
    end
  end

  before_each(function() env.reset() end)
  teardown(function() env.reset() end)

  it("has the blocks this spec knows: the quick start, the private sandbox, the rehearsal", function()
    local b = blocks()
    assert.are.equal(3, #b)
    assert.truthy(b[1]:find("cohort.prolific()", 1, true))
    assert.truthy(b[2]:find('require("cohort.sandbox").start{}', 1, true))
    assert.truthy(b[3]:find("sb:advance(", 1, true))
  end)

  it("the quick start prints who I am and approves every submission awaiting review", function()
    local code = blocks()[1]
    local want = expected(code)
    assert.are.equal(2, #want)
    local lines, status, out = run(code)
    assert.are.equal(0, status, out)
    check(want, lines, out)
    assert.are.equal(28, #lines, out)                 -- the user, then 27 submissions
    local left = env.control("GET", "state")
    local waiting, approved = 0, 0
    for _, s in ipairs(left.submissions) do
      if s.study_id == STUDY and s.status == "AWAITING REVIEW" then waiting = waiting + 1 end
      if s.study_id == STUDY and s.status == "APPROVED" then approved = approved + 1 end
    end
    assert.are.equal(0, waiting)
    assert.are.equal(5 + 27, approved)
  end)

  it("the private sandbox block starts its own sandbox, lists a page and stops it", function()
    local code = blocks()[2]
    local lines, status, out = run(code)
    assert.are.equal(0, status, out)
    check(expected(code), lines, out)
  end)

  it("the rehearsal simulates participants, lets three weeks pass and reads the ledger", function()
    local code = blocks()[3]
    local want = expected(code)
    assert.are.equal(4, #want)
    local lines, status, out = run(code)
    assert.are.equal(0, status, out)
    check(want, lines, out)
  end)

  it("the checker refuses output the README does not show", function()
    assert.has_error(function() check({ "User 60a42f4c… x" }, { "User 60a42f4c… y" }, "") end)
    assert.has_error(function() check({ "5" }, { "5", "6" }, "") end)
    assert.has_error(function() check({ "a", "b" }, { "a", "c", "b" }, "") end)
    check({ "Submission …", "done" }, { "Submission 1", "Submission 2", "done" }, "")
  end)
end)
