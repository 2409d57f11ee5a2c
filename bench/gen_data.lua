-- Writes the canned JSON the benchmarks use into the directory given as arg[1]:
--   submission.json        one submission in detail (the sandbox's detail shape)
--   list_10000.json        a 10,000-submission list page in the live envelope (a few MB)
--   ids.txt                5,000 submission ids, one a line (the sequential/concurrent cases)
--   survey_<N>.json        sandbox seeds: one survey with N responses (arg[2..], e.g. 10000 100000)
-- Deterministic: the same files every run.
local cjson = require "cjson"
local dir = assert(arg[1], "usage: gen_data.lua DIR [N ...]")

local function hexid(prefix, n)
  local x = (n * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
  x = x ~ (x >> 29)
  return prefix .. string.format("%016x", x)
end

local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(text)
  f:close()
end

local STUDY = "60aca280709ee40ec37d4885"
local STATUSES = { "AWAITING REVIEW", "APPROVED", "RETURNED", "ACTIVE" }

local function stamp(i)
  return os.date("!%Y-%m-%dT%H:%M:%S", 1714521600 + i * 37) .. ".000000Z"
end

-- Keys are written in a fixed order (cjson's order depends on the table), so build by hand.
local function obj(pairs_list)
  local out = {}
  for _, kv in ipairs(pairs_list) do
    out[#out + 1] = cjson.encode(kv[1]) .. ":" .. (kv.raw or cjson.encode(kv[2]))
  end
  return "{" .. table.concat(out, ",") .. "}"
end

local function list_item(i)
  return obj {
    { "id", hexid("66300a1b", i) }, { "participant_id", hexid("60bf9a2c", i) },
    { "study_id", STUDY }, { "status", STATUSES[i % 4 + 1] },
    { "started_at", stamp(i) }, { "completed_at", stamp(i + 9) },
    { "is_complete", i % 4 ~= 3 }, { "time_taken", 300 + i % 400 },
    { "reward", 150 }, { "study_code", string.format("%08X", (i * 2654435761) & 0xFFFFFFFF) },
  }
end

write("submission.json", obj {
  { "id", hexid("66300a1b", 1) }, { "study_id", STUDY }, { "participant", hexid("60bf9a2c", 1) },
  { "status", "AWAITING REVIEW" }, { "started_at", stamp(1) }, { "completed_at", stamp(10) },
  { "is_complete", true }, { "time_taken", 337 }, { "reward", 150 },
  { "entered_code", "9E3779B1" }, { "bonus_payments", nil, raw = "[]" },
  { "return_requested", nil, raw = "null" }, { "parent_study_id", nil, raw = "null" },
})

do
  local n, items = 10000, {}
  for i = 1, n do items[i] = list_item(i) end
  write("list_10000.json", "{\"results\":[" .. table.concat(items, ",") .. "],"
    .. "\"_links\":{\"self\":{\"href\":\"http://127.0.0.1/api/v1/submissions/?page_size=10000\","
    .. "\"title\":\"Current\"},\"next\":{\"href\":null,\"title\":\"Next\"},\"previous\":{\"href\":"
    .. "null,\"title\":\"Previous\"},\"last\":{\"href\":\"http://127.0.0.1/api/v1/submissions/?"
    .. "page_size=10000\",\"title\":\"Last\"}},\"meta\":{\"count\":10000}}")
end

do
  local ids = {}
  for i = 1, 5000 do ids[i] = hexid("66300a1b", i) end
  write("ids.txt", table.concat(ids, "\n") .. "\n")
end

-- Survey seeds for the memory case.
local SURVEY = "65f1c0de00000000000000a1"
for k = 2, #arg do
  local n = assert(math.tointeger(tonumber(arg[k])), "counts must be integers")
  local q1 = { id = "q1", title = "How clear were the instructions?", type = "single",
    answers = { { id = "a1", value = "Very clear" }, { id = "a2", value = "Somewhat clear" },
                { id = "a3", value = "Unclear" } } }
  local q2 = { id = "q2", title = "Attention check: pick the first option", type = "single",
    answers = { { id = "b1", value = "First" }, { id = "b2", value = "Second" } } }
  local parts = {}
  for i = 1, n do
    local a = q1.answers[i % 3 + 1]
    parts[i] = obj {
      { "_id", hexid("65f2aa00", i) }, { "date_created", stamp(i) }, { "date_modified", stamp(i) },
      { "participant_id", hexid("60bf9a2c", i) }, { "submission_id", hexid("66300a1b", i) },
      { "questions", nil, raw = "[" .. obj { { "question_id", "q1" },
          { "question_title", q1.title },
          { "answers", nil, raw = "[" .. obj { { "answer_id", a.id }, { "value", a.value } } .. "]" } }
        .. "," .. obj { { "question_id", "q2" }, { "question_title", q2.title },
          { "answers", nil, raw = "[{\"answer_id\":\"b1\",\"value\":\"First\"}]" } } .. "]" },
    }
  end
  local survey = cjson.encode { _id = SURVEY, researcher_id = "60a42f4c693c29420793cb73",
    title = "Benchmark survey", date_created = stamp(0), date_modified = stamp(0),
    questions = { q1, q2 } }
  write("survey_" .. n .. ".json", "{\"surveys\":[" .. survey .. "],\"survey_responses\":{\""
    .. SURVEY .. "\":[" .. table.concat(parts, ",") .. "]}}")
end
