--- Export objects to CSV and JSON Lines, streaming.
--
--     local export = require "cohort.workbench.export"
--     local rows, path = export.csv(p.submissions:each{study = id}, "subs.csv")
--     export.csv(people, io.stdout, {columns = {"name", {"age_next_year", function(x) return x.age + 1 end}}})
--     export.jsonl(p.submissions:all{study = id}, "subs.jsonl")
--
-- `items` is an array (a Page or the result of `all`) or an iterator function such as the one
-- `each` returns. Rows are written one by one as the items come, so memory does not grow with
-- the number of rows.
--
-- **CSV format** (RFC 4180): fields are separated by commas; a field containing a comma, a
-- double quote, CR or LF is enclosed in double quotes, with its quotes doubled; lines end with
-- CRLF, as RFC 4180 says (`newline = "\n"` gives LF). Text is written byte for byte, so UTF-8
-- passes through unchanged (`bom = true` adds a UTF-8 byte-order mark, which Excel wants). Cell
-- values: `nil` and JSON null → empty; booleans → `true`/`false`; integers as digits; other
-- numbers in the shortest form that reads back to the same value; **nested tables → JSON text**
-- (`{"a":1}`, `[1,2]`; an empty table is `{}`), so every row has the same columns and nothing is
-- lost. Formula-looking text (`=…`) is written as it is.
--
-- **Columns**: `columns = {"id", "status", {"bonus", function(item) return ... end}}` — a name
-- takes the item's field of that name (a dotted name `"a.b"` reaches into nested tables), a pair
-- `{header, function(item)}` computes the value. Without `columns`, CSV rows of items of a class
-- with an adapter (see below; `Submission` has one) get the adapter's columns; other items get
-- the keys of the first item, sorted (with no items and no known columns, the file is empty).
-- JSON Lines without `columns` writes each item whole.
--
-- **Adapters** give a class of objects its export shape. `export.register(class, adapter)`,
-- where `class` is the object's class name (`"Submission"` for metatable `__name`
-- `"cohort.Submission"`) and `adapter` is a table:
--
-- * `columns = function(first, opts)` → the default CSV column list (names or `{header, fn}`),
--   from the first item (`nil` when there are none and the adapter was named with `adapter =`);
--   for survey responses, one column per question, labels or codes according to `opts.answers`;
-- * `options = {name = true | {allowed values}}` — the extra options it accepts (e.g.
--   `answers = {"labels", "codes", "both"}`), checked before anything is read;
-- * `prepare = function(item, opts)` (optional) → the item to write, or `nil, err` (a
--   `cohort.Error`) to stop the export (e.g. fetching the detail form of each item);
-- * `record = function(item, opts)` (optional) → the table written by `jsonl` (default: the item).
--
-- **Failures**: an I/O or server failure returns `nil, err` (a `cohort.Error`; kind `"io"` for
-- the file system). Writing to a path goes through `path .. ".tmp"`, renamed at the end, so a
-- failure never leaves a partial file at `path` (the temporary file is removed). Misuse
-- (a bad option, a bad column) raises naming the function and the field.
-- @module cohort.workbench.export
local compat = require "cohort.compat"
local core = require "cohort.core"
local Error = require "cohort.error"
local util = require "cohort.util"
local progress = require "cohort.prompt.progress"
local cjson_null = require("cjson").null

local M = {}

--- Registered adapters: class name → adapter table (see the module description).
M.adapters = {}

local BASE_OPTIONS = {
  csv = { columns = true, header = true, progress = true, total = true, adapter = true,
    newline = true, bom = true, label = true },
  jsonl = { columns = true, progress = true, total = true, adapter = true, label = true },
}

local function is_null(v)
  return v == nil or v == cjson_null
end

--- Register (or replace) the adapter of a class of objects.
-- @tparam string class the class name, e.g. `"Submission"` or `"SurveyResponse"`
-- @tparam table adapter `columns` (function, required), `options`, `prepare`, `record`
-- @treturn table the adapter
function M.register(class, adapter)
  local label = "cohort.workbench.export.register()"
  if type(class) ~= "string" or class == "" then util.misuse(label, "class must be a class name") end
  if type(adapter) ~= "table" then util.misuse(label, "adapter must be a table") end
  if type(adapter.columns) ~= "function" then
    util.misuse(label, "adapter.columns must be a function(first_item, opts)")
  end
  for _, k in ipairs { "prepare", "record" } do
    if adapter[k] ~= nil and type(adapter[k]) ~= "function" then
      util.misuse(label, "adapter.%s must be a function", k)
    end
  end
  if adapter.options ~= nil and type(adapter.options) ~= "table" then
    util.misuse(label, "adapter.options must be a table of option name → true or allowed values")
  end
  M.adapters[class] = adapter
  return adapter
end

--- The class name of an object: its metatable's `__name` without the `cohort.` prefix.
-- @param item any value
-- @treturn ?string
function M.class_of(item)
  local mt = getmetatable(item)
  local name = type(mt) == "table" and rawget(mt, "__name") or nil
  if type(name) ~= "string" then return nil end
  return (name:gsub("^cohort%.", ""))
end

-- ------------------------------------------------------------------ cells and columns

local function number_text(v)
  if compat.math_type(v) == "integer" then return ("%d"):format(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(compat.tointeger(v)) end
  for prec = 15, 17 do
    local s = ("%." .. prec .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
  return ("%.17g"):format(v)
end

--- The text of one value in a CSV cell (before quoting): see the module description.
-- @param v any value
-- @treturn string
function M.cell_text(v)
  if is_null(v) then return "" end
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return number_text(v) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "table" then
    local ok, s = pcall(core.encode, v)
    if ok then return s end
    return tostring(v)
  end
  return tostring(v)
end

--- Quote one CSV field if it needs it (RFC 4180: comma, double quote, CR or LF).
-- @tparam string s
-- @treturn string
function M.quote(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function field(item, name)
  if type(item) ~= "table" then return nil end
  local v = item[name]
  if v == nil and type(name) == "string" and name:find(".", 1, true) then
    v = item
    for part in name:gmatch("[^.]+") do
      if type(v) ~= "table" then return nil end
      v = v[tonumber(part) or part]
      if v == nil then v = nil break end
    end
  end
  return v
end

-- Normalise a column list into { {header, getter}, ... }; raises naming the field.
local function normalise_columns(label, cols, where)
  if type(cols) ~= "table" then
    util.misuse(label, "%s must be an array of names or {name, function(item)}", where)
  end
  local out = {}
  for i, c in ipairs(cols) do
    if type(c) == "string" or compat.math_type(c) == "integer" then
      local name = c
      out[i] = { tostring(c), function(item) return field(item, name) end }
    elseif type(c) == "table" and (type(c[1]) == "string" or compat.math_type(c[1]) == "integer")
        and type(c[2]) == "function" then
      out[i] = { tostring(c[1]), c[2] }
    else
      util.misuse(label, "%s[%d] must be a name or {name, function(item)} (got %s)", where, i,
        type(c))
    end
  end
  if #out == 0 then util.misuse(label, "%s must not be empty", where) end
  for k in pairs(cols) do
    if compat.math_type(k) ~= "integer" or k < 1 or k > #out then
      util.misuse(label, "%s must be an array (found key %s)", where, tostring(k))
    end
  end
  return out
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end -- array positions first, then names
  return a < b
end

--- The default columns for a plain item: its keys, sorted (array positions first).
-- @tparam table item
-- @treturn table array of names
function M.keys_of(item)
  local keys = {}
  if type(item) ~= "table" then return { } end
  for k in pairs(item) do
    if type(k) == "string" or compat.math_type(k) == "integer" then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  return keys
end

-- ------------------------------------------------------------------ the driver

local function io_error(label, message, path)
  return Error.new { kind = "io", title = "I/O error", message = message, method = label,
    url = path, attempts = 1 }
end

-- Check the options of csv/jsonl: base options, and every registered adapter's options.
local function check_options(label, format, opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then util.misuse(label, "expected a table of options, got %s", type(opts)) end
  local base = BASE_OPTIONS[format]
  for k, v in pairs(opts) do
    if not base[k] then
      local known = false
      for _, ad in pairs(M.adapters) do
        local allowed = ad.options and ad.options[k]
        if allowed then
          known = true
          if type(allowed) == "table" then
            local ok = false
            for _, a in ipairs(allowed) do if a == v then ok = true end end
            if not ok then
              local names = {}
              for i, a in ipairs(allowed) do names[i] = tostring(a) end
              util.misuse(label, "option '%s' must be one of %s (got %s)", tostring(k),
                table.concat(names, ", "), tostring(v))
            end
          end
        end
      end
      if not known then util.misuse(label, "unknown option '%s'", tostring(k)) end
    end
  end
  if opts.header ~= nil and type(opts.header) ~= "boolean" then
    util.misuse(label, "header must be true or false")
  end
  if opts.bom ~= nil and type(opts.bom) ~= "boolean" then
    util.misuse(label, "bom must be true or false")
  end
  if opts.progress ~= nil and type(opts.progress) ~= "boolean" then
    util.misuse(label, "progress must be true or false")
  end
  if opts.newline ~= nil and opts.newline ~= "\r\n" and opts.newline ~= "\n" then
    util.misuse(label, "newline must be \"\\r\\n\" or \"\\n\"")
  end
  if opts.total ~= nil and (compat.math_type(opts.total) ~= "integer" or opts.total < 0) then
    util.misuse(label, "total must be a non-negative integer")
  end
  if opts.label ~= nil and type(opts.label) ~= "string" then
    util.misuse(label, "label must be a string")
  end
  if opts.adapter ~= nil and opts.adapter ~= false then
    if type(opts.adapter) == "string" then
      if not M.adapters[opts.adapter] then
        util.misuse(label, "adapter '%s' is not registered", opts.adapter)
      end
    elseif type(opts.adapter) ~= "table" or type(opts.adapter.columns) ~= "function" then
      util.misuse(label, "adapter must be a registered class name, an adapter table or false")
    end
  end
  if opts.columns ~= nil then normalise_columns(label, opts.columns, "columns") end
  return opts
end

-- The items as a pull function.
local function source(label, items)
  if type(items) == "function" then return items, nil end
  if type(items) == "table" then
    local i, n = 0, #items
    return function()
      if i >= n then return nil end
      i = i + 1
      return items[i]
    end, n
  end
  util.misuse(label, "items must be an array or an iterator function (got %s)", type(items))
end

-- Open the destination. Returns a writer table or nil, err.
local function open_dest(label, dest)
  if type(dest) == "string" then
    if dest == "" then util.misuse(label, "path must not be empty") end
    local tmp = dest .. ".tmp"
    local f, msg = io.open(tmp, "wb")
    if not f then return nil, io_error(label, "cannot open " .. tostring(msg), dest) end
    f:setvbuf("full", 64 * 1024)
    return { file = f, path = dest, tmp = tmp, owned = true }
  end
  local kind = io.type(dest)
  if kind == "closed file" then util.misuse(label, "the file is closed") end
  if kind == "file" or ((type(dest) == "table" or type(dest) == "userdata")
      and pcall(function() return dest.write end) and type(dest.write) == "function") then
    return { file = dest, owned = false }
  end
  util.misuse(label, "destination must be a path string or an open file (got %s)", type(dest))
end

local function write(w, ...)
  local ok, msg = w.file:write(...)
  if not ok then error({ cohort_io = msg or "write failed" }, 0) end
end

-- Shared driver: `emit(w, item, cols)` writes one item; `head(w, cols)` the header.
local function run(label, format, items, dest, opts, emit, head)
  opts = check_options(label, format, opts)
  local pull, total = source(label, items)
  if dest == nil then util.misuse(label, "path_or_file is required") end
  local w, err = open_dest(label, dest)
  if not w then return nil, err end
  local bar = progress.new { label = opts.label or ("export " .. format), total = opts.total or total,
    enabled = opts.progress }
  local rows = 0
  local ok, failure = pcall(function()
    local adapter, cols
    local first = true
    while true do
      local item = pull()
      if item == nil then break end
      if first then
        first = false
        if opts.adapter == false then
          adapter = nil
        elseif type(opts.adapter) == "table" then
          adapter = opts.adapter
        elseif type(opts.adapter) == "string" then
          adapter = M.adapters[opts.adapter]
        else
          adapter = M.adapters[M.class_of(item) or ""]
        end
        for k in pairs(opts) do
          if not BASE_OPTIONS[format][k] and not (adapter and adapter.options and adapter.options[k]) then
            util.misuse(label, "option '%s' does not apply to %s items", tostring(k),
              M.class_of(item) or type(item))
          end
        end
      end
      if adapter and adapter.prepare then
        local prepared, perr = adapter.prepare(item, opts)
        if prepared == nil then error(perr or io_error(label, "an item could not be prepared"), 0) end
        item = prepared
      end
      if cols == nil then
        if opts.columns then
          cols = normalise_columns(label, opts.columns, "columns")
        elseif adapter and format == "csv" then
          cols = normalise_columns(label, adapter.columns(item, opts), "adapter columns")
        elseif format == "csv" then
          cols = normalise_columns(label, M.keys_of(item), "the first item's keys")
        else
          cols = false -- jsonl: the whole item
        end
        if opts.bom then write(w, "\239\187\191") end
        if head then head(w, cols) end
      end
      emit(w, item, cols, adapter)
      rows = rows + 1
      bar:add(1)
    end
    if cols == nil and head then
      -- no items: still write the header when the columns are known without an item
      local explicit = type(opts.adapter) == "table" and opts.adapter
        or type(opts.adapter) == "string" and M.adapters[opts.adapter] or nil
      local known = opts.columns or (explicit and explicit.columns(nil, opts))
      if known then
        if opts.bom then write(w, "\239\187\191") end
        head(w, normalise_columns(label, known, "columns"))
      end
    end
    if w.owned then
      local fok, fmsg = w.file:flush()
      if not fok then error({ cohort_io = fmsg or "flush failed" }, 0) end
    end
  end)
  bar:finish()
  if w.owned then
    w.file:close()
    if ok then
      local rok, rmsg = os.rename(w.tmp, w.path)
      if not rok then
        os.remove(w.tmp)
        return nil, io_error(label, "cannot rename " .. w.tmp .. ": " .. tostring(rmsg), w.path)
      end
    else
      os.remove(w.tmp)
    end
  end
  if ok then return rows, w.path end
  if type(failure) == "table" and failure.cohort_io then
    return nil, io_error(label, "cannot write: " .. tostring(failure.cohort_io), w.path)
  end
  if Error.is(failure) then return nil, failure end
  error(failure, 0)
end

--- Write items as CSV (RFC 4180; see the module description for quoting and cell values).
-- @param items an array of objects or tables (a Page, the result of `all`), or an iterator
--   function (what `each` returns)
-- @param path_or_file a path (written through `path .. ".tmp"`, renamed when complete) or an
--   open file (written to, not closed)
-- @tparam[opt] table opts `columns` (names or `{header, function(item)}`), `header` (default
--   `true`), `newline` (`"\r\n"` default, or `"\n"`), `bom` (default `false`), `progress`
--   (`false` hides the bar; default: shown when stderr is a terminal), `total` (expected count,
--   for the bar; known for arrays), `label` (the bar's label), `adapter` (a registered class
--   name, an adapter table, or `false` for plain keys); plus adapter options, e.g. for
--   submissions `details = true`
-- @treturn[1] integer the number of data rows written
-- @treturn[1] ?string the path written, when a path was given
-- @return[2] nil
-- @treturn[2] cohort.Error kind `"io"` (file system) or the server's error from an iterator
function M.csv(items, path_or_file, opts)
  local label = "cohort.workbench.export.csv()"
  local nl = opts and opts.newline or "\r\n"
  local function line(w, values)
    for i = 1, #values do values[i] = M.quote(values[i]) end
    write(w, table.concat(values, ","), nl)
  end
  return run(label, "csv", items, path_or_file, opts,
    function(w, item, cols)
      local values = {}
      for i, c in ipairs(cols) do values[i] = M.cell_text(c[2](item)) end
      line(w, values)
    end,
    function(w, cols)
      if opts and opts.header == false then return end
      local names = {}
      for i, c in ipairs(cols) do names[i] = c[1] end
      line(w, names)
    end)
end

--- Write items as JSON Lines: one JSON object per line, LF line ends, UTF-8.
-- Without `columns`, each item is written whole (as the server sent it, through the adapter's
-- `record` if it has one); with `columns`, an object of those columns only.
-- @param items an array or an iterator function, as for `csv`
-- @param path_or_file a path (written through `path .. ".tmp"`) or an open file
-- @tparam[opt] table opts `columns`, `progress`, `total`, `label`, `adapter`, adapter options
-- @treturn[1] integer the number of lines written
-- @treturn[1] ?string the path written, when a path was given
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.jsonl(items, path_or_file, opts)
  local label = "cohort.workbench.export.jsonl()"
  return run(label, "jsonl", items, path_or_file, opts,
    function(w, item, cols, adapter)
      local record
      if cols then
        record = {}
        for _, c in ipairs(cols) do
          local v = c[2](item)
          if v == nil then v = cjson_null end
          record[c[1]] = v
        end
      elseif adapter and adapter.record then
        record = adapter.record(item, opts)
      else
        record = item
      end
      local ok, s = pcall(core.encode, record)
      if not ok then util.misuse(label, "an item cannot be encoded as JSON: %s", tostring(s)) end
      write(w, s, "\n")
    end,
    nil)
end

-- ------------------------------------------------------------------ submissions

local function bonus_list(sub)
  local b = sub.bonus_payments
  if type(b) ~= "table" then return nil end
  return b
end

--- Columns of a Prolific submission (the `Submission` adapter). Money in minor units.
-- `id`, `study_id`, `participant` (detail `participant` or list `participant_id`), `status`,
-- `started_at`, `completed_at`, `time_taken` (seconds), `reward` (minor units),
-- `completion_code` (detail `entered_code` or list `study_code`), `bonus_count`,
-- `bonus_total` (minor units, the sum of `bonus_payments`), `bonus_payments` (minor units,
-- separated by `;`). The bonus columns are empty for list-shaped submissions, which carry no
-- bonuses: pass `details = true` to fetch each submission's detail form (one request per row).
M.SUBMISSION_COLUMNS = {
  "id", "study_id",
  { "participant", function(s) return s.participant or s.participant_id end },
  "status", "started_at", "completed_at", "time_taken", "reward",
  { "completion_code", function(s)
    local c = s.entered_code
    if is_null(c) then c = s.study_code end
    return c
  end },
  { "bonus_count", function(s) local b = bonus_list(s); return b and #b or nil end },
  { "bonus_total", function(s)
    local b = bonus_list(s)
    if not b then return nil end
    local sum = 0
    for _, x in ipairs(b) do sum = sum + (tonumber(x) or 0) end
    return sum
  end },
  { "bonus_payments", function(s)
    local b = bonus_list(s)
    if not b then return nil end
    local t = {}
    for i, x in ipairs(b) do t[i] = M.cell_text(x) end
    return table.concat(t, ";")
  end },
}

M.register("Submission", {
  columns = function() return M.SUBMISSION_COLUMNS end,
  options = { details = { true, false } },
  prepare = function(sub, opts)
    if opts.details and sub.bonus_payments == nil and type(sub.refresh) == "function" then
      return sub:refresh()
    end
    return sub
  end,
})

require("cohort.workbench.export_responses").register(M) -- SurveyResponse (Prolific), Response (QuestionPro)

return M
