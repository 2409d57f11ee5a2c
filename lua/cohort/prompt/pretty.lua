--- Readable text for values at the prompt: objects, pages, errors and plain tables.
--
--     local pretty = require "cohort.prompt.pretty"
--     print(pretty.format(p.users:me()))
--     print(pretty.format(p.submissions:list{study = id}, {width = 120}))
--
-- * An object (a table whose metatable has `__tostring`, such as a Submission or a
--   `cohort.Error`) shows its `tostring` line, then its fields, one per line, sorted, aligned.
-- * A Page, or an array of tables (what `all` returns), shows a title line, then a table of rows:
--   a column per plain field (`id`, names and `status` first), as many as fit the width.
-- * A client shows its resources; a resource its `tostring` (its methods).
-- * Other tables are written as Lua-like literals, nested tables inline, depth-limited.
-- Strings at the top level are written as they are (as `print` would); nested strings are quoted.
-- JSON null shows as `null`.
-- @module cohort.prompt.pretty
local compat = require "cohort.compat"
local cjson_null = require("cjson").null

local M = {}

--- Default width in columns when none is given.
M.WIDTH = 100
--- Widest cell in a table of rows.
M.CELL = 26
--- Most rows shown for an array (a Page is always shown whole up to this too).
M.MAX_ROWS = 50

local function text_len(s)
  return compat.utf8_len(s) or #s
end

local function truncate(s, n)
  if text_len(s) <= n then return s end
  if n <= 1 then return "…" end
  if compat.utf8_len(s) then
    return s:sub(1, compat.utf8_offset(s, n) - 1) .. "…"
  end
  return s:sub(1, n - 1) .. "…"
end
M.truncate = truncate

local function pad(s, n)
  return s .. (" "):rep(math.max(0, n - text_len(s)))
end

local function class_name(v)
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name") or nil
  return type(name) == "string" and name or nil
end
M.class_name = class_name

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta == "number" end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function is_array(t)
  local n = #t
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

--- A value written inline (nested tables as `{k = v, ...}` / `[a, b]`), up to `depth` levels.
-- @param v any value
-- @tparam[opt=3] integer depth
-- @tparam[opt] table seen tables being written (internal, to cut cycles)
-- @treturn string
function M.inline(v, depth, seen)
  depth = depth or 3
  if v == nil then return "nil" end
  if v == cjson_null then return "null" end
  local t = type(v)
  if t == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if t ~= "table" then return tostring(v) end
  if has_tostring(v) then return tostring(v) end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  if depth <= 0 then return "{…}" end
  seen[v] = true
  local parts = {}
  if is_array(v) and #v > 0 then
    for i = 1, math.min(#v, 20) do parts[i] = M.inline(v[i], depth - 1, seen) end
    if #v > 20 then parts[#parts + 1] = ("… %d more"):format(#v - 20) end
    seen[v] = nil
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local keys = sorted_keys(v)
  for i, k in ipairs(keys) do
    if i > 20 then parts[#parts + 1] = ("… %d more"):format(#keys - 20) break end
    local key = is_identifier(k) and k or ("[" .. M.inline(k, 0, seen) .. "]")
    parts[#parts + 1] = key .. " = " .. M.inline(v[k], depth - 1, seen)
  end
  seen[v] = nil
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function scalar(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean" or v == cjson_null
end

local function cell(v)
  if v == nil then return "" end
  if v == cjson_null then return "null" end
  if type(v) == "string" then return (v:gsub("[\r\n\t]", " ")) end
  return M.inline(v, 1)
end

--- An object: its `tostring` line, then its fields (keys starting with `_` hidden).
-- @tparam table obj
-- @tparam[opt] table opts `width`
-- @treturn string
function M.object(obj, opts)
  local width = opts and opts.width or M.WIDTH
  local lines = { tostring(obj) }
  local keys = {}
  for _, k in ipairs(sorted_keys(obj)) do
    if not (type(k) == "string" and k:sub(1, 1) == "_") and type(obj[k]) ~= "function" then
      keys[#keys + 1] = k
    end
  end
  local w = 0
  for _, k in ipairs(keys) do w = math.max(w, text_len(tostring(k))) end
  w = math.min(w, 28)
  for _, k in ipairs(keys) do
    local v = obj[k]
    local s = type(v) == "string" and v or M.inline(v, 2)
    s = s:gsub("\n", "\\n")
    lines[#lines + 1] = "  " .. pad(tostring(k), w) .. "  " .. truncate(s, math.max(10, width - w - 4))
  end
  return table.concat(lines, "\n")
end

local PREFERRED = { "id", "_id", "responseID", "name", "internal_name", "title", "status",
  "participant_id", "participant", "study_id", "reward", "started_at", "completed_at" }

--- Column names for a table of rows: fields holding plain values, preferred names first.
-- @tparam table rows array of tables
-- @treturn table array of names
function M.columns(rows)
  local present, rank = {}, {}
  for i = 1, math.min(#rows, 20) do
    local r = rows[i]
    if type(r) == "table" then
      for k, v in pairs(r) do
        if type(k) == "string" and scalar(v) and (k:sub(1, 1) ~= "_" or k == "_id") then
          present[k] = true
        end
      end
    end
  end
  for i, k in ipairs(PREFERRED) do rank[k] = i end
  local cols = {}
  for k in pairs(present) do cols[#cols + 1] = k end
  table.sort(cols, function(a, b)
    local ra, rb = rank[a] or math.huge, rank[b] or math.huge
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return cols
end

--- A table of rows, one per item, under a title line.
-- @tparam table rows array of tables
-- @tparam[opt] table opts `width`, `title`, `columns` (names), `max_rows`
-- @treturn string
function M.rows(rows, opts)
  opts = opts or {}
  local width = opts.width or M.WIDTH
  local lines = {}
  if opts.title then lines[1] = opts.title end
  if #rows == 0 then
    lines[#lines + 1] = "(no rows)"
    return table.concat(lines, "\n")
  end
  local shown = math.min(#rows, opts.max_rows or M.MAX_ROWS)
  local names = opts.columns or M.columns(rows)
  local num_w = #tostring(shown)
  -- widths: each column as wide as its widest cell (capped), added while they fit
  local used = num_w
  local cols = {}
  for _, name in ipairs(names) do
    local w = text_len(name)
    for i = 1, shown do
      local r = rows[i]
      w = math.max(w, text_len(cell(type(r) == "table" and r[name] or nil)))
    end
    w = math.min(w, M.CELL)
    if used + 2 + w > width and #cols > 0 then break end
    cols[#cols + 1] = { name = name, w = w }
    used = used + 2 + w
  end
  local head = { pad("#", num_w) }
  for _, c in ipairs(cols) do head[#head + 1] = pad(truncate(c.name, c.w), c.w) end
  lines[#lines + 1] = (table.concat(head, "  "):gsub("%s+$", ""))
  for i = 1, shown do
    local r = rows[i]
    local parts = { pad(tostring(i), num_w) }
    for _, c in ipairs(cols) do
      local v = type(r) == "table" and r[c.name] or nil
      if type(r) ~= "table" and c == cols[1] then v = r end
      parts[#parts + 1] = pad(truncate(cell(v), c.w), c.w)
    end
    lines[#lines + 1] = (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  if shown < #rows then lines[#lines + 1] = ("… %d more rows"):format(#rows - shown) end
  if #cols < #names then
    local hidden = {}
    for i = #cols + 1, #names do hidden[#hidden + 1] = names[i] end
    lines[#lines + 1] = "(not shown: " .. truncate(table.concat(hidden, ", "), width - 13) .. ")"
  end
  return table.concat(lines, "\n")
end

local function is_rows(v)
  if type(v) ~= "table" or #v == 0 or not is_array(v) then return false end
  for i = 1, math.min(#v, 5) do
    if type(v[i]) ~= "table" then return false end
  end
  return true
end

--- Readable text for any value (see the module description).
-- @param v any value
-- @tparam[opt] table opts `width` (columns, default `M.WIDTH`)
-- @treturn string
function M.format(v, opts)
  opts = opts or {}
  local name = class_name(v)
  if type(v) == "string" then return v end
  if type(v) ~= "table" then return M.inline(v) end
  if name == "cohort.Page" then
    return M.rows(v, { width = opts.width, title = tostring(v) })
  end
  if name == "cohort.Client" then
    local res = {}
    for k, r in pairs(v) do
      if class_name(r) == "cohort.Resource" then res[#res + 1] = k end
    end
    table.sort(res)
    return tostring(v) .. "\n  resources: " .. table.concat(res, ", ")
      .. "\n  (help(" .. (v.platform == "questionpro" and "q" or "p") .. ") lists their methods)"
  end
  if name == "cohort.Resource" then return tostring(v) end
  if has_tostring(v) then return M.object(v, opts) end
  if is_rows(v) then
    local cls = class_name(v[1])
    local title = ("Array of %d %s"):format(#v, cls and cls:gsub("^cohort%.", "") or "tables")
    return M.rows(v, { width = opts.width, title = title })
  end
  if getmetatable(v) == nil or not has_tostring(v) then
    local s = M.inline(v, 3)
    local width = opts.width or M.WIDTH
    if text_len(s) <= width or not next(v) then return s end
    -- long: one field per line
    local lines = { "{" }
    for _, k in ipairs(sorted_keys(v)) do
      local key = is_identifier(k) and k or ("[" .. M.inline(k, 0) .. "]")
      lines[#lines + 1] = "  " .. truncate(key .. " = " .. M.inline(v[k], 2) .. ",", width - 2)
    end
    lines[#lines + 1] = "}"
    return table.concat(lines, "\n")
  end
  return tostring(v)
end

return M
