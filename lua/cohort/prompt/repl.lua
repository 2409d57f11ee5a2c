--- The interactive prompt behind `cohort repl`, and `help(x)`.
--
-- A read-eval-print loop in Lua (the stock `lua5.4` prompt cannot be customised): each line is
-- first tried as an expression (`return <line>`), then as a statement; a chunk that is not
-- complete yet (its load error ends in `<eof>`) is continued on the next line with the `>>`
-- prompt, as `lua.c` does. Results are shown with `cohort.prompt.pretty` (objects as their `tostring`
-- line and fields, pages as tables). Errors are shown as one readable line, never a traceback.
-- Globals made at the prompt live in the session's own environment, not in `_G`.
--
-- `help(x)` describes a client, a resource, an object, a Page, a module or a function. A method
-- or verb generated from rows, and a bulk helper, is described from the registry that
-- `cohort.resource` fills (its call, the operation's summary, what it returns, the HTTP method
-- and path); any other function by the first line of its LDoc comment (read from the Lua
-- source, found through `debug.getinfo`).
-- @module cohort.prompt.repl
local compat = require "cohort.compat"
local pretty = require "cohort.prompt.pretty"

local M = {}

-- ------------------------------------------------------------------ documentation

local file_cache = {}

local function source_lines(path)
  local lines = file_cache[path]
  if lines == nil then
    lines = false
    local f = io.open(path, "r")
    if f then
      lines = {}
      for l in f:lines() do lines[#lines + 1] = l end
      f:close()
    end
    file_cache[path] = lines
  end
  return lines or nil
end

-- The upvalue named `name` of `fn`.
local function upvalue(fn, name)
  for i = 1, 255 do
    local n, v = debug.getupvalue(fn, i)
    if n == nil then break end
    if n == name then return v end
  end
  return nil
end

local function is_wrapper(fn)
  -- class methods are wrapped by client:define_class: function(obj, ...) return f(client, obj, ...)
  local info = debug.getinfo(fn, "S")
  return info.source:find("cohort[/\\]client%.lua$") ~= nil and type(upvalue(fn, "f")) == "function"
end

--- The LDoc comment block above a Lua function's definition, as lines without the dashes.
-- Class methods (wrapped by the client) are looked through to the family's function.
-- @tparam function fn
-- @treturn ?table array of lines, or nil when there is none (C functions, no comment)
function M.doc_lines(fn)
  if type(fn) ~= "function" then return nil end
  if is_wrapper(fn) then fn = upvalue(fn, "f") end
  local info = debug.getinfo(fn, "S")
  if info.what ~= "Lua" or info.source:sub(1, 1) ~= "@" or info.linedefined < 1 then return nil end
  local lines = source_lines(info.source:sub(2))
  if not lines then return nil end
  local block = {}
  local i = info.linedefined - 1
  while i >= 1 and lines[i]:match("^%s*%-%-") do
    table.insert(block, 1, lines[i])
    i = i - 1
  end
  -- keep from the first line that starts an LDoc comment ("---")
  local start
  for j, l in ipairs(block) do
    if l:match("^%s*%-%-%-") then start = j break end
  end
  if not start then return nil end
  local out = {}
  for j = start, #block do
    out[#out + 1] = (block[j]:gsub("^%s*%-%-%-?%s?", ""))
  end
  return out
end

--- The help of a generated method, verb or helper: what the registry of `cohort.resource`
-- holds about it, as lines.
-- @tparam table e a registry entry
-- @treturn table lines
function M.entry_lines(e)
  local out = { e.call }
  if e.summary then out[#out + 1] = "  " .. e.summary end
  out[#out + 1] = "  returns " .. e.returns
  if e.op then out[#out + 1] = ("  operation %s: %s"):format(e.op, e.http) end
  if e.via then
    out[#out + 1] = ("  sends %s%s"):format(e.via, e.fixed and (" with " .. e.fixed) or "")
  end
  if e.module then out[#out + 1] = "  from " .. e.module end
  if e.note then out[#out + 1] = "  " .. e.note end
  return out
end

--- One line describing a method: for a generated one its call, what it returns and its
-- operation; otherwise the first line of its documentation.
-- @tparam string name the method's name
-- @tparam function fn
-- @treturn string
function M.describe(name, fn)
  local e = require("cohort.resource").entry_of(fn)
  if e then
    local s = ("%s  → %s"):format(e.call, e.returns)
    if e.op then
      s = s .. ("  [%s%s: %s]"):format(e.op, e.fixed and (" with " .. e.fixed) or "", e.http)
    end
    return s
  end
  local doc = M.doc_lines(fn)
  local first = doc and doc[1] or ""
  return name .. (first ~= "" and ("  " .. first) or "")
end

local class_name = pretty.class_name

local function methods_of(t)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

local GENERAL = [[
cohort prompt — Lua 5.4 with cohort loaded.
  p, q          the Prolific and QuestionPro clients (made from the environment)
  cohort        the cohort module; export = cohort.workbench.export, pretty = cohort.prompt.pretty
  help(x)       what x is and its methods: help(p), help(p.submissions), help(sub), help(export)
Examples:
  p.users:me()
  p.studies:list()
  p.submissions:list{study = "..."}
  for s in p.submissions:each{study = "..."} do print(s) end
  export.csv(p.submissions:each{study = "..."}, "subs.csv")
An expression shows its value; `x = ...` keeps a value for later. Ctrl-D (or os.exit()) leaves.
Runtime failures come back as nil, err; the error is shown on its own line.]]

--- The help text for any value.
-- @param x a client, resource, object, Page, module table, function, or a module name such as
--   `"export"`; nothing for the general help
-- @treturn string
function M.help(...)
  if select("#", ...) == 0 then return GENERAL end
  local x = ...
  if type(x) == "string" then
    local ok, mod = pcall(require, x:match("^cohort") and x or ("cohort." .. x))
    if ok and type(mod) == "table" then x = mod else return ("no module %q"):format(x) end
  end
  local name = class_name(x)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  if type(x) == "function" then
    local e = require("cohort.resource").entry_of(x)
    if e then return table.concat(M.entry_lines(e), "\n") end
    local doc = M.doc_lines(x)
    if not doc then return "a function (no documentation found)" end
    return table.concat(doc, "\n")
  elseif name == "cohort.Client" then
    add(tostring(x))
    add("Resources (help(" .. (x.platform == "questionpro" and "q" or "p") .. ".<resource>) for details):")
    local res = {}
    for k, r in pairs(x) do
      if class_name(r) == "cohort.Resource" then res[#res + 1] = k end
    end
    table.sort(res)
    for _, k in ipairs(res) do
      add(("  %-14s %s"):format(k, table.concat(methods_of(x[k]), ", ")))
    end
    add("Client methods:")
    local mt = getmetatable(x)
    for _, k in ipairs(methods_of(mt)) do
      if k ~= "class" and k ~= "define_class" and k ~= "wrap" and k ~= "decode" then
        add("  " .. M.describe(k, mt[k]))
      end
    end
  elseif name == "cohort.Resource" then
    local P = require("cohort.resource").registry[x._platform]
    add(("%s.%s — methods:"):format(P and P.var or x._platform, x._name))
    for _, k in ipairs(methods_of(x)) do add("  " .. M.describe(k, x[k])) end
    add("list: one page; each: every item of every page, lazily (it raises the error object,")
    add("since nil ends a loop); all: an array of every item. Misuse raises before anything is")
    add("sent; runtime failures return nil, err.")
  elseif name == "cohort.Page" then
    add(tostring(x))
    add("A Page is one page: an array of objects (x[1], #x, ipairs(x)) with fields count (total")
    add("on the server) and next (more pages). each{...} iterates every page lazily; all{...}")
    add("collects every item.")
    if type(x[1]) == "table" then add("Items: help(x[1]).") end
  elseif name == "cohort.Error" then
    add(tostring(x))
    add("A cohort.Error: fields kind, status, code, title, message, detail, fields (per-field")
    add("messages), platform, method, url, attempts, retry_after.")
  elseif type(x) == "table" and getmetatable(x) and (type(getmetatable(x).__index) == "table"
      or getmetatable(x).__methods) then
    -- an object: its class's methods and its fields
    local mt = getmetatable(x)
    local methods = mt.__methods or mt.__index
    add(tostring(x))
    add(("Methods of %s:"):format((name or "object"):gsub("^cohort%.", "")))
    for _, k in ipairs(methods_of(methods)) do add("  " .. M.describe(k, methods[k])) end
    local fields = {}
    for k in pairs(x) do if type(k) == "string" then fields[#fields + 1] = k end end
    table.sort(fields)
    add("Fields: " .. table.concat(fields, ", "))
  elseif type(x) == "table" then
    local fns = methods_of(x)
    if #fns == 0 then
      return "a table (" .. (#x > 0 and (#x .. " items") or "no functions") .. "); print it to see it"
    end
    if type(x._NAME) == "string" then add(x._NAME) end
    add("Functions:")
    for _, k in ipairs(fns) do add("  " .. M.describe(k, x[k])) end
  elseif x == nil then
    return "nil — nothing to describe (a call that failed returns nil, err: look at err)"
  else
    return ("a %s: %s"):format(type(x), tostring(x))
  end
  return table.concat(lines, "\n")
end

-- ------------------------------------------------------------------ clients

--- Make the `p` and `q` clients from the environment; each only if its credential is set.
-- @tparam[opt] function getenv default `os.getenv`
-- @treturn table `{p = client or nil, q = client or nil, notes = {lines}}`
function M.clients(getenv)
  getenv = getenv or os.getenv
  local cohort = require "cohort"
  local out = { notes = {} }
  local function note(s) out.notes[#out.notes + 1] = s end
  local function make(var, key, url_var, ctor, opts_key, label)
    local secret = getenv(var)
    if secret == nil or secret == "" then
      note(("%s: not available — set %s (and %s for another server) to get a %s client")
        :format(key, var, url_var, label))
      return
    end
    local url = getenv(url_var)
    local ok, c = pcall(ctor, { [opts_key] = secret, base_url = (url ~= "" and url) or nil })
    if ok then
      out[key] = c
      note(("%s = %s"):format(key, tostring(c)))
    else
      note(("%s: not available — %s"):format(key, tostring(c):gsub("^.-cohort: ", "cohort: ")))
    end
  end
  make("PROLIFIC_TOKEN", "p", "PROLIFIC_URL", cohort.prolific, "token", "Prolific")
  make("QUESTIONPRO_API_KEY", "q", "QUESTIONPRO_URL", cohort.questionpro, "api_key", "QuestionPro")
  return out
end

-- ------------------------------------------------------------------ the loop

--- The banner: version, and what `p` and `q` are.
-- @tparam table notes lines from `clients()`
-- @treturn string
function M.banner(notes)
  local core = require "cohort.core"
  local lines = { ("cohort %s — Lua 5.4 prompt. help() for help, Ctrl-D to leave."):format(core.version) }
  for _, n in ipairs(notes or {}) do lines[#lines + 1] = n end
  return table.concat(lines, "\n")
end

-- Terminal width from `stty size` (stdin is the terminal), else $COLUMNS, else 100.
local function terminal_width()
  local h = io.popen("stty size 2>/dev/null", "r")
  local s = h and h:read("*a") or ""
  if h then h:close() end
  local cols = tonumber(s:match("%d+%s+(%d+)"))
  if not cols then cols = tonumber(os.getenv("COLUMNS") or "") end
  if cols and cols >= 40 then return compat.tointeger(cols) end
  return 100
end

--- Run the prompt on stdin/stdout until end of input.
-- @tparam[opt] table opts `input` (a file, default `io.stdin`), `output` (default `io.stdout`),
--   `getenv` (default `os.getenv`)
-- @treturn integer exit status (0)
function M.run(opts)
  opts = opts or {}
  local input = opts.input or io.stdin
  local output = opts.output or io.stdout
  local made = M.clients(opts.getenv)
  local session = M.new {
    width = terminal_width(),
    write = function(s) output:write(s) output:flush() end,
    env = { p = made.p, q = made.q },
  }
  output:write(M.banner(made.notes), "\n")
  while true do
    output:write(session:prompt())
    output:flush()
    local line = input:read("*l")
    if line == nil then
      output:write("\n")
      break
    end
    session:feed(line)
  end
  if made.p then made.p:close() end
  if made.q and made.q.close then made.q:close() end
  return 0
end

local Session = {}
Session.__index = Session
M.Session = Session

local function error_text(e)
  local Error = require("cohort").Error
  if Error.is(e) then return "error: " .. tostring(e) end
  if type(e) == "string" then
    -- a misuse error names the method itself; the position (often cohort's own) adds nothing
    local msg = e:match("^[^\n]-:%d+: (cohort: .*)$")
    return "error: " .. (msg or e)
  end
  local ok, s = pcall(tostring, e)
  return "error: " .. (ok and s or "(an error object)")
end

--- Make a prompt session.
-- @tparam table opts `write` (function(text), default writes to stdout), `width` (columns for
--   tables), `env` (extra names for the prompt's environment, e.g. `p`, `q`)
-- @treturn Session
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({
    buffer = nil,
    width = opts.width or pretty.WIDTH,
    write = opts.write or function(s) io.stdout:write(s) io.stdout:flush() end,
  }, Session)
  local cohort = require "cohort"
  local env = setmetatable({}, { __index = _G })
  env.cohort = cohort
  env.export = require "cohort.workbench.export"
  env.pretty = pretty
  env.progress = require "cohort.prompt.progress"
  env.help = function(...)
    self.write(M.help(...) .. "\n")
  end
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    self.write(table.concat(parts, "\t") .. "\n")
  end
  for k, v in pairs(opts.env or {}) do env[k] = v end
  self.env = env
  return self
end

--- A prompt session (made by `new`): `feed` lines to it.
-- @type Session

--- The prompt to show before the next line: `"> "`, or `">> "` inside an unfinished chunk.
-- @treturn string
function Session:prompt()
  return self.buffer and ">> " or "> "
end

--- Show values as the prompt does.
function Session:show(...)
  local n = select("#", ...)
  for i = 1, n do
    local v = select(i, ...)
    local ok, s = pcall(pretty.format, v, { width = self.width })
    if not ok then s = tostring(v) end
    self.write(s .. "\n")
  end
end

--- Feed one line of input: runs the chunk once it is complete.
-- @tparam string line
-- @treturn string `"more"` when the chunk needs more lines, else `"done"`
function Session:feed(line)
  local chunk
  if self.buffer then
    chunk = self.buffer .. "\n" .. line
  else
    chunk = line:gsub("^%s*=", "return ")
  end
  local fn, err
  if not self.buffer then
    fn = compat.load("return " .. chunk, "=stdin", "t", self.env)
  end
  if not fn then fn, err = compat.load(chunk, "=stdin", "t", self.env) end
  if not fn then
    if err:find("<eof>'?$") then -- LuaJIT quotes it: near '<eof>'
      self.buffer = chunk
      return "more"
    end
    self.buffer = nil
    self.write("error: " .. err .. "\n")
    return "done"
  end
  self.buffer = nil
  local results = compat.pack(xpcall(fn, function(e) return e end))
  if not results[1] then
    self.write(error_text(results[2]) .. "\n")
  else
    self:show(compat.unpack(results, 2, results.n))
  end
  return "done"
end

return M
