--[[ The sandbox's QuestionPro dataset, kept in the application state under `questionpro`.

It is made by `M.default()` the first time a QuestionPro route runs after a start, a reset or a
seed that has no `questionpro` key; a seed (`--seed FILE.json`, `POST /__sandbox/seed`) may
give its own under that key, in this structure:

{
  "user_id": 5551234,                        -- the user the sandbox's API key belongs to
  "users": [ { "userID": 5551234, "email": "...", "firstName": "...", "lastName": "..." } ],
  "surveys": [ {
      "surveyID": 7654321, "name": "...", "status": "Active", "ownerID": 5551234,
      "questions": [ { "questionID": 12345678, "code": "Q1", "text": "...",
                       "description": " ", "type": "multiple_choice" | "contact_information" | "text",
                       "answers": [ { "answerID": 123456789, "text": "Always", "scale": "1" } ] } ],
      ... any further survey fields, shown as they are } ],
  "responses": { "7654321": [ <response objects as the API shows them (seed 001)> ] },
  "next_response_id": 90001000
}

Each stored response also carries `_epoch` (its Unix time, used by the date filter); fields
starting with "_" are never shown. The default dataset:

* survey 7654321 "Test Survey" with the seed's questions: Q1 (scale choice, ids 12345678 /
  123456789…) and the contact-information fields Q2_1..Q2_4 (ids 12345679, 83734737, 83734738,
  83734739; answers 100000001..100000004); 37 responses (ids 90000001..90000037) whose
  `custom1` is the participant id of the sandbox's Prolific submissions of study
  60aca280709ee40ec37d4885, in order (response 90000003 is participant 60bf9310e8dec401be6e9615),
  with timestamps in PDT, EDT, UTC, CEST, SGT and AEST, and response 90000007 in the ambiguous IST;
* survey 7654322 "Prolific follow-up" (Q1 satisfaction scale 1..5, Q2 free text), 5 responses;
* survey 7659999 "Another team's survey", owned by user 5559999: 403/1013 for the sandbox's key.
]]
local util = require "cohort.sandbox.util"

local M = {}

M.USER_ID = 5551234
M.OTHER_USER_ID = 5559999
M.SURVEY_ID = 7654321
M.FOLLOWUP_ID = 7654322
M.FORBIDDEN_ID = 7659999

local null = util.null

-- Zones the seeded timestamps use, with their offsets in minutes (IST here is India's).
M.ZONE_CYCLE = { { "PDT", -420 }, { "EDT", -240 }, { "UTC", 0 }, { "CEST", 120 },
  { "SGT", 480 }, { "AEST", 600 } }

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

--- QuestionPro's timestamp of a Unix time in a zone: "05 Oct, 2020 02:51:51 PM PDT".
function M.timestamp(epoch, zone, offset_minutes)
  local t = os.date("!*t", math.floor(epoch + offset_minutes * 60))
  local h = t.hour % 12
  if h == 0 then h = 12 end
  return ("%02d %s, %04d %02d:%02d:%02d %s %s"):format(t.day, MONTHS[t.month], t.year, h,
    t.min, t.sec, t.hour < 12 and "AM" or "PM", zone)
end

local function choice(id, text, scale)
  return { answerID = id, text = text, scale = tostring(scale) }
end

local function test_survey_questions()
  return {
    { questionID = 12345678, code = "Q1", text = "How often do you conduct surveys?",
      description = " ", type = "multiple_choice", required = true,
      answers = { choice(123456789, "Always", 1), choice(123456790, "Often", 2),
        choice(123456791, "Sometimes", 3), choice(123456792, "Rarely", 4),
        choice(123456793, "Never", 5) } },
    { questionID = 12345679, code = "Q2_1", text = "First Name",
      description = "Contact Information", type = "contact_information", required = false,
      answers = { choice(100000001, "FIRST_NAME", "") } },
    { questionID = 83734737, code = "Q2_2", text = "Last Name", description = " ",
      type = "contact_information", required = false,
      answers = { choice(100000002, "LAST_NAME", "") } },
    { questionID = 83734738, code = "Q2_3", text = "Phone", description = " ",
      type = "contact_information", required = false,
      answers = { choice(100000003, "PHONE", "") } },
    { questionID = 83734739, code = "Q2_4", text = "Email Address", description = " ",
      type = "contact_information", required = false,
      answers = { choice(100000004, "EMAIL", "") } },
  }
end

local function followup_questions()
  return {
    { questionID = 22000001, code = "Q1", text = "How satisfied were you with the study?",
      description = " ", type = "multiple_choice", required = true,
      answers = { choice(22000101, "Very dissatisfied", 1), choice(22000102, "Dissatisfied", 2),
        choice(22000103, "Neutral", 3), choice(22000104, "Satisfied", 4),
        choice(22000105, "Very satisfied", 5) } },
    { questionID = 22000002, code = "Q2", text = "Anything else you would like to tell us?",
      description = " ", type = "text", required = false,
      answers = { choice(22000201, "COMMENT", "") } },
  }
end

--- The full answer value of a choice, as responses show it (seed 001).
function M.answer_value(question, ans, text, other)
  local is_choice = question.type == "multiple_choice"
  return {
    answerID = ans.answerID,
    answerText = ans.text,
    value = {
      scale = is_choice and ans.scale or "",
      other = other or "",
      dynamicExplodeText = "",
      text = text or "",
      result = "",
      fileLink = "",
      weight = 0.0,
    },
  }
end

--- One item of a responseSet for a question and its answer values.
function M.response_item(question, values)
  return {
    questionID = question.questionID,
    questionDescription = question.description or " ",
    questionCode = question.code,
    questionText = question.text,
    imageUrl = null,
    answerValues = util.array(values),
  }
end

--- A full response object (seed 001's shape) without responseID/surveyID/surveyName.
function M.response_shell(fields)
  local r = {
    ipAddress = "192.168.0.1",
    timestamp = "",
    location = { country = null, region = "16", latitude = 0.0, longitude = 0.0, radius = 0.0,
      countryCode = "GB" },
    duplicate = false,
    timeTaken = 0,
    responseStatus = "Completed",
    externalReference = "",
    customVariables = { custom1 = null, custom2 = null, custom3 = null, custom4 = null,
      custom5 = null },
    language = "English",
    currentInset = "",
    operatingSystem = "WINDOWS_10",
    osDeviceType = "COMPUTER",
    browser = "CHROME8",
    responseSet = util.array {},
  }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- Participant ids of the Prolific sandbox's first study, in order.
local function participants()
  local ok, data = pcall(require, "cohort.sandbox.data")
  local out = {}
  if ok then
    local d = data.default()
    local first = d.studies and d.studies[1] and d.studies[1].id
    for _, s in ipairs(d.submissions or {}) do
      if s.study_id == first then out[#out + 1] = s.participant_id end
    end
  end
  return out
end

local function hex24(n)
  local x = (n * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF
  x = x ~ (x >> 31)
  return "61a0" .. ("%016x"):format(x) .. "cafe"
end

local STATUS_CYCLE = { "Completed", "Completed", "Completed", "Completed", "Completed",
  "Completed", "Started", "Completed", "Completed", "Terminated" }

function M.default()
  local surveys = {
    { surveyID = M.SURVEY_ID, name = "Test Survey", status = "Active", ownerID = M.USER_ID,
      type = "survey", creationDate = "2024-04-28", url = "https://www.questionpro.com/t/AB3uJZ1",
      questions = test_survey_questions() },
    { surveyID = M.FOLLOWUP_ID, name = "Prolific follow-up", status = "Active",
      ownerID = M.USER_ID, type = "survey", creationDate = "2024-05-01",
      url = "https://www.questionpro.com/t/AB3uJZ2", questions = followup_questions() },
    { surveyID = M.FORBIDDEN_ID, name = "Another team's survey", status = "Closed",
      ownerID = M.OTHER_USER_ID, type = "survey", creationDate = "2023-11-02",
      url = "https://www.questionpro.com/t/AB3uJZ9", questions = followup_questions() },
  }
  local pids = participants()
  local base = 1714557600 -- 2024-05-01T10:00:00Z
  local main = {}
  local qs = surveys[1].questions
  for i = 1, 37 do
    local zone = M.ZONE_CYCLE[(i - 1) % #M.ZONE_CYCLE + 1]
    if i == 7 then zone = { "IST", 330 } end
    local epoch = base + i * 2 * 3600 + i * 17
    local status = STATUS_CYCLE[(i - 1) % #STATUS_CYCLE + 1]
    local q1 = qs[1]
    local pick = q1.answers[(i - 1) % #q1.answers + 1]
    local set = { M.response_item(q1, { M.answer_value(q1, pick) }) }
    if status == "Completed" then
      local texts = { "Participant", ("P%03d"):format(i), ("555-01%02d"):format(i % 100),
        ("p%03d@example.org"):format(i) }
      for k = 2, 5 do
        set[#set + 1] = M.response_item(qs[k], { M.answer_value(qs[k], qs[k].answers[1],
          texts[k - 1]) })
      end
    end
    local r = M.response_shell {
      responseID = 90000000 + i, surveyID = M.SURVEY_ID, surveyName = "Test Survey",
      timestamp = M.timestamp(epoch, zone[1], zone[2]),
      timeTaken = status == "Completed" and (40 + (i * 37) % 400) or 0,
      responseStatus = status,
      externalReference = "",
      responseSet = util.array(set),
    }
    r.customVariables.custom1 = pids[i] or hex24(i)
    r.customVariables.custom2 = (i % 2 == 0) and "arm-B" or "arm-A"
    r._epoch = epoch
    main[#main + 1] = r
  end
  local follow = {}
  local fq = surveys[2].questions
  for i = 1, 5 do
    local epoch = base + 86400 + i * 3600
    local pick = fq[1].answers[(i + 1) % 5 + 1]
    local r = M.response_shell {
      responseID = 90000100 + i, surveyID = M.FOLLOWUP_ID, surveyName = "Prolific follow-up",
      timestamp = M.timestamp(epoch, "UTC", 0), timeTaken = 60 + i * 11,
      responseSet = util.array {
        M.response_item(fq[1], { M.answer_value(fq[1], pick) }),
        M.response_item(fq[2], { M.answer_value(fq[2], fq[2].answers[1],
          i % 2 == 1 and ("Comment number " .. i) or "") }),
      },
    }
    r.customVariables.custom1 = pids[#pids - 5 + i] or hex24(100 + i)
    r._epoch = epoch
    follow[#follow + 1] = r
  end
  return {
    user_id = M.USER_ID,
    users = {
      { userID = M.USER_ID, email = "researcher@example.org", firstName = "Ada",
        lastName = "Researcher" },
      { userID = M.OTHER_USER_ID, email = "other@example.org", firstName = "Other",
        lastName = "Team" },
    },
    surveys = surveys,
    responses = { [tostring(M.SURVEY_ID)] = main, [tostring(M.FOLLOWUP_ID)] = follow,
      [tostring(M.FORBIDDEN_ID)] = {} },
    next_response_id = 90001000,
  }
end

return M
