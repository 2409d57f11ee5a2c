-- Export every response of a QuestionPro survey as a table.
--
--   QUESTIONPRO_API_KEY=... QUESTIONPRO_URL=http://127.0.0.1:PORT lua examples/questionpro_export.lua [SURVEY_ID]
--
-- Without QUESTIONPRO_URL the client goes to the data centre in $QUESTIONPRO_DATACENTER (us by
-- default). The survey id defaults to $QUESTIONPRO_SURVEY_ID, then to the sandbox's 7654321.
-- Prints one row per response (id, status, UTC time, custom1, then each question's answer:
-- the choice's label, or the text typed), then a summary line.
local cohort = require "cohort"
local qp = require "cohort.questionpro"

local survey_id = arg[1] or os.getenv("QUESTIONPRO_SURVEY_ID") or "7654321"

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  if qp.is_rate_limited(err) then
    io.stderr:write("(rate limited: wait ", tostring(err.retry_after or 60), " s)\n")
  end
  os.exit(1)
end

local q = cohort.questionpro{ page_size = 25 }

local survey, err = q.surveys:get(survey_id)
if not survey then fail(err) end
local questions
questions, err = survey:questions()
if not questions then fail(err) end

-- Columns: fixed ones, then one per question code.
local header = { "responseID", "status", "time (UTC)", "custom1" }
for _, question in ipairs(questions) do header[#header + 1] = question.code end

local rows, unclear = {}, {}
local ok, ierr = pcall(function()
  for resp in survey:each_response() do
    local row = { tostring(resp.responseID), resp.responseStatus,
      resp.time_utc or ("? " .. resp.timestamp), resp.custom.custom1 or "" }
    for _, question in ipairs(questions) do
      local label, _, text = resp:answer(question)
      row[#row + 1] = text or label or ""
    end
    rows[#rows + 1] = row
    if resp.time_error then unclear[#unclear + 1] = resp.responseID .. ": " .. resp.time_error end
  end
end)
if not ok then fail(ierr) end

-- Column widths, then the table.
local ulen = require("cohort.compat").utf8_len -- utf8.len, also on LuaJIT/5.1
local widths = {}
for i, h in ipairs(header) do widths[i] = ulen(h) end
for _, row in ipairs(rows) do
  for i, cell in ipairs(row) do widths[i] = math.max(widths[i], ulen(cell) or #cell) end
end
local function line(cells)
  local out = {}
  for i, cell in ipairs(cells) do
    out[i] = cell .. string.rep(" ", widths[i] - (ulen(cell) or #cell))
  end
  print((table.concat(out, "  "):gsub("%s+$", "")))
end
line(header)
local rule = {}
for i, w in ipairs(widths) do rule[i] = string.rep("-", w) end
line(rule)
for _, row in ipairs(rows) do line(row) end

print()
print(("%d responses of %s exported"):format(#rows, tostring(survey)))
for _, why in ipairs(unclear) do print("time unknown for response " .. why) end
