-- (The game runs without LD_PRELOAD: under make check's sanitizer pass the X server and its
-- helpers would inherit the sanitizer runtime; LÖVE loads the LuaJIT core, not the ASan build.)
-- The LÖVE example (examples/love): the reaction-time game runs headless under xvfb against the
-- sandbox for a fixed number of frames, posting each trial as a survey response through the
-- non-blocking API; the responses must all be in the sandbox afterwards. Without love or
-- xvfb-run the test is pending (counted as skipped) and says what is missing; `make love-test`
-- installs both and runs the same check.
describe("examples/love", function()
  local env = require "support.env"
  local FRAMES, TRIALS = 480, 5
  local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

  local missing = {}
  for _, cmd in ipairs { "love", "xvfb-run" } do
    local _, code = env.run("command -v " .. cmd)
    if code ~= 0 then missing[#missing + 1] = cmd end
  end
  if #missing > 0 then
    pending(("love is not installed (no %s): install Debian's love and xvfb, or run make love-test")
      :format(table.concat(missing, ", ")))
    return
  end

  -- the core built for LuaJIT, the Lua inside LÖVE
  local CORE = "build/jit/cohort/core.so"
  local function have_core()
    local f = io.open(CORE, "rb")
    if f then f:close() end
    return f ~= nil
  end
  if not have_core() then env.run("make -s " .. CORE) end
  if not have_core() then
    pending("love is installed but " .. CORE .. " could not be built (make " .. CORE ..
      " needs libluajit-5.1-dev)")
    return
  end

  it("runs the reaction-time task headless and every trial arrives as a survey response", function()
    env.reset()
    local sb = env.sandbox()
    local p = env.prolific()
    local me = assert(p.users:me())
    local survey = assert(p.surveys:create { researcher_id = me.id, title = "Reaction time (spec)",
      questions = {
        { title = "Stimulus", type = "single", answers = { { value = "left" }, { value = "right" } } },
        { title = "Outcome", type = "single", answers = { { value = "hit" }, { value = "wrong key" },
          { value = "too early" }, { value = "miss" } } },
        { title = "Reaction time", type = "single", answers = {
          { value = "< 200 ms" }, { value = "200-299 ms" }, { value = "300-399 ms" },
          { value = "400-499 ms" }, { value = "500-599 ms" }, { value = "600-799 ms" },
          { value = "800 ms or more" } } },
      } })
    local root = os.getenv("PWD") or "."
    local out, code = env.run(("env -u LD_PRELOAD COHORT_ROOT=%s COHORT_LUA_CPATH=%s xvfb-run -a love %s --sandbox %s "
      .. "--token %s --survey %s --frames %d --trials %d"):format(q(root), q(root .. "/build/jit/?.so"),
      q(root .. "/examples/love"), q(sb.url), q(sb.token), q(survey._id), FRAMES, TRIALS))
    assert.are.equal(0, code, out)
    assert.matches(("frames=%d trials=%d saved=%d failed=0 pending=0"):format(FRAMES, TRIALS, TRIALS),
      out, 1, true)
    assert.matches("on LuaJIT", out, 1, true)

    local responses = assert(p.surveys:all_responses(survey._id))
    assert.are.equal(TRIALS, #responses)
    for _, r in ipairs(responses) do
      assert.are.equal(3, #r.questions)
      assert.are.equal("Stimulus", r.questions[1].question_title)
    end
    local sum = assert(survey:summary())
    assert.are.equal(TRIALS, sum:count("Stimulus", "left") + sum:count("Stimulus", "right"))
  end)

  it("quits with a non-zero status and says why when the token is wrong", function()
    local sb = env.sandbox()
    local root = os.getenv("PWD") or "."
    local out, code = env.run(("env -u LD_PRELOAD COHORT_ROOT=%s COHORT_LUA_CPATH=%s xvfb-run -a love %s --sandbox %s "
      .. "--token wrong-token --frames 60 --trials 1"):format(q(root), q(root .. "/build/jit/?.so"),
      q(root .. "/examples/love"), q(sb.url)))
    assert.are_not.equal(0, code, out)
    assert.matches("no survey: ", out, 1, true)
    assert.matches("401", out, 1, true)
    assert.is_nil(out:find(sb.token, 1, true))
  end)
end)
