-- The rockspec (cohort-scm-1.rockspec): it names no local path, declares every library the
-- binaries link (libmicrohttpd for the sandbox program only) and lua-cjson exactly when cohort
-- requires it; and Debian's luarocks builds and installs it from a copy of this tree into a
-- temporary tree with no extra variables and no network, after which `require "cohort"` and
-- `cohort-sandbox --help` work from that tree alone, and a client from it talks to a sandbox
-- from it.
describe("packaging: the rockspec", function()
  local ROCKSPEC = "cohort-scm-1.rockspec"
  local env = require "support.env"
  local q = require("cohort.sandbox").shell_quote

  -- A system command, out of reach of make check's sanitizer preload (the specs test cohort's
  -- code, not readelf's or tar's).
  local function sh(cmd)
    return env.run("env -u LD_PRELOAD sh -c " .. q(cmd))
  end

  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  -- The rockspec's table, loaded as LuaRocks loads it: a chunk run in an empty environment.
  local function rockspec()
    local t = {}
    local chunk = assert((loadstring or load)(read(ROCKSPEC), "=" .. ROCKSPEC, "t", t))
    if setfenv then setfenv(chunk, t) end
    chunk()
    return t
  end

  local function declares(spec, name)
    for _, d in ipairs(spec.dependencies or {}) do
      if d == name or d:match("^(%S+)") == name then return true end
    end
    return false
  end

  -- Shared libraries a binary links directly (its NEEDED entries), by name: "curl", "lua5.4" …
  local function needed(path)
    local out, code = sh("readelf -d " .. q(path))
    assert.are.equal(0, code, out)
    local libs = {}
    for lib in out:gmatch("%(NEEDED%)%s+Shared library: %[lib([^%]]-)%.so[^%]]*%]") do libs[#libs + 1] = lib end
    assert.is_true(#libs > 0, out)
    return libs
  end

  -- Provided by the C library or by the Lua the rock is built for, not external dependencies.
  local SYSTEM = { c = true, m = true, pthread = true, dl = true, rt = true }
  local function is_lua(lib) return lib:match("^lua") or lib:match("^luajit") end

  it("names no local path: a public git source, nothing under this machine's directories", function()
    local text = read(ROCKSPEC)
    local spec = rockspec()
    assert.are.equal("cohort", spec.package)
    assert.truthy(spec.source.url:match("^git%+https://"), spec.source.url)
    assert.is_nil(text:find("file://", 1, true))
    local here = env.run("pwd"):gsub("%s+$", "")
    assert.is_nil(text:find(here, 1, true), "the rockspec names " .. here)
    for _, dir in ipairs { "/work/", "/home/", "/root/", "/tmp/" } do
      assert.is_nil(text:find(dir, 1, true), "the rockspec names " .. dir)
    end
    local out, code = sh("luarocks --lua-version 5.4 lint " .. ROCKSPEC)
    assert.are.equal(0, code, out)
  end)

  it("declares every library the core and the sandbox link; libmicrohttpd only for the sandbox", function()
    local spec = rockspec()
    local by_library = {}
    for name, dep in pairs(spec.external_dependencies) do
      if dep.library then by_library[dep.library] = name end
    end
    local core_libs, sandbox_libs = needed("build/cohort/core.so"), needed("build/cohort-sandbox")
    for _, libs in ipairs { core_libs, sandbox_libs } do
      for _, lib in ipairs(libs) do
        if not SYSTEM[lib] and not is_lua(lib) then
          assert.truthy(by_library[lib], "lib" .. lib .. " is linked but not in the rockspec's external_dependencies")
        end
      end
    end
    for _, lib in ipairs(core_libs) do
      assert.are_not.equal("microhttpd", lib, "the core links libmicrohttpd")
    end
    -- each declared header is where LuaRocks looks (<prefix>/include), or LuaRocks stops
    for name, dep in pairs(spec.external_dependencies) do
      if dep.header then
        local found = false
        for _, prefix in ipairs { "/usr/local/include/", "/usr/include/" } do
          local f = io.open(prefix .. dep.header, "rb")
          if f then f:close(); found = true end
        end
        assert.is_true(found, name .. ": " .. dep.header .. " is not under /usr/include or /usr/local/include")
      end
    end
  end)

  it("depends on lua-cjson exactly when cohort's Lua or C code requires cjson", function()
    local users = {}
    local files = sh("find lua csrc -name '*.lua' -o -name '*.c'")
    for path in files:gmatch("[^\n]+") do
      local src = read(path)
      if src:find("require%s*%(?%s*[\"']cjson[\"']") or (path:match("%.c$") and src:find('"cjson"', 1, true)) then
        users[#users + 1] = path
      end
    end
    local spec = rockspec()
    if #users > 0 then
      assert.is_true(declares(spec, "lua-cjson"), "cjson is required by " .. table.concat(users, ", "))
    else
      assert.is_false(declares(spec, "lua-cjson"), "nothing requires cjson any more")
    end
  end)

  describe("luarocks --lua-version 5.4 make, from a copy of this tree into a temporary tree", function()
    local tmp, tree, run_clean

    setup(function()
      tmp = sh("mktemp -d"):gsub("%s+$", "")
      assert.truthy(tmp:match("^/"), tmp)
      tree = tmp .. "/tree"
      -- the files a clone has (tracked, and new ones not ignored); no build output comes along
      local copy = ("mkdir %s/src %s/home && { git ls-files -z --cached --others --exclude-standard 2>/dev/null "
        .. "| tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C %s/src; }")
        :format(q(tmp), q(tmp), q(tmp))
      local out, code = sh(copy)
      assert.are.equal(0, code, out)
      local f = io.open(tmp .. "/src/" .. ROCKSPEC, "rb")
      assert.truthy(f, "the copy of the tree has no rockspec (not a git checkout?)")
      f:close()
      -- A clean environment: only the system PATH (not the build tree's), a fresh HOME (no user
      -- LuaRocks config), no LUA_PATH/LUA_CPATH, no *_INCDIR, no sanitizer preload.
      local path, cwd = {}, env.run("pwd"):gsub("%s+$", "")
      for dir in os.getenv("PATH"):gmatch("[^:]+") do
        if dir:sub(1, #cwd) ~= cwd then path[#path + 1] = dir end
      end
      run_clean = function(cmd, dir)
        return env.run(("cd %s && env -i HOME=%s PATH=%s LANG=C.UTF-8 sh -c %s")
          :format(q(dir or tmp), q(tmp .. "/home"), q(table.concat(path, ":")), q(cmd)))
      end
    end)

    teardown(function()
      if tmp then os.execute("rm -rf " .. q(tmp)) end
    end)

    it("builds and installs without extra variables and without fetching anything", function()
      if declares(rockspec(), "lua-cjson") then
        -- Debian's lua-cjson is invisible to LuaRocks: README.md's one-time statement of it
        local ver = sh("dpkg-query -W -f='${Version}' lua-cjson"):match("^(%d+%.%d+%.%d+)")
        assert.truthy(ver, "Debian's lua-cjson is not installed")
        local out, code = run_clean("mkdir -p ~/.luarocks && luarocks --lua-version 5.4 config rocks_provided.lua-cjson "
          .. ver .. "-1")
        assert.are.equal(0, code, out)
      end
      local out, code = run_clean("luarocks --lua-version 5.4 --tree " .. q(tree) .. " make", tmp .. "/src")
      assert.are.equal(0, code, out)
      assert.truthy(out:find("cohort scm-1 is now installed in " .. tree, 1, true), out)
      assert.is_nil(out:find("Failed downloading", 1, true), out)
      assert.is_nil(out:find("luarocks.org", 1, true), out)
      assert.is_nil(out:find("_INCDIR=", 1, true), out)
    end)

    it("require \"cohort\" works from that tree alone, the core included", function()
      local script = [[
        local cohort = require "cohort"
        local core = require "cohort.core"
        print(package.searchpath("cohort", package.path))
        print(package.searchpath("cohort.core", package.cpath))
        print(type(cohort.prolific), core.version)
      ]]
      local out, code = run_clean("eval \"$(luarocks --lua-version 5.4 --tree " .. q(tree) .. " path)\" && lua5.4 -e "
        .. q(script))
      assert.are.equal(0, code, out)
      local lua_file, so_file, kind = out:match("([^\n]+)\n([^\n]+)\n(%S+)%s")
      assert.are.equal(tree .. "/share/lua/5.4/cohort/init.lua", lua_file, out)
      assert.are.equal(tree .. "/lib/lua/5.4/cohort/core.so", so_file, out)
      assert.are.equal("function", kind, out)
    end)

    it("cohort-sandbox --help runs from that tree", function()
      local out, code = run_clean("eval \"$(luarocks --lua-version 5.4 --tree " .. q(tree) .. " path)\" && "
        .. "command -v cohort-sandbox && cohort-sandbox --help")
      assert.are.equal(0, code, out)
      assert.truthy(out:find(tree .. "/bin/cohort-sandbox\n", 1, true), out)
      assert.truthy(out:find("--port", 1, true), out)
    end)

    it("a client from that tree talks to a sandbox from that tree over HTTP", function()
      local script = [[
        local sb = assert(require("cohort.sandbox").start {})
        local p = require("cohort").prolific { token = sb.token, base_url = sb.url }
        local me, err = p.users:me()
        sb:stop()
        print(me and tostring(me) or tostring(err))
      ]]
      local out, code = run_clean("eval \"$(luarocks --lua-version 5.4 --tree " .. q(tree) .. " path)\" && lua5.4 -e "
        .. q(script))
      assert.are.equal(0, code, out)
      assert.truthy(out:find("User 60a42f4c", 1, true), out)
    end)
  end)
end)
