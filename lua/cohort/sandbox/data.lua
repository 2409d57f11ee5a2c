--[[ The sandbox's default dataset.

`--seed FILE.json` and `POST /__sandbox/seed` replace it with a JSON document of the same
structure (every top-level key optional; a missing array means empty, a missing `user` means
the default user):

{
  "user":       { "id": "24 hex", "email": "...", "name": "...", "first_name": "...",
                  "last_name": "...", "currency_code": "GBP", "country": "GB",
                  "balance": 0, "available_balance": 0, ... any further User fields },
  "workspaces": [ { "id": "24 hex", "title": "...", "description": "...", ... } ],
  "projects":   [ { "id": "24 hex", "title": "...", "workspace": "<workspace id>", ... } ],
  "studies":    [ { "id": "24 hex", "name": "...", "internal_name": "...",
                    "status": "ACTIVE", "reward": 150,               -- minor units
                    "total_available_places": 45, "project": "<project id>", ... } ],
  "submissions": [ {
      "id": "24 hex", "study_id": "<study id>", "participant_id": "24 hex",
      "status": "AWAITING REVIEW",       -- Prolific spelling, with a space
      "started_at": "2024-05-01T10:00:00.000000Z", "completed_at": "..." | null,
      "study_code": "8E8AC860" | null,   -- shown as entered_code in detail
      "time_taken": 612 | null,          -- seconds
      "reward": 150,                     -- minor units
      "bonus_payments": [ 1000 ],        -- minor units
      "return_requested": null, "parent_study_id": null } ]
}

Further optional top-level keys (created lazily by the families when absent):
  "messages":  [ { "id", "sender_id", "recipient_id", "body", "sent_at", "type", "channel_id",
                   "read": false, "data": { "study_id": "..." } } ],
  "bonus_batches": { "<id>": { "id", "study", "amount", "fees", "vat", "total_amount",
                               "rows": [ {participant_id, submission_id, amount} ], "paid" } },
  "ledger":    [ { "participant_id", "submission_id", "amount", "batch_id", "kind", "study_id" } ],
  "participants": [ "24 hex" | { "id": "24 hex", ... } ]   -- further participants the sandbox
               knows besides its pool and the participants of the submissions: participant
               groups take only those (cohort.sandbox.participants.not_participant)
  "id_seq":    counter behind M.new_id.
Workspaces carry "balance" and "available_balance" (minor units; bonus payments draw on them).
All money in the state is in minor units (pence/cents).

Submissions are stored in this one form; the list and detail shapes are derived from it
(list: participant_id, study_code, is_complete, ...; detail: participant, entered_code, ...).
]]

local M = {}

local USER_ID = "60a42f4c693c29420793cb73"
local WORKSPACE_ID = "60a42f4c693c29420793cb74"
local PROJECT_ID = "60a42f4c693c29420793cb75"
local STUDY_1 = "60aca280709ee40ec37d4885"
local STUDY_2 = "60aca280709ee40ec37d4886"
local STUDY_3 = "60aca280709ee40ec37d4887"

-- Deterministic 24-hex ids: a fixed prefix and a mixed counter.
local function hexid(prefix, n)
  local x = (n * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
  x = x ~ (x >> 29)
  return prefix .. string.format("%016x", x)
end

M.hexid = hexid

--- A fresh 24-hex id for an object created at run time. The counter lives in the state
-- (`state.id_seq`), so ids are deterministic after a reset and never collide with the dataset's
-- (a distinct prefix).
function M.new_id(state)
  state.id_seq = (tonumber(state.id_seq) or 0) + 1
  return hexid("6a5bd0c5", state.id_seq)
end

--- Prolific's ISO 8601 form of a Unix time (UTC, microseconds): the sandbox clock's form, so
-- that a time written twice reads the same.
function M.iso_time(t)
  return require("cohort.sandbox.clock").iso(t)
end

--- Unix time of an ISO 8601 date-time ("2024-05-01T10:00:00Z", with optional fraction and
-- offset); nil when it does not parse.
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then
    y, mo, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    if not y then return nil end
    h, mi, sec, rest = 0, 0, 0, ""
  end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then return nil end
  local frac = 0
  local f, tail = rest:match("^%.(%d+)(.*)$")
  if f then frac, rest = tonumber("0." .. f), tail end
  local offset = 0
  if rest == "Z" or rest == "" then
    offset = 0
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  -- days from civil (Howard Hinnant's algorithm)
  local yy = mo <= 2 and y - 1 or y
  local era = (yy >= 0 and yy or yy - 399) // 400
  local yoe = yy - era * 400
  local mp = (mo + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + sec + frac - offset
end

local function iso(base_minutes)
  -- 2024-05-01 plus a number of minutes, as Prolific's ISO 8601 with microseconds.
  local day = 1 + base_minutes // (24 * 60)
  local rem = base_minutes % (24 * 60)
  return string.format("2024-05-%02dT%02d:%02d:00.000000Z", day, rem // 60, rem % 60)
end

local STATUS_CYCLE = {
  "AWAITING REVIEW", "AWAITING REVIEW", "APPROVED", "AWAITING REVIEW", "RETURNED",
  "AWAITING REVIEW", "ACTIVE", "AWAITING REVIEW", "REJECTED", "AWAITING REVIEW",
}

local function submission(i, study_id, reward, status)
  local started = i * 7
  local done = status ~= "ACTIVE" and status ~= "RETURNED"
  local taken = done and (300 + (i * 37) % 900) or nil
  return {
    id = hexid("66300a1b", i),
    study_id = study_id,
    participant_id = hexid("60bf9a2c", 1000 + i),
    status = status,
    started_at = iso(started),
    completed_at = done and iso(started + taken // 60) or nil,
    study_code = done and string.format("%08X", (i * 2654435761) & 0xFFFFFFFF) or nil,
    time_taken = taken,
    reward = reward,
    bonus_payments = {},
    return_requested = nil,
    parent_study_id = nil,
  }
end

-- The fields every study has beyond those given (a complete draft as CreateStudy requires).
local function study_fields(st)
  st.description = st.description or ("Sandbox study: " .. st.name)
  st.prolific_id_option = st.prolific_id_option or "url_parameters"
  st.completion_codes = st.completion_codes or {
    { code = "C1A2B3C4", code_type = "COMPLETED", actor = "participant",
      actions = { { action = "MANUALLY_REVIEW" } } },
  }
  st.maximum_allowed_time = st.maximum_allowed_time or st.estimated_completion_time * 4 + 2
  st.device_compatibility = st.device_compatibility or { "desktop", "tablet", "mobile" }
  st.peripheral_requirements = st.peripheral_requirements or {}
  st.filters = st.filters or {}
  st.study_type = st.study_type or "SINGLE"
  st.is_custom_screening = st.is_custom_screening or false
  return st
end

function M.default()
  local subs = {}
  for i = 1, 45 do
    subs[#subs + 1] = submission(i, STUDY_1, 150, STATUS_CYCLE[(i - 1) % #STATUS_CYCLE + 1])
  end
  -- The submission of the retrieve-a-submission example (seed 002), kept in first study.
  local s = subs[3]
  s.id = "625d4a831bcda2d59ac5a251"
  s.participant_id = "60bf9310e8dec401be6e9615"
  s.study_code = "8E8AC860"
  s.status = "APPROVED"
  s.bonus_payments = { 1000, 2536 }
  for i = 46, 48 do
    subs[#subs + 1] = submission(i, STUDY_2, 200, i == 48 and "APPROVED" or "AWAITING REVIEW")
  end
  return {
    user = {
      id = USER_ID,
      email = "researcher@example.org",
      name = "Ada Researcher",
      first_name = "Ada",
      last_name = "Researcher",
      user_type = "researcher",
      currency_code = "GBP",
      country = "GB",
      balance = 100000,
      available_balance = 95000,
      date_joined = "2021-05-19T09:00:00.000000Z",
      current_project_id = PROJECT_ID,
      roles = { "RESEARCHER" },
    },
    workspaces = {
      { id = WORKSPACE_ID, title = "Sandbox workspace", description = "The sandbox's workspace",
        owner = USER_ID, naivety_distribution_rate = nil, currency_code = "GBP",
        wallet = "60a42f4c693c29420793cb7a",
        -- minor units (pence): what bonus payments draw on
        balance = 100000, available_balance = 100000 },
    },
    projects = {
      { id = PROJECT_ID, title = "Sandbox project", description = "The sandbox's project",
        owner = USER_ID, workspace = WORKSPACE_ID, naivety_distribution_rate = nil },
    },
    studies = {
      study_fields { id = STUDY_1, name = "Reaction times and attention",
        internal_name = "rt-attention-pilot",
        status = "ACTIVE", reward = 150, total_available_places = 45, places_taken = 45,
        estimated_completion_time = 10, project = PROJECT_ID,
        external_study_url = "https://example.org/study?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
        published_at = "2024-05-01T00:00:00.000000Z", date_created = "2024-04-30T12:00:00.000000Z" },
      study_fields { id = STUDY_2, name = "Follow-up survey", internal_name = "follow-up",
        status = "ACTIVE", reward = 200, total_available_places = 3, places_taken = 3,
        estimated_completion_time = 12, project = PROJECT_ID,
        external_study_url = "https://example.org/follow-up",
        published_at = "2024-05-02T00:00:00.000000Z", date_created = "2024-05-01T12:00:00.000000Z" },
      -- a draft study (UNPUBLISHED): may be edited, published, scheduled, deleted
      study_fields { id = STUDY_3, name = "Not yet run", internal_name = "draft",
        status = "UNPUBLISHED", reward = 100, total_available_places = 10, places_taken = 0,
        estimated_completion_time = 5, project = PROJECT_ID,
        external_study_url = "https://example.org/draft",
        published_at = nil, date_created = "2024-05-03T12:00:00.000000Z" },
    },
    -- messages received by (and sent by) the researcher; `read` marks what GetUnreadMessages skips
    messages = {
      { id = hexid("6b1e55a9", 1), sender_id = hexid("60bf9a2c", 1001), recipient_id = USER_ID,
        body = "Hello, I could not load the second page of the study.",
        sent_at = "2024-05-01T10:20:00.000000Z", type = "message",
        channel_id = hexid("6c4a77e1", 1), read = false,
        data = { study_id = STUDY_1, category = "technical-issues" } },
      { id = hexid("6b1e55a9", 2), sender_id = hexid("60bf9a2c", 1002), recipient_id = USER_ID,
        body = "Thank you, it was an interesting study.",
        sent_at = "2024-05-01T11:05:00.000000Z", type = "message",
        channel_id = hexid("6c4a77e1", 2), read = true,
        data = { study_id = STUDY_1, category = "feedback" } },
    },
    submissions = subs,
  }
end

-- Checks and completes a dataset decoded from JSON. Returns it, or nil and a message.
function M.normalize(d)
  if type(d) ~= "table" then return nil, "the dataset must be a JSON object" end
  local def = M.default()
  if d.user == nil then d.user = def.user end
  if type(d.user) ~= "table" or type(d.user.id) ~= "string" then
    return nil, "user must be an object with a string id"
  end
  for _, key in ipairs { "workspaces", "projects", "studies", "submissions" } do
    d[key] = d[key] or {}
    if type(d[key]) ~= "table" then return nil, key .. " must be an array" end
    for i, item in ipairs(d[key]) do
      if type(item) ~= "table" or type(item.id) ~= "string" then
        return nil, string.format("%s[%d] must be an object with a string id", key, i)
      end
    end
  end
  for i, s in ipairs(d.submissions) do
    if type(s.study_id) ~= "string" or type(s.status) ~= "string" then
      return nil, string.format("submissions[%d] needs a string study_id and status", i)
    end
    if type(s.bonus_payments) ~= "table" then s.bonus_payments = {} end
    -- what every answer about a submission carries (SubmissionShort requires them)
    if type(s.participant_id) ~= "string" then s.participant_id = hexid("60bf9a2c", 50000 + i) end
    if type(s.started_at) ~= "string" then s.started_at = iso(0) end
  end
  -- a seeded study gets what a Study answer requires (those of a CreateStudy draft)
  for _, st in ipairs(d.studies) do
    st.name = st.name or ("Study " .. st.id)
    st.status = st.status or "UNPUBLISHED"
    st.reward = st.reward or 100
    st.total_available_places = st.total_available_places or 1
    st.estimated_completion_time = st.estimated_completion_time or 5
    if st.external_study_url == nil and st.access_details == nil then
      st.external_study_url = "https://example.org/study"
    end
    study_fields(st)
  end
  return d
end

return M
