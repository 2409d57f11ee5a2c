--[[ Sandbox: the participant pool — a seeded, reproducible population that Prolific's filters
(cohort.sandbox.catalogue) select from, whose members take the sandbox's studies and come back
for the next ones.

    local pool = require "cohort.sandbox.pool"
    local p = pool.new{ seed = 1, size = 30000, now = os.time() }
    local who = p:find("5…")                       --> a participant record, or nil
    local n = p:count(filters, ctx)                -- eligibility-count
    for member in p:eligible(filters, ctx) do ... end
    local drawn = p:draw(filters, 8, ctx, seed)    -- 8 eligible members (fewer if fewer exist)
    p:record(drawn[1].id, study_id, "AWAITING REVIEW")  -- the study history, as studies run
    p:join(group_id, { drawn[1].id })             -- participant-group memberships, when told
    local answer = p:forecast(filters, places, reward_per_hour, ctx)   -- recruitment time
    local page = p:participants{ filters = filters, offset = 0, limit = 20 }

`filters` are catalogue filters (validated: an invalid list raises, so handlers validate with
catalogue.validate first and answer 400). `ctx` is the catalogue's context (groups, studies,
submissions; see cohort.sandbox.catalogue) plus, for drawing and counting:

  exclude     {[participant_id] = true}: never eligible (already took part)
  collection  the study ids of a mutually exclusive collection (an array, or a table with
              `study_ids`): whoever has taken any of them is not eligible — p:taken(ids) is
              that set, to merge into exclude

Wiring (for the handlers): the app holds one pool (`pool.new{seed = ..., size = ..., now =
clock}`; rebuilt on reset); a study's draw is
`p:draw(study.filters, n, catalogue.context(state, {pool = p, exclude = p:taken{study.id},
collection = ids_of_its_collection}), seed)` and each submission's status change is
`p:record(participant_id, study_id, status)`; a group's add/remove is p:join / p:leave (or
the state's groups are passed in ctx.groups, which then decide); eligibility-count is
`p:count(filters, catalogue.context(state, {pool = p}))` (the route may still hide small counts);
predicted-recruitment-time is p:forecast; a control route lists members with p:participants.

Members (records; read them, do not change them — p:record, p:join and p:leave do):

  id              24 hex digits: "5", 7 from the seed, 16 from a bijective mix of the member's
                  position — stable for a seed, distinct within a pool, and never one of the
                  dataset's ids (those of cohort.sandbox.data all begin with 6); p:find decodes it
                  back to the position, so no index of ids is kept
  index           1..size
  age             at `now`: 18–24 22%, 25–34 36%, 35–44 20%, 45–54 12%, 55–64 7%, 65–85 3%
                  (uniform within a band)
  sex             0 Male 48%, 1 Female 52%
  country         of residence (codes of catalogue.COUNTRIES): United Kingdom 35%, United States
                  29%, then South Africa, Poland, Portugal 4.5% each, Canada, Italy 3%, Spain
                  2.5%, Germany, Mexico 2%, and 19 more at 0.1–1% (M.RESIDENCE)
  nationality     that country for 88%; otherwise drawn from M.ORIGINS (migration: Romania,
                  India, Poland, China, ...), never the country itself
  first_language  by nationality (M.LANGUAGES_OF: Canada 78% English / 22% French, the US 90%
                  English / 10% Spanish, South Africa English / Afrikaans / Zulu, ...)
  fluent          a bit set of language codes: the first language; English for 85% of the
                  others (97% when living in an English-speaking country); 0, 1 or 2 more
                  languages (60/30/10%) from M.EXTRA_LANGUAGES
  approval_rate   100 for anyone with under 10 approvals; otherwise 100 50%, 99 22%, 98 12%,
                  97 5%, 96 3%, 95 3%, 90–94 3%, 70–89 2%
  approvals       months since joining × a monthly rate drawn log-normally (median 3, σ 1 in
                  log), at most 10,000
  joined          day number (days since 1970-01-01) between 2014-04-01 and `now`, the density
                  rising linearly (the pool grew): the share who joined in the first half of
                  the span is a quarter
  handedness      0 Right-handed 89%, 1 Left-handed 9%, 2 Ambidextrous 2%
  student         0 Yes / 1 No: a student at 55% for 18–24, 20% for 25–29, 6% for 30–39, 2% above
  employment      codes of catalogue.EMPLOYMENT, by student status and age (M.EMPLOYMENT_OF)
  history         nil, or {[study_id] = submission status} (p:record)
  groups          nil, or {[group_id] = true} (p:join)

Every attribute of member i depends only on (seed, i) and, for the join date and approvals,
`now`: a pool of 100,000 begins with the 30,000 of the same seed, and two pools of one seed and
time are equal.
Generation is one pass with a counter-seeded xorshift64* stream per member.

Recruitment forecast (p:forecast): each eligible member takes up an open study at a steady rate
r per hour, independently, so the time to fill k places from E eligible members is the k-th
order statistic of E exponential times: mean (1/r)·Σ_{j=E-k+1..E} 1/j, variance
(1/r²)·Σ 1/j². r = M.TAKE_UP_RATE · sqrt(reward_per_hour / M.REFERENCE_PAY), the pay factor
held within 0.25..3; the default rate makes 100 places from 30,000 eligible take about an
hour. Narrower filters mean a smaller E and a longer time; k > E cannot fill (the answer then
says so and its hours are limit_at). Bounds: the lower is min(0.7·mean, mean − 2σ) and at
least 0, the upper max(1.5·mean, mean + 2σ).
]]
local catalogue = require "cohort.sandbox.catalogue"
local util = require "cohort.sandbox.util"

local M = {}

M.DEFAULT_SEED = 1
M.DEFAULT_SIZE = 30000
M.MAX_SIZE = 1000000

M.JOIN_START = "2014-04-01"
M.TAKE_UP_RATE = 0.0033 -- per eligible member and hour, at the reference pay
M.REFERENCE_PAY = 900 -- minor units an hour (£9.00)
M.LIMIT_HOURS = 72 -- beyond this a forecast reads "72 hours+"

-- Distributions (weights, normalised when used) --------------------------------------------------

M.AGE_BANDS = { { 18, 24, 22 }, { 25, 34, 36 }, { 35, 44, 20 }, { 45, 54, 12 }, { 55, 64, 7 },
  { 65, 85, 3 } }
M.SEX = { Male = 48, Female = 52 }
M.RESIDENCE = { -- percent
  ["United Kingdom"] = 35, ["United States"] = 29, ["South Africa"] = 4.5, Poland = 4.5,
  Portugal = 4.5, Canada = 3, Italy = 3, Spain = 2.5, Germany = 2, Mexico = 2, Australia = 1,
  Greece = 1, France = 1, Netherlands = 1, Hungary = 0.8, Chile = 0.6, Ireland = 0.6,
  ["Czech Republic"] = 0.6, Belgium = 0.5, ["New Zealand"] = 0.4, Sweden = 0.4, Austria = 0.4,
  Finland = 0.3, Switzerland = 0.3, Latvia = 0.3, Israel = 0.3, Estonia = 0.2, Slovenia = 0.2,
  Japan = 0.1,
}
M.NATIONALS = 0.88
M.ORIGINS = {
  Romania = 8, India = 8, Poland = 8, China = 5, Italy = 5, Portugal = 4, Brazil = 5,
  Nigeria = 4, Pakistan = 4, Turkey = 4, Russia = 3, Germany = 3, France = 3, Spain = 3,
  ["South Africa"] = 3, Mexico = 3, Ireland = 2, ["United Kingdom"] = 3, ["United States"] = 3,
  Greece = 2, Hungary = 2, Canada = 1, Australia = 1,
}
M.LANGUAGES_OF = {
  ["United Kingdom"] = { English = 1 }, ["United States"] = { English = 90, Spanish = 10 },
  Canada = { English = 78, French = 22 }, Australia = { English = 1 }, Ireland = { English = 1 },
  ["New Zealand"] = { English = 1 }, ["South Africa"] = { English = 40, Afrikaans = 30, Zulu = 30 },
  Poland = { Polish = 1 }, Portugal = { Portuguese = 1 }, Italy = { Italian = 1 },
  Spain = { Spanish = 1 }, Germany = { German = 1 }, France = { French = 1 },
  Netherlands = { Dutch = 1 }, Belgium = { Dutch = 60, French = 40 }, Greece = { Greek = 1 },
  Hungary = { Hungarian = 1 }, ["Czech Republic"] = { Czech = 1 }, Sweden = { Swedish = 1 },
  Finland = { Finnish = 1 }, Austria = { German = 1 },
  Switzerland = { German = 65, French = 25, Italian = 10 }, Mexico = { Spanish = 1 },
  Chile = { Spanish = 1 }, Latvia = { Latvian = 1 }, Estonia = { Estonian = 1 },
  Slovenia = { Slovenian = 1 }, Israel = { Hebrew = 80, Arabic = 20 }, Japan = { Japanese = 1 },
  Romania = { Romanian = 1 }, Turkey = { Turkish = 1 }, India = { Hindi = 70, English = 30 },
  China = { ["Mandarin Chinese"] = 1 }, Russia = { Russian = 1 }, Brazil = { Portuguese = 1 },
  Nigeria = { English = 1 }, Pakistan = { Urdu = 80, English = 20 },
}
M.ENGLISH_SPEAKING = { ["United Kingdom"] = true, ["United States"] = true, Canada = true,
  Australia = true, Ireland = true, ["New Zealand"] = true }
M.ENGLISH_FLUENT, M.ENGLISH_FLUENT_RESIDENT = 0.85, 0.97
M.EXTRA_COUNT = { 60, 30, 10 } -- 0, 1, 2 further languages
M.EXTRA_LANGUAGES = { Spanish = 30, French = 30, German = 20, Italian = 8, Portuguese = 5,
  Dutch = 3, Russian = 3, Japanese = 2, ["Mandarin Chinese"] = 2, Arabic = 2, Other = 5 }
M.HANDEDNESS = { ["Right-handed"] = 89, ["Left-handed"] = 9, Ambidextrous = 2 }
M.STUDENT_SHARE = { { 24, 0.55 }, { 29, 0.20 }, { 39, 0.06 }, { 200, 0.02 } } -- up to age, share
M.EMPLOYMENT_OF = {
  student = { ["Full-Time"] = 10, ["Part-Time"] = 35, ["Due to start a new job within the next month"] = 2,
    ["Unemployed (and job seeking)"] = 15,
    ["Not in paid work (e.g. homemaker, retired or disabled)"] = 28, Other = 10 },
  retired = { ["Full-Time"] = 8, ["Part-Time"] = 12, ["Due to start a new job within the next month"] = 1,
    ["Unemployed (and job seeking)"] = 3,
    ["Not in paid work (e.g. homemaker, retired or disabled)"] = 70, Other = 6 },
  default = { ["Full-Time"] = 50, ["Part-Time"] = 17, ["Due to start a new job within the next month"] = 2,
    ["Unemployed (and job seeking)"] = 10,
    ["Not in paid work (e.g. homemaker, retired or disabled)"] = 13, Other = 8 },
}
M.APPROVAL_RATES = { { 100, 100, 50 }, { 99, 99, 22 }, { 98, 98, 12 }, { 97, 97, 5 },
  { 96, 96, 3 }, { 95, 95, 3 }, { 90, 94, 3 }, { 70, 89, 2 } }
M.MIN_APPROVALS_FOR_RATE = 10
M.MAX_APPROVALS = 10000

-- A weighted table {label = weight} as parallel arrays of codes and cumulative weights, in
-- the order of the catalogue's list (so the walk is deterministic).
local function pick_table(labels, weights)
  local codes, cum, total = {}, {}, 0
  for label in pairs(weights) do catalogue.code(labels, label) end -- raises on a stray label
  for i, label in ipairs(labels) do
    local w = weights[label]
    if w and w > 0 then
      total = total + w
      codes[#codes + 1] = i - 1
      cum[#cum + 1] = total
    end
  end
  for i = 1, #cum do cum[i] = cum[i] / total end
  cum[#cum] = 1.0
  return { codes = codes, cum = cum }
end

local function band_table(bands)
  local total = 0
  for _, b in ipairs(bands) do total = total + b[3] end
  local out, acc = {}, 0
  for i, b in ipairs(bands) do
    acc = acc + b[3]
    out[i] = { b[1], b[2], acc / total }
  end
  out[#out][3] = 1.0
  return out
end

local C = catalogue
local T = {
  age = band_table(M.AGE_BANDS),
  sex = pick_table(C.SEXES, M.SEX),
  residence = pick_table(C.COUNTRIES, M.RESIDENCE),
  origins = pick_table(C.COUNTRIES, M.ORIGINS),
  handedness = pick_table(C.HANDEDNESS, M.HANDEDNESS),
  extra = pick_table(C.LANGUAGES, M.EXTRA_LANGUAGES),
  rates = band_table(M.APPROVAL_RATES),
  employment = {},
  language_of = {}, -- by country code
  english_speaking = {},
}
for k, w in pairs(M.EMPLOYMENT_OF) do T.employment[k] = pick_table(C.EMPLOYMENT, w) end
for label, w in pairs(M.LANGUAGES_OF) do
  T.language_of[C.code(C.COUNTRIES, label)] = pick_table(C.LANGUAGES, w)
end
for i, label in ipairs(C.COUNTRIES) do
  assert(T.language_of[i - 1], "pool: no languages for " .. label)
  if M.ENGLISH_SPEAKING[label] then T.english_speaking[i - 1] = true end
end
local ENGLISH = C.code(C.LANGUAGES, "English")
local STUDENT_YES, STUDENT_NO = C.code(C.STUDENT, "Yes"), C.code(C.STUDENT, "No")
do
  local total = 0
  for _, w in ipairs(M.EXTRA_COUNT) do total = total + w end
  local acc = 0
  T.extra_count = {}
  for i, w in ipairs(M.EXTRA_COUNT) do acc = acc + w; T.extra_count[i] = acc / total end
end

-- Randomness -------------------------------------------------------------------------------------

local function splitmix(x)
  x = x + 0x9E3779B97F4A7C15
  x = (x ~ (x >> 30)) * 0xBF58476D1CE4E5B9
  x = (x ~ (x >> 27)) * 0x94D049BB133111EB
  return x ~ (x >> 31)
end

--- A reproducible generator of floats in [0, 1) (xorshift64*), from an integer seed.
-- @tparam[opt=1] integer seed
-- @treturn function
function M.rng(seed)
  local x = splitmix(math.tointeger(seed) or 1)
  if x == 0 then x = 1 end
  return function()
    x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
    return ((x * 0x2545F4914F6CDD1D) >> 11) * (1.0 / 9007199254740992.0)
  end
end

-- Ids --------------------------------------------------------------------------------------------

local MUL_A, MUL_B = 0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93

local function inverse(a) -- of an odd number, modulo 2^64 (Newton's iteration)
  local x = a
  for _ = 1, 6 do x = x * (2 - a * x) end
  return x
end
local INV_A, INV_B = inverse(MUL_A), inverse(MUL_B)

local function mix(i, k)
  local y = i * MUL_A + k
  y = y ~ (y >> 32)
  y = y * MUL_B
  return y ~ (y >> 29)
end

local function unmix(y, k)
  y = y ~ (y >> 29) ~ (y >> 58)
  y = y * INV_B
  y = y ~ (y >> 32)
  return (y - k) * INV_A
end

-- Generation -------------------------------------------------------------------------------------

local Pool = {}
Pool.__index = Pool
Pool.__name = "cohort.sandbox.Pool"

function Pool:__tostring()
  return ("Pool of %d (seed %d)"):format(self.size, self.seed)
end

local function check_opts(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("pool.new(): expected a table of options", 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "seed" and k ~= "size" and k ~= "now" then
      error(("pool.new(): unknown option %q"):format(tostring(k)), 3)
    end
  end
  local seed = opts.seed == nil and M.DEFAULT_SEED or math.tointeger(opts.seed)
  if not seed then error("pool.new(): seed must be an integer", 3) end
  local size = opts.size == nil and M.DEFAULT_SIZE or math.tointeger(opts.size)
  if not size or size < 0 or size > M.MAX_SIZE then
    error(("pool.new(): size must be a whole number from 0 to %d"):format(M.MAX_SIZE), 3)
  end
  local now = opts.now == nil and os.time() or opts.now
  if type(now) ~= "number" or now ~= now then error("pool.new(): now must be a Unix time", 3) end
  return seed, size, now
end

--- A new pool.
-- @tparam[opt] table opts `seed` (integer, default 1), `size` (default 30,000), `now` (Unix
-- time the ages and join dates are taken at; default the current time)
-- @treturn cohort.sandbox.Pool
function M.new(opts)
  local seed, size, now = check_opts(opts)
  local self = setmetatable({ seed = seed, size = size, now = now, members = {},
    takers = {}, groups = {} }, Pool)
  local key = splitmix(seed ~ 0x5BD1E9955BD1E995)
  self.key = key
  self.prefix = ("5%07x"):format((splitmix(seed) >> 36) & 0xFFFFFFF)
  local today = math.floor(now / 86400)
  local start = catalogue.day(M.JOIN_START)
  local span = math.max(today - start, 0)
  local prefix = self.prefix
  local fmt = string.format
  local floor, sqrt, log, exp, cos = math.floor, math.sqrt, math.log, math.exp, math.cos
  local age_t, rates_t, extra_count = T.age, T.rates, T.extra_count
  local sex_t, res_t, orig_t, hand_t, extra_t = T.sex, T.residence, T.origins, T.handedness, T.extra
  local lang_of, eng_res, emp_t = T.language_of, T.english_speaking, T.employment
  local students = M.STUDENT_SHARE
  local nationals, eng_f, eng_fr = M.NATIONALS, M.ENGLISH_FLUENT, M.ENGLISH_FLUENT_RESIDENT
  local min_rate, max_app = M.MIN_APPROVALS_FOR_RATE, M.MAX_APPROVALS
  local base = splitmix(seed)

  local x = 1
  local function u()
    x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
    return ((x * 0x2545F4914F6CDD1D) >> 11) * (1.0 / 9007199254740992.0)
  end
  local function pick(t)
    local r, cum = u(), t.cum
    for i = 1, #cum do
      if r < cum[i] then return t.codes[i] end
    end
    return t.codes[#cum]
  end
  local function band(t)
    local r = u()
    for i = 1, #t do
      local b = t[i]
      if r < b[3] then return b[1] + floor(u() * (b[2] - b[1] + 1)) end
    end
    local b = t[#t]
    return b[2]
  end

  local members = self.members
  for i = 1, size do
    x = splitmix(base + i * MUL_A)
    if x == 0 then x = 1 end
    local age = band(age_t)
    local country = pick(res_t)
    local nat = country
    if u() >= nationals then
      repeat nat = pick(orig_t) until nat ~= country
    end
    local first = pick(lang_of[nat])
    local fluent = 1 << first
    if first ~= ENGLISH and u() < (eng_res[country] and eng_fr or eng_f) then
      fluent = fluent | (1 << ENGLISH)
    end
    local r, extra = u(), 0
    while extra < #extra_count - 1 and r >= extra_count[extra + 1] do extra = extra + 1 end
    for _ = 1, extra do fluent = fluent | (1 << pick(extra_t)) end
    local joined = start + floor(sqrt(u()) * span)
    local months = (today - joined) / 30.44
    -- a monthly take-up rate, log-normal (Box–Muller)
    local z = sqrt(-2 * log(1 - u())) * cos(6.283185307179586 * u())
    local approvals = floor(months * exp(1.0986122886681098 + z))
    if approvals > max_app then approvals = max_app end
    local rate = band(rates_t)
    if approvals < min_rate then rate = 100 end
    local share = 0.02
    for j = 1, #students do
      if age <= students[j][1] then share = students[j][2]; break end
    end
    local student = u() < share and STUDENT_YES or STUDENT_NO
    local emp = pick(emp_t[student == STUDENT_YES and "student" or (age >= 65 and "retired" or "default")])
    members[i] = {
      id = fmt("%s%016x", prefix, mix(i, key)), index = i, age = age, sex = pick(sex_t),
      country = country, nationality = nat, first_language = first, fluent = fluent,
      approval_rate = rate, approvals = approvals, joined = joined,
      handedness = pick(hand_t), student = student, employment = emp,
    }
  end
  return self
end

-- Lookup -----------------------------------------------------------------------------------------

--- The member with this id, or nil (decoded from the id: no index is kept).
-- @tparam string id
-- @treturn[1] table the member's record
-- @return[2] nil not a member of this pool
function Pool:find(id)
  if type(id) ~= "string" or #id ~= 24 then return nil end
  id = id:lower()
  if id:sub(1, 8) ~= self.prefix then return nil end
  local hex = id:sub(9)
  if not hex:find("^%x+$") then return nil end
  local i = unmix(tonumber(hex, 16), self.key)
  local m = i >= 1 and i <= self.size and self.members[i] or nil
  if m and m.id == id then return m end
  return nil
end

--- Whether the pool knows a participant group (someone joined it through p:join).
-- @tparam string gid
-- @treturn boolean
function Pool:has_group(gid)
  return self.groups[gid] ~= nil
end

--- Whether a study is in some member's history.
-- @tparam string sid
-- @treturn boolean
function Pool:has_study(sid)
  return self.takers[sid] ~= nil
end

-- History and groups -----------------------------------------------------------------------------

--- Records (or, with status nil, forgets) a member's submission status in a study. Ids that are
-- not members are ignored.
-- @tparam string participant_id
-- @tparam string study_id
-- @tparam string|nil status a submission status ("AWAITING REVIEW", "APPROVED", ...)
-- @treturn[1] table the member
-- @return[2] nil not a member
function Pool:record(participant_id, study_id, status)
  local m = self:find(participant_id)
  if not m then return nil end
  if type(study_id) ~= "string" then error("pool:record(): study_id must be a string", 2) end
  if status ~= nil and type(status) ~= "string" then
    error("pool:record(): status must be a string or nil", 2)
  end
  local takers = self.takers[study_id]
  if status == nil then
    if m.history then m.history[study_id] = nil end
    if takers then
      takers[m] = nil
      if next(takers) == nil then self.takers[study_id] = nil end
    end
    return m
  end
  m.history = m.history or {}
  m.history[study_id] = status
  if not takers then takers = {}; self.takers[study_id] = takers end
  takers[m] = true
  return m
end

local function each_id(ids, method)
  if type(ids) == "string" then return { ids } end
  if type(ids) ~= "table" then error(("pool:%s(): expected a list of participant ids"):format(method), 3) end
  return ids
end

--- Adds members to a participant group (ids that are not members are skipped).
-- @tparam string gid
-- @tparam table ids participant ids (or one id)
-- @treturn integer how many members were added
function Pool:join(gid, ids)
  if type(gid) ~= "string" then error("pool:join(): group id must be a string", 2) end
  local set = self.groups[gid] or {}
  self.groups[gid] = set
  local n = 0
  for _, id in ipairs(each_id(ids, "join")) do
    local m = self:find(id)
    if m and not set[m] then
      set[m] = true
      m.groups = m.groups or {}
      m.groups[gid] = true
      n = n + 1
    end
  end
  return n
end

--- Removes members from a participant group.
-- @tparam string gid
-- @tparam table ids participant ids (or one id)
-- @treturn integer how many were removed
function Pool:leave(gid, ids)
  if type(gid) ~= "string" then error("pool:leave(): group id must be a string", 2) end
  local set = self.groups[gid]
  if not set then return 0 end
  local n = 0
  for _, id in ipairs(each_id(ids, "leave")) do
    local m = self:find(id)
    if m and set[m] then
      set[m] = nil
      m.groups[gid] = nil
      if next(m.groups) == nil then m.groups = nil end
      n = n + 1
    end
  end
  return n
end

local function sorted_members(set)
  local out = {}
  for m in pairs(set) do out[#out + 1] = m end
  table.sort(out, function(a, b) return a.index < b.index end)
  return out
end

--- The ids of a group's members in the pool, in pool order.
-- @tparam string gid
-- @treturn table array of ids
function Pool:group_members(gid)
  local out = {}
  for i, m in ipairs(sorted_members(self.groups[gid] or {})) do out[i] = m.id end
  return out
end

--- The members who have taken any of these studies (whatever the status) as a set of ids,
-- merged into `into` when given: the exclusion that keeps a mutually exclusive collection
-- exclusive (`ctx.exclude = p:taken(collection.study_ids)`) and a study from being taken twice.
-- @tparam table study_ids
-- @tparam[opt] table into a set to add to
-- @treturn table {[participant_id] = true}
function Pool:taken(study_ids, into)
  local set = into or {}
  for _, sid in ipairs(study_ids) do
    for m in pairs(self.takers[sid] or {}) do set[m.id] = true end
  end
  return set
end

--- Forgets every history and membership (the demographics stay: they depend on the seed only).
function Pool:reset()
  for _, set in pairs(self.takers) do
    for m in pairs(set) do m.history = nil end
  end
  for _, set in pairs(self.groups) do
    for m in pairs(set) do m.groups = nil end
  end
  self.takers, self.groups = {}, {}
end

-- Eligibility ------------------------------------------------------------------------------------

-- The context the catalogue sees: the caller's, with this pool (without changing the caller's).
local function with_pool(self, ctx)
  if ctx and ctx.pool == self then return ctx end
  return setmetatable({ pool = self }, { __index = ctx or {} })
end

local ALLOW = { id_allow = true, group_allow = true, study_allow = true }

-- The members an allow-list filter can admit at most (as a set of records).
local function allow_candidates(self, f, kind, c)
  local set = {}
  if kind == "id_allow" then
    for id in pairs(catalogue.id_set(f, c)) do
      local m = self:find(id)
      if m then set[m] = true end
    end
  elseif kind == "group_allow" then
    for _, gid in ipairs(f.selected_values) do
      local members = catalogue.group_members(c, gid)
      if members then
        for id in pairs(members) do
          local m = self:find(id)
          if m then set[m] = true end
        end
      else
        for m in pairs(self.groups[gid] or {}) do set[m] = true end
      end
    end
  else -- study_allow
    for _, sid in ipairs(f.selected_values) do
      for m in pairs(self.takers[sid] or {}) do set[m] = true end
    end
  end
  return set
end

-- The eligible members, in pool order; raises on invalid filters.
function Pool:_eligible(filters, ctx, method)
  local c = with_pool(self, ctx)
  local errors = catalogue.validate(filters, c)
  if errors then
    local paths = {}
    for path in pairs(errors) do paths[#paths + 1] = path end
    table.sort(paths)
    error(("pool:%s(): invalid filters: %s: %s"):format(method, paths[1], errors[paths[1]][1]), 3)
  end
  local list = catalogue.normalize(filters)
  local preds, candidates = {}, nil
  for i, f in ipairs(list) do
    preds[i] = catalogue.predicate(f, c)
    local kind = catalogue.get(f.filter_id).kind
    if ALLOW[kind] then
      local set = allow_candidates(self, f, kind, c)
      local n = 0
      for _ in pairs(set) do n = n + 1 end
      if not candidates or n < candidates.n then candidates = { set = set, n = n } end
    end
  end
  local exclude = c.exclude
  if c.collection then
    local ids = c.collection.study_ids or c.collection
    exclude = self:taken(ids, setmetatable({}, { __index = exclude }))
  end
  local pool = candidates and sorted_members(candidates.set) or self.members
  local out, n, np = {}, 0, #preds
  for i = 1, #pool do
    local m = pool[i]
    if not (exclude and exclude[m.id]) then
      local ok = true
      for j = 1, np do
        if not preds[j](m) then ok = false; break end
      end
      if ok then n = n + 1; out[n] = m end
    end
  end
  return out, list
end

--- The eligible members: an iterator over their records in pool order, and their number.
-- @tparam table|nil filters catalogue filters (valid, else this raises)
-- @tparam[opt] table ctx catalogue context, with exclude and collection
-- @treturn function iterator (`for m in p:eligible(filters, ctx) do`)
-- @treturn integer how many
function Pool:eligible(filters, ctx)
  local list = self:_eligible(filters, ctx, "eligible")
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end, #list
end

--- The number of eligible members (eligibility-count).
-- @tparam table|nil filters
-- @tparam[opt] table ctx
-- @treturn integer
function Pool:count(filters, ctx)
  return #(self:_eligible(filters, ctx, "count"))
end

local function as_rng(rng, method)
  if type(rng) == "function" then return rng end
  if rng == nil or math.tointeger(rng) then return M.rng(rng or 1) end
  error(("pool:%s(): rng must be a function or an integer seed"):format(method), 3)
end

-- k members chosen from arr (partial Fisher–Yates on a copy), appended to out.
local function choose(arr, k, u, out)
  local copy = table.move(arr, 1, #arr, 1, {})
  local n = #copy
  if k > n then k = n end
  for i = 1, k do
    local j = i + math.floor(u() * (n - i + 1))
    copy[i], copy[j] = copy[j], copy[i]
    out[#out + 1] = copy[i]
  end
  return out
end

-- Quotas: with weightings, the draw is split over the combinations of the weighted filters'
-- values, each getting n × the product of its values' shares (largest remainders round).
local function weighted_draw(list, weighted, n, u)
  local combos = { { key = "", share = 1 } }
  for _, wf in ipairs(weighted) do
    local total = 0
    for _, v in ipairs(wf.filter.selected_values) do total = total + (wf.filter.weightings[v] or 0) end
    local next_combos = {}
    for _, cmb in ipairs(combos) do
      for _, v in ipairs(wf.filter.selected_values) do
        local w = wf.filter.weightings[v] or 0
        if w > 0 then
          next_combos[#next_combos + 1] = { key = cmb.key .. "/" .. v, share = cmb.share * w / total }
        end
      end
    end
    combos = next_combos
  end
  local strata = {}
  for _, m in ipairs(list) do
    local key = ""
    for _, wf in ipairs(weighted) do
      local value
      for _, v in ipairs(wf.filter.selected_values) do
        local code = tonumber(v)
        if (wf.kind == "choice" and m[wf.attribute] == code)
            or (wf.kind == "choices" and m[wf.attribute] & (1 << code) ~= 0) then
          value = v
          break
        end
      end
      key = key .. "/" .. tostring(value)
    end
    local s = strata[key]
    if not s then s = {}; strata[key] = s end
    s[#s + 1] = m
  end
  local given, rest = 0, {}
  for i, cmb in ipairs(combos) do
    local t = n * cmb.share
    cmb.target = math.floor(t)
    given = given + cmb.target
    rest[i] = { i = i, frac = t - cmb.target }
  end
  table.sort(rest, function(a, b)
    if a.frac ~= b.frac then return a.frac > b.frac end
    return a.i < b.i
  end)
  for k = 1, n - given do combos[rest[k].i].target = combos[rest[k].i].target + 1 end
  local out = {}
  for _, cmb in ipairs(combos) do choose(strata[cmb.key] or {}, cmb.target, u, out) end
  -- arrival order: shuffled, so the strata do not arrive one after another
  for i = #out, 2, -1 do
    local j = 1 + math.floor(u() * i)
    out[i], out[j] = out[j], out[i]
  end
  return out
end

--- n eligible members not in ctx.exclude (nor, with ctx.collection, in its studies), chosen
-- reproducibly: the same pool, history, filters and rng seed give the same members in the same
-- order. Filters with weightings are quotas: the draw is split over their values by weight (a
-- value without a weight gets none); a stratum short of members leaves its places undrawn.
-- Fewer than n eligible members: all of them, shuffled.
-- @tparam table|nil filters
-- @tparam integer n
-- @tparam[opt] table ctx
-- @tparam[opt] function|integer rng a generator of floats in [0, 1), or a seed (default 1)
-- @treturn table array of member records (at most n)
-- @treturn integer the number of eligible members
function Pool:draw(filters, n, ctx, rng)
  n = math.tointeger(n)
  if not n or n < 0 then error("pool:draw(): n must be a whole number of 0 or more", 2) end
  local u = as_rng(rng, "draw")
  local list, normalized = self:_eligible(filters, ctx, "draw")
  local weighted = {}
  for _, f in ipairs(normalized) do
    if f.weightings then
      local entry = catalogue.get(f.filter_id)
      weighted[#weighted + 1] = { filter = f, kind = entry.kind, attribute = entry.attribute }
    end
  end
  if #weighted > 0 then return weighted_draw(list, weighted, n, u), #list end
  return choose(list, n, u, {}), #list
end

-- Forecast ---------------------------------------------------------------------------------------

local function display(hours, limit)
  if hours >= limit then return ("%d hours+"):format(limit) end
  local minutes = math.max(1, math.floor(hours * 60 + 0.5))
  local h, m = minutes // 60, minutes % 60
  local parts = {}
  if h > 0 then parts[#parts + 1] = ("%d hour%s"):format(h, h == 1 and "" or "s") end
  if m > 0 then parts[#parts + 1] = ("%d minute%s"):format(m, m == 1 and "" or "s") end
  return table.concat(parts, " ")
end

local function round2(x) return math.floor(x * 100 + 0.5) / 100 end

--- A recruitment-time forecast from the eligible count (the model is described at the top of
-- this module).
-- @tparam table|nil filters
-- @tparam integer places total_available_places
-- @tparam[opt] number reward_per_hour minor units an hour (default M.REFERENCE_PAY)
-- @tparam[opt] table ctx
-- @treturn table the StudyPredictedRecruitmentTimeResponse fields: precise_recruitment_time_hours,
-- lower_bound_hours, upper_bound_hours, display_string, limit_at
-- @treturn table {eligible = E, places = k, fillable = boolean, rate = r per member and hour}
function Pool:forecast(filters, places, reward_per_hour, ctx)
  local k = math.tointeger(places)
  if not k or k < 1 then error("pool:forecast(): places must be a whole number of 1 or more", 2) end
  if reward_per_hour ~= nil and (type(reward_per_hour) ~= "number" or reward_per_hour <= 0) then
    error("pool:forecast(): reward_per_hour must be a positive number", 2)
  end
  local E = #(self:_eligible(filters, ctx, "forecast"))
  local factor = math.sqrt((reward_per_hour or M.REFERENCE_PAY) / M.REFERENCE_PAY)
  factor = math.max(0.25, math.min(3, factor))
  local r = M.TAKE_UP_RATE * factor
  local limit = M.LIMIT_HOURS
  local info = { eligible = E, places = k, fillable = k <= E, rate = r }
  if k > E then
    return { precise_recruitment_time_hours = limit, lower_bound_hours = limit,
      upper_bound_hours = limit, limit_at = limit,
      display_string = ("Not enough eligible participants (%d for %d places)"):format(E, k) }, info
  end
  local s1, s2 = 0, 0
  for j = E - k + 1, E do s1 = s1 + 1 / j; s2 = s2 + 1 / (j * j) end
  local mean, sd = s1 / r, math.sqrt(s2) / r
  local lower = math.max(0, math.min(0.7 * mean, mean - 2 * sd))
  local upper = math.max(1.5 * mean, mean + 2 * sd)
  return { precise_recruitment_time_hours = round2(mean), lower_bound_hours = round2(lower),
    upper_bound_hours = round2(upper), limit_at = limit, display_string = display(mean, limit) }, info
end

-- Listing ----------------------------------------------------------------------------------------

local function label(list, code) return list[code + 1] end

--- A member as the control API shows it: labels, dates, the choice ids each filter sees
-- (`answers`, by filter id), history and groups.
-- @tparam table m a member record
-- @treturn table
function Pool:view(m)
  local fluent, fluent_ids = {}, {}
  for i, l in ipairs(C.LANGUAGES) do
    if m.fluent & (1 << (i - 1)) ~= 0 then
      fluent[#fluent + 1] = l
      fluent_ids[#fluent_ids + 1] = tostring(i - 1)
    end
  end
  local history = {}
  for sid, st in pairs(m.history or {}) do history[sid] = st end
  local groups = {}
  for gid in pairs(m.groups or {}) do groups[#groups + 1] = gid end
  table.sort(groups)
  return {
    id = m.id, age = m.age, sex = label(C.SEXES, m.sex),
    current_country_of_residence = label(C.COUNTRIES, m.country),
    nationality = label(C.COUNTRIES, m.nationality),
    first_language = label(C.LANGUAGES, m.first_language), fluent_languages = util.array(fluent),
    approval_rate = m.approval_rate, approvals = m.approvals, joined = catalogue.date(m.joined),
    handedness = label(C.HANDEDNESS, m.handedness), student = label(C.STUDENT, m.student),
    employment = label(C.EMPLOYMENT, m.employment), history = history, groups = util.array(groups),
    answers = {
      age = m.age, sex = tostring(m.sex), ["current-country-of-residence"] = tostring(m.country),
      nationality = tostring(m.nationality), ["first-language"] = tostring(m.first_language),
      ["fluent-languages"] = util.array(fluent_ids), approval_rate = m.approval_rate,
      approval_numbers = m.approvals, joined_between = catalogue.date(m.joined),
      handedness = tostring(m.handedness), ["student-status"] = tostring(m.student),
      ["employment-status"] = tostring(m.employment),
    },
  }
end

--- A page of eligible members for a control route.
-- @tparam[opt] table opts `filters`, `ctx`, `offset` (default 0), `limit` (default 20, at most 1000)
-- @treturn table {results = array of p:view(m), count = eligible members, offset, limit}
function Pool:participants(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("pool:participants(): expected a table of options", 2) end
  local offset = opts.offset == nil and 0 or math.tointeger(opts.offset)
  local limit = opts.limit == nil and 20 or math.tointeger(opts.limit)
  if not offset or offset < 0 then error("pool:participants(): offset must be a whole number of 0 or more", 2) end
  if not limit or limit < 0 or limit > 1000 then
    error("pool:participants(): limit must be a whole number from 0 to 1000", 2)
  end
  local list = self:_eligible(opts.filters, opts.ctx, "participants")
  local results = {}
  for i = offset + 1, math.min(#list, offset + limit) do results[#results + 1] = self:view(list[i]) end
  return { results = util.array(results), count = #list, offset = offset, limit = limit }
end

return M
