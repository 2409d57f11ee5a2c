-- Loading and using cohort leaves nothing in _G.
describe("globals", function()
  it("no module of cohort sets a global", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    local env = require "support.env"
    local modules = {}
    for path in io.popen("cd lua && find cohort -name '*.lua' | sort"):lines() do
      modules[#modules + 1] = path:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    end
    assert.is_true(#modules > 10)
    for _, m in ipairs(modules) do
      -- the sandbox's application modules are Lua 5.4 code, run by cohort-sandbox (not 5.1/LuaJIT)
      if _VERSION ~= "Lua 5.1" or not m:match("^cohort%.sandbox%.") then require(m) end
    end
    local p = env.prolific()
    assert(p.users:me())
    for _ in p.submissions:each { study = "60aca280709ee40ec37d4886" } do end
    local added = {}
    for k in pairs(_G) do
      if not before[k] then added[#added + 1] = tostring(k) end
    end
    assert.are.same({}, added)
  end)
end)
