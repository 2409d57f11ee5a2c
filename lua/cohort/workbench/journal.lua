--- A journal for money and bulk actions: intent before, outcome after, every step on disk.
--
-- Bonus payments and bulk approvals or rejections accept `{journal = "run.jsonl"}`. Each step
-- appends a JSON line *before* it is sent (`intent`) and another *after* its answer
-- (`outcome`), each flushed and `fsync`ed. Running the same work again with the same journal —
-- after a crash, a kill, a power cut at any point — skips every step whose outcome is recorded,
-- checks with the server what became of a step whose intent is recorded without an outcome
-- (it may or may not have happened), and does the rest. Nothing is paid or transitioned twice.
--
-- Steps are named by a key derived from their content (the study, the batch's rows), so the
-- same input gives the same keys on every run. A line is one JSON object:
--
--     {"key":"bonus:60ac…:3f2a…","phase":"intent","step":"pay","time":1700000000,…}
--     {"key":"bonus:60ac…:3f2a…","phase":"outcome","step":"pay","ok":true,…}
--
-- A torn last line (the crash hit mid-write) is ignored when the journal is read.
-- @module cohort.workbench.journal
local core = require "cohort.core"

local M = {}

local Journal = { __name = "cohort.Journal" }
Journal.__index = Journal

--- Open (or create) a journal file and read what it records.
-- @tparam string path
-- @treturn[1] Journal
-- @return[2] nil
-- @treturn[2] string message
function M.open(path)
  if type(path) ~= "string" or path == "" then
    error("cohort: journal: the journal must be a file path", 3)
  end
  local j = setmetatable({ path = path, intents = {}, outcomes = {}, order = {} }, Journal)
  local f = io.open(path, "rb")
  local torn = false
  if f then
    local size = f:seek("end")
    if size and size > 0 then
      f:seek("set", size - 1)
      torn = f:read(1) ~= "\n" -- a line cut short by a crash: start the next one afresh
      f:seek("set", 0)
    end
    for line in f:lines() do
      local ok, rec = pcall(core.decode, line)
      if ok and type(rec) == "table" and type(rec.key) == "string" then
        local k = rec.key .. "\0" .. tostring(rec.step)
        if rec.phase == "intent" then
          j.intents[k] = rec
          j.order[#j.order + 1] = k
        elseif rec.phase == "outcome" then
          j.outcomes[k] = rec
        end
      end
    end
    f:close()
  end
  local out, err = io.open(path, "ab")
  if not out then return nil, "cannot open the journal " .. path .. ": " .. tostring(err) end
  j.file = out
  if torn then out:write("\n") end
  return j
end

local function append(j, rec)
  rec.time = os.time()
  local line = core.encode(rec) .. "\n"
  local ok, err = j.file:write(line)
  if not ok then error("cohort: journal " .. j.path .. ": " .. tostring(err), 0) end
  local synced, serr = core.fsync(j.file)
  if not synced then error("cohort: journal " .. j.path .. ": " .. tostring(serr), 0) end
end

--- The recorded outcome of a step, if any.
-- @treturn table|nil
function Journal:outcome(key, step)
  return self.outcomes[key .. "\0" .. step]
end

--- The recorded intent of a step, if any.
function Journal:intent(key, step)
  return self.intents[key .. "\0" .. step]
end

--- Is the step begun but not finished (intent without outcome)? Then it may have happened.
function Journal:uncertain(key, step)
  return self:intent(key, step) ~= nil and self:outcome(key, step) == nil
end

--- Record the intent of a step (before sending it). `data` fields are added to the line.
function Journal:begin(key, step, data)
  local rec = { key = key, step = step, phase = "intent" }
  for k, v in pairs(data or {}) do rec[k] = v end
  append(self, rec)
  self.intents[key .. "\0" .. step] = rec
end

--- Record the outcome of a step (after its answer).
function Journal:finish(key, step, data)
  local rec = { key = key, step = step, phase = "outcome" }
  for k, v in pairs(data or {}) do rec[k] = v end
  append(self, rec)
  self.outcomes[key .. "\0" .. step] = rec
end

--- Close the file. Idempotent.
function Journal:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end
Journal.__close = Journal.close
Journal.__gc = Journal.close

--- A short, stable digest of a text (hex), for step keys.
function M.digest(text)
  return (core.hmac_sha256("cohort.workbench.journal", text):gsub(".", function(c)
    return ("%02x"):format(c:byte())
  end)):sub(1, 16)
end

--- Is this error a definite refusal — the step did not happen (a 4xx other than 408 and 429) —
-- rather than a failure that leaves it unknown (time-out, reset, 5xx)? Only a definite refusal
-- is recorded as an outcome; an unknown one stays open for the next run to check.
function M.definite(err)
  return err.kind == "http" and type(err.status) == "number" and err.status >= 400
    and err.status < 500 and err.status ~= 408 and err.status ~= 429
end

--- Open the journal named in `opts.journal`, or return nil when there is none.
function M.from_opts(label, opts)
  if opts == nil or opts.journal == nil then return nil end
  if type(opts.journal) ~= "string" or opts.journal == "" then
    error(("cohort: %s: journal must be a file path"):format(label), 3)
  end
  local j, err = M.open(opts.journal)
  if not j then error(("cohort: %s: %s"):format(label, err), 3) end
  return j
end

return M
