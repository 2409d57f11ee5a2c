-- Support for spec/conformance_spec.lua: record every HTTP exchange a cohort client makes,
-- hand the exchanges to the independent judge (tools/conformance.py, run with Debian's
-- /usr/bin/python3 and python3-jsonschema), and read its verdicts and cohort's override table.
--
-- The recording sits between the client and its core session, so what is written is exactly
-- what went over the wire: the request body bytes the core sent, the URL with its query string
-- as built by the core, and the answer's status, Content-Type and body bytes. The request's
-- Content-Type comes from the sandbox's own request log (the core adds it), matched to each
-- exchange by method, path and body.
local cjson = require "cjson"
local core = require "cohort.core"

local M = {}

M.PYTHON = "/usr/bin/python3"
M.JUDGE = "tools/conformance.py"
M.SPEC = "spec/fixtures/prolific-openapi-2025.json"
M.OVERRIDES = "tools/schema_overrides.lua"

local function content_type(result)
  local raw = result.raw_headers or ""
  local last
  -- the final answer's headers come last (after any 100 Continue or redirect)
  for value in raw:gmatch("[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Tt][Yy][Pp][Ee]:[ \t]*([^\r\n]*)") do
    last = value
  end
  return last
end

-- Webhook secrets seen in an answer: the X-Hook-Secret header, and the `value` of a hook
-- secret (POST and GET /hooks/secrets/).
local function secrets_in(result, secrets)
  for v in (result.raw_headers or ""):gmatch("[Xx]%-[Hh][Oo][Oo][Kk]%-[Ss][Ee][Cc][Rr][Ee][Tt]:[ \t]*([^\r\n]*)") do
    if v ~= "" then secrets[#secrets + 1] = v end
  end
  if (result.url or ""):find("/hooks/secrets/", 1, true) and result.body then
    local ok, doc = pcall(cjson.decode, result.body)
    if ok and type(doc) == "table" then
      for _, s in ipairs(type(doc.results) == "table" and doc.results or { doc }) do
        if type(s) == "table" and type(s.value) == "string" then secrets[#secrets + 1] = s.value end
      end
    end
  end
end

--- Wrap `client`'s core session so that every finished request is appended to `log`
-- (a list of exchange tables); `tag()` names the operation the driver meant to call. The
-- webhook secrets the answers carry are gathered in `log.secrets` (see `M.redact`).
function M.record(client, log, tag)
  local real = client._session
  assert(real and real.request and real.submit and real.step and real.wait,
    "support.conformance.record: the client keeps no core session in `_session` any more; "
      .. "record at the new place, so that every exchange is still seen")
  local pending = {}
  log.secrets = log.secrets or {}
  local function keep(creq, result)
    secrets_in(result, log.secrets)
    local err = result.err
    log[#log + 1] = {
      seq = #log + 1, driver_op = tag(), method = creq.method or "GET",
      url = result.url, request_body = creq.body,
      status = result.status or (err and err.status) or 0,
      response_body = result.body, response_content_type = content_type(result),
      error = err and (tostring(err.message or "") .. (err.detail and
        (" " .. (type(err.detail) == "string" and err.detail or cjson.encode(err.detail))) or "")) or nil,
      request_headers = creq.headers,
    }
  end
  local proxy = {}
  function proxy.request(_, creq)
    local result = real:request(creq)
    keep(creq, result)
    return result
  end
  function proxy.submit(_, creq)
    local id = real:submit(creq)
    pending[id] = creq
    return id
  end
  function proxy.wait(_, id, ...)
    local r = real:wait(id, ...)
    if type(r) == "table" and pending[id] then keep(pending[id], r); pending[id] = nil end
    return r
  end
  function proxy.step(_, ms)
    local results = real:step(ms)
    for _, r in ipairs(results) do
      if pending[r.id] then keep(pending[r.id], r); pending[r.id] = nil end
    end
    return results
  end
  setmetatable(proxy, { __index = function(_, k)
    local v = real[k]
    if type(v) == "function" then return function(_, ...) return v(real, ...) end end
    return v
  end })
  client._session = proxy
  return function() client._session = real end
end

--- A control-API caller for a sandbox (raises on failure: set-up errors are loud).
function M.control(sb)
  local session = core.session {}
  return function(method, path, body)
    local r = session:request { method = method, base = sb.url, path = "/__sandbox/" .. path,
      body = body and cjson.encode(body) or nil }
    if r.err then
      error("sandbox control " .. method .. " " .. path .. ": " .. tostring(r.err.message), 2)
    end
    return cjson.decode(r.body)
  end
end

local function path_of(url)
  return (url:gsub("^%a[%w+.-]*://[^/]*", ""):gsub("[?#].*$", ""))
end

--- Fill each exchange's `request_content_type` from the sandbox's request log.
-- Returns the number of exchanges it could not match (each must be 0 in a sound run).
function M.join_log(exchanges, entries)
  local used, missing = {}, 0
  for _, ex in ipairs(exchanges) do
    local path = path_of(ex.url or "")
    local found
    for i, e in ipairs(entries) do
      if not used[i] and e.method == ex.method and e.path == path
          and (e.body or "") == (ex.request_body or "") then
        found = i
        break
      end
    end
    if found then
      used[found] = true
      local h = entries[found].headers or {}
      ex.request_content_type = h["content-type"]
    else
      missing = missing + 1
    end
    ex.request_headers = nil
  end
  return missing
end

--- Replace every secret (`secrets`: a list of strings) in the exchanges by "[REDACTED]", so
-- that none reaches the judge's output or the files `make conformance` keeps. They are free
-- strings in the spec's schemas, so validation is unchanged.
function M.redact(exchanges, secrets)
  local function scrub(v)
    if type(v) ~= "string" then return v end
    for _, secret in ipairs(secrets) do
      if secret ~= "" then
        local i = v:find(secret, 1, true)
        while i do
          v = v:sub(1, i - 1) .. "[REDACTED]" .. v:sub(i + #secret)
          i = v:find(secret, i + 10, true)
        end
      end
    end
    return v
  end
  for _, ex in ipairs(exchanges) do
    for _, k in ipairs { "url", "request_body", "response_body", "error" } do ex[k] = scrub(ex[k]) end
  end
end

--- Write exchanges as JSON lines.
function M.write_jsonl(path, exchanges)
  local f = assert(io.open(path, "wb"))
  for _, ex in ipairs(exchanges) do f:write(cjson.encode(ex), "\n") end
  f:close()
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Run the judge; returns the list of its verdicts (decoded JSON lines), its stderr text and
-- its output as printed.
-- The token reaches it in a file readable only by this user, never on a command line.
-- Without `sb`, no mutation is sent.
function M.judge(exchanges_file, sb)
  local err_file = os.tmpname()
  local cmd = ("%s %s --spec %s --exchanges %s"):format(q(M.PYTHON), q(M.JUDGE), q(M.SPEC),
    q(exchanges_file))
  local token_file
  if sb then
    token_file = os.tmpname()
    local f = assert(io.open(token_file, "wb"))
    f:close()
    os.execute("chmod 600 " .. q(token_file))   -- before the token is in it
    f = assert(io.open(token_file, "wb"))
    f:write(sb.token)
    f:close()
    cmd = cmd .. (" --base-url %s --token-file %s"):format(q(sb.url), q(token_file))
  end
  local h = assert(io.popen(cmd .. " 2>" .. q(err_file), "r"))
  local out = h:read("*a")
  h:close()
  if token_file then os.remove(token_file) end
  local ef = io.open(err_file, "rb")
  local stderr = ef and ef:read("*a") or ""
  if ef then ef:close() end
  os.remove(err_file)
  local verdicts = {}
  for line in out:gmatch("[^\n]+") do verdicts[#verdicts + 1] = cjson.decode(line) end
  return verdicts, stderr, out
end

--- cohort's override table (tools/schema_overrides.lua), each row as written.
function M.overrides()
  return dofile(M.OVERRIDES)
end

local PAGING_PARAMS = { page = true, page_size = true, offset = true, limit = true }
local ENVELOPE = { _links = true, meta = true }

local function strip_indices(path)
  return (path:gsub("%[%d+%]", ""))
end

local function ends_with(s, suffix)
  return suffix == "" or s == suffix or s:sub(-#suffix - 1) == "." .. suffix
end

--- The override row that excuses one error of the judge for operation `op`, or nil.
-- An `op` row excuses only what it changes: `query`/`query_drop` the query parameters it
-- names, `paging` the paging parameters and the live list envelope (_links, meta), `body`
-- the request body, `success` the answer. A `schema` row excuses an error inside that
-- component at its `field`. Rows of ids and path parameters excuse nothing: they only make
-- cohort stricter than the spec.
function M.excusing_row(rows, op, err)
  local first = (err.path or ""):match("^[^.%[]*")
  for _, row in ipairs(rows) do
    if row.op == op or (row.name and row.name == op) then
      if err.where == "query" then
        if row.query and row.query[first] ~= nil then return row end
        for _, name in ipairs(row.query_drop or {}) do
          if name == first then return row end
        end
        if row.paging and PAGING_PARAMS[first] then return row end
      elseif err.where == "body" and row.body ~= nil then
        return row
      elseif err.where == "answer" then
        if row.success ~= nil then return row end
        if row.paging and ENVELOPE[first] then return row end
      end
    elseif row.schema then
      for _, c in ipairs(err.components or {}) do
        if c == row.schema and ends_with(strip_indices(err.path or ""), row.field or "") then
          return row
        end
      end
    end
  end
  return nil
end

--- The operation's name as cohort spells it: the override table names the spec's unnamed ones.
function M.op_name(rows, judged)
  for _, row in ipairs(rows) do
    if row.name and row.op == judged then return row.name end
  end
  return judged
end

return M
