-- bin/cohort: the interactive prompt driven through a real terminal (tmux), checking what a
-- person sees — the banner, objects and pages printed, help(), errors — plus --version, help and
-- the sandbox command. tmux is installed with tools/deps.sh if missing; if it cannot be, these
-- specs fail (they never skip).
describe("bin/cohort", function()
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote
  local STUDY = "60aca280709ee40ec37d4885"
  local SEED_SUB = "625d4a831bcda2d59ac5a251"
  local socket = os.tmpname() -- tmux's server socket for this spec (removed in teardown)
  local lua = arg and arg[-1] or "lua5.4"

  local function tmux(args)
    return env.run("tmux -S " .. q(socket) .. " -f /dev/null " .. args)
  end

  local function sleep(s) os.execute(("sleep %.2f"):format(s)) end

  local function screen(target)
    local out = tmux("capture-pane -p -J -S -2000 -t " .. q(target))
    return out
  end

  -- How many times the screen shows `text`; PROMPT counts prompt lines ("> ..." or a bare
  -- ">": tmux drops trailing spaces), not ">> " continuation lines.
  local PROMPT = {}
  local function count(s, text)
    if text == PROMPT then
      local n = 0
      for line in (s .. "\n"):gmatch("([^\n]*)\n") do
        if line:match("^> ") or line == ">" then n = n + 1 end
      end
      return n
    end
    return select(2, s:gsub(text:gsub("%p", "%%%0"), ""))
  end

  -- Wait until the pane shows `text` (plain, or PROMPT) `times` times; return the screen.
  local function wait_for(target, text, times)
    times = times or 1
    local s
    for _ = 1, 200 do
      s = screen(target)
      if count(s, text) >= times then return s end
      sleep(0.05)
    end
    error(("timed out waiting for %s on the screen:\n%s"):format(
      text == PROMPT and "the prompt" or ("%q"):format(text), s), 2)
  end

  local prompts = 0
  local function send(target, line)
    tmux("send-keys -t " .. q(target) .. " -l " .. q(line))
    tmux("send-keys -t " .. q(target) .. " Enter")
  end

  -- Type a line at the prompt and wait for the next prompt; return the text after the line.
  local function ask(line)
    send("repl", line)
    prompts = prompts + 1
    local s = wait_for("repl", PROMPT, prompts)
    -- the answer: what follows the last echo of the line, up to the next prompt
    local start, pos = nil, 1
    while true do
      local a, b = s:find("\n> " .. line .. "\n", pos, true)
      if not a then break end
      start, pos = b, b
    end
    assert.truthy(start, "the line was not echoed:\n" .. s)
    local rest = s:sub(start)
    local stop = rest:find("\n>[ \n]") or rest:find("\n>$")
    return rest:sub(1, stop or #rest)
  end

  local function start_repl(name, vars)
    local cmd = ("env %s TERM=xterm %s bin/cohort repl"):format(vars, q(lua))
    local out, code = tmux(("new-session -d -s %s -x 200 -y 50 %s"):format(q(name), q(cmd)))
    assert.are.equal(0, code, out)
  end

  setup(function()
    local out, code = env.run("sh tools/deps.sh tmux")
    assert.are.equal(0, code, "could not install tmux: " .. out)
    out, code = env.run("command -v tmux")
    assert.are.equal(0, code, "tmux is required by this spec and is not available")
    env.reset()
    local sb = env.sandbox()
    start_repl("repl", ("PROLIFIC_TOKEN=%s PROLIFIC_URL=%s QUESTIONPRO_API_KEY=%s QUESTIONPRO_URL=%s LUA_PATH=%s LUA_CPATH=%s")
      :format(q(sb.token), q(sb.url), q(sb.api_key), q(sb.url), q(package.path), q(package.cpath)))
    wait_for("repl", PROMPT)
    prompts = 1
  end)

  teardown(function()
    tmux("kill-server")
    os.remove(socket)
  end)

  it("shows a banner naming the version and the clients", function()
    local s = screen("repl")
    local version = require("cohort").VERSION
    assert.truthy(s:find("cohort " .. version .. " — Lua 5.4 prompt. help() for help, Ctrl-D to leave.", 1, true), s)
    assert.truthy(s:find("p = cohort.prolific client " .. env.sandbox().url .. " (credentials hidden)", 1, true), s)
    assert.truthy(s:find("q = cohort.questionpro client " .. env.sandbox().url, 1, true), s)
    assert.is_nil(s:find(env.sandbox().token, 1, true), "the token is on the screen")
  end)

  it("prints p.users:me() as its tostring line and its fields", function()
    local out = ask("p.users:me()")
    assert.truthy(out:find("\nUser 60a42f4c… researcher@example.org", 1, true), out)
    assert.truthy(out:match("\n  email%s+researcher@example.org\n"), out)
    assert.truthy(out:match("\n  id%s+60a42f4c693c29420793cb73\n"), out)
  end)

  it("prints a page as a table of rows", function()
    local out = ask(("p.submissions:list{study = %q}"):format(STUDY))
    assert.truthy(out:find("Page of 20 Submission (45 in all), more to come", 1, true), out)
    assert.truthy(out:match("\n#%s+id%s+status%s+participant_id%s+study_id"), out)
    assert.truthy(out:match("\n3%s+" .. SEED_SUB .. "%s+APPROVED%s+60bf9310e8dec401be6e9615"), out)
    assert.truthy(out:match("\n20%s+%x+%s+AWAITING REVIEW"), out)
  end)

  it("help(p.submissions) lists the methods with their documentation", function()
    local out = ask("help(p.submissions)")
    assert.truthy(out:find("p.submissions — methods:", 1, true), out)
    assert.truthy(out:find("p.submissions:get(id)  → Submission  [GetSubmission: GET /api/v1/submissions/{id}/]", 1, true), out)
    assert.truthy(out:find("p.submissions:each{status, study, page, page_size}  → every Submission of every page, lazily", 1, true), out)
    assert.truthy(out:find("p.submissions:list{status, study, page, page_size}  → one page of Submission", 1, true), out)
    assert.truthy(out:find("p.submissions:all{status, study, page, page_size}  → an array of every Submission", 1, true), out)
    assert.truthy(out:find("p.submissions:approve_all{ids, study, journal, batch_size, progress}", 1, true), out)
    out = ask("help(p.submissions.each)")
    assert.truthy(out:find("List submissions", 1, true), out)
    assert.truthy(out:find("operation GetSubmissions: GET /api/v1/submissions/", 1, true), out)
  end)

  it("help(object) lists the class's methods with the first line of their LDoc comment", function()
    ask(("s = p.submissions:get(%q)"):format(SEED_SUB))
    local out = ask("help(s)")
    assert.truthy(out:find("Submission 625d4a83… APPROVED (participant 60bf9310…)", 1, true), out)
    assert.truthy(out:find("sub:approve()  → Submission  [TransitionSubmission with action = APPROVE: POST /api/v1/submissions/{id}/transition/]", 1, true), out)
    assert.truthy(out:find("sub:reject{category, message}  → Submission", 1, true), out)
    assert.truthy(out:find("sub:wait_for(status, {timeout, interval})", 1, true), out)
    assert.truthy(out:find("Fields: bonus_payments,", 1, true), out)
  end)

  it("prints errors readably and keeps going", function()
    local out = ask('p.submissions:get("000000000000000000000000")')
    assert.truthy(out:find("\nnil\n", 1, true), out)
    assert.truthy(out:find("cohort: HTTP 404 Not Found [140100] — Submission not found.", 1, true), out)
    out = ask('p.submissions:get("not an id")')
    assert.truthy(out:find('error: cohort: p.submissions:get(): id must be a Prolific id of 24 hexadecimal digits (got "not an id", a string)', 1, true), out)
    out = ask('p.submissions.list{study = "60aca280709ee40ec37d4885"}')
    assert.truthy(out:find("error: cohort: p.submissions.list(): called with a dot; write p.submissions:list{...}", 1, true), out)
    out = ask('error("boom")')
    -- LuaJIT makes `return error("boom")` a real tail call, so the message has no position
    assert.truthy(out:find(rawget(_G, "jit") and "error: boom" or "error: stdin:1: boom", 1, true), out)
    assert.is_nil(out:find("traceback", 1, true), out)
    out = ask("1 + 1")
    assert.truthy(out:find("\n2\n", 1, true), out)
  end)

  it("continues an unfinished statement on the next line", function()
    send("repl", "for i = 1, 3 do")
    wait_for("repl", ">> ")
    send("repl", "print('line', i) end")
    prompts = prompts + 1
    local s = wait_for("repl", PROMPT, prompts)
    assert.truthy(s:match("\n>> print%('line', i%) end\nline%s+1\nline%s+2\nline%s+3\n"), s)
    local out = ask("x = 21")
    out = ask("x * 2")
    assert.truthy(out:find("\n42\n", 1, true), out)
  end)

  it("Ctrl-D leaves the prompt", function()
    tmux("send-keys -t repl C-d")
    local gone = false
    for _ = 1, 100 do
      local _, code = tmux("has-session -t repl")
      if code ~= 0 then gone = true break end
      sleep(0.05)
    end
    assert.is_true(gone, "the prompt did not exit on Ctrl-D")
  end)

  it("without credentials says how to get the clients", function()
    start_repl("bare", ("-u PROLIFIC_TOKEN -u QUESTIONPRO_API_KEY LUA_PATH=%s LUA_CPATH=%s")
      :format(q(package.path), q(package.cpath)))
    local s = wait_for("bare", PROMPT)
    assert.truthy(s:find("p: not available — set PROLIFIC_TOKEN (and PROLIFIC_URL for another server) to get a Prolific client", 1, true), s)
    assert.truthy(s:find("q: not available — set QUESTIONPRO_API_KEY", 1, true), s)
    tmux("send-keys -t bare -l 'p'")
    tmux("send-keys -t bare Enter")
    s = wait_for("bare", PROMPT, 2)
    assert.truthy(s:find("\n> p\nnil\n", 1, true), s)
    tmux("kill-session -t bare")
  end)

  it("--version, help and an unknown command", function()
    local out, code = env.run(q(lua) .. " bin/cohort --version")
    assert.are.equal(0, code, out)
    assert.truthy(out:match("^cohort " .. require("cohort").VERSION:gsub("%p", "%%%0") .. " %(libcurl [%d.]+, " .. _VERSION:gsub("%p", "%%%0") .. "%)\n$"), out)
    out, code = env.run(q(lua) .. " bin/cohort help")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("cohort repl", 1, true) or out:find("  repl ", 1, true), out)
    out, code = env.run(q(lua) .. " bin/cohort frobnicate")
    assert.are.equal(2, code, out)
    assert.truthy(out:find('cohort: unknown command "frobnicate"', 1, true), out)
  end)

  it("cohort sandbox runs the sandbox with the flags until Ctrl-C", function()
    local cmd = ("env LUA_PATH=%s LUA_CPATH=%s PATH=%s %s bin/cohort sandbox --port 0 --token spec-token; echo exited $?; sleep 30")
      :format(q(package.path), q(package.cpath), q(os.getenv("PATH")), q(lua))
    local out, code = tmux(("new-session -d -s sb -x 120 -y 20 %s"):format(q(cmd)))
    assert.are.equal(0, code, out)
    local s = wait_for("sb", "cohort-sandbox listening on http://127.0.0.1:")
    local url = s:match("listening on (http://127%.0%.0%.1:%d+)")
    local c = require("cohort").prolific { token = "spec-token", base_url = url }
    local me = assert(c.users:me())
    assert.are.equal("researcher@example.org", me.email)
    c:close()
    tmux("send-keys -t sb C-c")
    s = wait_for("sb", "exited ")
    assert.truthy(s:find("exited 0", 1, true), s)
    tmux("kill-session -t sb")
  end)
end)
