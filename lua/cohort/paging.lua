--- Paging, for every list of both platforms: one page (`list`), every item lazily (`each`),
-- every item in an array (`all`).
--
-- A style says how a list is asked for and what its answer looks like:
--
-- * `page`: `page` + `page_size`, answered `{results, _links = {next = {href}}, meta = {count}}`
--   (most Prolific lists);
-- * `offset`: `offset` + `limit`, answered `{results, meta = {count}}` (Prolific's surveys,
--   survey responses, hook events);
-- * `qp`: `page` + `perPage`, answered `{response, pagination = {totalItems, totalPages,
--   currentPage}}` (QuestionPro). Its `links` are never followed: with the legacy `?apiKey=`
--   they would carry the key.
--
-- Iteration survives the caller's own changes: a loop that approves what it is given shrinks a
-- filtered list under its own feet, so page 2 of the list as it is now starts where page 3 was.
-- The iterator therefore
--
-- * remembers the id of every item it yielded and never yields one twice (its memory: one id
--   per item yielded, nothing else that grows with the list; docs/prolific.md gives the size);
-- * keeps the position of the next unseen item, moved back by the items that left the list
--   between two answers (the server's count tells how many), and asks for the page holding it
--   — again, when the count moved while a page was on its way;
-- * takes a 404 or an empty page past the end as the end only when the counts agree (as many
--   items yielded as matched at the start, and the walk past the server's current count);
--   otherwise it reads the list again from the first page, skipping what it has yielded,
--   until a pass finds nothing new.
--
-- So `each`/`all` yield every item that matched when the iteration began exactly once, on
-- both paging styles and both platforms. Items that others add or remove while it runs may or
-- may not be yielded; a list whose server gives no count is walked to its last page once.
-- @module cohort.paging
local compat = require "cohort.compat"
local core = require "cohort.core"
local Error = require "cohort.error"
local async = require "cohort.async"
local util = require "cohort.util"

local M = {}

local Page = { __name = "cohort.Page" }
Page.__index = Page
M.Page = Page

--- `Page of 20 Submission (45 in all), more to come`
function Page:__tostring()
  local s = ("Page of %d %s"):format(#self, tostring(self.class or "item"))
  if self.count then s = s .. (" (%s in all)"):format(tostring(self.count)) end
  if self.next then s = s .. ", more to come" end
  return s
end

--- The paging styles: how a list is asked for (`param`, `size`) and read (`items`, `count`).
M.styles = {
  page = { kind = "page", param = "page", size = "page_size", items = { "results" },
    count = { "meta", "count" }, links = true },
  offset = { kind = "offset", param = "offset", size = "limit", items = { "results" },
    count = { "meta", "count" }, links = true },
  qp = { kind = "page", param = "page", size = "perPage", items = { "response" },
    count = { "pagination", "totalItems" }, pages = { "pagination", "totalPages" },
    current = { "pagination", "currentPage" }, links = false },
}

-- How many times the iterator reads a list again from the start before it gives up.
local MAX_PASSES = 20
-- How many times it asks again for a page that moved while it was on its way.
local MAX_REFETCH = 3

local function at(t, path)
  for _, k in ipairs(path) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end

local copy = util.copy

local function bad_list(client, result, message)
  return Error.new { kind = "decode", platform = client.platform, attempts = 1,
    status = result and result.status, url = result and result.url, title = "Bad list",
    message = message }
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for k in pairs(t) do
    if compat.math_type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function whole(v)
  return type(v) == "number" and v >= 0 and v == math.floor(v) and v < 2 ^ 53
end

-- scheme://host:port of a URL, lower-cased
local function origin(u)
  return (tostring(u):match("^(%a[%w+.-]*://[^/?#]*)") or ""):lower()
end

--- Same scheme, host and port?
-- @tparam string a
-- @tparam string b
-- @treturn boolean
function M.same_origin(a, b)
  return origin(a) ~= "" and origin(a) == origin(b)
end

--- A link resolved against the URL of the page it came from (RFC 3986's common forms:
-- absolute, `//host/…`, `/path…`, `?query`, `relative/path`).
-- @tparam string href
-- @tparam string base the page's URL
-- @treturn string
function M.resolve(href, base)
  if href:match("^%a[%w+.-]*://") then return href end
  if href:sub(1, 2) == "//" then return (base:match("^(%a[%w+.-]*:)") or "https:") .. href end
  if href:sub(1, 1) == "/" then return origin(base) .. href end
  local path = base:gsub("#.*$", ""):gsub("%?.*$", "")
  if href:sub(1, 1) == "?" then return path .. href end
  return (path:gsub("[^/]*$", "")) .. href
end

-- One answer read as a list: items, count, whether more follow, and the next link (absolute,
-- resolved against `url`, the page's own).
local function read(client, style, body, result, url)
  local names = style.items[#style.items]
  if style.kind == "offset" then names = names .. '" or "data' end
  if type(body) ~= "table" or (next(body) ~= nil and is_array(body)) then
    return nil, bad_list(client, result, ('expected a JSON object holding a list in "%s", got %s')
      :format(names, type(body) == "table" and "an array"
        or type(body) == "boolean" and "an empty or boolean answer" or "a " .. type(body)))
  end
  local items = at(body, style.items)
  if items == nil and style.kind == "offset" then items = body.data end
  if items == nil then
    return nil, bad_list(client, result, ('expected a JSON object holding a list in "%s"; the '
      .. "answer has none"):format(names))
  end
  if type(items) ~= "table" then
    return nil, bad_list(client, result, ('the list "%s" is a %s, not an array'):format(names,
      type(items)))
  end
  -- an empty Lua table is `[]` or `{}` in the text (the decoder makes both the same): the raw
  -- text tells which
  local raw = result and result.body
  if not is_array(items) or (next(items) == nil and type(raw) == "string"
      and not raw:find('"' .. style.items[#style.items] .. '"%s*:%s*%[')
      and not (style.kind == "offset" and raw:find('"data"%s*:%s*%['))) then
    return nil, bad_list(client, result, ('the list "%s" is an object, not an array'):format(names))
  end
  for i = 1, #items do
    if type(items[i]) ~= "table" then
      return nil, bad_list(client, result, ("item %d of the list is a %s, not an object")
        :format(i, type(items[i])))
    end
  end
  -- a count that is not a number is ignored; an odd one (huge, fractional) is kept for the
  -- page to show, and the iteration trusts only whole counts (see `iterate`)
  local count = at(body, style.count)
  if count == nil and style.kind ~= "qp" then count = body.count end
  if type(count) ~= "number" or count ~= count then count = nil end
  local href, more
  if style.links then
    local n = at(body, { "_links", "next" })
    if type(n) == "table" then n = n.href end
    if type(n) == "string" and n ~= "" then
      href = M.resolve(n, url)
      more = true
    end
  else
    local pages, current = tonumber(at(body, style.pages)), tonumber(at(body, style.current))
    if pages and current then more = current < pages end
  end
  return items, count and (compat.tointeger(count) or count), more, href
end

-- Fetch and read one page: a Page (items wrapped in the class), its next link and whether
-- more follow, or nil, err.
local function fetch(client, spec, req)
  local style = M.styles[spec.style]
  local body, result = client:send(req)
  if body == nil then return nil, result end
  -- links resolve against the URL asked for (the answer's `url` is redacted for display)
  local url = req.url or core.build_url { base = client.base_url, path = req.path, ids = req.ids,
    query = req.query }
  local items, count, more, href = read(client, style, body, result, url)
  if items == nil then return nil, count end
  local page = setmetatable({ class = spec.class, count = count }, Page)
  for i = 1, #items do page[i] = client:wrap(spec.class, items[i]) end
  if more == nil and count and style.kind == "offset" and #items > 0 then
    local offset = tonumber((req.url or ""):match("[?&]offset=(%d+)"))
      or tonumber(req.query and req.query.offset) or 0
    more = offset + #items < count
  end
  page.next = href or (more and true) or nil
  return page, href, more
end

--- Fetch one page of a list.
-- @tparam Client client
-- @tparam table spec `style` (a key of `styles`), `class` (the items' class)
-- @tparam table req the request (as for `Client:send`)
-- @treturn[1] Page an array of objects with `count` (all items, as the server counts them) and
--   `next` (the next page's URL, or true, when another page follows)
-- @return[2] nil
-- @treturn[2] cohort.Error (kind `"decode"` for an answer that is not a list)
function M.page(client, spec, req)
  local page, err = fetch(client, spec, req)
  if page == nil then return nil, err end
  return page
end

-- The position of the first item a request asks for (nil when it does not say, or when the
-- page size that would tell is not known yet).
local function start_of(style, r, size)
  local v
  if r.url then
    v = tonumber(r.url:match("[?&]" .. style.param .. "=(%d+)"))
  elseif r.query then
    v = tonumber(r.query[style.param])
  end
  if v == nil then return (not r.url) and 0 or nil end
  if style.kind == "page" then return size and (v - 1) * size or nil end
  return v
end

--- Iterate over every item of every page, lazily (see the module's comment for what it
-- guarantees when the list changes underneath). Raises the `cohort.Error` when a page fails,
-- since nil ends a loop; a `next` link to another origin is refused (credentials never leave
-- the API's host).
-- @tparam Client client
-- @tparam table spec `style`, `class`, `key` (function(item) → its id, for telling items apart)
-- @tparam table req the request of the first page
-- @tparam[opt] function on_page called with each Page as it arrives
-- @treturn function the iterator
function M.iterate(client, spec, req, on_page)
  local style = M.styles[spec.style]
  local key = spec.key or function(item) return item.id end
  local size = tonumber(req.query and req.query[style.size])
  local seen = {}                       -- id -> true: everything yielded
  local yielded, since, rate = 0, 0, 0  -- yielded since the last answer; share of those that left
  local count0, count_last              -- the server's counts: at the start, at the last answer
  local pos0 = start_of(style, req, size)
  local pos                              -- position after the last page read, in the list now
  local link, visited = nil, {}
  local passes, found = 1, 0            -- passes over the list; new items found in this one
  local page, i, last = nil, 0, false

  local function derive(fields)
    local r = copy(req)
    r.compress = true
    for k, v in pairs(fields) do r[k] = v end
    if r.url then r.path, r.ids, r.query = nil, nil, nil end
    return r
  end

  -- the request for the page holding position p, and that page's first position
  local function request_at(p)
    local q = copy(req.query)
    if size then q[style.size] = size end
    if style.kind == "page" then
      local n = size and compat.idiv(p, size) + 1 or 1
      q[style.param] = (n > 1 or q[style.param] ~= nil) and n or nil
      return derive { query = q }, (n - 1) * (size or 0)
    end
    q[style.param] = p
    return derive { query = q }, p
  end

  local function key_of(r)
    return r.url or core.build_url { base = client.base_url, path = r.path,
      ids = r.ids, query = r.query }
  end

  -- every item that matched at the start was yielded, and the walk went past the list's end
  local function agree()
    if count0 == nil then return true end
    if yielded < count0 - pos0 then return false end
    return count_last == nil or pos >= count_last
  end

  local function bad_link(url)
    return Error.new { kind = "decode", platform = client.platform, attempts = 1,
      title = "Bad next link", url = url,
      message = "the next-page link leaves the API's origin; refusing to follow it" }
  end

  -- Read the next page into `page`; false at the end of the list.
  local function load()
    local r, start
    if pos == nil then
      r, start = derive {}, pos0
    elseif last then
      if agree() or (passes > 1 and found == 0) then return false end
      passes = passes + 1
      if passes > MAX_PASSES then
        error(bad_list(client, nil, ("the list changed on each of %d passes over it (%d "
          .. "items yielded)"):format(MAX_PASSES, yielded)), 0)
      end
      found, pos, link, visited, last = 0, pos0, nil, {}, false
      r, start = request_at(pos0)
    else
      local want = math.max(pos0, pos - math.floor(rate * since + 0.5))
      if link and want == pos and not visited[link] then
        if not M.same_origin(client.base_url, link) then error(bad_link(link), 0) end
        r = derive { url = link }
        start = start_of(style, r, size) or pos
      else
        r, start = request_at(want)
      end
    end
    local refetches = 0
    while true do
      visited[key_of(r)] = true
      local p, href, more = fetch(client, spec, r)
      if p == nil then
        local err = href
        if pos ~= nil and err.kind == "http" and err.status == 404 then
          -- a page past the end: the list is shorter than it was
          page, i, last, link = {}, 0, true, nil
          return true
        end
        error(err, 0)
      end
      local c = whole(p.count) and p.count or nil
      if pos == nil then -- the first page
        count0 = c
        if size == nil and #p > 0 and (more or (c and #p < c)) then size = #p end
        pos0 = pos0 or start_of(style, req, size) or 0
        start, pos = pos0, pos0
      elseif c and count_last then
        local gone = count_last - c
        if since > 0 then rate = math.min(1, math.max(0, gone / since)) end
        if gone > 0 then pos = math.max(pos0, pos - gone) end
      end
      count_last, since = c or count_last, 0
      if pos < start and (style.kind == "offset" or size) and refetches < MAX_REFETCH then
        -- items left the list while this page was asked for: unseen ones lie before it
        refetches = refetches + 1
        r, start = request_at(pos)
      else
        pos = start + math.min(#p, size or #p)
        link = href
        last = #p == 0 or (c ~= nil and pos >= c)
          or (c == nil and (not more or (size ~= nil and #p < size)))
        page, i = p, 0
        if on_page then on_page(p) end
        return true
      end
    end
  end

  return function()
    while true do
      if page == nil then
        if not load() then return nil end
      end
      i = i + 1
      local item = page[i]
      if item == nil then
        page = nil
      else
        local id = key(item)
        if id == nil or not seen[id] then
          if id ~= nil then seen[id] = true end
          yielded, since, found = yielded + 1, since + 1, found + 1
          return item
        end
      end
    end
  end
end

--- Every item of every page in one array (or nil, err).
-- A progress bar on stderr (when it is a terminal, after half a second, and unless the call or
-- the client says `progress = false`) counts the items against the server's total.
-- @tparam Client client
-- @tparam table spec as for `iterate`
-- @tparam table req the request of the first page (`req.progress` as the call gave it)
-- @treturn[1] table array of items
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.collect(client, spec, req)
  local out = {}
  local enabled = req.progress
  if enabled == nil then enabled = client.progress end
  local bar = require("cohort.prompt.progress").new { label = spec.class or "items",
    enabled = enabled, delay = 0.5 }
  -- the iterator is called directly, not by `for`, and under async.pcall: on plain Lua 5.1 a
  -- task cannot yield from inside a for-in iterator or a pcall
  local ok, err = async.pcall(function()
    local it = M.iterate(client, spec, req, function(page)
      if page.count and not bar.total then bar:set_total(page.count) end
    end)
    local item = it()
    while item ~= nil do
      out[#out + 1] = item
      bar:add(1)
      item = it()
    end
  end)
  bar:finish()
  if not ok then
    if Error.is(err) then return nil, err end
    error(err, 0)
  end
  return out
end

return M
