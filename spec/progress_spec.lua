-- cohort.prompt.progress: the bar's text, throttling and finish; nothing when disabled; detection of a
-- terminal on stderr (through a pseudo-terminal made by `script`), and `progress = false`, with
-- an export of sandbox submissions.
describe("cohort.prompt.progress", function()
  local env = require "support.env"
  local progress = require "cohort.prompt.progress"
  local q = require("cohort.sandbox").shell_quote

  local function sink()
    local out = {}
    return out, { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end return self end,
      flush = function(self) return self end }
  end

  local function fake_clock()
    local t = { now = 100.0 }
    return t, function() return t.now end
  end

  it("draws count/total, a bar, percent, rate and ETA, then a final line", function()
    local out, stream = sink()
    local t, clock = fake_clock()
    local bar = progress.new { label = "export", total = 45, enabled = true, stream = stream,
      clock = clock, width = 80 }
    t.now = 102.0
    bar:add(9)     -- 9 in 2 s: 4.5/s, 36 left: ETA 8 s
    local text = table.concat(out)
    assert.are.equal("\rexport  9/45  [######------------------------]   20%  4.50/s  ETA 0:08\27[K", text)
    t.now = 102.05
    bar:add(1)     -- within 0.1 s of the last draw: not redrawn
    assert.are.equal(text, table.concat(out))
    t.now = 111.0
    bar:add(35)
    bar:finish()
    bar:finish()   -- idempotent
    local all = table.concat(out)
    assert.truthy(all:find("\rexport  45/45  [##############################]  100%  4.09/s  in 0:11\27[K\n", 1, true), all)
    assert.are.equal(1, select(2, all:gsub("\n", "")))
  end)

  it("without a total shows the count and rate", function()
    local out, stream = sink()
    local t, clock = fake_clock()
    local bar = progress.new { label = "pages", enabled = true, stream = stream, clock = clock }
    t.now = 104.0
    bar:add(500)
    bar:finish()
    assert.truthy(table.concat(out):find("pages  500  125/s  in 0:04", 1, true), table.concat(out))
  end)

  it("a disabled bar writes nothing", function()
    local out, stream = sink()
    local bar = progress.new { label = "x", total = 3, enabled = false, stream = stream }
    bar:add(); bar:add(2); bar:set_total(4); bar:finish()
    assert.are.equal(0, #out)
    assert.are.equal(3, bar.count)
    assert.are.equal("Progress x 3/4", tostring(bar))
  end)

  it("misuse raises naming the function and the field", function()
    local ok, msg = pcall(progress.new, { totl = 3 })
    assert.is_false(ok)
    assert.truthy(msg:find("cohort: progress.new(): unknown option 'totl'", 1, true), msg)
    ok, msg = pcall(progress.new, { total = -1 })
    assert.truthy(msg:find("total must be a non-negative number", 1, true), msg)
    ok, msg = pcall(function() progress.new { enabled = false }:add("x") end)
    assert.truthy(msg:find("Progress:add(): n must be a number", 1, true), msg)
  end)

  it("formats clock times", function()
    assert.are.equal("0:05", progress.clock(4.6))
    assert.are.equal("2:03", progress.clock(123))
    assert.are.equal("1:00:00", progress.clock(3600))
    assert.are.equal("?:??", progress.clock(0 / 0))
  end)

  describe("on a terminal or not (an export of sandbox submissions)", function()
    local script_path
    setup(function()
      env.reset()
      local out, code = env.run("command -v script")
      assert.are.equal(0, code, "`script` (bsdutils) is needed for the pseudo-terminal: " .. out)
      script_path = os.tmpname()
      local f = assert(io.open(script_path, "w"))
      f:write([[
local cohort = require "cohort"
local p = cohort.prolific()
local opts = { total = 45, label = "subs" }
if arg[1] == "off" then opts.progress = false end
local path = os.tmpname()
local n = assert(require("cohort.workbench.export").csv(p.submissions:each { study = "60aca280709ee40ec37d4885" }, path, opts))
os.remove(path)
print("rows " .. n)
]])
      f:close()
    end)
    teardown(function() os.remove(script_path) end)

    local function command(term, mode)
      local sb = env.sandbox()
      return ("TERM=%s PROLIFIC_TOKEN=%s PROLIFIC_URL=%s LUA_PATH=%s LUA_CPATH=%s %s %s %s")
        :format(q(term), q(sb.token), q(sb.url), q(package.path), q(package.cpath),
          q(arg and arg[-1] or "lua5.4"), q(script_path), mode or "")
    end

    local function in_pty(cmd)
      return env.run("script -qec " .. q(cmd) .. " /dev/null </dev/null")
    end

    it("draws on stderr when it is a terminal", function()
      local out, code = in_pty(command("xterm"))
      assert.are.equal(0, code, out)
      assert.truthy(out:find("\rsubs  45/45  [", 1, true), out)
      assert.truthy(out:find("100%", 1, true), out)
      assert.truthy(out:find("rows 45", 1, true), out)
    end)

    it("draws nothing when stderr is not a terminal, when TERM is dumb, or with progress = false", function()
      local out, code = env.run(command("xterm"))
      assert.are.equal(0, code, out)
      assert.are.equal("rows 45\n", out)
      out, code = in_pty(command("dumb"))
      assert.are.equal(0, code, out)
      assert.is_nil(out:find("subs", 1, true), out)
      out, code = in_pty(command("xterm", "off"))
      assert.are.equal(0, code, out)
      assert.is_nil(out:find("subs", 1, true), out)
      assert.truthy(out:find("rows 45", 1, true), out)
    end)

    -- #uncaught_error_object: Lua 5.1's interpreter prints an uncaught error table as
    -- "(error object is not a string)", so the HTTP status does not show there
    it("an export that fails still ends the bar's line #uncaught_error_object", function()
      local sb = env.sandbox()
      local cmd = command("xterm"):gsub("PROLIFIC_TOKEN=%S+", "PROLIFIC_TOKEN=wrong-token")
      local out, code = in_pty(cmd)
      assert.are_not.equal(0, code, out)
      assert.truthy(out:find("HTTP 401", 1, true), out)
      assert.truthy(out:find("subs  0/45[^\n]-\27%[K\r?\n"), out) -- the line was ended
      assert.is_nil(out:find(sb.token, 1, true))
    end)
  end)

  describe("long operations of the library", function()
    local env = require "support.env"
    local q = require("cohort.sandbox").shell_quote

    local function run(code, pty)
      local sb = env.sandbox()
      local cmd = ("TERM=xterm PROLIFIC_TOKEN=%s PROLIFIC_URL=%s LUA_PATH=%s LUA_CPATH=%s %s -e %s")
        :format(q(sb.token), q(sb.url), q(package.path), q(package.cpath),
          q(arg and arg[-1] or "lua5.4"), q(code))
      if pty then cmd = "script -qec " .. q(cmd) .. " /dev/null </dev/null" end
      return env.run(cmd)
    end

    it("all{} that takes over half a second shows a bar with the server's total; progress = false does not", function()
      env.control("POST", "latency", { ms = 150 })
      local code = [[
        local p = require("cohort").prolific(arg and arg[1] == "off" and { progress = false } or nil)
        local all = assert(p.submissions:all{ study = "60aca280709ee40ec37d4885", page_size = 5 },
          nil, nil)
        print("got " .. #all)
      ]]
      local out, status = run(code, true)
      assert.are.equal(0, status, out)
      assert.truthy(out:find("Submission  45/45", 1, true), out)
      assert.truthy(out:find("got 45", 1, true), out)
      local quiet = run(code:gsub('arg and arg%[1%] == "off"', "true"), true)
      assert.is_nil(quiet:find("Submission  ", 1, true), quiet)
      assert.truthy(quiet:find("got 45", 1, true), quiet)
      env.control("POST", "latency", { ms = 0 })
      -- quick: no bar at all, even on a terminal
      local fast = run(code, true)
      assert.is_nil(fast:find("Submission  ", 1, true), fast)
    end)
  end)
end)
